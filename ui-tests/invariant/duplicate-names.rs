use fixpoint::invariant;

#[invariant(name = funded, self.budget > 0, "a project has a budget")]
#[invariant(name = funded, self.budget < 1_000, "a project's budget is capped")]
pub struct Project {
    budget: u32,
}

fn main() {}
