//! Collects the errors of one macro invocation so that a user sees all of them in one build.

use core::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The errors found so far; [`Errors::finish`] combines them into one `syn::Error`.
#[derive(Default)]
pub(crate) struct Errors {
    errors: Vec<syn::Error>,
}

impl Errors {
    /// Records `message`, pointing at `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error that syn produced.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// `Ok` when nothing was recorded, else every error combined.
    pub(crate) fn finish(self) -> syn::Result<()> {
        let mut errors = self.errors.into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            first.combine(error);
        }
        Err(first)
    }

    /// `tokens`, followed by a `compile_error!` per recorded error: the user's item survives an
    /// error, so their other code does not drown in follow-on errors.
    pub(crate) fn emit_with(self, mut tokens: TokenStream) -> TokenStream {
        if let Err(error) = self.finish() {
            tokens.extend(error.into_compile_error());
        }
        tokens
    }
}

/// An attribute's output: its expansion, or, after errors, `fallback` (the user's item without
/// the attribute's own parts) followed by a `compile_error!` per error, so that the user's other
/// code does not drown in follow-on errors.
pub(crate) fn emit(
    expanded: syn::Result<TokenStream>,
    fallback: impl FnOnce() -> TokenStream,
) -> TokenStream {
    expanded.unwrap_or_else(|error| {
        let mut tokens = fallback();
        tokens.extend(error.into_compile_error());
        tokens
    })
}

/// The first few tokens of an item that could not be parsed: where to point an error about it.
pub(crate) fn leading_tokens(tokens: &TokenStream) -> TokenStream {
    tokens.clone().into_iter().take(3).collect()
}
