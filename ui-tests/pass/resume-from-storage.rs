use fixpoint::{terminal_state, Lifecycle, Resume, Tracked};

#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpId(pub u64);

#[terminal_state(resume)]
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectStatus {
    #[initial] #[to(Running, Failed)]     Initialized,
    #[to(InputNeeded, Completed, Failed)] Running,
    #[to(Running, Failed)]                InputNeeded(FollowUpId),
    #[terminal]                           Completed,
    #[terminal] #[abandoned]              Failed,
}

/// What a start-up service does with each row a crashed process left behind.
fn recover(row: ProjectStatus) -> &'static str {
    match row.resume("row") {
        ProjectStatusResumed::Initialized(project) => {
            let _ = project.to_failed();
            "failed a project that never started"
        }
        ProjectStatusResumed::Running(project) => {
            let _ = project.to_completed();
            "completed"
        }
        ProjectStatusResumed::InputNeeded(project) => {
            assert_eq!(Tracked::data(&project), &FollowUpId(9));
            let _ = project.to_running().to_completed();
            "resumed the wait for follow-up 9"
        }
        ProjectStatusResumed::Completed(done) | ProjectStatusResumed::Failed(done) => {
            assert!(done.status().is_terminal());
            "already terminal"
        }
    }
}

fn main() {
    assert_eq!(recover(ProjectStatus::InputNeeded(FollowUpId(9))), "resumed the wait for follow-up 9");
    assert_eq!(recover(ProjectStatus::Completed), "already terminal");
    let by_name = ProjectStatus::resume_named("Running", ()).unwrap();
    assert!(matches!(by_name, ProjectStatusResumed::Running(_)));
    assert!(ProjectStatus::resume_named("InputNeeded", ()).is_err());
    assert!(ProjectStatus::resume_named("Paused", ()).is_err());
}
