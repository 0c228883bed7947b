use fixpoint::invariant;

#[invariant(severity = high, self.budget > 0, "a project has a budget")]
pub struct Project {
    budget: u32,
}

fn main() {}
