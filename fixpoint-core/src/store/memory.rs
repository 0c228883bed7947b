//! The in-memory status store: for tests, and for processes whose statuses need not outlive
//! them.

use core::fmt;
use core::hash::BuildHasher;
use std::collections::{HashMap, VecDeque};

use hashbrown::HashTable;
use hashbrown::hash_table;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::contract::{Refused, Retention, Row, RowChange, RowWrite, StatusStore, StoreError};
use super::now_millis;
use crate::lifecycle::{Lifecycle, State};

/// How many writes of a batch are applied under one lock.
const WRITES_PER_LOCK: usize = 32;

/// A [`StatusStore`] in memory. Share it between supervisors (or with the code that inspects
/// it) through an `Arc`.
///
/// Its memory is the rows it keeps: terminal rows go as the supervisor's [`Retention`]
/// prunes them, and an owner's id goes with its lease and its last row.
pub struct MemoryStore<L> {
    inner: Mutex<Inner<L>>,
    /// foldhash, seeded per store: a few nanoseconds an id where `std`'s SipHash takes tens,
    /// and ids chosen to collide would have to guess the seed. Ids are hashed before the lock
    /// is taken: the lock is held for the lookup and the change alone.
    hasher: foldhash::fast::RandomState,
    /// When rows finish (see [`Clock`]).
    clock: Clock,
}

/// Rows keep interned ids and owners and the state as its id: a transition allocates nothing.
struct Inner<L> {
    /// Rows by id. Each keeps its id's hash: a table that grows moves its rows without
    /// hashing an id again.
    rows: HashTable<Entry<L>>,
    /// Terminal rows in the order they turned terminal: what retention prunes, oldest first.
    finished: VecDeque<(i64, Arc<str>)>,
    /// Owner ids and their lease expiry: each row holds a clone of its owner's `Arc`, so an
    /// owner with no lease whose `Arc` is held by the map alone is forgotten.
    owners: HashMap<Arc<str>, Option<i64>>,
    /// The owner of the latest insert: a supervisor inserts many rows in a row.
    last_owner: Option<Arc<str>>,
}

struct Entry<L> {
    /// The row's key, shared with the retention queue (and the supervisor's task).
    id: Arc<str>,
    hash: u64,
    owner: Arc<str>,
    state: State<L>,
    reason: Option<String>,
    /// When the row turned terminal (see [`Clock`]); `0` while it is not.
    finished_at: i64,
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
                rows: HashTable::new(),
                finished: VecDeque::new(),
                owners: HashMap::new(),
                last_owner: None,
            }),
            hasher: foldhash::fast::RandomState::default(),
            clock: Clock::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<L>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// What a write needs that can be had before the lock: its id's hash, and the time if it
    /// finishes a row.
    #[inline]
    fn prepare(&self, write: &RowWrite<L>) -> Prepared {
        let finishes =
            matches!(write.change(), RowChange::Transition(step) if step.to().is_terminal());
        Prepared {
            hash: self.hash(write.id()),
            at: if finishes { self.clock.now_millis() } else { 0 },
        }
    }

    /// Applies `writes`: one at once (a supervisor's writes, one by one as its tasks make
    /// them), more a few per lock.
    #[inline(always)] // into `apply_now`, and through it into the supervisor's every write
    fn apply_locked(&self, owner: &str, writes: &[RowWrite<L>]) -> Refused {
        if let [write] = writes {
            let prepared = self.prepare(write);
            return match self.lock().apply_one(owner, write, prepared) {
                Ok(()) => Vec::new(),
                Err(error) => vec![(0, error)],
            };
        }
        self.apply_batch(owner, writes)
    }

    /// Applies `writes` a few per lock: a long batch must not keep the spawns' inserts waiting.
    fn apply_batch(&self, owner: &str, writes: &[RowWrite<L>]) -> Refused {
        let mut refused = Vec::new();
        let mut prepared = [Prepared { hash: 0, at: 0 }; WRITES_PER_LOCK];
        for (chunk, writes) in writes.chunks(WRITES_PER_LOCK).enumerate() {
            for (prepared, write) in prepared.iter_mut().zip(writes) {
                *prepared = self.prepare(write);
            }
            let mut inner = self.lock();
            for (offset, (write, &prepared)) in writes.iter().zip(&prepared).enumerate() {
                if let Err(error) = inner.apply_one(owner, write, prepared) {
                    refused.push((chunk * WRITES_PER_LOCK + offset, error));
                }
            }
        }
        refused
    }
}

/// Whether a row's owner is `owner`: the same copy (see [`Inner::owner_shared`]) without
/// comparing the text.
#[inline]
fn same_owner(row: &str, owner: &str) -> bool {
    core::ptr::eq(row, owner) || row == owner
}

/// See [`MemoryStore::prepare`].
#[derive(Clone, Copy)]
struct Prepared {
    hash: u64,
    /// When the row finished, if the write finishes it.
    at: i64,
}

impl<L: Lifecycle> Inner<L> {
    /// The shared copy of an owner id: a supervisor's rows all point at one.
    fn owner(&mut self, owner: &str) -> Arc<str> {
        if let Some(last) = self
            .last_owner
            .as_ref()
            .filter(|last| same_owner(last, owner))
        {
            return Arc::clone(last);
        }
        let owner = match self.owners.get_key_value(owner) {
            Some((known, _)) => Arc::clone(known),
            None => {
                let owner: Arc<str> = owner.into();
                self.owners.insert(Arc::clone(&owner), None);
                owner
            }
        };
        self.last_owner = Some(Arc::clone(&owner));
        owner
    }

    /// The shared copy of an owner id the caller shares: the caller's own, so that its writes
    /// find their rows' owner by pointer (see [`same_owner`]). Rows inserted before under
    /// another copy keep theirs, compared by text.
    fn owner_shared(&mut self, owner: &Arc<str>) -> Arc<str> {
        if let Some(last) = &self.last_owner
            && Arc::ptr_eq(last, owner)
        {
            return Arc::clone(owner);
        }
        match self.owners.get_key_value(&**owner) {
            Some((known, _)) if Arc::ptr_eq(known, owner) => {}
            _ => {
                let lease = self.owners.remove(&**owner).flatten();
                self.owners.insert(Arc::clone(owner), lease);
            }
        }
        self.last_owner = Some(Arc::clone(owner));
        Arc::clone(owner)
    }

    /// Forgets the owners that hold no lease and name no row.
    fn forget_owners(&mut self) {
        self.last_owner = None;
        self.owners
            .retain(|owner, lease| lease.is_some() || Arc::strong_count(owner) > 1);
    }

    fn live(&self, owner: &str, now: i64) -> bool {
        self.owners
            .get(owner)
            .copied()
            .flatten()
            .is_some_and(|expires| expires > now)
    }

    #[inline]
    fn apply_one(
        &mut self,
        owner: &str,
        write: &RowWrite<L>,
        prepared: Prepared,
    ) -> Result<(), StoreError> {
        // The supervisor's writes share their row's id (their insert kept its `Arc`): the same
        // `Arc` is the same id, without comparing the text.
        let id = write.shared_id();
        if let RowChange::Insert = write.change() {
            let owner = self.owner(owner);
            return self.insert(Arc::clone(id), prepared.hash, owner);
        }
        let entry = self
            .rows
            .find_mut(prepared.hash, |row| {
                Arc::ptr_eq(&row.id, id) || *row.id == **id
            })
            .ok_or_else(|| StoreError::NotFound {
                id: write.id().to_owned(),
            })?;
        if !same_owner(&entry.owner, owner) {
            return Err(StoreError::Fenced {
                id: write.id().to_owned(),
                owner: entry.owner.to_string(),
            });
        }
        match write.change() {
            RowChange::Transition(transition) => {
                if entry.state != transition.from() {
                    return Err(StoreError::Conflict {
                        id: write.id().to_owned(),
                        expected: transition.from().name(),
                        found: entry.state.name().to_owned(),
                    });
                }
                entry.state = transition.to();
                if transition.to().is_terminal() {
                    entry.finished_at = prepared.at;
                    let id = Arc::clone(&entry.id);
                    self.finished.push_back((prepared.at, id));
                }
            }
            RowChange::Reason(reason) => entry.reason = Some(reason.clone()),
            RowChange::Insert => {} // inserted above
        }
        Ok(())
    }

    fn insert(&mut self, id: Arc<str>, hash: u64, owner: Arc<str>) -> Result<(), StoreError> {
        match self.rows.entry(hash, |row| row.id == id, |row| row.hash) {
            hash_table::Entry::Occupied(taken) => Err(StoreError::IdTaken {
                id: id.to_string(),
                status: taken.get().state.name().to_owned(),
            }),
            hash_table::Entry::Vacant(row) => {
                row.insert(Entry {
                    id,
                    hash,
                    owner,
                    state: L::initial(),
                    reason: None,
                    finished_at: 0,
                });
                Ok(())
            }
        }
    }

    fn find(&self, id: &str, hash: u64) -> Option<&Entry<L>> {
        self.rows.find(hash, |row| &*row.id == id)
    }

    fn find_mut(&mut self, id: &str, hash: u64) -> Option<&mut Entry<L>> {
        self.rows.find_mut(hash, |row| &*row.id == id)
    }

    fn remove(&mut self, id: &str, hash: u64) -> bool {
        match self.rows.find_entry(hash, |row| &*row.id == id) {
            Ok(row) => {
                row.remove();
                true
            }
            Err(_) => false,
        }
    }

    fn row(entry: &Entry<L>) -> Row {
        Row {
            id: entry.id.to_string(),
            owner: entry.owner.to_string(),
            status: entry.state.name().to_owned(),
            reason: entry.reason.clone(),
            finished_at: entry.state.is_terminal().then_some(entry.finished_at),
        }
    }

    fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        rows
    }
}

impl<L: Lifecycle> StatusStore<L> for MemoryStore<L> {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let hash = self.hash(id);
        let mut inner = self.lock();
        let owner = inner.owner(owner);
        inner.insert(id.into(), hash, owner)
    }

    async fn insert_shared(&self, id: &Arc<str>, owner: &Arc<str>) -> Result<(), StoreError> {
        let hash = self.hash(id);
        let mut inner = self.lock();
        let owner = inner.owner_shared(owner);
        inner.insert(Arc::clone(id), hash, owner)
    }

    async fn apply(&self, owner: &str, writes: &[RowWrite<L>]) -> Result<Refused, StoreError> {
        Ok(self.apply_locked(owner, writes))
    }

    /// Always: a memory store's writes wait on nothing but its lock.
    #[inline]
    fn apply_now(
        &self,
        owner: &str,
        writes: &[RowWrite<L>],
    ) -> Option<Result<Refused, StoreError>> {
        Some(Ok(self.apply_locked(owner, writes)))
    }

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        let expires =
            now_millis().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let mut inner = self.lock();
        let owner = inner.owner(owner);
        inner.owners.insert(owner, Some(expires));
        Ok(())
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some(lease) = inner.owners.get_mut(owner) {
            *lease = None;
        }
        inner.forget_owners();
        Ok(())
    }

    async fn reap_leases(&self, grace: Duration) -> Result<u64, StoreError> {
        let grace = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let before = now_millis().saturating_sub(grace);
        let mut inner = self.lock();
        let mut reaped = 0;
        for lease in inner.owners.values_mut() {
            if lease.is_some_and(|expires| expires < before) {
                *lease = None;
                reaped += 1;
            }
        }
        if reaped > 0 {
            inner.forget_owners();
        }
        Ok(reaped)
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        let now = now_millis();
        let inner = self.lock();
        let orphans = inner
            .rows
            .iter()
            .filter(|entry| !entry.state.is_terminal() && !inner.live(&entry.owner, now))
            .map(Inner::row)
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
        let (now, hash) = (now_millis(), self.hash(id));
        let mut inner = self.lock();
        if inner.live(from_owner, now) {
            return Ok(false);
        }
        match inner.find(id, hash) {
            Some(entry) if &*entry.owner == from_owner && entry.state == status => {}
            _ => return Ok(false),
        }
        let to_owner = inner.owner(to_owner);
        if let Some(entry) = inner.find_mut(id, hash) {
            entry.owner = to_owner;
        }
        Ok(true)
    }

    async fn prune(&self, retention: Retention) -> Result<u64, StoreError> {
        let cutoff = retention.cutoff(now_millis());
        let keep = retention.max_rows.map_or(usize::MAX, |rows| {
            usize::try_from(rows).unwrap_or(usize::MAX)
        });
        let mut inner = self.lock();
        let mut pruned = 0;
        while let Some((finished_at, _)) = inner.finished.front() {
            let too_old = cutoff.is_some_and(|cutoff| *finished_at < cutoff);
            if !too_old && inner.finished.len() <= keep {
                break;
            }
            let Some((_, id)) = inner.finished.pop_front() else {
                break;
            };
            // Only terminal rows are queued, and nothing leaves a terminal state.
            let hash = self.hash(&id);
            pruned += u64::from(inner.remove(&id, hash));
        }
        inner.forget_owners();
        Ok(pruned)
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        let inner = self.lock();
        let rows = inner.rows.iter().map(Inner::row).collect();
        Ok(Inner::<L>::sorted(rows))
    }
}

/// When a row turned terminal, for retention and the restart window: the wall clock in
/// milliseconds since the Unix epoch, within a few milliseconds, read for next to nothing. It is
/// the coarse monotonic clock (one vDSO read, no conversion through `SystemTime`) plus the wall
/// clock's offset from it, measured again every [`Clock::REMEASURE_MS`]: a change of the wall
/// clock (a step, NTP's slewing) reaches the timestamps within that second.
struct Clock {
    /// The wall clock minus the coarse monotonic clock, in milliseconds.
    offset: AtomicI64,
    /// The monotonic millisecond at which the offset is measured again.
    remeasure_at: AtomicI64,
}

impl Clock {
    /// How often the wall clock's offset is measured again, in milliseconds.
    const REMEASURE_MS: i64 = 1_000;

    fn new() -> Self {
        Clock {
            offset: AtomicI64::new(0),
            remeasure_at: AtomicI64::new(i64::MIN),
        }
    }

    #[inline]
    fn now_millis(&self) -> i64 {
        let monotonic = coarsetime::Instant::now_without_cache_update().as_u64();
        // 32.32 fixed-point seconds to milliseconds.
        let monotonic = i64::try_from((u128::from(monotonic) * 1000) >> 32).unwrap_or(i64::MAX);
        if monotonic >= self.remeasure_at.load(Ordering::Relaxed) {
            // Racing threads each store an offset they just measured: any of them will do.
            self.offset
                .store(now_millis().saturating_sub(monotonic), Ordering::Relaxed);
            self.remeasure_at.store(
                monotonic.saturating_add(Self::REMEASURE_MS),
                Ordering::Relaxed,
            );
        }
        monotonic.saturating_add(self.offset.load(Ordering::Relaxed))
    }
}

impl<L> fmt::Debug for MemoryStore<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("MemoryStore")
            .field("rows", &inner.rows.len())
            .field("owners", &inner.owners.len())
            .finish()
    }
}
