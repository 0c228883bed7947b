//! The in-memory status store: for tests, and for processes whose statuses need not outlive
//! them.

use core::fmt;
use core::marker::PhantomData;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::now_millis;
use super::store::{Row, StatusStore, StoreError};
use crate::lifecycle::{Lifecycle, State};

/// A [`StatusStore`] in memory. Cloning is not offered: share it through the supervisor.
pub struct MemoryStore<L> {
    inner: Mutex<Inner>,
    lifecycle: PhantomData<fn() -> L>,
}

#[derive(Default)]
struct Inner {
    rows: HashMap<String, Row>,
    leases: HashMap<String, i64>,
}

impl<L: Lifecycle> Default for MemoryStore<L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L: Lifecycle> MemoryStore<L> {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            lifecycle: PhantomData,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn transition_now(&self, id: &str, from: State<L>, to: State<L>) -> Result<(), StoreError> {
        L::check_transition(from, to)?;
        let mut inner = self.lock();
        let row = inner
            .rows
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        if row.status != from.name() {
            return Err(StoreError::Conflict {
                id: id.to_owned(),
                expected: from.name(),
                found: row.status.clone(),
            });
        }
        to.name().clone_into(&mut row.status);
        Ok(())
    }
}

impl<L: Lifecycle> StatusStore<L> for MemoryStore<L> {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some(row) = inner.rows.get(id) {
            return Err(StoreError::IdTaken {
                id: id.to_owned(),
                status: row.status.clone(),
            });
        }
        let row = Row {
            id: id.to_owned(),
            owner: owner.to_owned(),
            status: L::initial().name().to_owned(),
            reason: None,
        };
        inner.rows.insert(id.to_owned(), row);
        Ok(())
    }

    async fn transition(&self, id: &str, from: State<L>, to: State<L>) -> Result<(), StoreError> {
        self.transition_now(id, from, to)
    }

    async fn annotate(&self, id: &str, reason: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let row = inner
            .rows
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        row.reason = Some(reason.to_owned());
        Ok(())
    }

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        let expires =
            now_millis().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        self.lock().leases.insert(owner.to_owned(), expires);
        Ok(())
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        self.lock().leases.remove(owner);
        Ok(())
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        let now = now_millis();
        let inner = self.lock();
        let live = |owner: &str| {
            inner
                .leases
                .get(owner)
                .is_some_and(|expires| *expires > now)
        };
        let mut orphans: Vec<Row> = inner
            .rows
            .values()
            .filter(|row| !live(&row.owner))
            .filter(|row| State::<L>::parse(&row.status).map_or(true, |state| !state.is_terminal()))
            .cloned()
            .collect();
        orphans.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(orphans)
    }

    async fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: State<L>,
        to_owner: &str,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        match inner.rows.get_mut(id) {
            Some(row) if row.owner == from_owner && row.status == status.name() => {
                to_owner.clone_into(&mut row.owner);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        let mut rows: Vec<Row> = self.lock().rows.values().cloned().collect();
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }
}

impl<L> fmt::Debug for MemoryStore<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("MemoryStore")
            .field("rows", &inner.rows.len())
            .finish()
    }
}
