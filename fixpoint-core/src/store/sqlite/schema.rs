//! The SQLite schema, generated from the lifecycle, and how opening a store brings a file's
//! schema to it: the status table's `CHECK` accepts exactly the declared states, and two
//! triggers refuse, for any client, an insert past the initial state and a move the lifecycle
//! does not declare (an undeclared edge, anything out of a terminal state). The schema each
//! table was last set up with is kept in `fixpoint_schema`; a file whose table was set up for
//! another lifecycle (states or edges added, or an older version of this crate) is migrated
//! in one transaction, unless rows hold a state the lifecycle no longer declares.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::sql::backend;
use crate::Lifecycle;
use crate::store::StoreError;
use crate::store::rules;

/// The schema's parts for one lifecycle's table.
pub(super) struct Schema {
    table: String,
    /// `status = 'A' OR status = 'B' ..`: the states the table accepts.
    states: String,
    create: String,
    triggers: String,
}

const LEASES: &str = "CREATE TABLE IF NOT EXISTS fixpoint_leases (\n\
    \x20   owner TEXT PRIMARY KEY NOT NULL,\n\
    \x20   expires_at INTEGER NOT NULL\n\
    );";

/// What each table was set up with: a file opened by an older lifecycle (or crate) is
/// migrated when it differs.
const SCHEMAS: &str = "CREATE TABLE IF NOT EXISTS fixpoint_schema (\n\
    \x20   tbl TEXT PRIMARY KEY NOT NULL,\n\
    \x20   schema TEXT NOT NULL\n\
    );";

impl Schema {
    pub(super) fn new<L: Lifecycle>(table: &str) -> Self {
        // `status = 'A' OR status = 'B' ..` rather than `status IN ('A', 'B', ..)`: SQLite
        // builds a temporary index for an IN list of more than two values every time the
        // constraint is checked, which was half the cost of a transition. And no index on
        // `status`: every transition moved the row's entry in it, which cost as much as the
        // rest of the update, and no query needs it (`orphans` and `prune` read most rows).
        let states: Vec<String> = L::states()
            .map(|state| format!("status = '{}'", state.name()))
            .collect();
        let states = states.join(" OR ");
        Schema {
            create: create_table(table, &states),
            triggers: triggers::<L>(table),
            table: table.to_owned(),
            states,
        }
    }

    /// All of it, as one script for an empty file.
    pub(super) fn script(&self) -> String {
        format!("{}\n{LEASES}\n{}", self.create, self.triggers)
    }

    /// Brings the file's schema to this one, in one transaction: creates what is missing,
    /// migrates a table set up otherwise.
    ///
    /// # Errors
    ///
    /// [`StoreError::StatesRemoved`] when rows hold states this lifecycle does not declare
    /// (nothing is changed); [`StoreError::Backend`] for SQLite's errors.
    pub(super) fn set_up(&self, connection: &mut Connection) -> Result<(), StoreError> {
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        transaction
            .execute_batch(&format!("{LEASES}\n{SCHEMAS}"))
            .map_err(backend)?;
        let exists = transaction
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [&self.table],
                |_| Ok(()),
            )
            .optional()
            .map_err(backend)?
            .is_some();
        let recorded: Option<String> = transaction
            .query_row(
                "SELECT schema FROM fixpoint_schema WHERE tbl = ?1",
                [&self.table],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)?;
        let wanted = self.script();
        if !exists {
            transaction.execute_batch(&wanted).map_err(backend)?;
        } else if recorded.as_deref() != Some(wanted.as_str()) {
            self.check_states(&transaction)?;
            self.migrate(&transaction)?;
        }
        transaction
            .execute(
                "INSERT INTO fixpoint_schema (tbl, schema) VALUES (?1, ?2) \
                 ON CONFLICT (tbl) DO UPDATE SET schema = excluded.schema",
                [&self.table, &wanted],
            )
            .map_err(backend)?;
        transaction.commit().map_err(backend)
    }

    /// Refuses to migrate a table whose rows hold states this lifecycle does not declare.
    fn check_states(&self, transaction: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        let mut statement = transaction
            .prepare(&format!(
                "SELECT status, count(*) FROM {} WHERE NOT ({}) GROUP BY status ORDER BY status",
                self.table, self.states
            ))
            .map_err(backend)?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(backend)?
            .map(|row| row.map(|(status, count)| (status, count.unsigned_abs())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        if rows.is_empty() {
            return Ok(());
        }
        Err(StoreError::StatesRemoved {
            table: self.table.clone(),
            rows,
        })
    }

    /// Rebuilds the table under the new `CHECK` (SQLite cannot alter one), rows kept, and
    /// puts the new triggers on it.
    fn migrate(&self, transaction: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        let table = &self.table;
        let new = format!("{table}__fixpoint_migrating");
        transaction
            .execute_batch(&format!(
                "DROP TABLE IF EXISTS {new};\n\
                 {create}\n\
                 INSERT INTO {new} (id, owner, status, reason, updated_at) \
                 SELECT id, owner, status, reason, updated_at FROM {table};\n\
                 DROP TABLE {table};\n\
                 ALTER TABLE {new} RENAME TO {table};\n\
                 {triggers}",
                create = create_table(&new, &self.states),
                triggers = self.triggers,
            ))
            .map_err(backend)
    }
}

fn create_table(table: &str, states: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n\
         \x20   id TEXT PRIMARY KEY NOT NULL,\n\
         \x20   owner TEXT NOT NULL,\n\
         \x20   status TEXT NOT NULL CHECK ({states}),\n\
         \x20   reason TEXT,\n\
         \x20   updated_at INTEGER NOT NULL\n\
         );"
    )
}

/// The two triggers: an insert must be in the initial state; a change of status must be an
/// edge the lifecycle declares (or an abandonment of a state that is not terminal). Each
/// refusal names the lifecycle, the refused move and the moves the state has.
fn triggers<L: Lifecycle>(table: &str) -> String {
    let initial = L::initial().name();
    let mut refused_when = String::from("CASE OLD.status");
    let mut edges = String::from("CASE OLD.status");
    for from in L::states() {
        let targets: Vec<String> = rules::targets(from)
            .iter()
            .map(|to| format!("NEW.status = '{}'", to.name()))
            .collect();
        let refused = if targets.is_empty() {
            "1".to_owned()
        } else {
            format!("NOT ({})", targets.join(" OR "))
        };
        refused_when += &format!(" WHEN '{}' THEN {refused}", from.name());
        edges += &format!(" WHEN '{}' THEN '{}'", from.name(), rules::edges_of(from));
    }
    refused_when += " ELSE 1 END";
    edges += " END";
    format!(
        "CREATE TRIGGER IF NOT EXISTS {table}_insert BEFORE INSERT ON {table}\n\
         WHEN NEW.status <> '{initial}'\n\
         BEGIN SELECT RAISE(ABORT, '{refuses} an insert in `' || NEW.status || '`: {insert}'); END;\n\
         CREATE TRIGGER IF NOT EXISTS {table}_lifecycle BEFORE UPDATE OF status ON {table}\n\
         WHEN NEW.status <> OLD.status AND {refused_when}\n\
         BEGIN SELECT RAISE(ABORT, '{refuses} `' || OLD.status || ' -> ' || NEW.status || '`: ' || {edges}); END;",
        refuses = rules::refuses::<L>(),
        insert = rules::insert_rule::<L>(),
    )
}
