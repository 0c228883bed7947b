//! Sample lifecycles for fixpoint's own tests of `fixpoint::testing`
//! (`tests/lifecycle/transition_suite.rs`): `Rollout`, whose suite passes and whose rustdoc page shows the
//! diagram `#[terminal_state]` draws, and `Trap`, widened by hand so that its suite must fail.
//! Not published.
//!
//! It lives in a crate of its own, not in the facade, because a type in a crate that a build
//! loads makes rustc print every type of the same name with its path: every lifecycle has a
//! `Unfinished` trait in its module, and the facade's users would read `job::Unfinished` where
//! they read `Unfinished` today.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use fixpoint::terminal_state;

/// The approval a rollout waits on in `AwaitingApproval`.
///
/// ```
/// let ticket = fixpoint_demo::ApprovalTicket(7);
/// assert_eq!(ticket.0, 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalTicket(pub u64);

/// A release rolled out to production: planned, deploying, possibly waiting for an approval,
/// then live or rolled back.
///
/// ```
/// use fixpoint::Tracked;
/// use fixpoint_demo::{ApprovalTicket, Rollout, RolloutTransitions};
///
/// let waiting =
///     Tracked::<Rollout, _, _>::new("v2").to_deploying().to_awaiting_approval(ApprovalTicket(7));
/// let live = waiting.to_deploying().to_live();
/// assert_eq!(live.into_value(), "v2");
/// ```
#[terminal_state(resume)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    /// Scheduled, not started.
    #[initial]
    #[to(Deploying, RolledBack)]
    Planned,
    /// Being deployed.
    #[to(AwaitingApproval, Live, RolledBack)]
    Deploying,
    /// Waiting for someone to approve the next stage.
    #[to(Deploying, RolledBack)]
    AwaitingApproval(ApprovalTicket),
    /// Serving traffic.
    #[terminal]
    Live,
    /// Rolled back, or abandoned by a lost owner.
    #[terminal]
    #[abandoned]
    RolledBack,
}

/// A lifecycle whose type level allows more than its table, on purpose: `Fired -> Armed` is
/// implemented by hand below, so its transition suite must fail on that edge.
///
/// ```
/// use fixpoint::Lifecycle;
/// use fixpoint_demo::Trap;
///
/// // The table does not list `Fired -> Armed`; only the hand-written `Edge` impl allows it.
/// assert!(!Trap::can_transition(Trap::Fired.state(), Trap::Armed.state()));
/// ```
#[terminal_state(resume)]
pub enum Trap {
    /// Set, waiting.
    #[initial]
    #[to(Fired, Disarmed)]
    Armed,
    /// Went off.
    #[terminal]
    Fired,
    /// Taken apart, or abandoned by a lost owner.
    #[terminal]
    #[abandoned]
    Disarmed,
}

// The widening the suite of `Trap` must catch: an edge out of a terminal state, outside the table.
impl fixpoint::Edge<trap::Armed> for trap::Fired {}
