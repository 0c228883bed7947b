use fixpoint::{invariant, invariant::Checked};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    Running,
    InputNeeded,
}

#[invariant(
    self.status != Status::InputNeeded || self.follow_up.is_some(),
    "a project waiting for input has a follow-up row"
)]
#[derive(Debug, Clone)]
pub struct Project {
    status: Status,
    follow_up: Option<u64>,
}

fn main() {
    let project = Checked::new(Project { status: Status::Running, follow_up: None }).unwrap();
    let follow_up = &mut project.follow_up;
    *follow_up = None;
}
