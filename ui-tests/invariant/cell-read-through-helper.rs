use std::cell::Cell;

use fixpoint::invariant;

// The rule calls a method on `self`, which may read any field, the cell included.
#[invariant(self.is_fresh(), "a cached value is at most 10 reads old")]
pub struct Cached {
    value: u64,
    reads: Cell<u32>,
}

impl Cached {
    fn is_fresh(&self) -> bool {
        self.value > 0 && self.reads.get() <= 10
    }
}

fn main() {}
