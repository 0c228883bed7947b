//! The output layer of `#[terminal_state]`: the two ways generated code reaches rustc, and
//! nothing else. Every generator (`markers`, `transitions`, `bulk`, `diagram`) writes through
//! one of them; `quote!` is left for the few small pieces that splice a user's syntax tree (a
//! field's type, the enum's visibility) or are made once per lifecycle.
//!
//! - **Text**, lexed by rustc in one call ([`put`], [`lex_or_error`]). `quote!` hands its output
//!   to rustc one token at a time across the proc-macro bridge, and at a few thousand tokens per
//!   lifecycle that crossing was most of the attribute's own run time, paid at every `cargo
//!   check` of the user's crate. Text puts every token at the attribute, so it is for the items
//!   no diagnostic points into.
//! - **Spanned trees** ([`Kit`], [`Writer`]), for the items whose diagnostics point at a state
//!   (the impls of a marker's edges). `quote_spanned!` makes each of their identifiers anew
//!   (validated and interned by code compiled unoptimized, like every proc macro's), and every
//!   stream it splices is one more round trip to rustc's token store. Here each token is a copy
//!   of a template with its span set, and all of them reach the compiler in one stream.

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};

/// Appends `args` to `out`, formatted in one piece.
///
/// `write!` into a `String` calls `push_str` once per piece, and `push_str` is generic code,
/// compiled unoptimized in a proc macro like the macro's own: a few hundred instructions a
/// call, thousands of calls per lifecycle. `std::fmt::format` fills its `String` in the
/// standard library's optimized code, and the result is appended in one call.
pub(super) fn put(out: &mut String, args: std::fmt::Arguments<'_>) {
    out.push_str(&std::fmt::format(args));
}

/// `text` as tokens, or the error that says it did not lex (a bug of this crate).
pub(super) fn lex_item(text: &str, name: &Ident) -> syn::Result<TokenStream> {
    lex(text).map_err(|error| {
        syn::Error::new(
            name.span(),
            format!(
                "internal error in #[terminal_state]: the code it generated for `{name}` did \
                 not lex ({error}); please report this with the enum"
            ),
        )
    })
}

/// [`lex_item`], with the error as `compile_error!` tokens in place of the item.
pub(super) fn lex_or_error(text: &str, name: &Ident) -> TokenStream {
    lex_item(text, name).unwrap_or_else(|error| error.to_compile_error())
}

/// The text as tokens. Inside the compiler, rustc's own lexer takes it directly: going through
/// `proc_macro2`'s `FromStr` would lex it twice, once with `proc_macro2`'s own lexer, compiled
/// unoptimized like every proc macro, which cost more than the tokens it replaces. rustc may
/// panic on malformed text (rust-lang/rust#58736); that is caught and reported, never passed on.
fn lex(text: &str) -> Result<TokenStream, String> {
    if proc_macro::is_available() {
        match std::panic::catch_unwind(|| text.parse::<proc_macro::TokenStream>()) {
            Ok(Ok(tokens)) => Ok(tokens.into()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("the lexer panicked".to_owned()),
        }
    } else {
        text.parse::<TokenStream>()
            .map_err(|error| error.to_string())
    }
}

/// The keywords, names and punctuation of the spanned items, made once per lifecycle.
pub(super) struct Kit {
    keyword_impl: Ident,
    keyword_for: Ident,
    runtime: Ident,
    edge: Ident,
    lt: Punct,
    gt: Punct,
    colon: Punct,
    joint_colon: Punct,
}

impl Kit {
    pub(super) fn new() -> Self {
        let ident = |name: &str| Ident::new(name, Span::call_site());
        Kit {
            keyword_impl: ident("impl"),
            keyword_for: ident("for"),
            runtime: ident("__fixpoint"),
            edge: ident("Edge"),
            lt: Punct::new('<', Spacing::Alone),
            gt: Punct::new('>', Spacing::Alone),
            colon: Punct::new(':', Spacing::Alone),
            joint_colon: Punct::new(':', Spacing::Joint),
        }
    }
}

/// The trees of one stream, every template token at the current span.
pub(super) struct Writer<'k> {
    kit: &'k Kit,
    span: Span,
    trees: Vec<TokenTree>,
}

impl<'k> Writer<'k> {
    pub(super) fn new(kit: &'k Kit) -> Self {
        Writer {
            kit,
            span: Span::call_site(),
            trees: Vec::new(),
        }
    }

    /// The span of the template tokens written from now on.
    pub(super) fn at(&mut self, span: Span) {
        self.span = span;
    }

    /// The stream of everything written.
    pub(super) fn finish(self) -> TokenStream {
        self.trees.into_iter().collect()
    }

    /// `ident` with its own span (the user's name of a state, or a name made at one).
    pub(super) fn own(&mut self, ident: &Ident) {
        self.trees.push(ident.clone().into());
    }

    /// `ident` at the current span.
    pub(super) fn moved(&mut self, ident: &Ident) {
        let mut ident = ident.clone();
        ident.set_span(self.span);
        self.trees.push(ident.into());
    }

    fn punct(&mut self, punct: &Punct) {
        let mut punct = punct.clone();
        punct.set_span(self.span);
        self.trees.push(punct.into());
    }

    fn path_sep(&mut self) {
        self.punct(&self.kit.joint_colon);
        self.punct(&self.kit.colon);
    }

    /// `{}`.
    fn braces(&mut self) {
        let mut group = Group::new(Delimiter::Brace, TokenStream::new());
        group.set_span(self.span);
        self.trees.push(group.into());
    }

    /// `impl __fixpoint::Edge<Target> for Source {}`.
    pub(super) fn edge_impl(&mut self, source: &Ident, target: &Ident) {
        let kit = self.kit;
        self.moved(&kit.keyword_impl);
        self.moved(&kit.runtime);
        self.path_sep();
        self.moved(&kit.edge);
        self.punct(&kit.lt);
        self.own(target);
        self.punct(&kit.gt);
        self.moved(&kit.keyword_for);
        self.own(source);
        self.braces();
    }
}
