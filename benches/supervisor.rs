//! Spawning and completing trivial tasks through a `Supervisor` (every transition recorded in
//! a `MemoryStore`) beside `tokio::task::JoinSet`, in batches of 1,000; and the rate of SQLite
//! transitions (each one a row update in a WAL file).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fixpoint::{Config, MemoryStore, SqliteStore, Supervisor, terminal_state};
use tokio::task::JoinSet;

#[terminal_state]
pub enum Job {
    #[initial]
    #[to(Running, Failed)]
    Queued,
    #[to(Done, Failed)]
    Running,
    #[terminal]
    Done,
    #[terminal]
    #[abandoned]
    Failed,
}

const BATCH: u64 = 1_000;

fn spawn_complete(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("supervisor/spawn_complete");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("tokio_joinset", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut set = JoinSet::new();
                    for task in 0..BATCH {
                        set.spawn(async move { black_box(task) });
                    }
                    while let Some(done) = set.join_next().await {
                        black_box(done.unwrap());
                    }
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("fixpoint_supervisor_memory_store", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut elapsed = Duration::ZERO;
                for round in 0..iters {
                    let mut supervisor =
                        Supervisor::start(MemoryStore::<Job>::new(), Config::default())
                            .await
                            .unwrap();
                    let start = Instant::now();
                    for task in 0..BATCH {
                        supervisor
                            .spawn(format!("{round}-{task}"), task, |job| async move {
                                job.to_running().to_done()
                            })
                            .await
                            .unwrap();
                    }
                    while let Some(done) = supervisor.join_next().await {
                        black_box(done);
                    }
                    supervisor.flush().await.unwrap(); // every transition applied to the store
                    elapsed += start.elapsed();
                }
                elapsed
            })
        });
    });
    group.finish();

    let mut group = c.benchmark_group("supervisor/sqlite");
    group.throughput(Throughput::Elements(BATCH * 3)); // insert + two transitions per task
    group.sample_size(10);
    group.bench_function("spawn_complete_1000_tasks", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut elapsed = Duration::ZERO;
                for round in 0..iters {
                    let path = std::env::temp_dir()
                        .join(format!("fixpoint-bench-{}-{round}.db", std::process::id()));
                    let store = SqliteStore::<Job>::open(&path).unwrap();
                    let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
                    let start = Instant::now();
                    for task in 0..BATCH {
                        supervisor
                            .spawn(format!("{task}"), task, |job| async move {
                                job.to_running().to_done()
                            })
                            .await
                            .unwrap();
                    }
                    while supervisor.join_next().await.is_some() {}
                    supervisor.flush().await.unwrap();
                    elapsed += start.elapsed();
                    drop(supervisor);
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                }
                elapsed
            })
        });
    });
    group.finish();
}

criterion_group!(benches, spawn_complete);
criterion_main!(benches);
