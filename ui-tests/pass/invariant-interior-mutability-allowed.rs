use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use fixpoint::{invariant, invariant::Checked};

/// A rule may read a field that changes behind `&` when the field says why the rule holds
/// anyway.
#[invariant(
    self.generation.load(Ordering::Acquire) >= self.first_generation,
    "a generation counter never goes below where it started"
)]
#[invariant(self.label.get().is_none_or(|l| !l.is_empty()), "a label, once set, is not empty")]
pub struct Epoch {
    #[invariant(allow_interior_mutability = "the counter only grows (fetch_add), so `>=` stays true")]
    generation: Arc<AtomicU64>,
    first_generation: u64,
    #[invariant(allow_interior_mutability = "set once, by `label_with`, which refuses an empty label")]
    label: OnceLock<String>,
}

impl Epoch {
    fn label_with(&self, label: &str) {
        if !label.is_empty() {
            let _ = self.label.set(label.to_owned());
        }
    }
}

fn main() {
    let epoch = Checked::new(Epoch {
        generation: Arc::new(AtomicU64::new(3)),
        first_generation: 3,
        label: OnceLock::new(),
    })
    .unwrap();
    epoch.generation.fetch_add(1, Ordering::AcqRel);
    epoch.label_with("");
    epoch.label_with("nightly");
    assert!(fixpoint::invariant::Invariants::check(&*epoch).is_ok());
}
