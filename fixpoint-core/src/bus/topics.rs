//! The bus's table of topics: who listens to what, and which topics were closed lately.
//!
//! Every entry has its reaper on the cycle that creates it: an open topic's entry goes when its
//! last subscriber leaves; a closed topic's entry is a tombstone in a first-in first-out window
//! of fixed size, and each close beyond it forgets the oldest one.

use core::hash::{BuildHasher, Hash};
use std::collections::VecDeque;

use hashbrown::HashTable;

use super::backlog::{Backlog, DETACHED};
use crate::sync::Arc;
use crate::sync::atomic::{AtomicU64, Ordering};

pub(super) struct Topics<K, E, S> {
    // A table that takes the hash from us, so that a publisher can skip hashing (below).
    entries: HashTable<Entry<K, E>>,
    hasher: S,
    /// The hash of the topic last published or subscribed to: a stream of events on one topic
    /// hashes its key once, and so does the answer to a question just subscribed to. The key
    /// comparison at that hash is the proof that it is the same topic, so a stale hint costs a
    /// probe, never a wrong delivery.
    last_used: AtomicU64,
    /// The closed topics still remembered, oldest first; exactly those entries that are closed.
    tombstones: VecDeque<K>,
    remembered_closes: usize,
    closed: bool,
}

struct Entry<K, E> {
    key: K,
    // Kept so that growing the table never hashes a key again.
    hash: u64,
    subscribers: Vec<Arc<Backlog<E>>>,
    closed: bool,
}

impl<K, E> Entry<K, E> {
    fn new(key: K, hash: u64) -> Self {
        Entry {
            key,
            hash,
            subscribers: Vec::new(),
            closed: false,
        }
    }
}

/// Where an event for a topic goes.
pub(super) enum Route<'a, E> {
    /// The topic, or the bus, is closed.
    Closed,
    /// The subscribers open on the topic now, possibly none.
    Open(&'a [Arc<Backlog<E>>]),
}

impl<K, E, S> Topics<K, E, S> {
    pub(super) fn new(remembered_closes: usize, hasher: S) -> Self {
        Topics {
            entries: HashTable::new(),
            hasher,
            last_used: AtomicU64::new(0),
            tombstones: VecDeque::new(),
            remembered_closes,
            closed: false,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn remembered_closes(&self) -> usize {
        self.tombstones.len()
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed
    }
}

impl<K: Hash + Eq + Clone, E, S: BuildHasher> Topics<K, E, S> {
    pub(super) fn route(&self, topic: &K) -> Route<'_, E> {
        if self.closed {
            return Route::Closed;
        }
        let hinted = self.last_used.load(Ordering::Relaxed);
        let entry = match self.entries.find(hinted, |entry| entry.key == *topic) {
            Some(entry) => Some(entry),
            None => {
                let hash = self.hasher.hash_one(topic);
                // Publishers on other threads read this line: write it only when it changes.
                if hash != hinted {
                    self.last_used.store(hash, Ordering::Relaxed);
                }
                self.entries.find(hash, |entry| entry.key == *topic)
            }
        };
        match entry {
            None => Route::Open(&[]),
            Some(entry) if entry.closed => Route::Closed,
            Some(entry) => Route::Open(&entry.subscribers),
        }
    }

    /// A backlog registered on `topic`, or born closed if the topic or the bus is closed.
    pub(super) fn register(&mut self, topic: &K, backlog: usize) -> Arc<Backlog<E>> {
        if self.closed {
            return Arc::new(Backlog::born_closed());
        }
        let entry = self.entry(topic);
        if entry.closed {
            return Arc::new(Backlog::born_closed());
        }
        let slot = entry.subscribers.len();
        let registered = Arc::new(Backlog::open(backlog, slot, entry.hash));
        entry.subscribers.push(Arc::clone(&registered));
        // Subscribe, then write: the next publish is most likely the answer to this topic.
        self.last_used
            .store(registered.topic_hash(), Ordering::Relaxed);
        registered
    }

    /// Takes `backlog` out of `topic`'s subscribers in constant time, and the topic's entry
    /// with it when it was the last one. Anything else than the backlog itself at its slot
    /// (it was detached by a close) is left alone.
    pub(super) fn unregister(&mut self, topic: &K, backlog: &Arc<Backlog<E>>) {
        let slot = backlog.slot();
        let hash = backlog.topic_hash();
        let Ok(mut found) = self.entries.find_entry(hash, |entry| entry.key == *topic) else {
            return;
        };
        let entry = found.get_mut();
        if !entry
            .subscribers
            .get(slot)
            .is_some_and(|at_slot| Arc::ptr_eq(at_slot, backlog))
        {
            return;
        }
        entry.subscribers.swap_remove(slot);
        if let Some(moved) = entry.subscribers.get(slot) {
            moved.set_slot(slot);
        }
        backlog.set_slot(DETACHED);
        if entry.subscribers.is_empty() && !entry.closed {
            found.remove();
            self.shrink_entries_if_sparse();
        } else if is_sparse(entry.subscribers.len(), entry.subscribers.capacity()) {
            let len = entry.subscribers.len();
            entry.subscribers.shrink_to(len * 2);
        }
    }

    pub(super) fn subscribers(&self, topic: &K) -> usize {
        let hash = self.hasher.hash_one(topic);
        self.entries
            .find(hash, |entry| entry.key == *topic)
            .map_or(0, |entry| entry.subscribers.len())
    }

    /// Marks `topic` closed, remembers it in place of the oldest remembered close if the window
    /// is full, and returns its subscribers' backlogs, detached, to be closed.
    pub(super) fn close_topic(&mut self, topic: &K) -> Vec<Arc<Backlog<E>>> {
        if self.closed {
            return Vec::new();
        }
        let entry = self.entry(topic);
        if entry.closed {
            return Vec::new();
        }
        entry.closed = true;
        let detached = detach(std::mem::take(&mut entry.subscribers));
        self.tombstones.push_back(topic.clone());
        while self.tombstones.len() > self.remembered_closes {
            if let Some(forgotten) = self.tombstones.pop_front() {
                self.remove(&forgotten);
            }
        }
        detached
    }

    /// Closes the bus for good and returns every backlog, detached, to be closed.
    pub(super) fn close_all(&mut self) -> Vec<Arc<Backlog<E>>> {
        self.closed = true;
        self.tombstones = VecDeque::new();
        let backlogs = self
            .entries
            .drain()
            .flat_map(|entry| entry.subscribers)
            .collect();
        self.entries.shrink_to_fit(|entry| entry.hash);
        detach(backlogs)
    }

    /// The entry of `topic`, made open and empty if there is none.
    fn entry(&mut self, topic: &K) -> &mut Entry<K, E> {
        let hash = self.hasher.hash_one(topic);
        self.entries
            .entry(hash, |entry| entry.key == *topic, |entry| entry.hash)
            .or_insert_with(|| Entry::new(topic.clone(), hash))
            .into_mut()
    }

    fn remove(&mut self, topic: &K) {
        let hash = self.hasher.hash_one(topic);
        if let Ok(found) = self.entries.find_entry(hash, |entry| entry.key == *topic) {
            found.remove();
            self.shrink_entries_if_sparse();
        }
    }

    /// A crowd that has left should not keep its memory: the table gives back what it no
    /// longer needs, in amortized constant time.
    fn shrink_entries_if_sparse(&mut self) {
        if is_sparse(self.entries.len(), self.entries.capacity()) {
            let len = self.entries.len();
            self.entries.shrink_to(len * 2, |entry| entry.hash);
        }
    }
}

/// Three quarters empty, and big enough to matter. Shrinking to twice the length then leaves
/// room for as many arrivals as a shrink took removals, so the cost stays constant per call.
fn is_sparse(len: usize, capacity: usize) -> bool {
    capacity > 64 && len < capacity / 4
}

fn detach<E>(backlogs: Vec<Arc<Backlog<E>>>) -> Vec<Arc<Backlog<E>>> {
    for backlog in &backlogs {
        backlog.set_slot(DETACHED);
    }
    backlogs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::RandomState;

    #[test]
    fn a_crowd_that_left_gives_its_memory_back() {
        let mut topics: Topics<u32, u8, RandomState> = Topics::new(0, RandomState::new());
        let crowd: Vec<_> = (0..10_000).map(|_| topics.register(&1, 1)).collect();
        let lone: Vec<_> = (2..10_002)
            .map(|topic| topics.register(&topic, 1))
            .collect();
        for (topic, backlog) in (2..10_002).zip(&lone) {
            topics.unregister(&topic, backlog);
        }
        for backlog in &crowd[1..] {
            topics.unregister(&1, backlog);
        }
        assert!(
            topics.entries.capacity() <= 64 * 2,
            "{}",
            topics.entries.capacity()
        );
        let hash = topics.hasher.hash_one(1);
        let crowd_entry = topics.entries.find(hash, |entry| entry.key == 1).unwrap();
        assert!(crowd_entry.subscribers.capacity() <= 64 * 2);
        assert_eq!(topics.subscribers(&1), 1);
    }

    /// A table thinned past three quarters gives memory back, yet keeps room for as many
    /// arrivals as there are members left, so a crowd that comes and goes does not pay a
    /// reallocation per call.
    #[test]
    fn a_thinned_table_keeps_room_for_as_many_arrivals_as_remain() {
        let mut topics: Topics<u32, u8, RandomState> = Topics::new(0, RandomState::new());
        let crowd: Vec<_> = (0..1_000).map(|_| topics.register(&0, 1)).collect();
        let lone: Vec<_> = (1..=1_000)
            .map(|topic| topics.register(&topic, 1))
            .collect();
        let (topics_before, crowd_before) = (topics.entries.capacity(), crowd_capacity(&topics));
        for (topic, backlog) in (1..=1_000).zip(&lone).skip(400) {
            topics.unregister(&topic, backlog);
        }
        for backlog in &crowd[200..] {
            topics.unregister(&0, backlog);
        }
        let (entries, subscribers) = (topics.entries.len(), topics.subscribers(&0));
        assert_eq!((entries, subscribers), (401, 200));
        let (topics_after, crowd_after) = (topics.entries.capacity(), crowd_capacity(&topics));
        assert!(
            topics_after < topics_before && crowd_after < crowd_before,
            "nothing shrank"
        );
        assert!(
            topics_after >= 2 * entries,
            "{topics_after} for {entries} topics"
        );
        assert!(
            crowd_after >= 2 * subscribers,
            "{crowd_after} for {subscribers} subscribers"
        );
    }

    fn crowd_capacity(topics: &Topics<u32, u8, RandomState>) -> usize {
        let hash = topics.hasher.hash_one(0);
        let entry = topics.entries.find(hash, |entry| entry.key == 0).unwrap();
        entry.subscribers.capacity()
    }

    /// Sparse is three quarters empty, and big enough to matter: exactly the rule, at its edges.
    #[test]
    fn sparse_is_three_quarters_empty_and_big_enough_to_matter() {
        for (len, capacity, sparse) in [
            (0, 64, false), // small tables are left alone, however empty
            (0, 65, true),
            (31, 128, true),
            (32, 128, false), // a quarter full is not sparse
            (100, 128, false),
            (0, 1_000, true),
        ] {
            assert_eq!(is_sparse(len, capacity), sparse, "{len} of {capacity}");
        }
    }
}
