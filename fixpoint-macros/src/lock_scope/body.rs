//! Which block is the async body the user wrote. Attributes that expand before ours move it:
//! `#[async_trait]` into `Box::pin(async move { .. })`, `#[tokio::main]`/`#[tokio::test]` into
//! `let body = async { .. };`, `#[tracing::instrument]` into the future it instruments. The
//! contract is checked on that block, exactly as on a plain async fn.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Block, Expr, ExprAsync, Pat, Signature, Stmt};

/// Why a function has no async body to check.
pub(crate) enum NoBody {
    /// Neither an `async fn` nor an async body wrapped by a known attribute.
    NotAsync,
    /// `#[tracing::instrument]` expanded first, into a shape we cannot see through.
    InstrumentedFirst,
}

/// The user's async body; `Err` when the function has none.
pub(crate) fn user_body<'a>(
    sig: &Signature,
    block: &'a mut Block,
) -> Result<&'a mut Block, NoBody> {
    let outer = outer_body(sig, block)?;
    let Some(at) = outer.stmts.iter().position(is_instrumented_future) else {
        return Ok(outer);
    };
    match &mut outer.stmts[at] {
        Stmt::Local(local) => match local.init.as_mut().map(|init| &mut *init.expr) {
            Some(Expr::Async(future)) => instrumented_body(future).ok_or(NoBody::InstrumentedFirst),
            _ => Err(NoBody::InstrumentedFirst),
        },
        _ => Err(NoBody::InstrumentedFirst),
    }
}

/// The fn's body, or the async block an attribute moved it into.
fn outer_body<'a>(sig: &Signature, block: &'a mut Block) -> Result<&'a mut Block, NoBody> {
    if sig.asyncness.is_some() {
        return Ok(block);
    }
    // `#[tokio::test] #[tracing::instrument] #[lock_scope]`: the future is inside a synchronous
    // span guard, around a runtime.
    let spanned = mentions(block.to_token_stream(), "__tracing_attr_span");
    match wrapped_body(block) {
        Some(outer) => Ok(outer),
        None if spanned => Err(NoBody::InstrumentedFirst),
        None => Err(NoBody::NotAsync),
    }
}

/// `#[tracing::instrument]` binds the future it instruments to `__tracing_instrument_future`.
fn is_instrumented_future(stmt: &Stmt) -> bool {
    matches!(stmt, Stmt::Local(local) if binds(&local.pat, "__tracing_instrument_future"))
}

/// The user's block in tracing's future: the future itself, or, with `err`/`ret`, the
/// `async move { .. }.await` that opens it (`match async move { .. }.await { .. }`,
/// `let x = async move { .. }.await;`).
fn instrumented_body(future: &mut ExprAsync) -> Option<&mut Block> {
    if !future
        .block
        .stmts
        .first()
        .and_then(opening_expr)
        .is_some_and(awaits_async)
    {
        return Some(&mut future.block);
    }
    let opening = match future.block.stmts.first_mut()? {
        Stmt::Local(local) => &mut *local.init.as_mut()?.expr,
        Stmt::Expr(Expr::Match(scrutinee), _) => &mut *scrutinee.expr,
        _ => return None,
    };
    match opening {
        Expr::Await(awaited) => match &mut *awaited.base {
            Expr::Async(inner) => Some(&mut inner.block),
            _ => None,
        },
        _ => None,
    }
}

fn opening_expr(stmt: &Stmt) -> Option<&Expr> {
    match stmt {
        Stmt::Local(local) => local.init.as_ref().map(|init| &*init.expr),
        Stmt::Expr(Expr::Match(scrutinee), _) => Some(&scrutinee.expr),
        _ => None,
    }
}

fn awaits_async(expr: &Expr) -> bool {
    matches!(expr, Expr::Await(awaited) if matches!(&*awaited.base, Expr::Async(_)))
}

/// The async block of a fn that an attribute turned into a plain fn returning a future.
fn wrapped_body(block: &mut Block) -> Option<&mut Block> {
    if is_tokio_entry(block) {
        return match block.stmts.first_mut() {
            Some(Stmt::Local(local)) => match local.init.as_mut().map(|init| &mut *init.expr) {
                Some(Expr::Async(body)) => Some(&mut body.block),
                _ => None,
            },
            _ => None,
        };
    }
    // `Box::pin(async move { .. })` as the tail: `#[async_trait]`, or a hand-written boxed future.
    match block.stmts.last_mut() {
        Some(Stmt::Expr(Expr::Call(call), None))
            if is_box_pin(&call.func) && call.args.len() == 1 =>
        {
            match call.args.first_mut() {
                Some(Expr::Async(body)) => Some(&mut body.block),
                _ => None,
            }
        }
        _ => None,
    }
}

/// tokio's `let body = async { .. };`, first, and a runtime that blocks on it, last.
fn is_tokio_entry(block: &Block) -> bool {
    let first_is_body = matches!(
        block.stmts.first(),
        Some(Stmt::Local(local)) if binds(&local.pat, "body")
            && matches!(local.init.as_ref().map(|init| &*init.expr), Some(Expr::Async(_)))
    );
    first_is_body
        && block
            .stmts
            .last()
            .is_some_and(|last| mentions(last.to_token_stream(), "block_on"))
}

fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else { return false };
    let mut names = path.path.segments.iter().rev().map(|s| s.ident.to_string());
    names.next().as_deref() == Some("pin") && names.next().as_deref() == Some("Box")
}

/// Whether `pat` is the plain binding `name`, as tokio and tracing write theirs (untyped).
fn binds(pat: &Pat, name: &str) -> bool {
    matches!(pat, Pat::Ident(binding) if binding.ident == name)
}

fn mentions(tokens: TokenStream, name: &str) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => mentions(group.stream(), name),
        _ => false,
    })
}
