//! Moving a permit into a new task without leaving the contract: the hand-off, and the only
//! tasks it may be handed to.

use core::fmt;
use core::future::{Future, IntoFuture};
use core::marker::PhantomData;

use super::permit::{Permit, SemaphoreRef};
use super::scope::LockScope;
use super::semaphore::Semaphore;

/// A permit on its way into a new task; made only by [`Permit::spawn`], for the task it spawns.
///
/// The task is a `#[lock_scope(no_unbounded_await)]` fn with a `HandOff` parameter, which the
/// attribute enters into the fn's own scope before its first line: from there on the permit
/// is a [`Permit`] of that scope, and every await it is held across is checked. No unchecked
/// code holds a `HandOff` across a wait: [`Permit::spawn`] takes only the attribute's tasks.
#[must_use = "a hand-off gives its permit back when dropped"]
pub struct HandOff {
    semaphore: Semaphore,
    slot: Option<usize>,
}

impl HandOff {
    pub(super) fn new(semaphore: Semaphore, slot: usize) -> Self {
        HandOff {
            semaphore,
            slot: Some(slot),
        }
    }

    /// Makes the permit one of `scope`'s again. The attribute calls it for each `HandOff`
    /// parameter; there is no need to call it yourself.
    pub fn enter(mut self, scope: &LockScope) -> Permit<'_> {
        let slot = self.slot.take().unwrap_or_default();
        Permit::claimed(SemaphoreRef::Owned(self.semaphore.clone()), scope, slot)
    }
}

impl Drop for HandOff {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            self.semaphore.inner.release(slot);
        }
    }
}

impl fmt::Debug for HandOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandOff")
            .field("semaphore", &self.semaphore.name())
            .finish_non_exhaustive()
    }
}

/// The task of a `#[lock_scope(no_unbounded_await)]` fn that takes a [`HandOff`]: what such a
/// fn returns in place of its `async fn` future, and what [`Permit::spawn`] runs.
///
/// Only the attribute makes one. Await it as the fn's future (it is [`IntoFuture`]), though a
/// `HandOff` comes only from [`Permit::spawn`], which calls the fn itself.
#[must_use = "a task does nothing until it is spawned or awaited"]
pub struct Entered<F> {
    future: F,
    _checked: PhantomData<fn() -> LockScope>,
}

impl<F> Entered<F> {
    /// The future of a checked fn's body; for the attribute's expansion only.
    #[doc(hidden)]
    pub fn __new(future: F) -> Self {
        Entered {
            future,
            _checked: PhantomData,
        }
    }
}

impl<F: Future> IntoFuture for Entered<F> {
    type Output = F::Output;
    type IntoFuture = F;

    fn into_future(self) -> F {
        self.future
    }
}

impl<F> fmt::Debug for Entered<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}

mod sealed {
    pub trait Sealed {}
    impl<F> Sealed for super::Entered<F> {}
}

/// A task that [`Permit::spawn`] may move a permit into: the [`Entered`] future of a
/// `#[lock_scope(no_unbounded_await)]` fn that takes a [`HandOff`], and nothing else.
///
/// A closure or `async` block handed the permit is refused at compile time: no attribute
/// checks its awaits, so it could hold the permit across a wait for user input and no build
/// would fail. Write the task as a checked fn, and hand the permit to it.
#[diagnostic::on_unimplemented(
    message = "a permit is handed off only to a `#[lock_scope(no_unbounded_await)]` fn, and \
               this task is `{Self}`",
    label = "no #[lock_scope] checks this task: it could hold the permit across any wait",
    note = "write the task as `#[lock_scope(no_unbounded_await)] async fn serve(permit: HandOff, \
            ..)` and hand the permit to it: `permit.spawn(serve)`, or \
            `permit.spawn(move |permit| serve(permit, connection))`"
)]
pub trait CheckedTask: sealed::Sealed {
    /// The task's future.
    type Future: Future;

    /// The future to spawn.
    fn into_task(self) -> Self::Future;
}

impl<F: Future> CheckedTask for Entered<F> {
    type Future = F;

    fn into_task(self) -> F {
        self.future
    }
}
