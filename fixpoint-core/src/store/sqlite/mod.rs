//! The SQLite status store: a real file, bundled SQLite, and a schema generated from the
//! lifecycle so that no other program can write a status the lifecycle does not declare.
//!
//! SQLite is blocking I/O, so none of it runs on the async runtime's threads: every request
//! is a job for the store's own thread (`thread`), which owns the connection, caches its
//! prepared statements (`sql`), and commits whatever requests are waiting in one transaction
//! (group commit).

mod schema;
mod sql;
mod thread;

use core::fmt;
use core::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use rusqlite::{Connection, Transaction, params};
use tokio::sync::oneshot;

use crate::lifecycle::{Lifecycle, State};
use crate::store::now_millis;
use crate::store::{Refused, Retention, Row, RowWrite, StatusStore, StoreError};
use sql::{Sql, backend};
use thread::{Job, Request};

/// A [`StatusStore`] in a SQLite file, shared by every process that opens it.
///
/// The table is `<lifecycle>_status` (for `ProjectStatus`, `project_status_status`), created
/// with a `CHECK` constraint that lists exactly the declared states; leases live in
/// `fixpoint_leases`. See [`schema`](SqliteStore::schema).
///
/// Requests run on the store's own thread, never on the async runtime's: an `async fn` of
/// this store only queues a job and awaits its answer. The jobs waiting when the thread is
/// free are committed together in one transaction (each batch of [`StatusStore::apply`] in
/// a savepoint of its own, all or nothing); an answer is sent only after that commit, so once
/// a request (or the supervisor's `flush`) has returned, a killed process loses none of it
/// (WAL journal; `synchronous = NORMAL` survives a process crash, not a power cut).
///
/// A full disk (or a `PRAGMA max_page_count` reached) is a [`StoreError::Backend`] saying
/// "database or disk is full"; the request that hit it changed nothing, and the store goes on
/// serving reads and, once there is room again, writes.
pub struct SqliteStore<L> {
    jobs: mpsc::Sender<Job>,
    sql: Arc<Sql>,
    lifecycle: PhantomData<fn() -> L>,
}

impl<L> Clone for SqliteStore<L> {
    fn clone(&self) -> Self {
        SqliteStore {
            jobs: self.jobs.clone(),
            sql: Arc::clone(&self.sql),
            lifecycle: PhantomData,
        }
    }
}

impl<L: Lifecycle> SqliteStore<L> {
    /// Opens (creating if needed) the store at `path`, with the lifecycle's table, and starts
    /// its thread (which ends when the last clone of the store is dropped).
    ///
    /// A table set up for another form of the lifecycle (states or edges added since, or by an
    /// earlier version of this crate) is migrated to this one in one transaction: its `CHECK`
    /// and triggers replaced, its rows kept.
    ///
    /// # Errors
    ///
    /// [`StoreError::StatesRemoved`], with the count of rows per state, when rows hold states
    /// the lifecycle no longer declares (nothing is changed); [`StoreError::Backend`] when the
    /// file cannot be opened or the schema applied.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, |_| Ok(()))
    }

    /// Like [`open`](Self::open), running `setup` on the connection first (a `PRAGMA`, a
    /// size limit): for tests and tuning.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened, `setup` fails, or the schema
    /// cannot be applied.
    pub fn open_with(
        path: impl AsRef<Path>,
        setup: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> Result<Self, StoreError> {
        let mut connection = Connection::open(path).map_err(backend)?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(backend)?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(backend)?;
        setup(&connection).map_err(backend)?;
        schema::Schema::new::<L>(&Self::table()).set_up(&mut connection)?;
        connection.set_prepared_statement_cache_capacity(32);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(format!("fixpoint-sqlite-{}", Self::table()))
            .spawn(move || thread::serve(&mut connection, &queue))
            .map_err(|error| {
                StoreError::Backend(format!("cannot start the store's thread: {error}"))
            })?;
        Ok(SqliteStore {
            jobs,
            sql: Arc::new(Sql::new::<L>(&Self::table())),
            lifecycle: PhantomData,
        })
    }

    /// Runs `setup` on the store's own connection, on its thread, between two transactions,
    /// and returns what it returns. Connection settings such as `PRAGMA max_page_count` hold
    /// for one connection only, so this is how a running store is retuned:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # #[fixpoint::terminal_state] pub enum Job { #[initial] #[to(Done)] Queued, #[terminal] #[abandoned] Done }
    /// # let path = std::env::temp_dir().join(format!("fixpoint-doc-configure-{}.db", std::process::id()));
    /// let store = fixpoint::store::SqliteStore::<Job>::open(&path).unwrap();
    /// // Room for a bigger file, now that the disk has some.
    /// let limit: i64 = store
    ///     .configure(|connection| {
    ///         connection.pragma_update_and_check(None, "max_page_count", 1_000_000, |row| row.get(0))
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(limit, 1_000_000);
    /// # }
    /// ```
    ///
    /// `setup` must leave no transaction open: the requests after it run in transactions of
    /// their own.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] with `setup`'s error or panic, or when the store's thread has
    /// stopped.
    pub async fn configure<T: Send + 'static>(
        &self,
        setup: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = oneshot::channel();
        let job = Job::Alone(Box::new(move |connection: &mut Connection| {
            // A panic in `setup` is the caller's error, not the end of the store's thread.
            let ran = std::panic::catch_unwind(AssertUnwindSafe(|| setup(connection)));
            let _ = answer.send(match ran {
                Ok(result) => result.map_err(backend),
                Err(_) => Err(StoreError::Backend(
                    "the store's `configure` setup panicked".into(),
                )),
            });
        }));
        self.jobs.send(job).map_err(|_| thread::stopped())?;
        answered.await.unwrap_or_else(|_| Err(thread::stopped()))
    }

    /// The table's name: the lifecycle's name in snake case, as the lifecycle's generated
    /// module spells it ([`Lifecycle::snake_name`]: `HTTPJob` -> `http_job`), then `_status`.
    #[must_use]
    pub fn table() -> String {
        format!("{}_status", L::snake_name())
    }

    /// The schema, generated from the lifecycle: the status column accepts exactly the
    /// declared states, and two triggers refuse, for any client that writes the table (the
    /// `sqlite3` shell, another program, a migration), an insert in any state but the initial
    /// one and a change of status the lifecycle does not declare (an undeclared edge, any
    /// move out of a terminal state). Opening a file whose table was set up for an earlier
    /// form of the lifecycle migrates it in one transaction (see [`open`](Self::open)).
    #[must_use]
    pub fn schema() -> String {
        schema::Schema::new::<L>(&Self::table()).script()
    }

    /// Runs `work` on the store's thread inside a group's transaction (again, if SQLite rolls
    /// that transaction back under another request), and answers once it has committed.
    async fn run<T: Send + 'static>(
        &self,
        mut work: impl FnMut(&Transaction<'_>, &Sql) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = oneshot::channel();
        let sql = Arc::clone(&self.sql);
        let request = Request::new(
            move |transaction: &Transaction<'_>| work(transaction, &sql),
            answer,
        );
        self.jobs
            .send(Job::Grouped(Box::new(request)))
            .map_err(|_| thread::stopped())?;
        answered.await.unwrap_or_else(|_| Err(thread::stopped()))
    }
}

impl<L: Lifecycle> StatusStore<L> for SqliteStore<L> {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.run(move |transaction, sql| {
            let inserted = transaction
                .prepare_cached(&sql.insert)
                .and_then(|mut statement| {
                    statement.execute(params![id, owner, L::initial().name(), now_millis()])
                })
                .map_err(backend)?;
            if inserted == 1 {
                return Ok(());
            }
            let status = sql::owner_and_status(transaction, sql, &id)?
                .map(|(_, status)| status)
                .unwrap_or_default();
            Err(StoreError::IdTaken {
                id: id.clone(),
                status,
            })
        })
        .await
    }

    async fn apply(&self, owner: &str, writes: &[RowWrite<L>]) -> Result<Refused, StoreError> {
        let owner = owner.to_owned();
        let writes = writes.to_vec();
        self.run(move |transaction, sql| {
            let now = now_millis();
            sql::atomically(transaction, || {
                sql::apply(transaction, sql, &owner, &writes, now)
            })
        })
        .await
    }

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.run(move |transaction, _| {
            transaction
                .prepare_cached(
                    "INSERT INTO fixpoint_leases (owner, expires_at) VALUES (?1, ?2) \
                     ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at",
                )
                .and_then(|mut statement| {
                    statement.execute(params![owner, now_millis().saturating_add(ttl)])
                })
                .map(drop)
                .map_err(backend)
        })
        .await
    }

    async fn reap_leases(&self, grace: Duration) -> Result<u64, StoreError> {
        let grace = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        self.run(move |transaction, _| {
            transaction
                .prepare_cached("DELETE FROM fixpoint_leases WHERE expires_at < ?1")
                .and_then(|mut statement| statement.execute([now_millis().saturating_sub(grace)]))
                .map(|deleted| deleted as u64)
                .map_err(backend)
        })
        .await
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        self.run(move |transaction, _| {
            transaction
                .prepare_cached("DELETE FROM fixpoint_leases WHERE owner = ?1")
                .and_then(|mut statement| statement.execute([&owner]))
                .map(drop)
                .map_err(backend)
        })
        .await
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        self.run(move |transaction, sql| {
            sql::select_rows(transaction, &sql.orphans, [now_millis()])
        })
        .await
    }

    async fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: State<L>,
        to_owner: &str,
    ) -> Result<bool, StoreError> {
        let (id, from_owner, to_owner) =
            (id.to_owned(), from_owner.to_owned(), to_owner.to_owned());
        self.run(move |transaction, sql| {
            let now = now_millis();
            if sql::lease_is_live(transaction, &from_owner, now)? {
                return Ok(false);
            }
            let changed = transaction
                .prepare_cached(&sql.adopt)
                .and_then(|mut statement| {
                    statement.execute(params![to_owner, now, id, from_owner, status.name()])
                })
                .map_err(backend)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn prune(&self, retention: Retention) -> Result<u64, StoreError> {
        self.run(move |transaction, sql| {
            let mut pruned = 0;
            if let Some(cutoff) = retention.cutoff(now_millis()) {
                pruned += transaction
                    .execute(&sql.prune_by_age, [cutoff])
                    .map_err(backend)?;
            }
            if let Some(keep) = retention.max_rows {
                let keep = i64::try_from(keep).unwrap_or(i64::MAX);
                pruned += transaction
                    .execute(&sql.prune_by_count, [keep])
                    .map_err(backend)?;
            }
            Ok(pruned as u64)
        })
        .await
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        self.run(move |transaction, sql| sql::select_rows(transaction, &sql.rows, []))
            .await
    }
}

impl<L> fmt::Debug for SqliteStore<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.sql.table)
            .finish()
    }
}
