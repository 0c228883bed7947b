//! `spawn` returns once a task's row is queued, and its body starts once the row has
//! committed: proven with a store whose commits wait for the test, and with real SQLite.
#![cfg(feature = "sqlite")]

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fixpoint::store::{
    MemoryStore, Refused, Retention, RowChange, RowWrite, SqliteStore, StatusStore, StoreError,
};
use fixpoint::task::{Config, Machine, Outcome, SpawnError, Supervisor};
use tokio::sync::Semaphore;
use tokio::time::timeout;

use crate::common::Flaky;
use crate::common::job as jobs;
use jobs::*;

const PATIENCE: Duration = Duration::from_secs(30);

/// A store whose batches wait for the test: each [`apply`](StatusStore::apply) takes one
/// permit of `commits` first. It records the ids whose insert has committed (applied and not
/// refused) once the inner store has applied them, before the writer hears of it.
struct Delayed<S> {
    inner: S,
    commits: Semaphore,
    committed: Mutex<HashSet<String>>,
    batches: AtomicUsize,
    /// Batches waiting to commit.
    waiting: AtomicUsize,
}

impl<S> Delayed<S> {
    fn new(inner: S) -> Arc<Self> {
        Arc::new(Delayed {
            inner,
            commits: Semaphore::new(0),
            committed: Mutex::new(HashSet::new()),
            batches: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
        })
    }

    /// Lets `n` more batches commit.
    fn release(&self, n: usize) {
        self.commits.add_permits(n);
    }

    fn is_committed(&self, id: &str) -> bool {
        self.committed.lock().unwrap().contains(id)
    }
}

impl<S: StatusStore<Job>> StatusStore<Job> for Delayed<S> {
    async fn apply(&self, owner: &str, writes: &[RowWrite<Job>]) -> Result<Refused, StoreError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.commits.acquire().await.unwrap().forget();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let refused = self.inner.apply(owner, writes).await?;
        let refused_at: HashSet<usize> = refused.iter().map(|(index, _)| *index).collect();
        let mut committed = self.committed.lock().unwrap();
        for (index, write) in writes.iter().enumerate() {
            if matches!(write.change(), RowChange::Insert) && !refused_at.contains(&index) {
                committed.insert(write.id().to_owned());
            }
        }
        self.batches.fetch_add(1, Ordering::SeqCst);
        Ok(refused)
    }

    crate::common::pass_through!(Job);
}

fn config() -> Config {
    Config::new().retention(Retention::keep_all())
}

fn scratch_file(name: &str) -> PathBuf {
    crate::common::scratch_db(name)
}

/// 2,000 tasks spawned one after another while no batch may commit: every `spawn` returns
/// (the caller pays no commit), and no body starts. Then batches commit one at a time: each
/// body, when it starts, finds its row committed already; and every task ends `Done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_never_runs_before_its_row_commits() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const TASKS: usize = 2_000;
    let store = Delayed::new(MemoryStore::<Job>::new());
    let mut supervisor = Supervisor::start(Arc::clone(&store), config())
        .await
        .unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let early = Arc::new(Mutex::new(Vec::new()));
    for n in 0..TASKS {
        let id = format!("t{n:04}");
        let (store, started, early) =
            (Arc::clone(&store), Arc::clone(&started), Arc::clone(&early));
        let body = move |job: Machine<Job, String>| async move {
            started.fetch_add(1, Ordering::SeqCst);
            if !store.is_committed(&job) {
                early.lock().unwrap().push(job.to_string());
            }
            tokio::task::yield_now().await;
            job.to_running().to_done()
        };
        let spawned = timeout(PATIENCE, supervisor.spawn(id.clone(), id, body)).await;
        spawned.expect("spawn waits for no commit").unwrap();
    }
    // The writer has the inserts and cannot commit them: no body may have started.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        started.load(Ordering::SeqCst),
        0,
        "a body ran before its row"
    );
    assert_eq!(supervisor.counters().running(), TASKS as u64);

    // One batch at a time, until every task has ended.
    let mut ended = 0;
    while ended < TASKS {
        store.release(1);
        while let Ok(Some(finished)) =
            timeout(Duration::from_millis(20), supervisor.join_next()).await
        {
            assert!(
                matches!(finished.outcome, Outcome::Finished(state) if state.name() == "Done"),
                "{finished:?}"
            );
            ended += 1;
        }
    }
    assert_eq!(started.load(Ordering::SeqCst), TASKS);
    assert_eq!(
        *early.lock().unwrap(),
        Vec::<String>::new(),
        "bodies ran before their rows"
    );
    assert!(
        store.batches.load(Ordering::SeqCst) < TASKS,
        "inserts that arrive together share a batch"
    );
    store.release(usize::MAX >> 4);
    let report = supervisor.shutdown(PATIENCE).await.unwrap();
    assert_eq!(report.rows.len(), TASKS);
    assert!(report.rows.iter().all(|row| row.status == "Done"));
}

/// Two tasks with one id, spawned before either row commits, on real SQLite: the second is
/// refused. Its body never runs, its handle's `committed` and its outcome say why, the flush
/// lists the refusal, and nothing it wrote meanwhile (it was aborted while queued) reaches the
/// first task's row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_row_ends_its_task_unstarted_and_reaches_the_caller() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = scratch_file("spawn-refused");
    let store = Delayed::new(SqliteStore::<Job>::open(&path).unwrap());
    let mut supervisor = Supervisor::start(Arc::clone(&store), config())
        .await
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let body = |ran: Arc<AtomicUsize>| {
        move |job: Machine<Job, ()>| async move {
            ran.fetch_add(1, Ordering::SeqCst);
            job.to_running().to_done()
        }
    };
    let first = supervisor
        .spawn("dup", (), body(Arc::clone(&ran)))
        .await
        .unwrap();
    let aborted = supervisor
        .spawn("dup", (), body(Arc::clone(&ran)))
        .await
        .unwrap();
    let refused = supervisor
        .spawn("dup", (), body(Arc::clone(&ran)))
        .await
        .unwrap();
    // Aborted while its insert is queued: its row's end waits for the insert, and is dropped
    // with it.
    aborted.abort();
    store.release(usize::MAX >> 4);

    let taken = StoreError::IdTaken {
        id: "dup".into(),
        status: "Queued".into(),
    };
    first.committed().await.unwrap();
    assert_eq!(aborted.committed().await, Err(taken.clone()));
    assert_eq!(refused.committed().await, Err(taken.clone()));
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let finished = timeout(PATIENCE, supervisor.join_next()).await.unwrap();
        outcomes.push(finished.unwrap().outcome);
    }
    assert!(outcomes.contains(&Outcome::Aborted), "{outcomes:?}");
    assert!(
        outcomes.contains(&Outcome::Refused(taken.clone())),
        "{outcomes:?}"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 1, "only the first body ran");
    assert_eq!(supervisor.counters().refused_spawns(), 2);

    let flushed = supervisor.flush().await.unwrap();
    let refusals: Vec<_> = flushed.refused.iter().map(|r| &r.error).collect();
    assert_eq!(refusals, [&taken, &taken]);
    let report = supervisor.shutdown(PATIENCE).await.unwrap();
    let row = &report.rows[0];
    assert_eq!(report.rows.len(), 1);
    assert_eq!(
        (row.status.as_str(), row.reason.as_deref()),
        ("Done", None),
        "the refused tasks wrote nothing to the first task's row"
    );
}

/// Tasks aborted while their rows are queued end at once (`Aborted`); their rows' end is
/// written right after the insert commits, before a flush queued behind the inserts returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_aborted_before_their_row_commits_end_it_before_the_next_flush() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const TASKS: usize = 100;
    let store = Delayed::new(MemoryStore::<Job>::new());
    let mut supervisor = Supervisor::start(Arc::clone(&store), config())
        .await
        .unwrap();
    let body = |job: Machine<Job, ()>| async move { job.to_running().to_done() };
    // The writer holds a first batch it cannot commit: what follows queues behind it, and
    // reaches the writer together, the flush with the inserts.
    supervisor.spawn("first", (), body).await.unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    while store.waiting.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never applied"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for n in 0..TASKS {
        let task = supervisor
            .spawn(format!("t{n:03}"), (), body)
            .await
            .unwrap();
        task.abort();
    }
    for _ in 0..TASKS {
        let finished = timeout(PATIENCE, supervisor.join_next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(finished.outcome, Outcome::Aborted);
    }
    assert_eq!(
        store.rows().await.unwrap(),
        [],
        "no insert has committed yet"
    );
    let (flushed, ()) = tokio::join!(supervisor.flush(), async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        store.release(usize::MAX >> 4);
    });
    flushed.unwrap();
    let rows = store.rows().await.unwrap();
    assert_eq!(rows.len(), TASKS + 1);
    for row in rows.iter().filter(|row| row.id != "first") {
        assert_eq!(
            (row.status.as_str(), row.reason.as_deref()),
            ("Failed", Some("aborted")),
            "{row:?}"
        );
    }
}

/// An insert in a batch the store fails (a full disk) is refused with the store's error, not
/// retried: its task has not started, its body never runs, and the caller learns at once. The
/// running tasks' writes are retried as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_the_store_fails_is_refused_and_the_body_never_runs() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let store = Arc::new(Flaky::new(MemoryStore::<Job>::new()));
    let mut supervisor = Supervisor::start(Arc::clone(&store), config())
        .await
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    store.fail(true);
    let full = StoreError::Backend("database or disk is full".into());
    for n in 0..10 {
        let ran = Arc::clone(&ran);
        let spawned = supervisor
            .spawn(format!("t{n}"), (), |job| async move {
                ran.fetch_add(1, Ordering::SeqCst);
                job.to_running().to_done()
            })
            .await
            .unwrap();
        if n == 0 {
            assert_eq!(spawned.committed().await, Err(full.clone()));
        }
    }
    for _ in 0..10 {
        let finished = timeout(PATIENCE, supervisor.join_next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(finished.outcome, Outcome::Refused(full.clone()));
    }
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(supervisor.counters().refused_spawns(), 10);

    store.fail(false);
    assert_eq!(supervisor.flush().await.unwrap().refused.len(), 10);
    let again = supervisor
        .spawn_committed("t0", (), |job| async move { job.to_running().to_done() })
        .await;
    assert!(again.is_ok(), "the id was never taken: {again:?}");
    let report = supervisor.shutdown(PATIENCE).await.unwrap();
    assert_eq!(report.rows.len(), 1);
    assert_eq!(report.rows[0].status, "Done");
}

/// A store that applies writes at once refuses a row at the spawn itself.
#[tokio::test]
async fn a_store_applying_at_once_refuses_at_the_spawn() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let mut supervisor = Supervisor::start(MemoryStore::<Job>::new(), config())
        .await
        .unwrap();
    let body = |job: Machine<Job, ()>| async move { job.to_running().to_done() };
    supervisor.spawn("a", (), body).await.unwrap();
    let again = supervisor.spawn("a", (), body).await;
    assert!(
        matches!(again, Err(SpawnError::Store(StoreError::IdTaken { .. }))),
        "{again:?}"
    );
    assert_eq!(supervisor.counters().refused_spawns(), 0);
    supervisor.shutdown(PATIENCE).await.unwrap();
}

/// A store that applies three batches side by side, each after a random number of yields
/// (so the lanes finish in any order), and fails one batch in five: the second, the seventh,
/// and so on, so a run fails some batch however its writes fell into batches.
struct Lanes {
    inner: MemoryStore<Job>,
    rng: Mutex<crate::common::XorShift>,
    calls: AtomicUsize,
    failed: AtomicUsize,
}

impl StatusStore<Job> for Lanes {
    async fn apply(&self, owner: &str, writes: &[RowWrite<Job>]) -> Result<Refused, StoreError> {
        let yields = self.rng.lock().unwrap().below(8);
        let fail = self.calls.fetch_add(1, Ordering::SeqCst) % 5 == 1;
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        if fail {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Backend("injected".into()));
        }
        self.inner.apply(owner, writes).await
    }

    fn parallel_batches(&self) -> usize {
        3
    }

    crate::common::pass_through!(Job);
}

/// Batches split into lanes that commit in any order, one in five failing: each row's writes
/// still land in order (a reordered pair would be refused as a conflict), every insert lands
/// or is refused with the store's error, and every task that started ends `Done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_keep_each_rows_writes_in_order_through_failures() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const TASKS: usize = 3_000;
    let store = Arc::new(Lanes {
        inner: MemoryStore::new(),
        rng: Mutex::new(crate::common::XorShift(0x1a4e5)),
        calls: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
    });
    let mut supervisor = Supervisor::start(Arc::clone(&store), config())
        .await
        .unwrap();
    for n in 0..TASKS {
        supervisor
            .spawn(format!("t{n:04}"), (), |job| async move {
                let running = job.to_running();
                tokio::task::yield_now().await;
                running.to_done()
            })
            .await
            .unwrap();
    }
    let (mut done, mut refused) = (0, 0);
    while let Some(finished) = timeout(PATIENCE, supervisor.join_next()).await.unwrap() {
        match finished.outcome {
            Outcome::Finished(state) if state.name() == "Done" => done += 1,
            Outcome::Refused(StoreError::Backend(cause)) if cause == "injected" => refused += 1,
            other => panic!("{}: {other:?}", finished.id),
        }
    }
    assert_eq!(done + refused, TASKS);
    let flushed = loop {
        if let Ok(flushed) = supervisor.flush().await {
            break flushed;
        }
    };
    assert!(store.failed.load(Ordering::SeqCst) > 0, "no batch failed");
    // Which batches fail depends on how the tasks' writes fell into batches: inserts refused,
    // transitions retried, or both. Every task that started must end `Done` either way.
    assert!(done > 0, "{done} done, {refused} refused");
    for refusal in &flushed.refused {
        assert_eq!(refusal.error, StoreError::Backend("injected".into()));
    }
    let rows = store.rows().await.unwrap();
    assert_eq!(rows.len(), done);
    assert!(
        rows.iter().all(|row| row.status == "Done"),
        "a row's writes reordered"
    );
}

/// A spawning loop faster than the store is held back once `queued_spawns` rows wait for a
/// commit, and goes on as soon as the store catches up: memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawns_wait_once_queued_spawns_rows_are_queued() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let store = Delayed::new(MemoryStore::<Job>::new());
    let config = config().queued_spawns(100);
    let mut supervisor = Supervisor::start(Arc::clone(&store), config).await.unwrap();
    let body = |job: Machine<Job, ()>| async move { job.to_running().to_done() };
    for n in 0..100 {
        let spawned = timeout(PATIENCE, supervisor.spawn(format!("t{n:03}"), (), body)).await;
        spawned.expect("room for 100").unwrap();
    }
    let held = timeout(
        Duration::from_millis(100),
        supervisor.spawn("t100", (), body),
    )
    .await;
    assert!(held.is_err(), "the 101st spawn did not wait");
    store.release(usize::MAX >> 4);
    timeout(PATIENCE, supervisor.spawn("t100", (), body))
        .await
        .expect("room once the store caught up")
        .unwrap();
    let report = supervisor.shutdown(PATIENCE).await.unwrap();
    assert_eq!(report.rows.len(), 101);
    assert!(report.rows.iter().all(|row| row.status == "Done"));
}

/// A poison id among 1,000 spawns on PostgreSQL: an id the server cannot hold (a NUL byte in
/// `text`) fails its whole batch, and the store then applies the batch's writes one by one, so
/// only that insert is refused, as `Rejected`, and its task ends unstarted. Every other task,
/// its row in the same batch, starts and ends `Done`.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_id_among_a_thousand_spawns_is_refused_alone() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const TASKS: usize = 1_000;
    const POISON: usize = 500;
    let url = crate::common::postgres::Cluster::shared().create_database("poison_spawn");
    let store = fixpoint::store::PostgresStore::<Job>::connect(&url)
        .await
        .unwrap();
    let mut supervisor = Supervisor::start(store.clone(), config()).await.unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    for n in 0..TASKS {
        let id = if n == POISON {
            "poison\0id".to_owned()
        } else {
            format!("t{n:04}")
        };
        let started = Arc::clone(&started);
        supervisor
            .spawn(id, (), move |job| async move {
                started.fetch_add(1, Ordering::SeqCst);
                job.to_running().to_done()
            })
            .await
            .unwrap();
    }
    let (mut done, mut refused) = (0, Vec::new());
    while let Some(finished) = timeout(PATIENCE, supervisor.join_next()).await.unwrap() {
        match finished.outcome {
            Outcome::Finished(state) if state.name() == "Done" => done += 1,
            Outcome::Refused(StoreError::Rejected { id, .. }) => refused.push(id),
            other => panic!("{}: {other:?}", finished.id),
        }
    }
    assert_eq!(refused, ["poison\0id"], "only the poison row is refused");
    assert_eq!(done, TASKS - 1);
    assert_eq!(
        started.load(Ordering::SeqCst),
        TASKS - 1,
        "the poison task never started"
    );
    supervisor.flush().await.unwrap();
    let rows = store.rows().await.unwrap();
    assert_eq!(rows.len(), TASKS - 1);
    assert!(rows.iter().all(|row| row.status == "Done"), "{rows:?}");
}
