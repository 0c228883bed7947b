//! A chain of typed transitions against assigning the raw enum: what the type-state costs.
//!
//! Both sides walk the same path (`Initialized -> Running -> InputNeeded(id) -> Running ->
//! Completed`) over the same payload; `black_box` keeps either from being folded away.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fixpoint::{Tracked, terminal_state};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUpId(pub u64);

#[terminal_state]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectStatus {
    #[initial]
    #[to(Running, Failed)]
    Initialized,
    #[to(InputNeeded, Completed, Failed)]
    Running,
    #[to(Running, Failed)]
    InputNeeded(FollowUpId),
    #[terminal]
    Completed,
    #[terminal]
    #[abandoned]
    Failed,
}

/// What code without fixpoint does: a struct with a status field, assigned in turn.
struct Project {
    status: ProjectStatus,
    payload: u64,
}

fn raw_chain(payload: u64, id: u64) -> (ProjectStatus, u64) {
    let mut project = Project {
        status: ProjectStatus::Initialized,
        payload,
    };
    project.status = black_box(ProjectStatus::Running);
    project.status = black_box(ProjectStatus::InputNeeded(FollowUpId(id)));
    project.status = black_box(ProjectStatus::Running);
    project.status = black_box(ProjectStatus::Completed);
    (project.status, project.payload)
}

fn typed_chain(payload: u64, id: u64) -> (ProjectStatus, u64) {
    let project = Tracked::<ProjectStatus, _, _>::new(payload);
    let project = black_box(project.to_running());
    let project = black_box(project.to_input_needed(FollowUpId(id)));
    let project = black_box(project.to_running());
    black_box(project.to_completed()).into_parts()
}

fn transitions(c: &mut Criterion) {
    let mut group = c.benchmark_group("lifecycle/chain_of_4_transitions");
    group.bench_function("raw_enum_assignment", |b| {
        b.iter(|| raw_chain(black_box(7), black_box(9)));
    });
    group.bench_function("tracked_typestate", |b| {
        b.iter(|| typed_chain(black_box(7), black_box(9)));
    });
    group.finish();
}

criterion_group!(benches, transitions);
criterion_main!(benches);
