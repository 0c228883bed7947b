//! The store's SQL, generated once per store from the lifecycle, and the statements that run
//! it inside the store thread's transaction.

use rusqlite::{OptionalExtension, Transaction, params};

use crate::Lifecycle;
use crate::store::{Refused, Row, RowChange, RowWrite, StoreError};

pub(super) fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// Every statement the store runs, with the table's name and the terminal states filled in:
/// built once, so a write costs a lookup in the prepared-statement cache and no formatting.
pub(super) struct Sql {
    pub(super) table: String,
    pub(super) insert: String,
    transition: String,
    reason: String,
    owner_and_status: String,
    pub(super) adopt: String,
    pub(super) orphans: String,
    pub(super) prune_by_age: String,
    pub(super) prune_by_count: String,
    pub(super) rows: String,
}

impl Sql {
    pub(super) fn new<L: Lifecycle>(table: &str) -> Self {
        let terminal: Vec<String> = L::states()
            .filter(|state| state.is_terminal())
            .map(|state| format!("'{}'", state.name()))
            .collect();
        let terminal = terminal.join(", ");
        Sql {
            table: table.to_owned(),
            insert: format!(
                "INSERT INTO {table} (id, owner, status, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO NOTHING"
            ),
            transition: format!(
                "UPDATE {table} SET status = ?1, updated_at = ?2 \
                 WHERE id = ?3 AND owner = ?4 AND status = ?5"
            ),
            reason: format!("UPDATE {table} SET reason = ?1 WHERE id = ?2 AND owner = ?3"),
            owner_and_status: format!("SELECT owner, status FROM {table} WHERE id = ?1"),
            adopt: format!(
                "UPDATE {table} SET owner = ?1, updated_at = ?2 \
                 WHERE id = ?3 AND owner = ?4 AND status = ?5"
            ),
            // Rows in any state but a terminal one (poisoned ones included) are unfinished.
            orphans: format!(
                "SELECT id, owner, status, reason, NULL FROM {table} \
                 WHERE status NOT IN ({terminal}) \
                 AND owner NOT IN (SELECT owner FROM fixpoint_leases WHERE expires_at > ?1) \
                 ORDER BY id"
            ),
            prune_by_age: format!(
                "DELETE FROM {table} WHERE status IN ({terminal}) AND updated_at < ?1"
            ),
            prune_by_count: format!(
                "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} \
                 WHERE status IN ({terminal}) ORDER BY updated_at DESC, rowid DESC \
                 LIMIT -1 OFFSET ?1)"
            ),
            // A terminal row's `updated_at` is when it turned terminal: nothing moves it after.
            rows: format!(
                "SELECT id, owner, status, reason, \
                 CASE WHEN status IN ({terminal}) THEN updated_at END FROM {table} ORDER BY id"
            ),
        }
    }
}

pub(super) fn owner_and_status(
    transaction: &Transaction<'_>,
    sql: &Sql,
    id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    transaction
        .prepare_cached(&sql.owner_and_status)
        .and_then(|mut statement| {
            statement
                .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(backend)
}

/// Applies `writes` in order, each a compare-and-set on owner (and on status for a
/// transition); the row of a refused write is read to say why. A backend error ends the
/// batch (the caller's savepoint undoes it).
pub(super) fn apply<L: Lifecycle>(
    transaction: &Transaction<'_>,
    sql: &Sql,
    owner: &str,
    writes: &[RowWrite<L>],
    now: i64,
) -> Result<Refused, StoreError> {
    let mut transition = transaction
        .prepare_cached(&sql.transition)
        .map_err(backend)?;
    let mut reason = transaction.prepare_cached(&sql.reason).map_err(backend)?;
    let mut insert = transaction.prepare_cached(&sql.insert).map_err(backend)?;
    let mut refused = Vec::new();
    for (index, write) in writes.iter().enumerate() {
        let id = write.id();
        let changed = match write.change() {
            RowChange::Insert => insert.execute(params![id, owner, L::initial().name(), now]),
            RowChange::Transition(step) => transition.execute(params![
                step.to().name(),
                now,
                id,
                owner,
                step.from().name()
            ]),
            RowChange::Reason(text) => reason.execute(params![text, id, owner]),
        };
        // A statement SQLite refuses for its data is undone alone (the transaction stands):
        // that write is refused, the batch goes on. Anything else fails the batch whole.
        let changed = match changed {
            Err(error) if refuses_data(&error) && !transaction.is_autocommit() => {
                refused.push((index, rejected(id, &error)));
                continue;
            }
            changed => changed.map_err(backend)?,
        };
        if changed != 1 {
            refused.push((index, refusal(transaction, sql, owner, write)?));
        }
    }
    Ok(refused)
}

/// Whether SQLite refused a statement for the data it writes: a constraint (`CHECK`,
/// `NOT NULL`, a trigger's `RAISE(ABORT, ..)`), a value too big, a type it will not store.
/// Busy, locked, I/O, full-disk and out-of-memory errors are not the data's fault.
fn refuses_data(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::ConstraintViolation | ErrorCode::TooBig | ErrorCode::TypeMismatch)
    )
}

fn rejected(id: &str, error: &rusqlite::Error) -> StoreError {
    #[cfg(feature = "tracing")]
    tracing::error!(task = id, %error, "SQLite refused a status write for its data; the rest of the batch applies");
    StoreError::Rejected {
        id: id.to_owned(),
        cause: error.to_string(),
    }
}

/// Why `write` changed nothing: the row is missing, another owner's, or in another state.
fn refusal<L: Lifecycle>(
    transaction: &Transaction<'_>,
    sql: &Sql,
    owner: &str,
    write: &RowWrite<L>,
) -> Result<StoreError, StoreError> {
    let id = write.id().to_owned();
    let found = owner_and_status(transaction, sql, &id)?;
    if let RowChange::Insert = write.change() {
        let status = found.map(|(_, status)| status).unwrap_or_default();
        return Ok(StoreError::IdTaken { id, status });
    }
    Ok(match found {
        None => StoreError::NotFound { id },
        Some((found, _)) if found != owner => StoreError::Fenced { id, owner: found },
        Some((_, found)) => match write.change() {
            RowChange::Transition(step) => StoreError::Conflict {
                id,
                expected: step.from().name(),
                found,
            },
            RowChange::Reason(_) | RowChange::Insert => {
                StoreError::Backend(format!("row `{id}` was not updated"))
            }
        },
    })
}

/// Runs `work` in a savepoint: all of it, or none of it.
pub(super) fn atomically<T>(
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
            // Fails harmlessly when SQLite has already rolled the whole transaction back.
            let _ = transaction.execute_batch("ROLLBACK TO fixpoint_batch; RELEASE fixpoint_batch");
            Err(error)
        }
    }
}

/// The rows a `SELECT id, owner, status, reason, finished_at ..` returns.
pub(super) fn select_rows(
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
                finished_at: row.get(4)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(super) fn lease_is_live(
    transaction: &Transaction<'_>,
    owner: &str,
    now: i64,
) -> Result<bool, StoreError> {
    transaction
        .prepare_cached("SELECT 1 FROM fixpoint_leases WHERE owner = ?1 AND expires_at > ?2")
        .and_then(|mut statement| statement.exists(params![owner, now]))
        .map_err(backend)
}
