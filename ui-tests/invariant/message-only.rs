use fixpoint::invariant;

#[invariant("a project has a budget")]
pub struct Project {
    budget: u32,
}

fn main() {}
