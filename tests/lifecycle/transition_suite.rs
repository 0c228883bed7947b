//! `fixpoint::testing::transition_suite` on the sample lifecycle: every declared edge compiles
//! through its method, every undeclared one fails with one error naming it.
#![cfg(feature = "testing")]

use std::panic;

use fixpoint::testing::TransitionSuite;
use fixpoint_demo::Rollout;

#[test]
fn every_edge_of_the_sample_lifecycle() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    TransitionSuite::<Rollout>::new("fixpoint_demo::Rollout")
        .data("AwaitingApproval", "fixpoint_demo::ApprovalTicket(7)")
        .run();
}

#[test]
fn a_data_state_without_its_arguments_is_named() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let payload = panic::catch_unwind(|| {
        TransitionSuite::<Rollout>::new("fixpoint_demo::Rollout").run();
    })
    .expect_err("the suite needs the data of `AwaitingApproval`");
    let message = payload.downcast::<String>().map(|m| *m).unwrap_or_default();
    assert!(
        message.starts_with("state `AwaitingApproval` of lifecycle `Rollout` carries data"),
        "{message}"
    );
}

#[test]
fn a_path_that_does_not_name_the_lifecycle_is_refused() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let payload = panic::catch_unwind(|| {
        TransitionSuite::<Rollout>::new("fixpoint_demo::Release").run();
    })
    .expect_err("the path names another type");
    let message = payload.downcast::<String>().map(|m| *m).unwrap_or_default();
    assert!(
        message.starts_with("`fixpoint_demo::Release` does not name lifecycle `Rollout`"),
        "{message}"
    );
}

/// `fixpoint_demo::Trap` implements `Edge` for `Fired -> Armed` by hand: the batched case
/// misses that error, and the rerun one case per edge fails on exactly that edge's case.
#[test]
fn an_edge_widened_outside_the_table_fails_the_suite() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let payload = panic::catch_unwind(|| {
        fixpoint::testing::transition_suite::<fixpoint_demo::Trap>("fixpoint_demo::Trap");
    })
    .expect_err("`Fired -> Armed` compiles although the table does not list it");
    let message = payload.downcast::<String>().map(|m| *m).unwrap_or_default();
    let undeclared = 3 * 3 - 2;
    assert_eq!(message, format!("1 of {undeclared} tests failed"));
}
