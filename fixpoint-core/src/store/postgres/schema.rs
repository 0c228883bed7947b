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
/// transaction, whatever its size. Each write is still a compare-and-set of its own, in
/// order: the writes are numbered per row (a batch may move one row twice, which a single
/// `UPDATE` cannot), and each round applies every row's next write at once, set-based: the
/// inserts (a write with a `to` and no `from`: the trigger refuses any state but the initial
/// one), the transitions (`from` and `to`), the reasons (neither). A row is in a round at most
/// once, so a round's order between rows does not matter, and a row's writes keep theirs.
/// It returns the refused writes only: their index, and the row's owner and status as the
/// write found them, when the row exists.
const APPLY: &str = "
DECLARE
    rounds integer;
    ks integer[];
    size bigint;
    done bigint[];
    made text[];
BEGIN
    SELECT array_agg(numbered.k ORDER BY numbered.i), coalesce(max(numbered.k), 0)
      INTO ks, rounds
      FROM (SELECT u.i, row_number() OVER (PARTITION BY u.id ORDER BY u.i)::integer AS k
              FROM unnest(ids) WITH ORDINALITY AS u(id, i)) AS numbered;
    FOR round IN 1 .. rounds LOOP
        WITH w AS (
            SELECT u.i, u.id, u.f, u.t, u.r
              FROM unnest(ids, froms, tos, reasons, ks) WITH ORDINALITY AS u(id, f, t, r, k, i)
             WHERE u.k = round
        ), inserted AS (
            INSERT INTO TABLE (id, owner, status)
            SELECT w.id, writer, w.t FROM w WHERE w.f IS NULL AND w.t IS NOT NULL
            ON CONFLICT (id) DO NOTHING
            RETURNING id
        ), moved AS (
            UPDATE TABLE AS s SET status = w.t, updated_at = now()
              FROM w
             WHERE w.f IS NOT NULL AND s.id = w.id AND s.owner = writer AND s.status = w.f
            RETURNING w.i
        ), noted AS (
            UPDATE TABLE AS s SET reason = w.r
              FROM w
             WHERE w.t IS NULL AND s.id = w.id AND s.owner = writer
            RETURNING w.i
        )
        SELECT (SELECT count(*) FROM w),
               (SELECT array_agg(a.i) FROM (SELECT moved.i FROM moved
                                            UNION ALL SELECT noted.i FROM noted) AS a),
               (SELECT array_agg(inserted.id) FROM inserted)
          INTO size, done, made;
        -- Only a round that refused a write looks for it.
        IF size > coalesce(array_length(done, 1), 0) + coalesce(array_length(made, 1), 0) THEN
            RETURN QUERY
            SELECT (u.i - 1)::integer, s.owner, s.status
              FROM unnest(ids, froms, tos, ks) WITH ORDINALITY AS u(id, f, t, k, i)
              LEFT JOIN TABLE AS s ON s.id = u.id
             WHERE u.k = round
               AND NOT (u.i = ANY(coalesce(done, '{}')))
               AND NOT (u.f IS NULL AND u.t IS NOT NULL AND u.id = ANY(coalesce(made, '{}')));
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
