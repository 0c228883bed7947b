//! The SQLite store under a kill and a full disk: once `flush` has returned, a SIGKILL loses
//! none of it; a full database is an error the supervisor reports and survives, with no row
//! half-written, and the queued writes land once there is room again.
#![cfg(feature = "sqlite")]

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::quiet_injected_panics;
use fixpoint::{
    Lifecycle,
    store::{MAX_REASON_BYTES, Row, RowWrite, SqliteStore, StatusStore, StoreError, Transition},
    task::{Config, Outcome, SpawnError, Supervisor},
    terminal_state,
};
use tokio::sync::watch;
use tokio::time::timeout;

use crate::common::project;
use project::*;

fn scratch_file(name: &str) -> PathBuf {
    crate::common::scratch_db(name)
}

fn state(name: &str) -> fixpoint::State<ProjectStatus> {
    ProjectStatus::parse_state(name).unwrap()
}

/// The row a task must end as, given how it ended: status and reason.
fn expected_row(outcome: &Outcome<ProjectStatus>) -> (String, Option<String>) {
    match outcome {
        Outcome::Finished(status) => (status.name().to_owned(), None),
        Outcome::Failed(error) => ("Failed".to_owned(), Some(error.clone())),
        Outcome::Panicked(message) => ("Failed".to_owned(), Some(format!("panicked: {message}"))),
        other => panic!("no task of this test ends as {other:?}"),
    }
}

/// Set in the child process: `<round> <database path>`.
const CHILD: &str = "FIXPOINT_SQLITE_STORE_CHILD";
/// Tasks each child finishes and flushes before it reports.
const FLUSHED: usize = 3_000;
/// Children killed, each at a later point of its work after the flush.
const ROUNDS: usize = 4;

fn task_id(round: usize, n: usize) -> String {
    format!("r{round}-{n:05}")
}

/// The row task `n` of a child must end as: status, reason.
fn planned_row(n: usize) -> (String, Option<String>) {
    match n % 3 {
        0 => ("Completed".to_owned(), None),
        1 => ("Failed".to_owned(), Some(format!("injected error {n}"))),
        _ => (
            "Failed".to_owned(),
            Some("panicked: injected panic".to_owned()),
        ),
    }
}

/// The child: runs `FLUSHED` tasks to their planned end all at once (so that their writes
/// pile up), checks each outcome against the plan, flushes, reports `flushed <round> <n>`
/// (tasks `0..n` of the round are in the file as planned), and goes on spawning tasks until
/// it is killed.
fn child(spec: &str) -> ! {
    let (round, path) = spec.split_once(' ').expect("`<round> <path>`");
    let round: usize = round.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        quiet_injected_panics();
        let store = SqliteStore::<ProjectStatus>::open(path).unwrap();
        let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
        let (open, gate) = watch::channel(false);
        for n in 0..FLUSHED {
            let mut gate = gate.clone();
            supervisor
                .spawn(task_id(round, n), n, |project| async move {
                    let running = project.to_running();
                    let _ = gate.wait_for(|open| *open).await;
                    match *running % 3 {
                        0 => Ok(running.to_completed()),
                        1 => Err(format!("injected error {}", *running)),
                        _ => panic!("injected panic"),
                    }
                })
                .await
                .unwrap();
        }
        open.send(true).unwrap();
        for _ in 0..FLUSHED {
            let finished = supervisor.join_next().await.unwrap();
            let n = finished.id.rsplit_once('-').unwrap().1.parse().unwrap();
            assert_eq!(
                expected_row(&finished.outcome),
                planned_row(n),
                "{}",
                finished.id
            );
        }
        supervisor.flush().await.unwrap();
        println!("flushed {round} {FLUSHED}");
        for n in FLUSHED.. {
            supervisor
                .spawn(task_id(round, n), n, |project| async move {
                    let running = project.to_running();
                    tokio::task::yield_now().await;
                    if *running % 2 == 0 {
                        std::future::pending::<()>().await;
                    }
                    running.to_completed()
                })
                .await
                .unwrap();
            if n % 500 == 0 {
                println!("busy {n}");
            }
        }
        unreachable!("the child works until it is killed")
    });
    unreachable!("the child works until it is killed")
}

/// Kills the child on the way out, whatever happens to the test.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the child's output up to its `flushed <round> <n>`, and returns `n`.
fn flushed(lines: &mut Lines<BufReader<ChildStdout>>, round: usize) -> usize {
    for line in lines.by_ref() {
        let line = line.unwrap();
        // It may share its line with the test harness's `test <name> ... `.
        if let Some((_, report)) = line.split_once("flushed ") {
            let (reported, count) = report.split_once(' ').unwrap();
            assert_eq!(reported.parse::<usize>().unwrap(), round);
            return count.parse().unwrap();
        }
    }
    panic!("the child ended before it flushed");
}

/// Runs a child on `path` for `round` and SIGKILLs it `busy_reports` progress lines after its
/// flush; returns the rows it reported flushed, by id.
fn run_and_kill(path: &Path, round: usize, busy_reports: usize) -> BTreeMap<String, Row> {
    let name = &crate::common::test_name(module_path!(), "a_sigkill_after_flush_loses_nothing");
    let mut child = Killed(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(CHILD, format!("{round} {}", path.display()))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let count = flushed(&mut lines, round);
    let mut busy = 0;
    while busy < busy_reports {
        let line = lines.next().expect("the child is still working").unwrap();
        busy += usize::from(line.starts_with("busy "));
    }
    child.0.kill().unwrap(); // SIGKILL: no destructor, no flush, no checkpoint
    child.0.wait().unwrap();
    (0..count)
        .map(|n| {
            let (status, reason) = planned_row(n);
            let id = task_id(round, n);
            let row = Row {
                id: id.clone(),
                owner: String::new(),
                status,
                reason,
                finished_at: None,
            };
            (id, row)
        })
        .collect()
}

/// A child process flushes thousands of finished tasks to a SQLite file, keeps working, and
/// is killed with SIGKILL; every row it reported flushed is in the file, terminal, with its
/// reason. Each round kills later into the work after the flush.
#[test]
fn a_sigkill_after_flush_loses_nothing() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    if let Ok(spec) = std::env::var(CHILD) {
        child(&spec);
    }
    let path = scratch_file("sigkill");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut expected = BTreeMap::new();
    for round in 0..ROUNDS {
        expected.append(&mut run_and_kill(&path, round, round));
        let store = SqliteStore::<ProjectStatus>::open(&path).unwrap();
        let rows: BTreeMap<String, Row> = runtime
            .block_on(store.rows())
            .unwrap()
            .into_iter()
            .map(|row| (row.id.clone(), row))
            .collect();
        for (id, want) in &expected {
            let found = rows
                .get(id)
                .unwrap_or_else(|| panic!("round {round}: `{id}` is lost"));
            assert_eq!(
                (&found.status, &found.reason),
                (&want.status, &want.reason),
                "round {round}: `{id}`"
            );
        }
    }
    assert_eq!(expected.len(), ROUNDS * FLUSHED);
}

const FULL: &str = "database or disk is full";
/// Pages the full-disk test's file may use: the schema, and a few hundred rows.
const PAGES: u32 = 24;
/// Rows beside the probe whose reasons, together, need more pages than the file has.
const FILLERS: usize = 8;
/// How long any request of the full-disk test may take before the test calls it a hang.
const PATIENCE: Duration = Duration::from_secs(20);

fn full_disk_error(error: &StoreError) -> bool {
    matches!(error, StoreError::Backend(text) if text.contains(FULL))
}

/// The reason a failing task of the full-disk test gives: long, so that the reasons alone
/// need more pages than the file has.
fn long_reason(n: usize) -> String {
    format!(
        "injected error {n}: {}",
        "the workspace could not be prepared; ".repeat(6)
    )
}

/// A row of the full-disk test is never half-written: it is at some point of its task's own
/// sequence of writes.
fn is_a_prefix(row: &Row, n: usize) -> bool {
    let (status, reason) = (row.status.as_str(), row.reason.as_deref());
    match (status, reason) {
        ("Initialized" | "Running", None) => true,
        ("Completed", None) => n.is_multiple_of(2),
        ("Failed", None) => !n.is_multiple_of(2),
        ("Failed", Some(reason)) => !n.is_multiple_of(2) && reason == long_reason(n),
        _ => false,
    }
}

/// A batch that does not fit leaves nothing behind, though its first write alone fits; and a
/// read queued in the same transaction as the failing batch still answers.
async fn a_batch_is_all_or_nothing(store: &SqliteStore<ProjectStatus>) {
    store.insert("probe", "tester").await.unwrap();
    for filler in 0..FILLERS {
        store
            .insert(&format!("probe-{filler}"), "tester")
            .await
            .unwrap();
    }
    let start = Transition::new(state("Initialized"), state("Running")).unwrap();
    // Reasons are cut at `MAX_REASON_BYTES`: the batch fills the file with several.
    let mut batch = vec![RowWrite::transition("probe", start)];
    batch.extend((0..FILLERS).map(|filler| {
        RowWrite::reason(format!("probe-{filler}"), "x".repeat(MAX_REASON_BYTES - 64))
    }));
    // The store's thread waits on `hold` until every request below is queued behind it.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let held = store.configure(move |_| {
        let _ = hold.recv();
        Ok(())
    });
    let (held, before, applied, after, ()) = tokio::join!(
        biased;
        held,
        store.rows(),
        store.apply("tester", &batch),
        store.rows(),
        async { release.send(()).unwrap() },
    );
    held.unwrap();
    let applied = applied.unwrap_err();
    assert!(full_disk_error(&applied), "{applied}");
    let probe = |rows: Vec<Row>| rows.into_iter().find(|row| row.id == "probe").unwrap();
    for rows in [before, after, store.rows().await] {
        let probe = probe(rows.expect("reads work on a full database"));
        assert_eq!((probe.status.as_str(), probe.reason), ("Initialized", None));
    }
    assert_eq!(
        store.apply("tester", &batch[..1]).await.unwrap(),
        [],
        "the first write alone fits"
    );
    store
        .transition("probe", "tester", state("Running"), state("Completed"))
        .await
        .unwrap();
}

/// A database that cannot grow (`PRAGMA max_page_count`): spawns that wait for their row fail
/// with a typed error naming the full database, failed writes are counted, `flush` returns the error, reads go
/// on, no row is half-written; once there is room the queued writes land and every row ends
/// terminal with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_an_error_the_supervisor_reports_and_survives() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = scratch_file("full-disk");
    let store = SqliteStore::<ProjectStatus>::open_with(&path, |connection| {
        connection.pragma_update(None, "max_page_count", PAGES)
    })
    .unwrap();
    a_batch_is_all_or_nothing(&store).await;

    let mut supervisor = Supervisor::start(store.clone(), Config::default())
        .await
        .unwrap();
    let (open, gate) = watch::channel(false);
    let mut spawned: usize = 0;
    let refusal = loop {
        let mut gate = gate.clone();
        let id = format!("task-{spawned:05}");
        let spawn = supervisor.spawn_committed(id, spawned, |project| async move {
            let running = project.to_running();
            let _ = gate.wait_for(|open| *open).await;
            if running.is_multiple_of(2) {
                Ok(running.to_completed())
            } else {
                Err(long_reason(*running))
            }
        });
        match timeout(PATIENCE, spawn).await.unwrap() {
            Ok(_) => spawned += 1,
            Err(SpawnError::Store(error)) => break error,
        }
        assert!(spawned < 100_000, "the database never filled up");
    };
    assert!(full_disk_error(&refusal), "{refusal}");
    assert!(spawned > 50, "room for {spawned} rows");

    // Every task may finish now; their writes do not fit.
    open.send(true).unwrap();
    for _ in 0..spawned {
        timeout(PATIENCE, supervisor.join_next())
            .await
            .unwrap()
            .unwrap();
    }
    let flushed = timeout(PATIENCE, supervisor.flush()).await.unwrap();
    assert!(flushed.as_ref().is_err_and(full_disk_error), "{flushed:?}");
    assert!(supervisor.counters().store_errors() > 0);
    let rows = timeout(PATIENCE, store.rows()).await.unwrap().unwrap();
    assert_eq!(
        rows.len(),
        spawned + 1 + FILLERS,
        "a refused spawn leaves no row"
    );
    let task_rows = || rows.iter().filter(|row| !row.id.starts_with("probe"));
    for (n, row) in task_rows().enumerate() {
        assert!(is_a_prefix(row, n), "half-written: {row:?}");
    }
    assert!(
        task_rows().any(|row| !row.state::<ProjectStatus>().unwrap().is_terminal()),
        "writes are waiting"
    );

    // The limit belongs to the store's connection: another connection cannot lift it.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .pragma_update(None, "max_page_count", 1_000_000)
        .unwrap();
    let flushed = timeout(PATIENCE, supervisor.flush()).await.unwrap();
    assert!(flushed.as_ref().is_err_and(full_disk_error), "{flushed:?}");

    let raised: i64 = store
        .configure(|connection| {
            connection.pragma_update_and_check(None, "max_page_count", 1_000_000, |row| row.get(0))
        })
        .await
        .unwrap();
    assert_eq!(raised, 1_000_000);
    timeout(PATIENCE, supervisor.flush())
        .await
        .unwrap()
        .unwrap();
    let report = supervisor.shutdown(PATIENCE).await.unwrap();
    assert_eq!(report.rows.len(), spawned + 1 + FILLERS);
    for (n, row) in report
        .rows
        .iter()
        .filter(|row| !row.id.starts_with("probe"))
        .enumerate()
    {
        let want = if n.is_multiple_of(2) {
            ("Completed", None)
        } else {
            ("Failed", Some(long_reason(n)))
        };
        assert_eq!(
            (row.status.as_str(), row.reason.clone()),
            (want.0, want.1),
            "{row:?}"
        );
    }
}

/// A `configure` that panics is an error for its caller; the store's thread goes on serving.
#[tokio::test]
async fn a_panicking_configure_is_an_error_and_the_store_goes_on() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    quiet_injected_panics();
    let store = SqliteStore::<ProjectStatus>::open(scratch_file("configure-panic")).unwrap();
    let panicked = store
        .configure(|_| -> rusqlite::Result<()> { panic!("injected panic") })
        .await;
    assert_eq!(
        panicked,
        Err(StoreError::Backend(
            "the store's `configure` setup panicked".into()
        ))
    );
    store.insert("after", "me").await.unwrap();
    assert_eq!(store.rows().await.unwrap().len(), 1);
}

/// An acronym in a lifecycle's name: the table is named as the generated module is
/// (`http_job`), from the one snake-case name the macro writes into the lifecycle's spec.
#[test]
fn table_name_keeps_acronyms_whole() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    #[terminal_state]
    pub enum HTTPJob {
        #[initial]
        #[to(Done, Failed)]
        Queued,
        #[terminal]
        Done,
        #[terminal]
        #[abandoned]
        Failed,
    }

    let _module_named_alike: http_job::Queued = http_job::Queued;
    assert_eq!(HTTPJob::snake_name(), "http_job");
    assert_eq!(SqliteStore::<HTTPJob>::table(), "http_job_status");
}

/// A write SQLite refuses for its data (here: a trigger another client installed on the table)
/// stands alone: in a batch of a thousand it alone is refused, and a supervisor whose task
/// fails with that reason ends every row, reports the refused write by id, and shuts down `Ok`.
/// Nothing is retried forever.
#[tokio::test]
async fn a_write_the_database_refuses_for_its_data_stands_alone() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = scratch_file("poison");
    let store = SqliteStore::<ProjectStatus>::open(&path).unwrap();
    let table = SqliteStore::<ProjectStatus>::table();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER no_poison BEFORE UPDATE OF reason ON {table} \
             WHEN NEW.reason = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END;"
        ))
        .unwrap();

    let ids: Vec<String> = (0..1000).map(|n| format!("row-{n:04}")).collect();
    for id in &ids {
        store.insert(id, "me").await.unwrap();
    }
    let writes: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| match n {
            404 => RowWrite::reason(id.as_str(), "poison"),
            _ => RowWrite::transition(
                id.as_str(),
                Transition::new(state("Initialized"), state("Running")).unwrap(),
            ),
        })
        .collect();
    let refused = store.apply("me", &writes).await.unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let (index, error) = &refused[0];
    assert_eq!(*index, 404);
    assert!(
        matches!(error, StoreError::Rejected { id, cause } if id == "row-0404" && cause.contains("poison refused")),
        "{error:?}"
    );
    let rows = store.rows().await.unwrap();
    assert_eq!(
        rows.iter().filter(|row| row.status == "Running").count(),
        999
    );

    // The same through a supervisor: one task fails with the reason the table refuses.
    let fresh = scratch_file("poison-supervised");
    let store = SqliteStore::<ProjectStatus>::open(&fresh).unwrap();
    rusqlite::Connection::open(&fresh)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER no_poison BEFORE UPDATE OF reason ON {table} \
             WHEN NEW.reason = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END;"
        ))
        .unwrap();
    let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
    for n in 0..11 {
        supervisor
            .spawn(format!("task-{n:02}"), (), move |row| async move {
                let running = row.to_running();
                if n == 5 {
                    return Err("poison".to_owned());
                }
                Ok(running.to_completed())
            })
            .await
            .unwrap();
    }
    let report = timeout(
        Duration::from_secs(30),
        supervisor.shutdown(Duration::from_secs(5)),
    )
    .await
    .expect("a refused write is not retried forever")
    .expect("every row ended: the shutdown is Ok");
    let ended: Vec<_> = report
        .rows
        .iter()
        .map(|row| (row.id.as_str(), row.status.as_str(), row.reason.as_deref()))
        .collect();
    assert_eq!(ended.len(), 11);
    assert!(ended.contains(&("task-05", "Failed", None)), "{ended:?}");
    assert_eq!(
        ended
            .iter()
            .filter(|(_, status, _)| *status == "Completed")
            .count(),
        10,
        "{ended:?}"
    );
    assert_eq!(report.refused.len(), 1, "{:?}", report.refused);
    assert_eq!(report.refused[0].id, "task-05");
    assert!(matches!(
        report.refused[0].error,
        StoreError::Rejected { .. }
    ));
    for file in [path, fresh] {
        let _ = std::fs::remove_file(file);
    }
}

/// A thousand owners that died without releasing their lease (what a SIGKILL leaves: a lease
/// row, and an unfinished row each) leave nothing behind once a survivor has run its
/// heartbeat past their lease: every lease row reaped, every row ended, naming its dead owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_dead_owners_are_reaped_by_a_survivors_heartbeat() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const DEAD: usize = 1000;
    let path = scratch_file("dead-owners");
    let store = SqliteStore::<ProjectStatus>::open(&path).unwrap();
    let lease = Duration::from_millis(300);
    for owner in 0..DEAD {
        let owner = format!("killed-{owner:04}");
        store.renew_lease(&owner, lease).await.unwrap();
        store
            .insert(&format!("row-of-{owner}"), &owner)
            .await
            .unwrap();
    }
    let heartbeat = Duration::from_millis(100);
    let config = Config::new().lease_ttl(lease).heartbeat(heartbeat);
    let supervisor = Supervisor::start(store.clone(), config).await.unwrap();
    let leases = || -> i64 {
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM fixpoint_leases", [], |row| row.get(0))
            .unwrap()
    };
    assert_eq!(leases(), DEAD as i64 + 1);
    // Their leases lapse at 300 ms and are reaped a lease later, on the next heartbeat.
    let begun = std::time::Instant::now();
    let limit = lease * 2 + heartbeat * 2 + Duration::from_secs(2);
    while (leases() > 1 || supervisor.counters().orphans_ended() < DEAD as u64)
        && begun.elapsed() < limit
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(leases(), 1, "only the survivor's lease is left");
    assert_eq!(supervisor.counters().leases_reaped(), DEAD as u64);
    assert_eq!(supervisor.counters().orphans_ended(), DEAD as u64);
    let report = supervisor.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(report.rows.len(), DEAD);
    for row in &report.rows {
        let dead = row.id.strip_prefix("row-of-").unwrap();
        assert_eq!(row.status, "Failed", "{row:?}");
        let reason = row.reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with(&format!("orphaned: its owner `{dead}` stopped renewing")),
            "{reason}"
        );
    }
    assert_eq!(leases(), 0, "a graceful shutdown releases its own");
    let _ = std::fs::remove_file(&path);
}
