//! The PostgreSQL table enforces the lifecycle for every client: a raw client's
//! `simple_query` (as psql, a service in another language or a migration would write) is
//! refused an insert past the initial state, an undeclared edge and any move out of a terminal
//! state, through plain SQL and through the generated `<table>_apply` alike, each with a
//! message naming the lifecycle, the move and the state's edges, as a `check_violation` that
//! the store's own batches isolate. Connecting to a table set up for another form of the
//! lifecycle migrates it, or refuses with the rows per removed state.
#![cfg(feature = "postgres")]

use crate::common::postgres as cluster;

use cluster::Cluster;
use fixpoint::store::{PostgresStore, StatusStore, StoreError};

use crate::common::rollouts;
use rollouts::{v1, v2, v3};

/// What the server said, for a statement that must be refused.
async fn refused(raw: &tokio_postgres::Client, sql: &str) -> String {
    match raw.simple_query(sql).await {
        Ok(_) => panic!("accepted: {sql}"),
        Err(error) => {
            let db = error.as_db_error().expect("the server's refusal");
            assert_eq!(
                db.code(),
                &tokio_postgres::error::SqlState::CHECK_VIOLATION,
                "{sql}"
            );
            db.message().to_owned()
        }
    }
}

async fn accepted(raw: &tokio_postgres::Client, sql: &str) {
    raw.simple_query(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error:?}"));
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn a_raw_client_meets_the_lifecycle() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let url = Cluster::shared().create_database("lifecycle_raw");
    let _store = PostgresStore::<v1::Rollout>::connect(&url).await.unwrap();
    let raw = raw(&url).await;
    let insert = |id: &str, status: &str| {
        format!(
            "INSERT INTO rollout_status (id, owner, status) VALUES ('{id}', 'psql', '{status}')"
        )
    };
    let set = |id: &str, status: &str| {
        format!("UPDATE rollout_status SET status = '{status}' WHERE id = '{id}'")
    };
    assert_eq!(
        refused(&raw, &insert("r1", "Done")).await,
        "lifecycle `Rollout` refuses an insert in `Done`: a row is inserted in `Queued`, its \
         initial state, and moves on by declared edges"
    );
    accepted(&raw, &insert("r1", "Queued")).await;
    assert_eq!(
        refused(&raw, &set("r1", "Done")).await,
        "lifecycle `Rollout` refuses `Queued -> Done`: `Queued` may move to `Running`, `Failed` \
         (declared with #[to(..)] on `Rollout`)"
    );
    // Through the generated function, as the store's own batches go: the same refusal.
    assert_eq!(
        refused(
            &raw,
            "SELECT * FROM rollout_status_apply('psql', ARRAY['r1'], ARRAY['Queued'], \
             ARRAY['Done'], ARRAY[NULL])"
        )
        .await,
        "lifecycle `Rollout` refuses `Queued -> Done`: `Queued` may move to `Running`, `Failed` \
         (declared with #[to(..)] on `Rollout`)"
    );
    accepted(&raw, &set("r1", "Running")).await;
    accepted(&raw, &set("r1", "Done")).await;
    assert_eq!(
        refused(&raw, &set("r1", "Running")).await,
        "lifecycle `Rollout` refuses `Done -> Running`: `Done` is terminal: no row leaves it"
    );
    // The resurrection a hand-written fix once did: out of the abandoned state.
    accepted(&raw, &insert("r2", "Queued")).await;
    accepted(&raw, &set("r2", "Failed")).await;
    assert_eq!(
        refused(&raw, &set("r2", "Queued")).await,
        "lifecycle `Rollout` refuses `Failed -> Queued`: `Failed` is terminal: no row leaves it"
    );
    // What is not a move stays free: a reason, an owner, the same status again.
    accepted(
        &raw,
        "UPDATE rollout_status SET reason = 'noted', owner = 'other' WHERE id = 'r1'",
    )
    .await;
    accepted(&raw, &set("r1", "Done")).await;
}

#[tokio::test]
async fn a_grown_lifecycle_migrates_and_a_shrunk_one_is_refused() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let url = Cluster::shared().create_database("lifecycle_migrate");
    let store = PostgresStore::<v1::Rollout>::connect(&url).await.unwrap();
    store.insert("kept", "me").await.unwrap();
    let raw = raw(&url).await;
    let set = |id: &str, status: &str| {
        format!("UPDATE rollout_status SET status = '{status}' WHERE id = '{id}'")
    };
    accepted(&raw, &set("kept", "Running")).await;
    assert!(raw.simple_query(&set("kept", "Paused")).await.is_err());
    drop(store);

    let store = PostgresStore::<v2::Rollout>::connect(&url).await.unwrap();
    assert_eq!(store.rows().await.unwrap()[0].status, "Running");
    accepted(&raw, &set("kept", "Paused")).await;
    assert_eq!(
        refused(&raw, &set("kept", "Done")).await,
        "lifecycle `Rollout` refuses `Paused -> Done`: `Paused` may move to `Running`, `Failed` \
         (declared with #[to(..)] on `Rollout`)"
    );
    accepted(
        &raw,
        "INSERT INTO rollout_status (id, owner, status) VALUES ('second', 'psql', 'Queued')",
    )
    .await;
    accepted(&raw, &set("second", "Running")).await;
    accepted(&raw, &set("second", "Paused")).await;
    drop(store);

    let error = PostgresStore::<v3::Rollout>::connect(&url)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::StatesRemoved {
            table: "rollout_status".into(),
            rows: vec![("Paused".into(), 2)],
        }
    );
    // Nothing changed: v2's rules still hold.
    accepted(&raw, &set("kept", "Running")).await;
    accepted(&raw, &set("second", "Failed")).await;
    let _store = PostgresStore::<v3::Rollout>::connect(&url).await.unwrap();
    accepted(&raw, &set("kept", "Canary")).await;
}

/// A table set up before the trigger existed (no trigger, no comment) gets it on connect.
#[tokio::test]
async fn a_table_from_before_the_trigger_gets_it() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let url = Cluster::shared().create_database("lifecycle_legacy");
    let raw = raw(&url).await;
    accepted(
        &raw,
        "CREATE TABLE rollout_status (id text PRIMARY KEY, owner text NOT NULL, \
         status text NOT NULL CHECK (status IN ('Queued', 'Running', 'Done', 'Failed')), \
         reason text, updated_at timestamptz NOT NULL DEFAULT now(), \
         seq bigint GENERATED ALWAYS AS IDENTITY); \
         INSERT INTO rollout_status (id, owner, status) VALUES ('old', 'gone', 'Done');",
    )
    .await;
    let store = PostgresStore::<v1::Rollout>::connect(&url).await.unwrap();
    assert_eq!(store.rows().await.unwrap()[0].status, "Done");
    assert!(
        refused(
            &raw,
            "UPDATE rollout_status SET status = 'Running' WHERE id = 'old'"
        )
        .await
        .starts_with("lifecycle `Rollout` refuses `Done -> Running`")
    );
}
