//! `Semaphore` at run time: the 93-minute stall in small, gauges under load, permits conserved
//! through random timeouts and cancellations, and hand-offs entered however late they start.
#![cfg(feature = "tokio")]

use crate::common;

use common::XorShift;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fixpoint::{
    lock::{HandOff, LockScope, Semaphore, allow_unbounded},
    lock_scope,
};
use tokio::sync::Notify;

/// The bug, as it was: a client holds its permit while it waits for a reply that never comes.
/// It runs outside the contract on purpose, which its scope says.
async fn client_waiting_for_a_closed_laptop(pool: Semaphore, user: &'static str) {
    let scope = LockScope::unchecked("reproduces the pre-contract client");
    let permit = pool.acquire(&scope).await;
    permit.set_label(format!("agent run for {user}"));
    std::future::pending::<()>().await;
}

#[lock_scope(no_unbounded_await)]
async fn third_request(
    pool: &Semaphore,
    limit: Duration,
) -> Result<(), fixpoint::lock::AcquireTimeout> {
    let permit = pool.acquire_timeout(&lock_scope, limit).await?;
    drop(permit);
    Ok(())
}

/// The 93-minute stall in small: hold times are real (and coarse), so the assertions are lower
/// bounds on them, never upper bounds.
#[tokio::test]
async fn a_timeout_names_both_abandoned_holders_and_their_hold_times() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let pool = Semaphore::new("agent-runs", 2);
    let alice = tokio::spawn(client_waiting_for_a_closed_laptop(pool.clone(), "alice"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let bob = tokio::spawn(client_waiting_for_a_closed_laptop(pool.clone(), "bob"));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stalled = third_request(&pool, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(stalled.permits, 2);
    assert!(stalled.waited >= Duration::from_millis(50), "{stalled:?}");
    let labels: Vec<_> = stalled
        .holders
        .iter()
        .map(|h| h.label.as_deref().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["agent run for alice", "agent run for bob"],
        "the longest hold first"
    );
    assert!(
        stalled.holders[0].held_for >= Duration::from_millis(450),
        "{stalled:?}"
    );
    assert!(
        stalled.holders[1].held_for >= Duration::from_millis(300),
        "{stalled:?}"
    );
    let here = format!("tests/lock/semaphore.rs:{}", line_of_acquire());
    assert!(
        stalled
            .holders
            .iter()
            .all(|h| h.location.to_string().starts_with(&here)),
        "{stalled:?}"
    );
    let message = stalled.to_string();
    assert!(
        message.starts_with(&format!(
            "no permit of semaphore `agent-runs` came free within {}ms: all 2 are held \
             (`agent run for alice` acquired at {here}",
            stalled.waited.as_millis()
        )),
        "{message}"
    );
    assert!(
        message.contains("; `agent run for bob` acquired at tests/lock/semaphore.rs:"),
        "{message}"
    );

    alice.abort();
    bob.abort();
    let _ = (alice.await, bob.await);
    third_request(&pool, Duration::from_millis(50))
        .await
        .expect("the aborted holders gave their permits back");
    assert_eq!(pool.gauges().in_flight, 0);
}

/// The line of the acquisition in `client_waiting_for_a_closed_laptop`.
fn line_of_acquire() -> u32 {
    let source = include_str!("semaphore.rs");
    let index = source
        .find("let permit = pool.acquire(&scope).await;\n    permit.set_label")
        .unwrap();
    u32::try_from(source[..index].lines().count()).unwrap()
}

#[lock_scope(no_unbounded_await)]
async fn hold_until(pool: Arc<Semaphore>, release: Arc<Notify>) {
    let permit = pool.acquire(&lock_scope).await;
    let released = permit.release(); // give the slot up around the wait ...
    let _ = release;
    drop(released);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauges_read_true_under_a_thousand_tasks() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const TASKS: usize = 1_000;
    const PERMITS: usize = 10;
    let pool = Semaphore::new("gauged", PERMITS);
    let release = Arc::new(Notify::new());
    let mut tasks = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let (pool, release) = (pool.clone(), Arc::clone(&release));
        tasks.push(tokio::spawn(async move {
            let scope = LockScope::unchecked("holds until the test releases it");
            let permit = pool.acquire(&scope).await;
            release.notified().await;
            drop(permit);
        }));
    }
    // Wait (bounded) until every task holds a permit or waits for one.
    let settled = tokio::time::timeout(Duration::from_secs(30), async {
        while pool.gauges().waiters != TASKS - PERMITS || pool.gauges().in_flight != PERMITS {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(settled.is_ok(), "never settled: {:?}", pool.gauges());
    let gauges = pool.gauges();
    assert_eq!(
        (gauges.permits, gauges.in_flight, gauges.waiters),
        (PERMITS, PERMITS, TASKS - PERMITS)
    );
    assert!(gauges.longest_hold.is_some());
    assert_eq!(pool.holders().len(), PERMITS);

    // Let them all through, ten at a time.
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        while !tasks.iter().all(tokio::task::JoinHandle::is_finished) {
            release.notify_waiters();
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(drained.is_ok(), "never drained: {:?}", pool.gauges());
    for task in tasks {
        task.await.unwrap();
    }
    let gauges = pool.gauges();
    assert_eq!(
        (gauges.in_flight, gauges.waiters, gauges.longest_hold),
        (0, 0, None)
    );
    let _ = hold_until; // the contract version of the same body compiles; see ui-tests
}

/// Holders at this moment, and the most there ever were, across the workers of one test.
#[derive(Default)]
struct Holding {
    now: AtomicUsize,
    most: AtomicUsize,
}

#[lock_scope(no_unbounded_await)]
async fn worker(pool: Semaphore, holding: Arc<Holding>, limit_ms: u64, hold_ms: u64) -> bool {
    let limit = Duration::from_millis(limit_ms);
    let Ok(permit) = pool.acquire_timeout(&lock_scope, limit).await else {
        return false;
    };
    let counted = Holding::count(&holding);
    tokio::time::sleep(Duration::from_millis(hold_ms)).await;
    drop(counted); // before the permit, so `now` never counts a holder that has none
    drop(permit);
    true
}

impl Holding {
    /// Counts one more holder until the returned guard drops (an abort mid-hold included).
    fn count(holding: &Arc<Holding>) -> impl Drop + use<> {
        struct Counted(Arc<Holding>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.now.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let now = holding.now.fetch_add(1, Ordering::SeqCst) + 1;
        holding.most.fetch_max(now, Ordering::SeqCst);
        Counted(Arc::clone(holding))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permits_are_conserved_through_random_timeouts_and_cancellations() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const TASKS: usize = 4_000;
    const PERMITS: usize = 3;
    let pool = Semaphore::new("conserved", PERMITS);
    let holding = Arc::new(Holding::default());
    let mut rng = XorShift(0xc0ffee);
    let mut tasks = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let (limit, hold) = (rng.below(4), rng.below(3));
        let worker = worker(pool.clone(), Arc::clone(&holding), limit, hold);
        tasks.push(tokio::spawn(worker));
    }
    let mut cancelled = 0;
    for task in tasks.iter().step_by(7) {
        task.abort(); // some mid-wait, some mid-hold, some before they ran
        cancelled += 1;
    }
    let (mut acquired, mut timed_out, mut aborted) = (0, 0, 0);
    for task in tasks {
        match task.await {
            Ok(true) => acquired += 1,
            Ok(false) => timed_out += 1,
            Err(error) if error.is_cancelled() => aborted += 1,
            Err(error) => panic!("a worker failed: {error}"),
        }
    }
    // Never more holders than permits, and all of them in use at the busiest moment.
    assert_eq!(
        holding.most.load(Ordering::SeqCst),
        PERMITS,
        "the most holders at once"
    );
    assert!(
        aborted <= cancelled && acquired > 0 && timed_out > 0,
        "{acquired} {timed_out} {aborted}"
    );
    let gauges = pool.gauges();
    assert_eq!((gauges.in_flight, gauges.waiters), (0, 0), "{gauges:?}");
    // Every permit is back: all of them can be held at once, and no more.
    let scope = LockScope::unchecked("counts the permits");
    let all: Vec<_> = (0..PERMITS)
        .map(|_| pool.try_acquire(&scope).expect("a permit leaked"))
        .collect();
    assert!(
        pool.try_acquire(&scope).is_none(),
        "a permit was created from nothing"
    );
    drop(all);
}

/// A checked task that receives a permit: how many permits are in flight once it is entered.
#[lock_scope(no_unbounded_await)]
async fn receiver(handoff: HandOff, pool: Semaphore) -> usize {
    let in_flight = pool.gauges().in_flight;
    drop(handoff);
    in_flight
}

/// Takes the pool's one permit and hands it to a `receiver` task.
async fn hand_to_receiver(pool: &Semaphore) -> tokio::task::JoinHandle<usize> {
    let scope = LockScope::unchecked("the sender");
    let receiving = pool.clone();
    pool.acquire(&scope)
        .await
        .spawn(move |handoff| receiver(handoff, receiving))
}

/// Nothing times a hand-off: a task whose first poll comes after the paused clock jumped ten
/// seconds enters its permit and gives it back (debug builds once panicked past five).
#[tokio::test(start_paused = true)]
async fn a_hand_off_entered_after_the_clock_jumped_ten_seconds_is_served() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let pool = Semaphore::new("agents", 1);
    let task = hand_to_receiver(&pool).await;
    let jumped = tokio::time::Instant::now();
    // The test's current-thread runtime polls the task only when this yields: after the jump.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(jumped.elapsed() >= Duration::from_secs(10));
    assert_eq!(
        task.await.unwrap(),
        1,
        "the task held the permit it was handed"
    );
    assert_eq!(pool.gauges().in_flight, 0);
}

/// A task started late on a starved runtime (its only worker blocked for six seconds by a
/// synchronous call) enters its permit all the same.
#[test]
fn a_hand_off_entered_after_its_runtime_was_blocked_six_seconds_is_served() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = Semaphore::new("agents", 1);
        let task = hand_to_receiver(&pool).await;
        std::thread::sleep(Duration::from_secs(6)); // the only worker, blocked
        assert_eq!(task.await.unwrap(), 1);
        assert_eq!(pool.gauges().in_flight, 0);
    });
}

/// A checked task that holds its permit until the test says so: a declared unbounded wait.
#[lock_scope(no_unbounded_await)]
async fn receiver_until(handoff: HandOff, entered: tokio::sync::oneshot::Receiver<()>) {
    let _ = allow_unbounded("the test decides when the task ends", entered).await;
    drop(handoff);
}

#[tokio::test(start_paused = true)]
async fn a_hand_off_keeps_its_permit_until_the_receiver_drops_it() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let pool = Semaphore::new("agents", 1);
    let scope = LockScope::unchecked("the sender");
    let (entered, enter) = tokio::sync::oneshot::channel::<()>();
    let task = pool
        .acquire(&scope)
        .await
        .spawn(move |handoff| receiver_until(handoff, enter));
    assert_eq!(pool.gauges().in_flight, 1);
    entered.send(()).unwrap();
    task.await.unwrap();
    assert_eq!(pool.gauges().in_flight, 0);
    drop(pool.acquire(&scope).await);
}

/// A hand-off whose task is aborted before its first poll never enters its permit: dropping
/// it gives the permit and its holder slot back all the same.
#[tokio::test(flavor = "current_thread")]
async fn a_hand_off_dropped_before_its_task_ran_gives_the_permit_back() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let pool = Semaphore::new("agents", 1);
    let task = hand_to_receiver(&pool).await;
    // This runtime's only worker is here: the task has not been polled when it is aborted.
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let gauges = pool.gauges();
    assert_eq!(
        gauges.in_flight, 0,
        "the unentered hand-off kept its permit"
    );
    assert!(pool.holders().is_empty(), "{:?}", pool.holders());
    let scope = LockScope::unchecked("takes the permit back");
    assert!(
        pool.try_acquire(&scope).is_some(),
        "the unentered hand-off's permit never came back"
    );
}

fn labels(pool: &Semaphore) -> Vec<Option<String>> {
    pool.holders()
        .into_iter()
        .map(|holder| holder.label)
        .collect()
}

/// A label goes with its permit through `release` and `reacquire` (the permit taken at once, or
/// after a wait, or within a limit), and leaves with its holder: the next holder of the same
/// slot has none.
#[tokio::test(start_paused = true)]
async fn a_label_follows_its_permit_through_release_and_reacquire_and_leaves_with_it() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let alice = || Some("agent run for alice".to_owned());
    let pool = Semaphore::new("agents", 1);
    let scope = LockScope::unchecked("labels across release and reacquire");
    let permit = pool.acquire(&scope).await;
    permit.set_label("agent run for alice");
    let released = permit.release();
    assert_eq!(labels(&pool), []);

    let at_once = released.reacquire(&scope).await;
    assert_eq!(labels(&pool), [alice()]);
    drop(at_once);

    let other = pool.acquire_cloned(&scope).await;
    assert_eq!(labels(&pool), [None], "the label left with its holder");
    let (after_a_wait, ()) = tokio::join!(released.reacquire(&scope), async {
        tokio::task::yield_now().await;
        assert_eq!(pool.gauges().waiters, 1);
        drop(other);
    });
    assert_eq!(labels(&pool), [alice()]);
    drop(after_a_wait);

    let within = released
        .reacquire_timeout(&scope, Duration::from_secs(1))
        .await;
    assert_eq!(labels(&pool), [alice()]);
    drop(within);
    let unlabeled = pool.try_acquire(&scope);
    assert_eq!(labels(&pool), [None]);
    drop(unlabeled);
    assert_eq!(pool.gauges().in_flight, 0);
}
