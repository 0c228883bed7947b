//! The SQLite status store: a real file, bundled SQLite, and a schema generated from the
//! lifecycle so that no other program can write a status the lifecycle does not declare.

use core::fmt;
use core::marker::PhantomData;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::now_millis;
use super::store::{Row, StatusStore, StoreError};
use crate::lifecycle::{Lifecycle, State};

/// A [`StatusStore`] in a SQLite file, shared by every process that opens it.
///
/// The table is `<lifecycle>_status` (for `ProjectStatus`, `project_status_status`), created
/// with a `CHECK` constraint that lists exactly the declared states; leases live in
/// `fixpoint_leases`. See [`schema`](SqliteStore::schema).
pub struct SqliteStore<L> {
    connection: Arc<Mutex<Connection>>,
    table: String,
    lifecycle: PhantomData<fn() -> L>,
}

impl<L> Clone for SqliteStore<L> {
    fn clone(&self) -> Self {
        SqliteStore {
            connection: Arc::clone(&self.connection),
            table: self.table.clone(),
            lifecycle: PhantomData,
        }
    }
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl<L: Lifecycle> SqliteStore<L> {
    /// Opens (creating if needed) the store at `path`, with the lifecycle's table.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened or the schema applied.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let connection = Connection::open(path).map_err(backend)?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(backend)?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(backend)?;
        connection.execute_batch(&Self::schema()).map_err(backend)?;
        Ok(SqliteStore {
            connection: Arc::new(Mutex::new(connection)),
            table: Self::table(),
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

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn status_of(&self, connection: &Connection, id: &str) -> Result<Option<String>, StoreError> {
        connection
            .query_row(
                &format!("SELECT status FROM {} WHERE id = ?1", self.table),
                [id],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)
    }

    /// The rows a `SELECT id, owner, status, reason ..` returns.
    fn select_rows(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Row>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(sql).map_err(backend)?;
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

impl<L: Lifecycle> StatusStore<L> for SqliteStore<L> {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let connection = self.lock();
        let sql = format!(
            "INSERT INTO {} (id, owner, status, updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
            self.table
        );
        let inserted = connection
            .execute(&sql, params![id, owner, L::initial().name(), now_millis()])
            .map_err(backend)?;
        if inserted == 1 {
            return Ok(());
        }
        let status = self.status_of(&connection, id)?.unwrap_or_default();
        Err(StoreError::IdTaken {
            id: id.to_owned(),
            status,
        })
    }

    async fn transition(&self, id: &str, from: State<L>, to: State<L>) -> Result<(), StoreError> {
        L::check_transition(from, to)?;
        let connection = self.lock();
        let sql = format!(
            "UPDATE {} SET status = ?1, updated_at = ?2 WHERE id = ?3 AND status = ?4",
            self.table
        );
        let changed = connection
            .execute(&sql, params![to.name(), now_millis(), id, from.name()])
            .map_err(backend)?;
        if changed == 1 {
            return Ok(());
        }
        match self.status_of(&connection, id)? {
            None => Err(StoreError::NotFound { id: id.to_owned() }),
            Some(found) => Err(StoreError::Conflict {
                id: id.to_owned(),
                expected: from.name(),
                found,
            }),
        }
    }

    async fn annotate(&self, id: &str, reason: &str) -> Result<(), StoreError> {
        let sql = format!("UPDATE {} SET reason = ?1 WHERE id = ?2", self.table);
        let changed = self
            .lock()
            .execute(&sql, params![reason, id])
            .map_err(backend)?;
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound { id: id.to_owned() })
        }
    }

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        let expires =
            now_millis().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        self.lock()
            .execute(
                "INSERT INTO fixpoint_leases (owner, expires_at) VALUES (?1, ?2) \
                 ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at",
                params![owner, expires],
            )
            .map_err(backend)?;
        Ok(())
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        self.lock()
            .execute("DELETE FROM fixpoint_leases WHERE owner = ?1", [owner])
            .map_err(backend)?;
        Ok(())
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        let sql = format!(
            "SELECT id, owner, status, reason FROM {} WHERE status NOT IN ({}) AND owner NOT IN \
             (SELECT owner FROM fixpoint_leases WHERE expires_at > ?1) ORDER BY id",
            self.table,
            Self::terminal_list()
        );
        self.select_rows(&sql, [now_millis()])
    }

    async fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: State<L>,
        to_owner: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE {} SET owner = ?1, updated_at = ?2 WHERE id = ?3 AND owner = ?4 AND status = ?5",
            self.table
        );
        let changed = self
            .lock()
            .execute(
                &sql,
                params![to_owner, now_millis(), id, from_owner, status.name()],
            )
            .map_err(backend)?;
        Ok(changed == 1)
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        let sql = format!(
            "SELECT id, owner, status, reason FROM {} ORDER BY id",
            self.table
        );
        self.select_rows(&sql, [])
    }
}

impl<L> fmt::Debug for SqliteStore<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.table)
            .finish()
    }
}
