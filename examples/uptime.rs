//! The uptime incidents, each replayed in seconds: what the seed did (before), and the primitive
//! that keeps it from settling into a fixpoint (after).
//!
//! Run it with `cargo run --example uptime --features process`. Each section is numbered as the
//! part of the uptime issue it replays.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fixpoint::uptime::{ChildStatus, Escalation, EscalationPolicy, Watched, reap_orphans};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("fixpoint uptime incidents\n=========================\n");
    // Grandchildren killed with their group come to this process to be reaped, wherever PID 1
    // is not an init that reaps orphans (a container).
    reap_orphans().expect("the kernel supports child subreapers");
    deadline_outside_the_work().await;
    tourniquet_that_reports().await;
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
    let ChildStatus::Killed(kill) = outcome.status() else {
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
    if let ChildStatus::FailedToStart(error) = missing.status() {
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
    let escalation = Escalation::new(EscalationPolicy {
        after: 2,
        inspect_for: Some(Duration::from_secs(2)),
        ..EscalationPolicy::default()
    })
    .on_escalation(|event| println!("   !!! {event}"));
    for night in 1..=3 {
        let outcome = Watched::new(stuck_command(), Duration::from_millis(200))
            .grace(Duration::from_millis(200))
            .key("nightly-suite")
            .escalation(&escalation)
            .run()
            .await;
        let ChildStatus::Killed(kill) = outcome.status() else {
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
