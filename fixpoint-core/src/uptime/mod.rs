//! Uptime primitives: runtime tools for work that must not settle into a fixpoint in a process
//! left running for months.
//!
//! - A deadline lives outside the work it limits: [`Watched`] runs a child process in its own
//!   process group with a deadline kept by a watcher task, kills the whole group at the deadline
//!   and reaps it; the outcome is a terminal [`ChildStatus`].
//! - A timeout is a tourniquet, not a diagnosis: before it kills, the watcher captures the
//!   child's stuck state ([`Diagnosis`]: process tree, states, wait channels, threads,
//!   descriptors, last output), and an [`Escalation`] makes a hang that keeps recurring capture
//!   every thread's stack, or stay stopped for inspection.

mod child;
mod diagnosis;
mod escalation;
mod group;
mod tail;

// The state markers (`child_status`) stay unexported, and no state is named `Running`: a second
// public type of a common name makes rustc spell the user's own with its path in diagnostics
// (`job::Running`), which changes their text (and this crate's ui expectations).
pub use child::{ChildStatus, Ending, Kill, Outcome, Run, StartError, Watched};
pub use diagnosis::{Diagnosis, Process, StackSource, Stacks};
pub use escalation::{Escalated, Escalation, EscalationPolicy};
pub use group::reap_orphans;
pub use tail::{Line, Stream};
