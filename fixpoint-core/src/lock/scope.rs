//! The scope token that makes permit liveness a borrow-checker question.

use core::fmt;

/// The lock scope of one `#[lock_scope(no_unbounded_await)]` function, bound to the local
/// `lock_scope`. Permits are acquired through it (`sem.acquire(&lock_scope)`), which borrows it
/// for as long as the permit lives.
///
/// Only the attribute creates one: a scope made by hand would be one the attribute does not
/// check.
pub struct LockScope {
    /// Borrowed mutably by the attribute before every await that is not visibly bounded. When
    /// a permit is alive there, the build fails with
    /// `cannot borrow lock_scope.no_permit_across_unbounded_await as mutable because it is also
    /// borrowed as immutable`: release the permit before the wait, bound the wait
    /// (`fixpoint::bounded(duration, future)`), or declare the exception with its reason
    /// (`fixpoint::allow_unbounded("why", future)`).
    pub no_permit_across_unbounded_await: Checkpoint,
    _private: (),
}

impl LockScope {
    #[doc(hidden)]
    #[must_use]
    pub const fn __new() -> Self {
        LockScope {
            no_permit_across_unbounded_await: Checkpoint(()),
            _private: (),
        }
    }
}

impl fmt::Debug for LockScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockScope")
    }
}

/// The part of a [`LockScope`] that an unbounded await borrows mutably.
#[derive(Debug)]
pub struct Checkpoint(());

/// Placed by `#[lock_scope]` before an unbounded await; does nothing at run time.
#[doc(hidden)]
#[inline(always)]
pub fn checkpoint(_: &mut Checkpoint) {}

/// Placed by `#[lock_scope]` around the future of an unbounded await, after the future is made:
/// a future that borrows the scope or a permit conflicts with the checkpoint's borrow.
#[doc(hidden)]
#[inline(always)]
pub fn checkpoint_after<F>(future: F, _: &mut Checkpoint) -> F {
    future
}

/// A future the attribute accepts as visibly bounded: it ends within a known time, or it
/// declares why it may not.
///
/// Implemented for [`bounded`](crate::bounded) / `tokio::time::timeout` futures, `tokio` sleeps,
/// [`Semaphore::acquire_timeout`](crate::Semaphore::acquire_timeout), and
/// [`allow_unbounded`](crate::allow_unbounded) exceptions.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a bounded wait, so it may not be awaited while a permit is held",
    label = "awaited as if it were bounded",
    note = "inside #[lock_scope(no_unbounded_await)], `bounded`, `timeout`, `sleep`, \
            `acquire_timeout` and `allow_unbounded` must be fixpoint's or tokio's own; \
            wrap the future in `fixpoint::bounded(duration, future)` instead"
)]
pub trait VisiblyBounded {}

/// Checks, at compile time, that a wait the attribute took for bounded really is.
#[doc(hidden)]
#[inline(always)]
pub fn verify_bounded<F: VisiblyBounded>(future: F) -> F {
    future
}
