//! The lifecycle as the database enforces it: which moves a row may make, and what a refusal
//! says. Both SQL stores generate their triggers from these, so that psql, a script in another
//! language or a migration meets the same contract as the supervisor.

use crate::lifecycle::{Lifecycle, State};

/// The states a row in `from` may move to: the declared edges, and the `#[abandoned]` state
/// from any state that is not terminal (as [`Lifecycle::check_transition`] allows).
pub(super) fn targets<L: Lifecycle>(from: State<L>) -> Vec<State<L>> {
    L::states()
        .filter(|&to| to != from && L::check_transition(from, to).is_ok())
        .collect()
}

/// What a refused move out of `from` says after the move itself: the edges `from` has.
pub(super) fn edges_of<L: Lifecycle>(from: State<L>) -> String {
    let targets = targets(from);
    if from.is_terminal() || targets.is_empty() {
        return format!("`{}` is terminal: no row leaves it", from.name());
    }
    let names: Vec<String> = targets
        .iter()
        .map(|to| format!("`{}`", to.name()))
        .collect();
    format!(
        "`{}` may move to {} (declared with #[to(..)] on `{}`)",
        from.name(),
        names.join(", "),
        L::name()
    )
}

/// The start of every refusal: `lifecycle `Job` refuses`.
pub(super) fn refuses<L: Lifecycle>() -> String {
    format!("lifecycle `{}` refuses", L::name())
}

/// What a refused insert says after the refused state.
pub(super) fn insert_rule<L: Lifecycle>() -> String {
    format!(
        "a row is inserted in `{}`, its initial state, and moves on by declared edges",
        L::initial().name()
    )
}
