//! A mutex whose guard is scoped like a permit, and whose holder is known.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use std::borrow::Cow;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::diagnosis::{Gauges, Holder, LockKind};
use super::record::{Hold, LockWithin, Record, RecordRef};
use super::scope::LockScope;

/// A mutex (tokio's, underneath) whose guard borrows the [`LockScope`] as a
/// [`Permit`](crate::lock::Permit) does: `#[lock_scope(no_unbounded_await)]` rejects a guard held
/// across an unbounded await, and a timed-out [`lock_timeout`](Mutex::lock_timeout)
/// names the holder, where it locked and for how long.
///
/// The attribute knows its verbs when they are given `&lock_scope`: it places its checkpoint
/// before a [`lock`](Mutex::lock) or [`lock_cloned`](Mutex::lock_cloned) and lets a
/// [`lock_timeout`](Mutex::lock_timeout) or [`lock_cloned_timeout`](Mutex::lock_cloned_timeout)
/// through.
///
/// Cloning is cheap and shares the value, like [`Semaphore`](crate::lock::Semaphore).
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{lock_scope, lock::Mutex};
///
/// #[lock_scope(no_unbounded_await)]
/// async fn record_answer(answers: &Mutex<Vec<String>>) -> Result<(), fixpoint::lock::AcquireTimeout> {
///     let mut list = answers.lock_timeout(&lock_scope, Duration::from_secs(1)).await?;
///     list.push("yes".to_owned());
///     Ok(())
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let answers = Mutex::new("answers", Vec::new());
/// record_answer(&answers).await.unwrap();
/// assert_eq!(answers.gauges().in_flight, 0);
/// # }
/// ```
pub struct Mutex<T> {
    lock: Arc<tokio::sync::Mutex<T>>,
    record: Arc<Record>,
}

impl<T> Clone for Mutex<T> {
    fn clone(&self) -> Self {
        Mutex {
            lock: Arc::clone(&self.lock),
            record: Arc::clone(&self.record),
        }
    }
}

impl<T> Mutex<T> {
    /// A mutex named `name` (the name appears in diagnoses) holding `value`.
    ///
    /// ```
    /// let cache = fixpoint::lock::Mutex::new("cache", 0_u32);
    /// assert_eq!(cache.name(), "cache");
    /// ```
    #[must_use]
    pub fn new(name: impl Into<Cow<'static, str>>, value: T) -> Self {
        Mutex {
            lock: Arc::new(tokio::sync::Mutex::new(value)),
            record: Record::new(name.into(), 1),
        }
    }

    /// The name given at creation.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Waits for the lock, for as long as it takes. Inside `#[lock_scope(no_unbounded_await)]`
    /// this wait is unbounded, so it does not compile while a guard or permit of the scope is
    /// alive; use [`lock_timeout`](Mutex::lock_timeout) there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let count = fixpoint::lock::Mutex::new("count", 1);
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// *count.lock(&scope).await += 1;
    /// assert_eq!(*count.lock(&scope).await, 2);
    /// # }
    /// ```
    #[track_caller]
    pub fn lock<'s>(
        &'s self,
        scope: &'s LockScope,
    ) -> impl Future<Output = MutexGuard<'s, T>> + 's {
        let _ = scope;
        let (location, record) = (Location::caller(), RecordRef::Borrowed(&self.record));
        async move {
            // Inline rather than through a shared helper: each async layer costs on every poll.
            let (hold, guard) = match self.lock.try_lock() {
                Ok(guard) => (Hold::new(record, location), guard),
                Err(_) => {
                    let waiting = self.record.slots.waiting();
                    let guard = self.lock.lock().await;
                    (Hold::after_wait(record, location, waiting), guard)
                }
            };
            MutexGuard::new(hold, Locked::Borrowed(guard))
        }
    }

    /// Waits at most `limit` for the lock. A wait the attribute accepts as bounded.
    ///
    /// # Errors
    ///
    /// [`AcquireTimeout`](crate::lock::AcquireTimeout) when the lock did not come free in time: it
    /// names the holder, where it locked and for how long it has held the lock.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    ///
    /// let count = fixpoint::lock::Mutex::new("count", 1);
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// let guard = count.lock_timeout(&scope, Duration::from_secs(1)).await.unwrap();
    /// assert_eq!(*guard, 1);
    /// # }
    /// ```
    #[track_caller]
    pub fn lock_timeout<'s>(
        &'s self,
        scope: &'s LockScope,
        limit: Duration,
    ) -> LockWithin<'s, impl Future<Output = MutexGuard<'s, T>> + 's> {
        let record = RecordRef::Borrowed(&self.record);
        LockWithin::new(record, LockKind::Mutex, limit, self.lock(scope))
    }

    /// The lock if it is free right now.
    ///
    /// ```
    /// let count = fixpoint::lock::Mutex::new("count", 1);
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// let guard = count.try_lock(&scope).unwrap();
    /// assert!(count.try_lock(&scope).is_none());
    /// drop(guard);
    /// ```
    #[track_caller]
    pub fn try_lock<'s>(&'s self, scope: &'s LockScope) -> Option<MutexGuard<'s, T>> {
        let _ = scope;
        let guard = self.lock.try_lock().ok()?;
        let hold = Hold::new(RecordRef::Borrowed(&self.record), Location::caller());
        Some(MutexGuard::new(hold, Locked::Borrowed(guard)))
    }

    /// Waits for the lock like [`lock`](Mutex::lock), but the guard keeps the mutex alive by
    /// itself and borrows only the scope: for a struct that owns the mutex and calls its own
    /// `&mut self` methods while a guard is alive. The contract is unchanged: the guard still
    /// borrows the scope, and this wait is unbounded.
    ///
    /// Unlike tokio's `lock_owned`, the guard is not `'static` and does not move into
    /// `tokio::spawn`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// struct Session { state: fixpoint::lock::Mutex<u32>, turns: u32 }
    ///
    /// impl Session {
    ///     fn turn(&mut self) { self.turns += 1 }
    /// }
    ///
    /// let mut session = Session { state: fixpoint::lock::Mutex::new("state", 0), turns: 0 };
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// let mut state = session.state.lock_cloned(&scope).await;
    /// session.turn(); // the guard does not borrow `session`
    /// *state += 1;
    /// # }
    /// ```
    // A guard's type also fits one borrowing the mutex, hence `T: 's`.
    #[track_caller]
    pub fn lock_cloned<'s>(
        &self,
        scope: &'s LockScope,
    ) -> impl Future<Output = MutexGuard<'s, T>> + use<'s, T>
    where
        T: 's,
    {
        let _ = scope;
        let (location, lock) = (Location::caller(), Arc::clone(&self.lock));
        let record = RecordRef::Owned(Arc::clone(&self.record));
        async move {
            // The owned guard needs its own reference; a failed try gives it up.
            let ready = Arc::clone(&lock).try_lock_owned().ok();
            let acquire = lock.lock_owned();
            let (hold, guard) = Record::hold(record, ready, acquire, location).await;
            MutexGuard::new(hold, Locked::Owned(guard))
        }
    }

    /// Waits at most `limit` for the lock, cloned; like [`lock_timeout`](Mutex::lock_timeout)
    /// with the guard of [`lock_cloned`](Mutex::lock_cloned).
    ///
    /// # Errors
    ///
    /// [`AcquireTimeout`](crate::lock::AcquireTimeout) naming the holder, when the lock did not
    /// come free in time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    ///
    /// let count = fixpoint::lock::Mutex::new("count", 1);
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// let guard = count.lock_cloned_timeout(&scope, Duration::from_secs(1)).await;
    /// drop(count); // the guard keeps the mutex alive
    /// assert_eq!(*guard.unwrap(), 1);
    /// # }
    /// ```
    #[track_caller]
    pub fn lock_cloned_timeout<'s>(
        &self,
        scope: &'s LockScope,
        limit: Duration,
    ) -> LockWithin<'s, impl Future<Output = MutexGuard<'s, T>> + use<'s, T>>
    where
        T: 's,
    {
        let record = RecordRef::Owned(Arc::clone(&self.record));
        LockWithin::new(record, LockKind::Mutex, limit, self.lock_cloned(scope))
    }

    /// The lock if it is free right now, cloned; like [`try_lock`](Mutex::try_lock) with the
    /// guard of [`lock_cloned`](Mutex::lock_cloned).
    ///
    /// ```
    /// let count = fixpoint::lock::Mutex::new("count", 1);
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// assert_eq!(count.try_lock_cloned(&scope).as_deref(), Some(&1));
    /// ```
    #[track_caller]
    pub fn try_lock_cloned<'s>(&self, scope: &'s LockScope) -> Option<MutexGuard<'s, T>>
    where
        T: 's,
    {
        let _ = scope;
        let guard = Arc::clone(&self.lock).try_lock_owned().ok()?;
        let hold = Hold::new(
            RecordRef::Owned(Arc::clone(&self.record)),
            Location::caller(),
        );
        Some(MutexGuard::new(hold, Locked::Owned(guard)))
    }

    /// Whether the mutex is held, by whom, and how many wait for it.
    ///
    /// ```
    /// let cache = fixpoint::lock::Mutex::new("cache", ());
    /// assert_eq!(cache.gauges().in_flight, 0);
    /// ```
    #[must_use]
    pub fn gauges(&self) -> Gauges {
        self.record.gauges()
    }

    /// The holder, if the mutex is held.
    ///
    /// ```
    /// let cache = fixpoint::lock::Mutex::new("cache", ());
    /// assert!(cache.holders().is_empty());
    /// ```
    #[must_use]
    pub fn holders(&self) -> Vec<Holder> {
        self.record.slots.holders()
    }
}

impl<T> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("name", &self.record.name)
            .field("gauges", &self.gauges())
            .finish_non_exhaustive()
    }
}

/// The lock of a [`Mutex`], held for as long as this value lives, and borrowing the
/// [`LockScope`] it was acquired in, so that `#[lock_scope(no_unbounded_await)]` can see it.
/// Reads and writes the value through `Deref` and `DerefMut`.
///
/// Holding it across an unbounded await does not compile:
///
/// ```compile_fail,E0502
/// use fixpoint::{lock_scope, lock::Mutex};
///
/// async fn user_reply() -> String { String::new() }
///
/// #[lock_scope(no_unbounded_await)]
/// async fn ask_user(answers: &Mutex<Vec<String>>) {
///     let mut list = answers.lock(&lock_scope).await;
///     list.push(user_reply().await); // the lock is still held here
/// }
/// ```
#[must_use = "the lock is given back as soon as the guard is dropped"]
pub struct MutexGuard<'s, T> {
    // Declared first, so dropped first: the slot is free before the lock is.
    hold: Hold<'s>,
    guard: Locked<'s, T>,
    scope: PhantomData<&'s LockScope>,
}

/// tokio's guard: borrowing the mutex, or owning a reference to it.
enum Locked<'s, T> {
    Borrowed(tokio::sync::MutexGuard<'s, T>),
    Owned(tokio::sync::OwnedMutexGuard<T>),
}

impl<'s, T> MutexGuard<'s, T> {
    fn new(hold: Hold<'s>, guard: Locked<'s, T>) -> Self {
        MutexGuard {
            hold,
            guard,
            scope: PhantomData,
        }
    }

    /// Names the holder in diagnoses: "cache refresh for alice".
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let cache = fixpoint::lock::Mutex::new("cache", ());
    /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
    /// let guard = cache.lock(&scope).await;
    /// guard.set_label("cache refresh for alice");
    /// assert_eq!(cache.holders()[0].label.as_deref(), Some("cache refresh for alice"));
    /// # }
    /// ```
    pub fn set_label(&self, label: impl Into<Cow<'static, str>>) {
        self.hold.set_label(label.into());
    }

    /// Where the lock was acquired.
    #[must_use]
    pub fn acquired_at(&self) -> &'static Location<'static> {
        self.hold.acquired_at()
    }

    /// How long the lock has been held (coarse: millisecond resolution).
    #[must_use]
    pub fn held_for(&self) -> Duration {
        self.hold.held_for()
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.guard {
            Locked::Borrowed(guard) => guard,
            Locked::Owned(guard) => guard,
        }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.guard {
            Locked::Borrowed(guard) => guard,
            Locked::Owned(guard) => guard,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let holder = self.hold.holder();
        f.debug_struct("MutexGuard")
            .field("mutex", &self.hold.name())
            .field("value", &**self)
            .field("acquired_at", &format_args!("{}", holder.location))
            .field("label", &holder.label)
            .field("held_for", &holder.held_for)
            .finish()
    }
}
