use std::cell::Cell;

use fixpoint::invariant;

#[invariant(self.hits.get() <= self.limit, "a cache is never hit more than its limit")]
pub struct Cache {
    hits: Cell<u32>,
    limit: u32,
}

fn main() {}
