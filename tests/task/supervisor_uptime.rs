//! The supervisor over long uptime: tasks nobody joins are reaped with their status and
//! reason, `running()` is exact, unread outcomes are bounded, a supervisor that lost its rows
//! to another never writes them again, and a million spawn-and-forget tasks hold constant
//! memory.

use crate::common;

use common::{Flaky, XorShift, quiet_injected_panics};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fixpoint::{
    Lifecycle, Recorded, Terminal, Tracked,
    store::{MemoryStore, Retention, StatusStore},
    task::{Config, Outcome, Supervisor, TaskRecorder},
    terminal_state,
};
use tokio::sync::Notify;

/// Each test's own time limit (see `common::time_limit`): far past its slowest honest run.
const LIMIT: Duration = Duration::from_secs(120);

/// `common::project::ProjectStatus` with the state a fenced task tries to enter after its row
/// was adopted (`InputNeeded`): the shared lifecycle is the fleet example's, whose stored
/// tables must keep its four states.
#[terminal_state(resume)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectStatus {
    #[initial]
    #[to(Running, Failed)]
    Initialized,
    #[to(InputNeeded, Completed, Failed)]
    Running,
    #[to(Running, Failed)]
    InputNeeded,
    #[terminal]
    Completed,
    #[terminal]
    #[abandoned]
    Failed,
}

type Store = Arc<MemoryStore<ProjectStatus>>;
type Running =
    Tracked<ProjectStatus, project_status::Running, (), Recorded<TaskRecorder<ProjectStatus>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Return,
    Error,
    Panic,
    Abort,
}

impl Fault {
    fn pick(rng: &mut XorShift) -> Self {
        [Fault::Return, Fault::Error, Fault::Panic, Fault::Abort][rng.below(4) as usize]
    }

    /// The row a task with this fault must end as: status, reason.
    fn expected(self) -> (&'static str, Option<&'static str>) {
        match self {
            Fault::Return => ("Completed", None),
            Fault::Error => ("Failed", Some("injected error")),
            Fault::Panic => ("Failed", Some("panicked: injected panic")),
            Fault::Abort => ("Failed", Some("aborted")),
        }
    }
}

/// Spawns a task that ends as `fault` says; an `Abort` task waits until it is aborted.
async fn spawn_fault<S: StatusStore<ProjectStatus>>(
    supervisor: &mut Supervisor<ProjectStatus, S>,
    id: String,
    fault: Fault,
) {
    let handle = spawn_gated(supervisor, id, fault, Arc::new(Gate::open())).await;
    if fault == Fault::Abort {
        handle.abort();
    }
}

/// A gate the tasks of a test wait at before they move.
struct Gate(tokio::sync::watch::Sender<bool>);

impl Gate {
    fn closed() -> Self {
        Gate(tokio::sync::watch::Sender::new(false))
    }

    fn open() -> Self {
        Gate(tokio::sync::watch::Sender::new(true))
    }
}

/// Spawns a task that waits at `gate`, then ends as `fault` says (an `Abort` task waits until
/// it is aborted); returns once its row has committed.
async fn spawn_gated<S: StatusStore<ProjectStatus>>(
    supervisor: &mut Supervisor<ProjectStatus, S>,
    id: String,
    fault: Fault,
    gate: Arc<Gate>,
) -> fixpoint::task::TaskHandle {
    supervisor
        .spawn_committed(id, fault, |project| async move {
            let _ = gate.0.subscribe().wait_for(|open| *open).await;
            let running = project.to_running();
            match *running {
                Fault::Return => Ok(running.to_completed()),
                Fault::Error => Err("injected error"),
                Fault::Panic => panic!("injected panic"),
                Fault::Abort => std::future::pending().await,
            }
        })
        .await
        .unwrap()
}

/// Waits until `done` holds, failing after a minute: a readiness condition, not a guess.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A blocked task: what [`spawn_stuck`] hands back.
struct Stuck {
    /// Send to unblock it.
    release: std::sync::mpsc::Sender<()>,
    /// Gets a message once its body has finished.
    ended: std::sync::mpsc::Receiver<()>,
}

/// Spawns `stuck`, a task that blocks its worker thread in a synchronous call (no `.await`
/// reaches it) until released; returns once it is blocked.
async fn spawn_stuck<S: StatusStore<ProjectStatus>>(
    supervisor: &mut Supervisor<ProjectStatus, S>,
) -> Stuck {
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let (started, running) = std::sync::mpsc::channel::<()>();
    let (end, ended) = std::sync::mpsc::channel::<()>();
    supervisor
        .spawn("stuck", (), |project| async move {
            let running = project.to_running();
            started.send(()).unwrap();
            blocked.recv().unwrap();
            let done = running.to_completed();
            end.send(()).unwrap();
            done
        })
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || running.recv().unwrap())
        .await
        .unwrap();
    Stuck { release, ended }
}

fn config() -> Config {
    Config::new()
        .unread_outcomes(0)
        .retention(Retention::keep_all())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_nobody_joins_get_their_status_and_reason() {
    let _limit = crate::common::time_limit(LIMIT);
    quiet_injected_panics();
    let store = Store::default();
    let mut supervisor = Supervisor::start(store.clone(), config()).await.unwrap();
    let mut rng = XorShift(0x5eed);
    let mut faults = Vec::new();
    for task in 0..2_000 {
        let fault = Fault::pick(&mut rng);
        faults.push(fault);
        spawn_fault(&mut supervisor, format!("t{task:04}"), fault).await;
    }
    let counters = supervisor.counters();
    until("every task ended", || counters.running() == 0).await;
    supervisor.flush().await.unwrap();
    // Nobody called join_next, and nobody has to: each row has its status and its reason.
    let rows = store.rows().await.unwrap();
    assert_eq!(rows.len(), faults.len());
    for (row, fault) in rows.iter().zip(&faults) {
        assert_eq!(
            (row.status.as_str(), row.reason.as_deref()),
            fault.expected(),
            "{row:?} ({fault:?})"
        );
    }
    let returned = faults.iter().filter(|f| **f == Fault::Return).count() as u64;
    assert_eq!(counters.completed(), returned);
    assert_eq!(counters.abandoned(), faults.len() as u64 - returned);
    assert_eq!(
        counters.outcomes_dropped(),
        faults.len() as u64,
        "none kept"
    );
    assert!(supervisor.join_next().await.is_none(), "spawn and forget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_counts_exactly_the_live_tasks() {
    let _limit = crate::common::time_limit(LIMIT);
    let mut supervisor = Supervisor::start(Store::default(), config()).await.unwrap();
    let release = Arc::new(Notify::new());
    for task in 0..100 {
        let release = release.clone();
        supervisor
            .spawn(format!("t{task}"), (), |project| async move {
                release.notified().await;
                project.to_running().to_completed()
            })
            .await
            .unwrap();
    }
    assert_eq!(supervisor.counters().running(), 100);
    for released in 1..=100 {
        release.notify_one();
        let counters = supervisor.counters();
        until("the released task ended", || {
            counters.running() == 100 - released
        })
        .await;
        assert_eq!(counters.completed(), released);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn unread_outcomes_are_bounded_and_the_newest_are_kept() {
    let _limit = crate::common::time_limit(LIMIT);
    let config = config().unread_outcomes(10);
    let store = Store::default();
    let mut supervisor = Supervisor::start(store.clone(), config).await.unwrap();
    for task in 0..50 {
        supervisor
            .spawn(format!("t{task:02}"), (), |p| async move {
                p.to_running().to_completed()
            })
            .await
            .unwrap();
    }
    let counters = supervisor.counters();
    until("every task ended", || counters.running() == 0).await;
    assert_eq!(counters.outcomes_dropped(), 40);
    let mut read = Vec::new();
    while let Some(finished) = supervisor.join_next().await {
        assert!(matches!(finished.outcome, Outcome::Finished(_)));
        read.push(finished.id.to_string());
    }
    // On one thread the tasks run in spawn order: the last ten are the newest.
    let newest: Vec<_> = (40..50).map(|task| format!("t{task:02}")).collect();
    assert_eq!(read, newest);
    supervisor.flush().await.unwrap();
    assert_eq!(
        store.rows().await.unwrap().len(),
        50,
        "every row all the same"
    );
}

/// A supervisor whose heartbeat stalls loses its lease; another adopts its row and resumes
/// it. When the first one's task goes on to write, the store refuses it: that task is ended,
/// counted and reported, and the first supervisor never writes the row again.
/// A first supervisor whose heartbeat stalls, with one task `project` that records `Running`
/// and then waits for the returned `Notify`; a second supervisor that adopted the row after the
/// first one's lease lapsed and resumes it until the second `Notify`.
async fn adopted_while_paused<S, F>(
    store: &S,
    rest: impl FnOnce(Running) -> F + Send + 'static,
) -> (
    Supervisor<ProjectStatus, S>,
    Arc<Notify>,
    Supervisor<ProjectStatus, S>,
    Arc<Notify>,
)
where
    S: StatusStore<ProjectStatus> + Clone,
    F: Future<Output = Terminal<ProjectStatus, ()>> + Send + 'static,
{
    let stalled = config()
        .lease_ttl(Duration::from_millis(50))
        .heartbeat(Duration::from_secs(3600)) // the heartbeat that stalls
        .unread_outcomes(16);
    let mut first = Supervisor::start(store.clone(), stalled).await.unwrap();
    let paused = Arc::new(Notify::new());
    let resume_first = paused.clone();
    first
        .spawn("project", (), |project| async move {
            let running = project.to_running();
            paused.notified().await; // a long pause
            rest(running).await
        })
        .await
        .unwrap();
    first.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.orphans().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the first lease never lapsed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut second = Supervisor::start(store.clone(), config()).await.unwrap();
    let finish_second = Arc::new(Notify::new());
    let finish = finish_second.clone();
    let reconciled = second
        .reconcile(move |orphan| match orphan.machine {
            ProjectStatusResumed::Running(project) => {
                let finish = finish.clone();
                Some(async move {
                    finish.notified().await;
                    project.to_completed()
                })
            }
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(reconciled.resumed, ["project"]);
    (first, resume_first, second, finish_second)
}

/// The row as the second supervisor left it: completed by it, and by nobody else.
async fn finished_by_the_second<S: StatusStore<ProjectStatus> + Clone>(
    store: &S,
    first: &Supervisor<ProjectStatus, S>,
    second: Supervisor<ProjectStatus, S>,
    finish_second: &Notify,
) {
    first.flush().await.unwrap();
    let row = &store.rows().await.unwrap()[0];
    assert_eq!(
        (
            row.owner.as_str(),
            row.status.as_str(),
            row.reason.as_deref()
        ),
        (second.owner(), "Running", None),
        "the first supervisor changed nothing"
    );
    finish_second.notify_one();
    let report = second.shutdown(Duration::from_secs(10)).await.unwrap();
    let row = &report.rows[0];
    assert_eq!(
        (row.status.as_str(), row.reason.as_deref()),
        ("Completed", None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_that_lost_its_row_never_writes_it_again() {
    let _limit = crate::common::time_limit(LIMIT);
    let store = Store::default();
    let (mut first, resume_first, second, finish_second) =
        adopted_while_paused(&store, |running| async move {
            let waiting = running.to_input_needed(); // refused: the row is not ours now
            std::future::pending::<()>().await;
            waiting.to_running().to_completed()
        })
        .await;

    resume_first.notify_one();
    let lost = first.join_next().await.expect("the first task is ended");
    assert_eq!(lost.outcome, Outcome::Fenced);
    assert_eq!(first.counters().fenced(), 1);
    assert_eq!(first.counters().fenced_writes(), 1);
    assert_eq!(
        first.counters().abandoned(),
        0,
        "its abandonment is not written"
    );
    finished_by_the_second(&store, &first, second, &finish_second).await;
    drop(first);
}

/// A task that returned before its last write was refused (by a store that applies writes in
/// batches, after the task ended) keeps its outcome, and the refusal is counted all the same:
/// nothing a store refuses goes unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_last_write_of_a_finished_task_is_counted() {
    let _limit = crate::common::time_limit(LIMIT);
    let store = Arc::new(Flaky::new(MemoryStore::default()));
    let (mut first, resume_first, second, finish_second) =
        adopted_while_paused(&store, |running| async move { running.to_completed() }).await;

    resume_first.notify_one();
    let done = first.join_next().await.expect("the first task returned");
    assert!(
        matches!(done.outcome, Outcome::Finished(_)),
        "{:?}",
        done.outcome
    );
    first.flush().await.unwrap();
    assert_eq!(
        first.counters().fenced_writes(),
        1,
        "the refusal is counted"
    );
    assert_eq!(first.counters().fenced(), 0, "no running task was ended");
    finished_by_the_second(&store, &first, second, &finish_second).await;
    drop(first);
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A million spawn-and-forget tasks with random outcomes: resident memory after warm-up
/// stays within a bound that the old supervisor (540 bytes kept per finished task, about
/// 480 MB here) exceeds thirtyfold, and every task is accounted for. The bound allows for the
/// row map doubling when pruning lags on a loaded machine; it does not grow with the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_spawn_and_forget_tasks_hold_constant_memory() {
    let _limit = crate::common::time_limit(LIMIT);
    const TASKS: u64 = 1_000_000;
    const WARM_UP: u64 = 100_000;
    const KEPT_ROWS: u64 = 10_000;
    const BOUND_KIB: u64 = 16 * 1024;
    quiet_injected_panics();
    let store = Store::default();
    // 16,384 unread outcomes kept (the default), the rest dropped.
    let config = Config::new()
        .retention(Retention {
            max_age: None,
            max_rows: Some(KEPT_ROWS),
        })
        .prune_every(Duration::from_millis(20));
    let mut supervisor = Supervisor::start(store.clone(), config).await.unwrap();
    let mut rng = XorShift(0x0001_0000_0000);
    let mut returned = 0;
    let mut warm = 0;
    for task in 0..TASKS {
        let fault = Fault::pick(&mut rng);
        returned += u64::from(fault == Fault::Return);
        spawn_fault(&mut supervisor, task.to_string(), fault).await;
        if task % 1_000 == 999 {
            // A server's admission control: never more than a few thousand in flight.
            let counters = supervisor.counters();
            until("the backlog drained", || counters.running() < 2_000).await;
        }
        if (task + 1) % 100_000 == 0 {
            println!("{} tasks: {} KiB", task + 1, resident_kib());
        }
        if task + 1 == WARM_UP {
            warm = resident_kib();
        }
    }
    let counters = supervisor.counters();
    until("every task ended", || counters.running() == 0).await;
    supervisor.flush().await.unwrap();
    until("retention caught up", || {
        counters.pruned() == TASKS - KEPT_ROWS
    })
    .await;
    let end = resident_kib();
    println!("resident: {warm} KiB after warm-up, {end} KiB after {TASKS} tasks");
    assert!(
        end <= warm + BOUND_KIB,
        "resident memory grew from {warm} KiB to {end} KiB"
    );
    assert_eq!(counters.completed(), returned);
    assert_eq!(counters.abandoned(), TASKS - returned);
    assert_eq!(counters.store_errors(), 0);
    let rows = store.rows().await.unwrap();
    assert_eq!(rows.len() as u64, KEPT_ROWS, "retention pruned the rest");
    assert!(rows.iter().all(|row| {
        matches!(
            (row.status.as_str(), row.reason.as_deref()),
            ("Completed", None)
                | (
                    "Failed",
                    Some("injected error" | "panicked: injected panic" | "aborted")
                )
        )
    }));
}

/// While the store fails every batch, the writes of running tasks wait in order and `flush`
/// says why; once it recovers, every row ends with its status and reason: nothing lost,
/// nothing half-written. (Inserts the store fails are refused at once: see
/// `an_insert_the_store_fails_is_refused_and_the_body_never_runs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_loses_nothing_and_flush_says_why() {
    let _limit = crate::common::time_limit(LIMIT);
    a_failing_store_loses_nothing(Flaky::new(MemoryStore::new())).await;
}

/// The same for a store that applies writes at once: the first write it fails goes to the
/// writer, and so does every later one, in order; the writer retries them as above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_applying_at_once_hands_its_failures_to_the_writer() {
    let _limit = crate::common::time_limit(LIMIT);
    a_failing_store_loses_nothing(Flaky::at_once(MemoryStore::new())).await;
}

async fn a_failing_store_loses_nothing(store: Flaky<MemoryStore<ProjectStatus>>) {
    quiet_injected_panics();
    let store = Arc::new(store);
    let mut supervisor = Supervisor::start(store.clone(), config()).await.unwrap();
    let mut rng = XorShift(0xd15c);
    let mut faults = Vec::new();
    let mut aborted = Vec::new();
    // The rows are in; the store fails before any task moves.
    let gate = Arc::new(Gate::closed());
    for task in 0..500 {
        let fault = Fault::pick(&mut rng);
        faults.push(fault);
        let id = format!("t{task:03}");
        let handle = spawn_gated(&mut supervisor, id, fault, Arc::clone(&gate)).await;
        if fault == Fault::Abort {
            aborted.push(handle);
        }
    }
    store.fail(true);
    gate.0.send_replace(true);
    aborted.iter().for_each(fixpoint::task::TaskHandle::abort);
    let counters = supervisor.counters();
    until("every task ended", || counters.running() == 0).await;
    let error = supervisor.flush().await.unwrap_err();
    assert_eq!(error.to_string(), "status store: database or disk is full");
    let rows = store.rows().await.unwrap();
    assert!(
        rows.iter().all(|row| row.status == "Initialized"),
        "no write applied while the store fails"
    );
    assert!(counters.store_errors() >= 1);

    store.fail(false);
    supervisor.flush().await.unwrap();
    for (row, fault) in store.rows().await.unwrap().iter().zip(&faults) {
        assert_eq!(
            (row.status.as_str(), row.reason.as_deref()),
            fault.expected(),
            "{row:?} ({fault:?})"
        );
    }
    assert!(store.refused_batches() >= 1);
}

/// A task blocked in a synchronous call (no `.await` reaches it) cannot be stopped; the
/// shutdown's grace is kept from outside it all the same: the report comes back without the
/// task, its row is ended with a reason that says it did not yield, and it is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_blocked_in_a_synchronous_call_does_not_hold_the_shutdown() {
    let _limit = crate::common::time_limit(LIMIT);
    let store = Arc::new(common::Logged::new(MemoryStore::<ProjectStatus>::new()));
    let mut supervisor = Supervisor::start(store.clone(), config()).await.unwrap();
    let Stuck { release, ended } = spawn_stuck(&mut supervisor).await;
    supervisor
        .spawn("idle", (), |project| async move {
            let running = project.to_running();
            std::future::pending::<()>().await;
            running.to_completed()
        })
        .await
        .unwrap();

    // If the shutdown waited for the blocked task it would never return: the task is only
    // released after it has.
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        supervisor.shutdown(Duration::from_millis(50)),
    )
    .await
    .expect("the shutdown returned while the task was still blocked")
    .unwrap();
    assert_eq!(report.unresponsive, ["stuck"]);
    let rows: Vec<_> = report
        .rows
        .iter()
        .map(|row| (row.id.as_str(), row.status.as_str(), row.reason.as_deref()))
        .collect();
    assert_eq!(rows[0], ("idle", "Failed", Some("aborted")));
    assert_eq!((rows[1].0, rows[1].1), ("stuck", "Failed"));
    assert!(
        rows[1]
            .2
            .unwrap()
            .starts_with("aborted: did not yield within the shutdown grace of 50ms"),
        "{:?}",
        rows[1].2
    );

    // Released, the task finishes its body; nothing it records is even offered to the store
    // (the row, being terminal, would refuse it: the rows alone could not tell).
    let written = store.writes_to("stuck");
    assert!(
        written.last().is_some_and(|last| last
            .starts_with("reason: aborted: did not yield within the shutdown grace of 50ms")),
        "{written:?}"
    );
    release.send(()).unwrap();
    tokio::task::spawn_blocking(move || ended.recv().unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await; // what a queued write would take
    assert_eq!(
        store.writes_to("stuck"),
        written,
        "a write after the shutdown"
    );
    let row = store.rows().await.unwrap().remove(1);
    assert_eq!((row.id.as_str(), row.status.as_str()), ("stuck", "Failed"));
}

/// Tasks that stop when aborted are not unresponsive, even when stopping takes a while: the
/// shutdown waits, past its grace, for the aborts to land before it names anyone. Here a blocked
/// task holds the shutdown past its grace, and five idle ones take 2 ms each to drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_that_stop_when_aborted_are_never_named_unresponsive() {
    let _limit = crate::common::time_limit(LIMIT);
    /// Drops slowly, as a future holding a connection it closes on drop would.
    struct SlowDrop;
    impl Drop for SlowDrop {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let store = Store::default();
    let mut supervisor = Supervisor::start(store.clone(), config()).await.unwrap();
    let stuck = spawn_stuck(&mut supervisor).await;
    for id in ["a", "b", "c", "d", "e"] {
        supervisor
            .spawn(id, (), |project| async move {
                let running = project.to_running();
                let _slow = SlowDrop;
                std::future::pending::<()>().await;
                running.to_completed()
            })
            .await
            .unwrap();
    }
    let report = supervisor
        .shutdown(Duration::from_millis(20))
        .await
        .unwrap();
    stuck.release.send(()).unwrap();
    tokio::task::spawn_blocking(move || stuck.ended.recv().unwrap())
        .await
        .unwrap();
    assert_eq!(report.unresponsive, ["stuck"]);
    let aborted = report
        .rows
        .iter()
        .filter(|row| row.status == "Failed" && row.reason.as_deref() == Some("aborted"))
        .count();
    assert_eq!(aborted, 5, "{:?}", report.rows);
}

/// `TaskHandle::abort` ends the row at once, even while the task is blocked where no abort
/// reaches it; a task that already finished keeps its row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_ends_the_row_of_a_blocked_task_at_once() {
    let _limit = crate::common::time_limit(LIMIT);
    let store = Arc::new(common::Logged::new(MemoryStore::<ProjectStatus>::new()));
    let keep = config().unread_outcomes(16);
    let mut supervisor = Supervisor::start(store.clone(), keep).await.unwrap();
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let (started, running) = std::sync::mpsc::channel::<()>();
    let stuck = supervisor
        .spawn("stuck", (), |project| async move {
            let running = project.to_running();
            started.send(()).unwrap();
            blocked.recv().unwrap();
            running.to_completed()
        })
        .await
        .unwrap();
    let done = supervisor
        .spawn("done", (), |project| async move {
            project.to_running().to_completed()
        })
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || running.recv().unwrap())
        .await
        .unwrap();
    let counters = supervisor.counters();
    until("the quick task ended", || counters.running() == 1).await;

    let done_wrote = store.writes_to("done");
    assert_eq!(
        done_wrote.last().map(String::as_str),
        Some("Running -> Completed")
    );
    stuck.abort();
    done.abort(); // finished already: nothing to end
    supervisor.flush().await.unwrap();
    assert_eq!(
        store.writes_to("done"),
        done_wrote,
        "an abort wrote to a finished row"
    );
    let stuck_wrote = store.writes_to("stuck");
    let rows = store.rows().await.unwrap();
    let seen: Vec<_> = rows
        .iter()
        .map(|row| (row.id.as_str(), row.status.as_str(), row.reason.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("done", "Completed", None),
            ("stuck", "Failed", Some("aborted"))
        ],
        "ended while its thread is still blocked"
    );

    release.send(()).unwrap();
    let finished = supervisor.join_next().await.unwrap();
    assert_eq!(
        (&*finished.id, &finished.outcome),
        (
            "done",
            &Outcome::Finished(ProjectStatus::parse_state("Completed").unwrap())
        )
    );
    let stopped = supervisor.join_next().await.unwrap();
    assert_eq!(
        (&*stopped.id, &stopped.outcome),
        ("stuck", &Outcome::Aborted)
    );
    supervisor.flush().await.unwrap();
    assert_eq!(
        store.writes_to("stuck"),
        stuck_wrote,
        "what the released task recorded was offered to the store"
    );
    let row = store.rows().await.unwrap().remove(1);
    assert_eq!(
        (row.status.as_str(), row.reason.as_deref()),
        ("Failed", Some("aborted")),
        "what the released task recorded was dropped"
    );
}
