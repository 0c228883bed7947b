//! `#[lock_scope(no_unbounded_await)]`: parse the policy and the item, then rewrite every async
//! fn so that the borrow checker rejects a permit held across an unbounded await.

mod body;
mod classify;
mod escape;
mod rewrite;
mod spawned;
mod task;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{ImplItem, Item, ItemFn, Signature};

use self::body::NoBody;

use crate::ctxt::{self, Errors, leading_tokens};

/// What the attribute applies to.
const TARGETS: &str = "#[lock_scope(no_unbounded_await)] applies to an async fn, or to an impl \
                       block whose async methods it checks";

/// The attribute's pipeline. Never panics; after an error the item is emitted as rewritten so
/// far, because without the scope it opens every `&lock_scope` in the body would be a further
/// error.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let Ok(mut item) = syn::parse2::<Item>(input.clone()) else {
        let mut errors = Errors::default();
        check_policy(args, &mut errors);
        errors.spanned(leading_tokens(&input), TARGETS);
        return errors.emit_with(input);
    };
    let checked = try_expand(args, &mut item);
    ctxt::emit(checked.map(|()| item.to_token_stream()), || {
        item.to_token_stream()
    })
}

fn try_expand(args: TokenStream, item: &mut Item) -> syn::Result<()> {
    let mut errors = Errors::default();
    check_policy(args, &mut errors);
    match item {
        Item::Fn(function) => expand_fn(function, &mut errors),
        Item::Impl(block) => expand_impl(block, &mut errors),
        other => errors.spanned(leading_tokens(&other.to_token_stream()), TARGETS),
    }
    errors.finish()
}

/// The only policy is `no_unbounded_await`.
fn check_policy(args: TokenStream, errors: &mut Errors) {
    let hint = "write #[lock_scope(no_unbounded_await)]: no permit of a fixpoint::lock::Semaphore may \
                be held across an await that has no bound";
    if args.is_empty() {
        errors.spanned(
            quote!(lock_scope),
            format_args!("#[lock_scope] needs its policy; {hint}"),
        );
        return;
    }
    match syn::parse2::<syn::Ident>(args.clone()) {
        Ok(policy) if policy == "no_unbounded_await" => {}
        Ok(policy) => errors.spanned(
            &policy,
            format_args!("unknown lock_scope policy `{policy}`; {hint}"),
        ),
        Err(_) => errors.spanned(args, format_args!("malformed lock_scope policy; {hint}")),
    }
}

fn expand_fn(function: &mut ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    match body::user_body(sig, &mut function.block) {
        Ok(body) => rewrite::rewrite_fn(sig, body, errors),
        Err(missing) => report_missing_body(sig, &missing, errors),
    }
    if function.sig.asyncness.is_some() && task::takes_hand_off(&function.sig) {
        task::into_task(&mut function.sig, &mut function.block, errors);
    }
}

/// Every async method of the block is checked; the others are left as they are.
fn expand_impl(block: &mut syn::ItemImpl, errors: &mut Errors) {
    let mut checked_any = false;
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        // The block's attribute covers its methods; a repeated one would open a second scope.
        method
            .attrs
            .retain(|attr| !attr.path().is_ident("lock_scope"));
        let sig = &method.sig;
        match body::user_body(sig, &mut method.block) {
            Ok(body) => {
                rewrite::rewrite_fn(sig, body, errors);
                checked_any = true;
            }
            Err(NoBody::NotAsync) => {}
            Err(missing) => report_missing_body(sig, &missing, errors),
        }
        // A trait's method keeps the trait's signature: its hand-off is entered, but the fn
        // cannot be a task for `Permit::spawn`.
        if block.trait_.is_none()
            && method.sig.asyncness.is_some()
            && task::takes_hand_off(&method.sig)
        {
            task::into_task(&mut method.sig, &mut method.block, errors);
        }
    }
    if !checked_any {
        let (impl_token, self_ty) = (&block.impl_token, &block.self_ty);
        errors.spanned(
            quote!(#impl_token #self_ty),
            "#[lock_scope(no_unbounded_await)] on an impl block checks its async methods, and \
             this block has none; put the attribute on the async fn that acquires permits",
        );
    }
}

fn report_missing_body(sig: &Signature, missing: &NoBody, errors: &mut Errors) {
    let (fn_token, name) = (&sig.fn_token, &sig.ident);
    let message = match missing {
        NoBody::NotAsync => format!(
            "#[lock_scope(no_unbounded_await)] checks the awaits of an async fn, and `{name}` \
             is not async; make it `async fn`, or remove the attribute"
        ),
        NoBody::InstrumentedFirst => format!(
            "#[lock_scope(no_unbounded_await)] cannot find the async body of `{name}` in what \
             #[tracing::instrument] made of it; write #[lock_scope(no_unbounded_await)] above \
             #[tracing::instrument]"
        ),
    };
    errors.spanned(quote!(#fn_token #name), message);
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// Malformed inputs of every kind expand to tokens, never a panic.
    #[test]
    fn never_panics() {
        let inputs = [
            quote!(
                async fn f() {
                    g().await;
                }
            ),
            quote!(
                fn f() {}
            ),
            quote!(
                struct S;
            ),
            quote!(impl S { fn f() {} }),
            quote!(impl S { async fn f(h: HandOff, (a, b): (u8, u8)) { x.await.await; } }),
            quote!(
                async fn f() {
                    allow_unbounded().await;
                    allow_unbounded(1, x).await;
                }
            ),
            quote!(
                async fn f() {
                    tokio::select! { _ = a => {} }
                }
            ),
            quote!(
                trait T {
                    async fn f();
                }
            ),
            quote!(
                fn f() {
                    Box::pin(async move { g().await })
                }
            ),
            quote!(
                fn f() {
                    let body = async { g().await };
                    block_on(body)
                }
            ),
            quote!(
                fn f() {
                    Box::pin()
                }
            ),
            quote!(
                async fn f() {
                    let __tracing_instrument_future = async move { match async move {}.await {} };
                    let __tracing_instrument_future = 1;
                    let __tracing_instrument_future;
                }
            ),
            quote!(),
        ];
        let args = [
            quote!(),
            quote!(no_unbounded_await),
            quote!(other),
            quote!(a = b),
        ];
        for input in &inputs {
            for args in &args {
                assert!(!super::expand(args.clone(), input.clone()).is_empty());
            }
        }
    }

    /// A future `#[tracing::instrument]` made in a shape we do not know is reported with the
    /// order that works, not rewritten into a borrow of a moved scope.
    #[test]
    fn unknown_instrumented_shape_names_the_order() {
        let input = quote!(
            async fn f() {
                let __tracing_instrument_future = instrumented(async move { g().await });
                __tracing_instrument_future.await
            }
        );
        let output = super::expand(quote!(no_unbounded_await), input).to_string();
        assert!(
            output.contains("write #[lock_scope(no_unbounded_await)] above #[tracing::instrument]")
        );
    }

    /// A future `#[tracing::instrument]` made of the user's block alone (no `err`, no `ret`)
    /// is the user's body even when its first statement is the user's own `let`: tracing
    /// 0.1.28 and later open it with `if false { .. }`, and code written to that shape by hand
    /// (or by an older tracing) does not, and must not be taken for the `ret` shape.
    #[test]
    fn instrumented_user_block_opening_with_a_let_is_checked() {
        let input = quote!(
            async fn f() {
                let __tracing_instrument_future = async move {
                    let reply = g().await;
                    reply
                };
                __tracing_instrument_future.await
            }
        );
        let output = super::expand(quote!(no_unbounded_await), input).to_string();
        assert!(output.contains("checkpoint_after"), "{output}");
        assert!(!output.contains("compile_error"), "{output}");
    }

    /// A fn that returns a boxed async block is checked as the async fn it is.
    #[test]
    fn boxed_async_block_is_checked() {
        let input = quote!(
            fn f() -> Pin<Box<dyn Future<Output = ()>>> {
                Box::pin(async move { g().await })
            }
        );
        let output = super::expand(quote!(no_unbounded_await), input).to_string();
        assert!(output.contains("checkpoint_after"));
        assert!(!output.contains("compile_error"));
    }
}
