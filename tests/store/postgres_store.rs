//! What the Postgres store adds to the store contract (`store_contract.rs` runs that against a
//! real server too): hosts that set up, reconcile and write at once, a server that restarts
//! under the store, and a table that refuses undeclared states to any client.
#![cfg(feature = "postgres")]

use crate::common::example;
use crate::common::postgres as cluster;

use std::time::{Duration, Instant};

use cluster::Cluster;
use fixpoint::{
    Lifecycle,
    store::{PostgresStore, StatusStore},
    task::{Config, Supervisor},
};

use crate::common::job as jobs;
use jobs::*;

/// Hosts starting at once create the table once, none failing on another's `CREATE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_set_up_the_schema_at_once() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let url = Cluster::shared().create_database("set_up_at_once");
    let connects = (0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PostgresStore::<Job>::connect(&url).await })
    });
    for connect in connects {
        connect.await.unwrap().unwrap();
    }
}

/// Four hosts reconciling the same 200 orphans at once adopt each exactly once: the adoptions
/// that succeed add up to the rows, and each row belongs to the host whose adoption succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reconcilers_adopt_each_row_once() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const ROWS: usize = 200;
    let url = Cluster::shared().create_database("adopt_once");
    let store = PostgresStore::<Job>::connect(&url).await.unwrap();
    store.renew_lease("gone", Duration::ZERO).await.unwrap();
    for row in 0..ROWS {
        store.insert(&format!("t{row:03}"), "gone").await.unwrap();
    }
    let hosts = (0..4).map(|host| {
        let url = url.clone();
        tokio::spawn(async move {
            let store = PostgresStore::<Job>::connect(&url).await.unwrap();
            let me = format!("host-{host}");
            store
                .renew_lease(&me, Duration::from_secs(600))
                .await
                .unwrap();
            let mut adopted = Vec::new();
            for orphan in store.orphans().await.unwrap() {
                let status = orphan.state::<Job>().unwrap();
                if store
                    .adopt(&orphan.id, &orphan.owner, status, &me)
                    .await
                    .unwrap()
                {
                    adopted.push(orphan.id);
                }
            }
            (me, adopted)
        })
    });
    let mut adoptions = std::collections::BTreeMap::new();
    for host in hosts {
        let (me, adopted) = host.await.unwrap();
        for id in adopted {
            assert_eq!(
                adoptions.insert(id.clone(), me.clone()),
                None,
                "{id} adopted twice"
            );
        }
    }
    assert_eq!(adoptions.len(), ROWS, "every orphan was adopted");
    for row in store.rows().await.unwrap() {
        assert_eq!(Some(&row.owner), adoptions.get(&row.id), "{row:?}");
    }
    assert!(store.orphans().await.unwrap().is_empty());
}

/// The `CHECK` holds for every client, not only this crate: a status the lifecycle does not
/// declare is refused by the server.
#[tokio::test]
async fn the_table_refuses_undeclared_states() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let url = Cluster::shared().create_database("undeclared_states");
    let store = PostgresStore::<Job>::connect(&url).await.unwrap();
    store.insert("t", "me").await.unwrap();
    let client = store.pool().get().await.unwrap();
    let table = PostgresStore::<Job>::table();
    let error = client
        .execute(
            &format!("UPDATE {table} SET status = 'Paused' WHERE id = 't'"),
            &[],
        )
        .await
        .unwrap_err();
    let code = error.code().cloned();
    assert_eq!(
        code,
        Some(fixpoint::store::deadpool_postgres::tokio_postgres::error::SqlState::CHECK_VIOLATION),
        "{error:?}"
    );
    client
        .execute(
            &format!("UPDATE {table} SET status = 'Running' WHERE id = 't'"),
            &[],
        )
        .await
        .unwrap();
}

/// A server restart under the store costs no request more than the one in flight: the pool
/// replaces the closed connections, and a supervisor that started before the restart keeps
/// recording its tasks after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_outlives_a_server_restart() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cluster = Cluster::start();
    let store = PostgresStore::<Job>::connect(&cluster.url()).await.unwrap();
    let mut supervisor = Supervisor::start(store.clone(), Config::default())
        .await
        .unwrap();
    supervisor
        .spawn(
            "before",
            (),
            |job| async move { job.to_running().to_done() },
        )
        .await
        .unwrap();
    supervisor.flush().await.unwrap();
    cluster.restart();
    // The first request after the restart may meet a connection the pool has not seen close
    // yet; a request made once the pool has noticed succeeds.
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Err(error) = store.rows().await {
        assert!(
            Instant::now() < deadline,
            "the store never came back: {error}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    supervisor
        .spawn("after", (), |job| async move { job.to_running().to_done() })
        .await
        .unwrap();
    let report = supervisor.shutdown(Duration::from_secs(30)).await.unwrap();
    let rows: Vec<_> = report
        .rows
        .iter()
        .map(|row| (row.id.as_str(), row.status.as_str()))
        .collect();
    assert_eq!(rows, [("after", "Done"), ("before", "Done")]);
}

/// A backend error carries the server's own message, not only the driver's kind of error.
#[tokio::test]
async fn errors_say_what_the_server_said() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cluster = Cluster::shared();
    let url = cluster
        .url()
        .replace("dbname=fixpoint", "dbname=no_such_database");
    let error = PostgresStore::<Job>::connect(&url).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("database \"no_such_database\" does not exist"),
        "{error}"
    );
}

/// `cargo run --example fleet -- --postgres URL`, as the README shows it: a worker process
/// killed mid-flight, then reconciled on the server to zero non-terminal rows.
#[cfg(feature = "sqlite")] // the example's own required feature
#[test]
fn the_fleet_example_runs_on_postgres() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let url = Cluster::shared().create_database("fleet_example");
    let example = example::example("fleet");
    let output = std::process::Command::new(&example)
        .args(["--postgres", &url])
        .output()
        .unwrap_or_else(|error| panic!("{}: {error}", example.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("a Supervisor on a PostgreSQL table"),
        "{stdout}"
    );
    assert!(stdout.contains("non-terminal rows: 0"), "{stdout}");
    assert!(
        stdout.contains("CHECK (status IN ('Initialized', 'Running', 'Completed', 'Failed'))"),
        "{stdout}"
    );
}

/// A role allowed only to use the schema (no `CREATE`, not the function's owner) connects to
/// a schema another role made, and runs the whole lifecycle of a row through it.
#[tokio::test]
async fn a_role_without_create_uses_an_existing_schema() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cluster = Cluster::shared();
    let url = cluster.create_database("least_privilege");
    let owner = PostgresStore::<Job>::connect(&url).await.unwrap();
    let table = PostgresStore::<Job>::table();
    owner
        .pool()
        .get()
        .await
        .unwrap()
        .batch_execute(&format!(
            "CREATE ROLE least_privilege LOGIN;\n\
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;\n\
             GRANT SELECT, INSERT, UPDATE, DELETE ON {table}, fixpoint_leases TO least_privilege;\n\
             GRANT EXECUTE ON FUNCTION {table}_apply(text, text[], text[], text[], text[]) \
             TO least_privilege;"
        ))
        .await
        .unwrap();
    let url = url.replace("user=postgres", "user=least_privilege");
    let store = PostgresStore::<Job>::connect(&url).await.unwrap();
    store.renew_lease("me", Duration::ZERO).await.unwrap();
    store.insert("t", "me").await.unwrap();
    let state = |name| Job::parse_state(name).unwrap();
    store
        .transition("t", "me", state("Queued"), state("Running"))
        .await
        .unwrap();
    assert!(
        store
            .adopt("t", "me", state("Running"), "you")
            .await
            .unwrap()
    );
    store
        .transition("t", "you", state("Running"), state("Done"))
        .await
        .unwrap();
    assert_eq!(
        store
            .prune(fixpoint::store::Retention {
                max_age: None,
                max_rows: Some(0)
            })
            .await,
        Ok(1)
    );
}

/// The bug as it was met: a task fails with an error whose text holds a NUL byte (bytes
/// decoded lossily), which PostgreSQL's text refuses. The reason lands sanitized, every other
/// row lands, and the shutdown is `Ok`: one bad string no longer stalls every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_a_reason_stalls_nothing() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let url = Cluster::shared().create_database("nul_reason");
    let store = PostgresStore::<Job>::connect(&url).await.unwrap();
    let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
    for n in 0..11 {
        supervisor
            .spawn(format!("task-{n:02}"), (), move |job| async move {
                let running = job.to_running();
                if n == 7 {
                    let bytes = b"connection reset: \x00\xff garbage";
                    return Err(String::from_utf8_lossy(bytes).into_owned());
                }
                Ok(running.to_done())
            })
            .await
            .unwrap();
    }
    let report = tokio::time::timeout(
        Duration::from_secs(30),
        supervisor.shutdown(Duration::from_secs(5)),
    )
    .await
    .expect("no write is retried forever")
    .expect("every row ended");
    let ended: Vec<_> = report
        .rows
        .iter()
        .map(|row| (row.id.as_str(), row.status.as_str(), row.reason.as_deref()))
        .collect();
    assert_eq!(ended.len(), 11);
    assert!(
        ended.contains(&(
            "task-07",
            "Failed",
            Some("connection reset: \u{2400}\u{FFFD} garbage")
        )),
        "{ended:?}"
    );
    assert_eq!(
        ended
            .iter()
            .filter(|(_, status, _)| *status == "Done")
            .count(),
        10
    );
    assert!(report.refused.is_empty(), "{:?}", report.refused);
}

/// A write the server refuses for its data (here a `CHECK` another client added to the
/// table) stands alone, told apart by its SQLSTATE: in a batch of a thousand it alone is
/// refused, the other 999 land in the same commit, and nothing is retried.
#[tokio::test]
async fn a_write_the_server_refuses_for_its_data_stands_alone() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let url = Cluster::shared().create_database("poison_write");
    let store = PostgresStore::<Job>::connect(&url).await.unwrap();
    let table = PostgresStore::<Job>::table();
    store
        .pool()
        .get()
        .await
        .unwrap()
        .batch_execute(&format!(
            "ALTER TABLE {table} ADD CONSTRAINT no_poison CHECK (reason IS DISTINCT FROM 'poison')"
        ))
        .await
        .unwrap();
    let ids: Vec<String> = (0..1000).map(|n| format!("row-{n:04}")).collect();
    for id in &ids {
        store.insert(id, "me").await.unwrap();
    }
    let state = |name| Job::parse_state(name).unwrap();
    let start = fixpoint::store::Transition::new(state("Queued"), state("Running")).unwrap();
    let writes: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| match n {
            404 => fixpoint::store::RowWrite::reason(id.as_str(), "poison"),
            // A second refusal of another kind, after the bad write: still answered.
            900 => fixpoint::store::RowWrite::transition(
                "ghost",
                fixpoint::store::Transition::new(state("Queued"), state("Running")).unwrap(),
            ),
            _ => fixpoint::store::RowWrite::transition(id.as_str(), start),
        })
        .collect();
    let refused = store.apply("me", &writes).await.unwrap();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0].0, 404);
    assert!(
        matches!(&refused[0].1, fixpoint::store::StoreError::Rejected { id, cause }
            if id == "row-0404" && cause.contains("no_poison")),
        "{refused:?}"
    );
    assert_eq!(
        refused[1],
        (
            900,
            fixpoint::store::StoreError::NotFound { id: "ghost".into() }
        )
    );
    let rows = store.rows().await.unwrap();
    let running = rows.iter().filter(|row| row.status == "Running").count();
    assert_eq!(running, 998, "every write but the two refused landed");
    assert!(rows.iter().all(|row| row.reason.is_none()));
}

/// Two writers that lock the same rows in opposite orders deadlock, and the server aborts one
/// of them. When that is the store's batch, the store applies it again, whole, rather than
/// failing it: here a raw client holds row `b`, the store's batch moves `a` then waits for
/// `b`, and the client then asks for `a`. The server's count of deadlocks shows the cycle
/// happened; the batch lands all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_server_aborts_for_a_deadlock_is_applied_again() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    use fixpoint::store::{RowWrite, Transition};
    let url = Cluster::shared().create_database("deadlock_retry");
    let store = PostgresStore::<Job>::connect(&url).await.unwrap();
    let table = PostgresStore::<Job>::table();
    let (raw, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let deadlocks = || async {
        let row = raw
            .query_one(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    };
    let step = |id: &str| {
        let running = Job::parse_state("Running").unwrap();
        let queued = Job::parse_state("Queued").unwrap();
        RowWrite::transition(id, Transition::new(queued, running).unwrap())
    };
    let mut provoked = false;
    // The order in which one statement locks two rows is the planner's: each round tries again
    // with fresh rows until the cycle forms (the first round does, on this table).
    for round in 0..5 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        store.insert(&a, "me").await.unwrap();
        store.insert(&b, "me").await.unwrap();
        let before = deadlocks().await;
        // The client waits longest before looking for a cycle, so the server aborts the store's.
        raw.batch_execute(&format!(
            "SET deadlock_timeout = '60s'; BEGIN; SELECT 1 FROM {table} WHERE id = '{b}' FOR UPDATE"
        ))
        .await
        .unwrap();
        let batch = {
            let (store, writes) = (store.clone(), [step(&a), step(&b)]);
            tokio::spawn(async move { store.apply("me", &writes).await })
        };
        // Until the store's batch waits for `b`.
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                       AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()";
        let started = Instant::now();
        while raw.query_one(waiting, &[]).await.unwrap().get::<_, i64>(0) == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the batch never waited"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        raw.batch_execute(&format!(
            "SELECT 1 FROM {table} WHERE id = '{a}' FOR UPDATE; COMMIT"
        ))
        .await
        .unwrap();
        let refused = tokio::time::timeout(Duration::from_secs(60), batch)
            .await
            .expect("the batch never finished")
            .unwrap()
            .expect("a batch aborted for a deadlock is applied again, not failed");
        assert!(refused.is_empty(), "{refused:?}");
        let rows = store.rows().await.unwrap();
        for id in [&a, &b] {
            let row = rows.iter().find(|row| &row.id == id).unwrap();
            assert_eq!(row.status, "Running", "{id}");
        }
        // The statistics reach the view within a second or so.
        let started = Instant::now();
        while deadlocks().await == before && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if deadlocks().await > before {
            provoked = true;
            break;
        }
    }
    assert!(
        provoked,
        "no round formed a deadlock: the retry went untested"
    );
}
