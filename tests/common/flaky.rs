//! A store that fails on demand, for the tests that inject store failures.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use fixpoint::{
    Lifecycle,
    store::{Refused, RowWrite, StatusStore, StoreError},
};

/// A store whose `apply` fails (as a full or hung disk would) while `fail(true)` holds, or
/// for one owner's writes only (`fail_owner`).
pub struct Flaky<S> {
    inner: S,
    failing: AtomicBool,
    failing_owner: std::sync::Mutex<Option<String>>,
    refused_batches: AtomicU64,
    /// Offers [`StatusStore::apply_now`] (the inner store's), failing it as `apply` fails.
    at_once: bool,
}

impl<S> Flaky<S> {
    pub fn new(inner: S) -> Self {
        Flaky {
            inner,
            failing: AtomicBool::new(false),
            failing_owner: std::sync::Mutex::new(None),
            refused_batches: AtomicU64::new(0),
            at_once: false,
        }
    }

    /// A flaky store that applies writes at once, as the inner one does (a supervisor then
    /// writes on its tasks' threads and hands a failed write to its writer).
    pub fn at_once(inner: S) -> Self {
        Flaky {
            at_once: true,
            ..Flaky::new(inner)
        }
    }

    fn failing(&self, owner: &str) -> bool {
        let owner_fails = self.failing_owner.lock().unwrap().as_deref() == Some(owner);
        if self.failing.load(Ordering::SeqCst) || owner_fails {
            self.refused_batches.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        false
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Fails every batch `owner` applies from now on (a writer whose disk hangs for good).
    pub fn fail_owner(&self, owner: &str) {
        *self.failing_owner.lock().unwrap() = Some(owner.to_owned());
    }

    /// Batches refused so far.
    pub fn refused_batches(&self) -> u64 {
        self.refused_batches.load(Ordering::SeqCst)
    }
}

impl<L: Lifecycle, S: StatusStore<L>> StatusStore<L> for Flaky<S> {
    async fn apply(&self, owner: &str, writes: &[RowWrite<L>]) -> Result<Refused, StoreError> {
        if self.failing(owner) {
            return Err(full());
        }
        self.inner.apply(owner, writes).await
    }

    fn apply_now(
        &self,
        owner: &str,
        writes: &[RowWrite<L>],
    ) -> Option<Result<Refused, StoreError>> {
        if !self.at_once {
            return None;
        }
        if !writes.is_empty() && self.failing(owner) {
            return Some(Err(full()));
        }
        self.inner.apply_now(owner, writes)
    }

    super::pass_through!(L);
}

fn full() -> StoreError {
    StoreError::Backend("database or disk is full".into())
}
