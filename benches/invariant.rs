//! `Checked<T>` beside the same struct with its rule checked by hand: construction, and a
//! field write that holds. Rollback costs: `set_<field>` swaps the old value back (no clone),
//! `update` builds a new value, `modify` clones before the change.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fixpoint::{invariant, invariant::Checked};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    InputNeeded,
}

#[invariant(
    self.status != Status::InputNeeded || self.follow_up.is_some(),
    "a project waiting for input has a follow-up row"
)]
#[invariant(self.budget > 0, "a project has a budget")]
#[derive(Debug, Clone)]
pub struct Project {
    status: Status,
    follow_up: Option<u64>,
    budget: u32,
    name: String,
}

/// The same rules, written by hand where the struct is built and changed.
#[derive(Debug, Clone)]
#[allow(dead_code)] // `name` is payload: built and dropped, like the checked struct's
pub struct PlainProject {
    status: Status,
    follow_up: Option<u64>,
    budget: u32,
    name: String,
}

fn plain_holds(p: &PlainProject) -> bool {
    (p.status != Status::InputNeeded || p.follow_up.is_some()) && p.budget > 0
}

/// A hand-written checked constructor.
fn plain_check(project: PlainProject) -> Result<PlainProject, PlainProject> {
    if plain_holds(&project) {
        Ok(project)
    } else {
        Err(project)
    }
}

/// A hand-written checked write: set, check, put the old value back if the rule broke.
fn plain_set_budget(p: &mut PlainProject, budget: u32) -> Result<u32, u32> {
    let old = std::mem::replace(&mut p.budget, budget);
    if plain_holds(p) {
        Ok(old)
    } else {
        Err(std::mem::replace(&mut p.budget, old))
    }
}

/// Construction as code does it: in a function of its own, from the parts, handing the value
/// on (so neither side can skip building it).
#[inline(never)]
fn build_plain(status: Status, follow_up: Option<u64>, budget: u32) -> Option<PlainProject> {
    plain_check(PlainProject {
        status,
        follow_up,
        budget,
        name: String::new(),
    })
    .ok()
}

#[inline(never)]
fn build_checked(status: Status, follow_up: Option<u64>, budget: u32) -> Option<Checked<Project>> {
    Checked::new(Project {
        status,
        follow_up,
        budget,
        name: String::new(),
    })
    .ok()
}

fn construction(c: &mut Criterion) {
    let mut group = c.benchmark_group("invariant/construction");
    group.bench_function("hand_written_check", |b| {
        b.iter(|| {
            black_box(build_plain(
                black_box(Status::InputNeeded),
                black_box(Some(7)),
                black_box(3),
            ))
        });
    });
    group.bench_function("checked_new", |b| {
        b.iter(|| {
            black_box(build_checked(
                black_box(Status::InputNeeded),
                black_box(Some(7)),
                black_box(3),
            ))
        });
    });
    group.finish();
}

fn write(c: &mut Criterion) {
    let mut group = c.benchmark_group("invariant/field_write_that_holds");
    group.bench_function("hand_written_check_and_rollback", |b| {
        let mut project = plain_check(PlainProject {
            status: Status::InputNeeded,
            follow_up: Some(7),
            budget: 3,
            name: "site".into(),
        })
        .unwrap();
        b.iter(|| plain_set_budget(&mut project, black_box(5)).is_ok());
    });
    group.bench_function("checked_set_field_swap_rollback", |b| {
        let project = Project {
            status: Status::InputNeeded,
            follow_up: Some(7),
            budget: 3,
            name: "site".into(),
        };
        let mut project = Checked::new(project).unwrap();
        b.iter(|| project.set_budget(black_box(5)).is_ok());
    });
    group.bench_function("checked_modify_clone_rollback", |b| {
        let project = Project {
            status: Status::InputNeeded,
            follow_up: Some(7),
            budget: 3,
            name: "site".into(),
        };
        let mut project = Checked::new(project).unwrap();
        b.iter(|| project.modify(|p| p.budget = black_box(5)).is_ok());
    });
    group.finish();
}

criterion_group!(benches, construction, write);
criterion_main!(benches);
