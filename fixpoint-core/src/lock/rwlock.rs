//! A reader-writer lock whose guards are scoped like permits, and whose holders are known.

use core::fmt;
use std::borrow::Cow;
use std::sync::Arc;

use super::diagnosis::{Gauges, Holder};
use super::record::Record;

/// How many readers an [`RwLock::new`] lets in at once: each has a slot in the holder table.
const MAX_READERS: u32 = 32;

/// A reader-writer lock (tokio's, underneath) whose guards borrow the
/// [`LockScope`](crate::LockScope) as a [`Permit`](crate::Permit) does:
/// `#[lock_scope(no_unbounded_await)]` rejects a guard held across an unbounded await, and a
/// timed-out `acquire_timeout` names the holders, where they locked and for how long.
///
/// Choose the access with [`read`](RwLock::read) or [`write`](RwLock::write), then take it
/// with the verbs of the semaphore, `acquire` and `acquire_timeout`, which the attribute knows.
/// Cloning is cheap and shares the value, like [`Semaphore`](crate::Semaphore).
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{lock_scope, RwLock};
///
/// #[lock_scope(no_unbounded_await)]
/// async fn rename(config: &RwLock<String>) -> Result<usize, fixpoint::AcquireTimeout> {
///     let limit = Duration::from_secs(1);
///     config.write().acquire_timeout(&lock_scope, limit).await?.push_str("-v2");
///     let name = config.read().acquire_timeout(&lock_scope, limit).await?;
///     Ok(name.len())
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let config = RwLock::new("config", "agents".to_owned());
/// assert_eq!(rename(&config).await.unwrap(), 9);
/// # }
/// ```
pub struct RwLock<T> {
    pub(super) lock: Arc<tokio::sync::RwLock<T>>,
    pub(super) record: Arc<Record>,
}

impl<T> Clone for RwLock<T> {
    fn clone(&self) -> Self {
        RwLock {
            lock: Arc::clone(&self.lock),
            record: Arc::clone(&self.record),
        }
    }
}

impl<T> RwLock<T> {
    /// An rwlock named `name` (the name appears in diagnoses) holding `value`, letting in up
    /// to 32 readers at once; more wait, as they would for a writer.
    ///
    /// ```
    /// let config = fixpoint::RwLock::new("config", 7);
    /// assert_eq!((config.name(), config.gauges().permits), ("config", 32));
    /// ```
    #[must_use]
    pub fn new(name: impl Into<Cow<'static, str>>, value: T) -> Self {
        RwLock::with_max_readers(name, value, MAX_READERS)
    }

    /// An rwlock letting in up to `max_readers` readers at once; each has a slot in the table
    /// of holders a diagnosis reads.
    ///
    /// # Panics
    ///
    /// When `max_readers` is 0 or exceeds tokio's limit (`u32::MAX >> 3`).
    ///
    /// ```
    /// let config = fixpoint::RwLock::with_max_readers("config", 7, 4);
    /// assert_eq!(config.gauges().permits, 4);
    /// ```
    #[must_use]
    pub fn with_max_readers(
        name: impl Into<Cow<'static, str>>,
        value: T,
        max_readers: u32,
    ) -> Self {
        assert!(max_readers > 0, "an rwlock needs room for one reader");
        RwLock {
            lock: Arc::new(tokio::sync::RwLock::with_max_readers(value, max_readers)),
            record: Record::new(name.into(), max_readers as usize),
        }
    }

    /// The name given at creation.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Shared access, to acquire: `lock.read().acquire(&lock_scope)`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let config = fixpoint::RwLock::new("config", 7);
    /// let scope = fixpoint::LockScope::unchecked("a doctest");
    /// let (a, b) = (config.read().acquire(&scope).await, config.read().acquire(&scope).await);
    /// assert_eq!(*a + *b, 14);
    /// # }
    /// ```
    pub fn read(&self) -> Read<'_, T> {
        Read(self)
    }

    /// Exclusive access, to acquire: `lock.write().acquire(&lock_scope)`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let config = fixpoint::RwLock::new("config", 7);
    /// let scope = fixpoint::LockScope::unchecked("a doctest");
    /// *config.write().acquire(&scope).await += 1;
    /// assert_eq!(*config.read().acquire(&scope).await, 8);
    /// # }
    /// ```
    pub fn write(&self) -> Write<'_, T> {
        Write(self)
    }

    /// Readers or writer now, waiters, and the longest current hold.
    ///
    /// ```
    /// let config = fixpoint::RwLock::new("config", ());
    /// assert_eq!(config.gauges().in_flight, 0);
    /// ```
    #[must_use]
    pub fn gauges(&self) -> Gauges {
        self.record.gauges()
    }

    /// Everyone holding the lock now, the longest hold first.
    ///
    /// ```
    /// let config = fixpoint::RwLock::new("config", ());
    /// assert!(config.holders().is_empty());
    /// ```
    #[must_use]
    pub fn holders(&self) -> Vec<Holder> {
        self.record.slots.holders()
    }
}

impl<T> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("name", &self.record.name)
            .field("gauges", &self.gauges())
            .finish_non_exhaustive()
    }
}

/// Shared access to an [`RwLock`], to acquire; see [`RwLock::read`].
#[must_use = "choosing an access acquires nothing; call `acquire` or `acquire_timeout`"]
pub struct Read<'a, T>(pub(super) &'a RwLock<T>);

/// Exclusive access to an [`RwLock`], to acquire; see [`RwLock::write`].
#[must_use = "choosing an access acquires nothing; call `acquire` or `acquire_timeout`"]
pub struct Write<'a, T>(pub(super) &'a RwLock<T>);

/// Shared access whose guards keep the [`RwLock`] alive by themselves; see [`Read::owned`].
#[must_use = "choosing an access acquires nothing; call `acquire` or `acquire_timeout`"]
pub struct OwnedRead<T>(pub(super) RwLock<T>);

/// Exclusive access whose guards keep the [`RwLock`] alive by themselves; see
/// [`Write::owned`].
#[must_use = "choosing an access acquires nothing; call `acquire` or `acquire_timeout`"]
pub struct OwnedWrite<T>(pub(super) RwLock<T>);

impl<'a, T> Read<'a, T> {
    /// The owned form, whose guards keep the lock alive by themselves and borrow only the
    /// scope. The contract is unchanged: the guard still borrows the scope.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let config = fixpoint::RwLock::new("config", 7);
    /// let scope = fixpoint::LockScope::unchecked("a doctest");
    /// let guard = config.read().owned().acquire(&scope).await;
    /// drop(config); // the guard keeps the lock alive
    /// assert_eq!(*guard, 7);
    /// # }
    /// ```
    pub fn owned(self) -> OwnedRead<T> {
        OwnedRead(self.0.clone())
    }
}

impl<'a, T> Write<'a, T> {
    /// The owned form, whose guards keep the lock alive by themselves and borrow only the
    /// scope. The contract is unchanged: the guard still borrows the scope.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let config = fixpoint::RwLock::new("config", 7);
    /// let scope = fixpoint::LockScope::unchecked("a doctest");
    /// let mut guard = config.write().owned().acquire(&scope).await;
    /// *guard += 1;
    /// drop(guard);
    /// assert_eq!(*config.read().acquire(&scope).await, 8);
    /// # }
    /// ```
    pub fn owned(self) -> OwnedWrite<T> {
        OwnedWrite(self.0.clone())
    }
}
