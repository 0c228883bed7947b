use std::cell::Cell;

use fixpoint::invariant;

#[invariant(self.low <= self.high, "a range is not inverted")]
pub struct Range {
    low: u32,
    high: u32,
    #[invariant(allow_interior_mutability = "reads are counted, never checked")]
    reads: Cell<u32>,
}

fn main() {}
