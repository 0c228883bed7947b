//! Models run by shuttle: our `Semaphore`, `Mutex` and `RwLock` together with the tokio
//! primitive under each, as users run them. `.ci/models` runs them beside the loom ones, under
//! randomized and PCT schedules.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use shuttle::sync::Arc;
use shuttle::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use shuttle::thread;

use crate::lock::{LockScope, Mutex, RwLock, Semaphore};

const PERMITS: usize = 2;

/// Schedules per model run (`SHUTTLE_ITERATIONS` overrides; `.ci/models --deep` raises it).
fn iterations() -> usize {
    std::env::var("SHUTTLE_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

/// Three holders of a two-permit `Semaphore` come and go while a fourth task's acquire is
/// dropped after its first poll (a timeout, a cancelled select) and a diagnosis looks on:
/// never more holders than permits; each holder's label is its own while it holds; a
/// diagnosis made after a holder finished releasing never names it; the cancelled acquire
/// leaves no waiter counted and no permit taken; every permit comes back.
fn semaphore() {
    let semaphore = Semaphore::new("model", PERMITS);
    let holding = Arc::new(AtomicUsize::new(0));
    let released = Arc::new(AtomicBool::new(false));
    let holder = |label: &'static str| {
        let (semaphore, holding, released) = (semaphore.clone(), holding.clone(), released.clone());
        thread::spawn(move || {
            let scope = LockScope::unchecked("a model");
            let permit = shuttle::future::block_on(semaphore.acquire(&scope));
            permit.set_label(label);
            let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
            assert!(now <= PERMITS, "{now} holders of {PERMITS} permits");
            assert_named(&semaphore.holders(), label);
            holding.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            if label == "a" {
                released.store(true, Ordering::SeqCst);
            }
        })
    };
    let holders = [holder("a"), holder("b"), holder("c")];
    let cancelled = {
        let semaphore = semaphore.clone();
        thread::spawn(move || {
            let scope = LockScope::unchecked("a model");
            let mut acquire = pin!(semaphore.acquire(&scope));
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(permit) = acquire.as_mut().poll(&mut cx) {
                drop(permit); // a permit was free: taken and given back
            } // else dropped while queued
        })
    };
    let diagnosis = {
        let (semaphore, released) = (semaphore.clone(), released.clone());
        thread::spawn(move || {
            if released.load(Ordering::SeqCst) {
                let holders = semaphore.holders();
                assert!(
                    holders.iter().all(|h| h.label.as_deref() != Some("a")),
                    "a diagnosis named a holder that had released: {holders:?}"
                );
            }
        })
    };
    for thread in holders.into_iter().chain([cancelled, diagnosis]) {
        thread.join().unwrap();
    }
    let gauges = semaphore.gauges();
    assert_eq!((gauges.in_flight, gauges.waiters), (0, 0), "{gauges:?}");
    let scope = LockScope::unchecked("counts the permits");
    let all: Vec<_> = (0..PERMITS)
        .map(|_| semaphore.try_acquire(&scope).expect("a permit was lost"))
        .collect();
    assert!(semaphore.try_acquire(&scope).is_none(), "a permit too many");
    drop(all);
}

#[test]
fn semaphore_under_random_schedules() {
    shuttle::check_random(semaphore, iterations());
}

#[test]
fn semaphore_under_pct_schedules() {
    shuttle::check_pct(semaphore, iterations(), 3);
}

/// Three holders of a `Mutex` (its one slot claimed without a compare-and-swap, since the lock
/// is held) while a fourth task's lock is dropped after its first poll: one holder at a time;
/// each holder is named by a diagnosis for as long as it holds; no waiter is left counted; the
/// lock comes free.
fn mutex() {
    let mutex = Mutex::new("model", 0_u32);
    let holding = Arc::new(AtomicUsize::new(0));
    let holder = |label: &'static str| {
        let (mutex, holding) = (mutex.clone(), holding.clone());
        thread::spawn(move || {
            let scope = LockScope::unchecked("a model");
            let mut guard = shuttle::future::block_on(mutex.lock(&scope));
            guard.set_label(label);
            assert_eq!(
                holding.fetch_add(1, Ordering::SeqCst),
                0,
                "two holders at once"
            );
            *guard += 1;
            assert_named(&mutex.holders(), label);
            holding.fetch_sub(1, Ordering::SeqCst);
        })
    };
    let holders = [holder("a"), holder("b"), holder("c")];
    let cancelled = {
        let mutex = mutex.clone();
        thread::spawn(move || {
            let scope = LockScope::unchecked("a model");
            poll_once_then_drop(mutex.lock(&scope));
        })
    };
    for thread in holders.into_iter().chain([cancelled]) {
        thread.join().unwrap();
    }
    let gauges = mutex.gauges();
    assert_eq!((gauges.in_flight, gauges.waiters), (0, 0), "{gauges:?}");
    let scope = LockScope::unchecked("reads the count");
    assert_eq!(*mutex.try_lock(&scope).expect("the lock stayed held"), 3);
}

/// Two readers and a writer of an `RwLock` with room for two readers, while another writer's
/// wait is dropped after its first poll: a writer is alone; readers never outnumber their
/// slots; each holder is named while it holds; nothing is left held or waiting.
fn rwlock() {
    let rwlock = RwLock::with_max_readers("model", 0_u32, 2);
    let (readers, writers) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reader = |label: &'static str| {
        let (rwlock, readers, writers) = (rwlock.clone(), readers.clone(), writers.clone());
        thread::spawn(move || {
            let scope = LockScope::unchecked("a model");
            let guard = shuttle::future::block_on(rwlock.read(&scope));
            guard.set_label(label);
            let now = readers.fetch_add(1, Ordering::SeqCst) + 1;
            assert!(now <= 2, "{now} readers in two slots");
            assert_eq!(
                writers.load(Ordering::SeqCst),
                0,
                "a reader beside a writer"
            );
            assert_named(&rwlock.holders(), label);
            readers.fetch_sub(1, Ordering::SeqCst);
        })
    };
    let writer = {
        let (rwlock, readers, writers) = (rwlock.clone(), readers.clone(), writers.clone());
        thread::spawn(move || {
            let scope = LockScope::unchecked("a model");
            let mut guard = shuttle::future::block_on(rwlock.write(&scope));
            guard.set_label("writer");
            assert_eq!(writers.fetch_add(1, Ordering::SeqCst), 0, "two writers");
            assert_eq!(
                readers.load(Ordering::SeqCst),
                0,
                "a writer beside a reader"
            );
            *guard += 1;
            assert_named(&rwlock.holders(), "writer");
            writers.fetch_sub(1, Ordering::SeqCst);
        })
    };
    let cancelled = {
        let rwlock = rwlock.clone();
        thread::spawn(move || {
            let scope = LockScope::unchecked("a model");
            poll_once_then_drop(rwlock.write(&scope));
        })
    };
    for thread in [reader("r1"), reader("r2"), writer, cancelled] {
        thread.join().unwrap();
    }
    let gauges = rwlock.gauges();
    assert_eq!((gauges.in_flight, gauges.waiters), (0, 0), "{gauges:?}");
    let scope = LockScope::unchecked("reads the count");
    assert_eq!(*rwlock.try_write(&scope).expect("the lock stayed held"), 1);
}

#[test]
fn mutex_under_random_schedules() {
    shuttle::check_random(mutex, iterations());
}

#[test]
fn mutex_under_pct_schedules() {
    shuttle::check_pct(mutex, iterations(), 3);
}

#[test]
fn rwlock_under_random_schedules() {
    shuttle::check_random(rwlock, iterations());
}

#[test]
fn rwlock_under_pct_schedules() {
    shuttle::check_pct(rwlock, iterations(), 3);
}

/// Asserts that a diagnosis (`holders`) names the holder labeled `label`, which holds now.
fn assert_named(holders: &[crate::lock::Holder], label: &str) {
    assert!(
        holders.iter().any(|h| h.label.as_deref() == Some(label)),
        "{label} holds, and the diagnosis does not name it: {holders:?}"
    );
}

/// Polls a lock's wait once, then drops it: a timeout or a `select!` giving up on it.
fn poll_once_then_drop(wait: impl Future) {
    let mut wait = pin!(wait);
    let _ = wait.as_mut().poll(&mut Context::from_waker(Waker::noop()));
}
