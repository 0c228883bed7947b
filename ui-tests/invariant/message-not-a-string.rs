use fixpoint::invariant;

#[invariant(self.budget > 0, a_project_has_a_budget)]
pub struct Project {
    budget: u32,
}

fn main() {}
