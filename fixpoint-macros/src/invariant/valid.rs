//! The checks across a struct's invariants and fields, one rule each.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};
use syn::{Attribute, Ident, Visibility};

use super::interior;
use super::model::{Field, Model, Rule};
use crate::ctxt::Errors;

/// Records every broken rule of `model`.
pub(crate) fn validate(model: &Model<'_>, errors: &mut Errors) {
    check_names(model, errors);
    check_predicates(model, errors);
    check_fields(model, errors);
    check_interior_mutability(model, errors);
    check_unneeded_allowances(model, errors);
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
    for field in &model.fields {
        let name = &field.name;
        match field.exempt {
            Some(attr) => check_exemption(model, attr, name, errors),
            None if field.malformed => {}
            None if !matches!(field.original.vis, Visibility::Inherited) => errors.spanned(
                &field.original.vis,
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

/// A field that a rule reads cannot be of a type, named in the source, that changes behind the
/// `&` that `Checked` hands out, unless the field says why the rule holds anyway.
fn check_interior_mutability(model: &Model<'_>, errors: &mut Errors) {
    let unexempted = model
        .fields
        .iter()
        .filter(|f| f.interior_mutability.is_none() && !f.malformed);
    for field in unexempted {
        let Some(cell) = interior::interior_mutable(&field.original.ty) else {
            continue;
        };
        let Some((rule, named)) = model.rule_reading(&field.name) else {
            continue;
        };
        errors.spanned(
            &field.original.ty,
            interior_message(field, cell, rule, named),
        );
    }
}

/// What the field holds, which rule reads it and how, and the three ways out.
fn interior_message(field: &Field<'_>, cell: &Ident, rule: &Rule, named: bool) -> String {
    let reads = if named {
        "reads it"
    } else {
        "uses `self` whole (a method call or an argument), so it may read it"
    };
    // One line, however the predicate was wrapped.
    let source = rule
        .source()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "the type of field `{}` holds `{cell}`, which can change through the `&` that `Checked` \
         hands out without any check running, and the invariant `{source}` {reads}; make the \
         field plain data, or keep every rule off it, or, if the rule holds anyway, say why on \
         the field: #[invariant(allow_interior_mutability = \"why the rule still holds\")]",
        field.name
    )
}

/// An allowance is a claim about a rule that reads the field; on a field no rule reads, it
/// is stale.
fn check_unneeded_allowances(model: &Model<'_>, errors: &mut Errors) {
    for field in &model.fields {
        let Some(reason) = &field.interior_mutability else {
            continue;
        };
        if model.rule_reading(&field.name).is_none() {
            errors.spanned(
                reason,
                format_args!(
                    "no invariant reads field `{}`, so it needs no \
                     #[invariant(allow_interior_mutability = ..)]; remove the attribute",
                    field.name
                ),
            );
        }
    }
}

/// Whether `tokens` contain the identifier `name`.
pub(crate) fn mentions(tokens: TokenStream, name: &str) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => mentions(group.stream(), name),
        _ => false,
    })
}
