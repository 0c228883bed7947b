use std::sync::atomic::{AtomicU32, Ordering};

use fixpoint::invariant;

/// A user type that holds an atomic inline: `RefUnwindSafe`, but not free of `UnsafeCell`.
pub struct Counter {
    count: AtomicU32,
}

impl Counter {
    pub fn get(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }
}

#[invariant(self.visits.get() <= 10, "a page is visited at most 10 times")]
pub struct Page {
    visits: Counter,
}

fn main() {}
