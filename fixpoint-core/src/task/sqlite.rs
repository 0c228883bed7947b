//! The SQLite status store: a real file, bundled SQLite, and a schema generated from the
//! lifecycle so that no other program can write a status the lifecycle does not declare.
//!
//! SQLite is blocking I/O, so none of it runs on the async runtime's threads: every request
//! is a job for the store's own thread, which owns the connection, caches its prepared
//! statements, and commits whatever requests are waiting in one transaction (group commit).

use core::fmt;
use core::marker::PhantomData;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use super::now_millis;
use super::store::{Refused, Retention, Row, RowChange, RowWrite, StatusStore, StoreError};
use crate::lifecycle::{Lifecycle, State};

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
pub struct SqliteStore<L> {
    jobs: mpsc::Sender<Job>,
    table: Arc<str>,
    lifecycle: PhantomData<fn() -> L>,
}

/// Work for the store's thread, run inside the group's transaction (or told why there is
/// none).
type Job = Box<dyn FnOnce(Result<&Transaction<'_>, &StoreError>) -> Reply + Send>;
/// Sends the job's answer once the group has committed, or the commit's error.
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

impl<L> Clone for SqliteStore<L> {
    fn clone(&self) -> Self {
        SqliteStore {
            jobs: self.jobs.clone(),
            table: Arc::clone(&self.table),
            lifecycle: PhantomData,
        }
    }
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl<L: Lifecycle> SqliteStore<L> {
    /// Opens (creating if needed) the store at `path`, with the lifecycle's table, and starts
    /// its thread (which ends when the last clone of the store is dropped).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened or the schema applied.
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
        connection.execute_batch(&Self::schema()).map_err(backend)?;
        connection.set_prepared_statement_cache_capacity(32);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(format!("fixpoint-sqlite-{}", Self::table()))
            .spawn(move || serve(&mut connection, &queue))
            .map_err(|error| {
                StoreError::Backend(format!("cannot start the store's thread: {error}"))
            })?;
        Ok(SqliteStore {
            jobs,
            table: Self::table().into(),
            lifecycle: PhantomData,
        })
    }

    /// The table's name: the lifecycle's name in snake case, then `_status`.
    #[must_use]
    pub fn table() -> String {
        let mut name = String::new();
        for (i, c) in L::name().chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                name.push('_');
            }
            name.extend(c.to_lowercase());
        }
        name + "_status"
    }

    /// The schema, generated from the lifecycle: the status column accepts exactly the
    /// declared states.
    #[must_use]
    pub fn schema() -> String {
        let states: Vec<String> = L::states()
            .map(|state| format!("'{}'", state.name()))
            .collect();
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\n\
             \x20   id TEXT PRIMARY KEY NOT NULL,\n\
             \x20   owner TEXT NOT NULL,\n\
             \x20   status TEXT NOT NULL CHECK (status IN ({states})),\n\
             \x20   reason TEXT,\n\
             \x20   updated_at INTEGER NOT NULL\n\
             );\n\
             CREATE INDEX IF NOT EXISTS {table}_by_status ON {table} (status);\n\
             CREATE TABLE IF NOT EXISTS fixpoint_leases (\n\
             \x20   owner TEXT PRIMARY KEY NOT NULL,\n\
             \x20   expires_at INTEGER NOT NULL\n\
             );",
            table = Self::table(),
            states = states.join(", "),
        )
    }

    /// Runs `work` on the store's thread inside the current group's transaction, and answers
    /// once that group has committed.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Transaction<'_>, &str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = oneshot::channel();
        let table = Arc::clone(&self.table);
        let job: Job = Box::new(move |transaction| match transaction {
            Ok(transaction) => {
                let result = work(transaction, &table);
                Box::new(move |committed: Result<(), StoreError>| {
                    let _ = answer.send(committed.and(result));
                })
            }
            Err(error) => {
                let _ = answer.send(Err(error.clone()));
                Box::new(drop)
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Backend("the store's thread has stopped".into()))?;
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::Backend("the store's thread has stopped".into())))
    }

    /// The terminal states, quoted: rows in any other status (poisoned ones included) are
    /// unfinished.
    fn terminal_list() -> String {
        let states: Vec<String> = L::states()
            .filter(|state| state.is_terminal())
            .map(|state| format!("'{}'", state.name()))
            .collect();
        states.join(", ")
    }
}

/// The store's thread: takes every job waiting, runs them in one transaction, commits, then
/// answers them all. Ends when every sender is gone.
fn serve(connection: &mut Connection, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        jobs.extend(queue.try_iter().take(255));
        let transaction = match connection.transaction() {
            Ok(transaction) => transaction,
            Err(error) => {
                let error = backend(error);
                for job in jobs {
                    drop(job(Err(&error)));
                }
                continue;
            }
        };
        let replies: Vec<Reply> = jobs.into_iter().map(|job| job(Ok(&transaction))).collect();
        let committed = transaction.commit().map_err(backend);
        for reply in replies {
            reply(committed.clone());
        }
    }
}

/// Runs `work` in a savepoint: all of it, or none of it.
fn atomically<T>(
    transaction: &Transaction<'_>,
    work: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    transaction
        .execute_batch("SAVEPOINT fixpoint_batch")
        .map_err(backend)?;
    match work() {
        Ok(value) => {
            transaction
                .execute_batch("RELEASE fixpoint_batch")
                .map_err(backend)?;
            Ok(value)
        }
        Err(error) => {
            let _ = transaction.execute_batch("ROLLBACK TO fixpoint_batch; RELEASE fixpoint_batch");
            Err(error)
        }
    }
}

fn owner_and_status(
    transaction: &Transaction<'_>,
    table: &str,
    id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    transaction
        .prepare_cached(&format!("SELECT owner, status FROM {table} WHERE id = ?1"))
        .and_then(|mut statement| {
            statement
                .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(backend)
}

/// Applies one write as a compare-and-set on owner (and status for a transition); on a
/// refusal, reads the row to say why.
fn apply_one<L: Lifecycle>(
    transaction: &Transaction<'_>,
    table: &str,
    owner: &str,
    write: &RowWrite<L>,
    now: i64,
) -> Result<Result<(), StoreError>, StoreError> {
    let id = write.id();
    let changed = match write.change() {
        RowChange::Transition(transition) => transaction
            .prepare_cached(&format!(
                "UPDATE {table} SET status = ?1, updated_at = ?2 \
                 WHERE id = ?3 AND owner = ?4 AND status = ?5"
            ))
            .and_then(|mut statement| {
                statement.execute(params![
                    transition.to().name(),
                    now,
                    id,
                    owner,
                    transition.from().name()
                ])
            }),
        RowChange::Reason(reason) => transaction
            .prepare_cached(&format!(
                "UPDATE {table} SET reason = ?1 WHERE id = ?2 AND owner = ?3"
            ))
            .and_then(|mut statement| statement.execute(params![reason, id, owner])),
    }
    .map_err(backend)?;
    if changed == 1 {
        return Ok(Ok(()));
    }
    let refusal = match owner_and_status(transaction, table, id)? {
        None => StoreError::NotFound { id: id.to_owned() },
        Some((found, _)) if found != owner => StoreError::Fenced {
            id: id.to_owned(),
            owner: found,
        },
        Some((_, found)) => match write.change() {
            RowChange::Transition(transition) => StoreError::Conflict {
                id: id.to_owned(),
                expected: transition.from().name(),
                found,
            },
            RowChange::Reason(_) => StoreError::Backend(format!("row `{id}` was not updated")),
        },
    };
    Ok(Err(refusal))
}

/// The rows a `SELECT id, owner, status, reason ..` returns.
fn select_rows(
    transaction: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Row>, StoreError> {
    let mut statement = transaction.prepare_cached(sql).map_err(backend)?;
    let rows = statement
        .query_map(params, |row| {
            Ok(Row {
                id: row.get(0)?,
                owner: row.get(1)?,
                status: row.get(2)?,
                reason: row.get(3)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

fn lease_is_live(transaction: &Transaction<'_>, owner: &str, now: i64) -> Result<bool, StoreError> {
    transaction
        .prepare_cached("SELECT 1 FROM fixpoint_leases WHERE owner = ?1 AND expires_at > ?2")
        .and_then(|mut statement| statement.exists(params![owner, now]))
        .map_err(backend)
}

impl<L: Lifecycle> StatusStore<L> for SqliteStore<L> {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.run(move |transaction, table| {
            let inserted = transaction
                .prepare_cached(&format!(
                    "INSERT INTO {table} (id, owner, status, updated_at) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (id) DO NOTHING"
                ))
                .and_then(|mut statement| {
                    statement.execute(params![id, owner, L::initial().name(), now_millis()])
                })
                .map_err(backend)?;
            if inserted == 1 {
                return Ok(());
            }
            let status = owner_and_status(transaction, table, &id)?
                .map(|(_, status)| status)
                .unwrap_or_default();
            Err(StoreError::IdTaken { id, status })
        })
        .await
    }

    async fn apply(&self, owner: &str, writes: &[RowWrite<L>]) -> Result<Refused, StoreError> {
        let owner = owner.to_owned();
        let writes = writes.to_vec();
        self.run(move |transaction, table| {
            let now = now_millis();
            atomically(transaction, || {
                let mut refused = Vec::new();
                for (index, write) in writes.iter().enumerate() {
                    if let Err(error) = apply_one(transaction, table, &owner, write, now)? {
                        refused.push((index, error));
                    }
                }
                Ok(refused)
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

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        self.run(move |transaction, _| {
            transaction
                .prepare_cached("DELETE FROM fixpoint_leases WHERE owner = ?1")
                .and_then(|mut statement| statement.execute([owner]))
                .map(drop)
                .map_err(backend)
        })
        .await
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        let terminal = Self::terminal_list();
        self.run(move |transaction, table| {
            let sql = format!(
                "SELECT id, owner, status, reason FROM {table} WHERE status NOT IN ({terminal}) \
                 AND owner NOT IN (SELECT owner FROM fixpoint_leases WHERE expires_at > ?1) \
                 ORDER BY id"
            );
            select_rows(transaction, &sql, [now_millis()])
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
        self.run(move |transaction, table| {
            let now = now_millis();
            if lease_is_live(transaction, &from_owner, now)? {
                return Ok(false);
            }
            let changed = transaction
                .prepare_cached(&format!(
                    "UPDATE {table} SET owner = ?1, updated_at = ?2 \
                     WHERE id = ?3 AND owner = ?4 AND status = ?5"
                ))
                .and_then(|mut statement| {
                    statement.execute(params![to_owner, now, id, from_owner, status.name()])
                })
                .map_err(backend)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn prune(&self, retention: Retention) -> Result<u64, StoreError> {
        let terminal = Self::terminal_list();
        self.run(move |transaction, table| {
            let mut pruned = 0;
            if let Some(cutoff) = retention.cutoff(now_millis()) {
                pruned += transaction
                    .execute(
                        &format!(
                            "DELETE FROM {table} WHERE status IN ({terminal}) AND updated_at < ?1"
                        ),
                        [cutoff],
                    )
                    .map_err(backend)?;
            }
            if let Some(keep) = retention.max_rows {
                let keep = i64::try_from(keep).unwrap_or(i64::MAX);
                pruned += transaction
                    .execute(
                        &format!(
                            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} \
                             WHERE status IN ({terminal}) ORDER BY updated_at DESC, rowid DESC \
                             LIMIT -1 OFFSET ?1)"
                        ),
                        [keep],
                    )
                    .map_err(backend)?;
            }
            Ok(pruned as u64)
        })
        .await
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        self.run(move |transaction, table| {
            let sql = format!("SELECT id, owner, status, reason FROM {table} ORDER BY id");
            select_rows(transaction, &sql, [])
        })
        .await
    }
}

impl<L> fmt::Debug for SqliteStore<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.table)
            .finish()
    }
}
