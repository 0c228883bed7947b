//! The permits of a [`Semaphore`]: held, in transit to another task, given back to be taken
//! again, and the bounded wait that yields one.

use core::fmt;
use core::future::{Future, IntoFuture};
use core::marker::PhantomData;
use core::pin::Pin;
use std::borrow::Cow;
use std::panic::Location;
use std::time::Duration;

use tokio::time::Instant;

use super::diagnosis::{AcquireTimeout, Holder};
use super::handoff::{CheckedTask, HandOff};
use super::scope::{LockScope, VisiblyBounded};
use super::semaphore::Semaphore;

/// The semaphore a permit belongs to: borrowed when acquired in this scope, owned when it
/// arrived as a [`HandOff`] or through [`Semaphore::acquire_cloned`] and its kin.
#[derive(Clone)]
pub(super) enum SemaphoreRef<'s> {
    Borrowed(&'s Semaphore),
    Owned(Semaphore),
}

impl SemaphoreRef<'_> {
    #[inline]
    pub(super) fn get(&self) -> &Semaphore {
        match self {
            SemaphoreRef::Borrowed(semaphore) => semaphore,
            SemaphoreRef::Owned(semaphore) => semaphore,
        }
    }
}

/// One permit of a [`Semaphore`], held for as long as this value lives, and borrowing the
/// [`LockScope`] it was acquired in, so that `#[lock_scope(no_unbounded_await)]` can see it.
///
/// Dropping it gives the permit back. To give it up around a long wait and take it again
/// afterwards, use [`release`](Permit::release); to move it into a new task, use
/// [`spawn`](Permit::spawn).
///
/// Holding it across an unbounded await does not compile:
///
/// ```compile_fail,E0502
/// use fixpoint::{lock_scope, lock::Semaphore};
///
/// async fn user_reply() -> String { String::new() }
///
/// #[lock_scope(no_unbounded_await)]
/// async fn ask_user(pool: &Semaphore) -> String {
///     let permit = pool.acquire(&lock_scope).await;
///     let reply = user_reply().await; // the permit is still held here
///     drop(permit);
///     reply
/// }
/// ```
#[must_use = "a permit is given back as soon as it is dropped"]
pub struct Permit<'s> {
    semaphore: SemaphoreRef<'s>,
    slot: usize,
    scope: PhantomData<&'s LockScope>,
}

impl<'s> Permit<'s> {
    pub(super) fn claim(
        semaphore: SemaphoreRef<'s>,
        _scope: &'s LockScope,
        location: &'static Location<'static>,
    ) -> Self {
        let slot = semaphore.get().inner.slots.claim(location);
        Permit::claimed(semaphore, _scope, slot)
    }

    /// The permit whose slot `slot` was claimed already.
    #[inline]
    pub(super) fn claimed(semaphore: SemaphoreRef<'s>, _scope: &'s LockScope, slot: usize) -> Self {
        Permit {
            semaphore,
            slot,
            scope: PhantomData,
        }
    }

    /// Names the holder in diagnoses: "agent run for alice".
    pub fn set_label(&self, label: impl Into<Cow<'static, str>>) {
        self.semaphore
            .get()
            .inner
            .slots
            .set_label(self.slot, label.into());
    }

    /// Where the permit was acquired.
    #[must_use]
    pub fn acquired_at(&self) -> &'static Location<'static> {
        self.semaphore.get().inner.slots.acquired_at(self.slot)
    }

    /// How long the permit has been held (coarse: millisecond resolution).
    #[must_use]
    pub fn held_for(&self) -> Duration {
        self.semaphore.get().inner.slots.held_for(self.slot)
    }

    /// Gives the permit back and keeps what is needed to take one again with
    /// [`Released::reacquire`]: for code that must not hold its slot across a long wait.
    /// The `Released` borrows nothing, so the wait in between is free of the scope.
    pub fn release(self) -> Released {
        let label = self.holder().label.map(Cow::Owned);
        let semaphore = self.semaphore.get().clone();
        drop(self);
        Released { semaphore, label }
    }

    /// Moves the permit into a new task, checked end to end: `task` receives it as a
    /// [`HandOff`] and must be a `#[lock_scope(no_unbounded_await)]` fn that takes one (or a
    /// closure that calls such a fn), whose future is spawned at once. The attribute enters
    /// the hand-off into that fn's scope before its first line, so every await the permit is
    /// held across in the new task is checked as in this one.
    ///
    /// Any other task does not compile: a closure or `async` block handed the permit could
    /// hold it across any wait, unseen (see [`CheckedTask`]).
    ///
    /// ```
    /// use fixpoint::{lock_scope, lock::{HandOff, Semaphore}};
    ///
    /// #[lock_scope(no_unbounded_await)]
    /// async fn worker(permit: HandOff, job: u32) -> u32 {
    ///     job * 2 // a permit of this scope here
    /// }
    ///
    /// #[lock_scope(no_unbounded_await)]
    /// async fn dispatch(pool: Semaphore) -> u32 {
    ///     let permit = pool.acquire(&lock_scope).await;
    ///     permit.spawn(move |permit| worker(permit, 21)).await.unwrap()
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let pool = Semaphore::new("agents", 1);
    /// # assert_eq!(dispatch(pool.clone()).await, 42);
    /// # assert_eq!(pool.gauges().in_flight, 0);
    /// # }
    /// ```
    ///
    /// An unchecked task is refused:
    ///
    /// ```compile_fail,E0277
    /// use fixpoint::{lock_scope, lock::Semaphore};
    ///
    /// #[lock_scope(no_unbounded_await)]
    /// async fn dispatch(pool: Semaphore) {
    ///     let permit = pool.acquire(&lock_scope).await;
    ///     permit.spawn(|permit| async move {
    ///         let _held = permit;
    ///         std::future::pending::<()>().await; // held across an unbounded wait
    ///     });
    /// }
    /// ```
    pub fn spawn<F, T>(self, task: F) -> tokio::task::JoinHandle<<T::Future as Future>::Output>
    where
        F: FnOnce(HandOff) -> T,
        T: CheckedTask,
        T::Future: Send + 'static,
        <T::Future as Future>::Output: Send + 'static,
    {
        tokio::spawn(task(self.hand_off()).into_task())
    }

    /// Detaches the permit from this scope, for [`spawn`](Permit::spawn).
    fn hand_off(self) -> HandOff {
        let semaphore = self.semaphore.get().clone();
        let slot = self.slot;
        // The permit now belongs to the hand-off: keep its slot, skip this drop.
        core::mem::forget(self);
        HandOff::new(semaphore, slot)
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.semaphore.get().inner.release(self.slot);
    }
}

impl Permit<'_> {
    fn holder(&self) -> Holder {
        self.semaphore.get().inner.slots.holder(self.slot)
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let holder = self.holder();
        f.debug_struct("Permit")
            .field("semaphore", &self.semaphore.get().name())
            .field("acquired_at", &format_args!("{}", holder.location))
            .field("label", &holder.label)
            .field("held_for", &holder.held_for)
            .finish()
    }
}

/// A permit given back by [`Permit::release`], ready to be taken again.
#[must_use = "reacquire the permit, or drop this to stay without one"]
pub struct Released {
    semaphore: Semaphore,
    label: Option<Cow<'static, str>>,
}

impl Released {
    /// Waits for a permit again, keeping the label. An unbounded wait, like
    /// [`Semaphore::acquire`].
    #[track_caller]
    pub fn reacquire<'a>(
        &'a self,
        scope: &'a LockScope,
    ) -> impl Future<Output = Permit<'a>> + Send + 'a {
        Semaphore::acquire_at(
            &self.semaphore,
            scope,
            Location::caller(),
            self.label.clone(),
        )
    }

    /// Waits at most `limit` for a permit again, keeping the label.
    #[track_caller]
    pub fn reacquire_timeout<'a>(
        &'a self,
        scope: &'a LockScope,
        limit: Duration,
    ) -> AcquireWithin<'a> {
        AcquireWithin {
            semaphore: SemaphoreRef::Borrowed(&self.semaphore),
            scope,
            limit,
            location: Location::caller(),
            label: self.label.clone(),
        }
    }
}

impl fmt::Debug for Released {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Released")
            .field("semaphore", &self.semaphore.name())
            .field("label", &self.label)
            .finish()
    }
}

/// A bounded wait for a permit, made by [`Semaphore::acquire_timeout`]; await it.
#[must_use = "nothing is acquired until this is awaited"]
pub struct AcquireWithin<'s> {
    pub(super) semaphore: SemaphoreRef<'s>,
    pub(super) scope: &'s LockScope,
    pub(super) limit: Duration,
    pub(super) location: &'static Location<'static>,
    pub(super) label: Option<Cow<'static, str>>,
}

impl fmt::Debug for AcquireWithin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireWithin")
            .field("semaphore", &self.semaphore.get().name())
            .field("limit", &self.limit)
            .finish()
    }
}

impl<'s> IntoFuture for AcquireWithin<'s> {
    type Output = Result<Permit<'s>, AcquireTimeout>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 's>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let AcquireWithin {
                semaphore,
                scope,
                limit,
                location,
                label,
            } = self;
            let started = Instant::now();
            // The diagnosis needs the semaphore after the wait gave up (a copy when borrowed).
            let diagnose = semaphore.clone();
            let acquired = Semaphore::acquire_at(semaphore, scope, location, label);
            match tokio::time::timeout(limit, acquired).await {
                Ok(permit) => Ok(permit),
                Err(_) => Err(diagnose.get().timed_out(started.elapsed())),
            }
        })
    }
}

impl VisiblyBounded for AcquireWithin<'_> {}
