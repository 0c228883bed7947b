//! What every lock shares: its name and slot table, the record of one hold, and the bounded
//! wait whose error names the holders. `Mutex` and `RwLock` hold through it; the `Semaphore`
//! keeps the same slot table and diagnosis.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::borrow::Cow;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::diagnosis::{AcquireTimeout, Gauges, Holder, LockKind};
use super::scope::VisiblyBounded;
use super::slots::{Slots, Waiting};

/// A lock's name and the holders of its slots.
pub(crate) struct Record {
    pub(crate) name: Cow<'static, str>,
    pub(crate) slots: Slots,
}

impl Record {
    pub(crate) fn new(name: Cow<'static, str>, capacity: usize) -> Arc<Self> {
        Arc::new(Record {
            name,
            slots: Slots::new(capacity),
        })
    }

    pub(crate) fn gauges(&self) -> Gauges {
        let (in_flight, longest_hold) = self.slots.in_flight();
        Gauges {
            permits: self.slots.capacity(),
            in_flight,
            waiters: self.slots.waiters(),
            longest_hold,
        }
    }

    pub(crate) fn timed_out(&self, kind: LockKind, waited: Duration) -> AcquireTimeout {
        AcquireTimeout {
            lock: self.name.to_string(),
            kind,
            permits: self.slots.capacity(),
            waited,
            holders: self.slots.holders(),
        }
    }

    /// Awaits `acquire`, counted as a waiter unless `ready` already holds the lock, then claims
    /// a slot for the holder at `location`. The waiter count drops only after the slot is
    /// claimed, so the gauges never miss a holder in between.
    pub(crate) async fn hold<'s, G>(
        record: RecordRef<'s>,
        ready: Option<G>,
        acquire: impl Future<Output = G>,
        location: &'static Location<'static>,
    ) -> (Hold<'s>, G) {
        if let Some(guard) = ready {
            return (Hold::new(record, location), guard);
        }
        let waiting = record.get().slots.waiting();
        let guard = acquire.await;
        let hold = Hold::new(record.clone(), location);
        drop(waiting);
        (hold, guard)
    }
}

/// The record a guard reports to: borrowed with the lock, or shared by an owned guard.
#[derive(Clone)]
pub(crate) enum RecordRef<'s> {
    Borrowed(&'s Record),
    Owned(Arc<Record>),
}

impl RecordRef<'_> {
    pub(crate) fn get(&self) -> &Record {
        match self {
            RecordRef::Borrowed(record) => record,
            RecordRef::Owned(record) => record,
        }
    }
}

/// One hold of a lock. A guard declares it before the lock's own guard, so that it drops
/// first: the slot is free again before the lock is, and a new holder always finds one.
pub(crate) struct Hold<'s> {
    record: RecordRef<'s>,
    slot: usize,
}

impl<'s> Hold<'s> {
    pub(crate) fn new(record: RecordRef<'s>, location: &'static Location<'static>) -> Self {
        let slot = record.get().slots.claim(location);
        Hold { record, slot }
    }

    /// A hold for a lock taken after a wait: the caller stops counting as a waiter only once
    /// its slot is claimed, so the gauges never miss it.
    pub(crate) fn after_wait(
        record: RecordRef<'s>,
        location: &'static Location<'static>,
        waiting: Waiting<'_>,
    ) -> Self {
        let hold = Hold::new(record, location);
        drop(waiting);
        hold
    }

    pub(crate) fn name(&self) -> &str {
        &self.record.get().name
    }

    pub(crate) fn set_label(&self, label: Cow<'static, str>) {
        self.record.get().slots.set_label(self.slot, label);
    }

    pub(crate) fn acquired_at(&self) -> &'static Location<'static> {
        self.record.get().slots.acquired_at(self.slot)
    }

    pub(crate) fn held_for(&self) -> Duration {
        self.record.get().slots.held_for(self.slot)
    }

    pub(crate) fn holder(&self) -> Holder {
        self.record.get().slots.holder(self.slot)
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.record.get().slots.release(self.slot);
    }
}

pin_project_lite::pin_project! {
    /// A bounded wait for a lock, made by a `*_timeout` method of a [`Mutex`](crate::lock::Mutex)
    /// or an [`RwLock`](crate::lock::RwLock) (`lock_timeout`, `read_cloned_timeout`, ..); await it. Its error,
    /// [`AcquireTimeout`], names who held the lock, where they took it and for how long.
    #[must_use = "nothing is acquired until this is awaited"]
    pub struct LockWithin<'s, F> {
        #[pin]
        acquire: tokio::time::Timeout<F>,
        record: RecordRef<'s>,
        kind: LockKind,
        started: Instant,
    }
}

impl<'s, F: Future> LockWithin<'s, F> {
    pub(crate) fn new(record: RecordRef<'s>, kind: LockKind, limit: Duration, acquire: F) -> Self {
        LockWithin {
            acquire: tokio::time::timeout(limit, acquire),
            record,
            kind,
            started: Instant::now(),
        }
    }
}

impl<F: Future> Future for LockWithin<'_, F> {
    type Output = Result<F::Output, AcquireTimeout>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.acquire.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(guard)) => Poll::Ready(Ok(guard)),
            Poll::Ready(Err(_)) => {
                let waited = this.started.elapsed();
                Poll::Ready(Err(this.record.get().timed_out(*this.kind, waited)))
            }
        }
    }
}

impl<F> core::fmt::Debug for LockWithin<'_, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LockWithin")
            .field("lock", &self.record.get().name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<F> VisiblyBounded for LockWithin<'_, F> {}
