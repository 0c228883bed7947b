//! A store that keeps a log of every write offered to it, applied or refused: for tests whose
//! guarantee is that a write is never *made*, which the rows alone cannot show once a row is
//! terminal (the store would refuse the write anyway).

use std::sync::Mutex;

use fixpoint::{
    Lifecycle,
    store::{Refused, RowChange, RowWrite, StatusStore, StoreError},
};

/// Passes every write to `inner`, and logs it first.
pub struct Logged<S> {
    inner: S,
    log: Mutex<Vec<String>>,
}

impl<S> Logged<S> {
    pub fn new(inner: S) -> Self {
        Logged {
            inner,
            log: Mutex::new(Vec::new()),
        }
    }

    /// The writes offered to row `id` so far, oldest first: `Insert`, `Running -> Completed`,
    /// `reason: ...`.
    pub fn writes_to(&self, id: &str) -> Vec<String> {
        let prefix = format!("{id}: ");
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|write| write.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }

    fn log<L: Lifecycle>(&self, writes: &[RowWrite<L>]) {
        let mut log = self.log.lock().unwrap();
        for write in writes {
            let change = match write.change() {
                RowChange::Insert => "Insert".to_owned(),
                RowChange::Transition(t) => format!("{} -> {}", t.from().name(), t.to().name()),
                RowChange::Reason(reason) => format!("reason: {reason}"),
                _ => "a change this log does not know".to_owned(),
            };
            log.push(format!("{}: {change}", write.id()));
        }
    }
}

impl<L: Lifecycle, S: StatusStore<L>> StatusStore<L> for Logged<S> {
    async fn apply(&self, owner: &str, writes: &[RowWrite<L>]) -> Result<Refused, StoreError> {
        self.log(writes);
        self.inner.apply(owner, writes).await
    }

    fn apply_now(
        &self,
        owner: &str,
        writes: &[RowWrite<L>],
    ) -> Option<Result<Refused, StoreError>> {
        // Logged only if the inner store takes them now; otherwise they come again by `apply`.
        let applied = self.inner.apply_now(owner, writes);
        if applied.is_some() {
            self.log(writes);
        }
        applied
    }

    super::pass_through!(L);
}
