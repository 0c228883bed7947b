//! A store that fails on demand, for the tests that inject store failures.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fixpoint::{
    Lifecycle, State,
    store::{Refused, Retention, Row, RowWrite, StatusStore, StoreError},
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
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        self.inner.insert(id, owner).await
    }

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

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        self.inner.renew_lease(owner, ttl).await
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        self.inner.release_lease(owner).await
    }

    async fn reap_leases(&self, grace: Duration) -> Result<u64, StoreError> {
        self.inner.reap_leases(grace).await
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        self.inner.orphans().await
    }

    async fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: State<L>,
        to_owner: &str,
    ) -> Result<bool, StoreError> {
        self.inner.adopt(id, from_owner, status, to_owner).await
    }

    async fn prune(&self, retention: Retention) -> Result<u64, StoreError> {
        self.inner.prune(retention).await
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        self.inner.rows().await
    }
}

fn full() -> StoreError {
    StoreError::Backend("database or disk is full".into())
}
