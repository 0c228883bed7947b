//! Rows stuck at `Initialized`, and the fleet that cannot leave one behind.
//!
//! A launch route spawned a background task that moved a project from `Initialized` to
//! `Running` or `Failed`. When workspace preparation failed, the task died and its row stayed
//! `Initialized` forever. Part 1 replays that with a plain `tokio::spawn`. Part 2 runs the same
//! work under a `Supervisor` recording to a SQLite file, in a child process that is killed with
//! SIGKILL mid-flight; a new process reconciles the orphans, and every row ends terminal.
//!
//! Run it with `cargo run --example fleet --features sqlite` (the file is a temporary one;
//! pass a path to keep it: `cargo run --example fleet --features sqlite -- /tmp/fleet.db`).
//! `fleet work <db> <tasks> <lease-ms>` is the child process (the crash test uses it too).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fixpoint::{Config, Lifecycle, SqliteStore, StatusStore, Supervisor, terminal_state};

/// The project row's lifecycle.
#[terminal_state]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectStatus {
    /// Created by the launch route.
    #[initial]
    #[to(Running, Failed)]
    Initialized,
    /// The workspace is ready; the agent works.
    #[to(Completed, Failed)]
    Running,
    /// Done.
    #[terminal]
    Completed,
    /// Failed, or recorded when the task was lost.
    #[terminal]
    #[abandoned]
    Failed,
}

/// Preparing a workspace: of every four projects, one is ready, one fails, and two take
/// forever (until the process dies).
async fn prepare_workspace(project: usize) -> Result<(), String> {
    match project % 4 {
        0 => Ok(()),
        1 => Err(format!("workspace {project}: disk quota exceeded")),
        _ => std::future::pending().await,
    }
}

/// Part 1: the row is written by the task itself, so a task that dies leaves it as it was.
async fn plain_spawn(projects: usize) -> HashMap<usize, &'static str> {
    let rows = Arc::new(Mutex::new(HashMap::new()));
    let mut tasks = Vec::new();
    for project in 0..projects {
        rows.lock().unwrap().insert(project, "Initialized");
        let rows = Arc::clone(&rows);
        tasks.push(tokio::spawn(async move {
            prepare_workspace(project).await.unwrap(); // the error escapes as a panic
            rows.lock().unwrap().insert(project, "Running");
            rows.lock().unwrap().insert(project, "Completed");
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    for task in &tasks {
        task.abort(); // the process restarts
    }
    rows.lock().unwrap().clone()
}

/// The child process: supervised projects on a SQLite file, until it is killed.
async fn work(path: &str, projects: usize, lease: Duration) {
    let store = SqliteStore::<ProjectStatus>::open(path).expect("open the status file");
    let config = Config {
        lease_ttl: lease,
        heartbeat: lease / 4,
        ..Config::default()
    };
    let mut supervisor = Supervisor::start(store, config).await.expect("start");
    for project in 0..projects {
        supervisor
            .spawn(format!("project-{project:04}"), project, |row| async move {
                if project % 4 == 3 {
                    std::future::pending::<()>().await; // still Initialized when killed
                }
                let running = row.to_running();
                prepare_workspace(*running).await?;
                Ok::<_, String>(running.to_completed())
            })
            .await
            .expect("spawn");
    }
    // Ready once every project that can move has moved: a quarter each Completed, Failed,
    // Running (preparing forever) and Initialized (never started), all in the file.
    let expected = [
        ("Completed", projects / 4),
        ("Failed", projects / 4),
        ("Initialized", projects / 4),
        ("Running", projects / 4),
    ]
    .map(|(status, n)| (status.to_owned(), n));
    loop {
        supervisor
            .flush()
            .await
            .expect("the store applies every write");
        if count(&supervisor.store().rows().await.expect("rows")) == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("ready {}", supervisor.owner());
    std::io::stdout().flush().ok();
    std::future::pending::<()>().await;
}

fn count(rows: &[fixpoint::Row]) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for row in rows {
        *counts.entry(row.status.clone()).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort();
    counts
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("work") {
        let projects = args[3].parse().expect("a number of projects");
        let lease = Duration::from_millis(args[4].parse().expect("a lease in milliseconds"));
        work(&args[2], projects, lease).await;
        return;
    }

    println!("Part 1: plain tokio::spawn, the process restarts\n");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // the failures below panic; keep the story readable
    let rows = plain_spawn(8).await;
    std::panic::set_hook(default_hook);
    let stuck = rows.values().filter(|s| **s == "Initialized").count();
    println!(
        "  {stuck} of {} rows stay `Initialized` forever\n",
        rows.len()
    );

    println!("Part 2: a Supervisor on a SQLite file, killed with SIGKILL mid-flight\n");
    let scratch = std::env::temp_dir().join(format!("fixpoint-fleet-{}.db", std::process::id()));
    let path = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| scratch.display().to_string());
    let _ = std::fs::remove_file(&path);
    let lease_ms = 300;
    let mut child = Command::new(std::env::current_exe().expect("this example's path"))
        .args(["work", &path, "32", &lease_ms.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the worker process");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut ready)
        .expect("ready line");
    child.kill().expect("SIGKILL the worker");
    child.wait().expect("reap the worker");
    let store = SqliteStore::<ProjectStatus>::open(&path).expect("open the status file");
    println!(
        "  killed {}; rows left: {:?}",
        ready.trim(),
        count(&store.rows().await.unwrap())
    );

    tokio::time::sleep(Duration::from_millis(lease_ms + 100)).await; // the dead lease expires
    let mut supervisor = Supervisor::start(store, Config::default())
        .await
        .expect("start");
    let reconciled = supervisor
        .reconcile(|orphan| {
            // A project that was running resumes; one that never started is abandoned.
            match orphan.machine {
                ProjectStatusResumed::Running(project) => {
                    Some(async move { project.to_completed() })
                }
                _ => None,
            }
        })
        .await
        .expect("reconcile");
    println!(
        "  the new process resumed {} and abandoned {} orphans",
        reconciled.resumed.len(),
        reconciled.abandoned.len()
    );
    let report = supervisor
        .shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
    let unfinished = report
        .rows
        .iter()
        .filter(|row| row.state::<ProjectStatus>().is_ok_and(|s| !s.is_terminal()))
        .count();
    println!("  rows now: {:?}", count(&report.rows));
    println!("  non-terminal rows: {unfinished}");
    if let Some(row) = report.rows.iter().find(|row| row.reason.is_some()) {
        println!(
            "  e.g. {} is `{}`: {}",
            row.id,
            row.status,
            row.reason.as_deref().unwrap_or("")
        );
    }
    println!(
        "\n  The status column accepts only the declared states:\n{}",
        indent(&SqliteStore::<ProjectStatus>::schema())
    );
    let _ = ProjectStatus::mermaid();
    if args.get(1).is_none() {
        let _ = std::fs::remove_file(&path);
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}
