//! The fault matrices: every deadline and every row under faults from outside the code under test.
//!
//! One test binary per capability: each file below was its own binary, linked on its own.

#[path = "../common/mod.rs"]
mod common;

mod faults;
mod faults_rows;
