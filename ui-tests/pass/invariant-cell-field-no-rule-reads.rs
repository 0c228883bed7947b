use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use fixpoint::{invariant, invariant::Checked};

/// Interior mutability is fine where no rule looks: the rules read `low` and `high` only.
#[invariant(self.low <= self.high, "a range is not inverted")]
pub struct Range {
    low: u32,
    high: u32,
    reads: Cell<u32>,
    log: Mutex<Vec<String>>,
    #[invariant(exempt)]
    pub hits: AtomicU64,
}

fn main() {
    let range = Checked::new(Range {
        low: 1,
        high: 2,
        reads: Cell::new(0),
        log: Mutex::new(Vec::new()),
        hits: AtomicU64::new(0),
    })
    .unwrap();
    range.reads.set(range.reads.get() + 1);
    range.log.lock().unwrap().push("read".to_owned());
    range.hits.fetch_add(1, Ordering::Relaxed);
    assert_eq!(range.reads.get(), 1);
}
