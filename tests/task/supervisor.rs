//! The supervisor under injected faults: ten thousand tasks end in exactly the terminal status
//! their fault implies, in memory and in SQLite; a process killed with SIGKILL leaves orphans
//! that a new process reconciles to zero; and bad input to the stores is a clear error.
#![cfg(feature = "sqlite")]

use crate::common;

use common::{Flaky, XorShift, quiet_injected_panics};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use fixpoint::{
    Lifecycle,
    store::{MemoryStore, Row, SqliteStore, StatusStore, StoreError},
    task::{Config, Outcome, Supervisor},
};

use crate::common::project;
use project::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Return,
    Error,
    Panic,
    Abort,
    Shutdown,
}

impl Fault {
    /// The row a task with this fault must end as: status, reason.
    fn expected(self) -> (&'static str, Option<&'static str>) {
        match self {
            Fault::Return => ("Completed", None),
            Fault::Error => ("Failed", Some("injected error")),
            Fault::Panic => ("Failed", Some("panicked: injected panic")),
            Fault::Abort | Fault::Shutdown => ("Failed", Some("aborted")),
        }
    }
}

async fn ten_thousand_faults<S: StatusStore<ProjectStatus>>(store: S) {
    const TASKS: usize = 10_000;
    quiet_injected_panics();
    let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
    let mut rng = XorShift(0xfa_0175);
    let mut injected = BTreeMap::new();
    let mut to_abort = Vec::new();
    for task in 0..TASKS {
        let fault = [
            Fault::Return,
            Fault::Error,
            Fault::Panic,
            Fault::Abort,
            Fault::Shutdown,
        ][rng.below(5) as usize];
        let id = format!("task-{task:05}");
        injected.insert(id.clone(), fault);
        let handle = supervisor
            .spawn(id, fault, |project| async move {
                let running = project.to_running();
                tokio::task::yield_now().await;
                match *running {
                    Fault::Return => Ok(running.to_completed()),
                    Fault::Error => Err("injected error"),
                    Fault::Panic => panic!("injected panic"),
                    Fault::Abort | Fault::Shutdown => std::future::pending().await,
                }
            })
            .await
            .unwrap();
        if fault == Fault::Abort {
            to_abort.push(handle);
        }
    }
    for handle in to_abort {
        handle.abort();
    }
    // Ready once only the tasks waiting for the shutdown are left: no grace to guess.
    let waiting = injected.values().filter(|f| **f == Fault::Shutdown).count() as u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while supervisor.counters().running() != waiting {
        assert!(std::time::Instant::now() < deadline, "tasks never ended");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let report = supervisor
        .shutdown(Duration::from_millis(10))
        .await
        .unwrap();

    assert_eq!(
        report.finished.len(),
        TASKS,
        "every child's outcome is observed"
    );
    for finished in &report.finished {
        let fault = injected[&*finished.id];
        let matches = match (&finished.outcome, fault) {
            (Outcome::Finished(state), Fault::Return) => state.name() == "Completed",
            (Outcome::Failed(error), Fault::Error) => error == "injected error",
            (Outcome::Panicked(message), Fault::Panic) => message == "injected panic",
            (Outcome::Aborted, Fault::Abort | Fault::Shutdown) => true,
            _ => false,
        };
        assert!(
            matches,
            "{} ({fault:?}) ended as {:?}",
            finished.id, finished.outcome
        );
    }
    assert_eq!(report.rows.len(), TASKS);
    let mut seen = BTreeMap::new();
    for row in &report.rows {
        let fault = injected[&row.id];
        let (status, reason) = fault.expected();
        assert_eq!(
            (row.status.as_str(), row.reason.as_deref()),
            (status, reason),
            "{row:?} ({fault:?})"
        );
        *seen.entry(fault).or_insert(0) += 1;
    }
    assert!(
        seen.values().all(|&n| n > 1_500),
        "every fault was exercised: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_faults_end_terminal_in_memory() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    ten_thousand_faults(MemoryStore::new()).await;
}

fn scratch_file(name: &str) -> PathBuf {
    crate::common::scratch_db(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_faults_end_terminal_in_sqlite() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = scratch_file("faults");
    ten_thousand_faults(SqliteStore::open(&path).unwrap()).await;
}

/// The `fleet` example, built now.
fn fleet_example() -> PathBuf {
    common::example::example("fleet")
}

/// The example's arguments are read strictly: a `--postgres` without its URL (an empty
/// variable), an unknown option or a `work` missing its counts is an error with exit code 2,
/// and nothing is written where it runs; a worker process that fails makes the example fail.
#[test]
fn the_fleet_example_refuses_what_it_does_not_understand_and_fails_with_its_worker() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let here = std::env::temp_dir().join(format!("fixpoint-fleet-args-{}", std::process::id()));
    std::fs::create_dir_all(&here).unwrap();
    let run = |args: &[&str]| {
        Command::new(fleet_example())
            .args(args)
            .current_dir(&here)
            .output()
            .unwrap()
    };
    for (args, says) in [
        (&["--postgres"][..], "--postgres needs a connection URL"),
        (&["--postgres", ""][..], "--postgres needs a connection URL"),
        (
            &["--postgres", "--x"][..],
            "--postgres needs a connection URL",
        ),
        (&["--bogus"][..], "unknown option \"--bogus\""),
        (&["a.db", "extra"][..], "unexpected arguments [\"extra\"]"),
        (&["work", "a.db"][..], "`work` takes TASKS and LEASE_MS"),
        (
            &["work", "a.db", "many", "300"][..],
            "TASKS must be a number",
        ),
    ] {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stderr.contains("usage: fleet"), "{args:?}: {stderr}");
    }
    let left: Vec<_> = std::fs::read_dir(&here).unwrap().collect();
    assert!(left.is_empty(), "files left where it ran: {left:?}");

    // A worker that cannot open its file fails before it is ready: so does the example.
    let output = run(&["/nonexistent-directory/fleet.db"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the worker process failed before it was ready"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&here).unwrap();
}

/// A child process runs supervised tasks against a SQLite file and is killed with SIGKILL
/// mid-flight; a new supervisor reconciles: zero non-terminal rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_flight_is_reconciled_to_zero_non_terminal_rows() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = scratch_file("crash");
    // A lease far longer than the test: while it lasts the rows are the dead process's, on
    // any machine however loaded. Its running out is then simulated below.
    let lease = Duration::from_secs(600);
    let mut child = Command::new(fleet_example())
        .args([
            "work",
            &path.display().to_string(),
            "200",
            &lease.as_millis().to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the fleet example runs");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let dead_owner = ready
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("{ready:?}"))
        .trim()
        .to_owned();
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no lease release
    child.wait().unwrap();

    let store = SqliteStore::<ProjectStatus>::open(&path).unwrap();
    let before = store.rows().await.unwrap();
    let unfinished = |rows: &[Row]| {
        rows.iter()
            .filter(|row| !row.state::<ProjectStatus>().unwrap().is_terminal())
            .count()
    };
    assert_eq!(before.len(), 200);
    assert_eq!(
        unfinished(&before),
        100,
        "the kill left running and initialized rows"
    );

    // While the dead process's lease lasts, its rows are not this process's to reconcile.
    let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
    let early = supervisor
        .reconcile(|_| None::<std::future::Ready<fixpoint::Terminal<ProjectStatus, String>>>)
        .await
        .unwrap();
    assert!(
        early.resumed.is_empty() && early.abandoned.is_empty(),
        "{early:?}"
    );

    // The dead process's lease runs out (as its clock would have it ten minutes later).
    let clock = rusqlite::Connection::open(&path).unwrap();
    let expired = clock
        .execute(
            "UPDATE fixpoint_leases SET expires_at = 0 WHERE owner = ?1",
            [&dead_owner],
        )
        .unwrap();
    assert_eq!(expired, 1, "the dead process held a lease");
    let reconciled = supervisor
        .reconcile(|orphan| match orphan.machine {
            ProjectStatusResumed::Running(project) => Some(async move { project.to_completed() }),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(
        (reconciled.resumed.len(), reconciled.abandoned.len()),
        (50, 50)
    );
    assert_eq!(supervisor.counters().reconciled(), 100);
    let report = supervisor.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(unfinished(&report.rows), 0);
    let resumed = report
        .rows
        .iter()
        .filter(|r| reconciled.resumed.contains(&r.id));
    assert!(resumed.clone().all(|r| r.status == "Completed"));
    assert_eq!(resumed.count(), 50);
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_loses_no_row() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = scratch_file("bad-input");
    let store = SqliteStore::<ProjectStatus>::open(&path).unwrap();
    let state = |name| ProjectStatus::parse_state(name).unwrap();
    store.insert("p1", "me").await.unwrap();

    // An id in use, running or finished, is never overwritten.
    assert_eq!(
        store.insert("p1", "me").await,
        Err(StoreError::IdTaken {
            id: "p1".into(),
            status: "Initialized".into()
        })
    );
    // Undeclared edges, and moves from a state the row is not in, are refused.
    let illegal = store
        .transition("p1", "me", state("Initialized"), state("Completed"))
        .await
        .unwrap_err();
    assert_eq!(
        illegal.to_string(),
        "illegal transition `Initialized -> Completed` in lifecycle `ProjectStatus`: `Initialized` may go to `Running`, `Failed`"
    );
    assert_eq!(
        store
            .transition("p1", "me", state("Running"), state("Completed"))
            .await,
        Err(StoreError::Conflict {
            id: "p1".into(),
            expected: "Running",
            found: "Initialized".into()
        })
    );
    store
        .transition("p1", "me", state("Initialized"), state("Running"))
        .await
        .unwrap();
    store
        .transition("p1", "me", state("Running"), state("Completed"))
        .await
        .unwrap();
    assert!(
        store
            .transition("p1", "me", state("Completed"), state("Failed"))
            .await
            .is_err(),
        "nothing leaves a terminal state"
    );

    // No other program can write a status the lifecycle does not declare.
    let other = rusqlite::Connection::open(&path).unwrap();
    let refused = other.execute(
        "UPDATE project_status_status SET status = 'Paused' WHERE id = 'p1'",
        [],
    );
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("lifecycle `ProjectStatus` refuses `Completed -> Paused`")
    );

    // A row in a state the lifecycle does not declare (written under an older schema
    // without the CHECK): opening refuses to migrate, with the rows per state, untouched.
    let legacy = scratch_file("legacy");
    let old = rusqlite::Connection::open(&legacy).unwrap();
    old.execute_batch(
        "CREATE TABLE project_status_status (id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, updated_at INTEGER NOT NULL);
         INSERT INTO project_status_status VALUES ('p9', 'gone', 'Paused', NULL, 0);",
    )
    .unwrap();
    assert_eq!(
        SqliteStore::<ProjectStatus>::open(&legacy).unwrap_err(),
        StoreError::StatesRemoved {
            table: "project_status_status".into(),
            rows: vec![("Paused".into(), 1)],
        }
    );
    let untouched: (String, String) = old
        .query_row(
            "SELECT status, owner FROM project_status_status WHERE id = 'p9'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(untouched, ("Paused".to_owned(), "gone".to_owned()));

    // A second spawn under a running task's id is refused, and the first task is untouched.
    let mut tasks = Supervisor::start(MemoryStore::<ProjectStatus>::new(), Config::default())
        .await
        .unwrap();
    tasks
        .spawn("same", (), |p| async move {
            std::future::pending::<()>().await;
            p.to_failed()
        })
        .await
        .unwrap();
    let taken = tasks
        .spawn("same", (), |p| async move { p.to_failed() })
        .await
        .unwrap_err();
    assert_eq!(
        taken.to_string(),
        "task id `same` is taken (its row is `Initialized`); ids are not reused, so no row is lost"
    );
    let report = tasks.shutdown(Duration::from_millis(10)).await.unwrap();
    assert_eq!(report.rows.len(), 1);
    assert_eq!(report.rows[0].status, "Failed");
}

/// The tokio runtime shuts down underneath a supervisor with tasks in flight: nothing gets to
/// run, so rows stay non-terminal; the next start's `reconcile` (once the lease has expired)
/// leaves none.
#[test]
fn rows_left_by_a_runtime_shut_down_underneath_are_reconciled() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let store = std::sync::Arc::new(Flaky::new(MemoryStore::<ProjectStatus>::new()));
    let lease = Duration::from_millis(200);
    let config = Config::new()
        .lease_ttl(lease)
        .heartbeat(Duration::from_millis(50));
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    first.block_on(async {
        let mut supervisor = Supervisor::start(store.clone(), config).await.unwrap();
        for task in 0..100 {
            supervisor
                .spawn(format!("t{task:03}"), (), |project| async move {
                    let running = project.to_running();
                    std::future::pending::<()>().await;
                    running.to_completed()
                })
                .await
                .unwrap();
        }
        // Ready once every task has started: all rows `Running`, in the store.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            supervisor.flush().await.unwrap();
            let rows = store.rows().await.unwrap();
            if rows.iter().all(|row| row.status == "Running") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "tasks never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // From here its disk hangs for good: nothing it queues reaches the store.
        store.fail_owner(supervisor.owner());
        std::mem::forget(supervisor); // the process goes on; the runtime does not
    });
    drop(first); // shut down with tasks in flight

    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        let rows = store.rows().await.unwrap();
        assert!(rows.iter().all(|row| row.status == "Running"), "{rows:?}");
        // Ready once the dead runtime's lease has run out: its rows are orphans.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while store.orphans().await.unwrap().len() < 100 {
            assert!(
                std::time::Instant::now() < deadline,
                "the lease never ran out"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut supervisor = Supervisor::start(store.clone(), Config::default())
            .await
            .unwrap();
        let reconciled = supervisor
            .reconcile(|_| None::<std::future::Ready<fixpoint::Terminal<ProjectStatus, String>>>)
            .await
            .unwrap();
        assert_eq!(reconciled.abandoned.len(), 100, "{reconciled:?}");
        let report = supervisor.shutdown(Duration::from_secs(1)).await.unwrap();
        assert_eq!(report.rows.len(), 100);
        assert!(report.rows.iter().all(|row| {
            row.status == "Failed"
                && row.reason.as_deref()
                    == Some("orphaned by a stopped supervisor; abandoned at reconcile")
        }));
    });
}
