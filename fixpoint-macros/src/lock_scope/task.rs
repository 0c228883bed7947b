//! A checked fn that takes a `HandOff` is the body of a task of its own: `Permit::spawn` runs
//! it, and takes nothing else. Its future is wrapped in the runtime's `Entered`, which only this
//! expansion makes, so that a closure or `async` block handed the permit does not compile.
//!
//! ```text
//! async fn serve(permit: HandOff, conn: Conn) -> R { body }
//! // becomes
//! fn serve(permit: HandOff, conn: Conn) -> Entered<impl Future<Output = R>> {
//!     Entered::__new(async move { body })
//! }
//! ```
//!
//! An `async fn` moves its parameters into its future, as `async move` does here; awaiting the
//! call still works (`Entered` is `IntoFuture`).

use quote::{ToTokens, quote};
use syn::{Block, FnArg, GenericParam, ReturnType, Signature, Type};

use crate::ctxt::Errors;
use crate::private;

/// Whether `sig` takes a `HandOff`: a parameter whose type's last segment is `HandOff`.
pub(crate) fn takes_hand_off(sig: &Signature) -> bool {
    sig.inputs.iter().any(|arg| match arg {
        FnArg::Typed(typed) => is_hand_off(&typed.ty),
        FnArg::Receiver(_) => false,
    })
}

pub(crate) fn is_hand_off(ty: &Type) -> bool {
    matches!(ty, Type::Path(path)
        if path.path.segments.last().is_some_and(|segment| segment.ident == "HandOff"))
}

/// Makes the `async fn` whose body is `block` (already checked and rewritten) a plain fn that
/// returns its body's future as an `Entered` task. A task outlives the fn that spawned it, so
/// it may not borrow: a reference parameter, a `&self` or a lifetime parameter is refused with
/// what to write instead.
pub(crate) fn into_task(sig: &mut Signature, block: &mut Block, errors: &mut Errors) {
    let name = &sig.ident;
    let borrowing = sig.inputs.iter().find_map(|arg| match arg {
        FnArg::Receiver(receiver) if receiver.reference.is_some() => Some(arg.to_token_stream()),
        FnArg::Typed(typed) if matches!(&*typed.ty, Type::Reference(_)) => {
            Some(typed.ty.to_token_stream())
        }
        _ => None,
    });
    let lifetime = sig.generics.params.iter().find_map(|param| match param {
        GenericParam::Lifetime(_) => Some(param.to_token_stream()),
        _ => None,
    });
    if let Some(tokens) = borrowing.or(lifetime) {
        errors.spanned(
            tokens,
            format!(
                "`{name}` takes a HandOff, so it runs as a task of its own (`permit.spawn({name})`) \
                 that outlives its caller, and may not borrow: take this by value, or share it \
                 in an `Arc`"
            ),
        );
        return;
    }
    // Patterns (`(a, b): (u8, u8)`) bind before the future starts, as in any fn; the future
    // moves the bindings in, so the fn behaves as the `async fn` did.
    let Some(async_token) = sig.asyncness.take() else {
        return;
    };
    let span = async_token.span;
    let private = private::at(span);
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    sig.output = syn::parse_quote_spanned! {span=>
        -> #private::Entered<impl ::core::future::Future<Output = #output>>
    };
    let stmts = &block.stmts;
    *block = syn::parse_quote_spanned! {span=>
        { #private::Entered::__new(async move { #(#stmts)* }) }
    };
}
