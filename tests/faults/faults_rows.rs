//! The rows' half of the fault matrix: each store under each fault that comes from outside the
//! supervisor — a poison row the database refuses, the owning process SIGKILLed, every runtime
//! worker blocked at shutdown, the server restarted mid-batch — measured on the real clock from
//! outside (a raw connection to the table, or the store's rows read from another runtime), with
//! every row asserted terminal with its reason and nothing written twice. The matrix is printed
//! (past the harness's capture) whatever the verdicts, then asserted.
#![cfg(feature = "sqlite")]

use crate::common::job as jobs;
use crate::common::matrix;
#[cfg(feature = "postgres")]
use crate::common::postgres as cluster;

use std::io::{BufRead, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fixpoint::{
    store::{Row, SqliteStore, StatusStore, StoreError},
    task::{Config, Supervisor},
};
use jobs::*;
use tokio::runtime::{Builder, Runtime};

/// What a measured time may exceed its promise by.
const SLACK: Duration = Duration::from_millis(100);
/// The killed owner's lease, and the survivor's heartbeat.
const LEASE: Duration = Duration::from_millis(300);
const HEARTBEAT: Duration = Duration::from_millis(100);
/// The child mode: `<backend>` as `sqlite:<path>` or `postgres:<url>`.
const CHILD: &str = "FIXPOINT_FAULTS_ROWS_CHILD";
/// Tasks the killed owner leaves running.
const LEFT: usize = 50;

struct Cell {
    store: &'static str,
    fault: &'static str,
    promise: &'static str,
    promised: Duration,
    measured: Option<Duration>,
    note: String,
}

impl Cell {
    fn kept(&self) -> bool {
        self.note.is_empty() && self.measured.is_some_and(|m| m <= self.promised + SLACK)
    }
}

fn print(cells: &[Cell]) {
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|cell| {
            vec![
                cell.store.to_owned(),
                cell.fault.to_owned(),
                cell.promise.to_owned(),
                format!("{} ms", cell.promised.as_millis()),
                matrix::millis(cell.measured),
                matrix::verdict(cell.kept(), &cell.note),
            ]
        })
        .collect();
    matrix::print(
        "fault matrix, rows (kept within the promise + 100 ms)",
        &[
            "store", "fault", "promise", "promised", "measured", "verdict",
        ],
        &rows,
    );
}

/// Where the rows live, as the child process is told.
#[derive(Clone)]
enum Backend {
    Sqlite(PathBuf),
    #[cfg(feature = "postgres")]
    Postgres(String),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "SqliteStore",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "PostgresStore",
        }
    }

    fn arg(&self) -> String {
        match self {
            Backend::Sqlite(path) => format!("sqlite:{}", path.display()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => format!("postgres:{url}"),
        }
    }

    fn from_arg(arg: &str) -> Self {
        if let Some(path) = arg.strip_prefix("sqlite:") {
            return Backend::Sqlite(path.into());
        }
        #[cfg(feature = "postgres")]
        if let Some(url) = arg.strip_prefix("postgres:") {
            return Backend::Postgres(url.to_owned());
        }
        panic!("no backend in {arg:?}")
    }

    /// A fresh SQLite file for `name`.
    fn sqlite(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "fixpoint-faults-rows-{name}-{}.db",
            std::process::id()
        ));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Backend::Sqlite(path)
    }

    /// Runs `with` on this backend's store.
    async fn with<T>(&self, with: impl AsyncFnOnce(Arc<AnyStore>) -> T) -> T {
        let store = match self {
            Backend::Sqlite(path) => AnyStore::Sqlite(SqliteStore::open(path).unwrap()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => {
                AnyStore::Postgres(fixpoint::store::PostgresStore::connect(url).await.unwrap())
            }
        };
        with(Arc::new(store)).await
    }

    /// Makes the table refuse a reason of `poison`, as another client might (a `CHECK`, a
    /// trigger of its own).
    async fn refuse_poison(&self) {
        match self {
            Backend::Sqlite(path) => {
                let _ = SqliteStore::<Job>::open(path).unwrap();
                rusqlite::Connection::open(path)
                    .unwrap()
                    .execute_batch(
                        "CREATE TRIGGER no_poison BEFORE UPDATE OF reason ON job_status \
                         WHEN NEW.reason = 'poison' BEGIN SELECT RAISE(ABORT, 'no poison'); END;",
                    )
                    .unwrap();
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => {
                let store = fixpoint::store::PostgresStore::<Job>::connect(url)
                    .await
                    .unwrap();
                store
                    .pool()
                    .get()
                    .await
                    .unwrap()
                    .batch_execute(
                        "ALTER TABLE job_status ADD CONSTRAINT no_poison \
                         CHECK (reason IS DISTINCT FROM 'poison')",
                    )
                    .await
                    .unwrap();
            }
        }
    }

    /// How many lease rows the table of leases holds, read by a raw client.
    async fn leases(&self) -> i64 {
        match self {
            Backend::Sqlite(path) => rusqlite::Connection::open(path)
                .unwrap()
                .query_row("SELECT count(*) FROM fixpoint_leases", [], |row| row.get(0))
                .unwrap(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => {
                let store = fixpoint::store::PostgresStore::<Job>::connect(url)
                    .await
                    .unwrap();
                let client = store.pool().get().await.unwrap();
                client
                    .query_one("SELECT count(*) FROM fixpoint_leases", &[])
                    .await
                    .unwrap()
                    .get(0)
            }
        }
    }
}

/// The two stores behind one type, so that a cell is written once.
enum AnyStore {
    Sqlite(SqliteStore<Job>),
    #[cfg(feature = "postgres")]
    Postgres(fixpoint::store::PostgresStore<Job>),
}

macro_rules! each {
    ($store:expr, $inner:ident => $call:expr) => {
        match $store {
            AnyStore::Sqlite($inner) => $call,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($inner) => $call,
        }
    };
}

impl StatusStore<Job> for AnyStore {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        each!(self, store => store.insert(id, owner).await)
    }

    async fn apply(
        &self,
        owner: &str,
        writes: &[fixpoint::store::RowWrite<Job>],
    ) -> Result<fixpoint::store::Refused, StoreError> {
        each!(self, store => store.apply(owner, writes).await)
    }

    fn parallel_batches(&self) -> usize {
        each!(self, store => store.parallel_batches())
    }

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        each!(self, store => store.renew_lease(owner, ttl).await)
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        each!(self, store => store.release_lease(owner).await)
    }

    async fn reap_leases(&self, grace: Duration) -> Result<u64, StoreError> {
        each!(self, store => store.reap_leases(grace).await)
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        each!(self, store => store.orphans().await)
    }

    async fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: fixpoint::State<Job>,
        to_owner: &str,
    ) -> Result<bool, StoreError> {
        each!(self, store => store.adopt(id, from_owner, status, to_owner).await)
    }

    async fn prune(&self, retention: fixpoint::store::Retention) -> Result<u64, StoreError> {
        each!(self, store => store.prune(retention).await)
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        each!(self, store => store.rows().await)
    }
}

fn runtime(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

fn terminal(row: &Row) -> bool {
    row.state::<Job>().is_ok_and(|state| state.is_terminal())
}

/// A thousand tasks, one of which fails with a reason the table refuses: that write is refused
/// alone and reported by id, every row ends, and the shutdown is `Ok` at once.
fn poison_row(backend: &Backend) -> Cell {
    let rt = runtime(2);
    rt.block_on(backend.refuse_poison());
    let (measured, note) = rt.block_on(backend.with(async |store| {
        let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
        for n in 0..1000 {
            supervisor
                .spawn(format!("t{n:04}"), (), move |job| async move {
                    let running = job.to_running();
                    if n == 617 {
                        return Err("poison".to_owned());
                    }
                    Ok(running.to_done())
                })
                .await
                .unwrap();
        }
        let begun = Instant::now();
        let shutdown = supervisor.shutdown(Duration::from_secs(5));
        let report = match tokio::time::timeout(Duration::from_secs(30), shutdown).await {
            Err(_) => return (None, "the shutdown never returned".to_owned()),
            Ok(Err(error)) => return (None, format!("the shutdown failed: {error}")),
            Ok(Ok(report)) => report,
        };
        let measured = Some(begun.elapsed());
        let done = report
            .rows
            .iter()
            .filter(|row| row.status == "Done")
            .count();
        let refused: Vec<_> = report
            .refused
            .iter()
            .map(|write| write.id.as_str())
            .collect();
        let note = if report.rows.len() != 1000 || !report.rows.iter().all(terminal) || done != 999
        {
            format!("{} rows, {done} Done", report.rows.len())
        } else if refused != ["t0617"] {
            format!("refused {refused:?}")
        } else {
            String::new()
        };
        (measured, note)
    }));
    Cell {
        store: backend.name(),
        fault: "a poison row among 1,000",
        promise: "every row ends, shutdown Ok before its grace",
        promised: Duration::from_secs(5),
        measured,
        note,
    }
}

/// The child: a supervisor on the backend with tasks that never end; says `ready` once their
/// rows are written, then waits to be killed.
fn owner_until_killed(backend: &str) -> ! {
    let backend = Backend::from_arg(backend);
    runtime(2).block_on(backend.with(async |store| {
        let config = Config::new().lease_ttl(LEASE).heartbeat(LEASE / 4);
        let mut supervisor = Supervisor::start(store, config).await.unwrap();
        for n in 0..LEFT {
            supervisor
                .spawn(format!("k{n:03}"), (), |job| async move {
                    let running = job.to_running();
                    std::future::pending::<()>().await;
                    Ok::<_, String>(running.to_done())
                })
                .await
                .unwrap();
        }
        supervisor.flush().await.unwrap();
        println!("ready");
        std::io::stdout().flush().unwrap();
        std::future::pending::<()>().await;
    }));
    unreachable!("the owner waits to be killed")
}

/// The owning process is SIGKILLed with rows running: a survivor's heartbeat ends them within
/// the dead lease and one heartbeat, and reaps the dead lease a lease later.
fn owner_killed(backend: &Backend) -> [Cell; 2] {
    let name = &crate::common::test_name(
        module_path!(),
        "every_row_ends_under_every_fault_from_outside",
    );
    let mut owner = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, backend.arg())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The test harness prints its own words first, on the same line.
    let ready = BufReader::new(owner.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|line| line.ends_with("ready"));
    assert!(ready, "the owner process failed before it was ready");
    owner.kill().unwrap(); // SIGKILL: no lease released, no row ended
    owner.wait().unwrap();
    let killed = Instant::now();
    let rt = runtime(2);
    let (ended, reaped, note) = rt.block_on(backend.with(async |store| {
        let config = Config::new().lease_ttl(LEASE).heartbeat(HEARTBEAT);
        let supervisor = Supervisor::start(Arc::clone(&store), config).await.unwrap();
        let limit = killed + Duration::from_secs(10);
        let mut ended = None;
        let mut reaped = None;
        while Instant::now() < limit && (ended.is_none() || reaped.is_none()) {
            let rows = store.rows().await.unwrap();
            if ended.is_none() && rows.len() == LEFT && rows.iter().all(terminal) {
                ended = Some(killed.elapsed());
            }
            // The survivor's own lease is the one left.
            if reaped.is_none() && backend.leases().await == 1 {
                reaped = Some(killed.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let report = supervisor.shutdown(Duration::from_secs(5)).await.unwrap();
        let wrong = report.rows.iter().find(|row| {
            row.status != "Failed"
                || !row
                    .reason
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with("orphaned: its owner")
        });
        let note = wrong.map_or_else(String::new, |row| format!("{row:?}"));
        (ended, reaped, note)
    }));
    [
        Cell {
            store: backend.name(),
            fault: "owner SIGKILLed",
            promise: "its 50 rows ended: lease + a heartbeat",
            promised: LEASE + HEARTBEAT,
            measured: ended,
            note,
        },
        Cell {
            store: backend.name(),
            fault: "owner SIGKILLed",
            promise: "its lease row reaped: 2 leases + a heartbeat",
            promised: LEASE * 2 + HEARTBEAT,
            measured: reaped,
            note: String::new(),
        },
    ]
}

/// Tasks that block both workers at shutdown: their rows are ended at the grace through the
/// store's writer thread (and, for Postgres, connections on the store's I/O thread), read
/// meanwhile by a raw client on a thread of its own.
fn workers_blocked(backend: &Backend) -> Cell {
    let grace = Duration::from_millis(300);
    let rt = runtime(2);
    let begun = Instant::now();
    // The grace runs from the shutdown's call: the store's opening and the spawns before it
    // are not part of the promise.
    let shutdown_at = Arc::new(std::sync::OnceLock::<Instant>::new());
    let watcher = {
        let (backend, shutdown_at) = (backend.clone(), Arc::clone(&shutdown_at));
        std::thread::spawn(move || {
            let mut ended = raw_count(
                &backend,
                "SELECT count(*) FROM job_status WHERE status = 'Failed'",
            );
            while begun.elapsed() < Duration::from_secs(10) {
                if let Some(at) = shutdown_at.get()
                    && ended() == 2
                {
                    return Some(at.elapsed());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            None
        })
    };
    let note = rt.block_on(backend.with(async |store| {
        let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
        for n in 0..2 {
            supervisor
                .spawn(format!("blocked-{n}"), (), |job| async move {
                    let running = job.to_running();
                    std::thread::sleep(Duration::from_millis(1500));
                    Ok::<_, String>(running.to_done())
                })
                .await
                .unwrap();
        }
        let _ = shutdown_at.set(Instant::now());
        match supervisor.shutdown(grace).await {
            Ok(report) if report.rows.iter().all(|row| row.status == "Failed") => String::new(),
            Ok(report) => format!("{:?}", report.rows),
            Err(error) => error.to_string(),
        }
    }));
    rt.shutdown_timeout(Duration::from_secs(5));
    Cell {
        store: backend.name(),
        fault: "every worker blocked",
        promise: "rows ended at the shutdown grace",
        promised: grace,
        measured: watcher.join().unwrap(),
        note,
    }
}

/// A count `query` reads with a client of the backend's own, outside any store and runtime
/// of the test's (0 while it cannot be read).
fn raw_count(backend: &Backend, query: &'static str) -> Box<dyn FnMut() -> i64> {
    match backend {
        Backend::Sqlite(path) => {
            let raw = rusqlite::Connection::open(path).unwrap();
            Box::new(move || raw.query_row(query, [], |row| row.get(0)).unwrap_or(0))
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres(url) => {
            let rt = Builder::new_current_thread().enable_all().build().unwrap();
            let raw = rt.block_on(async {
                let (client, connection) = fixpoint::store::tokio_postgres::connect(
                    url,
                    fixpoint::store::tokio_postgres::NoTls,
                )
                .await
                .unwrap();
                tokio::spawn(connection);
                client
            });
            Box::new(move || {
                rt.block_on(raw.query_one(query, &[]))
                    .map_or(0, |row| row.get(0))
            })
        }
    }
}

/// The server restarted while a batch of 2,000 tasks' transitions is being written: the
/// writes are retried whole, and every row ends `Done` (a batch applied before the connection
/// dropped is refused the second time by its compare-and-set, never applied twice).
#[cfg(feature = "postgres")]
fn server_restarted(cluster: &cluster::Cluster) -> Cell {
    let backend = Backend::Postgres(cluster.create_database("restart_mid_batch"));
    let rt = runtime(2);
    let (measured, note) = rt.block_on(backend.with(async |store| {
        let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
        let (open, gate) = tokio::sync::watch::channel(false);
        for n in 0..2000 {
            let mut gate = gate.clone();
            supervisor
                .spawn(format!("r{n:04}"), (), move |job| async move {
                    let running = job.to_running();
                    let _ = gate.wait_for(|open| *open).await;
                    Ok::<_, String>(running.to_done())
                })
                .await
                .unwrap();
        }
        // Their rows are in before the restart: the fault is for the transitions.
        supervisor.flush().await.unwrap();
        open.send(true).unwrap();
        // The tasks' writes are in flight now; this thread is the caller's (no worker), so
        // blocking it for the restart holds nothing of the supervisor back. An immediate stop:
        // the connections drop mid-statement, as in a server crash.
        tokio::task::yield_now().await;
        cluster.crash();
        cluster.start_again();
        let back = Instant::now();
        while supervisor.flush().await.is_err() {
            if back.elapsed() > Duration::from_secs(30) {
                return (None, "the writes never landed".to_owned());
            }
        }
        let measured = back.elapsed();
        // The fault was injected: some batch failed on the dropped connection.
        let failed_batches = supervisor.counters().store_errors();
        let report = supervisor.shutdown(Duration::from_secs(5)).await.unwrap();
        if failed_batches == 0 {
            return (Some(measured), "the restart hit no batch".to_owned());
        }
        let done = report
            .rows
            .iter()
            .filter(|row| row.status == "Done")
            .count();
        let note = if done == 2000 {
            String::new()
        } else {
            let other: Vec<_> = report
                .rows
                .iter()
                .filter(|row| row.status != "Done")
                .take(3)
                .collect();
            format!(
                "{done} of 2,000 rows Done; {other:?}; refused {:?}",
                report.refused.first()
            )
        };
        (Some(measured), note)
    }));
    Cell {
        store: "PostgresStore",
        fault: "server restarted mid-batch",
        promise: "every write lands once: the writer's backoff",
        promised: Duration::from_secs(1),
        measured,
        note,
    }
}

#[test]
fn every_row_ends_under_every_fault_from_outside() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    if let Ok(backend) = std::env::var(CHILD) {
        owner_until_killed(&backend);
    }
    let mut cells = Vec::new();
    cells.push(poison_row(&Backend::sqlite("poison")));
    cells.extend(owner_killed(&Backend::sqlite("killed")));
    cells.push(workers_blocked(&Backend::sqlite("blocked")));
    #[cfg(feature = "postgres")]
    {
        let shared = cluster::Cluster::shared();
        cells.push(poison_row(&Backend::Postgres(
            shared.create_database("rows_poison"),
        )));
        cells.extend(owner_killed(&Backend::Postgres(
            shared.create_database("rows_killed"),
        )));
        cells.push(workers_blocked(&Backend::Postgres(
            shared.create_database("rows_blocked"),
        )));
        // Its own server: this cell crashes it. Durable, as in production: a server that
        // acknowledges commits it has not flushed loses them in a crash, whoever wrote them.
        let own = cluster::Cluster::start_with(cluster::Options {
            durable: true,
            ..cluster::Options::default()
        });
        cells.push(server_restarted(&own));
    }
    print(&cells);
    let broken: Vec<_> = cells
        .iter()
        .filter(|cell| !cell.kept())
        .map(|cell| {
            format!(
                "{} / {} / {}: {:?} {}",
                cell.store, cell.fault, cell.promise, cell.measured, cell.note
            )
        })
        .collect();
    assert!(broken.is_empty(), "promises broken: {broken:#?}");
}
