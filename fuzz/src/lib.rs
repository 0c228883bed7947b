//! What the fuzz targets share: the expansions of fixpoint's three attributes as plain
//! functions, and the property every expansion must have.
//!
//! A proc-macro crate exports only its macros, so the macro crate's own modules are compiled
//! here, by path, unchanged. Outside a proc macro `proc_macro2` runs on its fallback (its own
//! lexer and spans), the same code paths the compiler drives, minus the compiler.

// The macro crate's modules, at the root as in their own crate (they name each other through
// `crate::`). Code only the compiler's proc-macro bridge reaches stays unused here.
#![allow(dead_code, unused_imports)]

extern crate proc_macro;

#[path = "../../fixpoint-macros/src/ctxt.rs"]
mod ctxt;
#[path = "../../fixpoint-macros/src/invariant/mod.rs"]
mod invariant;
#[path = "../../fixpoint-macros/src/lock_scope/mod.rs"]
mod lock_scope;
#[path = "../../fixpoint-macros/src/names.rs"]
mod names;
#[path = "../../fixpoint-macros/src/private.rs"]
mod private;
#[path = "../../fixpoint-macros/src/terminal_state/mod.rs"]
mod terminal_state;

use proc_macro2::{TokenStream, TokenTree};

/// One of the three attributes.
#[derive(Clone, Copy, Debug)]
pub enum Attribute {
    TerminalState,
    LockScope,
    Invariant,
}

impl Attribute {
    /// The name a user writes after `#[`.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::TerminalState => "terminal_state",
            Attribute::LockScope => "lock_scope",
            Attribute::Invariant => "invariant",
        }
    }

    /// The attribute's expansion of `input` with arguments `args`, as the compiler would get it.
    pub fn expand(self, args: TokenStream, input: TokenStream) -> TokenStream {
        match self {
            Attribute::TerminalState => terminal_state::expand(args, input),
            Attribute::LockScope => lock_scope::expand(args, input),
            Attribute::Invariant => invariant::expand(args, input),
        }
    }
}

/// Whether `tokens` hold a `compile_error!` at any depth.
pub fn has_compile_error(tokens: &TokenStream) -> bool {
    let mut trees = tokens.clone().into_iter().peekable();
    while let Some(tree) = trees.next() {
        match tree {
            TokenTree::Ident(ident) if ident == "compile_error" => {
                if matches!(trees.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '!') {
                    return true;
                }
            }
            TokenTree::Group(group) if has_compile_error(&group.stream()) => return true,
            _ => {}
        }
    }
    false
}

/// The property of every expansion: it never panics (the fuzzer reports a panic as a crash),
/// and what it returns either parses as Rust items or carries a `compile_error!` that says what
/// is wrong. An expansion without an error must parse.
pub fn check(attribute: Attribute, args: TokenStream, input: TokenStream) -> TokenStream {
    let output = attribute.expand(args.clone(), input.clone());
    if let Err(error) = syn::parse2::<syn::File>(output.clone()) {
        assert!(
            has_compile_error(&output),
            "#[{}({args})] on `{input}` expanded to code that does not parse ({error}) and \
             carries no compile_error!:\n{output}",
            attribute.name()
        );
    }
    output
}

/// Runs `attribute` the way the compiler would over a source file: on every item of `text`
/// that carries it, with its arguments, as the first attribute macro of the item. When
/// `text` is not a file of items but still lexes, the whole of it is handed to the attribute
/// as its item, which must then fail with an error, never a panic.
pub fn over_source(attribute: Attribute, text: &str) {
    let Ok(tokens) = text.parse::<TokenStream>() else {
        return; // not Rust tokens: the compiler would stop before any macro runs
    };
    let Ok(file) = syn::parse2::<syn::File>(tokens.clone()) else {
        check(attribute, TokenStream::new(), tokens);
        return;
    };
    let mut found = false;
    for item in file.items {
        if let Some((args, item)) = take_attribute(attribute, item) {
            found = true;
            check(attribute, args, quote::ToTokens::into_token_stream(item));
        }
    }
    if !found {
        // No item carries it: the attribute applied to the whole text, as garbage input.
        check(attribute, TokenStream::new(), tokens);
    }
}

/// `item` without its first `#[attribute(..)]` and that attribute's arguments, when it has one.
fn take_attribute(attribute: Attribute, mut item: syn::Item) -> Option<(TokenStream, syn::Item)> {
    let attrs = match &mut item {
        syn::Item::Enum(item) => &mut item.attrs,
        syn::Item::Struct(item) => &mut item.attrs,
        syn::Item::Fn(item) => &mut item.attrs,
        syn::Item::Impl(item) => &mut item.attrs,
        syn::Item::Union(item) => &mut item.attrs,
        syn::Item::Trait(item) => &mut item.attrs,
        syn::Item::Mod(item) => &mut item.attrs,
        _ => return None,
    };
    let index = attrs.iter().position(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == attribute.name())
    })?;
    let attr = attrs.remove(index);
    let args = match attr.meta {
        syn::Meta::Path(_) => TokenStream::new(),
        syn::Meta::List(list) => list.tokens,
        syn::Meta::NameValue(_) => return None, // `#[attr = ..]`: the compiler refuses it first
    };
    Some((args, item))
}
