//! Models run by shuttle: our code together with the tokio primitive under it, as users run it.
//! `.ci/models` runs them beside the loom ones, under randomized and PCT schedules.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use shuttle::sync::Arc;
use shuttle::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use shuttle::thread;

use crate::lock::{LockScope, Semaphore};

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
            let holders = semaphore.holders();
            assert!(
                holders.iter().any(|h| h.label.as_deref() == Some(label)),
                "{label} holds, and the diagnosis does not name it: {holders:?}"
            );
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
