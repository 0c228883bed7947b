//! The rewrite of one async fn body: open the scope, enter hand-offs, and put a checkpoint at
//! every unbounded await of the function's own (not those of nested async blocks or closures,
//! which wait when and where they are awaited, and are checked there).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, FnArg, Item, Pat, Signature, Stmt, Type};

use super::classify::{self, Wait};
use crate::ctxt::Errors;
use crate::private;

pub(crate) fn rewrite_fn(sig: &Signature, block: &mut Block, errors: &mut Errors) {
    let body = block.to_token_stream();
    super::escape::check_no_unchecked_scope(&body, errors);
    let escapes = super::spawned::check(sig, block, &body);
    if !escapes.is_empty() {
        // A permit escapes into an unchecked task. The error goes inside the body, which rustc
        // then does not borrow-check: the lifetime errors the same escape makes do not bury it.
        // Nothing is checked, in a scope that lives forever.
        let mut prelude = prelude(sig, Scope::Unchecked);
        for escape in escapes {
            let error = escape.to_compile_error();
            prelude.push(syn::parse_quote!(#error;));
        }
        block.stmts.splice(0..0, prelude);
        return;
    }
    let mut rewriter = Rewriter { errors };
    for stmt in &mut block.stmts {
        rewriter.visit_stmt_mut(stmt);
    }
    let prelude = prelude(sig, Scope::Checked);
    block.stmts.splice(0..0, prelude);
}

/// The scope the body opens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// A local that every checkpoint borrows mutably.
    Checked,
    /// A `static`, after an error: nothing is checked.
    Unchecked,
}

/// `let mut lock_scope = ..;` and one `let h = HandOff::enter(h, &lock_scope);` per `HandOff`
/// parameter, so a permit that arrives by hand-off belongs to this scope from the first line.
fn prelude(sig: &Signature, kind: Scope) -> Vec<Stmt> {
    // Spanned in the user's source, so that the borrow checker names the place
    // `lock_scope.permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded` instead of "value".
    let span = sig.ident.span();
    let private = private::at(span);
    let scope: Stmt = match kind {
        Scope::Checked => syn::parse_quote_spanned! {span=>
            // Unused when the function acquires nothing; `mut` is used only by checkpoints.
            #[allow(unused_mut, unused_variables)]
            let mut lock_scope = #private::LockScope::__new();
        },
        Scope::Unchecked => syn::parse_quote_spanned! {span=>
            #[allow(non_upper_case_globals, unused)]
            static lock_scope: #private::LockScope = #private::LockScope::unchecked(
                "not checked: a permit escapes into an unchecked task (see the error)",
            );
        },
    };
    let mut stmts = vec![scope];
    for arg in &sig.inputs {
        let FnArg::Typed(typed) = arg else { continue };
        let (Pat::Ident(binding), Type::Path(ty)) = (&*typed.pat, &*typed.ty) else {
            continue;
        };
        if ty
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "HandOff")
        {
            let (mutability, ident) = (&binding.mutability, &binding.ident);
            stmts.push(syn::parse_quote! {
                let #mutability #ident = #private::HandOff::enter(#ident, &lock_scope);
            });
        }
    }
    stmts
}

struct Rewriter<'e> {
    errors: &'e mut Errors,
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            // Their awaits run when the block or closure is awaited, which is checked there.
            Expr::Async(_) | Expr::Closure(_) => {}
            Expr::Await(await_expr) => {
                self.visit_expr_mut(&mut await_expr.base);
                let span = await_expr.await_token.span();
                let base = &*await_expr.base;
                let checked = self.check_wait(base, span);
                // The tokens are ours and always parse; were they not to, the wait would go
                // unchecked, so that is reported rather than skipped.
                match syn::parse2(checked) {
                    Ok(checked) => *await_expr.base = checked,
                    Err(error) => self.errors.push(error),
                }
            }
            Expr::Macro(mac) if classify::macro_awaits(&mac.mac) => {
                let checkpoint = checkpoint(mac.mac.path.span());
                *expr = syn::parse_quote!((#checkpoint, #mac).1);
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(mac) = stmt
            && classify::macro_awaits(&mac.mac)
        {
            let checkpoint = checkpoint(mac.mac.path.span());
            let semi = mac.semi_token;
            let (attrs, inner) = (&mac.attrs, &mac.mac);
            *stmt = Stmt::Expr(syn::parse_quote!({ #(#attrs)* #checkpoint; #inner }), semi);
            return;
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    // A nested fn is another function: it has its own attribute, or none.
    fn visit_item_mut(&mut self, _: &mut Item) {}
}

impl Rewriter<'_> {
    /// The await's operand, with the checkpoint or the type check its kind of wait needs.
    fn check_wait(&mut self, base: &Expr, span: Span) -> TokenStream {
        let private = private::at(span);
        match classify::classify(base) {
            Wait::Bounded => quote_spanned!(span=> #private::verify_bounded(#base)),
            Wait::Exempt(call) => {
                if classify::exemption_reason(call).is_none() {
                    self.errors.spanned(
                        call,
                        "an unbounded wait held under a permit must say why: write \
                         `allow_unbounded(\"the reason\", future)` with a non-empty string literal",
                    );
                }
                quote_spanned!(span=> #private::verify_bounded(#base))
            }
            Wait::Acquisition => {
                let checkpoint = checkpoint(span);
                quote!((#checkpoint, #base).1)
            }
            Wait::Unbounded => {
                let scope = scope_borrow(span);
                // Spanned at the future, which is what "later used by call" then points at.
                let private = private::at(base.span());
                quote_spanned!(base.span()=> #private::checkpoint_after(#base, #scope))
            }
        }
    }
}

/// `checkpoint(&mut lock_scope.permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded)`, spanned at the wait.
fn checkpoint(span: Span) -> TokenStream {
    let scope = scope_borrow(span);
    let private = private::at(span);
    quote_spanned!(span=> #private::checkpoint(#scope))
}

/// The mutable borrow that conflicts with every live permit; its span is the wait's, so the
/// borrow checker's "mutable borrow occurs here" points at the `.await`.
fn scope_borrow(span: Span) -> TokenStream {
    quote_spanned!(span=> &mut lock_scope.permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded)
}
