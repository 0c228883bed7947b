use fixpoint::invariant;

const LIMIT: u32 = 10;

#[invariant(LIMIT > 0, "the limit is positive")]
pub struct Project {
    budget: u32,
}

fn main() {}
