use fixpoint::invariant;

#[invariant(self.budget > 0, "a project has a budget")]
fn budget() -> u32 {
    1
}

fn main() {}
