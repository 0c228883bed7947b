//! `fixpoint::Semaphore` beside the `tokio::sync::Semaphore` it wraps: uncontended
//! acquire + release, and 64 tasks contending for 2 permits.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fixpoint::{LockScope, Semaphore};
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
criterion_main!(benches);
