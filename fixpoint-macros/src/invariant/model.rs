//! The invariants of one struct, collected from its attributes: what the checks and the
//! generated code read.

use proc_macro2::TokenStream;
use syn::{Attribute, DeriveInput, LitStr};

use super::attr::FieldAttr;
pub(crate) use super::attr::Rule;
use super::interior::Reads;
use crate::ctxt::Errors;

/// Every invariant of a struct, the struct, and what its fields' attributes say.
pub(crate) struct Model<'a> {
    pub(crate) item: &'a DeriveInput,
    pub(crate) rules: Vec<Rule>,
    pub(crate) fields: Vec<Field<'a>>,
}

/// One field and its `#[invariant(..)]` attributes.
pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    /// `budget`, or `0` for the first field of a tuple struct.
    pub(crate) name: String,
    /// `#[invariant(exempt)]`, kept to point at.
    pub(crate) exempt: Option<&'a Attribute>,
    /// The reason of `#[invariant(allow_interior_mutability = "..")]`.
    pub(crate) interior_mutability: Option<LitStr>,
    /// An `#[invariant(..)]` on the field did not parse: its error is the one to show, so the
    /// checks that depend on what it meant skip the field.
    pub(crate) malformed: bool,
}

impl<'a> Field<'a> {
    fn from_syn(original: &'a syn::Field, index: usize, errors: &mut Errors) -> Self {
        let name = original
            .ident
            .as_ref()
            .map_or_else(|| index.to_string(), ToString::to_string);
        let mut field = Field {
            original,
            name,
            exempt: None,
            interior_mutability: None,
            malformed: false,
        };
        for attr in original
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("invariant"))
        {
            match FieldAttr::from_attr(attr) {
                Ok(FieldAttr::Exempt) => field.exempt = Some(attr),
                Ok(FieldAttr::AllowInteriorMutability(reason)) => {
                    field.interior_mutability = Some(reason);
                }
                Err(error) => {
                    field.malformed = true;
                    errors.push(error);
                }
            }
        }
        field
    }
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
        let fields = match &item.data {
            syn::Data::Struct(data) => data
                .fields
                .iter()
                .enumerate()
                .map(|(index, field)| Field::from_syn(field, index, errors))
                .collect(),
            _ => Vec::new(),
        };
        Some(Model {
            item,
            rules,
            fields,
        })
    }

    /// The first runtime rule that may read `field`, and whether it names the field (rather
    /// than using `self` whole, through a method or as an argument).
    pub(crate) fn rule_reading(&self, field: &str) -> Option<(&Rule, bool)> {
        let runtime = self.rules.iter().filter(|rule| !rule.constant);
        let reads = runtime.map(|rule| (rule, Reads::from_tokens(rule.predicate_tokens())));
        let mut may_read = reads.filter(|(_, reads)| reads.may_read(field)).peekable();
        let first = may_read.peek().map(|(rule, _)| *rule)?;
        let named = may_read.find(|(_, reads)| reads.fields.contains(field));
        Some(named.map_or((first, false), |(rule, _)| (rule, true)))
    }
}

fn push_rule(parsed: syn::Result<Rule>, rules: &mut Vec<Rule>, errors: &mut Errors) {
    match parsed {
        Ok(rule) => rules.push(rule),
        Err(error) => errors.push(error),
    }
}

impl Rule {
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
