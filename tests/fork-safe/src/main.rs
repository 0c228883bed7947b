//! Starts two global workers, forks, and asks each from the child which process answers:
//! the incident's worker (a thread behind a `OnceLock`) never answers, since the child
//! copied the lock that says "started" but not the thread; `GlobalWorker` sees the pid
//! changed, starts afresh, and answers from the child.
//!
//! Prints one line per worker for `tests/process/uptime_fork.rs` to check.

use std::io::{Read, Write};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use fixpoint::uptime::GlobalWorker;

/// Answers each request with the pid of the process its thread runs in.
fn echo_pid(reply: Sender<u32>) {
    let _ = reply.send(std::process::id());
}

static FORK_SAFE: GlobalWorker<Sender<u32>> = GlobalWorker::new("fork-safe", echo_pid);

/// The incident's worker: started once per address space.
static ONCE: OnceLock<Mutex<Sender<Sender<u32>>>> = OnceLock::new();

fn once_send(reply: Sender<u32>) {
    let worker = ONCE.get_or_init(|| {
        let (requests, inbox) = mpsc::channel();
        std::thread::spawn(move || inbox.into_iter().for_each(echo_pid));
        Mutex::new(requests)
    });
    let _ = worker.lock().unwrap().send(reply);
}

/// Which process answered, if any did within the timeout.
fn ask(send: impl FnOnce(Sender<u32>)) -> Option<u32> {
    let (reply, answer) = mpsc::channel();
    send(reply);
    answer.recv_timeout(Duration::from_secs(2)).ok()
}

#[allow(unsafe_code)] // the one unsafe call of this crate
fn fork() -> libc::pid_t {
    // SAFETY: the child only runs Rust code that allocates and spawns threads, which glibc
    // and musl support after fork; it exits through `std::process::exit`.
    unsafe { libc::fork() }
}

/// Runs `report` in a forked child and returns the line it wrote.
fn in_child(report: impl FnOnce() -> String) -> String {
    let (mut from_child, mut to_parent) = std::io::pipe().expect("a pipe");
    std::io::stdout().flush().expect("stdout flushed before the fork");
    match fork() {
        -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
        0 => {
            drop(from_child);
            let line = report();
            let _ = to_parent.write_all(line.as_bytes());
            std::process::exit(0);
        }
        _ => {
            drop(to_parent);
            let mut line = String::new();
            from_child.read_to_string(&mut line).expect("the child's line");
            line
        }
    }
}

fn answered(answer: Option<u32>) -> String {
    match answer {
        Some(pid) if pid == std::process::id() => "answered by this process".to_owned(),
        Some(pid) => format!("answered by another process ({pid})"),
        None => "no answer".to_owned(),
    }
}

fn main() {
    // The parent starts both workers, and both answer it.
    println!("parent, OnceLock worker: {}", answered(ask(once_send)));
    println!(
        "parent, GlobalWorker: {}",
        answered(ask(|reply| FORK_SAFE.send(reply).unwrap()))
    );
    let once = in_child(|| format!("child, OnceLock worker: {}", answered(ask(once_send))));
    println!("{once}");
    let fork_safe = in_child(|| {
        let answer = ask(|reply| FORK_SAFE.send(reply).unwrap());
        format!(
            "child, GlobalWorker: {} (workers started: {})",
            answered(answer),
            FORK_SAFE.starts()
        )
    });
    println!("{fork_safe}");
}
