//! Regression suites for a lifecycle's declared table, for users' own tests (feature `testing`,
//! meant as a dev-dependency feature).
//!
//! - [`assert_transitions`] and [`assert_transitions_text`]: a snapshot of the reviewed table;
//!   the assertion fails with a diff naming every widened or narrowed edge and every added or
//!   removed state.
//! - [`transitions_text`]: the declared table in the text form, to paste into a snapshot.
//! - [`transition_suite`] and [`TransitionSuite`]: trybuild cases generated from the table, one
//!   that takes every declared edge and one in which every undeclared edge must fail to compile.

mod suite;
mod table;

pub use suite::{TransitionSuite, transition_suite};
pub use table::{assert_transitions, assert_transitions_text, transitions_text};
