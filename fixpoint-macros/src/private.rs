//! The one path through which generated code names runtime items: the facade's hidden module,
//! so that a user depends on `fixpoint` alone.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

/// `::fixpoint::__private`.
pub(crate) fn path() -> TokenStream {
    at(Span::call_site())
}

/// `::fixpoint::__private` with its tokens at `span`, so that an error about the item it names
/// points at the user's token rather than at the attribute.
pub(crate) fn at(span: Span) -> TokenStream {
    quote_spanned!(span=> ::fixpoint::__private)
}
