use fixpoint::invariant;

#[invariant(matches!(self, Status::Running), "always running")]
pub enum Status {
    Running,
    Stopped,
}

fn main() {}
