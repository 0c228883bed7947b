use std::cell::Cell;

use fixpoint::invariant;

/// A user type that hides a cell: its name says nothing, its type does.
pub struct Counter {
    count: Cell<u32>,
}

impl Counter {
    pub fn get(&self) -> u32 {
        self.count.get()
    }
}

#[invariant(self.visits.get() <= 10, "a page is visited at most 10 times")]
pub struct Page {
    visits: Counter,
}

fn main() {}
