//! The in-memory status store: for tests, and for processes whose statuses need not outlive
//! them.

use core::fmt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::now_millis;
use super::store::{Row, StatusStore, StoreError};
use crate::lifecycle::{Lifecycle, State};

/// A [`StatusStore`] in memory. Share it between supervisors (or with the code that inspects
/// it) through an `Arc`.
pub struct MemoryStore<L> {
    inner: Mutex<Inner<L>>,
}

/// Rows keep interned ids and owners and the state as its id: a transition allocates nothing.
struct Inner<L> {
    rows: HashMap<Arc<str>, Entry<L>>,
    owners: Vec<Arc<str>>,
    leases: HashMap<Arc<str>, i64>,
}

struct Entry<L> {
    owner: Arc<str>,
    state: State<L>,
    reason: Option<String>,
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
            inner: Mutex::new(Inner {
                rows: HashMap::new(),
                owners: Vec::new(),
                leases: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<L>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<L: Lifecycle> Inner<L> {
    /// The shared copy of an owner id: a supervisor's rows all point at one.
    fn owner(&mut self, owner: &str) -> Arc<str> {
        if let Some(known) = self.owners.iter().find(|known| &***known == owner) {
            return Arc::clone(known);
        }
        let owner: Arc<str> = owner.into();
        self.owners.push(Arc::clone(&owner));
        owner
    }

    fn row(id: &Arc<str>, entry: &Entry<L>) -> Row {
        Row {
            id: id.to_string(),
            owner: entry.owner.to_string(),
            status: entry.state.name().to_owned(),
            reason: entry.reason.clone(),
        }
    }

    fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        rows
    }
}

impl<L: Lifecycle> StatusStore<L> for MemoryStore<L> {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some(entry) = inner.rows.get(id) {
            return Err(StoreError::IdTaken {
                id: id.to_owned(),
                status: entry.state.name().to_owned(),
            });
        }
        let owner = inner.owner(owner);
        inner.rows.insert(
            id.into(),
            Entry {
                owner,
                state: L::initial(),
                reason: None,
            },
        );
        Ok(())
    }

    async fn transition(&self, id: &str, from: State<L>, to: State<L>) -> Result<(), StoreError> {
        L::check_transition(from, to)?;
        let mut inner = self.lock();
        let entry = inner
            .rows
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        if entry.state != from {
            return Err(StoreError::Conflict {
                id: id.to_owned(),
                expected: from.name(),
                found: entry.state.name().to_owned(),
            });
        }
        entry.state = to;
        Ok(())
    }

    async fn annotate(&self, id: &str, reason: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let entry = inner
            .rows
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        entry.reason = Some(reason.to_owned());
        Ok(())
    }

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        let expires =
            now_millis().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let mut inner = self.lock();
        let owner = inner.owner(owner);
        inner.leases.insert(owner, expires);
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
        let orphans = inner
            .rows
            .iter()
            .filter(|(_, entry)| !live(&entry.owner) && !entry.state.is_terminal())
            .map(|(id, entry)| Inner::row(id, entry))
            .collect();
        Ok(Inner::<L>::sorted(orphans))
    }

    async fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: State<L>,
        to_owner: &str,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let to_owner = inner.owner(to_owner);
        match inner.rows.get_mut(id) {
            Some(entry) if &*entry.owner == from_owner && entry.state == status => {
                entry.owner = to_owner;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        let inner = self.lock();
        let rows = inner
            .rows
            .iter()
            .map(|(id, entry)| Inner::row(id, entry))
            .collect();
        Ok(Inner::<L>::sorted(rows))
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
