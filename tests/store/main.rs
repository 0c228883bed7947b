//! `fixpoint::store`: the store contract on every backend, SQLite and PostgreSQL each, their lifecycle triggers.
//!
//! One test binary per capability: each file below was its own binary, linked on its own.

#[path = "../common/mod.rs"]
mod common;

mod postgres_cluster;
mod postgres_fleet;
mod postgres_lifecycle;
mod postgres_store;
mod sqlite_lifecycle;
mod sqlite_store;
mod store_contract;
