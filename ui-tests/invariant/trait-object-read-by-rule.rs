use fixpoint::invariant;

// A trait object could hide a cell, so a rule may not read one unless it promises
// `+ RefUnwindSafe` (or the field says why the rule holds anyway).
#[invariant(self.cause.as_ref().is_none_or(|cause| !cause.to_string().is_empty()), "a cause says something")]
pub struct Failure {
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

fn main() {}
