//! The store's SQL, generated once per store from the lifecycle: the schema (table, leases,
//! and the function that applies a batch in order) and every statement the store runs.

use crate::Lifecycle;

/// Every statement the store runs, with the table's name and the terminal states filled in:
/// built once, so a request costs a lookup in its connection's statement cache.
pub(super) struct Sql {
    pub(super) table: String,
    pub(super) insert: String,
    pub(super) status: String,
    pub(super) apply: String,
    pub(super) renew: &'static str,
    pub(super) release: &'static str,
    pub(super) reap_leases: &'static str,
    pub(super) orphans: String,
    pub(super) adopt: String,
    pub(super) prune_by_age: String,
    pub(super) prune_by_count: String,
    pub(super) rows: String,
}

/// `status IN ('A', 'B', ..)` over the states `keep` selects.
pub(super) fn status_in<L: Lifecycle>(keep: impl Fn(bool) -> bool) -> String {
    let names: Vec<String> = L::states()
        .filter(|state| keep(state.is_terminal()))
        .map(|state| format!("'{}'", state.name()))
        .collect();
    format!("status IN ({})", names.join(", "))
}

/// Ids sort by their bytes, whatever the database's collation: the order `rows` and
/// `orphans` return is the other stores' order.
const BY_ID: &str = "ORDER BY id COLLATE \"C\"";

impl Sql {
    pub(super) fn new<L: Lifecycle>(table: &str) -> Self {
        let terminal = status_in::<L>(|terminal| terminal);
        let seconds = "$1::float8 * interval '1 second'";
        Sql {
            table: table.to_owned(),
            // One round trip: whether the row was made and, when it was not, the status of
            // the row that holds the id (a row committed after this statement's snapshot is
            // read again by `status`).
            insert: format!(
                "WITH made AS (INSERT INTO {table} (id, owner, status) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING RETURNING 1) \
                 SELECT EXISTS (SELECT 1 FROM made), (SELECT status FROM {table} WHERE id = $1)"
            ),
            status: format!("SELECT status FROM {table} WHERE id = $1"),
            apply: format!(
                "SELECT idx, found_owner, found_status FROM {table}_apply($1, $2, $3, $4, $5)"
            ),
            renew: "INSERT INTO fixpoint_leases (owner, expires_at) \
                    VALUES ($1, now() + $2::float8 * interval '1 second') \
                    ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at",
            release: "DELETE FROM fixpoint_leases WHERE owner = $1",
            reap_leases: "DELETE FROM fixpoint_leases \
                          WHERE expires_at < now() - $1::float8 * interval '1 second'",
            // Rows in any state but a terminal one are unfinished.
            orphans: format!(
                "SELECT id, owner, status, reason, NULL::int8 FROM {table} WHERE NOT {terminal} \
                 AND owner NOT IN (SELECT owner FROM fixpoint_leases WHERE expires_at > now()) \
                 {BY_ID}"
            ),
            // Compare-and-set on owner, status and the owner's lease, in one statement: of two
            // hosts adopting the row at once, the second waits for the first's row lock, then
            // finds the owner changed and adopts nothing.
            adopt: format!(
                "UPDATE {table} SET owner = $1, updated_at = now() \
                 WHERE id = $2 AND owner = $3 AND status = $4 AND NOT EXISTS \
                 (SELECT 1 FROM fixpoint_leases WHERE owner = $3 AND expires_at > now())"
            ),
            prune_by_age: format!(
                "DELETE FROM {table} WHERE {terminal} AND updated_at < now() - {seconds}"
            ),
            prune_by_count: format!(
                "DELETE FROM {table} WHERE seq IN (SELECT seq FROM {table} WHERE {terminal} \
                 ORDER BY updated_at DESC, seq DESC OFFSET $1)"
            ),
            // A terminal row's `updated_at` is when it turned terminal: nothing moves it after
            // (a reason is written without touching it, an adoption takes unfinished rows only).
            rows: format!(
                "SELECT id, owner, status, reason, CASE WHEN {terminal} \
                 THEN (extract(epoch FROM updated_at) * 1000)::int8 END FROM {table} {BY_ID}"
            ),
        }
    }
}
