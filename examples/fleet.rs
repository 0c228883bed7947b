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
//! With feature `postgres`, `-- --postgres URL` runs part 2 on a PostgreSQL table instead
//! (`project_status_status`, which the example empties first), as a fleet of hosts would:
//! `cargo run --example fleet --features sqlite,postgres -- --postgres "host=127.0.0.1 user=postgres"`.
//! `fleet work <db> <tasks> <lease-ms>` (or `fleet work --postgres <url> <tasks> <lease-ms>`)
//! is the child process (the crash tests use it too).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(feature = "postgres")]
use fixpoint::store::PostgresStore;
use fixpoint::{
    Lifecycle,
    store::{SqliteStore, StatusStore},
    task::{Config, Supervisor},
    terminal_state,
};

/// The project row's lifecycle.
#[terminal_state(resume)]
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

/// Where the rows live: a SQLite file, or (feature `postgres`) a PostgreSQL database.
enum Backend {
    Sqlite(String),
    #[cfg(feature = "postgres")]
    Postgres(String),
}

/// How to call the example; printed with exit code 2 when the arguments are not of it.
const USAGE: &str = "usage: fleet [PATH.db | --postgres URL]
       fleet work (PATH.db | --postgres URL) TASKS LEASE_MS   (the worker process)";

/// What the command line asks for.
enum Args {
    /// Parts 1 and 2 on this backend; the SQLite file is a temporary one when none is named.
    Story(Option<Backend>),
    /// The worker process of part 2.
    Work {
        backend: Backend,
        tasks: usize,
        lease: Duration,
    },
}

impl Args {
    /// Reads the arguments after the program's name strictly: anything unexpected is an error
    /// saying what was wrong, never a guess (a `--postgres` without its URL is not a path).
    fn parse(args: &[String]) -> Result<Args, String> {
        match args {
            [work, rest @ ..] if work == "work" => {
                let (backend, rest) = Backend::parse(rest)?;
                let backend = backend.ok_or("`work` needs a backend: PATH.db or --postgres URL")?;
                let [tasks, lease] = rest else {
                    return Err(format!(
                        "`work` takes TASKS and LEASE_MS after the backend, got {rest:?}"
                    ));
                };
                let tasks = tasks
                    .parse()
                    .map_err(|_| format!("TASKS must be a number of tasks, got {tasks:?}"))?;
                let lease = lease
                    .parse()
                    .map(Duration::from_millis)
                    .map_err(|_| format!("LEASE_MS must be milliseconds, got {lease:?}"))?;
                Ok(Args::Work {
                    backend,
                    tasks,
                    lease,
                })
            }
            args => match Backend::parse(args)? {
                (backend, []) => Ok(Args::Story(backend)),
                (_, extra) => Err(format!("unexpected arguments {extra:?}")),
            },
        }
    }
}

impl Backend {
    /// The backend the first arguments name (`--postgres URL`, or a SQLite path), and the rest;
    /// `None` when there are no arguments.
    fn parse(args: &[String]) -> Result<(Option<Backend>, &[String]), String> {
        match args {
            [] => Ok((None, args)),
            [flag, rest @ ..] if flag == "--postgres" => match rest {
                [url, rest @ ..] if !url.trim().is_empty() && !url.starts_with("--") => {
                    Self::postgres(url).map(|backend| (Some(backend), rest))
                }
                _ => Err("--postgres needs a connection URL, for example \
                          --postgres \"host=127.0.0.1 user=postgres\" (was the variable empty?)"
                    .to_owned()),
            },
            [flag, ..] if flag.starts_with('-') => Err(format!("unknown option {flag:?}")),
            [path, rest @ ..] => Ok((Some(Backend::Sqlite(path.clone())), rest)),
        }
    }

    #[cfg(feature = "postgres")]
    #[allow(clippy::unnecessary_wraps)] // an error without the feature
    fn postgres(url: &str) -> Result<Backend, String> {
        Ok(Backend::Postgres(url.to_owned()))
    }

    #[cfg(not(feature = "postgres"))]
    fn postgres(_: &str) -> Result<Backend, String> {
        Err("--postgres needs the feature: \
             cargo run --example fleet --features sqlite,postgres -- --postgres URL"
            .to_owned())
    }

    /// The arguments that name this backend to the child process.
    fn args(&self) -> Vec<&str> {
        match self {
            Backend::Sqlite(path) => vec![path],
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => vec!["--postgres", url],
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "a SQLite file",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "a PostgreSQL table",
        }
    }

    /// The child process's work on this backend.
    async fn work(&self, projects: usize, lease: Duration) {
        match self {
            Backend::Sqlite(path) => {
                work(
                    SqliteStore::<ProjectStatus>::open(path).expect("open the status file"),
                    projects,
                    lease,
                )
                .await;
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => work(postgres(url).await, projects, lease).await,
        }
    }

    /// Starts afresh: no file, or an empty table.
    async fn clear(&self) {
        match self {
            Backend::Sqlite(path) => {
                for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
                    drop(std::fs::remove_file(file));
                }
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => {
                let store = postgres(url).await;
                let client = store.pool().get().await.expect("a connection");
                let table = PostgresStore::<ProjectStatus>::table();
                client
                    .execute(&format!("DELETE FROM {table}"), &[])
                    .await
                    .expect("empty the example's table");
            }
        }
    }

    /// Part 2's second half: a new process reconciles what the killed one left.
    async fn reconcile(&self, killed: &str, lease: Duration) {
        match self {
            Backend::Sqlite(path) => {
                let store = SqliteStore::<ProjectStatus>::open(path).expect("open the status file");
                reconcile(
                    store,
                    killed,
                    lease,
                    &SqliteStore::<ProjectStatus>::schema(),
                )
                .await;
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(url) => {
                let schema = PostgresStore::<ProjectStatus>::schema();
                // The table's part of the schema: the generated function follows it.
                let table = schema
                    .split("CREATE OR REPLACE FUNCTION")
                    .next()
                    .unwrap_or("");
                reconcile(postgres(url).await, killed, lease, table.trim_end()).await;
            }
        }
    }
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str) -> PostgresStore<ProjectStatus> {
    PostgresStore::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"))
}

/// The child process: supervised projects on the store, until it is killed.
async fn work<S: StatusStore<ProjectStatus>>(store: S, projects: usize, lease: Duration) {
    let config = Config::new().lease_ttl(lease).heartbeat(lease / 4);
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

fn count(rows: &[fixpoint::store::Row]) -> Vec<(String, usize)> {
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = match Args::parse(&args) {
        Ok(Args::Work {
            backend,
            tasks,
            lease,
        }) => return backend.work(tasks, lease).await,
        Ok(Args::Story(backend)) => backend,
        Err(error) => {
            eprintln!("fleet: {error}\n{USAGE}");
            std::process::exit(2);
        }
    };

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

    let temporary = backend.is_none();
    let backend = backend.unwrap_or_else(|| {
        let scratch =
            std::env::temp_dir().join(format!("fixpoint-fleet-{}.db", std::process::id()));
        Backend::Sqlite(scratch.display().to_string())
    });
    println!(
        "Part 2: a Supervisor on {}, killed with SIGKILL mid-flight\n",
        backend.describe()
    );
    backend.clear().await;
    let lease = Duration::from_millis(300);
    let mut child = Command::new(std::env::current_exe().expect("this example's path"))
        .arg("work")
        .args(backend.args())
        .args(["32", &lease.as_millis().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the worker process");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut ready)
        .expect("ready line");
    let Some(owner) = ready.trim().strip_prefix("ready ").map(str::to_owned) else {
        // It ended (or said something else) before it was ready: the story cannot go on.
        let status = child.wait().expect("reap the worker");
        eprintln!(
            "fleet: the worker process failed before it was ready ({status}); its error is above"
        );
        if temporary {
            backend.clear().await;
        }
        std::process::exit(1);
    };
    child.kill().expect("SIGKILL the worker");
    child.wait().expect("reap the worker");
    backend.reconcile(&owner, lease).await;
    let _ = ProjectStatus::mermaid();
    if temporary {
        backend.clear().await;
    }
}

/// Reconciles the rows the killed process left on `store`, and shows the table.
async fn reconcile<S: StatusStore<ProjectStatus>>(
    store: S,
    killed: &str,
    lease: Duration,
    schema: &str,
) {
    println!(
        "  killed {killed}; rows left: {:?}",
        count(&store.rows().await.unwrap())
    );
    tokio::time::sleep(lease + Duration::from_millis(100)).await; // the dead lease expires
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
        indent(schema)
    );
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}
