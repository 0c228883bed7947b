//! A permit or guard moved into a task that no attribute checks: `tokio::spawn`,
//! `spawn_blocking`, `spawn_local`, `JoinSet::spawn` and their kin, handed the permit itself or a
//! closure or future that owns it.
//!
//! The borrow checker refuses it too, but in words about lifetimes (the permit borrows the
//! scope, and a task must be `'static`), three errors deep, none naming the fix. This check
//! names it once, at the spawn, with a `compile_error!` placed inside the body: rustc does not
//! borrow-check a body that holds an error, so nothing follows it.

use std::collections::BTreeMap;

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, ExprCall, ExprMethodCall, FnArg, Item, Local, Pat, Signature};

use super::task::is_hand_off;

/// The free functions that start a task: `tokio::spawn`, `tokio::task::spawn_blocking`,
/// `tokio::task::spawn_local`, under any path.
const SPAWN_FNS: &[&str] = &["spawn", "spawn_blocking", "spawn_local"];

/// The methods that start a task: `JoinSet::spawn` and its kin, `Handle::spawn`,
/// `LocalSet::spawn_local`, `Builder::spawn` and the `_on` forms.
const SPAWN_METHODS: &[&str] = &[
    "spawn",
    "spawn_blocking",
    "spawn_local",
    "spawn_on",
    "spawn_local_on",
    "spawn_blocking_on",
];

/// The verbs that yield a permit; any other acquisition through the scope yields a guard.
const PERMIT_VERBS: &[&str] = &[
    "acquire",
    "acquire_timeout",
    "try_acquire",
    "acquire_cloned",
    "acquire_cloned_timeout",
    "try_acquire_cloned",
    "reacquire",
    "reacquire_timeout",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Permit,
    Guard,
}

/// A local that holds a permit or a guard, or owns one (a closure or future that moved it in).
#[derive(Clone)]
struct Held {
    kind: Kind,
    /// The permit or guard itself, for a local that owns one.
    root: String,
}

/// Every permit or guard moved into a task no attribute checks, as an error at its spawn.
/// `body` is the block's tokens: a body that names no spawn (most) is not walked at all.
pub(crate) fn check(sig: &Signature, block: &Block, body: &TokenStream) -> Vec<syn::Error> {
    if !mentions_any(body, SPAWN_METHODS) {
        return Vec::new();
    }
    let mut held = BTreeMap::new();
    for arg in &sig.inputs {
        if let FnArg::Typed(typed) = arg
            && is_hand_off(&typed.ty)
            && let Pat::Ident(binding) = &*typed.pat
        {
            let name = binding.ident.to_string();
            let root = name.clone();
            held.insert(
                name,
                Held {
                    kind: Kind::Permit,
                    root,
                },
            );
        }
    }
    let mut finder = Finder {
        held,
        errors: Vec::new(),
    };
    finder.visit_block_mut(&mut block.clone());
    finder.errors
}

struct Finder {
    held: BTreeMap<String, Held>,
    errors: Vec<syn::Error>,
}

// `VisitMut` over a copy: the crate builds syn without its `visit` feature.
impl VisitMut for Finder {
    fn visit_local_mut(&mut self, local: &mut Local) {
        visit_mut::visit_local_mut(self, local);
        let Some(init) = &local.init else { return };
        let tokens = init.expr.to_token_stream();
        let owner = match &*init.expr {
            _ if mentions(&tokens, "lock_scope") => {
                let kind = if mentions_any(&tokens, PERMIT_VERBS) {
                    Kind::Permit
                } else {
                    Kind::Guard
                };
                let mut names = Vec::new();
                bindings(&local.pat, &mut names);
                for name in names {
                    let root = name.clone();
                    self.held.insert(name, Held { kind, root });
                }
                return;
            }
            // `let job = move || drop(permit);`, `let work = async move { .. permit .. };`,
            // `let work = serve(permit);`: a local that now owns the permit.
            init => self.captured(init),
        };
        let mut names = Vec::new();
        bindings(&local.pat, &mut names);
        for name in names {
            match &owner {
                Some(owned) => self.held.insert(name, owned.clone()),
                // Rebound to something else: the name holds no permit from here on.
                None => self.held.remove(&name),
            };
        }
    }

    fn visit_expr_call_mut(&mut self, call: &mut ExprCall) {
        visit_mut::visit_expr_call_mut(self, call);
        let Expr::Path(func) = &*call.func else {
            return;
        };
        let Some(last) = func.path.segments.last() else {
            return;
        };
        if SPAWN_FNS.iter().any(|name| last.ident == name) {
            let at = func.to_token_stream();
            self.check_args(call.args.iter(), &at, &last.ident.to_string());
        }
    }

    fn visit_expr_method_call_mut(&mut self, call: &mut ExprMethodCall) {
        visit_mut::visit_expr_method_call_mut(self, call);
        if !SPAWN_METHODS.iter().any(|name| call.method == name) {
            return;
        }
        // `permit.spawn(serve)`: the checked hand-off itself.
        if let Expr::Path(receiver) = &*call.receiver
            && receiver
                .path
                .get_ident()
                .is_some_and(|ident| self.held.contains_key(&ident.to_string()))
        {
            return;
        }
        let (receiver, dot, method) = (&call.receiver, &call.dot_token, &call.method);
        let at = quote!(#receiver #dot #method);
        self.check_args(call.args.iter(), &at, &call.method.to_string());
    }

    // A nested fn is another function: it has its own attribute, or none.
    fn visit_item_mut(&mut self, _: &mut Item) {}
}

impl Finder {
    /// The first held local `tokens` mention.
    fn mentioned(&self, tokens: &TokenStream) -> Option<Held> {
        let mut found = None;
        visit_idents(tokens, &mut |ident| {
            if found.is_none() {
                found = self.held.get(ident).cloned();
            }
        });
        found
    }

    /// The first held local that the task made of `arg` takes: any mention inside a closure or
    /// `async` block (captured), and a use by value elsewhere (`spawn(serve(permit))`), but not
    /// a method call or field read evaluated before the spawn (`spawn(log(permit.held_for()))`),
    /// nor a borrow (`let noted = note(&permit);`).
    fn captured(&self, arg: &Expr) -> Option<Held> {
        match arg {
            Expr::Closure(_) | Expr::Async(_) => self.mentioned(&arg.to_token_stream()),
            Expr::Path(path) => path
                .path
                .get_ident()
                .and_then(|ident| self.held.get(&ident.to_string()).cloned()),
            Expr::MethodCall(call) => {
                let receiver = match &*call.receiver {
                    Expr::Path(_) => None,
                    receiver => self.captured(receiver),
                };
                receiver.or_else(|| call.args.iter().find_map(|arg| self.captured(arg)))
            }
            Expr::Field(field) => match &*field.base {
                Expr::Path(_) => None,
                base => self.captured(base),
            },
            Expr::Call(call) => call.args.iter().find_map(|arg| self.captured(arg)),
            // A borrow moves nothing: `note(&permit)` leaves the permit where it is, and a
            // result that kept the borrow could not go into a `'static` task at all.
            Expr::Reference(_) => None,
            Expr::Paren(paren) => self.captured(&paren.expr),
            Expr::Tuple(tuple) => tuple.elems.iter().find_map(|elem| self.captured(elem)),
            Expr::Struct(fields) => fields.fields.iter().find_map(|f| self.captured(&f.expr)),
            // Anything else (a block, a macro, a match): any mention is taken to be captured.
            other => self.mentioned(&other.to_token_stream()),
        }
    }

    fn check_args<'a>(
        &mut self,
        args: impl Iterator<Item = &'a Expr>,
        at: &TokenStream,
        spawn: &str,
    ) {
        for arg in args {
            let Some(held) = self.captured(arg) else {
                continue;
            };
            let name = &held.root;
            let message = match held.kind {
                Kind::Permit => format!(
                    "the permit `{name}` is moved into a task that no #[lock_scope] checks \
                     (`{spawn}`), where it could be held across any wait; hand it off instead: \
                     `{name}.spawn(serve)`, with the task written as \
                     `#[lock_scope(no_unbounded_await)] async fn serve({name}: HandOff, ..)`"
                ),
                Kind::Guard => format!(
                    "the guard `{name}` is moved into a task that no #[lock_scope] checks \
                     (`{spawn}`), where it could be held across any wait; a guard cannot be \
                     handed off: drop it before the spawn, and lock again inside the task, in \
                     a #[lock_scope(no_unbounded_await)] fn"
                ),
            };
            self.errors.push(syn::Error::new_spanned(at, message));
            return;
        }
    }
}

/// The names a pattern binds.
fn bindings(pat: &Pat, names: &mut Vec<String>) {
    match pat {
        Pat::Ident(binding) => names.push(binding.ident.to_string()),
        Pat::Type(typed) => bindings(&typed.pat, names),
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| bindings(p, names)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| bindings(p, names)),
        Pat::Struct(fields) => fields.fields.iter().for_each(|f| bindings(&f.pat, names)),
        Pat::Reference(reference) => bindings(&reference.pat, names),
        Pat::Paren(paren) => bindings(&paren.pat, names),
        _ => {}
    }
}

fn visit_idents(tokens: &TokenStream, each: &mut impl FnMut(&str)) {
    for token in tokens.clone() {
        match token {
            TokenTree::Ident(ident) => each(&ident.to_string()),
            TokenTree::Group(group) => visit_idents(&group.stream(), each),
            _ => {}
        }
    }
}

fn mentions(tokens: &TokenStream, name: &str) -> bool {
    mentions_any(tokens, &[name])
}

fn mentions_any(tokens: &TokenStream, names: &[&str]) -> bool {
    let mut found = false;
    visit_idents(tokens, &mut |ident| found |= names.contains(&ident));
    found
}
