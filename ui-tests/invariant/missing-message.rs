use fixpoint::invariant;

#[invariant(self.budget > 0)]
pub struct Project {
    budget: u32,
}

fn main() {}
