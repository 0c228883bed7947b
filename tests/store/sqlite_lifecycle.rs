//! The SQLite table enforces the lifecycle for every client, not only for the supervisor: a
//! raw `rusqlite` connection (as the `sqlite3` shell, another program or a migration would
//! write) is refused an insert past the initial state, an undeclared edge and any move out of
//! a terminal state, each with a message naming the lifecycle, the move and the state's
//! edges; the legal moves are accepted. Opening a file set up for another form of the
//! lifecycle migrates it, or refuses with the rows per removed state.
#![cfg(feature = "sqlite")]

use std::path::PathBuf;

use fixpoint::store::{SqliteStore, StatusStore, StoreError};
use rusqlite::Connection;

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch_db(&format!("lifecycle-{name}"))
}

use crate::common::rollouts;
use rollouts::{v1, v2, v3};

fn refused(result: rusqlite::Result<usize>) -> String {
    match result {
        Err(error) => error.to_string(),
        Ok(changed) => panic!("accepted ({changed} rows)"),
    }
}

fn insert(raw: &Connection, id: &str, status: &str) -> rusqlite::Result<usize> {
    raw.execute(
        "INSERT INTO rollout_status (id, owner, status, updated_at) VALUES (?1, 'psql', ?2, 0)",
        [id, status],
    )
}

fn set(raw: &Connection, id: &str, status: &str) -> rusqlite::Result<usize> {
    raw.execute(
        "UPDATE rollout_status SET status = ?2 WHERE id = ?1",
        [id, status],
    )
}

#[test]
fn a_raw_client_meets_the_lifecycle() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = scratch("raw");
    let _store = SqliteStore::<v1::Rollout>::open(&path).unwrap();
    let raw = Connection::open(&path).unwrap();

    assert_eq!(
        refused(insert(&raw, "r1", "Done")),
        "lifecycle `Rollout` refuses an insert in `Done`: a row is inserted in `Queued`, its \
         initial state, and moves on by declared edges"
    );
    insert(&raw, "r1", "Queued").unwrap();
    assert_eq!(
        refused(set(&raw, "r1", "Done")),
        "lifecycle `Rollout` refuses `Queued -> Done`: `Queued` may move to `Running`, `Failed` \
         (declared with #[to(..)] on `Rollout`)"
    );
    set(&raw, "r1", "Running").unwrap();
    set(&raw, "r1", "Done").unwrap();
    assert_eq!(
        refused(set(&raw, "r1", "Running")),
        "lifecycle `Rollout` refuses `Done -> Running`: `Done` is terminal: no row leaves it"
    );
    // Abandoning a state that is not terminal is always legal; leaving the abandoned is not.
    insert(&raw, "r2", "Queued").unwrap();
    set(&raw, "r2", "Failed").unwrap();
    assert_eq!(
        refused(set(&raw, "r2", "Queued")),
        "lifecycle `Rollout` refuses `Failed -> Queued`: `Failed` is terminal: no row leaves it"
    );
    // What is not a move stays free: a reason, an owner, the same status again.
    raw.execute(
        "UPDATE rollout_status SET reason = 'noted', owner = 'other' WHERE id = 'r1'",
        [],
    )
    .unwrap();
    set(&raw, "r1", "Done").unwrap();
    // A state the lifecycle does not have is no edge either (and the CHECK refuses it too).
    assert_eq!(
        refused(set(&raw, "r1", "Paused")),
        "lifecycle `Rollout` refuses `Done -> Paused`: `Done` is terminal: no row leaves it"
    );
    assert!(refused(insert(&raw, "r3", "Paused")).contains("refuses an insert in `Paused`"));
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_grown_lifecycle_migrates_and_a_shrunk_one_is_refused() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = scratch("migrate");
    {
        let store = SqliteStore::<v1::Rollout>::open(&path).unwrap();
        store.insert("kept", "me").await.unwrap();
    }
    let raw = Connection::open(&path).unwrap();
    set(&raw, "kept", "Running").unwrap();
    assert_eq!(
        refused(set(&raw, "kept", "Paused")),
        "lifecycle `Rollout` refuses `Running -> Paused`: `Running` may move to `Done`, `Failed` \
         (declared with #[to(..)] on `Rollout`)"
    );

    // Opened by the grown lifecycle: the new state and edges are accepted, rows kept.
    let store = SqliteStore::<v2::Rollout>::open(&path).unwrap();
    let rows = store.rows().await.unwrap();
    assert_eq!(
        (rows[0].id.as_str(), rows[0].status.as_str()),
        ("kept", "Running")
    );
    set(&raw, "kept", "Paused").unwrap();
    assert_eq!(
        refused(set(&raw, "kept", "Done")),
        "lifecycle `Rollout` refuses `Paused -> Done`: `Paused` may move to `Running`, `Failed` \
         (declared with #[to(..)] on `Rollout`)"
    );
    insert(&raw, "second", "Queued").unwrap();
    set(&raw, "second", "Running").unwrap();
    set(&raw, "second", "Paused").unwrap();
    drop(store);

    // A lifecycle without `Paused`, while two rows hold it: refused, nothing changed.
    let error = SqliteStore::<v3::Rollout>::open(&path).unwrap_err();
    assert_eq!(
        error,
        StoreError::StatesRemoved {
            table: "rollout_status".into(),
            rows: vec![("Paused".into(), 2)],
        }
    );
    assert_eq!(
        error.to_string(),
        "table `rollout_status` holds rows in states the lifecycle no longer declares \
         (`Paused`: 2 rows); nothing was migrated: move those rows to declared states or \
         delete them, or declare the states again"
    );
    set(&raw, "kept", "Running").unwrap(); // still v2's table: Paused -> Running is legal
    set(&raw, "second", "Failed").unwrap();
    let store = SqliteStore::<v3::Rollout>::open(&path).unwrap();
    set(&raw, "kept", "Canary").unwrap();
    assert_eq!(store.rows().await.unwrap().len(), 2);
    let _ = std::fs::remove_file(&path);
}

/// A file written before the table enforced the lifecycle (no triggers, no record of its
/// schema) gets the triggers when it is opened, its rows kept.
#[tokio::test]
async fn a_table_from_before_the_triggers_gets_them() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = scratch("legacy");
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch(
        "CREATE TABLE rollout_status (\n\
         id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, \
         status TEXT NOT NULL CHECK (status = 'Queued' OR status = 'Running' OR status = 'Done' OR status = 'Failed'), \
         reason TEXT, updated_at INTEGER NOT NULL);\n\
         INSERT INTO rollout_status VALUES ('old', 'gone', 'Done', NULL, 0);",
    )
    .unwrap();
    let store = SqliteStore::<v1::Rollout>::open(&path).unwrap();
    assert_eq!(store.rows().await.unwrap()[0].status, "Done");
    assert!(
        refused(set(&raw, "old", "Running"))
            .starts_with("lifecycle `Rollout` refuses `Done -> Running`")
    );
    let _ = std::fs::remove_file(&path);
}
