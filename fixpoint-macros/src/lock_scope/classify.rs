//! What kind of wait an `.await` is, read from its syntax. A wait taken for bounded is also
//! checked by type (`VisiblyBounded`), so a look-alike of another crate does not slip through.

use syn::{Expr, ExprCall, ExprMethodCall, Lit};

/// The functions whose futures end within a known time, or declare why not.
const BOUNDED_CALLS: &[&str] = &["bounded", "timeout", "timeout_at", "sleep", "sleep_until"];
/// The methods whose futures end within a known time, whatever their arguments.
const BOUNDED_METHODS: &[&str] = &["bounded", "acquire_timeout", "reacquire_timeout"];
/// The lock methods whose futures end within a known time, when given `&lock_scope`. Common
/// words (a user's `read_timeout(limit)`) keep their own kind without it.
const SCOPED_BOUNDED_METHODS: &[&str] = &[
    "lock_timeout",
    "read_timeout",
    "write_timeout",
    "acquire_cloned_timeout",
    "lock_cloned_timeout",
    "read_cloned_timeout",
    "write_cloned_timeout",
];
/// The methods that wait for a permit or guard of the scope, for as long as it takes, when
/// given `&lock_scope`; without it (tokio's `mutex.lock()`) they are plain unbounded waits.
const ACQUISITIONS: &[&str] = &[
    "acquire",
    "reacquire",
    "acquire_cloned",
    "lock",
    "lock_cloned",
    "read",
    "read_cloned",
    "write",
    "write_cloned",
];
/// Macros that await what they are given.
const AWAITING_MACROS: &[&str] = &["select", "join", "try_join", "select_biased"];

/// The kinds of `.await`.
pub(crate) enum Wait<'a> {
    /// Ends within a known time; verified by type, not checkpointed.
    Bounded,
    /// `allow_unbounded(reason, future)`: not checkpointed; the reason must be written out.
    Exempt(&'a ExprCall),
    /// `sem.acquire(&lock_scope)`, `mutex.lock(&lock_scope)`: waits without bound, and borrows the scope itself, so the
    /// checkpoint comes before the future is made.
    Acquisition,
    /// Anything else: waits without bound.
    Unbounded,
}

pub(crate) fn classify(base: &Expr) -> Wait<'_> {
    match strip(base) {
        Expr::Call(call) => match last_segment(&call.func).as_deref() {
            Some("allow_unbounded") => Wait::Exempt(call),
            Some(name) if BOUNDED_CALLS.contains(&name) => Wait::Bounded,
            _ => Wait::Unbounded,
        },
        Expr::MethodCall(call) => classify_method(call),
        _ => Wait::Unbounded,
    }
}

fn classify_method(call: &ExprMethodCall) -> Wait<'_> {
    let method = call.method.to_string();
    let method = method.as_str();
    let takes_scope = || call.args.iter().any(is_scope_ref);
    if BOUNDED_METHODS.contains(&method)
        || (SCOPED_BOUNDED_METHODS.contains(&method) && takes_scope())
    {
        Wait::Bounded
    } else if ACQUISITIONS.contains(&method) && takes_scope() {
        Wait::Acquisition
    } else {
        Wait::Unbounded
    }
}

/// `&lock_scope`.
fn is_scope_ref(arg: &Expr) -> bool {
    let Expr::Reference(reference) = strip(arg) else {
        return false;
    };
    reference.mutability.is_none()
        && matches!(strip(&reference.expr), Expr::Path(path) if path.path.is_ident("lock_scope"))
}

/// The reason of an `allow_unbounded(reason, future)` when it is a non-empty string literal.
pub(crate) fn exemption_reason(call: &ExprCall) -> Option<String> {
    let Some(Expr::Lit(lit)) = call.args.first().map(strip) else {
        return None;
    };
    let Lit::Str(reason) = &lit.lit else {
        return None;
    };
    let reason = reason.value();
    (call.args.len() == 2 && !reason.trim().is_empty()).then_some(reason)
}

/// Whether a macro call awaits inside: `select!`, `join!`, or any macro given an `.await`.
pub(crate) fn macro_awaits(mac: &syn::Macro) -> bool {
    let named = mac
        .path
        .segments
        .last()
        .is_some_and(|segment| AWAITING_MACROS.contains(&segment.ident.to_string().as_str()));
    named || contains_await(mac.tokens.clone())
}

fn contains_await(tokens: proc_macro2::TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "await",
        proc_macro2::TokenTree::Group(group) => contains_await(group.stream()),
        _ => false,
    })
}

fn last_segment(func: &Expr) -> Option<String> {
    match strip(func) {
        Expr::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// The expression inside any parentheses or invisible groups.
fn strip(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(inner) => strip(&inner.expr),
        Expr::Group(inner) => strip(&inner.expr),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::{Wait, classify};

    fn kind(source: &str) -> &'static str {
        let expr: syn::Expr = syn::parse_str(source).expect("test input parses");
        match classify(&expr) {
            Wait::Bounded => "bounded",
            Wait::Exempt(_) => "exempt",
            Wait::Acquisition => "acquisition",
            Wait::Unbounded => "unbounded",
        }
    }

    const VERBS: &[&str] = &[
        "lock",
        "read",
        "write",
        "lock_cloned",
        "read_cloned",
        "write_cloned",
    ];

    /// The lock verbs given `&lock_scope` are acquisitions, or bounded with their `_timeout`.
    #[test]
    fn lock_verbs_with_the_scope() {
        for verb in VERBS.iter().chain(&["acquire_cloned"]) {
            let call = format!("m.{verb}(&(lock_scope))");
            assert_eq!(kind(&call), "acquisition", "{call}");
            let call = format!("m.{verb}_timeout(&lock_scope, limit)");
            assert_eq!(kind(&call), "bounded", "{call}");
        }
    }

    /// Without `&lock_scope`, the new verbs are a user's own waits, classified as before.
    #[test]
    fn lock_verbs_without_the_scope_are_unbounded() {
        for call in [
            "tokio_mutex.lock()",
            "file.read(&mut buf)",
            "db.write(&scope)",
            "m.read_timeout(limit)",
            "m.lock_timeout(&mut lock_scope, limit)",
            "sem.acquire_cloned()",
        ] {
            assert_eq!(kind(call), "unbounded", "{call}");
        }
        // The semaphore's first names keep their name-only rule.
        assert_eq!(kind("sem.acquire_timeout(limit)"), "bounded");
    }
}
