//! The scope token that makes permit liveness a borrow-checker question.

use core::fmt;

/// The lock scope of one `#[lock_scope(no_unbounded_await)]` function, bound to the local
/// `lock_scope`. Permits are acquired through it (`sem.acquire(&lock_scope)`), which borrows it
/// for as long as the permit lives.
///
/// The attribute creates it; outside the contract, [`LockScope::unchecked`] makes one that says
/// why it is not checked.
pub struct LockScope {
    /// Borrowed mutably by the attribute before every await that is not visibly bounded. When
    /// a permit is alive there, the build fails with "cannot borrow
    /// `lock_scope.permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded` as
    /// mutable because it is also borrowed as immutable", and the name says what to do:
    /// release the permit before the wait, bound the wait
    /// (`fixpoint::lock::bounded(duration, future)`), or declare the exception with its reason
    /// (`fixpoint::lock::allow_unbounded("why", future)`).
    pub permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded: Checkpoint,
    unchecked: Option<&'static str>,
}

impl LockScope {
    /// A scope that no attribute checks, for code that is deliberately outside the contract:
    /// synchronous code, tests, or a migration in progress. The reason stays in the code, where
    /// a reviewer (or `grep unchecked`) finds it.
    ///
    /// ```
    /// let scope = fixpoint::lock::LockScope::unchecked("the legacy handler is migrated in #123");
    /// assert_eq!(scope.reason(), Some("the legacy handler is migrated in #123"));
    /// ```
    #[must_use]
    pub const fn unchecked(reason: &'static str) -> Self {
        LockScope {
            permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded:
                Checkpoint(()),
            unchecked: Some(reason),
        }
    }

    /// Why the scope is unchecked, if it is.
    #[must_use]
    pub fn reason(&self) -> Option<&'static str> {
        self.unchecked
    }

    #[doc(hidden)]
    #[must_use]
    pub const fn __new() -> Self {
        LockScope {
            permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded:
                Checkpoint(()),
            unchecked: None,
        }
    }
}

impl fmt::Debug for LockScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockScope")
            .field("unchecked", &self.unchecked)
            .finish()
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
/// Implemented for [`bounded`](crate::lock::bounded) / `tokio::time::timeout` futures, `tokio` sleeps,
/// [`Semaphore::acquire_timeout`](crate::lock::Semaphore::acquire_timeout) and the `*_timeout` waits
/// of [`Mutex`](crate::lock::Mutex) and [`RwLock`](crate::lock::RwLock), and
/// [`allow_unbounded`](crate::lock::allow_unbounded) exceptions.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a bounded wait, so it may not be awaited while a permit is held",
    label = "awaited as if it were bounded",
    note = "inside #[lock_scope(no_unbounded_await)], `bounded`, `timeout`, `sleep`, \
            `acquire_timeout`, the locks' `*_timeout` and `allow_unbounded` must be fixpoint's or \
            tokio's own; wrap the future in `fixpoint::lock::bounded(duration, future)` instead"
)]
pub trait VisiblyBounded {}

/// Checks, at compile time, that a wait the attribute took for bounded really is.
#[doc(hidden)]
#[inline(always)]
pub fn verify_bounded<F: VisiblyBounded>(future: F) -> F {
    future
}
