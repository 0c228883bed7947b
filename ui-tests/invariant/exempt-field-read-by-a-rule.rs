use fixpoint::invariant;

#[invariant(self.budget > 0, "a project has a budget")]
pub struct Project {
    #[invariant(exempt)]
    pub budget: u32,
}

fn main() {}
