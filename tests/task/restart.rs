//! The restart supervisor: each strategy and restart type, the intensity reached (give-up
//! returned, children stopped in reverse start order), backoff timing under the paused
//! clock, ordered start and stop, children added and removed while running, a wedged child
//! restarted, a nested supervisor's give-up, a restart storm that stops for good, and a
//! storm killed with SIGKILL whose restart budget survives into the next process.

use crate::common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::quiet_injected_panics;
use fixpoint::uptime::Threshold;
use fixpoint::{
    restart::{
        ChildError, ChildSpec, ChildState, Restart, RestartBackoff, RestartError,
        RestartSupervisor, Strategy,
    },
    store::{MemoryStore, Row, SqliteStore, StatusStore},
    task::Config,
};

use crate::common::job as jobs;
use jobs::*;

/// Each test's own time limit (see `common::time_limit`): far past its slowest honest run.
const LIMIT: Duration = Duration::from_secs(120);

type Store = Arc<MemoryStore<Job>>;

/// What an attempt does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Returns an error at once.
    Fail,
    /// Panics at once.
    Panic,
    /// Finishes its lifecycle normally at once.
    Finish,
    /// Runs until asked to stop, then finishes normally.
    Serve,
    /// Runs and ignores the request to stop.
    Ignore,
}

/// What the attempts did, in order: `start a#1`, `stop a#1`.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A child whose attempt `n` does `plan(n)`, logging its start and its stop.
fn child(
    id: &str,
    log: &Log,
    plan: impl Fn(u32) -> Plan + Send + Sync + 'static,
) -> ChildSpec<Job> {
    let log = log.clone();
    ChildSpec::new(id, move |job, attempt| {
        let (log, plan) = (log.clone(), plan(attempt.number()));
        async move {
            let name = format!("{}#{}", attempt.child(), attempt.number());
            log.push(format!("start {name}"));
            let job = job.to_running();
            match plan {
                Plan::Fail => Err(format!("injected error in {name}")),
                Plan::Panic => panic!("injected panic"),
                Plan::Finish => Ok(job.to_done()),
                Plan::Serve => {
                    attempt.stopping().await;
                    log.push(format!("stop {name}"));
                    Ok(job.to_done())
                }
                Plan::Ignore => {
                    attempt.stopping().await;
                    log.push(format!("stop {name}"));
                    std::future::pending::<()>().await;
                    Ok(job.to_done())
                }
            }
        }
    })
}

/// Waits (on the runtime's clock, a millisecond at a time) until `done`.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting until {what}");
}

fn attempt_of(supervisor: &RestartSupervisor<Job>, id: &str) -> Option<(ChildState, u32)> {
    supervisor
        .children()
        .into_iter()
        .find(|child| &*child.id == id)
        .map(|child| (child.state, child.attempt))
}

async fn rows(store: &Store) -> Vec<Row> {
    store.rows().await.unwrap()
}

fn row<'a>(rows: &'a [Row], id: &str) -> &'a Row {
    rows.iter()
        .find(|row| row.id == id)
        .unwrap_or_else(|| panic!("no row `{id}` in {rows:#?}"))
}

/// Waits (on the runtime's clock) until row `id` is as `wanted` says, and returns it.
async fn until_row(store: &Store, id: &str, wanted: impl Fn(&Row) -> bool) -> Row {
    for _ in 0..200_000 {
        let found = rows(store).await.into_iter().find(|row| row.id == id);
        if let Some(row) = found.filter(|row| wanted(row)) {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting for row `{id}`");
}

fn builder() -> fixpoint::restart::RestartBuilder<Job> {
    RestartSupervisor::builder()
        .intensity(100, Duration::from_secs(3600))
        .backoff(RestartBackoff::ZERO)
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_the_child_that_failed_alone_and_stops_in_reverse_order() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let supervisor = builder()
        .child(child("a", &log, |n| {
            if n == 1 { Plan::Fail } else { Plan::Serve }
        }))
        .child(child("b", &log, |_| Plan::Serve))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    until("a is restarted", || {
        attempt_of(&supervisor, "a") == Some((ChildState::Active, 2))
    })
    .await;
    assert_eq!(attempt_of(&supervisor, "b"), Some((ChildState::Active, 1)));
    assert_eq!(supervisor.counters().restarts(), 1);
    let stopped = supervisor.shutdown().await.unwrap();
    assert_eq!(
        log.take(),
        [
            "start a#1",
            "start b#1",
            "start a#2",
            "stop b#1",
            "stop a#2"
        ]
    );
    let failed = row(&stopped.rows, "a#1");
    assert_eq!(
        (failed.status.as_str(), failed.reason.as_deref()),
        ("Failed", Some("injected error in a#1"))
    );
    for id in ["a#2", "b#1"] {
        let stopped = row(&stopped.rows, id);
        assert_eq!(
            stopped.status, "Done",
            "{id}: it finished when asked to stop"
        );
        assert_eq!(
            stopped.reason.as_deref(),
            Some("stopped by its restart supervisor: shutdown")
        );
    }
    assert_eq!(stopped.rows.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_the_others_in_reverse_order_and_restarts_all_in_start_order() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let supervisor = builder()
        .strategy(Strategy::OneForAll)
        .child(child("a", &log, |_| Plan::Serve))
        .child(child("b", &log, |n| {
            if n == 1 { Plan::Fail } else { Plan::Serve }
        }))
        .child(child("c", &log, |_| Plan::Serve))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    until("c is restarted", || {
        attempt_of(&supervisor, "c") == Some((ChildState::Active, 2))
    })
    .await;
    assert_eq!(
        supervisor.counters().restarts(),
        1,
        "one restart, of three children"
    );
    supervisor.shutdown().await.unwrap();
    assert_eq!(
        log.take(),
        [
            "start a#1",
            "start b#1",
            "start c#1",
            "stop c#1",
            "stop a#1",
            "start a#2",
            "start b#2",
            "start c#2",
            "stop c#2",
            "stop b#2",
            "stop a#2",
        ]
    );
    let rows = rows(&store).await;
    assert_eq!(rows.len(), 6);
    let sibling = row(&rows, "a#1").reason.as_deref().unwrap();
    assert!(
        sibling.starts_with("stopped by its restart supervisor: restarting it with `b`"),
        "{sibling}"
    );
}

/// A sibling that failed on its own just before a `OneForAll` restart stops it keeps its own
/// reason: the stop's reason is written only on rows that have not ended.
#[tokio::test(start_paused = true)]
async fn a_sibling_that_failed_meanwhile_keeps_its_own_reason() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let fails_once = |n| if n == 1 { Plan::Fail } else { Plan::Serve };
    let supervisor = builder()
        .strategy(Strategy::OneForAll)
        .child(child("a", &log, |_| Plan::Serve))
        .child(child("b", &log, fails_once))
        .child(child("c", &log, fails_once))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    until("c is restarted", || {
        attempt_of(&supervisor, "c") == Some((ChildState::Active, 2))
    })
    .await;
    supervisor.shutdown().await.unwrap();
    let rows = rows(&store).await;
    for id in ["b#1", "c#1"] {
        let failed = row(&rows, id);
        assert_eq!(failed.status, "Failed");
        assert_eq!(
            failed.reason.as_deref(),
            Some(format!("injected error in {id}").as_str())
        );
    }
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_failed_child_and_the_ones_after_it() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let supervisor = builder()
        .strategy(Strategy::RestForOne)
        .child(child("a", &log, |_| Plan::Serve))
        .child(child("b", &log, |n| {
            if n == 1 { Plan::Panic } else { Plan::Serve }
        }))
        .child(child("c", &log, |_| Plan::Serve))
        .child(child("d", &log, |_| Plan::Serve))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    quiet_injected_panics();
    until("d is restarted", || {
        attempt_of(&supervisor, "d") == Some((ChildState::Active, 2))
    })
    .await;
    assert_eq!(attempt_of(&supervisor, "a"), Some((ChildState::Active, 1)));
    supervisor.shutdown().await.unwrap();
    let events = log.take();
    assert_eq!(
        events[..9],
        [
            "start a#1",
            "start b#1",
            "start c#1",
            "start d#1",
            "stop d#1",
            "stop c#1",
            "start b#2",
            "start c#2",
            "start d#2",
        ]
    );
    let rows = rows(&store).await;
    assert_eq!(
        row(&rows, "b#1").reason.as_deref(),
        Some("panicked: injected panic")
    );
}

#[tokio::test(start_paused = true)]
async fn each_restart_type_restarts_what_it_says() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let finish_twice = |n| if n <= 2 { Plan::Finish } else { Plan::Serve };
    let supervisor = builder()
        .child(child("permanent", &log, finish_twice))
        .child(child("transient-ok", &log, |_| Plan::Finish).restart(Restart::Transient))
        .child(
            child("transient-panics", &log, |n| {
                if n == 1 { Plan::Panic } else { Plan::Finish }
            })
            .restart(Restart::Transient),
        )
        .child(child("temporary", &log, |_| Plan::Fail).restart(Restart::Temporary))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    quiet_injected_panics();
    until("every child settles", || {
        let children = supervisor.children();
        children.len() == 3
            && children
                .iter()
                .all(|child| matches!(child.state, ChildState::Active | ChildState::Exited))
            && attempt_of(&supervisor, "transient-panics").map(|(_, n)| n) == Some(2)
    })
    .await;
    let states: Vec<_> = supervisor
        .children()
        .into_iter()
        .map(|child| (child.id.to_string(), child.state, child.attempt))
        .collect();
    assert_eq!(
        states,
        [
            ("permanent".into(), ChildState::Active, 3),
            ("transient-ok".into(), ChildState::Exited, 1),
            ("transient-panics".into(), ChildState::Exited, 2),
        ],
        "a permanent child comes back after normal ends, a transient one only after an \
         abnormal end, a temporary one never (and is removed)"
    );
    assert_eq!(supervisor.counters().restarts(), 3);
    supervisor.shutdown().await.unwrap();
    let rows = rows(&store).await;
    let ids: Vec<_> = rows.iter().map(|row| row.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "permanent#1",
            "permanent#2",
            "permanent#3",
            "temporary#1",
            "transient-ok#1",
            "transient-panics#1",
            "transient-panics#2",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn past_its_intensity_it_gives_up_and_stops_its_children_in_reverse_order() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let supervisor = RestartSupervisor::builder()
        .intensity(2, Duration::from_secs(60))
        .backoff(RestartBackoff::ZERO)
        .child(child("a", &log, |_| Plan::Serve))
        .child(child("b", &log, |_| Plan::Serve))
        .child(child("c", &log, |_| Plan::Fail))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    let error = supervisor.wait().await.unwrap_err();
    let RestartError::GaveUp {
        child,
        attempt,
        restarts,
        period,
        reason,
        stopped,
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(
        (child.as_str(), *attempt, *restarts, *period),
        ("c", 3, 3, Duration::from_secs(60))
    );
    assert_eq!(reason, "failed: injected error in c#3");
    assert_eq!(stopped, &["b", "a"], "reverse start order");
    let events = log.take();
    assert_eq!(events[events.len() - 2..], ["stop b#1", "stop a#1"]);
    let rows = rows(&store).await;
    let ids: Vec<_> = rows.iter().map(|row| row.id.as_str()).collect();
    assert_eq!(ids, ["a#1", "b#1", "c#1", "c#2", "c#3"]);
    for id in ["a#1", "b#1"] {
        let why = row(&rows, id).reason.as_deref().unwrap();
        assert!(
            why == "stopped by its restart supervisor: it gave up when `c` ended, 3 restarts \
                    within 60s",
            "{id}: {why}"
        );
    }
    let message = error.to_string();
    assert!(message.contains("allow more restarts"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn a_restart_storm_gives_up_after_n_in_t_and_nothing_runs_afterwards() {
    let _limit = crate::common::time_limit(LIMIT);
    const N: u32 = 5;
    let store = Store::default();
    let polls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&polls);
    let starts = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&starts);
    let storm = ChildSpec::new("storm", move |job: fixpoint::task::Machine<Job, ()>, _| {
        counted.fetch_add(1, Ordering::Relaxed);
        seen.lock().unwrap().push(tokio::time::Instant::now());
        async move {
            let _job = job.to_running();
            Err::<fixpoint::Terminal<Job, ()>, _>("fails at once")
        }
    });
    let supervisor = RestartSupervisor::builder()
        .intensity(N, Duration::from_secs(10))
        .backoff(RestartBackoff::ZERO)
        .child(storm)
        .start(Arc::clone(&store))
        .await
        .unwrap();
    let error = supervisor.wait().await.unwrap_err();
    assert!(
        matches!(&error, RestartError::GaveUp { restarts, .. } if *restarts == N + 1),
        "{error}"
    );
    let starts = starts.lock().unwrap().clone();
    assert!(
        starts.iter().all(|start| *start == starts[0]),
        "zero backoff restarts at once (OTP's behaviour): {starts:?}"
    );
    let rows_then = rows(&store).await;
    assert_eq!(
        rows_then.len(),
        N as usize + 1,
        "N restarts: N + 1 attempts"
    );
    assert!(rows_then.iter().all(|row| row.status == "Failed"));
    assert_eq!(polls.load(Ordering::Relaxed), u64::from(N) + 1);
    tokio::time::advance(Duration::from_secs(3600)).await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        polls.load(Ordering::Relaxed),
        u64::from(N) + 1,
        "no attempt after"
    );
    assert_eq!(rows(&store).await, rows_then, "no row after");
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_exponentially_is_capped_and_jittered_on_the_paused_clock() {
    let _limit = crate::common::time_limit(LIMIT);
    for (jitter, low) in [(0.0, 1.0), (0.5, 0.5)] {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&starts);
        let flaky = ChildSpec::new("flaky", move |job: fixpoint::task::Machine<Job, ()>, _| {
            seen.lock().unwrap().push(tokio::time::Instant::now());
            async move {
                let _job = job.to_running();
                Err::<fixpoint::Terminal<Job, ()>, _>("fails at once")
            }
        });
        let backoff =
            RestartBackoff::exponential(Duration::from_millis(100), Duration::from_millis(400))
                .with_jitter(jitter);
        let supervisor = RestartSupervisor::builder()
            .intensity(5, Duration::from_secs(3600))
            .backoff(backoff)
            .child(flaky)
            .start(Store::default())
            .await
            .unwrap();
        assert!(supervisor.wait().await.is_err());
        let starts = starts.lock().unwrap();
        let gaps: Vec<Duration> = starts.windows(2).map(|pair| pair[1] - pair[0]).collect();
        let expected = [100, 200, 400, 400, 400];
        assert_eq!(gaps.len(), expected.len(), "{gaps:?}");
        for (gap, millis) in gaps.iter().zip(expected) {
            let most = Duration::from_millis(millis);
            let least = most.mul_f64(low);
            // The timer's resolution is a millisecond.
            assert!(
                *gap >= least && *gap <= most + Duration::from_millis(1),
                "jitter {jitter}: {gaps:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn ordered_start_waits_for_started_and_shutdown_aborts_after_the_timeout() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let slow_log = log.clone();
    let slow = ChildSpec::new(
        "slow",
        move |job: fixpoint::task::Machine<Job, ()>, mut attempt| {
            let log = slow_log.clone();
            async move {
                let job = job.to_running();
                tokio::time::sleep(Duration::from_secs(3)).await;
                log.push("slow started".to_owned());
                attempt.started();
                attempt.stopping().await;
                Ok::<_, String>(job.to_done())
            }
        },
    )
    .await_started(Duration::from_secs(10));
    let supervisor = builder()
        .child(slow)
        .child(child("next", &log, |_| Plan::Ignore).shutdown(Duration::from_secs(2)))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    until("next starts", || {
        attempt_of(&supervisor, "next") == Some((ChildState::Active, 1))
    })
    .await;
    let begun = tokio::time::Instant::now();
    let stopped = supervisor.shutdown().await.unwrap();
    assert!(
        begun.elapsed() >= Duration::from_secs(2),
        "next had its 2 s"
    );
    assert_eq!(
        log.take(),
        ["slow started", "start next#1", "stop next#1"],
        "`next` starts after `slow` reported started"
    );
    let ignored = row(&stopped.rows, "next#1");
    assert_eq!(ignored.status, "Failed", "aborted after its shutdown time");
    assert_eq!(
        ignored.reason.as_deref(),
        Some("stopped by its restart supervisor: shutdown")
    );
    assert_eq!(row(&stopped.rows, "slow#1").status, "Done");
}

/// An attempt that never reports started holds the start back only for its limit: it is then
/// ended, its row saying why, and restarted under its policy like any abnormal end. The limit is
/// a deadline kept by the timekeeper on the real clock (a paused runtime clock does not stretch
/// it), so this runs in real time with a short limit.
#[tokio::test]
async fn an_attempt_that_never_reports_started_is_ended_at_its_limit() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let db_log = log.clone();
    let hangs_once = ChildSpec::new(
        "db",
        move |job: fixpoint::task::Machine<Job, ()>, mut attempt| {
            let log = db_log.clone();
            async move {
                let job = job.to_running();
                log.push(format!("start db#{}", attempt.number()));
                if attempt.number() == 1 {
                    std::future::pending::<()>().await; // hangs before it reports
                }
                attempt.started();
                attempt.stopping().await;
                Ok::<_, String>(job.to_done())
            }
        },
    )
    .await_started(Duration::from_millis(300));
    let begun = std::time::Instant::now();
    let supervisor = builder()
        .child(hangs_once)
        .child(child("app", &log, |_| Plan::Serve))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    until("db restarted and app started", || {
        attempt_of(&supervisor, "db") == Some((ChildState::Active, 2))
            && attempt_of(&supervisor, "app") == Some((ChildState::Active, 1))
    })
    .await;
    assert!(
        begun.elapsed() >= Duration::from_millis(300),
        "db#1 had its 300 ms"
    );
    let hung = until_row(&store, "db#1", |row| row.status == "Failed").await;
    assert_eq!(
        hung.reason.as_deref(),
        Some("did not report started within 300ms")
    );
    let mut started = log.take();
    started.sort();
    assert_eq!(started, ["start app#1", "start db#1", "start db#2"]);
    let stopped = supervisor.shutdown().await.unwrap();
    assert_eq!(row(&stopped.rows, "db#2").status, "Done");
}

#[tokio::test(start_paused = true)]
async fn children_are_added_and_removed_while_it_runs() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let supervisor = builder()
        .child(child("a", &log, |_| Plan::Serve))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    supervisor
        .add_child(child("b", &log, |n| {
            if n == 1 { Plan::Fail } else { Plan::Serve }
        }))
        .await
        .unwrap();
    assert_eq!(
        supervisor
            .add_child(child("a", &log, |_| Plan::Serve))
            .await,
        Err(ChildError::Duplicate { id: "a".into() })
    );
    until("b is restarted", || {
        attempt_of(&supervisor, "b") == Some((ChildState::Active, 2))
    })
    .await;
    supervisor.remove_child("a").await.unwrap();
    assert_eq!(
        supervisor.remove_child("a").await,
        Err(ChildError::NotFound { id: "a".into() })
    );
    let ids: Vec<_> = supervisor
        .children()
        .into_iter()
        .map(|child| child.id.to_string())
        .collect();
    assert_eq!(ids, ["b"]);
    // Added again, its attempts go on from its rows: ids are never reused.
    supervisor
        .add_child(child("a", &log, |_| Plan::Serve))
        .await
        .unwrap();
    assert_eq!(attempt_of(&supervisor, "a"), Some((ChildState::Active, 2)));
    supervisor.shutdown().await.unwrap();
    let rows = rows(&store).await;
    assert_eq!(
        row(&rows, "a#1").reason.as_deref(),
        Some("stopped by its restart supervisor: removed from it")
    );
    let ids: Vec<_> = rows.iter().map(|row| row.id.as_str()).collect();
    assert_eq!(ids, ["a#1", "a#2", "b#1", "b#2"]);
    assert!(rows.iter().all(|row| row.finished_at.is_some()));
}

/// The watchdog reads the coarse wall clock: this test runs on real time, with generous
/// bounds for liveness only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedged_child_is_ended_with_its_reason_and_restarted() {
    let _limit = crate::common::time_limit(LIMIT);
    let store = Store::default();
    let threshold = Threshold::new(Duration::from_millis(50)).unwrap();
    let worker = ChildSpec::new(
        "worker",
        |job: fixpoint::task::Machine<Job, ()>, attempt| async move {
            let job = job.to_running();
            attempt
                .progress()
                .tick_with(format!("claimed job {}", attempt.number()));
            if attempt.number() == 1 {
                std::future::pending::<()>().await; // wedged: no tick ever again
            }
            while !attempt.is_stopping() {
                attempt.progress().tick();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, String>(job.to_done())
        },
    )
    .watchdog(threshold);
    let supervisor = builder()
        .child(worker)
        .start(Arc::clone(&store))
        .await
        .unwrap();
    until("the wedged attempt is restarted", || {
        attempt_of(&supervisor, "worker") == Some((ChildState::Active, 2))
    })
    .await;
    assert_eq!(supervisor.counters().abnormal_ends(), 1);
    let stopped = supervisor.shutdown().await.unwrap();
    let wedged = row(&stopped.rows, "worker#1");
    assert_eq!(wedged.status, "Failed");
    let reason = wedged.reason.as_deref().unwrap();
    assert!(reason.starts_with("no progress for "), "{reason}");
    assert!(
        reason.ends_with("; last progress: claimed job 1"),
        "{reason}"
    );
    assert_eq!(row(&stopped.rows, "worker#2").status, "Done");
}

#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_that_gives_up_is_an_abnormal_end_for_its_parent() {
    let _limit = crate::common::time_limit(LIMIT);
    let store = Store::default();
    let inner_store = Arc::clone(&store);
    let nested = ChildSpec::new("inner", move |job: fixpoint::task::Machine<Job, ()>, _| {
        let store = Arc::clone(&inner_store);
        async move {
            let job = job.to_running();
            let leaf = child("leaf", &Log::default(), |_| Plan::Fail);
            RestartSupervisor::builder()
                .intensity(1, Duration::from_secs(3600))
                .backoff(RestartBackoff::ZERO)
                .child(leaf)
                .start(store)
                .await?
                .wait()
                .await?;
            Ok::<_, RestartError>(job.to_done())
        }
    });
    let parent = RestartSupervisor::builder()
        .intensity(1, Duration::from_secs(3600))
        .backoff(RestartBackoff::ZERO)
        .child(nested)
        .start(Arc::clone(&store))
        .await
        .unwrap();
    let error = parent.wait().await.unwrap_err();
    let RestartError::GaveUp { child, reason, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(child, "inner");
    assert!(reason.contains("gave up: child `leaf`"), "{reason}");
    let rows = rows(&store).await;
    let ids: Vec<_> = rows.iter().map(|row| row.id.as_str()).collect();
    // The second inner supervisor read the first one's leaf rows back: its budget was spent,
    // so it gave up before starting a leaf again.
    assert_eq!(ids, ["inner#1", "inner#2", "leaf#1", "leaf#2"]);
    let inner = row(&rows, "inner#1").reason.as_deref().unwrap();
    assert!(
        inner.starts_with("the restart supervisor gave up"),
        "{inner}"
    );
}

/// A supervisor started on rows another one left reads them back: after a clean shutdown the
/// child starts afresh (its next attempt, not a restart); after a failure its start is a
/// restart, and one too many for a supervisor that allows none.
#[tokio::test(start_paused = true)]
async fn a_new_supervisor_tells_a_clean_stop_from_a_failure() {
    let _limit = crate::common::time_limit(LIMIT);
    let (store, log) = (Store::default(), Log::default());
    let strict = || {
        RestartSupervisor::builder()
            .intensity(0, Duration::from_secs(3600))
            .backoff(RestartBackoff::ZERO)
    };
    let first = strict()
        .child(child("w", &log, |_| Plan::Serve))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    until("w runs", || {
        attempt_of(&first, "w") == Some((ChildState::Active, 1))
    })
    .await;
    first.shutdown().await.unwrap();
    let second = strict()
        .child(child("w", &log, |n| {
            if n == 2 { Plan::Fail } else { Plan::Serve }
        }))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    let error = second.wait().await.unwrap_err();
    assert!(
        matches!(
            &error,
            RestartError::GaveUp {
                attempt: 2,
                restarts: 1,
                ..
            }
        ),
        "attempt #2 started afresh, failed, and its restart was refused: {error}"
    );
    let third = strict()
        .child(child("w", &log, |_| Plan::Serve))
        .start(Arc::clone(&store))
        .await
        .unwrap();
    let error = third.wait().await.unwrap_err();
    assert!(
        matches!(
            &error,
            RestartError::GaveUp {
                attempt: 2,
                restarts: 1,
                ..
            }
        ),
        "w#2 failed: starting it again is a restart, refused before any attempt: {error}"
    );
    let ids: Vec<_> = rows(&store).await.into_iter().map(|row| row.id).collect();
    assert_eq!(ids, ["w#1", "w#2"]);
}

/// A parent that stops a child running a nested supervisor aborts it after its shutdown
/// time: the nested supervisor is dropped with the attempt, and its own children's rows end.
#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_aborted_by_its_parent_ends_its_childrens_rows() {
    let _limit = crate::common::time_limit(LIMIT);
    let store = Store::default();
    let inner_store = Arc::clone(&store);
    let nested = ChildSpec::new("inner", move |job: fixpoint::task::Machine<Job, ()>, _| {
        let store = Arc::clone(&inner_store);
        async move {
            let job = job.to_running();
            let leaf = child("leaf", &Log::default(), |_| Plan::Serve);
            builder().child(leaf).start(store).await?.wait().await?;
            Ok::<_, RestartError>(job.to_done())
        }
    })
    .shutdown(Duration::ZERO);
    let parent = builder()
        .child(nested)
        .start(Arc::clone(&store))
        .await
        .unwrap();
    let running = |row: &Row| row.status == "Running";
    until_row(&store, "leaf#1", running).await;
    parent.shutdown().await.unwrap();
    let leaf = until_row(&store, "leaf#1", |row| row.finished_at.is_some()).await;
    assert_eq!(
        (leaf.status.as_str(), leaf.reason.as_deref()),
        ("Failed", Some("aborted")),
        "the leaf's row ends with the nested supervisor"
    );
    assert_eq!(
        row(&rows(&store).await, "inner#1").reason.as_deref(),
        Some("stopped by its restart supervisor: shutdown")
    );
}

const CRASH_CHILD: &str = "FIXPOINT_RESTART_CRASH_CHILD";
const CRASH_INTENSITY: u32 = 8;

fn crash_supervisor() -> fixpoint::restart::RestartBuilder<Job> {
    RestartSupervisor::builder()
        .intensity(CRASH_INTENSITY, Duration::from_secs(3600))
        .config(
            Config::new()
                .lease_ttl(Duration::from_millis(500))
                .heartbeat(Duration::from_millis(100)),
        )
        .child(child("storm", &Log::default(), |_| Plan::Fail))
}

/// The child process: a restart storm on the SQLite file, spaced by a backoff so that the
/// parent kills it mid-storm.
fn storm_until_killed(path: &str) -> ! {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        let store = SqliteStore::<Job>::open(path).unwrap();
        let backoff =
            RestartBackoff::exponential(Duration::from_millis(500), Duration::from_millis(500));
        let supervisor = crash_supervisor()
            .backoff(backoff)
            .start(store)
            .await
            .unwrap();
        supervisor.wait().await
    });
    panic!("the storm child was to be killed before it gave up: {result:?}");
}

/// A process in a restart storm is killed with SIGKILL; the next one on the same file
/// reconciles its orphaned attempt, numbers on, and gives up after the budget the first one
/// left, not a fresh one: the rows show `intensity + 1` attempts in all.
#[test]
fn a_crash_mid_storm_does_not_refill_the_restart_budget() {
    let _limit = crate::common::time_limit(LIMIT);
    if let Ok(path) = std::env::var(CRASH_CHILD) {
        storm_until_killed(&path);
    }
    let path =
        std::env::temp_dir().join(format!("fixpoint-restart-crash-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let name = &crate::common::test_name(
        module_path!(),
        "a_crash_mid_storm_does_not_refill_the_restart_budget",
    );
    let mut storm = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD, &path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let store = SqliteStore::<Job>::open(&path).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let before = loop {
        let attempts = runtime.block_on(store.rows()).unwrap_or_default().len();
        if attempts >= 3 {
            break attempts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the storm child made no attempts"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        storm.try_wait().unwrap().is_none(),
        "the storm child ended before it was killed"
    );
    storm.kill().unwrap(); // SIGKILL: no destructor, no flush
    storm.wait().unwrap();
    let killed_with = runtime.block_on(store.rows()).unwrap();
    assert!(
        killed_with.len() >= before && killed_with.len() <= CRASH_INTENSITY as usize,
        "killed with {} attempts made, budget {CRASH_INTENSITY}",
        killed_with.len()
    );
    // Its lease lapses 500 ms after its last renewal: only then are its rows orphans.
    std::thread::sleep(Duration::from_millis(700));
    let error = runtime.block_on(async {
        let supervisor = crash_supervisor()
            .backoff(RestartBackoff::ZERO)
            .start(SqliteStore::<Job>::open(&path).unwrap())
            .await
            .unwrap();
        supervisor.wait().await.unwrap_err()
    });
    assert!(
        matches!(&error, RestartError::GaveUp { restarts, .. } if *restarts == CRASH_INTENSITY + 1),
        "{error}"
    );
    let rows = runtime.block_on(store.rows()).unwrap();
    let mut ids: Vec<_> = rows.iter().map(|row| row.id.clone()).collect();
    ids.sort_by_key(|id| id.rsplit_once('#').unwrap().1.parse::<u32>().unwrap());
    let expected: Vec<_> = (1..=CRASH_INTENSITY + 1)
        .map(|n| format!("storm#{n}"))
        .collect();
    // A fresh budget would have made `CRASH_INTENSITY + 1` attempts after the orphan's.
    assert_eq!(
        ids,
        expected,
        "intensity + 1 attempts across both processes, numbered on from the {} the first made",
        killed_with.len()
    );
    assert!(
        rows.iter().all(|row| row.status == "Failed"),
        "every attempt ended, the orphan included: {rows:#?}"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

const LOOP_CHILD: &str = "FIXPOINT_RESTART_LOOP_CHILD";
const LOOP_INTENSITY: u32 = 3;
const LOOP_LEASE: Duration = Duration::from_secs(1);
const LOOP_HEARTBEAT: Duration = Duration::from_millis(200);

/// The child process of the crash loop: a restart supervisor whose one child serves until
/// stopped, on the SQLite file; says how it ended, if it ends before it is killed.
fn serve_until_killed(path: &str) -> ! {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        let supervisor = RestartSupervisor::builder()
            .intensity(LOOP_INTENSITY, Duration::from_secs(3600))
            .backoff(RestartBackoff::ZERO)
            .config(
                Config::new()
                    .lease_ttl(LOOP_LEASE)
                    .heartbeat(LOOP_HEARTBEAT),
            )
            .child(child("server", &Log::default(), |_| Plan::Serve))
            .start(SqliteStore::<Job>::open(path).unwrap())
            .await
            .unwrap();
        supervisor.wait().await
    });
    match result {
        Err(RestartError::GaveUp { restarts, .. }) => {
            println!("gave up after {restarts} restarts");
            std::process::exit(3);
        }
        other => panic!("the loop child ended otherwise: {other:?}"),
    }
}

/// A crash loop of processes killed faster than their lease: four processes are SIGKILLed
/// 200 ms after they start (1 s leases), and a fifth starts at once, before any of their
/// leases lapsed. No process starts after them, yet the fifth ends each orphaned attempt on
/// its heartbeat, counts it, and gives up within a lease and a heartbeat of the last kill
/// (with slack): the intensity caps the loop while the process runs, not when some later
/// process happens to start. Every attempt row is then terminal, five in all.
#[test]
fn a_crash_loop_faster_than_the_lease_is_capped_while_a_process_runs() {
    let _limit = crate::common::time_limit(LIMIT);
    if let Ok(path) = std::env::var(LOOP_CHILD) {
        serve_until_killed(&path);
    }
    let path =
        std::env::temp_dir().join(format!("fixpoint-restart-loop-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let name = &crate::common::test_name(
        module_path!(),
        "a_crash_loop_faster_than_the_lease_is_capped_while_a_process_runs",
    );
    let spawn = || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(LOOP_CHILD, &path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The store is created before the first child, so that no child races another to it.
    let store = SqliteStore::<Job>::open(&path).unwrap();
    let attempts = || runtime.block_on(store.rows()).unwrap_or_default().len();
    let mut last_kill = std::time::Instant::now();
    for killed in 1..=LOOP_INTENSITY as usize + 1 {
        let mut process = spawn();
        let started = std::time::Instant::now();
        while attempts() < killed {
            assert!(started.elapsed() < Duration::from_secs(30), "no attempt");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(200));
        process.kill().unwrap(); // SIGKILL: no destructor, no lease released
        process.wait().unwrap();
        last_kill = std::time::Instant::now();
    }
    let mut survivor = spawn();
    let limit = LOOP_LEASE + LOOP_HEARTBEAT + Duration::from_millis(1500);
    let status = loop {
        if let Some(status) = survivor.try_wait().unwrap() {
            break status;
        }
        if last_kill.elapsed() > Duration::from_secs(20) {
            survivor.kill().unwrap();
            panic!("the surviving process never gave up: the loop escaped its intensity");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let gave_up_after = last_kill.elapsed();
    let mut said = String::new();
    std::io::Read::read_to_string(&mut survivor.stdout.take().unwrap(), &mut said).unwrap();
    assert_eq!(status.code(), Some(3), "{said}");
    assert!(
        said.contains(&format!("gave up after {} restarts", LOOP_INTENSITY + 1)),
        "{said}"
    );
    assert!(
        gave_up_after <= limit,
        "gave up {gave_up_after:?} after the last kill, past lease + heartbeat + slack ({limit:?})"
    );
    let rows = runtime.block_on(store.rows()).unwrap();
    let mut ids: Vec<_> = rows.iter().map(|row| row.id.clone()).collect();
    ids.sort();
    let expected: Vec<_> = (1..=LOOP_INTENSITY + 2)
        .map(|n| format!("server#{n}"))
        .collect();
    assert_eq!(ids, expected, "one attempt per process, numbered on");
    for row in &rows {
        let orphan = row.id != format!("server#{}", LOOP_INTENSITY + 2);
        let ended = if orphan {
            row.status == "Failed"
        } else {
            // The survivor's own attempt, stopped as it gave up.
            let reason = row.reason.as_deref().unwrap_or_default();
            reason.starts_with("stopped by its restart supervisor: it gave up")
        };
        assert!(ended, "{row:?} in {rows:#?}");
        assert!(row.state::<Job>().unwrap().is_terminal(), "{row:?}");
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
