use std::cell::Cell;

use fixpoint::invariant;

#[invariant(self.hits.get() <= 10, "a cache is never hit more than 10 times")]
pub struct Cache {
    #[invariant(allow_interior_mutability)]
    hits: Cell<u32>,
}

fn main() {}
