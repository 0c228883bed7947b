//! The attribute grammar: `#[terminal_state(resume, module = ..)]` and the variant attributes. Each
//! check here concerns one attribute alone; rules across states live in `valid`.

use proc_macro2::{TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::{Attribute, DeriveInput, Ident, Meta, Token};

use crate::ctxt::Errors;

/// The arguments of `#[terminal_state(..)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `module = name`: the name of the generated module of state markers.
    pub(crate) module: Option<Ident>,
    /// `resume`: generate `Resume`, rebuilding a typed machine from a stored status.
    pub(crate) resume: bool,
}

/// The variant attributes this macro owns.
pub(crate) const VARIANT_ATTRS: [&str; 4] = ["initial", "to", "terminal", "abandoned"];

pub(crate) fn parse_args(args: TokenStream, errors: &mut Errors) -> Args {
    let mut parsed = Args::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("resume") {
            if parsed.resume {
                return Err(meta.error("duplicate `resume` argument of #[terminal_state]"));
            }
            if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                return Err(meta.error(
                    "`resume` takes no value; write `#[terminal_state(resume)]` to rebuild \
                     typed machines from stored statuses",
                ));
            }
            parsed.resume = true;
            return Ok(());
        }
        if !meta.path.is_ident("module") {
            return Err(meta.error(format_args!(
                "unknown argument `{}` for #[terminal_state]; the arguments are `resume` (rebuild \
                 typed machines from stored statuses) and `module = <name>` (the module of \
                 generated state markers)",
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
    if let Some(targets) = plain_targets(&list.tokens) {
        return Some(targets);
    }
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
/// The names of `#[to(A, B)]` read off its tokens, as syn would parse them, when they are just
/// that: names separated by commas. Anything else is left to syn, and its error.
fn plain_targets(tokens: &TokenStream) -> Option<Vec<Ident>> {
    let mut targets = Vec::new();
    let mut comma = false;
    for tree in tokens.clone() {
        match tree {
            TokenTree::Ident(ident) if !comma => {
                // A name that starts with a capital and is not `Self` is no keyword, so syn
                // would take it too; any other (`self`, `r#type`, ..) is left to syn.
                let text = ident.to_string();
                if !text.starts_with(|c: char| c.is_ascii_uppercase()) || text == "Self" {
                    return None;
                }
                targets.push(ident);
            }
            TokenTree::Punct(punct) if comma && punct.as_char() == ',' => {}
            _ => return None,
        }
        comma = !comma;
    }
    (!targets.is_empty()).then_some(targets)
}

pub(crate) fn name(attr: &Attribute) -> Option<&'static str> {
    // The attribute's name is read once: comparing an `Ident` with a `&str` formats it.
    let ident = attr.path().get_ident()?.to_string();
    VARIANT_ATTRS.into_iter().find(|name| ident == *name)
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

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use syn::punctuated::Punctuated;
    use syn::{Ident, Token};

    /// Whatever `#[to(..)]` the fast path reads, syn reads the same names; whatever syn would
    /// refuse (or read otherwise), the fast path leaves to it.
    #[test]
    fn plain_targets_agree_with_syn() {
        let cases = [
            "Running, Failed",
            "Running, Failed,",
            "Done",
            "",
            ",",
            "Running,, Failed",
            "Running Failed",
            "self",
            "Self",
            "r#Type",
            "type",
            "snake_case",
            "B::C",
            "1, \"x\"",
        ];
        for case in cases {
            let tokens: TokenStream = case.parse().unwrap();
            let parser = Punctuated::<Ident, Token![,]>::parse_terminated;
            let by_syn = syn::parse::Parser::parse2(parser, tokens.clone())
                .ok()
                .map(|names| names.iter().map(ToString::to_string).collect::<Vec<_>>());
            if let Some(fast) = super::plain_targets(&tokens) {
                let fast: Vec<String> = fast.iter().map(ToString::to_string).collect();
                assert_eq!(Some(fast), by_syn, "#[to({case})]");
            }
        }
        let read = |case: &str| super::plain_targets(&case.parse().unwrap()).map(|t| t.len());
        assert_eq!(read("Running, Failed"), Some(2));
        assert_eq!(read("Running, Failed,"), Some(2));
        assert_eq!(read("self"), None);
        assert_eq!(read("Running Failed"), None);
    }
}
