//! `fixpoint::uptime`: cooldown markers, periodic jobs, progress watchdogs, their events.
//!
//! One test binary per capability: each file below was its own binary, linked on its own.

#[path = "../common/mod.rs"]
mod common;

mod uptime_events;
mod uptime_marker;
mod uptime_periodic;
mod uptime_progress;
