use std::sync::atomic::AtomicU64;

use fixpoint::invariant;

#[invariant(
    self.in_flight.load(std::sync::atomic::Ordering::Relaxed) <= self.capacity,
    "a pool never lends more than it has"
)]
pub struct Pool {
    in_flight: AtomicU64,
    capacity: u64,
}

fn main() {}
