//! An identity-keyed registry of long-lived handles: removal proves which entry it removes.

use core::fmt;
use core::hash::Hash;
use std::collections::HashMap;
use std::sync::PoisonError;

use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Mutex, MutexGuard};

/// Distinguishes registries, so a ticket of one is refused by another. (`std`'s: a static.)
static NEXT_REGISTRY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A map from key to the *current* handle (a browser tab's connection, a subscription), in
/// which a stale cleanup cannot remove a fresh handle.
///
/// [`insert`](Registry::insert) returns a [`Ticket`] naming exactly that entry, and the handle
/// it replaced, to be closed by the caller. [`remove`](Registry::remove) needs the ticket and
/// removes only if the ticket still names the current entry.
///
/// ```
/// use fixpoint::{bus::{Registry, RemoveError}};
///
/// let tabs: Registry<&str, String> = Registry::new();
/// let first = tabs.insert("alice", "connection 1".to_owned());
/// let second = tabs.insert("alice", "connection 2".to_owned()); // the tab reconnected
/// assert_eq!(second.replaced.as_deref(), Some("connection 1"));  // handed back to close
///
/// // The first connection's cleanup runs late: it cannot remove the second.
/// assert_eq!(tabs.remove(first.ticket), Err(RemoveError::Stale));
/// assert_eq!(tabs.remove(second.ticket), Ok("connection 2".to_owned()));
/// ```
pub struct Registry<K, H> {
    id: u64,
    next_generation: AtomicU64,
    entries: Mutex<HashMap<K, (u64, H)>>,
}

/// Proof of one insertion: removes that entry and no other.
#[derive(PartialEq, Eq, Hash)]
#[must_use = "without its ticket, the entry can only be replaced or drained"]
pub struct Ticket<K> {
    registry: u64,
    generation: u64,
    key: K,
}

impl<K> Ticket<K> {
    /// The key the entry was inserted under.
    ///
    /// ```
    /// let tabs: fixpoint::bus::Registry<&str, u32> = fixpoint::bus::Registry::new();
    /// let inserted = tabs.insert("alice", 1);
    /// assert_eq!(inserted.ticket.key(), &"alice");
    /// ```
    #[must_use]
    pub fn key(&self) -> &K {
        &self.key
    }
}

impl<K: fmt::Debug> fmt::Debug for Ticket<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("key", &self.key)
            .field("generation", &self.generation)
            .finish()
    }
}

/// What [`Registry::insert`] returns.
///
/// ```
/// let tabs: fixpoint::bus::Registry<&str, u32> = fixpoint::bus::Registry::new();
/// let first = tabs.insert("alice", 1);
/// assert_eq!(first.replaced, None);
/// let second = tabs.insert("alice", 2);
/// assert_eq!(second.replaced, Some(1)); // the caller closes it
/// ```
#[derive(Debug)]
#[must_use = "a replaced handle is handed back to be closed, not to be dropped unseen"]
pub struct Insertion<K, H> {
    /// Removes this entry, and only this one.
    pub ticket: Ticket<K>,
    /// The handle this insertion replaced: close it.
    pub replaced: Option<H>,
}

/// Why [`Registry::remove`] removed nothing.
///
/// ```
/// use fixpoint::{bus::{Registry, RemoveError}};
///
/// let tabs: Registry<&str, u32> = Registry::new();
/// let other: Registry<&str, u32> = Registry::new();
/// let first = tabs.insert("alice", 1);
/// let _second = tabs.insert("alice", 2);
/// assert_eq!(tabs.remove(first.ticket), Err(RemoveError::Stale));
/// let foreign = other.insert("alice", 3);
/// assert_eq!(tabs.remove(foreign.ticket), Err(RemoveError::ForeignTicket));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RemoveError {
    /// The entry the ticket names was replaced or removed already; the current one stays.
    #[error("the ticket's entry was replaced or removed already; the current entry stays")]
    Stale,
    /// The ticket belongs to another registry.
    #[error("the ticket was issued by another registry")]
    ForeignTicket,
}

impl<K: Hash + Eq + Clone, H> Default for Registry<K, H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq + Clone, H> Registry<K, H> {
    /// An empty registry.
    ///
    /// ```
    /// let tabs: fixpoint::bus::Registry<&str, u32> = fixpoint::bus::Registry::new();
    /// assert!(tabs.is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Registry {
            id: NEXT_REGISTRY.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            next_generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Makes `handle` the current entry of `key`; returns its ticket and the handle it replaced.
    ///
    /// ```
    /// let tabs: fixpoint::bus::Registry<&str, u32> = fixpoint::bus::Registry::new();
    /// let inserted = tabs.insert("alice", 1);
    /// assert!(tabs.is_current(&inserted.ticket));
    /// ```
    pub fn insert(&self, key: K, handle: H) -> Insertion<K, H> {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let replaced = self
            .lock()
            .insert(key.clone(), (generation, handle))
            .map(|(_, old)| old);
        Insertion {
            ticket: Ticket {
                registry: self.id,
                generation,
                key,
            },
            replaced,
        }
    }

    /// Removes the entry `ticket` names, if it is still the current one, and returns its handle
    /// to be closed.
    ///
    /// # Errors
    ///
    /// [`RemoveError::Stale`] when the entry was replaced or removed (the current one stays);
    /// [`RemoveError::ForeignTicket`] when another registry issued the ticket.
    ///
    /// ```
    /// let tabs: fixpoint::bus::Registry<&str, u32> = fixpoint::bus::Registry::new();
    /// let inserted = tabs.insert("alice", 1);
    /// assert_eq!(tabs.remove(inserted.ticket), Ok(1));
    /// assert!(tabs.is_empty()); // the key leaves with its handle
    /// ```
    pub fn remove(&self, ticket: Ticket<K>) -> Result<H, RemoveError> {
        if ticket.registry != self.id {
            return Err(RemoveError::ForeignTicket);
        }
        let mut entries = self.lock();
        match entries.get(&ticket.key) {
            Some((generation, _)) if *generation == ticket.generation => entries
                .remove(&ticket.key)
                .map(|(_, handle)| handle)
                .ok_or(RemoveError::Stale),
            _ => Err(RemoveError::Stale),
        }
    }

    /// Whether `ticket` names the current entry of its key.
    ///
    /// ```
    /// let tabs: fixpoint::bus::Registry<&str, u32> = fixpoint::bus::Registry::new();
    /// let first = tabs.insert("alice", 1);
    /// let second = tabs.insert("alice", 2);
    /// assert!(!tabs.is_current(&first.ticket) && tabs.is_current(&second.ticket));
    /// ```
    #[must_use]
    pub fn is_current(&self, ticket: &Ticket<K>) -> bool {
        ticket.registry == self.id
            && self
                .lock()
                .get(&ticket.key)
                .is_some_and(|(generation, _)| *generation == ticket.generation)
    }

    /// Calls `f` with the current handle of `key`.
    ///
    /// ```
    /// let tabs: fixpoint::bus::Registry<&str, String> = fixpoint::bus::Registry::new();
    /// let _ = tabs.insert("alice", "connection 1".to_owned());
    /// assert_eq!(tabs.with(&"alice", |handle| handle.len()), Some(12));
    /// assert_eq!(tabs.with(&"bob", |handle| handle.len()), None);
    /// ```
    pub fn with<R>(&self, key: &K, f: impl FnOnce(&H) -> R) -> Option<R> {
        self.lock().get(key).map(|(_, handle)| f(handle))
    }

    /// The number of entries.
    ///
    /// ```
    /// let tabs: fixpoint::bus::Registry<&str, u32> = fixpoint::bus::Registry::new();
    /// let _ = (tabs.insert("alice", 1), tabs.insert("alice", 2), tabs.insert("bob", 3));
    /// assert_eq!(tabs.len(), 2); // one current entry per key
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there are no entries.
    ///
    /// ```
    /// let tabs: fixpoint::bus::Registry<&str, u32> = fixpoint::bus::Registry::new();
    /// assert!(tabs.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Removes every entry and hands the handles back, to be closed at shutdown.
    ///
    /// ```
    /// let tabs: fixpoint::bus::Registry<&str, u32> = fixpoint::bus::Registry::new();
    /// let _ = tabs.insert("alice", 1);
    /// assert_eq!(tabs.drain(), vec![("alice", 1)]);
    /// assert!(tabs.is_empty());
    /// ```
    #[must_use = "drained handles are handed back to be closed"]
    pub fn drain(&self) -> Vec<(K, H)> {
        self.lock()
            .drain()
            .map(|(key, (_, handle))| (key, handle))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (u64, H)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K, H> fmt::Debug for Registry<K, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Registry")
            .field("entries", &entries.len())
            .finish()
    }
}
