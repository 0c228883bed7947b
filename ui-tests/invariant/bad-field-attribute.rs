use fixpoint::invariant;

#[invariant(self.budget > 0, "a project has a budget")]
pub struct Project {
    budget: u32,
    #[invariant(ignore)]
    pub note: String,
}

fn main() {}
