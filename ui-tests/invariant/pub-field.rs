use fixpoint::invariant;

#[invariant(self.budget > 0, "a project has a budget")]
pub struct Project {
    pub budget: u32,
    pub(crate) owner: String,
}

fn main() {}
