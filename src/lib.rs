#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The generated code of `demo` names `::fixpoint`, as it does in users' crates.
#[cfg(feature = "testing")]
extern crate self as fixpoint;

pub use fixpoint_core::*;
pub use fixpoint_macros::*;

/// A sample lifecycle (feature `testing`): the one the docs of [`testing`] name, whose page shows
/// the diagram `#[terminal_state]` draws, and whose transition suite fixpoint's own tests run.
///
/// ```
/// use fixpoint::Tracked;
/// use fixpoint::demo::{FollowUpId, Job, JobTransitions};
///
/// let waiting = Tracked::<Job, _, _>::new("report").to_running().to_input_needed(FollowUpId(7));
/// let done = waiting.to_running().to_done();
/// assert_eq!(done.into_value(), "report");
/// ```
#[cfg(feature = "testing")]
pub mod demo {
    use crate::terminal_state;

    /// The follow-up question a job waits on in `InputNeeded`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct FollowUpId(pub u64);

    /// A background job: queued, running, possibly waiting for input, then done or failed.
    #[terminal_state]
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Job {
        /// Created, not started.
        #[initial]
        #[to(Running, Failed)]
        Queued,
        /// A worker runs it.
        #[to(InputNeeded, Done, Failed)]
        Running,
        /// Waiting for the answer to a follow-up question.
        #[to(Running, Failed)]
        InputNeeded(FollowUpId),
        /// Finished with a result.
        #[terminal]
        Done,
        /// Failed, or abandoned by a lost owner.
        #[terminal]
        #[abandoned]
        Failed,
    }
}

/// Items that generated code names through `::fixpoint::__private`. Not a public API: anything
/// here may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use fixpoint_core::__private::*;
}
