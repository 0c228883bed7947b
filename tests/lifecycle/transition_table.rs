//! `fixpoint::testing`: table snapshots fail with a diff naming every changed edge and state, and
//! pass on the exact table.
#![cfg(feature = "testing")]

use std::panic::{self, UnwindSafe};

use fixpoint::testing::{assert_transitions, assert_transitions_text, transitions_text};

use crate::common::job as jobs;
use jobs::*;

/// The message of the assertion's panic.
fn panic_message(f: impl FnOnce() + UnwindSafe) -> String {
    let payload = panic::catch_unwind(f).expect_err("the snapshot should have failed");
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

#[test]
fn exact_table_passes() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    assert_transitions::<Job>(&[
        ("Running", &["Done", "Failed"]),
        ("Queued", &["Failed", "Running"]),
        ("Done", &[]),
        ("Failed", &[]),
    ]);
    assert_transitions_text::<Job>(
        "Queued -> Running, Failed
         Running -> Done, Failed   # the work either finishes or fails
         Done
         Failed ->",
    );
}

#[test]
fn widened_table_names_the_edge() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let message = panic_message(|| {
        assert_transitions::<Job>(&[
            ("Queued", &["Running"]),
            ("Running", &["Done", "Failed"]),
            ("Done", &[]),
            ("Failed", &[]),
        ]);
    });
    assert!(
        message.contains(
            "+ Queued -> Failed    (widened: `Queued -> Failed` was not in the reviewed table)"
        ),
        "{message}"
    );
    assert!(message.starts_with("lifecycle `Job` declares"), "{message}");
    assert!(message.contains(&transitions_text::<Job>()), "{message}");
    assert_eq!(message.matches("\n+ ").count(), 1, "{message}");
}

#[test]
fn narrowed_table_names_the_edge() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let message = panic_message(|| {
        assert_transitions_text::<Job>(
            "Queued -> Running, Failed, Done\nRunning -> Done, Failed\nDone\nFailed",
        );
    });
    assert!(
        message.contains("- Queued -> Done    (narrowed: `Queued -> Done` is in the reviewed"),
        "{message}"
    );
}

#[test]
fn added_and_removed_states_are_named() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let message = panic_message(|| {
        assert_transitions::<Job>(&[
            ("Queued", &["Running", "Failed"]),
            ("Running", &["Done", "Failed", "Paused"]),
            ("Paused", &["Running"]),
            ("Done", &[]),
        ]);
    });
    for line in [
        "+ state Failed    (added",
        "- state Paused    (removed",
        "- Running -> Paused    (narrowed",
        "- Paused -> Running    (narrowed",
    ] {
        assert!(message.contains(line), "missing `{line}` in:\n{message}");
    }
}

#[test]
fn malformed_text_names_the_line() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let message = panic_message(|| assert_transitions_text::<Job>("Queued -> Running\nDone => X"));
    assert!(
        message.starts_with("line 2 of the reviewed table does not parse: `Done => X`"),
        "{message}"
    );
}

#[test]
fn state_listed_twice_is_reported() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let message = panic_message(|| {
        assert_transitions_text::<Job>(
            "Queued -> Running, Failed\nRunning -> Done, Failed\nDone\nFailed\nDone",
        );
    });
    assert!(
        message.contains("state `Done` is listed twice"),
        "{message}"
    );
}
