//! The cost of watching a child: a 100 ms child (`sleep 0.1`) run under `Watched` (own process
//! group, watcher task, deadline timer, both output streams read into the tail, the group killed
//! and reaped at the end) beside the bare `tokio::process::Command` awaiting its `status()`, and
//! beside `output()`, which reads both streams too. The goal: within 1.05x of the bare wall time.
//! The same on `true`, which exits at once, shows the fixed cost of the watch itself. And the
//! cost of a line as progress: a child writing 100,000 lines, watched bare, with
//! `Watched::progress` (each line a note), and with `Watched::wedged_after` (each line a tick).
//!
//! `cargo bench --bench uptime --features process`.

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use fixpoint::{
    process::{ProcessStatus, Watched},
    uptime::{Progress, Threshold},
};

const CHILD: &str = "0.1";
/// The lines of the chatty child.
const LINES: u32 = 100_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn child(c: &mut Criterion) {
    let runtime = runtime();
    for (name, program, arg) in [
        ("100ms child", "sleep", CHILD),
        ("instant child", "true", ""),
    ] {
        let mut group = c.benchmark_group(name);
        group
            .sample_size(30)
            .measurement_time(Duration::from_secs(8));
        side_by_side(&mut group, &runtime, program, arg);
        group.finish();
    }
    let mut group = c.benchmark_group("100000 lines");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    for side in ["bare", "progress", "wedged_after"] {
        group.bench_function(side, |b| {
            b.iter(|| runtime.block_on(chatty(side)));
        });
    }
    group.finish();
}

/// `seq 1 100000` watched on `side`: `bare`, with a `progress` noted on every line, or
/// `wedged_after` a threshold (a bare tick on every line).
async fn chatty(side: &str) -> fixpoint::process::RunOutcome {
    let mut command = Command::new("seq");
    command.args(["1", &LINES.to_string()]);
    let watched = Watched::new(command, Duration::from_secs(60));
    let watched = match side {
        "bare" => watched,
        "progress" => watched.progress(&Progress::new()),
        "wedged_after" => watched.wedged_after(Threshold::new(Duration::from_secs(60)).unwrap()),
        other => panic!("no side named {other}"),
    };
    let outcome = watched.run().await;
    assert!(matches!(outcome.status(), ProcessStatus::Exited(_)));
    black_box(outcome)
}

/// The three sides, on `program arg`.
fn side_by_side(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &tokio::runtime::Runtime,
    program: &str,
    arg: &str,
) {
    let args: &[&str] = if arg.is_empty() {
        &[]
    } else {
        std::slice::from_ref(&arg)
    };
    group.bench_function("tokio::process::Command status()", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let status = tokio::process::Command::new(program)
                    .args(args)
                    .kill_on_drop(true)
                    .status()
                    .await;
                black_box(status.unwrap())
            })
        });
    });
    group.bench_function("tokio::process::Command output()", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let output = tokio::process::Command::new(program)
                    .args(args)
                    .kill_on_drop(true)
                    .output()
                    .await;
                black_box(output.unwrap())
            })
        });
    });
    group.bench_function("Watched::run", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut command = Command::new(program);
                command.args(args);
                let outcome = Watched::new(command, Duration::from_secs(10)).run().await;
                assert!(matches!(outcome.status(), ProcessStatus::Exited(_)));
                black_box(outcome)
            })
        });
    });
}

criterion_group!(benches, child);

/// `FIXPOINT_COUNT=<side> valgrind --tool=callgrind target/release/deps/uptime-*`: 200 runs of
/// `true` on one side (`none`, `status`, `output`, `watched`), or 10 runs of the 100,000-line
/// child on one side (`lines-bare`, `lines-progress`, `lines-wedged_after`), for counting this
/// process's instructions (the children are not traced).
fn count(side: &str) {
    let runtime = runtime();
    if let Some(lines) = side.strip_prefix("lines-") {
        runtime.block_on(async {
            for _ in 0..10 {
                drop(black_box(chatty(lines).await));
            }
        });
        return;
    }
    runtime.block_on(async {
        for _ in 0..200 {
            match side {
                "none" => {}
                "status" => drop(black_box(
                    tokio::process::Command::new("true").status().await.unwrap(),
                )),
                "output" => drop(black_box(
                    tokio::process::Command::new("true").output().await.unwrap(),
                )),
                "watched" => {
                    drop(black_box(
                        Watched::new(Command::new("true"), Duration::from_secs(10))
                            .run()
                            .await,
                    ));
                }
                other => panic!("no side named {other}"),
            }
        }
    });
}

#[path = "common/counted.rs"]
#[macro_use]
mod counted;
counted_main!(benches, count);
