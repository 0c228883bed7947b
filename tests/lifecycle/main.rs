//! Lifecycles: the typestate machine, its transition table and suite, its tracing recorder.
//!
//! One test binary per capability: each file below was its own binary, linked on its own.

#[path = "../common/mod.rs"]
mod common;

mod lifecycle;
mod tracing_recorder;
mod transition_suite;
mod transition_table;
