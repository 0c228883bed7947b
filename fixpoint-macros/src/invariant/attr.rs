//! One `#[invariant(..)]` attribute as written: its parser, with the checks that concern that
//! attribute alone, and the removal of the macro's attributes from the struct.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{DeriveInput, Expr, Fields, Ident, LitStr, Token};

const USAGE: &str = "write #[invariant(<predicate over self>, \"why the rule holds\")], \
                     e.g. #[invariant(self.budget > 0, \"a project has a budget\")]";

/// One `#[invariant(..)]`.
pub(crate) struct Rule {
    pub(crate) name: Option<Ident>,
    /// `#[invariant(const ..)]`: proven by the compiler.
    pub(crate) constant: bool,
    pub(crate) predicate: Expr,
    pub(crate) message: LitStr,
}

impl Parse for Rule {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            let message = format!("#[invariant] needs a predicate and its reason; {USAGE}");
            return Err(syn::Error::new(proc_macro2::Span::call_site(), message));
        }
        let name = parse_name(input)?;
        let constant = input.parse::<Option<Token![const]>>()?.is_some();
        if input.peek(LitStr) {
            return Err(input.error(format_args!(
                "the first argument of #[invariant] is the predicate, an expression over `self` \
                 that must be true, and the message comes after it; {USAGE}"
            )));
        }
        let predicate: Expr = input.parse()?;
        if input.is_empty() {
            return Err(syn::Error::new_spanned(
                &predicate,
                format_args!(
                    "#[invariant] needs a message after the predicate, saying why the rule holds; \
                     {USAGE}"
                ),
            ));
        }
        input.parse::<Token![,]>()?;
        let message: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format_args!("the message of #[invariant] is a string literal; {USAGE}"),
            )
        })?;
        if message.value().trim().is_empty() {
            return Err(syn::Error::new_spanned(
                &message,
                "the message of #[invariant] says why the rule holds; it cannot be empty",
            ));
        }
        input.parse::<Option<Token![,]>>()?;
        if !input.is_empty() {
            return Err(input.error(format_args!(
                "unexpected argument after the message; {USAGE}"
            )));
        }
        Ok(Rule {
            name,
            constant,
            predicate,
            message,
        })
    }
}

/// `name = ident,` if present; any other `ident = ..` is an unknown option.
fn parse_name(input: ParseStream<'_>) -> syn::Result<Option<Ident>> {
    let is_option = input.peek(syn::Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]);
    if !is_option {
        return Ok(None);
    }
    let key: Ident = input.parse()?;
    if key != "name" {
        return Err(syn::Error::new_spanned(
            &key,
            format_args!(
                "unknown option `{key}` of #[invariant]; the only option is `name = <identifier>`"
            ),
        ));
    }
    input.parse::<Token![=]>()?;
    let name: Ident = input.parse()?;
    input.parse::<Token![,]>()?;
    Ok(Some(name))
}

/// One `#[invariant(..)]` on a field.
pub(crate) enum FieldAttr {
    /// `#[invariant(exempt)]`: no rule reads the field, so it may be `pub`.
    Exempt,
    /// `#[invariant(allow_interior_mutability = "why")]`: a rule reads a field that can change
    /// behind `&`, and the reason says why the rule holds anyway.
    AllowInteriorMutability(LitStr),
}

const FIELD_USAGE: &str = "on a field, #[invariant] takes `exempt` (no rule reads the field) or \
                           `allow_interior_mutability = \"why the rule still holds\"`";

impl FieldAttr {
    /// Parses `attr`; a word it does not know is reported at the whole attribute.
    pub(crate) fn from_attr(attr: &syn::Attribute) -> syn::Result<Self> {
        let usage = || syn::Error::new_spanned(attr, FIELD_USAGE);
        if !matches!(attr.meta, syn::Meta::List(_)) {
            return Err(usage());
        }
        attr.parse_args_with(|input: ParseStream<'_>| {
            let word: Ident = input.parse().map_err(|_| usage())?;
            if word == "exempt" && input.is_empty() {
                Ok(FieldAttr::Exempt)
            } else if word == "allow_interior_mutability" {
                parse_reason(&word, input).map(FieldAttr::AllowInteriorMutability)
            } else {
                Err(usage())
            }
        })
    }
}

/// `= "why"` after `allow_interior_mutability`, a non-empty string.
fn parse_reason(word: &Ident, input: ParseStream<'_>) -> syn::Result<LitStr> {
    let missing = || {
        syn::Error::new_spanned(
            word,
            "#[invariant(allow_interior_mutability)] needs the reason the rules hold even though \
             the field can change behind `&`; write \
             #[invariant(allow_interior_mutability = \"why the rule still holds\")]",
        )
    };
    if input.parse::<Option<Token![=]>>()?.is_none() {
        return Err(missing());
    }
    let reason: LitStr = input.parse().map_err(|_| missing())?;
    if reason.value().trim().is_empty() {
        return Err(syn::Error::new_spanned(
            &reason,
            "the reason of #[invariant(allow_interior_mutability = ..)] says why the rules still \
             hold when the field changes behind `&`; it cannot be empty",
        ));
    }
    if !input.is_empty() {
        return Err(input.error(format_args!(
            "unexpected argument after the reason; {FIELD_USAGE}"
        )));
    }
    Ok(reason)
}

impl Rule {
    pub(crate) fn predicate_tokens(&self) -> TokenStream {
        quote::ToTokens::to_token_stream(&self.predicate)
    }
}

/// The struct without this macro's attributes.
pub(crate) fn strip(item: &DeriveInput) -> DeriveInput {
    let mut item = item.clone();
    item.attrs.retain(|attr| !attr.path().is_ident("invariant"));
    if let syn::Data::Struct(data) = &mut item.data {
        let fields: Box<dyn Iterator<Item = &mut syn::Field>> = match &mut data.fields {
            Fields::Named(named) => Box::new(named.named.iter_mut()),
            Fields::Unnamed(unnamed) => Box::new(unnamed.unnamed.iter_mut()),
            Fields::Unit => Box::new(std::iter::empty()),
        };
        for field in fields {
            field
                .attrs
                .retain(|attr| !attr.path().is_ident("invariant"));
        }
    }
    item
}
