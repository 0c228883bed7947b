//! The synchronization that fixpoint's own concurrency code is written against, in one place,
//! so that it can be model-checked.
//!
//! Normally these are `std::sync`'s own types. Built with `--cfg loom` (only `.ci/models` does
//! that, for this crate's unit tests), they are [loom](https://docs.rs/loom)'s, and the models in
//! `sync/models/` explore every interleaving of the code written against them, within a bound
//! on preemptions. This module is the only place `cfg(loom)` and `cfg(shuttle)` appear.
//!
//! What goes through the facade, and so is model-checked:
//! - the holder slots of `Semaphore`, `Mutex` and `RwLock` (`lock/slots.rs`): a slot claimed by
//!   compare-and-swap, its holder recorded with plain stores, read by a diagnosis at any time;
//! - the bus (`bus/channel.rs`, `bus/topics.rs`, `bus/subscription.rs`, `bus/backlog.rs`): the
//!   table of topics behind its lock, each subscription's backlog, its lag bound and its waker;
//! - `Registry` (`bus/registry.rs`): the tickets that decide which handle a removal may take;
//! - the supervisor's write queue (`task/queue.rs`): the buffer the writer swaps out whole, its
//!   sleep and its wake-ups.
//! - the signal between the timekeeper's thread and a sleeping future
//!   (`uptime/timekeeper/sleep.rs`): the hand-off where a wake-up could be lost.
//!
//! What does not, and why:
//! - tokio's primitives underneath (`tokio::sync::Semaphore` under our `Semaphore`, `Mutex` and
//!   `RwLock`; the `oneshot` that answers a flush; `Notify`) stay tokio's: tokio model-checks
//!   them with loom itself, and replacing them would model other code than users run. Our
//!   `Semaphore`, `Mutex` and `RwLock` over tokio's are modelled with
//!   [shuttle](https://docs.rs/shuttle) instead
//!   (`--cfg shuttle`, `sync/shuttle_models/`): shuttle schedules our atomics and locks, under
//!   randomized and PCT schedules, while tokio's semaphore runs as it is, each of its calls
//!   one step. Shuttle explores interleavings, not weak memory orders: the orders are loom's
//!   models' to prove.
//! - Statics (the registry of acquisition sites, registry ids, the timekeeper's heap of
//!   deadlines): loom's types cannot be built in a `static`. The first two are counters and
//!   caches; the timekeeper (a deadline fires once, a cancelled one never) also needs a clock,
//!   which loom does not have, and is proven by its stress tests.
//! - `Arc<dyn Trait>`: loom's `Arc` cannot hold an unsized value; those stay `std`'s.

#[cfg(not(all(test, any(loom, shuttle))))]
pub(crate) use std::sync::{
    Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

#[cfg(all(test, loom))]
pub(crate) use loom::sync::{
    Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

#[cfg(all(test, shuttle))]
pub(crate) use shuttle::sync::{
    Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

/// Atomics: `std`'s, loom's or shuttle's.
pub(crate) mod atomic {
    #[cfg(not(all(test, any(loom, shuttle))))]
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

    #[cfg(all(test, loom))]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

    #[cfg(all(test, shuttle))]
    pub(crate) use shuttle::sync::atomic::{
        AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering,
    };
}

/// Waits on `condvar` while `condition` holds, for at most `timeout`; `std`'s
/// `Condvar::wait_timeout_while`. Under loom a wait never times out (loom has no clock), so
/// the model sees the waits that end by a notification, which are the ones that can be lost.
#[cfg(feature = "tokio")]
pub(crate) fn wait_timeout_while<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
    condition: impl FnMut(&mut T) -> bool,
) -> MutexGuard<'a, T> {
    #[cfg(not(all(test, loom)))]
    {
        condvar
            .wait_timeout_while(guard, timeout, condition)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
    }
    #[cfg(all(test, loom))]
    {
        let (mut guard, mut condition) = (guard, condition);
        while condition(&mut guard) {
            guard = condvar
                .wait_timeout(guard, timeout)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        guard
    }
}

/// The model checks, each with the property it proves as its assertion and a deliberate bug
/// it catches (`.ci/models` runs them; `CONTRIBUTING.md` says how).
#[cfg(all(test, loom))]
mod models;

/// The models run by shuttle, with tokio's primitives as they are (see the module's docs).
#[cfg(all(test, shuttle))]
mod shuttle_models;
