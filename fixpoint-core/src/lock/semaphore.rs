//! A semaphore that knows who holds its permits, and says so when a wait for one times out.

use core::fmt;
use core::future::Future;
use std::borrow::Cow;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::diagnosis::{AcquireTimeout, Gauges, Holder, LockKind};
use super::permit::{AcquireWithin, Permit, SemaphoreRef};
use super::scope::LockScope;
use super::slots::Slots;

/// A counting semaphore (tokio's, underneath) whose permits are scoped by
/// `#[lock_scope(no_unbounded_await)]` and whose holders are known.
///
/// Every permit records where it was acquired (`#[track_caller]`), since when, and an optional
/// label. When [`acquire_timeout`](Semaphore::acquire_timeout) gives up, its error names each
/// holder and how long it has held its permit: a timeout that diagnoses instead of only killing.
/// [`gauges`](Semaphore::gauges) reads permits in flight, waiters and the longest current hold.
///
/// Cloning is cheap and shares the permits.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{lock_scope, lock::Semaphore};
///
/// #[lock_scope(no_unbounded_await)]
/// async fn run_agent(pool: &Semaphore) -> Result<(), fixpoint::lock::AcquireTimeout> {
///     let permit = pool.acquire_timeout(&lock_scope, Duration::from_secs(1)).await?;
///     permit.set_label("agent run for alice");
///     // ... bounded work only while the permit is held ...
///     drop(permit);
///     Ok(())
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pool = Semaphore::new("agents", 2);
/// run_agent(&pool).await.unwrap();
/// assert_eq!(pool.gauges().in_flight, 0);
/// # }
/// ```
#[derive(Clone)]
pub struct Semaphore {
    pub(super) inner: Arc<Inner>,
}
pub(super) struct Inner {
    name: Cow<'static, str>,
    tokio: tokio::sync::Semaphore,
    pub(super) slots: Slots,
}

impl Semaphore {
    /// A semaphore named `name` (the name appears in diagnoses) with `permits` permits.
    ///
    /// # Panics
    ///
    /// When `permits` exceeds tokio's limit (`usize::MAX >> 3`).
    #[must_use]
    pub fn new(name: impl Into<Cow<'static, str>>, permits: usize) -> Self {
        Semaphore {
            inner: Arc::new(Inner {
                name: name.into(),
                tokio: tokio::sync::Semaphore::new(permits),
                slots: Slots::new(permits),
            }),
        }
    }

    /// The name given at creation.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The number of permits, held or not.
    #[must_use]
    pub fn permits(&self) -> usize {
        self.inner.slots.capacity()
    }

    /// Waits for a permit, for as long as it takes. Inside
    /// `#[lock_scope(no_unbounded_await)]` this wait is unbounded, so it does not compile while
    /// another permit of the scope is alive; use
    /// [`acquire_timeout`](Semaphore::acquire_timeout) there.
    #[track_caller]
    pub fn acquire<'s>(
        &'s self,
        scope: &'s LockScope,
    ) -> impl Future<Output = Permit<'s>> + Send + 's {
        Semaphore::acquire_at(self, scope, Location::caller(), ())
    }

    /// Waits at most `limit` for a permit. A wait the attribute accepts as bounded.
    ///
    /// # Errors
    ///
    /// [`AcquireTimeout`] when no permit came free in time: it names every holder, where it
    /// acquired its permit and for how long it has held it.
    #[track_caller]
    pub fn acquire_timeout<'s>(
        &'s self,
        scope: &'s LockScope,
        limit: Duration,
    ) -> AcquireWithin<'s> {
        AcquireWithin {
            semaphore: SemaphoreRef::Borrowed(self),
            scope,
            limit,
            location: Location::caller(),
            label: None,
        }
    }

    /// A permit if one is free right now.
    #[track_caller]
    pub fn try_acquire<'s>(&'s self, scope: &'s LockScope) -> Option<Permit<'s>> {
        // The tokio permit holds nothing but a borrow and a count: forgetting it keeps the
        // permit taken, which the `Permit` gives back when it drops.
        core::mem::forget(self.inner.tokio.try_acquire().ok()?);
        Some(Permit::claim(
            SemaphoreRef::Borrowed(self),
            scope,
            Location::caller(),
        ))
    }

    /// Waits for a permit like [`acquire`](Semaphore::acquire), but the permit holds a clone of
    /// the semaphore and borrows only the scope: for a struct that owns the semaphore and calls
    /// its own `&mut self` methods while a permit is alive. The contract is unchanged: the
    /// permit still borrows the scope, and this wait is unbounded.
    ///
    /// Unlike tokio's `acquire_owned`, the permit is not `'static` and does not move into
    /// `tokio::spawn`: [`Permit::spawn`](crate::lock::Permit::spawn) moves a permit into a task.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// struct Pool { agents: fixpoint::lock::Semaphore, runs: u32 }
    ///
    /// impl Pool {
    ///     fn count_run(&mut self) { self.runs += 1 }
    /// }
    ///
    /// let mut pool = Pool { agents: fixpoint::lock::Semaphore::new("agents", 1), runs: 0 };
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// let permit = pool.agents.acquire_cloned(&scope).await;
    /// pool.count_run(); // the permit does not borrow `pool`
    /// drop(pool); // nor does it need it: it keeps the semaphore alive
    /// drop(permit);
    /// # }
    /// ```
    #[track_caller]
    pub fn acquire_cloned<'s>(
        &self,
        scope: &'s LockScope,
    ) -> impl Future<Output = Permit<'s>> + Send + use<'s> {
        let owned = SemaphoreRef::Owned(self.clone());
        Semaphore::acquire_at(owned, scope, Location::caller(), ())
    }

    /// Waits at most `limit` for a permit, cloned: the permit of
    /// [`acquire_cloned`](Semaphore::acquire_cloned) within the bound of
    /// [`acquire_timeout`](Semaphore::acquire_timeout). A wait the attribute accepts as bounded.
    ///
    /// # Errors
    ///
    /// [`AcquireTimeout`] naming every holder, when no permit came free in time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    ///
    /// let pool = fixpoint::lock::Semaphore::new("agents", 1);
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// let permit = pool.acquire_cloned_timeout(&scope, Duration::from_secs(1)).await;
    /// assert!(permit.is_ok());
    /// # }
    /// ```
    #[track_caller]
    pub fn acquire_cloned_timeout<'s>(
        &self,
        scope: &'s LockScope,
        limit: Duration,
    ) -> AcquireWithin<'s> {
        AcquireWithin {
            semaphore: SemaphoreRef::Owned(self.clone()),
            scope,
            limit,
            location: Location::caller(),
            label: None,
        }
    }

    /// A permit if one is free right now, cloned; like [`try_acquire`](Semaphore::try_acquire)
    /// with the permit of [`acquire_cloned`](Semaphore::acquire_cloned).
    ///
    /// ```
    /// let pool = fixpoint::lock::Semaphore::new("agents", 1);
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// let permit = pool.try_acquire_cloned(&scope);
    /// assert!(permit.is_some() && pool.try_acquire(&scope).is_none());
    /// ```
    #[track_caller]
    pub fn try_acquire_cloned<'s>(&self, scope: &'s LockScope) -> Option<Permit<'s>> {
        core::mem::forget(self.inner.tokio.try_acquire().ok()?);
        let owned = SemaphoreRef::Owned(self.clone());
        Some(Permit::claim(owned, scope, Location::caller()))
    }

    /// Permits in flight, waiters, and the longest current hold.
    ///
    /// Acquisition and release keep them with plain stores; reading visits each permit's
    /// record once.
    #[must_use]
    pub fn gauges(&self) -> Gauges {
        let (in_flight, longest_hold) = self.inner.slots.in_flight();
        Gauges {
            permits: self.inner.slots.capacity(),
            in_flight,
            waiters: self.inner.slots.waiters(),
            longest_hold,
        }
    }

    /// Everyone holding a permit now, the longest hold first.
    #[must_use]
    pub fn holders(&self) -> Vec<Holder> {
        self.inner.slots.holders()
    }

    /// The one acquisition path: waits, claims a slot for the holder at `location`, labels it.
    /// Cancel-safe: until the permit exists, dropping the future gives nothing up.
    ///
    /// One state machine around tokio's, because a waiter is polled again on every wake and
    /// each nested async layer costs on every poll (a separate `wait_for_permit` made the
    /// contended path 7% slower in instructions). An `async move` block rather than an
    /// `async fn`: the block works on its captures where they lie, where an `async fn` first
    /// moves its arguments into locals. Generic over how it keeps the semaphore and over the
    /// label, so that a plain [`acquire`](Semaphore::acquire) captures only references: its
    /// future then has nothing to drop once done, and the caller's poll inlines that drop.
    // An `async fn` would move its arguments into locals on the first poll (see above).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn acquire_at<'s>(
        semaphore: impl Keep<'s>,
        scope: &'s LockScope,
        location: &'static Location<'static>,
        label: impl Label,
    ) -> impl Future<Output = Permit<'s>> + Send + 's {
        async move {
            let inner = &*semaphore.semaphore().inner;
            let slot = if inner.take_free() {
                inner.slots.claim(location)
            } else {
                // A waiter stays counted until its slot is claimed, so the gauges never miss
                // a permit.
                let waiting = inner.slots.waiting();
                let permit = inner.tokio.acquire().await;
                // The tokio semaphore is never closed, so acquiring cannot fail; the `Permit`
                // gives the permit back (see `take_free`).
                core::mem::forget(permit.expect("fixpoint never closes a semaphore"));
                let slot = inner.slots.claim(location);
                drop(waiting);
                slot
            };
            let permit = Permit::claimed(semaphore.into_ref(), scope, slot);
            label.apply(&permit);
            permit
        }
    }

    pub(super) fn timed_out(&self, waited: Duration) -> AcquireTimeout {
        AcquireTimeout {
            lock: self.inner.name.to_string(),
            kind: LockKind::Semaphore,
            permits: self.permits(),
            waited,
            holders: self.holders(),
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("name", &self.inner.name)
            .field("gauges", &self.gauges())
            .finish()
    }
}

/// How an acquisition keeps its semaphore: borrowed, or either way (a [`SemaphoreRef`]).
pub(super) trait Keep<'s>: Send + 's {
    /// The semaphore acquired from.
    fn semaphore(&self) -> &Semaphore;
    /// What the permit keeps.
    fn into_ref(self) -> SemaphoreRef<'s>;
}

impl<'s> Keep<'s> for &'s Semaphore {
    #[inline]
    fn semaphore(&self) -> &Semaphore {
        self
    }

    #[inline]
    fn into_ref(self) -> SemaphoreRef<'s> {
        SemaphoreRef::Borrowed(self)
    }
}

impl<'s> Keep<'s> for SemaphoreRef<'s> {
    #[inline]
    fn semaphore(&self) -> &Semaphore {
        self.get()
    }

    #[inline]
    fn into_ref(self) -> SemaphoreRef<'s> {
        self
    }
}

/// The label an acquisition gives its permit: none (`()`), or one carried over, as
/// [`Released::reacquire`](super::Released::reacquire) does.
pub(super) trait Label: Send + 'static {
    /// Labels `permit`, just acquired.
    fn apply(self, permit: &Permit<'_>);
}

impl Label for () {
    #[inline]
    fn apply(self, _: &Permit<'_>) {}
}

impl Label for Option<Cow<'static, str>> {
    #[inline]
    fn apply(self, permit: &Permit<'_>) {
        if let Some(label) = self {
            permit.set_label(label);
        }
    }
}

impl Inner {
    /// Takes a permit if one is free and nobody waits: while others wait, a permit goes to
    /// the first of them (tokio's queue is fair), so there is no use trying.
    #[inline]
    pub(super) fn take_free(&self) -> bool {
        if self.slots.waiters() != 0 {
            return false;
        }
        // The tokio permit holds nothing but a borrow and a count: forgetting it keeps the
        // permit taken, and the `Permit` gives it back when it drops.
        let taken = self.tokio.try_acquire();
        let free = taken.is_ok();
        core::mem::forget(taken);
        free
    }

    /// Frees the holder's slot, then gives its permit back, so a slot is free whenever a
    /// permit is. Out of line: the permit's drop then only calls it, and tokio's release is
    /// a jump at its end.
    #[inline(never)]
    pub(super) fn release(&self, index: usize) {
        self.slots.release(index);
        self.tokio.add_permits(1);
    }
}
