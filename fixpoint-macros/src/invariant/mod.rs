//! `#[invariant(predicate, "why")]`: parse every invariant of the struct (the first attribute
//! collects the ones after it), validate them, expand the checks and the checked accessors.

mod attr;
mod expand;
mod interior;
mod model;
mod valid;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Data, DeriveInput};

use crate::ctxt::{self, Errors, leading_tokens};

/// The attribute's pipeline. Never panics; after an error the struct is emitted without the
/// attribute's own parts.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let Ok(item) = syn::parse2::<DeriveInput>(input.clone()) else {
        return not_a_struct(input);
    };
    ctxt::emit(try_expand(args, &item), || {
        attr::strip(&item).into_token_stream()
    })
}

fn try_expand(args: TokenStream, item: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let model = model::Model::from_syn(args, item, &mut errors);
    if let Some(model) = &model {
        valid::validate(model, &mut errors);
    }
    errors.finish()?;
    let stripped = attr::strip(item);
    Ok(match model {
        Some(model) => expand::expand(&model, &stripped),
        None => stripped.into_token_stream(),
    })
}

/// The input is not even a struct, enum or union (a fn, an impl, ...).
fn not_a_struct(input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    errors.spanned(
        leading_tokens(&input),
        "#[invariant] applies to a struct whose values must satisfy it; it cannot check a \
         function or other item",
    );
    errors.emit_with(input)
}

/// Whether the item is a struct (the only kind an invariant applies to).
pub(crate) fn is_struct(item: &DeriveInput) -> bool {
    matches!(item.data, Data::Struct(_))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// Malformed inputs of every kind expand to tokens, never a panic.
    #[test]
    fn never_panics() {
        let inputs = [
            quote!(
                struct S {
                    a: u8,
                }
            ),
            quote!(
                #[invariant(self.a > 1, "b")]
                #[invariant]
                struct S {
                    a: u8,
                }
            ),
            quote!(
                struct S(u8, #[invariant(exempt)] pub u8);
            ),
            quote!(
                struct S<T> {
                    a: T,
                }
            ),
            quote!(
                struct S {
                    a: core::cell::Cell<u8>,
                    #[invariant(allow_interior_mutability)]
                    b: std::sync::Mutex<u8>,
                    #[invariant(allow_interior_mutability = 5)]
                    c: u8,
                    #[invariant(allow_interior_mutability = "ok", extra)]
                    d: u8,
                    #[invariant]
                    e: u8,
                    #[invariant = "x"]
                    f: u8,
                    #[invariant()]
                    g: &'a [Self],
                }
            ),
            quote!(
                enum E {
                    A,
                }
            ),
            quote!(
                fn f() {}
            ),
            quote!(),
        ];
        let args = [
            quote!(),
            quote!(self.a > 1, "ok"),
            quote!(name = n, self.a > 1, "ok"),
            quote!(const 1 < 2, "ok"),
            quote!("message only"),
            quote!(self.a > 1),
            quote!(self.a > 1, 5),
            quote!(self.a > 1, ""),
            quote!(name, self.a, "x"),
            quote!(other = 1, self.a, "x"),
            quote!(,,),
            quote!(self.a.get() > 0 && self.helper(), "cells"),
            quote!(self.0.1 > self., "dangling"),
        ];
        for input in &inputs {
            for args in &args {
                assert!(!super::expand(args.clone(), input.clone()).is_empty());
            }
        }
    }

    /// A field typed as a trait object with a `+` in it (`dyn Debug + Send`, or a bare
    /// `Trait +` that rustc refuses later) is parenthesized behind its getter's `&`, so the
    /// expansion parses. Found by the `invariant` fuzz target (`fuzz/regressions/invariant/`).
    #[test]
    fn a_trait_object_field_with_a_plus_expands_to_code_that_parses() {
        let types = [
            quote!(dyn core::fmt::Debug + Send),
            quote!(u6+),
            quote!(Box<dyn Fn() + Send>),
        ];
        for ty in types {
            let input = quote!(
                struct S {
                    a: u8,
                    b: #ty,
                }
            );
            let output = super::expand(quote!(self.a > 0, "a is positive"), input);
            if let Err(error) = syn::parse2::<syn::File>(output.clone()) {
                panic!("a field of type `{ty}`: {error}\n{output}");
            }
        }
    }
}
