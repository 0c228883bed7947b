//! Transitions per second through a `SqliteStore` (a WAL file, `synchronous = NORMAL`): the
//! store alone applying batches of 1,024 transitions to existing rows, and a `Supervisor`
//! end to end (start, 20,000 spawns one after another, two transitions each, join, flush:
//! 60,000 row writes with the inserts); and the store's inserts alone, one after another
//! (each awaited) or all at once. The
//! batches run with the lifecycle's triggers and without, for their cost;
//! `FIXPOINT_COUNT=<side>` counts that cost's instructions under callgrind instead.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use fixpoint::{
    Lifecycle,
    store::{RowWrite, SqliteStore, StatusStore, Transition},
    task::Supervisor,
};

/// Transitions per `apply`, as the supervisor's writer sends them.
const BATCH: usize = 1024;
/// Rows in the store-level table: the batches walk through them block by block.
const BLOCKS: usize = 100;
/// Inserts per round of the store-level insert benches.
const TASKS: u64 = 1_000;
/// Tasks per end-to-end round: spawned one after another, two transitions each.
const E2E_TASKS: u64 = 20_000;

fn scratch(name: &str) -> PathBuf {
    scratch_db(&format!("bench-{name}"))
}

/// One batch moving every row of block `round % BLOCKS` to the other side of its flip.
fn flip_batch(round: usize) -> Vec<RowWrite<Worker>> {
    let state = |name| Worker::parse_state(name).unwrap();
    let (from, to) = if (round / BLOCKS).is_multiple_of(2) {
        (state("Idle"), state("Busy"))
    } else {
        (state("Busy"), state("Idle"))
    };
    let transition = Transition::new(from, to).unwrap();
    let block = round % BLOCKS;
    (0..BATCH)
        .map(|row| RowWrite::transition(format!("w{:07}", block * BATCH + row), transition))
        .collect()
}

/// A store whose table holds `BLOCKS * BATCH` idle rows, filled through a second connection
/// in one transaction (the benches measure transitions, not inserts); with `triggers: false`,
/// the lifecycle's triggers dropped, for the cost they add.
fn filled_store(name: &str, triggers: bool) -> (SqliteStore<Worker>, PathBuf) {
    let path = scratch(name);
    let store = SqliteStore::<Worker>::open(&path).unwrap();
    let mut fill = rusqlite::Connection::open(&path).unwrap();
    let table = SqliteStore::<Worker>::table();
    let fill_tx = fill.transaction().unwrap();
    {
        let mut insert = fill_tx
            .prepare(&format!(
                "INSERT INTO {table} (id, owner, status, updated_at) VALUES (?1, 'me', 'Idle', 0)"
            ))
            .unwrap();
        for row in 0..BLOCKS * BATCH {
            insert.execute([format!("w{row:07}")]).unwrap();
        }
    }
    if !triggers {
        fill_tx
            .execute_batch(&format!(
                "DROP TRIGGER {table}_insert; DROP TRIGGER {table}_lifecycle;"
            ))
            .unwrap();
    }
    fill_tx.commit().unwrap();
    (store, path)
}

fn store_apply(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("sqlite/store_apply");
    group.throughput(Throughput::Elements(BATCH as u64));
    // The lifecycle's triggers check every transition for any client; the second side shows
    // what they cost, on the same batches.
    for (name, triggers) in [
        ("batch_of_1024_transitions", true),
        ("batch_of_1024_transitions_no_triggers", false),
    ] {
        let (store, path) = filled_store(name, triggers);
        let mut round = 0;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let batches: Vec<_> = (0..iters).map(|i| flip_batch(round + i as usize)).collect();
                round += iters as usize;
                rt.block_on(async {
                    let start = Instant::now();
                    for batch in &batches {
                        let applied = store.apply("me", batch).await.unwrap();
                        assert!(applied.is_empty(), "every flip applies: {applied:?}");
                    }
                    start.elapsed()
                })
            });
        });
        drop(store);
        remove_db(&path);
    }
    group.finish();
}

/// Start, `E2E_TASKS` spawns one after another, every outcome read, flush.
async fn end_to_end(store: SqliteStore<Job>) -> Supervisor<Job, SqliteStore<Job>> {
    spawn_join_flush(store, "", E2E_TASKS).await
}

fn supervisor_end_to_end(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("sqlite/supervisor");
    // Row writes: each task's insert and its two transitions.
    group.throughput(Throughput::Elements(E2E_TASKS * 3));
    group.sample_size(10);
    group.bench_function("start_spawn_20000_join_flush", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let path = scratch("supervisor");
                    let store = SqliteStore::<Job>::open(&path).unwrap();
                    let start = Instant::now();
                    let supervisor = end_to_end(store).await;
                    elapsed += start.elapsed();
                    drop(supervisor);
                    remove_db(&path);
                }
                elapsed
            })
        });
    });
    group.finish();
}

/// What an insert costs the store on its own: answered after its commit, so inserts awaited
/// one after another pay a commit each, and inserts that arrive together share one. (A
/// supervisor's spawns do not await theirs: they reach the store in its writer's batches.)
fn store_insert(c: &mut Criterion) {
    let rt = runtime();
    let path = scratch("insert");
    let store = SqliteStore::<Job>::open(&path).unwrap();
    let mut group = c.benchmark_group("sqlite/store_insert");
    group.throughput(Throughput::Elements(TASKS));
    group.sample_size(20);
    let mut round = 0;
    group.bench_function("1000_one_after_another", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    round += 1;
                    for task in 0..TASKS {
                        store
                            .insert(&format!("s{round}-{task}"), "me")
                            .await
                            .unwrap();
                    }
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("1000_at_once", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    round += 1;
                    let mut inserts = tokio::task::JoinSet::new();
                    for task in 0..TASKS {
                        let (store, id) = (store.clone(), format!("c{round}-{task}"));
                        inserts.spawn(async move { store.insert(&id, "me").await });
                    }
                    while let Some(inserted) = inserts.join_next().await {
                        inserted.unwrap().unwrap();
                    }
                }
                start.elapsed()
            })
        });
    });
    group.finish();
    drop(store);
    remove_db(&path);
}

criterion_group!(benches, store_apply, supervisor_end_to_end, store_insert);

/// `FIXPOINT_COUNT=<side> valgrind --tool=callgrind <this bench>` applies 50 batches of 1,024
/// transitions with the lifecycle's triggers (`triggers`) or without (`no_triggers`), or fills
/// the table alone (`none`: the baseline to subtract), or runs one supervisor end to end
/// (`end_to_end`: 20,000 tasks), instead of criterion. Every thread counts: the store's own
/// thread runs SQLite.
fn count(side: &str) {
    let rt = runtime();
    if side == "end_to_end" {
        let path = scratch("count-end-to-end");
        rt.block_on(end_to_end(SqliteStore::<Job>::open(&path).unwrap()));
        remove_db(&path);
        return;
    }
    let (store, path) = filled_store(&format!("count-{side}"), side != "no_triggers");
    if side != "none" {
        rt.block_on(async {
            for round in 0..50 {
                let applied = store.apply("me", &flip_batch(round)).await.unwrap();
                assert!(applied.is_empty());
            }
        });
    }
    drop(store);
    remove_db(&path);
}

#[path = "common/counted.rs"]
#[macro_use]
mod counted;
counted_main!(benches, count);
