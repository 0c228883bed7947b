//! Transitions per second through a `PostgresStore`, against a throwaway PostgreSQL 15 server
//! started for the bench (`initdb` + `pg_ctl` on a free loopback port, `fsync` on, as in
//! production): a batch of 1,024 transitions through `apply` (one statement, one transaction)
//! against one autocommit `UPDATE` per transition (a round trip and a commit each); and a
//! `Supervisor` end to end (start, 20,000 spawns one after another, two transitions each,
//! join, flush: 60,000 row writes with the inserts).
//!
//! Needs the PostgreSQL 15 server binaries (`apt-get install -y postgresql-15`); as root, the
//! server runs as the `postgres` user.

#[path = "../tests/common/postgres.rs"]
mod cluster;

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fixpoint::store::{
    deadpool_postgres::tokio_postgres, deadpool_postgres::tokio_postgres::NoTls,
};
use fixpoint::{
    Lifecycle,
    store::{PostgresStore, RowWrite, StatusStore, Transition},
};

/// Transitions per `apply`, as the supervisor's writer sends them at most.
const BATCH: usize = 1024;
/// Transitions per round of the autocommit baseline: each is a commit that waits for `fsync`.
const ONE_BY_ONE: usize = 64;
/// Rows in the table: the rounds walk through them block by block.
const BLOCKS: usize = 100;
/// Tasks per end-to-end round: spawned one after another, two transitions each.
const TASKS: u64 = 20_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Whether round `round` moves its block from `Idle` to `Busy` (else back).
fn flip(round: usize) -> (&'static str, &'static str) {
    if (round / BLOCKS).is_multiple_of(2) {
        ("Idle", "Busy")
    } else {
        ("Busy", "Idle")
    }
}

/// `len` transitions of block `round % BLOCKS` to the other side of its flip.
fn flip_batch(round: usize, len: usize) -> Vec<RowWrite<Worker>> {
    let state = |name| Worker::parse_state(name).unwrap();
    let (from, to) = flip(round);
    let transition = Transition::new(state(from), state(to)).unwrap();
    let block = round % BLOCKS;
    (0..len)
        .map(|row| RowWrite::transition(format!("w{:07}", block * BATCH + row), transition))
        .collect()
}

fn transitions(c: &mut Criterion) {
    let rt = runtime();
    let cluster = cluster::Cluster::start_with(cluster::Options {
        durable: true,
        ..cluster::Options::default()
    });
    let (store, client) = rt.block_on(async {
        let store = PostgresStore::<Worker>::connect(&cluster.url())
            .await
            .unwrap();
        let table = PostgresStore::<Worker>::table();
        let (client, connection) = tokio_postgres::connect(&cluster.url(), NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        // Filled in one statement each: the bench measures transitions, not inserts. The
        // batches move the `w` rows, the baseline the `x` rows: each set keeps its own parity.
        for (prefix, rows) in [("w", BLOCKS * BATCH), ("x", BLOCKS * ONE_BY_ONE)] {
            client
                .execute(
                    &format!(
                        "INSERT INTO {table} (id, owner, status) SELECT '{prefix}' || \
                         lpad(n::text, 7, '0'), 'me', 'Idle' FROM generate_series(0, {}) AS n",
                        rows - 1
                    ),
                    &[],
                )
                .await
                .unwrap();
        }
        (store, client)
    });

    let mut group = c.benchmark_group("postgres/transitions");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut round = 0;
    // With the lifecycle's trigger, then with it disabled, on the same rows: what it costs.
    // (A `WHEN` on the trigger, to skip the function for legal moves, cost more, not less:
    // the executor prepares the condition again for each `UPDATE` of `<table>_apply`.)
    let table = PostgresStore::<Worker>::table();
    for (name, trigger) in [
        ("apply_batch_of_1024", "ENABLE"),
        ("apply_batch_of_1024_no_trigger", "DISABLE"),
    ] {
        rt.block_on(client.batch_execute(&format!(
            "ALTER TABLE {table} {trigger} TRIGGER {table}_lifecycle"
        )))
        .unwrap();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let batches: Vec<_> = (0..iters)
                    .map(|i| flip_batch(round + i as usize, BATCH))
                    .collect();
                round += iters as usize;
                rt.block_on(async {
                    let start = Instant::now();
                    for batch in &batches {
                        let refused = store.apply("me", batch).await.unwrap();
                        assert!(refused.is_empty(), "every flip applies: {refused:?}");
                    }
                    start.elapsed()
                })
            });
        });
    }
    rt.block_on(client.batch_execute(&format!(
        "ALTER TABLE {table} ENABLE TRIGGER {table}_lifecycle"
    )))
    .unwrap();

    // The baseline: the same compare-and-set, one autocommit statement per transition, each
    // awaited before the next (a writer that does not batch).
    group.throughput(Throughput::Elements(ONE_BY_ONE as u64));
    let update = rt
        .block_on(client.prepare(&format!(
            "UPDATE {table} SET status = $1, updated_at = now() \
             WHERE id = $2 AND owner = 'me' AND status = $3"
        )))
        .unwrap();
    let mut round = 0;
    group.bench_function("autocommit_statement_each", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let (from, to) = flip(round);
                    let block = round % BLOCKS;
                    round += 1;
                    for row in 0..ONE_BY_ONE {
                        let id = format!("x{:07}", block * ONE_BY_ONE + row);
                        let changed = client.execute(&update, &[&to, &id, &from]).await.unwrap();
                        assert_eq!(changed, 1, "every flip applies");
                    }
                }
                start.elapsed()
            })
        });
    });
    group.finish();
    drop(store);
    drop(rt);
}

fn supervisor_end_to_end(c: &mut Criterion) {
    let rt = runtime();
    let cluster = cluster::Cluster::start_with(cluster::Options {
        durable: true,
        ..cluster::Options::default()
    });
    let mut group = c.benchmark_group("postgres/supervisor");
    // Row writes: each task's insert and its two transitions.
    group.throughput(Throughput::Elements(TASKS * 3));
    group.sample_size(10);
    let mut round = 0;
    group.bench_function("start_spawn_20000_join_flush", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let store = PostgresStore::<Job>::connect(&cluster.url()).await.unwrap();
                    let start = Instant::now();
                    let supervisor = spawn_join_flush(store, &format!("{round}-"), TASKS).await;
                    elapsed += start.elapsed();
                    drop(supervisor);
                }
                elapsed
            })
        });
    });
    group.finish();
}

criterion_group!(benches, transitions, supervisor_end_to_end);
criterion_main!(benches);
