//! `GlobalWorker` survives a real `fork`: this runs `tests/fork-safe`, a crate of its own
//! (the one place allowed `unsafe`, for the `fork` call), which starts the worker, forks, and
//! asks it from the child, beside the incident's `OnceLock` worker, which never answers.

#![cfg(unix)]

use std::path::PathBuf;
use std::process::Command;

fn target_dir() -> PathBuf {
    // tests run from target/<profile>/deps/<test>
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join("fork-safe")
}

#[test]
fn a_forked_child_starts_its_own_worker_where_a_once_lock_hangs() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["run", "--locked", "--quiet"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fork-safe"))
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo run starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "parent, OnceLock worker: answered by this process",
            "parent, GlobalWorker: answered by this process",
            // The incident: the child copied "started" but not the thread.
            "child, OnceLock worker: no answer",
            // The fix: the child sees another pid's worker and starts its own.
            "child, GlobalWorker: answered by this process (workers started: 2)",
        ],
        "{stderr}"
    );
}

#[test]
fn the_worker_starts_once_per_process() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    use fixpoint::uptime::GlobalWorker;
    use std::sync::mpsc::{Sender, channel};

    static ECHO: GlobalWorker<Sender<u32>> = GlobalWorker::new("echo", |reply| {
        let _ = reply.send(std::process::id());
    });
    for _ in 0..10 {
        let (reply, answer) = channel();
        ECHO.send(reply).unwrap();
        assert_eq!(answer.recv().unwrap(), std::process::id());
    }
    assert_eq!(ECHO.starts(), 1);
}

#[test]
fn a_worker_whose_handler_panicked_is_restarted_by_the_next_send() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    use fixpoint::uptime::{GlobalWorker, WorkerError};
    use std::sync::mpsc::{Sender, channel};

    static FRAGILE: GlobalWorker<Option<Sender<()>>> = GlobalWorker::new("fragile", |reply| {
        let reply = reply.expect("injected panic");
        let _ = reply.send(());
    });
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"injected panic") {
            default(info);
        }
    }));
    FRAGILE.send(None).unwrap(); // its thread panics on this one
    let mut stopped = false;
    for _ in 0..1000 {
        let (reply, answer) = channel();
        match FRAGILE.send(Some(reply)) {
            Err(WorkerError::Stopped { .. }) => stopped = true,
            Err(error) => panic!("{error}"),
            // Sent before the thread died: it is dropped with the thread, unanswered.
            Ok(()) if answer.recv().is_err() => {}
            Ok(()) => {
                assert!(stopped, "answered without a restart");
                assert_eq!(FRAGILE.starts(), 2);
                return;
            }
        }
    }
    panic!("the worker was never restarted");
}
