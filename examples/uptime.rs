//! The incidents of the uptime seed, replayed in seconds, each before and after: the service
//! stayed "up" and did nothing, until fixpoint's uptime primitives made the silence visible.
//!
//! Run it with `cargo run --example uptime`. Sections 1 and 2 (a watched child process) live
//! beside these; each section is numbered as the issue numbers its incident.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fixpoint::uptime::{BackoffFile, GlobalWorker, Periodic, StartError, Threshold};
use fixpoint::{MemoryStore, StatusStore, Supervisor, terminal_state};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("fixpoint uptime\n===============\n");
    liveness_is_a_property_of_the_output().await;
    one_predicate_for_a_self_healing_marker();
    a_reaper_on_every_cycle_and_a_loud_first_run().await;
    a_global_worker_that_survives_fork();
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
        "   after:  {:?}; row {} / {:?}\n",
        finished.outcome,
        row.status,
        row.reason.as_deref().unwrap_or_default()
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
    let backoff = BackoffFile::open(&path).unwrap();
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
    if let Err(StartError::FirstRun(error)) = &started {
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
