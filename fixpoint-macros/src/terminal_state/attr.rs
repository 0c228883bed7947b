//! The attribute grammar: `#[terminal_state(module = ..)]` and the variant attributes. Each
//! check here concerns one attribute alone; rules across states live in `valid`.

use proc_macro2::TokenStream;
use syn::punctuated::Punctuated;
use syn::{Attribute, DeriveInput, Ident, Meta, Token};

use crate::ctxt::Errors;

/// The arguments of `#[terminal_state(..)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `module = name`: the name of the generated module of state markers.
    pub(crate) module: Option<Ident>,
}

/// The variant attributes this macro owns.
pub(crate) const VARIANT_ATTRS: [&str; 4] = ["initial", "to", "terminal", "abandoned"];

pub(crate) fn parse_args(args: TokenStream, errors: &mut Errors) -> Args {
    let mut parsed = Args::default();
    let parser = syn::meta::parser(|meta| {
        if !meta.path.is_ident("module") {
            return Err(meta.error(format_args!(
                "unknown argument `{}` for #[terminal_state]; the only argument is \
                 `module = <name>`, the module of generated state markers",
                path_text(&meta.path),
            )));
        }
        if parsed.module.is_some() {
            return Err(meta.error("duplicate `module` argument of #[terminal_state]"));
        }
        let message = "#[terminal_state(module = ..)] expects a module name, e.g. \
                       `#[terminal_state(module = job_states)]`";
        let value = meta
            .value()
            .map_err(|e| syn::Error::new(e.span(), message))?;
        let ident = value
            .parse::<Ident>()
            .map_err(|e| syn::Error::new(e.span(), message))?;
        parsed.module = Some(ident);
        Ok(())
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, args) {
        errors.push(error);
    }
    parsed
}

/// A flag attribute (`#[initial]`, `#[terminal]`, `#[abandoned]`): a bare path.
pub(crate) fn parse_flag(attr: &Attribute, errors: &mut Errors) {
    if !matches!(attr.meta, Meta::Path(_)) {
        let name = path_text(attr.path());
        errors.spanned(
            &attr.meta,
            format_args!("#[{name}] takes no arguments; write `#[{name}]`"),
        );
    }
}

/// `#[to(A, B, ..)]`: the targets, or `None` (with an error) when malformed.
pub(crate) fn parse_to(attr: &Attribute, errors: &mut Errors) -> Option<Vec<Ident>> {
    let message = "#[to(..)] lists the states this one may go to, e.g. `#[to(Running, Failed)]`";
    let Meta::List(list) = &attr.meta else {
        errors.spanned(&attr.meta, message);
        return None;
    };
    match list.parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated) {
        Ok(targets) if !targets.is_empty() => Some(targets.into_iter().collect()),
        Ok(_) => {
            errors.spanned(list, message);
            None
        }
        Err(error) => {
            errors.push(syn::Error::new(error.span(), message));
            None
        }
    }
}

/// The name an attribute is looked up by: `to` for `#[to(..)]`.
pub(crate) fn name(attr: &Attribute) -> Option<&'static str> {
    VARIANT_ATTRS
        .into_iter()
        .find(|name| attr.path().is_ident(name))
}

/// The enum without this macro's variant attributes: what the user's code sees.
pub(crate) fn strip(item: &DeriveInput) -> DeriveInput {
    let mut item = item.clone();
    item.attrs.retain(|attr| name(attr).is_none());
    if let syn::Data::Enum(data) = &mut item.data {
        for variant in &mut data.variants {
            variant.attrs.retain(|attr| name(attr).is_none());
        }
    }
    item
}

fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
