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
///
/// Inside a block that starts with [`ALIAS`], [`local`] names the same module in one token.
#[derive(Clone, Copy)]
pub(crate) struct Private(Span, bool);

/// `::fixpoint::__private`.
pub(crate) fn path() -> Private {
    at(Span::call_site())
}

/// `::fixpoint::__private` with its tokens at `span`, so that an error about the item it names
/// points at the user's token rather than at the attribute.
pub(crate) fn at(span: Span) -> Private {
    Private(span, false)
}

/// `__fixpoint`: the runtime's module inside a block that starts with [`ALIAS`].
pub(crate) fn local() -> Private {
    local_at(Span::call_site())
}

/// [`local`] with its token at `span`.
pub(crate) fn local_at(span: Span) -> Private {
    Private(span, true)
}

/// `use ::fixpoint::__private as __fixpoint;`, as text: the first item of a generated block
/// (or module) whose many runtime paths are then written as [`local`] ones: one token each
/// instead of six, for the macro to emit and for rustc to lex, resolve and lower.
pub(crate) const ALIAS: &str = "use ::fixpoint::__private as __fixpoint;";

impl ToTokens for Private {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        if self.1 {
            tokens.append(Ident::new("__fixpoint", self.0));
            return;
        }
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
