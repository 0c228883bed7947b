//! `fixpoint::lock::Semaphore` beside the `tokio::sync::Semaphore` it wraps: uncontended
//! acquire + release, and 64 tasks contending for 2 permits. `FIXPOINT_COUNT=<side>` runs one
//! side's loop instead, for callgrind.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use fixpoint::lock::{LockScope, Semaphore};
use tokio::runtime::Runtime;

const TASKS: usize = 64;
const PERMITS: usize = 2;
const ROUNDS_PER_TASK: usize = 50;

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

fn uncontended(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("semaphore/uncontended_acquire_release");
    group.bench_function("tokio", |b| {
        let sem = tokio::sync::Semaphore::new(1);
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    drop(black_box(sem.acquire().await.unwrap()));
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("fixpoint", |b| {
        let sem = Semaphore::new("bench", 1);
        let scope = LockScope::unchecked("benchmark loop");
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    drop(black_box(sem.acquire(&scope).await));
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// One round: 64 tasks, each acquiring and releasing 50 times, yielding while it holds.
fn contended(c: &mut Criterion) {
    let rt = multi_thread();
    let mut group = c.benchmark_group("semaphore/contended_64_tasks_2_permits");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("tokio", |b| {
        let sem = Arc::new(tokio::sync::Semaphore::new(PERMITS));
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let sem = Arc::clone(&sem);
                        tokio::spawn(async move {
                            for _ in 0..ROUNDS_PER_TASK {
                                let permit = sem.acquire().await.unwrap();
                                tokio::task::yield_now().await;
                                drop(permit);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            });
        });
    });
    group.bench_function("fixpoint", |b| {
        let sem = Semaphore::new("bench", PERMITS);
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let sem = sem.clone();
                        tokio::spawn(async move {
                            let scope = LockScope::unchecked("benchmark loop");
                            for _ in 0..ROUNDS_PER_TASK {
                                let permit = sem.acquire(&scope).await;
                                tokio::task::yield_now().await;
                                drop(permit);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            });
        });
    });
    group.finish();
}

criterion_group!(benches, uncontended, contended);

/// One contended round on the current thread: 64 tasks, 50 acquisitions each, yielding while
/// they hold (`none` spawns nothing).
async fn contended_round(side: &str, tokio_sem: &Arc<tokio::sync::Semaphore>, sem: &Semaphore) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (tokio_sem, sem, side) = (Arc::clone(tokio_sem), sem.clone(), side.to_owned());
            tokio::spawn(async move {
                let scope = LockScope::unchecked("benchmark loop");
                for _ in 0..ROUNDS_PER_TASK {
                    match side.as_str() {
                        "tokio" => {
                            let permit = tokio_sem.acquire().await.unwrap();
                            tokio::task::yield_now().await;
                            drop(permit);
                        }
                        _ => {
                            let permit = sem.acquire(&scope).await;
                            tokio::task::yield_now().await;
                            drop(permit);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// `FIXPOINT_COUNT=<side> valgrind --tool=callgrind <this bench>`: `tokio`, `fixpoint` or `none`
/// run 100,000 uncontended acquire + release of a one-permit semaphore (`none`: the loop alone, the baseline to
/// subtract); `contended_tokio`, `contended_fixpoint` and `contended_none` run 20 rounds of 64
/// tasks on 2 permits on one thread, so the count does not depend on scheduling.
fn count(side: &str) {
    let rt = current_thread();
    let (tokio_sem, sem) = (
        Arc::new(tokio::sync::Semaphore::new(PERMITS)),
        Semaphore::new("bench", PERMITS),
    );
    let scope = LockScope::unchecked("benchmark loop");
    rt.block_on(async {
        if let Some(side) = side.strip_prefix("contended_") {
            for _ in 0..20 {
                if side != "none" {
                    contended_round(side, &tokio_sem, &sem).await;
                }
            }
            return;
        }
        // One permit, as in the criterion bench.
        let (tokio_sem, sem) = (tokio::sync::Semaphore::new(1), Semaphore::new("bench", 1));
        for _ in 0..100_000 {
            match side {
                "none" => {}
                "tokio" => drop(black_box(tokio_sem.acquire().await.unwrap())),
                "fixpoint" => drop(black_box(sem.acquire(&scope).await)),
                other => panic!("no side named {other}"),
            }
        }
    });
}

#[path = "common/counted.rs"]
#[macro_use]
mod counted;
counted_main!(benches, count);
