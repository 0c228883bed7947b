use fixpoint::{invariant::{assert_all_hold, check_all, Invariants}};
use fixpoint::{invariant, invariant::Checked};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    Running,
    InputNeeded,
}

#[invariant(
    name = follow_up_exists,
    self.status != Status::InputNeeded || self.follow_up.is_some(),
    "a project waiting for input has a follow-up row"
)]
#[invariant(name = funded, self.budget > 0, "a project has a budget")]
#[invariant(self.budget <= 10_000, "a project's budget is capped")]
#[derive(Debug, Clone)]
pub struct Project {
    status: Status,
    follow_up: Option<u64>,
    budget: u32,
    #[invariant(exempt)]
    pub note: String,
}

fn main() {
    let names: Vec<_> = Project::INVARIANTS.iter().map(|rule| rule.name).collect();
    assert_eq!(names, [Some("follow_up_exists"), Some("funded"), None]);
    assert_eq!(Project::INVARIANTS[1].source, "self.budget > 0");
    let ok = Project { status: Status::Running, follow_up: None, budget: 5, note: String::new() };
    let broke = Project { budget: 0, ..ok.clone() };
    assert_all_hold(&[ok.clone()]);
    let failures = check_all(&[ok.clone(), broke]).unwrap_err();
    assert_eq!(failures[0].1.invariant.name, Some("funded"));

    let mut project = Checked::new(ok).unwrap();
    project.modify(|p| p.note.push_str("exempt fields change freely")).unwrap();
    let rejected = project.modify(|p| p.budget = 20_000).unwrap_err();
    assert_eq!(rejected.violation().index, 2);
    assert_eq!(*project.budget(), 5);
    project
        .update(|p| Project { status: Status::InputNeeded, follow_up: Some(3), ..p.clone() })
        .unwrap();
    assert_eq!(*project.follow_up(), Some(3));
}
