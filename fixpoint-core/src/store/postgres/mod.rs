//! The PostgreSQL status store: one table shared by a fleet of supervisors on several hosts,
//! generated from the lifecycle as `SqliteStore`'s is, with leases on the server's clock.
//!
//! The driver is `tokio-postgres`, made for tokio: every request is async and nothing blocks a
//! runtime thread. Its connections come from a `deadpool-postgres` pool rather than one of our
//! own, because that pool already does the three things a store that outlives a server restart
//! needs: it replaces a connection the server closed (instead of failing once per dead
//! connection), it caches prepared statements per connection, and it waits for a free
//! connection asynchronously, with a timeout. `sqlx` was not chosen: it brings its own runtime
//! layer and macros for what a dozen fixed statements need.
//!
//! A batch ([`StatusStore::apply`]) is one statement, a call of the table's `<table>_apply`
//! function: one round trip and one transaction however many writes it holds, each write still
//! a compare-and-set of its own, in order. A batch the server refuses for its data is applied
//! again with each bad write isolated (`isolate`).

mod batch;
mod io;
mod isolate;
mod schema;
mod sql;

pub use io::PgIoThread;

use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
    tokio_postgres::{self, NoTls, error::SqlState},
};

use crate::lifecycle::{Lifecycle, State};
use crate::store::{Refused, Retention, Row, RowWrite, StatusStore, StoreError};
use batch::{Batch, refusal};
use sql::Sql;

/// How many connections [`PostgresStore::connect`] keeps at most: the supervisor's writer,
/// its lease loop and a reconcile each hold one at a time.
pub const DEFAULT_POOL_SIZE: usize = 4;

/// The longest lease or retention age the store writes, in seconds (about 30 years): a longer
/// `Duration` is clamped rather than overflowing the server's `interval`.
const LONGEST: f64 = 1e9;

/// How often a batch the server aborted for a deadlock (two hosts' batches locking the same
/// rows in opposite orders) is tried again before the error is returned.
const DEADLOCK_RETRIES: usize = 3;

/// The advisory lock that serializes schema set-up: hosts starting at once would otherwise
/// race on `CREATE TABLE IF NOT EXISTS` and `CREATE OR REPLACE FUNCTION`.
const SCHEMA_LOCK: i64 = 0x6669_7870_6f69_6e74; // "fixpoint"

/// A [`StatusStore`] in a PostgreSQL table, shared by every supervisor, on any host, that
/// connects to the same database (feature `postgres`).
///
/// The table is `<lifecycle>_status` (for `ProjectStatus`, `project_status_status`), created
/// with a `CHECK` constraint that lists exactly the declared states; leases live in
/// `fixpoint_leases`. See [`schema`](PostgresStore::schema).
///
/// What a fleet needs from it:
/// - Transitions are compare-and-set on the row's status and owner
///   (`UPDATE .. WHERE id = .. AND owner = .. AND status = ..`): a supervisor whose rows were
///   adopted after its lease lapsed has each later write refused ([`StoreError::Fenced`]).
/// - Leases are kept on the **server's** clock (`now()`): hosts' clocks may disagree, the
///   server's is the one every host reads.
/// - [`adopt`](StatusStore::adopt) is one `UPDATE` that checks the row's owner and status and
///   that the owner holds no live lease: hosts reconciling at once never adopt a row twice (the
///   second waits on the first's row lock, then finds the owner changed).
/// - A batch is one statement in one transaction: all of it applies, or (on a
///   [`StoreError::Backend`]) none of it.
///
/// Connections are plain TCP from [`connect`](Self::connect); for TLS, other timeouts or a
/// bigger pool, build a [`deadpool_postgres::Pool`] and use [`from_pool`](Self::from_pool).
/// The connections run on a thread of their own ([`PgIoThread`]), not on your runtime's
/// workers, so the supervisor's writes reach the server while every worker is blocked; a pool
/// of your own keeps that only if its manager opens them with [`PgIoThread`] too.
///
/// ```no_run
/// use fixpoint::{store::PostgresStore, task::Supervisor, terminal_state};
///
/// #[terminal_state]
/// pub enum Job { #[initial] #[to(Done)] Queued, #[terminal] #[abandoned] Done }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::<Job>::connect("host=db.internal user=fleet dbname=jobs").await?;
/// let mut supervisor = Supervisor::start(store, Default::default()).await?;
/// supervisor.spawn("job-1", (), |job| async move { job.to_done() }).await?;
/// # Ok(()) }
/// ```
pub struct PostgresStore<L> {
    pool: Pool,
    sql: Arc<Sql>,
    lifecycle: PhantomData<fn() -> L>,
}

impl<L> Clone for PostgresStore<L> {
    fn clone(&self) -> Self {
        PostgresStore {
            pool: self.pool.clone(),
            sql: Arc::clone(&self.sql),
            lifecycle: PhantomData,
        }
    }
}

impl<L: Lifecycle> PostgresStore<L> {
    /// Connects to the database `config` names (a libpq-style string such as
    /// `host=10.0.0.5 port=5432 user=fleet dbname=jobs`, or a `postgresql://` URL), over plain
    /// TCP, with a pool of up to [`DEFAULT_POOL_SIZE`] connections, and creates the lifecycle's
    /// table if it is missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when `config` does not parse, the server cannot be reached, or
    /// the schema cannot be applied.
    pub async fn connect(config: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = config.parse().map_err(|error| {
            StoreError::Backend(format!(
                "the connection string does not parse ({error}); write it as \
                 `host=.. port=.. user=.. dbname=..` or `postgresql://user@host:port/dbname`"
            ))
        })?;
        let connect = PgIoThread::new(NoTls).map_err(|error| {
            StoreError::Backend(format!("cannot start the Postgres I/O thread: {error}"))
        })?;
        let manager = Manager::from_connect(
            config,
            connect,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(DEFAULT_POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|error| StoreError::Backend(format!("cannot build the pool: {error}")))?;
        Self::from_pool(pool).await
    }

    /// A store over `pool` (TLS, pool size and timeouts are the pool's), after creating what
    /// of the [`schema`](Self::schema) is missing. Hosts that start at once create it once: the
    /// set-up holds an advisory lock. Nothing that exists is created again, so a role allowed
    /// only to use the tables and the function (`SELECT`, `INSERT`, `UPDATE`, `DELETE`,
    /// `EXECUTE`) connects to a schema another role made.
    ///
    /// A table set up for another form of the lifecycle (states or edges added since, or by an
    /// earlier version of this crate, before the trigger) is migrated in the same transaction:
    /// its `CHECK` and trigger replaced, its rows kept (this needs the table's owner).
    ///
    /// # Errors
    ///
    /// [`StoreError::StatesRemoved`], with the count of rows per state, when rows hold states
    /// the lifecycle no longer declares (nothing is changed); [`StoreError::Backend`] when no
    /// connection can be had or the schema cannot be applied.
    pub async fn from_pool(pool: Pool) -> Result<Self, StoreError> {
        let schema = schema::Schema::new::<L>(&Self::table());
        let mut client = pool.get().await.map_err(pool_error)?;
        let transaction = client.transaction().await.map_err(backend)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await
            .map_err(backend)?;
        // Only what is missing or different is created: a role that may use the tables but
        // not create them (or not replace a function another role owns) still connects.
        let found = transaction
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL, to_regclass('fixpoint_leases') IS NOT NULL, \
                 (SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure($2)), \
                 obj_description(to_regclass($1), 'pg_class')",
                &[&Self::table(), &schema.signature],
            )
            .await
            .map_err(backend)?;
        let (has_table, has_leases, body, comment): (bool, bool, Option<String>, Option<String>) = (
            found.try_get(0).map_err(backend)?,
            found.try_get(1).map_err(backend)?,
            found.try_get(2).map_err(backend)?,
            found.try_get(3).map_err(backend)?,
        );
        if !has_leases {
            transaction
                .batch_execute(schema.leases)
                .await
                .map_err(backend)?;
        }
        if !has_table {
            transaction
                .batch_execute(&schema.table)
                .await
                .map_err(backend)?;
        }
        // The comment says which lifecycle the table enforces: a new table gets its trigger
        // and comment here, a table set up for another form of the lifecycle (or before the
        // trigger) is migrated.
        if comment.as_deref() != Some(schema.comment.as_str()) {
            schema.migrate(&transaction).await?;
        }
        if body.as_deref() != Some(schema.body.as_str()) {
            transaction
                .batch_execute(&schema.function)
                .await
                .map_err(backend)?;
        }
        transaction.commit().await.map_err(backend)?;
        Ok(PostgresStore {
            pool,
            sql: Arc::new(Sql::new::<L>(&Self::table())),
            lifecycle: PhantomData,
        })
    }

    /// The table's name: the lifecycle's name in snake case ([`Lifecycle::snake_name`]:
    /// `HTTPJob` -> `http_job`), then `_status`.
    #[must_use]
    pub fn table() -> String {
        format!("{}_status", L::snake_name())
    }

    /// The schema, generated from the lifecycle: the status table (its `CHECK` accepts exactly
    /// the declared states), the shared `fixpoint_leases` table, `<table>_apply`, the
    /// function that applies a batch in order in one statement, and `<table>_lifecycle`, the
    /// trigger that refuses for any client (psql, another language, a migration, the apply
    /// function itself) an insert in any state but the initial one and a change of status the
    /// lifecycle does not declare: an undeclared edge, any move out of a terminal state. The
    /// table's comment names the lifecycle it enforces.
    #[must_use]
    pub fn schema() -> String {
        schema::Schema::new::<L>(&Self::table()).script()
    }

    /// The store's pool, for queries of your own against the same database.
    #[must_use]
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Runs `sql` with `params` on a pooled connection, as a cached prepared statement.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(backend)?;
        client.query(&statement, params).await.map_err(backend)
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(backend)?;
        client.execute(&statement, params).await.map_err(backend)
    }

    /// One call of `<table>_apply`, tried again when the server aborted it for a deadlock.
    /// `Ok(None)` when the server refused it for its data: none of it applied.
    async fn apply_batch(
        &self,
        owner: &str,
        batch: &Batch<'_>,
    ) -> Result<Option<Vec<tokio_postgres::Row>>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&self.sql.apply)
            .await
            .map_err(backend)?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&owner, &batch.ids, &batch.froms, &batch.tos, &batch.reasons];
        let mut attempt = 0;
        loop {
            match client.query(&statement, &params).await {
                Err(error) if attempt < DEADLOCK_RETRIES && is_deadlock(&error) => attempt += 1,
                Err(error) if isolate::refuses_data(&error) => return Ok(None),
                answer => return answer.map(Some).map_err(backend),
            }
        }
    }
}

impl<L: Lifecycle> StatusStore<L> for PostgresStore<L> {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let initial = L::initial().name();
        let rows = self
            .query(&self.sql.insert, &[&id, &owner, &initial])
            .await?;
        let (made, status): (bool, Option<String>) = rows
            .first()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
            .map_err(backend)?
            .unwrap_or_default();
        if made {
            return Ok(());
        }
        let status = match status {
            Some(status) => status,
            // The row that holds the id was committed after the insert's snapshot.
            None => self
                .query(&self.sql.status, &[&id])
                .await?
                .first()
                .and_then(|row| row.try_get(0).ok())
                .unwrap_or_default(),
        };
        Err(StoreError::IdTaken {
            id: id.to_owned(),
            status,
        })
    }

    async fn apply(&self, owner: &str, writes: &[RowWrite<L>]) -> Result<Refused, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        match self.apply_batch(owner, &Batch::new(writes)).await? {
            Some(rows) => {
                // The function answers round by round: in the batch's order here.
                let mut refused: Refused = rows
                    .iter()
                    .map(|row| refusal(row, owner, writes))
                    .collect::<Result<_, _>>()?;
                refused.sort_unstable_by_key(|&(index, _)| index);
                Ok(refused)
            }
            // One write or more the server refuses for its data: each stands alone.
            None => self.apply_isolating(owner, writes).await,
        }
    }

    /// The pool's size less two (the supervisor's lease loop and a reconcile or an inspection
    /// keep a connection each), at least one: two with [`connect`](Self::connect)'s pool of
    /// [`DEFAULT_POOL_SIZE`].
    fn parallel_batches(&self) -> usize {
        self.pool.status().max_size.saturating_sub(2).max(1)
    }

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        let ttl = ttl.as_secs_f64().min(LONGEST);
        self.execute(self.sql.renew, &[&owner, &ttl])
            .await
            .map(drop)
    }

    async fn reap_leases(&self, grace: Duration) -> Result<u64, StoreError> {
        let grace = grace.as_secs_f64().min(LONGEST);
        self.execute(self.sql.reap_leases, &[&grace]).await
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        self.execute(self.sql.release, &[&owner]).await.map(drop)
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        let rows = self.query(&self.sql.orphans, &[]).await?;
        rows.iter().map(row).collect()
    }

    async fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: State<L>,
        to_owner: &str,
    ) -> Result<bool, StoreError> {
        let status = status.name();
        let changed = self
            .execute(&self.sql.adopt, &[&to_owner, &id, &from_owner, &status])
            .await?;
        Ok(changed == 1)
    }

    async fn prune(&self, retention: Retention) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(backend)?;
        let mut pruned = 0;
        if let Some(age) = retention.max_age {
            let age = age.as_secs_f64().min(LONGEST);
            let statement = transaction
                .prepare_cached(&self.sql.prune_by_age)
                .await
                .map_err(backend)?;
            pruned += transaction
                .execute(&statement, &[&age])
                .await
                .map_err(backend)?;
        }
        if let Some(keep) = retention.max_rows {
            let keep = i64::try_from(keep).unwrap_or(i64::MAX);
            let statement = transaction
                .prepare_cached(&self.sql.prune_by_count)
                .await
                .map_err(backend)?;
            pruned += transaction
                .execute(&statement, &[&keep])
                .await
                .map_err(backend)?;
        }
        transaction.commit().await.map_err(backend)?;
        Ok(pruned)
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        let rows = self.query(&self.sql.rows, &[]).await?;
        rows.iter().map(row).collect()
    }
}

/// A status row from a `SELECT id, owner, status, reason, finished_at ..` (the last in
/// milliseconds since the Unix epoch, `NULL` while the row is not terminal).
fn row(row: &tokio_postgres::Row) -> Result<Row, StoreError> {
    Ok(Row {
        id: row.try_get(0).map_err(backend)?,
        owner: row.try_get(1).map_err(backend)?,
        status: row.try_get(2).map_err(backend)?,
        reason: row.try_get(3).map_err(backend)?,
        finished_at: row.try_get(4).map_err(backend)?,
    })
}

fn backend(error: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(format!("postgres: {}", with_causes(&error)))
}

fn pool_error(error: PoolError) -> StoreError {
    StoreError::Backend(format!(
        "postgres: no connection to the server: {}",
        with_causes(&error)
    ))
}

/// `error` and each of its causes: the driver's own text is a kind ("db error"), the server's
/// message is its cause.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let more = error.to_string();
        if !text.ends_with(&more) {
            text = format!("{text}: {more}");
        }
        cause = error.source();
    }
    text
}

fn is_deadlock(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED)
}

impl<L> fmt::Debug for PostgresStore<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.sql.table)
            .field("pool", &self.pool.status())
            .finish()
    }
}
