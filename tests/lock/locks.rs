//! `Mutex` and `RwLock` at run time: exclusion and conservation through random timeouts and
//! cancellations, the timeout that names its holder, gauges, and the owned forms.
#![cfg(feature = "tokio")]

use crate::common;

use common::XorShift;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fixpoint::{
    lock::{LockKind, LockScope, Mutex, RwLock, Semaphore},
    lock_scope,
};
use tokio::sync::Notify;

/// Counts a holder inside its critical section until dropped, cancellation included; made
/// after the guard, so dropped before it.
struct Inside<'a>(&'a AtomicUsize);

impl<'a> Inside<'a> {
    /// Enters, returning how many were inside already.
    fn enter(count: &'a AtomicUsize) -> (Self, usize) {
        (Inside(count), count.fetch_add(1, Ordering::SeqCst))
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One worker: takes the mutex within `limit_ms`, checks that it is alone, holds it for
/// `hold_ms`, counts its increment.
#[lock_scope(no_unbounded_await)]
async fn increment(
    counter: Mutex<u64>,
    inside: Arc<AtomicUsize>,
    limit_ms: u64,
    hold_ms: u64,
) -> bool {
    let limit = Duration::from_millis(limit_ms);
    let Ok(mut value) = counter.lock_timeout(&lock_scope, limit).await else {
        return false;
    };
    let (_inside, before) = Inside::enter(&inside);
    assert_eq!(before, 0, "two holders of one mutex");
    tokio::time::sleep(Duration::from_millis(hold_ms)).await;
    *value += 1;
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutex_is_exclusive_and_conserved_through_random_timeouts_and_cancellations() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const TASKS: usize = 1_000;
    let counter = Mutex::new("counter", 0_u64);
    let inside = Arc::new(AtomicUsize::new(0));
    let mut rng = XorShift(0x5eed);
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (limit, hold) = (rng.below(4), rng.below(2));
            let (counter, inside) = (counter.clone(), Arc::clone(&inside));
            tokio::spawn(increment(counter, inside, limit, hold))
        })
        .collect();
    for task in tasks.iter().step_by(5) {
        task.abort(); // some mid-wait, some mid-hold, some before they ran
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
    assert!(
        acquired > 0 && timed_out > 0 && aborted > 0,
        "{acquired} {timed_out} {aborted}"
    );
    let gauges = counter.gauges();
    assert_eq!((gauges.in_flight, gauges.waiters), (0, 0), "{gauges:?}");
    let scope = LockScope::unchecked("counts the holders");
    let value = counter.try_lock(&scope).expect("the lock leaked");
    // An aborted holder may have incremented before its abort: at least every finished one.
    assert!(*value >= acquired, "{} < {acquired}", *value);
    assert!(
        counter.try_lock(&scope).is_none(),
        "a second holder of a held mutex"
    );
}

/// A reader or a writer, chosen at random, checking the exclusion the other side promises.
#[lock_scope(no_unbounded_await)]
async fn read_or_write(
    lock: RwLock<u64>,
    state: Arc<[AtomicUsize; 2]>,
    write: bool,
    limit_ms: u64,
) -> bool {
    let limit = Duration::from_millis(limit_ms);
    let [readers, writers] = &*state;
    if write {
        let Ok(mut value) = lock.write_cloned_timeout(&lock_scope, limit).await else {
            return false;
        };
        let (_writer, before) = Inside::enter(writers);
        assert_eq!(before, 0, "two writers");
        assert_eq!(readers.load(Ordering::SeqCst), 0, "a writer beside readers");
        // A bounded wait, so that other tasks run while this one holds the lock.
        tokio::time::sleep(Duration::ZERO).await;
        *value += 1;
    } else {
        let Ok(value) = lock.read_timeout(&lock_scope, limit).await else {
            return false;
        };
        let _reader = Inside::enter(readers);
        assert_eq!(
            writers.load(Ordering::SeqCst),
            0,
            "a reader beside a writer"
        );
        tokio::time::sleep(Duration::ZERO).await;
        let _ = *value;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rwlock_is_conserved_through_random_timeouts_and_cancellations() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const TASKS: usize = 1_000;
    const READERS: u32 = 4;
    let lock = RwLock::with_max_readers("config", 0_u64, READERS);
    let state = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let mut rng = XorShift(0xfeed);
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (write, limit) = (rng.below(4) == 0, rng.below(3));
            tokio::spawn(read_or_write(
                lock.clone(),
                Arc::clone(&state),
                write,
                limit,
            ))
        })
        .collect();
    for task in tasks.iter().step_by(6) {
        task.abort();
    }
    let mut finished = 0;
    for task in tasks {
        match task.await {
            Ok(_) => finished += 1,
            Err(error) => assert!(error.is_cancelled(), "a worker failed: {error}"),
        }
    }
    assert!(finished > 0);
    let gauges = lock.gauges();
    assert_eq!((gauges.in_flight, gauges.waiters), (0, 0), "{gauges:?}");
    // Every access is back: all readers at once, and then no writer.
    let scope = LockScope::unchecked("counts the holders");
    let all: Vec<_> = (0..READERS)
        .map(|_| lock.try_read(&scope).expect("a read access leaked"))
        .collect();
    assert!(lock.try_read(&scope).is_none(), "a reader beyond the limit");
    assert!(lock.try_write(&scope).is_none(), "a writer beside readers");
    assert_eq!(lock.gauges().in_flight, READERS as usize);
    drop(all);
    assert!(lock.try_write(&scope).is_some(), "a write access leaked");
}

/// A holder that never lets go, outside the contract on purpose.
async fn forgotten_holder(cache: Mutex<u32>, config: RwLock<u32>, held: Arc<Notify>) {
    let scope = LockScope::unchecked("reproduces an abandoned holder");
    let guard = cache.lock(&scope).await;
    guard.set_label("refresh for alice");
    let reader = config.read_cloned(&scope).await;
    held.notify_one();
    std::future::pending::<()>().await;
    drop((guard, reader));
}

/// The line of `needle` in this file.
fn line_of(needle: &str) -> usize {
    let source = include_str!("locks.rs");
    source[..source.find(needle).unwrap()].matches('\n').count() + 1
}

#[tokio::test]
async fn a_timeout_names_the_holder_its_site_and_hold_time() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let (cache, config) = (Mutex::new("cache", 0), RwLock::new("config", 0));
    let held = Arc::new(Notify::new());
    let holder = tokio::spawn(forgotten_holder(
        cache.clone(),
        config.clone(),
        Arc::clone(&held),
    ));
    held.notified().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let scope = LockScope::unchecked("the stalled request");

    let stalled = cache
        .lock_timeout(&scope, Duration::from_millis(30))
        .await
        .unwrap_err();
    assert_eq!(
        (stalled.kind, stalled.lock.as_str(), stalled.permits),
        (LockKind::Mutex, "cache", 1)
    );
    assert!(stalled.waited >= Duration::from_millis(30), "{stalled:?}");
    let [holder_seen] = &stalled.holders[..] else {
        panic!("{stalled:?}")
    };
    assert_eq!(holder_seen.label.as_deref(), Some("refresh for alice"));
    assert!(
        holder_seen.held_for >= Duration::from_millis(200),
        "{stalled:?}"
    );
    let site = format!(
        "tests/lock/locks.rs:{}:",
        line_of("let guard = cache.lock(&scope).await;")
    );
    assert!(
        holder_seen.location.to_string().starts_with(&site),
        "{stalled:?}"
    );
    let message = stalled.to_string();
    assert!(
        message.starts_with(&format!(
            "mutex `cache` did not come free within {}ms: it is held (`refresh for alice` acquired at {site}",
            stalled.waited.as_millis()
        )),
        "{message}"
    );

    let blocked = config
        .write_timeout(&scope, Duration::from_millis(30))
        .await
        .unwrap_err();
    assert_eq!(blocked.kind, LockKind::Write);
    let site = format!(
        "tests/lock/locks.rs:{}:",
        line_of("let reader = config.read_cloned(&scope)")
    );
    assert!(
        blocked
            .to_string()
            .starts_with("rwlock `config` gave no write access within"),
        "{blocked}"
    );
    assert!(
        blocked
            .to_string()
            .contains(&format!("it is held (acquired at {site}")),
        "{blocked}"
    );
    assert!(
        blocked.holders[0].held_for >= Duration::from_millis(200),
        "{blocked:?}"
    );

    holder.abort();
    let _ = holder.await;
    assert!(
        cache
            .lock_timeout(&scope, Duration::from_millis(30))
            .await
            .is_ok()
    );
    assert!(
        config
            .write_timeout(&scope, Duration::from_millis(30))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauges_count_holders_and_waiters() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cache = Mutex::new("cache", ());
    let scope = LockScope::unchecked("holds while the waiters queue");
    let guard = cache.lock(&scope).await;
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let scope = LockScope::unchecked("a waiter");
                drop(cache.lock(&scope).await);
            })
        })
        .collect();
    let settled = tokio::time::timeout(Duration::from_secs(10), async {
        while cache.gauges().waiters != 5 {
            tokio::task::yield_now().await;
        }
    });
    assert!(settled.await.is_ok(), "{:?}", cache.gauges());
    let gauges = cache.gauges();
    assert_eq!((gauges.permits, gauges.in_flight), (1, 1));
    assert!(gauges.longest_hold.is_some());
    drop(guard);
    for waiter in waiters {
        waiter.await.unwrap();
    }
    let gauges = cache.gauges();
    assert_eq!(
        (gauges.in_flight, gauges.waiters, gauges.longest_hold),
        (0, 0, None)
    );

    let config = RwLock::new("config", ());
    let readers: Vec<_> = (0..3).map(|_| config.try_read(&scope).unwrap()).collect();
    assert_eq!((config.gauges().in_flight, config.holders().len()), (3, 3));
    drop(readers);
    assert_eq!(config.gauges().in_flight, 0);
}

/// A struct that owns its locks and mutates itself while holding them.
struct Agent {
    pool: Semaphore,
    answers: Mutex<Vec<&'static str>>,
    config: RwLock<u32>,
    turns: u32,
}

#[lock_scope(no_unbounded_await)]
impl Agent {
    async fn turn(&mut self) -> usize {
        let permit = self.pool.acquire_cloned(&lock_scope).await;
        // Further locks while the permit is held: only bounded waits.
        let limit = Duration::from_secs(1);
        let answers = self.answers.lock_cloned_timeout(&lock_scope, limit).await;
        let config = self.config.write_cloned_timeout(&lock_scope, limit).await;
        let (mut answers, mut config) = (answers.unwrap(), config.unwrap());
        self.turns += 1; // no guard borrows `self`
        answers.push("yes");
        *config += 1;
        assert_eq!(
            (
                self.pool.gauges().in_flight,
                self.answers.gauges().in_flight
            ),
            (1, 1)
        );
        assert!(
            self.config.try_read(&lock_scope).is_none(),
            "a reader beside an owned writer"
        );
        drop((permit, answers, config));
        self.answers.lock(&lock_scope).await.len()
    }
}

#[tokio::test]
async fn owned_guards_hold_their_lock_without_borrowing_it() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let mut agent = Agent {
        pool: Semaphore::new("agents", 1),
        answers: Mutex::new("answers", Vec::new()),
        config: RwLock::new("config", 0),
        turns: 0,
    };
    assert_eq!(agent.turn().await, 1);
    assert_eq!(agent.turn().await, 2);
    assert_eq!(
        (
            agent.turns,
            *agent
                .config
                .try_read(&LockScope::unchecked("reads"))
                .unwrap()
        ),
        (2, 2)
    );
    assert_eq!(
        agent.pool.gauges().in_flight + agent.answers.gauges().in_flight,
        0
    );

    // An owned guard outlives every handle of its lock.
    let scope = LockScope::unchecked("outlives the handle");
    let answers = Mutex::new("answers", vec!["kept"]);
    let guard = answers.lock_cloned(&scope).await;
    drop(answers);
    assert_eq!(*guard, ["kept"]);
    let pool = Semaphore::new("agents", 1);
    let permit = pool.try_acquire_cloned(&scope).expect("a free permit");
    assert!(
        pool.try_acquire(&scope).is_none(),
        "the owned permit is one of the pool's"
    );
    drop(permit);
    assert!(
        pool.acquire_cloned_timeout(&scope, Duration::from_millis(10))
            .await
            .is_ok()
    );
}

/// Every way to take a permit or a guard records where it was taken, and a diagnosis reads it
/// back: the `_timeout` forms the README leads with, the `_cloned` and `try_` forms, for each
/// of `Semaphore`, `Mutex` and both accesses of `RwLock`.
#[tokio::test]
async fn every_acquisition_records_its_own_site() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let scope = LockScope::unchecked("reads the sites");
    let d = Duration::from_secs(5); // far past an uncontended acquisition
    let (sem, mutex, rw) = (
        Semaphore::new("s", 1),
        Mutex::new("m", 0),
        RwLock::new("r", 0),
    );
    // `line!()` and the acquisition share the invocation's line: keep each on one line.
    macro_rules! site {
        ($lock:ident, $taken:expr) => {{
            let (guard, line) = ($taken, line!());
            let what = stringify!($taken);
            let site = guard.acquired_at();
            assert_eq!((site.file(), site.line()), (file!(), line), "{what}");
            let holders = $lock.holders();
            let [holder] = &holders[..] else {
                panic!("{what}: {holders:?}")
            };
            assert_eq!(holder.location, site, "{what}: the diagnosis");
            drop(guard);
            assert!($lock.holders().is_empty(), "{what}: released");
        }};
    }
    site!(sem, sem.acquire(&scope).await);
    site!(sem, sem.acquire_timeout(&scope, d).await.unwrap());
    site!(sem, sem.try_acquire(&scope).unwrap());
    site!(sem, sem.acquire_cloned(&scope).await);
    site!(sem, sem.acquire_cloned_timeout(&scope, d).await.unwrap());
    site!(sem, sem.try_acquire_cloned(&scope).unwrap());
    site!(mutex, mutex.lock(&scope).await);
    site!(mutex, mutex.lock_timeout(&scope, d).await.unwrap());
    site!(mutex, mutex.try_lock(&scope).unwrap());
    site!(mutex, mutex.lock_cloned(&scope).await);
    site!(mutex, mutex.lock_cloned_timeout(&scope, d).await.unwrap());
    site!(mutex, mutex.try_lock_cloned(&scope).unwrap());
    site!(rw, rw.read(&scope).await);
    site!(rw, rw.read_timeout(&scope, d).await.unwrap());
    site!(rw, rw.try_read(&scope).unwrap());
    site!(rw, rw.read_cloned(&scope).await);
    site!(rw, rw.read_cloned_timeout(&scope, d).await.unwrap());
    site!(rw, rw.try_read_cloned(&scope).unwrap());
    site!(rw, rw.write(&scope).await);
    site!(rw, rw.write_timeout(&scope, d).await.unwrap());
    site!(rw, rw.try_write(&scope).unwrap());
    site!(rw, rw.write_cloned(&scope).await);
    site!(rw, rw.write_cloned_timeout(&scope, d).await.unwrap());
    site!(rw, rw.try_write_cloned(&scope).unwrap());
}

/// Each lock answers to the name it was given, and each guard knows how long it has been
/// held: the figures a holder reads of itself before any diagnosis does.
#[tokio::test]
async fn every_lock_keeps_its_name_and_every_guard_its_hold_time() {
    let _limit = common::time_limit(common::TEST_LIMIT);
    let scope = LockScope::unchecked("reads its own guards");
    let agents = Semaphore::new("agents", 1);
    let ledger = Mutex::new("ledger", 0_u64);
    let config = RwLock::new("config", 0_u64);
    assert_eq!(
        (agents.name(), ledger.name(), config.name()),
        ("agents", "ledger", "config")
    );
    let held = Duration::from_millis(60);
    // Coarse time: a reading may trail the real one by a few milliseconds, never by 20.
    let least = Duration::from_millis(40);
    // And a hold time counts from the acquisition, not from some earlier epoch.
    let most = Duration::from_secs(30);
    let permit = agents.acquire(&scope).await;
    let guard = ledger.lock(&scope).await;
    let reader = config.read(&scope).await;
    tokio::time::sleep(held).await;
    for (guard, held_for) in [
        ("the permit", permit.held_for()),
        ("the mutex guard", guard.held_for()),
        ("the read guard", reader.held_for()),
    ] {
        assert!(
            held_for >= least && held_for < most,
            "{guard}, held {held:?}, says {held_for:?}"
        );
    }
    // A guard in a log says which lock it holds.
    for (debug, name) in [
        (format!("{guard:?}"), "ledger"),
        (format!("{reader:?}"), "config"),
    ] {
        assert!(debug.contains(name), "{debug} does not name {name}");
    }
    drop(reader);
    let writer = config.write(&scope).await;
    tokio::time::sleep(held).await;
    let held_for = writer.held_for();
    assert!(held_for >= least && held_for < most, "{held_for:?}");
    let debug = format!("{writer:?}");
    assert!(debug.contains("config"), "{debug} does not name config");
}
