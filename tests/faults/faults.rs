//! The fault matrix: each deadline-bearing API under each fault that comes from outside its
//! own code — every runtime worker blocked in a synchronous call, the caller's own worker
//! blocked while the others idle, a current-thread runtime blocked by its caller, tokio's
//! paused clock — with the promise measured on the real clock, from outside the API: a
//! thread that watches `/proc` for the child's death, or reads the store for the row's end.
//!
//! Each cell asserts the deadline kept within deadline + grace + 100 ms (the grace is zero
//! here: `SIGTERM` ends a `sleep` at once, and a supervisor's row is ended at its deadline),
//! and never early: on tokio's paused clock a runtime timer jumps ahead, and a process killed
//! at 7 ms of a 300 ms deadline is as broken as one killed at 1.8 s.
//! The matrix is printed (to the real stderr, past the test harness's capture) whatever the
//! verdicts, then asserted.

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fixpoint::task::Machine;
use fixpoint::{
    process::{ProcessStatus, Watched},
    uptime::{Periodic, Progress, Threshold, timekeeper},
};
use fixpoint::{
    restart::{ChildSpec, RestartBackoff, RestartSupervisor},
    store::{MemoryStore, Row, StatusStore},
    task::{Config, Supervisor},
};
use tokio::runtime::{Builder, Runtime};

use crate::common::job as jobs;
use crate::common::matrix;
#[cfg(feature = "postgres")]
use crate::common::postgres as cluster;
use jobs::*;

/// The deadline (or threshold, or grace) of every cell.
const DEADLINE: Duration = Duration::from_millis(300);
/// How long a blocked thread stays blocked: well past the deadline.
const BLOCK: Duration = Duration::from_millis(1500);
/// What a deadline may be late by.
const SLACK: Duration = Duration::from_millis(100);
/// What a deadline may seem early by: the coarse clock progress is stamped with steps by a
/// few milliseconds. A deadline that fires sooner (a paused clock jumping ahead) is broken.
const EARLY: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Every worker of the runtime blocked in `std::thread::sleep`; the caller is not a worker.
    EveryWorkerBlocked,
    /// The caller's own worker blocked (`join!` beside a `std::thread::sleep`), the other idle.
    OwnWorkerBlocked,
    /// A current-thread runtime whose only thread its caller blocks.
    CurrentThreadBlocked,
    /// `tokio::time::pause`: the runtime's clock stands still and jumps when idle.
    PausedClock,
}

impl Fault {
    const ALL: [Fault; 4] = [
        Fault::EveryWorkerBlocked,
        Fault::OwnWorkerBlocked,
        Fault::CurrentThreadBlocked,
        Fault::PausedClock,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::EveryWorkerBlocked => "every worker blocked",
            Fault::OwnWorkerBlocked => "caller's own worker blocked",
            Fault::CurrentThreadBlocked => "current-thread runtime blocked",
            Fault::PausedClock => "paused clock",
        }
    }

    /// The runtime the cell runs on, with `workers` workers where it has several.
    fn runtime(self, workers: usize) -> Runtime {
        let mut builder = match self {
            Fault::EveryWorkerBlocked | Fault::OwnWorkerBlocked => {
                let mut builder = Builder::new_multi_thread();
                builder.worker_threads(workers);
                builder
            }
            Fault::CurrentThreadBlocked | Fault::PausedClock => Builder::new_current_thread(),
        };
        builder.enable_all();
        if self == Fault::PausedClock {
            builder.start_paused(true);
        }
        builder.build().unwrap()
    }

    /// Runs `api` (the call under test and its await) under this fault, and returns how long
    /// the caller waited for it.
    fn run<F>(self, api: impl FnOnce() -> F + Send + 'static) -> Duration
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.run_blocking(Blockers::Outside, api)
    }

    fn run_blocking<F>(
        self,
        blockers: Blockers,
        api: impl FnOnce() -> F + Send + 'static,
    ) -> Duration
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let workers = match blockers {
            Blockers::Outside => 2,
            Blockers::TheApisTasks(workers) => workers,
        };
        let runtime = self.runtime(workers);
        let begun = Instant::now();
        match self {
            Fault::EveryWorkerBlocked => {
                runtime.block_on(async {
                    // The API is called (its timers set, its tasks spawned) on this thread,
                    // which is no worker; the blockers start on the workers meanwhile.
                    if blockers == Blockers::Outside {
                        for _ in 0..workers {
                            tokio::spawn(async { std::thread::sleep(BLOCK) });
                        }
                    }
                    api().await;
                });
            }
            Fault::OwnWorkerBlocked => {
                runtime.block_on(async {
                    tokio::spawn(async {
                        tokio::join!(api(), async { std::thread::sleep(BLOCK) });
                    })
                    .await
                    .unwrap();
                });
            }
            Fault::CurrentThreadBlocked => {
                runtime.block_on(async {
                    tokio::join!(api(), async { std::thread::sleep(BLOCK) });
                });
            }
            Fault::PausedClock => runtime.block_on(api()),
        }
        let waited = begun.elapsed();
        runtime.shutdown_timeout(Duration::from_secs(5));
        waited
    }
}

/// Who blocks the workers when every worker is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blockers {
    /// Tasks of the test's own, one per worker.
    Outside,
    /// The API's own tasks, on a runtime of this many workers.
    TheApisTasks(usize),
}

/// One cell of the matrix.
struct Cell {
    api: &'static str,
    fault: &'static str,
    promised: Duration,
    measured: Option<Duration>,
    returned: Duration,
    note: String,
}

impl Cell {
    fn kept(&self) -> bool {
        self.note.is_empty()
            && self
                .measured
                .is_some_and(|m| m + EARLY >= self.promised && m <= self.promised + SLACK)
    }
}

/// Watches from a thread of its own for the process whose pid `pidfile` will hold to die
/// (a zombie or gone), and says when, from `begun`.
fn death_of(pidfile: PathBuf, begun: Instant) -> std::thread::JoinHandle<Option<Duration>> {
    std::thread::spawn(move || {
        let limit = begun + Duration::from_secs(20);
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|text| text.trim().parse::<u32>().ok())
            {
                break pid;
            }
            if Instant::now() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let _ = std::fs::remove_file(&pidfile);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The state is the field after the parenthesized name.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            if matches!(state, None | Some("Z" | "X")) {
                return Some(begun.elapsed());
            }
            if Instant::now() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    })
}

/// Watches from a thread of its own (with a runtime of its own) for row `id` of `store` to
/// turn terminal, and says when, from `begun`, with the row.
fn end_of(
    store: Arc<MemoryStore<Job>>,
    id: &'static str,
    begun: Instant,
) -> std::thread::JoinHandle<Option<(Duration, Row)>> {
    std::thread::spawn(move || {
        let reader = Builder::new_current_thread().build().unwrap();
        let limit = begun + Duration::from_secs(20);
        while Instant::now() < limit {
            let rows = reader.block_on(store.rows()).unwrap();
            // Ended with its reason: the status and the reason are two writes, and a read may
            // fall between them.
            let ended =
                |row: &Row| row.id == id && row.finished_at.is_some() && row.reason.is_some();
            if let Some(row) = rows.into_iter().find(ended) {
                return Some((begun.elapsed(), row));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    })
}

fn pidfile(cell: &str) -> PathBuf {
    std::env::temp_dir().join(format!("fixpoint-faults-{}-{cell}.pid", std::process::id()))
}

/// A child that writes its pid, then sleeps silently far past every deadline.
fn hang(pidfile: &std::path::Path) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", "echo $$ > \"$0\"; exec sleep 30"])
        .arg(pidfile);
    command
}

fn watched_deadline(fault: Fault) -> Cell {
    let path = pidfile(&format!("deadline-{fault:?}"));
    let begun = Instant::now();
    let death = death_of(path.clone(), begun);
    let (report, outcome) = std::sync::mpsc::channel();
    let returned = fault.run(move || async move {
        let outcome = Watched::new(hang(&path), DEADLINE).key("hang").run().await;
        report.send(outcome).unwrap();
    });
    let (status, run) = outcome.recv().unwrap().into_parts();
    let mut note = String::new();
    if !matches!(status, ProcessStatus::Killed(_)) {
        note = format!("ended {status:?}, not Killed");
    } else if run.ran_for > DEADLINE + SLACK {
        note = format!("reported ran_for {:?}", run.ran_for);
    }
    Cell {
        api: "Watched deadline",
        fault: fault.name(),
        promised: DEADLINE,
        measured: death.join().unwrap(),
        returned,
        note,
    }
}

fn watched_silence(fault: Fault) -> Cell {
    let path = pidfile(&format!("silence-{fault:?}"));
    let begun = Instant::now();
    let death = death_of(path.clone(), begun);
    let (report, outcome) = std::sync::mpsc::channel();
    let returned = fault.run(move || async move {
        let outcome = Watched::new(hang(&path), Duration::from_secs(60))
            .wedged_after(Threshold::new(DEADLINE).unwrap())
            .run()
            .await;
        report.send(outcome).unwrap();
    });
    let outcome = outcome.recv().unwrap();
    let note = match outcome.status() {
        ProcessStatus::Killed(kill) if kill.diagnosis.wedged.is_some() => String::new(),
        other => format!("ended {other:?}, not Killed as wedged"),
    };
    Cell {
        api: "Watched wedged_after",
        fault: fault.name(),
        promised: DEADLINE,
        measured: death.join().unwrap(),
        returned,
        note,
    }
}

/// A supervised task that never progresses: its row ends at the threshold.
fn spawn_watched(fault: Fault) -> Cell {
    let store = Arc::new(MemoryStore::<Job>::new());
    let begun = Instant::now();
    let end = end_of(Arc::clone(&store), "wedged", begun);
    let returned = fault.run({
        let store = Arc::clone(&store);
        move || async move {
            let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
            let threshold = Threshold::new(DEADLINE).unwrap();
            supervisor
                .spawn_watched("wedged", (), threshold, |job, _progress| async move {
                    let job = job.to_running();
                    std::future::pending::<()>().await;
                    Ok::<_, String>(job.to_done())
                })
                .await
                .unwrap();
            let _ = supervisor.join_next().await;
            drop(supervisor);
        }
    });
    row_cell(
        "Supervisor::spawn_watched",
        fault,
        end,
        returned,
        "no progress for ",
    )
}

/// Supervised tasks that block their workers: `shutdown` ends their rows at its grace.
fn shutdown(fault: Fault) -> Cell {
    let store = Arc::new(MemoryStore::<Job>::new());
    let begun = Instant::now();
    let end = end_of(Arc::clone(&store), "blocked-0", begun);
    let (report, reported) = std::sync::mpsc::channel();
    let returned = fault.run_blocking(Blockers::TheApisTasks(2), {
        let store = Arc::clone(&store);
        move || async move {
            let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
            for n in 0..2 {
                let id = format!("blocked-{n}");
                supervisor
                    .spawn(id, (), move |job| async move {
                        let job = job.to_running();
                        // On the paused clock the fault is the clock alone: the tasks hang
                        // without blocking the runtime's one thread.
                        if fault == Fault::PausedClock {
                            std::future::pending::<()>().await;
                        }
                        std::thread::sleep(BLOCK);
                        Ok::<_, String>(job.to_done())
                    })
                    .await
                    .unwrap();
            }
            let stopped = supervisor.shutdown(DEADLINE).await.unwrap();
            report.send((begun.elapsed(), stopped.rows)).unwrap();
        }
    });
    let mut cell = row_cell("Supervisor::shutdown", fault, end, returned, "aborted");
    let (back, rows) = reported.recv().unwrap();
    if let Some(row) = rows.iter().find(|row| row.status != "Failed") {
        cell.note = format!("row {} left {}", row.id, row.status);
    }
    // The report itself is promised past the grace only to a caller whose thread is free.
    let free = matches!(fault, Fault::EveryWorkerBlocked | Fault::PausedClock);
    let promised = DEADLINE + fixpoint::task::UNRESPONSIVE_AFTER + SLACK;
    if free && back > promised && cell.note.is_empty() {
        cell.note = format!("the report came back after {back:?}");
    }
    cell
}

/// A restart child's first attempt never reports started, blocking its worker (pending
/// forever on the paused clock): its row ends at the limit, counted from the attempt's start.
fn await_started(fault: Fault) -> Cell {
    let store = Arc::new(MemoryStore::<Job>::new());
    let begun = Instant::now();
    let end = end_of(Arc::clone(&store), "db#1", begun);
    let attempt_began = Arc::new(std::sync::OnceLock::new());
    let returned = fault.run_blocking(Blockers::TheApisTasks(1), {
        let (store, attempt_began) = (Arc::clone(&store), Arc::clone(&attempt_began));
        move || async move {
            let spec = ChildSpec::new("db", move |job: Machine<Job, ()>, mut attempt| {
                let attempt_began = Arc::clone(&attempt_began);
                async move {
                    let job = job.to_running();
                    if attempt.number() == 1 {
                        let _ = attempt_began.set(begun.elapsed());
                        if fault == Fault::PausedClock {
                            std::future::pending::<()>().await;
                        }
                        std::thread::sleep(BLOCK);
                    }
                    attempt.started();
                    attempt.stopping().await;
                    Ok::<_, String>(job.to_done())
                }
            })
            .await_started(DEADLINE);
            let supervisor = RestartSupervisor::builder()
                .intensity(100, Duration::from_secs(3600))
                .backoff(RestartBackoff::ZERO)
                .child(spec)
                .start(store)
                .await
                .unwrap();
            supervisor.shutdown().await.unwrap();
        }
    });
    let mut cell = row_cell(
        "RestartSupervisor await_started",
        fault,
        end,
        returned,
        "did not report started within",
    );
    let began = attempt_began.get().copied().unwrap_or_default();
    cell.measured = cell.measured.map(|at| at.saturating_sub(began));
    cell
}

fn row_cell(
    api: &'static str,
    fault: Fault,
    end: std::thread::JoinHandle<Option<(Duration, Row)>>,
    returned: Duration,
    reason: &str,
) -> Cell {
    let ended = end.join().unwrap();
    let note = match &ended {
        None => "the row never ended".to_owned(),
        Some((_, row)) if row.status != "Failed" => format!("ended {}", row.status),
        Some((_, row)) if !row.reason.as_deref().unwrap_or("").starts_with(reason) => {
            format!("reason {:?}", row.reason)
        }
        Some(_) => String::new(),
    };
    Cell {
        api,
        fault: fault.name(),
        promised: DEADLINE,
        measured: ended.map(|(at, _)| at),
        returned,
        note,
    }
}

/// The progress watchdog awaited by a caller on a free thread while the work blocks every
/// worker (a caller blocked itself cannot be woken).
fn watchdog(fault: Fault) -> Option<Cell> {
    if matches!(fault, Fault::OwnWorkerBlocked | Fault::CurrentThreadBlocked) {
        return None;
    }
    let begun = Instant::now();
    let (report, wedged) = std::sync::mpsc::channel();
    let returned = fault.run(move || async move {
        let progress = Progress::new();
        let wedged = progress
            .watchdog(Threshold::new(DEADLINE).unwrap())
            .wedged()
            .await;
        report.send((begun.elapsed(), wedged)).unwrap();
    });
    let (at, wedged) = wedged.recv().unwrap();
    let note = if wedged.for_ < DEADLINE {
        format!("declared wedged after {:?} of silence", wedged.for_)
    } else {
        String::new()
    };
    Some(Cell {
        api: "Watchdog::wedged",
        fault: fault.name(),
        promised: DEADLINE,
        measured: Some(at),
        returned,
        note,
    })
}

/// A bus subscription's bounded wait for an answer that never comes, awaited by a free
/// caller.
fn bus_wait(fault: Fault) -> Option<Cell> {
    if matches!(fault, Fault::OwnWorkerBlocked | Fault::CurrentThreadBlocked) {
        return None;
    }
    let begun = Instant::now();
    let (report, waited) = std::sync::mpsc::channel();
    let returned = fault.run(move || async move {
        let answers: fixpoint::bus::Bus<u64, &str> = fixpoint::bus::Bus::new();
        let mut answer = answers.subscribe(7);
        let waited = answer.wait_within(DEADLINE, || None).await;
        report.send((begun.elapsed(), waited)).unwrap();
    });
    let (at, waited) = waited.recv().unwrap();
    let note = match waited {
        Err(fixpoint::bus::WaitError::TimedOut { .. }) => String::new(),
        other => format!("{other:?}"),
    };
    Some(Cell {
        api: "Bus wait_within",
        fault: fault.name(),
        promised: DEADLINE,
        measured: Some(at),
        returned,
        note,
    })
}

/// A `PgBus` subscription's bounded wait for a notification that never comes, subscribed while
/// the workers are free, awaited by a free caller while every worker is blocked (or on the
/// paused clock).
#[cfg(feature = "postgres")]
fn pg_bus_wait(fault: Fault, url: &str) -> Option<Cell> {
    if matches!(fault, Fault::OwnWorkerBlocked | Fault::CurrentThreadBlocked) {
        return None;
    }
    // Connected on a running clock (the driver's own connect timeout is tokio's), paused
    // for the wait.
    let runtime = match fault {
        Fault::PausedClock => Builder::new_current_thread().enable_all().build().unwrap(),
        _ => fault.runtime(2),
    };
    let (at, waited, returned) = runtime.block_on(async {
        let bus = fixpoint::bus::PgBus::connect(url).await.unwrap();
        let mut answer = bus.subscribe("answers").await.unwrap();
        match fault {
            Fault::EveryWorkerBlocked => {
                for _ in 0..2 {
                    tokio::spawn(async { std::thread::sleep(BLOCK) });
                }
            }
            _ => tokio::time::pause(),
        }
        let begun = Instant::now();
        let waited = answer.wait_within(DEADLINE, || async { Ok(None) }).await;
        (begun.elapsed(), waited, begun.elapsed())
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    let note = match waited {
        Err(fixpoint::bus::PgWaitError::TimedOut { .. }) => String::new(),
        other => format!("{other:?}"),
    };
    Some(Cell {
        api: "PgBus wait_within",
        fault: fault.name(),
        promised: DEADLINE,
        measured: Some(at),
        returned,
        note,
    })
}

/// A timekeeper timeout over a future that never ends, awaited by a free caller.
fn timeout(fault: Fault) -> Option<Cell> {
    if matches!(fault, Fault::OwnWorkerBlocked | Fault::CurrentThreadBlocked) {
        return None;
    }
    let begun = Instant::now();
    let (report, elapsed) = std::sync::mpsc::channel();
    let returned = fault.run(move || async move {
        let limited = timekeeper::timeout(DEADLINE, std::future::pending::<()>()).await;
        report.send((begun.elapsed(), limited.is_err())).unwrap();
    });
    let (at, elapsed) = elapsed.recv().unwrap();
    Some(Cell {
        api: "timekeeper::timeout",
        fault: fault.name(),
        promised: DEADLINE,
        measured: Some(at),
        returned,
        note: if elapsed {
            String::new()
        } else {
            "did not elapse".to_owned()
        },
    })
}

/// A periodic job's cadence (its period the matrix's deadline). Its cycles run on the
/// runtime, on the runtime's clock: a caller that blocks its own worker holds none back; a
/// cycle that every blocked worker held back runs as soon as one is free, and the next a whole
/// period later (no burst of missed cycles); on the paused clock one cycle runs per period the
/// clock advances, measured on that clock.
fn periodic(fault: Fault) -> Cell {
    let begun = Instant::now();
    let paused_begun = tokio::time::Instant::now();
    let cycles = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&cycles);
    let returned = fault.run(move || async move {
        let paused_begun = tokio::time::Instant::now().max(paused_begun);
        let task = Periodic::every(DEADLINE)
            .named("matrix")
            .run(move || {
                let at = if fault == Fault::PausedClock {
                    paused_begun.elapsed()
                } else {
                    begun.elapsed()
                };
                seen.lock().unwrap().push(at);
                async { Ok::<(), String>(()) }
            })
            .no_reaper("the cycle only records when it ran")
            .start()
            .await
            .unwrap();
        if fault == Fault::PausedClock {
            tokio::time::sleep(DEADLINE * 3 + DEADLINE / 2).await;
        } else {
            timekeeper::sleep_until(begun + BLOCK + DEADLINE * 2 + DEADLINE / 2).await;
        }
        task.stop();
    });
    let cycles = cycles.lock().unwrap().clone();
    let (measured, note) = match fault {
        Fault::OwnWorkerBlocked => (cycles.get(1).copied(), String::new()),
        Fault::PausedClock => (
            cycles.get(1).copied(),
            if cycles.len() == 4 {
                String::new()
            } else {
                format!("{} cycles in 3.5 periods: {cycles:?}", cycles.len())
            },
        ),
        Fault::EveryWorkerBlocked | Fault::CurrentThreadBlocked => {
            // The first cycle once the runtime is free, and the gap to the next.
            let freed = cycles.iter().position(|at| *at + EARLY >= BLOCK);
            match freed.and_then(|k| Some((cycles[k], *cycles.get(k + 1)?))) {
                Some((first, next)) if first <= BLOCK + SLACK => {
                    (Some(next - first), String::new())
                }
                Some((first, next)) => (
                    Some(next - first),
                    format!("the held-back cycle ran at {first:?}, not when the runtime freed"),
                ),
                None => (None, format!("cycles at {cycles:?}")),
            }
        }
    };
    Cell {
        api: "Periodic cadence",
        fault: fault.name(),
        promised: DEADLINE,
        measured,
        returned,
        note,
    }
}

fn print(cells: &[Cell]) {
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|cell| {
            vec![
                cell.api.to_owned(),
                cell.fault.to_owned(),
                matrix::millis(cell.measured),
                format!("{} ms", cell.returned.as_millis()),
                matrix::verdict(cell.kept(), &cell.note),
            ]
        })
        .collect();
    matrix::print(
        "fault matrix (deadline 300 ms, kept within -5 ms / +100 ms; 'returned' is when the \
         caller got its answer: late only where its own thread was blocked)",
        &["api", "fault", "kept at", "returned", "verdict"],
        &rows,
    );
}

#[test]
fn every_deadline_holds_under_every_fault_from_outside() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let mut cells = Vec::new();
    #[cfg(feature = "postgres")]
    let pg = cluster::Cluster::shared().create_database("faults_pg_bus");
    for fault in Fault::ALL {
        cells.push(watched_deadline(fault));
        cells.push(watched_silence(fault));
        cells.push(spawn_watched(fault));
        cells.push(shutdown(fault));
        // The restart driver is a task: a caller blocking its worker holds back the start
        // itself, not a deadline.
        if fault != Fault::OwnWorkerBlocked {
            cells.push(await_started(fault));
        }
        cells.extend(watchdog(fault));
        cells.extend(bus_wait(fault));
        #[cfg(feature = "postgres")]
        cells.extend(pg_bus_wait(fault, &pg));
        cells.extend(timeout(fault));
        cells.push(periodic(fault));
    }
    print(&cells);
    let broken: Vec<_> = cells
        .iter()
        .filter(|cell| !cell.kept())
        .map(|cell| {
            format!(
                "{} / {}: {:?} {}",
                cell.api, cell.fault, cell.measured, cell.note
            )
        })
        .collect();
    assert!(broken.is_empty(), "deadlines broken: {broken:#?}");
}
