//! The tour: each of fixpoint's contracts, shown on the bug it exists for.
//!
//! Run it with `cargo run --example tour`. Every section prints what it demonstrates; the
//! compile-time half of each contract is in `ui-tests/` (the code that must not compile) and is
//! quoted here where it matters.

use std::sync::{Arc, Mutex};

use std::time::Duration;

use fixpoint::{
    Event, Lifecycle, Resume, Terminal, Tracked,
    bus::Bus,
    invariant,
    invariant::Checked,
    lock::{LockScope, Semaphore, bounded},
    lock_scope,
    store::{MemoryStore, StatusStore},
    task::{Config, Outcome, Supervisor},
    terminal_state,
};

fn main() {
    println!("fixpoint tour\n=============\n");
    lifecycle_section();
    supervisor_section();
    lock_scope_section();
    handles_section();
    pubsub_section();
    invariant_section();
    uptime_section();
}

// ---------------------------------------------------------------------------------------------
// 1 & 3. #[terminal_state]: a task can only finish through a terminal state
// ---------------------------------------------------------------------------------------------

/// The id of a follow-up question a running project waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUpId(pub u64);

/// The status row of a project that a background task drives.
#[terminal_state(resume)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectStatus {
    /// Created by the launch route.
    #[initial]
    #[to(Running, Failed)]
    Initialized,
    /// The workspace is ready and the agent works.
    #[to(InputNeeded, Completed, Failed)]
    Running,
    /// Waiting for a user's answer; the follow-up exists by construction.
    #[to(Running, Failed)]
    InputNeeded(FollowUpId),
    /// Done.
    #[terminal]
    Completed,
    /// Failed, or recorded when the owner was lost.
    #[terminal]
    #[abandoned]
    Failed,
}

/// A status table: what a recorder writes to.
#[derive(Default)]
struct StatusTable(Mutex<Vec<String>>);

impl fixpoint::Recorder<ProjectStatus> for StatusTable {
    fn record(&self, event: Event<ProjectStatus>) {
        self.0.lock().unwrap().push(event.to_string());
    }
}

/// The background body. Its return type is the contract: it cannot return before the project
/// is terminal, because only a terminal transition produces a `Terminal`.
fn launch(
    project: Tracked<
        ProjectStatus,
        project_status::Initialized,
        String,
        fixpoint::Recorded<Arc<StatusTable>>,
    >,
    prepare_fails: bool,
) -> Terminal<ProjectStatus, String> {
    let running = project.to_running();
    if prepare_fails {
        // Before fixpoint, this panic left the row at `Initialized` forever.
        panic!("workspace preparation failed for {}", *running);
    }
    let waiting = running.to_input_needed(FollowUpId(42));
    waiting.to_running().to_completed()
}

fn lifecycle_section() {
    println!("1. #[terminal_state]: a background task exits only through a terminal status\n");
    let table = Arc::new(StatusTable::default());

    let project =
        Tracked::<ProjectStatus, _, _>::new("site-a".to_owned()).with_recorder(table.clone());
    let done = launch(project, false);
    println!("   site-a finished as {:?}", done.status());

    let project =
        Tracked::<ProjectStatus, _, _>::new("site-b".to_owned()).with_recorder(table.clone());
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let crashed = std::panic::catch_unwind(|| launch(project, true));
    std::panic::set_hook(quiet);
    println!("   site-b panicked: {}", crashed.is_err());

    println!("   the status table, as the recorder wrote it:");
    for row in table.0.lock().unwrap().iter() {
        println!("     {row}");
    }
    println!("   -> the panic was recorded as the #[abandoned] state: no row stays `Running`\n");

    println!("   A row read back after a restart resumes as its typed machine:");
    match ProjectStatus::InputNeeded(FollowUpId(42)).resume("site-c") {
        ProjectStatusResumed::InputNeeded(waiting) => {
            println!(
                "     InputNeeded, follow-up {:?} guaranteed present",
                Tracked::data(&waiting)
            );
            let done = waiting.to_running().to_completed();
            println!("     resumed and finished as {:?}", done.status());
        }
        other => println!("     unexpected: {other:?}"),
    }
    match ProjectStatus::parse_state("Paused") {
        Ok(state) => println!("     unexpected state {state}"),
        Err(poisoned) => println!("     a poisoned row is named, not guessed: {poisoned}"),
    }

    println!("\n   What does not compile (see ui-tests/terminal_state/):");
    println!("     project.to_completed() from Initialized ->");
    println!("       error[E0277]: illegal transition: `Initialized` has no declared edge to");
    println!("       `project_status::Completed`, and lists the edges `Initialized` has");
    println!("     returning a running project where a Terminal is required -> error[E0308]");
    println!("     closing a handle through `&`, `Arc` or a `View` -> error[E0507] / error[E0599]");

    println!("\n   The declared machine, as Mermaid:\n");
    for line in ProjectStatus::mermaid().lines() {
        println!("     {line}");
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// 2. #[lock_scope(no_unbounded_await)]: no permit held across a wait with no bound
// ---------------------------------------------------------------------------------------------

/// A user who closed the laptop: the reply never comes.
async fn reply_from_a_closed_laptop() -> String {
    std::future::pending().await
}

/// The bug, kept outside the contract on purpose (its scope says so): the permit spans the
/// wait for the user.
async fn agent_run_before(pool: Semaphore, user: &'static str) {
    let scope = LockScope::unchecked("the pre-contract agent run, kept to show the stall");
    let permit = pool.acquire(&scope).await;
    permit.set_label(format!("agent run for {user}"));
    let _reply = reply_from_a_closed_laptop().await;
    drop(permit);
}

/// The contract: the permit covers bounded work only; the user wait happens with the slot
/// given back. Moving the wait above `drop(permit)` makes this function fail to compile with
/// `cannot borrow lock_scope.permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded
/// as mutable`.
#[lock_scope(no_unbounded_await)]
async fn agent_run_after(pool: Semaphore) -> Option<String> {
    let permit = pool
        .acquire_timeout(&lock_scope, Duration::from_secs(1))
        .await
        .ok()?;
    bounded(Duration::from_secs(5), tokio::task::yield_now())
        .await
        .ok()?;
    drop(permit);
    Some(reply_from_a_closed_laptop().await)
}

#[lock_scope(no_unbounded_await)]
async fn one_more_request(pool: &Semaphore) -> Result<(), fixpoint::lock::AcquireTimeout> {
    let permit = pool
        .acquire_timeout(&lock_scope, Duration::from_millis(100))
        .await?;
    drop(permit);
    Ok(())
}

fn lock_scope_section() {
    println!("2. #[lock_scope(no_unbounded_await)]: no permit is held across an unbounded wait\n");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = Semaphore::new("agent-runs", 2);
        for user in ["alice", "bob"] {
            tokio::spawn(agent_run_before(pool.clone(), user));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Err(stalled) = one_more_request(&pool).await {
            println!("   before: two closed laptops stall the pool, and the timeout says why:");
            println!("     {stalled}");
        }

        let pool = Semaphore::new("agent-runs", 2);
        for _ in 0..2 {
            tokio::spawn(agent_run_after(pool.clone()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let served = one_more_request(&pool).await.is_ok();
        println!(
            "   after: the same two users hold {} permits; a new request is served: {served}",
            pool.gauges().in_flight
        );
    });
    println!(
        "\n   What does not compile (see ui-tests/lock_scope/): a permit alive at an await that"
    );
    println!(
        "   is not bounded, however it got there: rebound, shadowed, in a tuple, struct or Vec,"
    );
    println!("   in a loop, an if/match arm, a nested async block, select!/join!, or a helper.");
    println!("     error[E0502]: cannot borrow");
    println!(
        "     `lock_scope.permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded`"
    );
    println!("     as mutable because it is also borrowed as immutable");
    println!(
        "   Fix: release the permit first, bound the wait (`bounded(limit, wait)`), or declare"
    );
    println!("   the exception where it is made (`allow_unbounded(\"reason\", wait)`).\n");
}

// ---------------------------------------------------------------------------------------------
// 5. #[invariant]: a rule from a comment becomes a contract checked on every write
// ---------------------------------------------------------------------------------------------

/// A project row as the API layer holds it.
#[invariant(
    name = follow_up_exists,
    !self.waiting_for_input || self.follow_up.is_some(),
    "a project waiting for input has a follow-up row"
)]
#[invariant(name = funded, self.budget > 0, "a project has a budget")]
#[derive(Debug, Clone)]
pub struct ProjectRow {
    waiting_for_input: bool,
    follow_up: Option<u64>,
    budget: u32,
}

fn invariant_section() {
    println!(
        "5. #[invariant]: a rule checked at construction, on every write, on deserialization\n"
    );
    let row = ProjectRow {
        waiting_for_input: false,
        follow_up: None,
        budget: 10,
    };
    let mut row = Checked::new(row).expect("a valid row");
    match row.set_waiting_for_input(true) {
        Ok(_) => println!("   unexpected: accepted"),
        Err(refused) => println!("   refused: {}", refused.violation()),
    }
    println!("   the row is unchanged: {:?}", *row);
    row.set_follow_up(Some(7))
        .expect("a follow-up on a running row is fine");
    row.set_waiting_for_input(true).expect("now the rule holds");
    println!("   row first, then status: {:?}", *row);
    println!("\n   What does not compile (see ui-tests/invariant/): `row.budget = 0` through the");
    println!("   checked form (no DerefMut), `&mut row.budget`, a `pub` field on the struct, a");
    println!("   predicate that is not a bool, a false #[invariant(const ..)].\n");
}

// ---------------------------------------------------------------------------------------------
// 3. Handles: only the owner closes, and a handle nobody closed is recorded
// ---------------------------------------------------------------------------------------------

/// A connection's lifecycle.
#[terminal_state(resume)]
pub enum Conn {
    /// Handshake in progress.
    #[initial]
    #[to(Open, Closed)]
    Connecting,
    /// Usable.
    #[to(Closed)]
    Open,
    /// Closed by its owner, or recorded when the owner dropped it.
    #[terminal]
    #[abandoned]
    Closed,
}

/// The pool hears of every close and every abandoned handle.
#[derive(Default)]
struct ConnPool(Mutex<Vec<String>>);

impl fixpoint::Recorder<Conn> for ConnPool {
    fn record(&self, event: Event<Conn>) {
        self.0.lock().unwrap().push(event.to_string());
    }
}

fn handles_section() {
    println!("3. Handles: only the owner can close, and a lost handle is recorded\n");
    let pool = Arc::new(ConnPool::default());
    let open = |peer: &str| {
        Tracked::<Conn, _, _>::new(peer.to_owned())
            .with_recorder(pool.clone())
            .to_open()
    };

    // Shared holders use the handle through an `Arc`; none of them can close it.
    let shared = Arc::new(open("db-primary"));
    let readers: Vec<_> = (0..3).map(|_| Arc::clone(&shared)).collect();
    let lengths: usize = readers.iter().map(|conn| conn.len()).sum();
    drop(readers);
    let owner = Arc::into_inner(shared).expect("the readers are gone; the owner is back");
    let closed = owner.to_closed();
    println!(
        "   3 shared holders read {lengths} bytes of peer names; the owner closed `{}`",
        closed.into_value()
    );

    // A handler that fails drops its open handle: the pool records the abandonment.
    let failing = |conn: Tracked<Conn, conn::Open, String, _>| -> Result<(), String> {
        let _ = conn.len();
        Err("peer sent garbage".to_owned()) // `conn` is dropped here, never closed
    };
    let _ = failing(open("db-replica"));
    for event in pool.0.lock().unwrap().iter() {
        println!("   pool: {event}");
    }
    println!(
        "   -> closing through `&` or `Arc` does not compile (E0507), nor through a `View` (E0599);"
    );
    println!(
        "      `cargo run --example handle_lifecycle` shows the pool running dry without this.\n"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Subscribe before you publish: a wait for an event that already fired cannot be written
// ---------------------------------------------------------------------------------------------

fn pubsub_section() {
    println!("4. Bus: the only wait is a subscription opened before the write, plus a re-check\n");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let bus: Bus<u64, &'static str> = Bus::new();
        let (mut lost, mut found) = (0, 0);
        for question in 0..200 {
            // Naive: the write (the answer arrives from another task), then the subscription.
            let remote = bus.clone();
            tokio::spawn(async move { remote.publish(&question, "yes") });
            tokio::task::yield_now().await;
            let mut late = bus.subscribe(question);
            if late
                .wait_within(Duration::from_millis(2), || None)
                .await
                .is_err()
            {
                lost += 1;
            }
            // Contract: the subscription first, then the write.
            let topic = 1_000 + question;
            let mut early = bus.subscribe(topic);
            let remote = bus.clone();
            tokio::spawn(async move { remote.publish(&topic, "yes") });
            if early
                .wait_within(Duration::from_secs(5), || None)
                .await
                .is_ok()
            {
                found += 1;
            }
        }
        println!("   write then subscribe: {lost} of 200 answers lost");
        println!("   subscribe then write: {found} of 200 answers found");
        long_uptime(&bus).await;
    });
    println!("\n   What does not compile (see ui-tests/pubsub/): waiting on the bus itself (no");
    println!(
        "   subscription), waiting on a closed subscription, closing one through `&` or `Arc`,"
    );
    println!("   removing a registry entry without its ticket, or with a ticket already used.\n");
}

/// What a bus holds stays bounded however long it runs: closes are remembered in a window,
/// and a subscription nobody reads keeps only its backlog.
async fn long_uptime(bus: &Bus<u64, &'static str>) {
    let never_read = bus.subscribe(u64::MAX);
    for question in 10_000..110_000 {
        let mut answer = bus.subscribe(question);
        bus.publish(&question, "yes").unwrap();
        bus.publish(&u64::MAX, "tick").unwrap();
        let _ = answer.wait(|| None).await;
        bus.close_topic(&question);
    }
    let never_read = never_read.close();
    println!("   100,000 topics opened and closed: {bus:?}");
    println!(
        "   a subscription never read: {} events kept, {} given way (it would be told `Lagged`)",
        never_read.unread(),
        never_read.missed()
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Supervisor: task exit if and only if its status is terminal
// ---------------------------------------------------------------------------------------------

fn supervisor_section() {
    println!("1b. Supervisor: every way a task ends is a recorded terminal status\n");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let store = MemoryStore::<ProjectStatus>::new();
        let mut supervisor = Supervisor::start(store, Default::default()).await.unwrap();
        for (name, fault) in [
            ("returns", 0_u8),
            ("errors", 1),
            ("panics", 2),
            ("hangs", 3),
        ] {
            let body = |project: fixpoint::task::Machine<ProjectStatus, u8>| async move {
                let running = project.to_running();
                match *running {
                    0 => Ok(running.to_completed()),
                    1 => Err("workspace preparation failed"),
                    2 => panic!("out of disk"),
                    _ => std::future::pending().await, // stopped by the shutdown
                }
            };
            supervisor.spawn(name, fault, body).await.unwrap();
        }
        let report = supervisor
            .shutdown(Duration::from_millis(50))
            .await
            .unwrap();
        std::panic::set_hook(quiet);
        for finished in &report.finished {
            let how = match &finished.outcome {
                Outcome::Finished(state) => format!("finished as {state}"),
                Outcome::Failed(error) => format!("failed: {error}"),
                Outcome::Panicked(message) => format!("panicked: {message}"),
                Outcome::Aborted => "aborted".to_owned(),
                other => format!("{other:?}"),
            };
            println!("   task `{}` {how}", finished.id);
        }
        for row in &report.rows {
            println!(
                "   row `{}`: {} {}",
                row.id,
                row.status,
                row.reason.as_deref().unwrap_or("")
            );
        }

        // The usual server shape: spawn and forget. Each task reaps itself; nobody joins.
        let forget = Config::new().unread_outcomes(0);
        let store = std::sync::Arc::new(MemoryStore::<ProjectStatus>::new());
        let mut supervisor = Supervisor::start(store.clone(), forget).await.unwrap();
        for task in 0..10_000_u32 {
            let body = |project: fixpoint::task::Machine<ProjectStatus, u32>| async move {
                let running = project.to_running();
                if *running % 4 == 0 {
                    return Err("no workspace");
                }
                Ok(running.to_completed())
            };
            supervisor.spawn(task.to_string(), task, body).await.unwrap();
        }
        while supervisor.counters().running() > 0 {
            tokio::task::yield_now().await;
        }
        supervisor.flush().await.unwrap();
        let rows = store.rows().await.unwrap();
        let with_reason = rows.iter().filter(|row| row.reason.is_some()).count();
        let counters = supervisor.counters();
        println!(
            "   spawn and forget, 10000 tasks, nobody joins: running {}, completed {}, abandoned {}, \
             {with_reason} rows carry their reason",
            counters.running(),
            counters.completed(),
            counters.abandoned(),
        );
    });
    println!(
        "   -> no row is left `Initialized` or `Running`; `cargo run --example fleet --features sqlite`"
    );
    println!("      kills a process mid-flight and reconciles its rows from a SQLite file.\n");
}

// ---------------------------------------------------------------------------------------------
// 6. Uptime: liveness is a property of the output; a cooldown marker answers one predicate
// ---------------------------------------------------------------------------------------------

fn uptime_section() {
    println!("6. Uptime: liveness is a property of the output, a cooldown has one predicate\n");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // A supervised task that stops producing is wedged, however alive it looks.
        let store = Arc::new(MemoryStore::<ProjectStatus>::new());
        let mut supervisor = Supervisor::start(store.clone(), Default::default())
            .await
            .unwrap();
        let threshold = fixpoint::uptime::Threshold::new(Duration::from_millis(300)).unwrap();
        supervisor
            .spawn_watched("render", (), threshold, |project, progress| async move {
                let running = project.to_running();
                produce(progress).await;
                running.to_completed()
            })
            .await
            .unwrap();
        let finished = supervisor.join_next().await.unwrap();
        supervisor.flush().await.unwrap();
        let row = &store.rows().await.unwrap()[0];
        println!(
            "   a task that went silent: {:?}, row {}: {}",
            finished.outcome,
            row.status,
            row.reason.as_deref().unwrap_or_default()
        );
    });

    // The cooldown marker is asked whether it is active, never whether its file exists.
    let dir = std::env::temp_dir().join(format!("fixpoint-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("upstream.cooldown");
    let cooldown = fixpoint::uptime::CooldownFile::open(&path).unwrap();
    cooldown.start(Duration::from_millis(100)).unwrap();
    let during = cooldown.is_active();
    std::thread::sleep(Duration::from_millis(150));
    println!(
        "   a cooldown file: active {during}, then {} by its time while the file still exists ({})",
        cooldown.is_active(),
        path.exists()
    );
    std::fs::write(&path, "garbage").unwrap();
    println!(
        "   a garbled marker is expired, loudly: active {}, unreadable {}",
        cooldown.is_active(),
        cooldown.unreadable()
    );
    std::fs::remove_dir_all(&dir).unwrap();
    println!("   -> `cargo run --example uptime --features process` replays the uptime incidents:");
    println!(
        "      deadlines kept from outside, timeouts that diagnose, reapers, fork-safe workers.\n"
    );
}

/// The work of the watched task: on Linux, a child process whose output lines are its
/// progress (`Watched::progress`), which prints frames and then waits silently forever;
/// elsewhere, the same shape in the task itself.
#[cfg(target_os = "linux")]
async fn produce(progress: fixpoint::uptime::Progress) {
    let mut render = std::process::Command::new("sh");
    render.args([
        "-c",
        "for i in 1 2 3 4 5; do echo frame $i; sleep 0.1; done; echo waiting for the GPU; sleep 1000",
    ]);
    // Aborted as wedged, the task drops this run, and the watcher kills the child's group.
    fixpoint::process::Watched::new(render, Duration::from_secs(3600))
        .progress(&progress)
        .run()
        .await;
}

#[cfg(not(target_os = "linux"))]
async fn produce(progress: fixpoint::uptime::Progress) {
    for frame in 1..=5 {
        progress.tick_with(format!("frame {frame}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    progress.tick_with("waiting for the GPU");
    std::future::pending::<()>().await;
}
