//! `fixpoint::testing::transition_suite` on the sample lifecycle: every declared edge compiles
//! through its method, every undeclared one fails with one error naming it.
#![cfg(feature = "testing")]

use std::panic;

use fixpoint::testing::TransitionSuite;
use fixpoint_demo::Rollout;

#[test]
fn every_edge_of_the_sample_lifecycle() {
    TransitionSuite::<Rollout>::new("fixpoint_demo::Rollout")
        .data("AwaitingApproval", "fixpoint_demo::ApprovalTicket(7)")
        .run();
}

#[test]
fn a_data_state_without_its_arguments_is_named() {
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
