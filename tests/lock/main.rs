//! `fixpoint::lock`: the semaphore, mutex and rwlock, `#[lock_scope]` beside other attributes, foreign guards.
//!
//! One test binary per capability: each file below was its own binary, linked on its own.

#[path = "../common/mod.rs"]
mod common;

mod connection_limit;
mod foreign_guards;
mod lock_scope_attributes;
mod locks;
mod semaphore;
