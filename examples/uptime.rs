//! The uptime incidents, each replayed in seconds: what the seed did (before), and the primitive
//! that keeps it from settling into a fixpoint (after). The service stayed "up" and did nothing,
//! until fixpoint's uptime primitives made the silence visible.
//!
//! Run it with `cargo run --example uptime --features process`. Each section is numbered as the
//! part of the uptime issue it replays.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fixpoint::{
    process::{Escalation, EscalationPolicy, ProcessStatus, Watched, reap_orphans},
    uptime::{CooldownFile, GlobalWorker, Periodic, PeriodicError, Threshold},
};
use fixpoint::{
    store::{MemoryStore, StatusStore},
    task::Supervisor,
    terminal_state,
};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("fixpoint uptime incidents\n=========================\n");
    // Grandchildren killed with their group come to this process to be reaped, wherever PID 1
    // is not an init that reaps orphans (a container).
    reap_orphans().expect("the kernel supports child subreapers");
    deadline_outside_the_work().await;
    tourniquet_that_reports().await;
    liveness_is_a_property_of_the_output().await;
    one_predicate_for_a_self_healing_marker();
    a_reaper_on_every_cycle_and_a_loud_first_run().await;
    a_global_worker_that_survives_fork();
}

/// `sh` blocked in a read of a pipe nobody writes, with a grandchild (`sleep`) in its group: the
/// external command that never answers.
fn stuck_command() -> Command {
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            "sleep 1000 & echo \"connecting to the license server\"; read answer",
        ])
        .stdin(Stdio::piped());
    command
}

/// How many processes are left in process group `pgid`, zombies included.
fn survivors(pgid: u32) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .collect();
            fields[2].parse::<u32>() == Ok(pgid)
        })
        .count()
}

// ---------------------------------------------------------------------------------------------
// 1. A deadline lives outside the work it limits
// ---------------------------------------------------------------------------------------------

async fn deadline_outside_the_work() {
    println!("1. A deadline lives outside the work it limits\n");

    // Before: the seed's worker put a language-level timeout around a blocking wait for the
    // child. The thread sat in the system call, so the timer could not fire until the child was
    // done: seven days in production, three seconds here.
    let started = Instant::now();
    let waited = tokio::task::spawn_blocking(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(300), async {
                Command::new("sleep").arg("3").status() // the thread blocks here
            })
            .await
        })
    })
    .await
    .unwrap();
    println!(
        "   before: a 300ms timeout in the waiting thread returned {} after {:.1?}: it never fired",
        if waited.is_ok() {
            "the child's own exit"
        } else {
            "Elapsed"
        },
        started.elapsed()
    );

    // After: the deadline is kept by a watcher task, with the runtime's timer; the whole process
    // group (the grandchild too) is killed and reaped.
    let started = Instant::now();
    let outcome = Watched::new(stuck_command(), Duration::from_millis(300))
        .grace(Duration::from_millis(300))
        .key("license-check")
        .run()
        .await;
    let ProcessStatus::Killed(kill) = outcome.status() else {
        panic!("{outcome:?}")
    };
    println!(
        "   after: killed at its deadline after {:.1?}, {} processes of group {} killed, {} left in /proc",
        started.elapsed(),
        kill.diagnosis.processes.len(),
        kill.diagnosis.group,
        survivors(kill.diagnosis.group)
    );
    let missing = Watched::new(Command::new("licence-chek"), Duration::from_secs(1))
        .run()
        .await;
    if let ProcessStatus::FailedToStart(error) = missing.status() {
        println!("   a mistyped command is a typed error: {error}");
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// 2. A timeout is a tourniquet, not a diagnosis
// ---------------------------------------------------------------------------------------------

async fn tourniquet_that_reports() {
    println!("2. A timeout is a tourniquet, not a diagnosis\n");

    // Before: the suite's timeout killed the hanging process every time; all anyone learned was
    // that it timed out.
    for night in 1..=3 {
        let mut hang = Command::new("sh");
        hang.args(["-c", "read answer"]).stdin(Stdio::piped());
        let mut child = tokio::process::Command::from(hang)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let _stdin = child.stdin.take(); // open and unwritten, as the license server left it
        let verdict = tokio::time::timeout(Duration::from_millis(200), child.wait()).await;
        println!(
            "   before, night {night}: {} (and killed); where it hung: unknown",
            if verdict.is_err() {
                "timed out"
            } else {
                "exited"
            }
        );
    }

    // After: each kill carries the stuck state; the third identical hang captures every thread's
    // stack and is kept stopped for inspection, with an event that says where to look.
    let escalation = Escalation::new(
        EscalationPolicy::new()
            .after(2)
            .inspect_for(Duration::from_secs(2)),
    )
    .on_escalation(|event| println!("   !!! {event}"));
    for night in 1..=3 {
        let outcome = Watched::new(stuck_command(), Duration::from_millis(200))
            .grace(Duration::from_millis(200))
            .key("nightly-suite")
            .escalation(&escalation)
            .run()
            .await;
        let ProcessStatus::Killed(kill) = outcome.status() else {
            panic!("{outcome:?}")
        };
        println!("   after, night {night}:");
        for line in kill.to_string().lines() {
            println!("     | {line}");
        }
    }
    // Give the inspection window time to end, so the stopped group is killed and reaped here.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    println!();
}

// ---------------------------------------------------------------------------------------------
// 3. Liveness is a property of the output, not of the PID
// ---------------------------------------------------------------------------------------------

/// A queue worker's row.
#[terminal_state]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Worker {
    #[initial]
    #[to(Consuming, Failed)]
    Connecting,
    #[to(Drained, Failed)]
    Consuming,
    #[terminal]
    Drained,
    #[terminal]
    #[abandoned]
    Failed,
}

async fn liveness_is_a_property_of_the_output() {
    println!("3. Liveness is a property of the output, not of the PID");
    // Before: the queue connection dropped; the task stays up, logs nothing, does nothing.
    let worker = tokio::spawn(async {
        // claimed job 812, then the connection dropped: the next receive never returns
        std::future::pending::<()>().await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "   before: after 300 ms the worker is alive (finished: {}), the health check green, \
         the jobs piling up",
        worker.is_finished()
    );
    worker.abort();

    // After: the same worker, spawned with a progress threshold.
    let store = Arc::new(MemoryStore::<Worker>::new());
    let mut supervisor = Supervisor::start(Arc::clone(&store), Default::default())
        .await
        .unwrap();
    let threshold = Threshold::new(Duration::from_millis(200)).unwrap();
    supervisor
        .spawn_watched(
            "queue-worker",
            (),
            threshold,
            |worker, progress| async move {
                let consuming = worker.to_consuming();
                for job in 810..=812 {
                    progress.tick_with(format!("claimed job {job}"));
                }
                std::future::pending::<()>().await; // the connection dropped
                consuming.to_drained()
            },
        )
        .await
        .unwrap();
    let finished = supervisor.join_next().await.unwrap();
    supervisor.flush().await.unwrap();
    let row = &store.rows().await.unwrap()[0];
    println!(
        "   after:  {:?}; row {} / {:?}",
        finished.outcome,
        row.status,
        row.reason.as_deref().unwrap_or_default()
    );

    // A child process's lines are its progress: one that stops writing is killed as wedged.
    let mut silent = Command::new("sh");
    silent.args(["-c", "echo connected to the queue; sleep 1000"]);
    let outcome = Watched::new(silent, Duration::from_secs(3600))
        .wedged_after(threshold)
        .key("queue-consumer")
        .run()
        .await;
    let ProcessStatus::Killed(kill) = outcome.status() else {
        panic!("{outcome:?}")
    };
    let first = kill.to_string();
    println!(
        "          a silent child: {}\n",
        first.lines().next().unwrap_or_default()
    );
}

// ---------------------------------------------------------------------------------------------
// 4. One shared predicate for a self-healing marker
// ---------------------------------------------------------------------------------------------

fn one_predicate_for_a_self_healing_marker() {
    println!("4. One shared predicate for a self-healing marker");
    let dir = std::env::temp_dir().join(format!("fixpoint-uptime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("upstream.backoff");
    let backoff = CooldownFile::open(&path).unwrap();
    backoff.start(Duration::from_millis(200)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Before: one consumer asked whether the file exists, not whether the backoff is active.
    println!(
        "   before: 100 ms after the backoff ended, `path.exists()` still says back off: {} \
         (forever: nobody deletes it)",
        path.exists()
    );
    // After: the only question the marker answers is the predicate.
    println!(
        "   after:  `is_active()` says {} without anyone deleting the file",
        backoff.is_active()
    );
    std::fs::write(&path, "garbage from an older writer").unwrap();
    println!(
        "           a garbled marker: active {}, counted as unreadable {} time(s)\n",
        backoff.is_active(),
        backoff.unreadable()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// 5. A reaper on every cycle, and a loud first run
// ---------------------------------------------------------------------------------------------

async fn a_reaper_on_every_cycle_and_a_loud_first_run() {
    println!("5. A reaper on every cycle, and a loud first run");
    // Before: a scheduled job that fails on startup every time it fires, logged and unseen.
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    let mut logged = 0;
    for _ in 0..5 {
        ticks.tick().await;
        if let Err(error) = load_config() {
            logged += 1; // eprintln!("{error}"): a line in a log nobody reads
            let _ = error;
        }
    }
    println!("   before: {logged} identical failures logged; the caller saw none");

    // After: the first run is the caller's error.
    let started = Periodic::every(Duration::from_millis(20))
        .named("nightly-export")
        .run(|| async { load_config() })
        .no_reaper("the export writes to a remote bucket with its own retention")
        .start()
        .await;
    if let Err(PeriodicError::FirstRun(error)) = &started {
        println!("   after:  start() returned the first run's error: {error}");
    }
    // And the same failure on the cadence escalates; every cycle reaps what it left.
    let (images, reaped) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let (left, reaping) = (Arc::clone(&images), Arc::clone(&reaped));
    let deploys = Periodic::every(Duration::from_millis(20))
        .named("deploy")
        .run(move || {
            let n = left.fetch_add(1, Ordering::Relaxed);
            async move {
                if n == 0 {
                    Ok(())
                } else {
                    Err("registry unreachable".to_owned())
                }
            }
        })
        .reap(move || {
            reaping.fetch_add(1, Ordering::Relaxed);
            async { Ok(()) }
        })
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(110)).await;
    let status = deploys.status();
    println!(
        "           {status}\n           escalations: {}; cycles {}, reaper runs {}\n",
        status.escalations,
        images.load(Ordering::Relaxed),
        reaped.load(Ordering::Relaxed)
    );
}

fn load_config() -> Result<(), String> {
    Err("config key `bucket` missing".to_owned())
}

// ---------------------------------------------------------------------------------------------
// 6. A global worker that survives fork
// ---------------------------------------------------------------------------------------------

static PID_ECHO: GlobalWorker<std::sync::mpsc::Sender<u32>> =
    GlobalWorker::new("pid-echo", |reply| {
        let _ = reply.send(std::process::id());
    });

fn a_global_worker_that_survives_fork() {
    println!("6. A global worker that survives fork");
    let (reply, answer) = std::sync::mpsc::channel();
    PID_ECHO.send(reply).unwrap();
    println!(
        "   the worker started by this process answers from pid {} (this one: {})",
        answer.recv().unwrap(),
        std::process::id()
    );
    // Forking takes `unsafe`, which this crate forbids: the fork is replayed by a small crate.
    println!(
        "   before/after across a real fork: `cargo run --manifest-path tests/fork-safe/Cargo.toml`\n\
         \x20  (the OnceLock worker leaves the child with no answer; GlobalWorker starts afresh)"
    );
}
