//! `#[terminal_state]`: parse the enum into a [`model::Machine`], validate it, expand it.

mod attr;
mod expand;
mod model;
mod valid;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::DeriveInput;

use crate::ctxt::Errors;

/// The attribute's pipeline. Never panics: every failure becomes `compile_error!`s, emitted
/// beside the enum itself so that the user's other code does not drown in follow-on errors.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let Ok(item) = syn::parse2::<DeriveInput>(input.clone()) else {
        return not_an_enum(input);
    };
    match try_expand(args, &item) {
        Ok(tokens) => tokens,
        Err(error) => {
            let fallback = attr::strip(&item);
            let error = error.into_compile_error();
            quote!(#fallback #error)
        }
    }
}

fn try_expand(args: TokenStream, item: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = attr::parse_args(args, &mut errors);
    let machine = model::Machine::from_syn(item, args, &mut errors);
    if let Some(machine) = &machine {
        valid::validate(machine, &mut errors);
    }
    errors.finish()?;
    Ok(machine.map(|m| expand::expand(&m)).unwrap_or_default())
}

/// The input is not even a struct, enum or union (a fn, an impl, ...).
fn not_an_enum(input: TokenStream) -> TokenStream {
    let error = syn::Error::new_spanned(
        input.clone().into_iter().take(3).collect::<TokenStream>(),
        "#[terminal_state] belongs on an enum whose variants are the states of a lifecycle",
    );
    let mut tokens = error.into_compile_error();
    input.to_tokens(&mut tokens);
    tokens
}
