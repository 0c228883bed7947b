//! The one path through which generated code names runtime items: the facade's hidden module,
//! so that a user depends on `fixpoint` alone.

use proc_macro2::{Ident, Punct, Spacing, Span, TokenStream};
use quote::{ToTokens, TokenStreamExt};

/// `::fixpoint::__private`, written into the output token by token.
///
/// Generated code names this path a few hundred times per lifecycle. Appending four tokens is
/// cheap; splicing a prepared `TokenStream` into `quote!` output is not (inside the compiler
/// every splice is a round trip to rustc's token store), and was a fifth of the attribute's
/// own run time.
#[derive(Clone, Copy)]
pub(crate) struct Private(Span);

/// `::fixpoint::__private`.
pub(crate) fn path() -> Private {
    at(Span::call_site())
}

/// `::fixpoint::__private` with its tokens at `span`, so that an error about the item it names
/// points at the user's token rather than at the attribute.
pub(crate) fn at(span: Span) -> Private {
    Private(span)
}

impl ToTokens for Private {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let colons = |tokens: &mut TokenStream| {
            let mut joint = Punct::new(':', Spacing::Joint);
            joint.set_span(self.0);
            let mut alone = Punct::new(':', Spacing::Alone);
            alone.set_span(self.0);
            tokens.append(joint);
            tokens.append(alone);
        };
        colons(tokens);
        tokens.append(Ident::new("fixpoint", self.0));
        colons(tokens);
        tokens.append(Ident::new("__private", self.0));
    }
}
