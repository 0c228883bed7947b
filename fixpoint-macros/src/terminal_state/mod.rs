//! `#[terminal_state]`: parse the enum into a [`model::Machine`], validate it, expand it.

mod attr;
mod bulk;
mod diagram;
mod emit;
mod expand;
mod markers;
mod model;
mod transitions;
mod valid;
mod view;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::DeriveInput;

use crate::ctxt::{self, Errors, leading_tokens};

/// The attribute's pipeline. Never panics: every failure becomes `compile_error!`s, emitted
/// beside the enum itself so that the user's other code does not drown in follow-on errors.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let Ok(item) = syn::parse2::<DeriveInput>(input.clone()) else {
        return not_an_enum(input);
    };
    ctxt::emit(try_expand(args, &item), || {
        attr::strip(&item).into_token_stream()
    })
}

/// `lifecycle_doc!("enum ..")`: the diagram section of a lifecycle's documentation.
pub(crate) fn lifecycle_doc(input: TokenStream) -> TokenStream {
    diagram::lifecycle_doc(input)
}

fn try_expand(args: TokenStream, item: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = attr::parse_args(args, &mut errors);
    let machine = model::Machine::from_syn(item, args, &mut errors);
    if let Some(machine) = &machine {
        valid::validate(machine, &mut errors);
    }
    errors.finish()?;
    Ok(machine
        .map(|m| expand::expand(&m))
        .transpose()?
        .unwrap_or_default())
}

/// The input is not even a struct, enum or union (a fn, an impl, ...).
fn not_an_enum(input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    errors.spanned(
        leading_tokens(&input),
        "#[terminal_state] belongs on an enum whose variants are the states of a lifecycle",
    );
    errors.emit_with(input)
}

#[cfg(test)]
mod snapshot;

#[cfg(test)]
mod tests {
    use quote::quote;

    /// Inputs that once tempted a panic, and malformed ones of every kind: each expands to
    /// tokens (code or `compile_error!`), never a panic.
    #[test]
    fn never_panics() {
        let inputs = [
            quote!(
                enum Type {
                    #[initial]
                    #[to(Move)]
                    Match,
                    #[terminal]
                    #[abandoned]
                    Move,
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[to(B)]
                    A(Self),
                    #[terminal]
                    #[abandoned]
                    B,
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[to(B)]
                    A(Box<E>, Box<E>, u8),
                    #[terminal]
                    #[abandoned]
                    B,
                }
            ),
            quote!(
                enum E {}
            ),
            quote!(
                enum E {
                    A,
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[to()]
                    A,
                    #[terminal]
                    #[abandoned]
                    B,
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[to(,)]
                    A,
                    #[terminal]
                    #[abandoned]
                    B,
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[to(1, "x")]
                    A,
                    #[terminal]
                    #[abandoned]
                    B,
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[to(B::C)]
                    A,
                    #[terminal]
                    #[abandoned]
                    B,
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[initial]
                    #[to(B)]
                    #[to(B)]
                    A,
                    #[terminal]
                    #[terminal]
                    #[abandoned]
                    #[abandoned]
                    B,
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[to(B)]
                    #[abandoned]
                    A,
                    #[terminal]
                    #[abandoned]
                    B { x: u8 },
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[to(B)]
                    FooBar,
                    #[to(B)]
                    Foo_Bar,
                    #[terminal]
                    #[abandoned]
                    B,
                }
            ),
            quote!(
                enum E {
                    #[initial]
                    #[to(ToB)]
                    A,
                    #[terminal]
                    #[abandoned]
                    ToB,
                    #[terminal]
                    B,
                }
            ),
            quote!(
                #[initial]
                enum E {
                    #[initial]
                    #[to(B)]
                    A,
                    #[terminal]
                    #[abandoned]
                    B,
                }
            ),
            quote!(
                struct S;
            ),
            quote!(union U { a: u8 }),
            quote!(
                fn f() {}
            ),
            quote!(),
            quote!(impl X {}),
        ];
        let args = [
            quote!(),
            quote!(module),
            quote!(module =),
            quote!(module = 1),
            quote!(module = m, module = n),
            quote!(x::y = 1),
            quote!(,),
        ];
        for input in &inputs {
            for args in &args {
                let output = super::expand(args.clone(), input.clone());
                assert!(!output.is_empty(), "no output for {input} with ({args})");
            }
        }
    }
}
