//! `fixpoint::bus`: the in-process bus, its bounds and soak, and `PgBus` on a real server.
//!
//! One test binary per capability: each file below was its own binary, linked on its own.

#[path = "../common/mod.rs"]
mod common;

mod bus_bounds;
mod pg_bus;
mod pubsub;
mod soak_bus;
