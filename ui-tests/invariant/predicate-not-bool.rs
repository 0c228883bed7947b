use fixpoint::invariant;

#[invariant(self.budget, "a project has a budget")]
pub struct Project {
    budget: u32,
}

fn main() {}
