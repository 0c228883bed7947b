//! Model checks of the code written against [`crate::sync`], run by `.ci/models` with loom.
//!
//! Each model states the property it proves as its assertions. Each is shown to bite: a
//! deliberate bug for it is kept in `fixpoint-core/models/bugs/` as a patch, and `.ci/models`
//! applies each patch to a copy of the crate and requires the model it names to fail there.
//!
//! Loom explores every interleaving of the threads a model starts, within a bound on
//! preemptions (`LOOM_MAX_PREEMPTIONS`, 2 in CI as in tokio's; `.ci/models --deep` raises it).

mod backlog;
mod bus;
mod queue;
mod registry;
mod slots;
mod timekeeper;
