//! A case's expansion, computed in-process, as a digest: what `.ci/mutants` compares to decide
//! which cases a mutant of the macros can change.
//!
//! A case's outcome under trybuild depends on its source, on the tokens fixpoint's attributes
//! hand the compiler, and on the runtime crates. A mutant of the macro crate changes only the
//! middle one, so a case whose tokens are unchanged, spans included, ends as it did. The digest
//! covers each token with its span (`proc-macro2`'s `span-locations`), and each attribute is
//! expanded the way the compiler does it: outermost first, then the attributes left in its
//! output.
//!
//! The compiler and this expansion part ways in three places, each made to count as a change,
//! so that the case runs:
//! - another attribute macro (`#[tokio::main]`, `#[async_trait]`, `#[instrument]`) that runs
//!   before fixpoint's, on the item or on one around it, hands fixpoint tokens this code never
//!   sees: the case always runs;
//! - so do `macro_rules!` definitions, whose bodies may carry attributes;
//! - an expansion that panics here panics in the compiler as well: it digests as a panic.
//!
//! What stays unseen: hygiene (the fallback's spans have no `mixed_site`) and the branch of
//! `terminal_state::emit::lex` taken only inside the compiler. `.ci/mutants` therefore re-runs
//! the mutants that survive this selection against the whole suite.

use std::hash::{DefaultHasher, Hash, Hasher};

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, ImplItem, Item, TraitItem};

/// The digest of a case that runs whatever its digest was.
pub(crate) const ALWAYS: &str = "always";

/// The digest of `text`'s expansion: 16 hex digits, or `always` for a case this expansion
/// cannot stand for.
pub(crate) fn digest(text: String) -> String {
    // A thread of its own: the fallback's spans count bytes from the first text the thread
    // lexed, so each case's spans start from zero whatever ran before it.
    let expanded = std::thread::spawn(move || expanded(&text).map(|tokens| format!("{tokens:?}")));
    match expanded.join() {
        Ok(Some(tokens)) => hex(&tokens),
        Ok(None) => ALWAYS.to_owned(),
        Err(_) => hex("the expansion panicked"),
    }
}

fn hex(text: &str) -> String {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The file with every fixpoint attribute expanded, or `None` when the compiler would hand the
/// attributes something else.
fn expanded(text: &str) -> Option<TokenStream> {
    if text.contains("macro_rules!") {
        return None;
    }
    let tokens: TokenStream = text.parse().ok()?;
    let mut expander = Expander::default();
    let expanded = expander.file(tokens);
    (!expander.foreign).then_some(expanded)
}

#[derive(Default)]
struct Expander {
    /// How many foreign attribute macros enclose the item being visited.
    enclosing_foreign: usize,
    /// A fixpoint attribute runs after a foreign one: the expansion here is not the compiler's.
    foreign: bool,
}

impl Expander {
    /// Tokens as a file of items, expanded; other tokens (a `compile_error!`, an impl's items)
    /// are tried as impl items, then left as they are.
    fn file(&mut self, tokens: TokenStream) -> TokenStream {
        if let Ok(mut file) = syn::parse2::<syn::File>(tokens.clone()) {
            self.visit_file_mut(&mut file);
            return file.into_token_stream();
        }
        if let Ok(mut items) = syn::parse2::<ImplItems>(tokens.clone()) {
            for item in &mut items.0 {
                self.visit_impl_item_mut(item);
            }
            return items.0.iter().map(ToTokens::to_token_stream).collect();
        }
        tokens
    }

    /// Takes the first fixpoint attribute off `attrs`: its expansion and its arguments.
    fn take(&mut self, attrs: &mut Vec<Attribute>) -> Option<(Expand, TokenStream)> {
        let index = attrs.iter().position(|attr| which(attr).is_some())?;
        if self.enclosing_foreign > 0 || attrs[..index].iter().any(is_foreign) {
            self.foreign = true;
        }
        let attr = attrs.remove(index);
        let expand = which(&attr)?;
        let args = match attr.meta {
            syn::Meta::List(list) => list.tokens,
            _ => TokenStream::new(),
        };
        Some((expand, args))
    }

    /// `item`, its attribute taken, expanded by it, and what that leaves expanded in turn.
    fn expand(
        &mut self,
        (expand, args): (Expand, TokenStream),
        item: &impl ToTokens,
    ) -> TokenStream {
        let output = expand(args, item.to_token_stream());
        self.file(output)
    }

    fn within<R>(&mut self, attrs: &[Attribute], visit: impl FnOnce(&mut Self) -> R) -> R {
        let foreign = usize::from(attrs.iter().any(is_foreign));
        self.enclosing_foreign += foreign;
        let result = visit(self);
        self.enclosing_foreign -= foreign;
        result
    }
}

impl VisitMut for Expander {
    fn visit_item_mut(&mut self, item: &mut Item) {
        let attrs = item_attrs(item)
            .map(|attrs| attrs.clone())
            .unwrap_or_default();
        // Only an item that carries one of ours is copied, to be handed over without it.
        if attrs.iter().any(|attr| which(attr).is_some()) {
            let mut taken = item.clone();
            if let Some(attribute) = item_attrs(&mut taken).and_then(|attrs| self.take(attrs)) {
                *item = Item::Verbatim(self.expand(attribute, &taken));
                return;
            }
        }
        self.within(&attrs, |this| visit_mut::visit_item_mut(this, item));
    }

    fn visit_impl_item_mut(&mut self, item: &mut ImplItem) {
        if let ImplItem::Fn(function) = item {
            let mut taken = function.clone();
            if let Some(attribute) = self.take(&mut taken.attrs) {
                *item = ImplItem::Verbatim(self.expand(attribute, &taken));
                return;
            }
        }
        visit_mut::visit_impl_item_mut(self, item);
    }

    fn visit_trait_item_mut(&mut self, item: &mut TraitItem) {
        if let TraitItem::Fn(function) = item {
            let mut taken = function.clone();
            if let Some(attribute) = self.take(&mut taken.attrs) {
                *item = TraitItem::Verbatim(self.expand(attribute, &taken));
                return;
            }
        }
        visit_mut::visit_trait_item_mut(self, item);
    }
}

/// Impl items one after another: what an attribute on a method expands to.
struct ImplItems(Vec<ImplItem>);

impl syn::parse::Parse for ImplItems {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(input.parse()?);
        }
        Ok(ImplItems(items))
    }
}

fn item_attrs(item: &mut Item) -> Option<&mut Vec<Attribute>> {
    Some(match item {
        Item::Enum(item) => &mut item.attrs,
        Item::Struct(item) => &mut item.attrs,
        Item::Union(item) => &mut item.attrs,
        Item::Fn(item) => &mut item.attrs,
        Item::Impl(item) => &mut item.attrs,
        Item::Trait(item) => &mut item.attrs,
        Item::Mod(item) => &mut item.attrs,
        _ => return None,
    })
}

type Expand = fn(TokenStream, TokenStream) -> TokenStream;

/// The expansion of a fixpoint attribute, by the last segment of its path.
fn which(attr: &Attribute) -> Option<Expand> {
    let name = attr.path().segments.last()?.ident.to_string();
    match name.as_str() {
        "terminal_state" => Some(crate::terminal_state::expand),
        "lock_scope" => Some(crate::lock_scope::expand),
        "invariant" => Some(crate::invariant::expand),
        _ => None,
    }
}

/// An attribute macro that is neither fixpoint's nor one the compiler keeps inert.
fn is_foreign(attr: &Attribute) -> bool {
    const INERT: &[&str] = &[
        "abandoned",
        "allow",
        "automatically_derived",
        "cfg",
        "cfg_attr",
        "cold",
        "deny",
        "deprecated",
        "derive",
        "doc",
        "expect",
        "forbid",
        "ignore",
        "initial",
        "inline",
        "macro_export",
        "macro_use",
        "must_use",
        "non_exhaustive",
        "path",
        "repr",
        "serde",
        "should_panic",
        "terminal",
        "test",
        "to",
        "track_caller",
        "warn",
    ];
    let path = attr.path();
    which(attr).is_none()
        && !(path.segments.len() == 1
            && INERT.contains(&path.segments[0].ident.to_string().as_str()))
}
