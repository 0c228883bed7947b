//! Errors of the runtime view: a status read back from storage that the lifecycle rejects.

use super::{Lifecycle, State};

/// A state name that the lifecycle does not declare, as a poisoned status column holds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a state of lifecycle `{lifecycle}`; its states are {expected}")]
pub struct UnknownState {
    /// The lifecycle's name.
    pub lifecycle: &'static str,
    /// The rejected name.
    pub name: String,
    /// The declared state names, quoted and comma-separated.
    pub expected: String,
}

impl UnknownState {
    pub(crate) fn new<L: Lifecycle>(name: &str) -> Self {
        UnknownState {
            lifecycle: L::name(),
            name: name.to_owned(),
            expected: quoted(L::states()),
        }
    }
}

/// A transition the lifecycle does not declare.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "illegal transition `{from} -> {to}` in lifecycle `{lifecycle}`: {}",
    allowed_sentence(.from, .allowed)
)]
pub struct IllegalTransition {
    /// The lifecycle's name.
    pub lifecycle: &'static str,
    /// The state the transition leaves.
    pub from: &'static str,
    /// The state it would enter.
    pub to: &'static str,
    /// The states `from` may go to, quoted and comma-separated (empty for a terminal state).
    pub allowed: String,
}

impl IllegalTransition {
    // Out of the checks' way: a check that passes costs a compare or two.
    #[cold]
    #[inline(never)]
    pub(crate) fn new<L: Lifecycle>(from: State<L>, to: State<L>) -> Self {
        IllegalTransition {
            lifecycle: L::name(),
            from: from.name(),
            to: to.name(),
            allowed: quoted(from.successors()),
        }
    }
}

fn allowed_sentence(from: &str, allowed: &str) -> String {
    if allowed.is_empty() {
        format!("`{from}` is terminal and may not go anywhere")
    } else {
        format!("`{from}` may go to {allowed}")
    }
}

/// A status that cannot be turned back into a typed machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    /// The name is not a state of the lifecycle.
    #[error(transparent)]
    Unknown(#[from] UnknownState),
    /// The state's variant carries data that a name alone does not hold.
    #[error(
        "state `{state}` of lifecycle `{lifecycle}` carries data that its name alone does not \
         hold; read the full `{lifecycle}` value back and call `Resume::resume` on it"
    )]
    NeedsData {
        /// The lifecycle's name.
        lifecycle: &'static str,
        /// The state whose data is missing.
        state: &'static str,
    },
}

impl ResumeError {
    pub(crate) fn needs_data<L: Lifecycle>(state: State<L>) -> Self {
        ResumeError::NeedsData {
            lifecycle: L::name(),
            state: state.name(),
        }
    }
}

fn quoted<L: Lifecycle>(states: impl Iterator<Item = State<L>>) -> String {
    states
        .map(|state| format!("`{}`", state.name()))
        .collect::<Vec<_>>()
        .join(", ")
}
