//! The PostgreSQL schema, generated from the lifecycle, and how connecting brings a database
//! to it.
//!
//! Four parts: the status table (its `CHECK` lists exactly the declared states), the leases
//! every lifecycle's table shares, `<table>_apply` (a batch in one statement), and the
//! lifecycle's trigger, `<table>_lifecycle`, which refuses for any client (psql, another
//! language, a migration, `<table>_apply` itself) an insert past the initial state, an
//! undeclared edge and any move out of a terminal state. The table's comment records the
//! lifecycle it was set up for: a table set up for another form of it (states or edges
//! added, or by an earlier version of this crate) is migrated in the set-up's transaction,
//! unless rows hold a state the lifecycle no longer declares.

use deadpool_postgres::Transaction;

use super::backend;
use super::sql::status_in;
use crate::Lifecycle;
use crate::store::StoreError;
use crate::store::rules;

/// The schema's parts for one lifecycle's table.
pub(super) struct Schema {
    name: String,
    /// `status IN (..)` over every declared state.
    states: String,
    pub(super) table: String,
    pub(super) leases: &'static str,
    /// `<table>_apply(text, text[], text[], text[], text[])`, as `to_regprocedure` takes it.
    pub(super) signature: String,
    /// The function's body, as the server keeps it (`pg_proc.prosrc`).
    pub(super) body: String,
    pub(super) function: String,
    /// `<table>_lifecycle()` and its trigger, dropped and made again together.
    pub(super) lifecycle: String,
    /// The table's comment: the lifecycle it enforces, as the set-up compares it.
    pub(super) comment: String,
}

const LEASES: &str = "CREATE TABLE IF NOT EXISTS fixpoint_leases (\n\
    \x20   owner text PRIMARY KEY,\n\
    \x20   expires_at timestamptz NOT NULL\n\
    );";

/// The body of `<table>_apply`; `TABLE` stands for the table's name.
///
/// `<table>_apply` is a function so that a batch is one statement: one round trip and one
/// transaction, whatever its size, with each write still a compare-and-set of its own (a
/// batch may move one row twice, which a single `UPDATE` cannot). A write with a `to` and no
/// `from` inserts the row (in the initial state: the trigger refuses any other). It returns
/// the refused writes only: their index, and the row's owner and status when the row exists.
const APPLY: &str = "
DECLARE
    changed integer;
BEGIN
    FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP
        IF tos[i] IS NULL THEN
            UPDATE TABLE SET reason = reasons[i]
             WHERE id = ids[i] AND owner = writer;
        ELSIF froms[i] IS NULL THEN
            INSERT INTO TABLE (id, owner, status) VALUES (ids[i], writer, tos[i])
                ON CONFLICT (id) DO NOTHING;
        ELSE
            UPDATE TABLE SET status = tos[i], updated_at = now()
             WHERE id = ids[i] AND owner = writer AND status = froms[i];
        END IF;
        GET DIAGNOSTICS changed = ROW_COUNT;
        IF changed <> 1 THEN
            idx := i - 1;
            found_owner := NULL;
            found_status := NULL;
            SELECT t.owner, t.status INTO found_owner, found_status
              FROM TABLE t WHERE t.id = ids[i];
            RETURN NEXT;
        END IF;
    END LOOP;
END
";

impl Schema {
    pub(super) fn new<L: Lifecycle>(table: &str) -> Self {
        let states = status_in::<L>(|_| true);
        let body = APPLY.replace("TABLE", table);
        Schema {
            name: table.to_owned(),
            table: format!(
                "CREATE TABLE IF NOT EXISTS {table} (\n\
                 \x20   id text PRIMARY KEY,\n\
                 \x20   owner text NOT NULL,\n\
                 \x20   status text NOT NULL CHECK ({states}),\n\
                 \x20   reason text,\n\
                 \x20   updated_at timestamptz NOT NULL DEFAULT now(),\n\
                 \x20   seq bigint GENERATED ALWAYS AS IDENTITY\n\
                 );"
            ),
            states,
            leases: LEASES,
            signature: format!("{table}_apply(text, text[], text[], text[], text[])"),
            function: format!(
                "CREATE OR REPLACE FUNCTION {table}_apply(\n\
                 \x20   writer text, ids text[], froms text[], tos text[], reasons text[]\n\
                 ) RETURNS TABLE (idx integer, found_owner text, found_status text)\n\
                 LANGUAGE plpgsql AS $fixpoint${body}$fixpoint$;"
            ),
            body,
            lifecycle: lifecycle::<L>(table),
            comment: comment::<L>(),
        }
    }

    /// All of it, as one script for an empty database.
    pub(super) fn script(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}",
            self.table,
            self.leases,
            self.function,
            self.lifecycle,
            self.comment_on()
        )
    }

    fn comment_on(&self) -> String {
        format!("COMMENT ON TABLE {} IS '{}';", self.name, self.comment)
    }

    /// Brings a table set up for another form of the lifecycle (or before the trigger) to
    /// this one: its `CHECK`, its trigger and its comment, in `transaction`.
    ///
    /// # Errors
    ///
    /// [`StoreError::StatesRemoved`] when rows hold states this lifecycle does not declare
    /// (nothing is changed); the server's error otherwise.
    pub(super) async fn migrate(&self, transaction: &Transaction<'_>) -> Result<(), StoreError> {
        let table = &self.name;
        let rows = transaction
            .query(
                &format!(
                    "SELECT status, count(*) FROM {table} WHERE NOT ({}) \
                     GROUP BY status ORDER BY status COLLATE \"C\"",
                    self.states
                ),
                &[],
            )
            .await
            .map_err(backend)?;
        if !rows.is_empty() {
            let rows = rows
                .iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get::<_, i64>(1)?.unsigned_abs())))
                .collect::<Result<Vec<(String, u64)>, _>>()
                .map_err(backend)?;
            return Err(StoreError::StatesRemoved {
                table: table.clone(),
                rows,
            });
        }
        // The column's CHECK has the name PostgreSQL gave it when the table was made.
        let check = format!(
            "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_status_check, \
             ADD CONSTRAINT {table}_status_check CHECK ({});",
            self.states
        );
        transaction
            .batch_execute(&format!(
                "{check}\n{}\n{}",
                self.lifecycle,
                self.comment_on()
            ))
            .await
            .map_err(backend)
    }
}

/// What the table's comment says: the lifecycle's rules as the trigger enforces them, and
/// the form of the trigger, so that a change of either is seen at set-up.
fn comment<L: Lifecycle>() -> String {
    let states: Vec<String> = L::states()
        .map(|from| {
            let targets: Vec<&str> = rules::targets(from).iter().map(|to| to.name()).collect();
            format!("{} -> {}", from.name(), targets.join(" "))
        })
        .collect();
    format!(
        "fixpoint lifecycle {} (trigger 1): starts in {}; {}",
        L::name(),
        L::initial().name(),
        states.join("; ")
    )
}

/// `<table>_lifecycle()`, the trigger function, and its trigger.
fn lifecycle<L: Lifecycle>(table: &str) -> String {
    let refuses = rules::refuses::<L>();
    let mut allowed = String::from("CASE OLD.status");
    let mut edges = String::from("CASE OLD.status");
    for from in L::states() {
        let targets: Vec<String> = rules::targets(from)
            .iter()
            .map(|to| format!("'{}'", to.name()))
            .collect();
        let test = if targets.is_empty() {
            "false".to_owned()
        } else {
            format!("NEW.status IN ({})", targets.join(", "))
        };
        allowed += &format!(" WHEN '{}' THEN {test}", from.name());
        edges += &format!(" WHEN '{}' THEN '{}'", from.name(), rules::edges_of(from));
    }
    // In parentheses where it is used: PL/pgSQL ends an `IF` condition at the first `THEN`
    // outside them.
    allowed += " ELSE false END";
    edges += " ELSE 'it is not a state of the lifecycle' END";
    format!(
        "CREATE OR REPLACE FUNCTION {table}_lifecycle() RETURNS trigger\n\
         LANGUAGE plpgsql AS $fixpoint$\n\
         BEGIN\n\
         \x20   IF TG_OP = 'INSERT' THEN\n\
         \x20       IF NEW.status IS DISTINCT FROM '{initial}' THEN\n\
         \x20           RAISE EXCEPTION USING ERRCODE = 'check_violation',\n\
         \x20               MESSAGE = '{refuses} an insert in `' || NEW.status || '`: {insert}';\n\
         \x20       END IF;\n\
         \x20       RETURN NEW;\n\
         \x20   END IF;\n\
         \x20   IF NEW.status IS NOT DISTINCT FROM OLD.status OR ({allowed}) THEN\n\
         \x20       RETURN NEW;\n\
         \x20   END IF;\n\
         \x20   RAISE EXCEPTION USING ERRCODE = 'check_violation',\n\
         \x20       MESSAGE = '{refuses} `' || OLD.status || ' -> ' || NEW.status || '`: ' || ({edges});\n\
         END\n\
         $fixpoint$;\n\
         DROP TRIGGER IF EXISTS {table}_lifecycle ON {table};\n\
         CREATE TRIGGER {table}_lifecycle BEFORE INSERT OR UPDATE OF status ON {table}\n\
         \x20   FOR EACH ROW EXECUTE FUNCTION {table}_lifecycle();",
        initial = L::initial().name(),
        insert = rules::insert_rule::<L>(),
    )
}
