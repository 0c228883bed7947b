//! The lifecycle from the design: a project launched in the background that must end terminal.
#![deny(warnings)]

use fixpoint::{terminal_state, Lifecycle, Terminal, Tracked};

/// The id of a follow-up question a running project waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUpId(pub u64);

/// Where a project is in its life.
#[terminal_state]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectStatus {
    /// Created, nothing started yet.
    #[initial] #[to(Running, Failed)]
    Initialized,
    /// Workspace prepared, the agent is working.
    #[to(InputNeeded, Completed, Failed)]
    Running,
    /// Waiting for the user to answer a follow-up.
    #[to(Running, Failed)]
    InputNeeded(FollowUpId),
    /// Finished.
    #[terminal]
    Completed,
    /// Failed, or abandoned by its owner.
    #[terminal] #[abandoned]
    Failed,
}

/// The launch route's background body: it can only return once the project is terminal.
pub fn launch(project: Tracked<ProjectStatus, project_status::Initialized, String>)
    -> Terminal<ProjectStatus, String>
{
    if project.is_empty() {
        return project.to_failed();
    }
    let running = project.to_running();
    let waiting = running.to_input_needed(FollowUpId(1));
    assert_eq!(Tracked::data(&waiting), &FollowUpId(1));
    waiting.to_running().to_completed()
}

fn main() {
    let done = launch(Tracked::new("site".to_owned()));
    assert_eq!(done.status(), &ProjectStatus::Completed);
    assert!(ProjectStatus::Completed.is_terminal());
}
