//! `#[invariant]` at run time: a property test over random mutation sequences, the error a
//! violation reads as, and the helpers for tests.

use fixpoint::invariant::{Invariants, assert_all_hold, check_all};
use fixpoint::{invariant, invariant::Checked};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Initialized,
    Running,
    InputNeeded,
}

#[invariant(
    name = follow_up_exists,
    self.status != Status::InputNeeded || self.follow_up.is_some(),
    "a project waiting for input has a follow-up row"
)]
#[invariant(name = funded, self.budget > 0, "a project has a budget")]
#[invariant(name = capped, self.budget <= 1_000, "a project's budget is capped")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    status: Status,
    follow_up: Option<u32>,
    budget: u32,
}

/// The rules, written by hand: the oracle the property test compares against.
fn holds(project: &Project) -> bool {
    (project.status != Status::InputNeeded || project.follow_up.is_some())
        && project.budget > 0
        && project.budget <= 1_000
}

#[derive(Debug, Clone)]
enum Op {
    SetStatus(Status),
    SetFollowUp(Option<u32>),
    SetBudget(u32),
    Replace(Project),
    Update(u32),
    Modify(Status, Option<u32>),
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Initialized),
        Just(Status::Running),
        Just(Status::InputNeeded)
    ]
}

fn project() -> impl Strategy<Value = Project> {
    (status(), proptest::option::of(0..5_u32), 0..1_200_u32).prop_map(
        |(status, follow_up, budget)| Project {
            status,
            follow_up,
            budget,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        status().prop_map(Op::SetStatus),
        proptest::option::of(0..5_u32).prop_map(Op::SetFollowUp),
        (0..1_200_u32).prop_map(Op::SetBudget),
        project().prop_map(Op::Replace),
        (0..1_200_u32).prop_map(Op::Update),
        (status(), proptest::option::of(0..5_u32)).prop_map(|(s, f)| Op::Modify(s, f)),
    ]
}

/// Applies `op` to the checked value; returns what was attempted (the full value, for the
/// oracle) and whether it was accepted, checking the rejected value handed back on the way.
fn apply(checked: &mut Checked<Project>, op: &Op) -> (Project, bool) {
    use ProjectChecked as _;
    let before = (**checked).clone();
    let mut attempted = before.clone();
    let accepted = match op.clone() {
        Op::SetStatus(status) => {
            attempted.status = status;
            checked
                .set_status(status)
                .map_err(|r| assert_eq!(r.into_rejected(), status))
                .is_ok()
        }
        Op::SetFollowUp(follow_up) => {
            attempted.follow_up = follow_up;
            checked
                .set_follow_up(follow_up)
                .map_err(|r| assert_eq!(r.into_rejected(), follow_up))
                .is_ok()
        }
        Op::SetBudget(budget) => {
            attempted.budget = budget;
            checked
                .set_budget(budget)
                .map_err(|r| assert_eq!(r.into_rejected(), budget))
                .is_ok()
        }
        Op::Replace(project) => {
            attempted = project.clone();
            checked
                .try_replace(project.clone())
                .map_err(|r| assert_eq!(r.into_rejected(), project))
                .is_ok()
        }
        Op::Update(budget) => {
            attempted.budget = budget;
            let expected = attempted.clone();
            checked
                .update(|p| Project {
                    budget,
                    ..p.clone()
                })
                .map_err(|r| assert_eq!(r.into_rejected(), expected))
                .is_ok()
        }
        Op::Modify(status, follow_up) => {
            attempted.status = status;
            attempted.follow_up = follow_up;
            let expected = attempted.clone();
            checked
                .modify(|p| {
                    p.status = status;
                    p.follow_up = follow_up;
                })
                .map_err(|r| assert_eq!(r.into_rejected(), expected))
                .is_ok()
        }
    };
    (attempted, accepted)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random sequences of mutations, many violating: the checked value never breaks a rule,
    /// a refused change leaves it exactly as it was, and an accepted one is applied exactly.
    #[test]
    fn no_sequence_of_writes_breaks_an_invariant(
        start in project().prop_filter("a valid start", holds),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let mut checked = Checked::new(start).unwrap();
        for op in &ops {
            let before = (*checked).clone();
            let (attempted, ok) = apply(&mut checked, op);
            prop_assert_eq!(ok, holds(&attempted), "the check disagrees with the oracle on {:?}", op);
            if ok {
                prop_assert_eq!(&*checked, &attempted);
            } else {
                prop_assert_eq!(&*checked, &before, "a refused {:?} changed the value", op);
            }
            prop_assert!(checked.check().is_ok());
        }
    }
}

#[test]
fn a_violation_names_the_rule_its_message_source_and_value() {
    let bad = Project {
        status: Status::InputNeeded,
        follow_up: None,
        budget: 5,
    };
    let rejected = Checked::new(bad.clone()).unwrap_err();
    let violation = rejected.violation().clone();
    assert_eq!(violation.type_name, "Project");
    assert_eq!(violation.invariant.name, Some("follow_up_exists"));
    assert_eq!(
        violation.to_string(),
        "Project breaks invariant `follow_up_exists`: a project waiting for input has a \
         follow-up row; `self.status != Status::InputNeeded || self.follow_up.is_some()` is \
         false for Project { status: InputNeeded, follow_up: None, budget: 5 }"
    );
    assert_eq!(rejected.into_rejected(), bad);
}

/// No `Debug`: the violation still names the rule, without the value.
#[invariant(self.0.is_multiple_of(2), "the count is even")]
pub struct Even(u32);

#[test]
fn a_type_without_debug_is_described_without_its_value() {
    let violation = Checked::new(Even(3))
        .map(drop)
        .unwrap_err()
        .violation()
        .clone();
    assert_eq!(violation.value, None);
    assert_eq!(
        violation.to_string(),
        "Even breaks invariant #1: the count is even; `self.0.is_multiple_of(2)` is false"
    );
}

#[test]
fn the_rules_are_data_for_docs_and_tests() {
    let listed: Vec<String> = Project::INVARIANTS
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        listed,
        [
            "`follow_up_exists`: a project waiting for input has a follow-up row (`self.status != Status::InputNeeded || self.follow_up.is_some()`)",
            "`funded`: a project has a budget (`self.budget > 0`)",
            "`capped`: a project's budget is capped (`self.budget <= 1_000`)",
        ]
    );
    let fixtures = [
        Project {
            status: Status::Running,
            follow_up: None,
            budget: 10,
        },
        Project {
            status: Status::Running,
            follow_up: None,
            budget: 0,
        },
        Project {
            status: Status::InputNeeded,
            follow_up: Some(1),
            budget: 2_000,
        },
    ];
    let broken = check_all(&fixtures).unwrap_err();
    let found: Vec<_> = broken
        .iter()
        .map(|(at, v)| (*at, v.invariant.name))
        .collect();
    assert_eq!(found, [(1, Some("funded")), (2, Some("capped"))]);
    assert_all_hold(&fixtures[..1]);
    let panic = std::panic::catch_unwind(|| assert_all_hold(&fixtures)).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(
        text.starts_with("2 of the values break invariants of Project:\n  value 1: "),
        "{text}"
    );
}

/// The generated checks stay quiet under strict lints: clippy checks this module with pedantic
/// lints denied.
#[deny(warnings, unused_qualifications, clippy::all, clippy::pedantic)]
mod interior_mutability {
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use fixpoint::invariant::NoInteriorMutability;
    use fixpoint::{invariant, invariant::Checked};
    use static_assertions::{assert_impl_all, assert_not_impl_any};

    // Plain data of every shape passes the type-level check; the cells it is built on do not,
    // wherever they sit.
    assert_impl_all!(String: NoInteriorMutability);
    assert_impl_all!(Vec<u8>: NoInteriorMutability);
    assert_impl_all!(Option<u32>: NoInteriorMutability);
    assert_impl_all!(BTreeMap<String, Vec<Option<u64>>>: NoInteriorMutability);
    assert_impl_all!(Arc<str>: NoInteriorMutability);
    assert_impl_all!(Rc<[u8]>: NoInteriorMutability);
    assert_impl_all!(&'static [u16]: NoInteriorMutability);
    assert_not_impl_any!(Cell<u8>: NoInteriorMutability);
    assert_not_impl_any!(Arc<RefCell<u8>>: NoInteriorMutability);
    assert_not_impl_any!(Option<Box<Cell<u8>>>: NoInteriorMutability);
    assert_not_impl_any!(Box<dyn Fn() -> bool>: NoInteriorMutability);

    #[invariant(
        self.generation.load(Ordering::Acquire) >= self.first,
        "a generation counter never goes below where it started"
    )]
    struct Epoch {
        #[invariant(allow_interior_mutability = "only fetch_add writes it, so `>=` stays true")]
        generation: AtomicU64,
        first: u64,
    }

    /// Concrete, borrowed and generic field types, all read by rules.
    #[invariant(self.name.len() < 64 && self.tags.len() <= N, "a short name and few tags")]
    #[invariant(self.items.len() <= N && !self.label.is_empty(), "at most N items")]
    struct Shapes<'a, T, const N: usize> {
        name: Arc<str>,
        tags: BTreeMap<&'a str, Vec<u8>>,
        items: Vec<T>,
        label: &'a str,
    }

    #[test]
    fn plain_fields_of_every_shape_are_checked_as_usual() {
        let shapes = Shapes::<'_, u8, 2> {
            name: Arc::from("s"),
            tags: BTreeMap::new(),
            items: vec![1],
            label: "l",
        };
        let mut shapes = Checked::new(shapes).unwrap();
        assert!(shapes.set_items(vec![1, 2, 3]).is_err());
        assert_eq!(shapes.items(), &[1]);
    }

    /// An exempted field is still read by the rule, so every check still runs it.
    #[test]
    fn an_exempted_field_is_still_checked_on_every_write() {
        let mut epoch = Checked::new(Epoch {
            generation: AtomicU64::new(3),
            first: 3,
        })
        .unwrap();
        epoch.generation.fetch_add(1, Ordering::AcqRel);
        assert_eq!(epoch.set_first(4), Ok(3));
        let refused = epoch.set_first(5).unwrap_err();
        assert_eq!(refused.into_rejected(), 5);
        assert!(
            Checked::new(Epoch {
                generation: AtomicU64::new(1),
                first: 2
            })
            .is_err()
        );
    }
}
