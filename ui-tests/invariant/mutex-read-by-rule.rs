use std::sync::Mutex;

use fixpoint::invariant;

#[invariant(
    self.queue.lock().map(|queue| queue.len() <= 8).unwrap_or(false),
    "a queue holds at most 8 jobs"
)]
pub struct Worker {
    queue: Option<Box<Mutex<Vec<u32>>>>,
}

fn main() {}
