//! The tour: each of fixpoint's contracts, shown on the bug it exists for.
//!
//! Run it with `cargo run --example tour`. Every section prints what it demonstrates; the
//! compile-time half of each contract is in `ui-tests/` (the code that must not compile) and is
//! quoted here where it matters.

use std::sync::{Arc, Mutex};

use fixpoint::{Event, Lifecycle, Terminal, Tracked, terminal_state};

fn main() {
    println!("fixpoint tour\n=============\n");
    lifecycle_section();
}

// ---------------------------------------------------------------------------------------------
// 1 & 3. #[terminal_state]: a task can only finish through a terminal state
// ---------------------------------------------------------------------------------------------

/// The id of a follow-up question a running project waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUpId(pub u64);

/// The status row of a project that a background task drives.
#[terminal_state]
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
    println!("       error[E0277]: illegal transition: lifecycle `ProjectStatus` does not let");
    println!("       `Initialized` go to `Completed`");
    println!("     returning a running project where a Terminal is required -> error[E0308]");
    println!("     closing a handle through `&`, `Arc` or a `View` -> error[E0507] / error[E0599]");

    println!("\n   The declared machine, as Mermaid:\n");
    for line in ProjectStatus::mermaid().lines() {
        println!("     {line}");
    }
    println!();
}
