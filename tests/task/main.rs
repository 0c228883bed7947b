//! `fixpoint::task` and `fixpoint::restart`: the supervisor, its liveness companions, restarts.
//!
//! One test binary per capability: each file below was its own binary, linked on its own.

#[path = "../common/mod.rs"]
mod common;

mod restart;
mod spawn_commit;
mod supervisor;
mod supervisor_uptime;
