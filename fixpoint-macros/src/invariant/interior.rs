//! What syntax can tell about interior mutability: which fields a predicate reads, and whether
//! a field's type names a type that can change behind a shared reference.

use std::collections::BTreeSet;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::{GenericArgument, Ident, PathArguments, Type};

/// The fields one predicate reads.
#[derive(Default)]
pub(crate) struct Reads {
    /// `self.name` / `self.0`, not followed by a call.
    pub(crate) fields: BTreeSet<String>,
    /// `self` used whole (`self.helper()`, `check(self)`, `*self`): any field may be read.
    pub(crate) whole: bool,
}

impl Reads {
    pub(crate) fn from_tokens(tokens: TokenStream) -> Self {
        let mut reads = Reads::default();
        reads.scan(tokens);
        reads
    }

    /// Whether the predicate may read `field`.
    pub(crate) fn may_read(&self, field: &str) -> bool {
        self.whole || self.fields.contains(field)
    }

    fn scan(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(group) => self.scan(group.stream()),
                TokenTree::Ident(ident) if ident == "self" => self.record(&tokens[i + 1..]),
                // `format!("{self:?}")`: the whole value, named inside a format string.
                TokenTree::Literal(literal) if literal.to_string().contains("{self") => {
                    self.whole = true;
                }
                _ => {}
            }
        }
    }

    /// `rest` follows a `self`.
    fn record(&mut self, rest: &[TokenTree]) {
        let field = match rest {
            [TokenTree::Punct(dot), member, after @ ..] if dot.as_char() == '.' => {
                member_name(member).filter(|_| !is_call(after))
            }
            _ => None,
        };
        match field {
            Some(field) => {
                self.fields.insert(field);
            }
            None => self.whole = true,
        }
    }
}

/// `name` or `0` (also `0` of `self.0.1`, which lexes as the literal `0.1`).
fn member_name(token: &TokenTree) -> Option<String> {
    match token {
        TokenTree::Ident(ident) => Some(ident.to_string()),
        TokenTree::Literal(literal) => {
            let text = literal.to_string();
            let index = text.split('.').next().unwrap_or_default();
            (!index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
                .then(|| index.to_owned())
        }
        _ => None,
    }
}

/// A method call follows: `(..)` or a turbofish `::<..>(..)`.
fn is_call(after: &[TokenTree]) -> bool {
    match after.first() {
        Some(TokenTree::Group(group)) => group.delimiter() == Delimiter::Parenthesis,
        Some(TokenTree::Punct(punct)) => punct.as_char() == ':',
        _ => false,
    }
}

/// Types that can change behind `&`, by the last segment of their path: std, tokio,
/// parking_lot, crossbeam, arc-swap and fixpoint's own.
const KNOWN: &[&str] = &[
    "Cell",
    "RefCell",
    "UnsafeCell",
    "SyncUnsafeCell",
    "OnceCell",
    "OnceLock",
    "LazyCell",
    "LazyLock",
    "Once",
    "Mutex",
    "RwLock",
    "ReentrantMutex",
    "FairMutex",
    "Semaphore",
    "AtomicBool",
    "AtomicI8",
    "AtomicI16",
    "AtomicI32",
    "AtomicI64",
    "AtomicI128",
    "AtomicIsize",
    "AtomicU8",
    "AtomicU16",
    "AtomicU32",
    "AtomicU64",
    "AtomicU128",
    "AtomicUsize",
    "AtomicPtr",
    "AtomicCell",
    "ArcSwap",
    "ArcSwapOption",
];

/// The first type inside `ty` that can change behind `&`: the type itself, or one it holds
/// (a generic argument, an array or slice element, a tuple member, a pointee). `PhantomData`
/// and function pointers hold nothing.
pub(crate) fn interior_mutable(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                return interior_mutable(&qself.ty);
            }
            let last = path.path.segments.last()?;
            if last.ident == "PhantomData" {
                return None;
            }
            if KNOWN.iter().any(|known| last.ident == known) {
                return Some(&last.ident);
            }
            path.path
                .segments
                .iter()
                .find_map(|segment| in_arguments(&segment.arguments))
        }
        Type::Reference(reference) => interior_mutable(&reference.elem),
        Type::Ptr(pointer) => interior_mutable(&pointer.elem),
        Type::Array(array) => interior_mutable(&array.elem),
        Type::Slice(slice) => interior_mutable(&slice.elem),
        Type::Paren(paren) => interior_mutable(&paren.elem),
        Type::Group(group) => interior_mutable(&group.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(interior_mutable),
        _ => None,
    }
}

fn in_arguments(arguments: &PathArguments) -> Option<&Ident> {
    match arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(ty) => interior_mutable(ty),
            _ => None,
        }),
        // `dyn Fn(A) -> B`: a call's argument and result types, which the value does not hold.
        PathArguments::Parenthesized(_) | PathArguments::None => None,
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::Type;

    use super::{Reads, interior_mutable};

    fn found(ty: &str) -> Option<String> {
        let ty: Type = syn::parse_str(ty).unwrap();
        interior_mutable(&ty).map(ToString::to_string)
    }

    #[test]
    fn names_cells_inside_wrappers() {
        assert_eq!(found("Cell<u32>").as_deref(), Some("Cell"));
        assert_eq!(
            found("std::sync::Arc<RefCell<Vec<u8>>>").as_deref(),
            Some("RefCell")
        );
        assert_eq!(
            found("Option<Box<core::sync::atomic::AtomicU64>>").as_deref(),
            Some("AtomicU64")
        );
        assert_eq!(
            found("&'a tokio::sync::Mutex<u8>").as_deref(),
            Some("Mutex")
        );
        assert_eq!(
            found("[(u8, OnceLock<String>); 2]").as_deref(),
            Some("OnceLock")
        );
        assert_eq!(
            found("HashMap<String, Rc<Cell<u8>>>").as_deref(),
            Some("Cell")
        );
    }

    #[test]
    fn plain_data_is_not_named() {
        for ty in [
            "u32",
            "String",
            "Vec<u8>",
            "Option<u32>",
            "std::collections::BTreeMap<String, Vec<Option<u64>>>",
            "PhantomData<Cell<u8>>",
            "fn(Cell<u8>) -> RefCell<u8>",
            "Box<dyn Fn(Cell<u8>) -> Mutex<u8>>",
            "&'a [T]",
            "(u8, [char; 4])",
            "Celled",
        ] {
            assert_eq!(found(ty), None, "{ty}");
        }
    }

    #[test]
    fn reads_fields_and_whole_values() {
        let reads = Reads::from_tokens(quote!(self.a.get() > 0 && self.b.len() < self.0.1));
        assert_eq!(reads.fields.iter().collect::<Vec<_>>(), ["0", "a", "b"]);
        assert!(!reads.whole);
        assert!(Reads::from_tokens(quote!(self.total() > 0)).whole);
        assert!(Reads::from_tokens(quote!(self.size::<u8>() > 0)).whole);
        assert!(Reads::from_tokens(quote!(valid(self))).whole);
        assert!(Reads::from_tokens(quote!(matches!(*self, S { .. }))).whole);
        assert!(!Reads::from_tokens(quote!(matches!(self.s, S::A))).whole);
        assert!(Reads::from_tokens(quote!(format!("{self:?}").len() < 80)).whole);
    }
}
