//! `fixpoint::testing::transition_suite` on the sample lifecycle: every declared edge compiles
//! through its method, every undeclared one fails with one error naming it.
#![cfg(feature = "testing")]

use std::panic;

use fixpoint::demo::Job;
use fixpoint::testing::TransitionSuite;

#[test]
fn every_edge_of_the_sample_lifecycle() {
    TransitionSuite::<Job>::new("fixpoint::demo::Job")
        .data("InputNeeded", "fixpoint::demo::FollowUpId(7)")
        .run();
}

#[test]
fn a_data_state_without_its_arguments_is_named() {
    let payload = panic::catch_unwind(|| {
        TransitionSuite::<Job>::new("fixpoint::demo::Job").run();
    })
    .expect_err("the suite needs the data of `InputNeeded`");
    let message = payload.downcast::<String>().map(|m| *m).unwrap_or_default();
    assert!(
        message.starts_with("state `InputNeeded` of lifecycle `Job` carries data"),
        "{message}"
    );
}

#[test]
fn a_path_that_does_not_name_the_lifecycle_is_refused() {
    let payload = panic::catch_unwind(|| {
        TransitionSuite::<Job>::new("fixpoint::demo::Task").run();
    })
    .expect_err("the path names another type");
    let message = payload.downcast::<String>().map(|m| *m).unwrap_or_default();
    assert!(
        message.starts_with("`fixpoint::demo::Task` does not name lifecycle `Job`"),
        "{message}"
    );
}
