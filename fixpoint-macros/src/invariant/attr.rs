//! The invariants of one struct, as read from its attributes, and the checks on them that
//! concern one attribute or the struct's fields.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, DeriveInput, Expr, Fields, Ident, LitStr, Token, Visibility};

use crate::ctxt::Errors;

const USAGE: &str = "write #[invariant(<predicate over self>, \"why the rule holds\")], \
                     e.g. #[invariant(self.budget > 0, \"a project has a budget\")]";

/// Every invariant of a struct, and the struct.
pub(crate) struct Model<'a> {
    pub(crate) item: &'a DeriveInput,
    pub(crate) rules: Vec<Rule>,
}

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

impl<'a> Model<'a> {
    pub(crate) fn from_syn(
        args: TokenStream,
        item: &'a DeriveInput,
        errors: &mut Errors,
    ) -> Option<Self> {
        if !super::is_struct(item) {
            let what = match item.data {
                syn::Data::Enum(_) => "an enum",
                _ => "a union",
            };
            errors.spanned(
                &item.ident,
                format_args!(
                    "#[invariant] applies to structs, and `{}` is {what}; put the rule on the \
                     struct that holds it",
                    item.ident
                ),
            );
            return None;
        }
        let mut rules = Vec::new();
        push_rule(syn::parse2::<Rule>(args), &mut rules, errors);
        for attr in item.attrs.iter().filter(|a| a.path().is_ident("invariant")) {
            push_rule(attr.parse_args::<Rule>(), &mut rules, errors);
        }
        let model = Model { item, rules };
        model.check_names(errors);
        model.check_predicates(errors);
        model.check_fields(errors);
        Some(model)
    }

    /// Names are unique among the struct's invariants.
    fn check_names(&self, errors: &mut Errors) {
        let mut seen = BTreeSet::new();
        for name in self.rules.iter().filter_map(|rule| rule.name.as_ref()) {
            if !seen.insert(name.to_string()) {
                errors.spanned(
                    name,
                    format_args!("two invariants are named `{name}`; give each a distinct name"),
                );
            }
        }
    }

    /// A runtime predicate reads `self`; one that does not is a constant, and says so.
    fn check_predicates(&self, errors: &mut Errors) {
        for rule in self.rules.iter().filter(|rule| !rule.constant) {
            if !mentions(rule.predicate_tokens(), "self") {
                errors.spanned(
                    &rule.predicate,
                    "this predicate does not read `self`, so it says nothing about the value; \
                     write a rule over the fields (`self.budget > 0`), or use \
                     #[invariant(const ..)] for a rule over constants, checked at compile time",
                );
            }
        }
    }

    /// No field can be written around the check: fields are private unless exempt, and an
    /// exempt field is one no predicate reads.
    fn check_fields(&self, errors: &mut Errors) {
        let syn::Data::Struct(data) = &self.item.data else {
            return;
        };
        for (index, field) in data.fields.iter().enumerate() {
            let name = field_name(field.ident.as_ref(), index);
            let exempt = field.attrs.iter().find(|a| a.path().is_ident("invariant"));
            match exempt {
                Some(attr) => self.check_exemption(attr, &name, errors),
                None if !matches!(field.vis, Visibility::Inherited) => errors.spanned(
                    &field.vis,
                    format_args!(
                        "field `{name}` is not private, so code could write it without the \
                         invariant check; make it private (reads go through `Checked` and the \
                         generated accessors), or, if no invariant reads it, mark it \
                         #[invariant(exempt)]"
                    ),
                ),
                None => {}
            }
        }
    }

    fn check_exemption(&self, attr: &Attribute, field: &str, errors: &mut Errors) {
        let is_exempt = attr
            .parse_args::<Ident>()
            .is_ok_and(|ident| ident == "exempt");
        if !is_exempt {
            errors.spanned(
                attr,
                "on a field, #[invariant] takes one word: #[invariant(exempt)]",
            );
            return;
        }
        for rule in &self.rules {
            if mentions(rule.predicate_tokens(), field) {
                errors.spanned(
                    attr,
                    format_args!(
                        "field `{field}` is read by the invariant `{}`, so it cannot be exempt \
                         from it; remove #[invariant(exempt)] and keep the field private",
                        rule.source()
                    ),
                );
            }
        }
    }
}

fn push_rule(parsed: syn::Result<Rule>, rules: &mut Vec<Rule>, errors: &mut Errors) {
    match parsed {
        Ok(rule) => rules.push(rule),
        Err(error) => errors.push(error),
    }
}

impl Rule {
    fn predicate_tokens(&self) -> TokenStream {
        quote::ToTokens::to_token_stream(&self.predicate)
    }

    /// The predicate as a person wrote it: `self.a > 0 && self.b.is_some()`.
    pub(crate) fn source(&self) -> String {
        tidy(&self.predicate_tokens().to_string())
    }
}

/// `self . a . is_some ()` -> `self.a.is_some()`: token text with the spacing a person writes.
fn tidy(text: &str) -> String {
    let mut out = text.to_owned();
    // Twice: one replacement can create the pattern of an earlier one (`< Self > ()`).
    for _ in 0..2 {
        for (from, to) in [
            (" . ", "."),
            (" :: ", "::"),
            (":: ", "::"),
            ("::< ", "::<"),
            (" >()", ">()"),
            (" >(", ">("),
            (" > ::", ">::"),
            (" ()", "()"),
            ("( ", "("),
            (" )", ")"),
            (" ,", ","),
            (" [", "["),
            ("[ ", "["),
            (" ]", "]"),
            ("! ", "!"),
            (" ?", "?"),
        ] {
            out = out.replace(from, to);
        }
    }
    let chars: Vec<char> = out.chars().collect();
    let mut tidy = String::with_capacity(out.len());
    for (i, &c) in chars.iter().enumerate() {
        // `is_some (x)` -> `is_some(x)`: no space between a name and its call parentheses.
        if c == ' '
            && chars.get(i + 1) == Some(&'(')
            && chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            continue;
        }
        tidy.push(c);
    }
    tidy
}

/// Whether `tokens` contain the identifier `name`.
fn mentions(tokens: TokenStream, name: &str) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => mentions(group.stream(), name),
        _ => false,
    })
}

fn field_name(ident: Option<&Ident>, index: usize) -> String {
    ident.map_or_else(|| index.to_string(), ToString::to_string)
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

#[cfg(test)]
mod tests {
    #[test]
    fn tidy_restores_the_written_spacing() {
        assert_eq!(
            super::tidy("self . status != Status :: InputNeeded || self . follow_up . is_some ()"),
            "self.status != Status::InputNeeded || self.follow_up.is_some()"
        );
        assert_eq!(
            super::tidy("self . items . len () <= Self :: MAX"),
            "self.items.len() <= Self::MAX"
        );
        assert_eq!(
            super::tidy("! self . a . contains (& 3)"),
            "!self.a.contains(& 3)"
        );
        assert_eq!(
            super::tidy("core :: mem :: size_of :: < Self > () <= 64"),
            "core::mem::size_of::<Self>() <= 64"
        );
    }
}
