//! The invariants of one struct, collected from its attributes: what the checks and the
//! generated code read.

use proc_macro2::TokenStream;
use syn::DeriveInput;

pub(crate) use super::attr::Rule;
use crate::ctxt::Errors;

/// Every invariant of a struct, and the struct.
pub(crate) struct Model<'a> {
    pub(crate) item: &'a DeriveInput,
    pub(crate) rules: Vec<Rule>,
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
        Some(Model { item, rules })
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
