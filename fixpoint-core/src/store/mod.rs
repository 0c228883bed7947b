#![doc = include_str!("guide.md")]

// Where supervised tasks' status rows live: the [`StatusStore`] contract and its three
// backends, [`MemoryStore`] (always), `SqliteStore` (feature `sqlite`) and `PostgresStore`
// (feature `postgres`).
//
// Every backend passes the same contract suite: transitions are compare-and-set on the row's
// status and owner, a write the backend refuses for its data is refused alone (the rest of its
// batch lands), leases are renewed and reaped, and orphans are found and adopted once. The SQL
// backends also make the database enforce the lifecycle for every client: their tables refuse
// an undeclared edge from psql or a migration as they do from the supervisor.

mod contract;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rules;
#[cfg(feature = "sqlite")]
mod sqlite;
mod write;

pub use contract::{
    MAX_REASON_BYTES, Refused, Retention, Row, RowChange, RowWrite, StatusStore, StoreError,
    Transition, sanitize_reason,
};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{DEFAULT_POOL_SIZE, PgIoThread, PostgresStore};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use deadpool_postgres;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use tokio_postgres;

/// Milliseconds since the Unix epoch: lease expiry is compared across processes.
pub(crate) fn now_millis() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |elapsed| {
        i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
    })
}
