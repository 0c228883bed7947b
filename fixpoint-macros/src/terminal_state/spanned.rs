//! Tokens at a user's span, written tree by tree from templates made once per lifecycle.
//!
//! The items whose diagnostics point at a state (the impls of a marker's edges) cannot be text
//! lexed by rustc, which puts every token at the attribute.
//! `quote_spanned!` makes each of their identifiers anew (validated and interned by code compiled
//! unoptimized, like every proc macro's), and every stream it splices is one more round trip to
//! rustc's token store. Here each token is a copy of a template with its span set, and all of
//! them reach the compiler in one stream.

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};

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
