//! The checks across a struct's invariants and fields, one rule each.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};
use syn::{Attribute, Ident, Visibility};

use super::model::Model;
use crate::ctxt::Errors;

/// Records every broken rule of `model`.
pub(crate) fn validate(model: &Model<'_>, errors: &mut Errors) {
    check_names(model, errors);
    check_predicates(model, errors);
    check_fields(model, errors);
}

/// Names are unique among the struct's invariants.
fn check_names(model: &Model<'_>, errors: &mut Errors) {
    let mut seen = BTreeSet::new();
    for name in model.rules.iter().filter_map(|rule| rule.name.as_ref()) {
        if !seen.insert(name.to_string()) {
            errors.spanned(
                name,
                format_args!("two invariants are named `{name}`; give each a distinct name"),
            );
        }
    }
}

/// A runtime predicate reads `self`; one that does not is a constant, and says so.
fn check_predicates(model: &Model<'_>, errors: &mut Errors) {
    for rule in model.rules.iter().filter(|rule| !rule.constant) {
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
fn check_fields(model: &Model<'_>, errors: &mut Errors) {
    let syn::Data::Struct(data) = &model.item.data else {
        return;
    };
    for (index, field) in data.fields.iter().enumerate() {
        let name = field_name(field.ident.as_ref(), index);
        let exempt = field.attrs.iter().find(|a| a.path().is_ident("invariant"));
        match exempt {
            Some(attr) => check_exemption(model, attr, &name, errors),
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

fn check_exemption(model: &Model<'_>, attr: &Attribute, field: &str, errors: &mut Errors) {
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
    for rule in &model.rules {
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
