//! `fixpoint::process`: watched child processes, their kills, diagnoses and escalations, fork safety.
//!
//! One test binary per capability: each file below was its own binary, linked on its own.

#[path = "../common/mod.rs"]
mod common;

mod uptime_child;
mod uptime_fork;
