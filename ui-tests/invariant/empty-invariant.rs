use fixpoint::invariant;

#[invariant]
pub struct Project {
    budget: u32,
}

fn main() {}
