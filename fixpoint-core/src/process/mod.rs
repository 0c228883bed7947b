#![doc = include_str!("guide.md")]

// Child processes watched from outside (Linux, feature `process`): a deadline lives outside
// the work it limits, and a timeout is a tourniquet, not a diagnosis.
//
// - [`Watched`] runs a child process in its own process group; at its deadline the
// [`timekeeper`](crate::uptime::timekeeper) captures its stuck state and kills the whole
// group, on a thread of its own; the watcher task reaps it and reports a terminal
// [`ProcessStatus`].
// - Before it kills, the watcher captures the child's stuck state ([`Diagnosis`]: process
// tree, states, wait channels, threads, descriptors, last output), and an [`Escalation`]
// makes a hang that keeps recurring capture every thread's stack, or stay stopped for
// inspection.
// - A watched child's output lines are its progress: they tick a
// [`Progress`](crate::uptime::Progress) ([`Watched::progress`]), and a child that writes
// none for a threshold is killed as wedged ([`Watched::wedged_after`]).

mod child;
mod diagnosis;
mod escalation;
mod group;
mod outside;
pub(crate) mod procfs;
mod tail;
mod watcher;

// The state markers (`process_status`) stay unexported, and no state is named `Running`: a second
// public type of a common name makes rustc spell the user's own with its path in diagnostics
// (`job::Running`), which changes their text (and this crate's ui expectations).
pub use child::{Ending, Kill, ProcessStatus, Run, RunOutcome, StartError, Watched};
pub use diagnosis::{Diagnosis, Process, StackSource, Stacks};
pub use escalation::{Escalated, Escalation, EscalationPolicy};
pub use group::reap_orphans;
pub use tail::{Line, Stream};
