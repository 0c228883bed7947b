//! A reader-writer lock whose guards are scoped like permits, and whose holders are known.

use core::fmt;
use std::borrow::Cow;
use std::sync::Arc;

use super::diagnosis::{Gauges, Holder};
use super::record::Record;

/// How many readers an [`RwLock::new`] lets in at once: each has a slot in the holder table.
const MAX_READERS: u32 = 32;

/// A reader-writer lock (tokio's, underneath) whose guards borrow the
/// [`LockScope`](crate::lock::LockScope) as a [`Permit`](crate::lock::Permit) does:
/// `#[lock_scope(no_unbounded_await)]` rejects a guard held across an unbounded await, and a
/// timed-out [`read_timeout`](RwLock::read_timeout) or [`write_timeout`](RwLock::write_timeout)
/// names the holders, where they locked and for how long.
///
/// The attribute knows its verbs when they are given `&lock_scope`: it places its checkpoint
/// before a [`read`](RwLock::read), [`write`](RwLock::write) or their `_owned` forms, and lets
/// their `_timeout` forms through.
///
/// Cloning is cheap and shares the value, like [`Semaphore`](crate::lock::Semaphore).
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{lock_scope, lock::RwLock};
///
/// #[lock_scope(no_unbounded_await)]
/// async fn rename(config: &RwLock<String>) -> Result<usize, fixpoint::lock::AcquireTimeout> {
///     let limit = Duration::from_secs(1);
///     config.write_timeout(&lock_scope, limit).await?.push_str("-v2");
///     let name = config.read_timeout(&lock_scope, limit).await?;
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
    /// let config = fixpoint::lock::RwLock::new("config", 7);
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
    /// let config = fixpoint::lock::RwLock::with_max_readers("config", 7, 4);
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

    /// Readers or writer now, waiters, and the longest current hold.
    ///
    /// ```
    /// let config = fixpoint::lock::RwLock::new("config", ());
    /// assert_eq!(config.gauges().in_flight, 0);
    /// ```
    #[must_use]
    pub fn gauges(&self) -> Gauges {
        self.record.gauges()
    }

    /// Everyone holding the lock now, the longest hold first.
    ///
    /// ```
    /// let config = fixpoint::lock::RwLock::new("config", ());
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
