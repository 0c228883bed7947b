//! Taking an [`RwLock`]'s read or write access, borrowed or owned, and the guards that hold it.
//! Both accesses have the same shape, so one macro writes them; only their method names, their
//! tokio calls, their kind and `DerefMut` differ.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use std::borrow::Cow;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::diagnosis::LockKind;
use super::record::{Hold, LockWithin, Record, RecordRef};
use super::rwlock::RwLock;
use super::scope::LockScope;

macro_rules! access {
    (
        $guard:ident, $locked:ident, $kind:expr,
        $tokio_guard:ident, $tokio_owned_guard:ident,
        $lock:ident, $try_lock:ident, $lock_owned:ident, $try_lock_owned:ident,
        $lock_cloned:ident, $try_lock_cloned:ident,
        $lock_timeout:ident, $lock_cloned_timeout:ident,
        $noun:literal
    ) => {
        impl<T> RwLock<T> {
            #[doc = concat!("Waits for ", $noun, " access, for as long as it takes. Inside")]
            /// `#[lock_scope(no_unbounded_await)]` this wait is unbounded, so it does not compile
            #[doc = concat!("while a guard or permit of the scope is alive; use `", stringify!($lock_timeout), "` there.")]
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")] async fn main() {
            /// let config = fixpoint::lock::RwLock::new("config", 7);
            /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
            #[doc = concat!("assert_eq!(*config.", stringify!($lock), "(&scope).await, 7);")]
            /// # }
            /// ```
            #[track_caller]
            pub fn $lock<'s>(
                &'s self,
                scope: &'s LockScope,
            ) -> impl Future<Output = $guard<'s, T>> + 's {
                let _ = scope;
                let location = Location::caller();
                let record = RecordRef::Borrowed(&*self.record);
                async move {
                    // Inline rather than through `Record::hold`: each async layer costs on
                    // every poll, and the borrowed form is the common one.
                    let (hold, guard) = match self.lock.$try_lock() {
                        Ok(guard) => (Hold::new(record, location), guard),
                        Err(_) => {
                            let waiting = self.record.slots.waiting();
                            let guard = self.lock.$lock().await;
                            (Hold::after_wait(record, location, waiting), guard)
                        }
                    };
                    $guard::new(hold, $locked::Borrowed(guard))
                }
            }

            #[doc = concat!("Waits at most `limit` for ", $noun, " access. A wait the attribute")]
            /// accepts as bounded.
            ///
            /// # Errors
            ///
            /// [`AcquireTimeout`](crate::lock::AcquireTimeout) when the access did not come in time:
            /// it names the holders, where they locked and for how long.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")] async fn main() {
            /// use std::time::Duration;
            ///
            /// let config = fixpoint::lock::RwLock::new("config", 7);
            /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
            #[doc = concat!("let guard = config.", stringify!($lock_timeout), "(&scope, Duration::from_secs(1));")]
            /// assert_eq!(*guard.await.unwrap(), 7);
            /// # }
            /// ```
            #[track_caller]
            pub fn $lock_timeout<'s>(
                &'s self,
                scope: &'s LockScope,
                limit: Duration,
            ) -> LockWithin<'s, impl Future<Output = $guard<'s, T>> + 's> {
                let record = RecordRef::Borrowed(&*self.record);
                LockWithin::new(record, $kind, limit, self.$lock(scope))
            }

            #[doc = concat!($noun, " access if it can be had right now.")]
            ///
            /// ```
            /// let config = fixpoint::lock::RwLock::new("config", 7);
            /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
            #[doc = concat!("assert_eq!(config.", stringify!($try_lock), "(&scope).as_deref(), Some(&7));")]
            /// ```
            #[track_caller]
            pub fn $try_lock<'s>(&'s self, scope: &'s LockScope) -> Option<$guard<'s, T>> {
                let _ = scope;
                let guard = self.lock.$try_lock().ok()?;
                let hold = Hold::new(RecordRef::Borrowed(&self.record), Location::caller());
                Some($guard::new(hold, $locked::Borrowed(guard)))
            }

            #[doc = concat!("Waits for ", $noun, " access like `", stringify!($lock), "`, but the guard")]
            /// keeps the lock alive by itself and borrows only the scope: for a struct that owns
            /// the lock and calls its own `&mut self` methods while a guard is alive. The
            /// contract is unchanged: the guard still borrows the scope, and this wait is
            /// unbounded. Unlike tokio's owned guards, it is not `'static` and does not move
            /// into `tokio::spawn`.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")] async fn main() {
            /// let config = fixpoint::lock::RwLock::new("config", 7);
            /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
            #[doc = concat!("let guard = config.", stringify!($lock_cloned), "(&scope).await;")]
            /// drop(config); // the guard keeps the lock alive
            /// assert_eq!(*guard, 7);
            /// # }
            /// ```
            // A guard's type also fits one borrowing the lock, hence `T: 's`.
            #[track_caller]
            pub fn $lock_cloned<'s>(
                &self,
                scope: &'s LockScope,
            ) -> impl Future<Output = $guard<'s, T>> + use<'s, T>
            where
                T: 's,
            {
                let _ = scope;
                let (location, lock) = (Location::caller(), Arc::clone(&self.lock));
                let record = RecordRef::Owned(Arc::clone(&self.record));
                async move {
                    // The owned guard needs its own reference; a failed try gives it up.
                    let ready = Arc::clone(&lock).$try_lock_owned().ok();
                    let acquire = lock.$lock_owned();
                    let (hold, guard) = Record::hold(record, ready, acquire, location).await;
                    $guard::new(hold, $locked::Owned(guard))
                }
            }

            #[doc = concat!("Waits at most `limit` for ", $noun, " access, cloned: the guard of `", stringify!($lock_cloned), "`")]
            #[doc = concat!("within the bound of `", stringify!($lock_timeout), "`.")]
            ///
            /// # Errors
            ///
            /// [`AcquireTimeout`](crate::lock::AcquireTimeout) naming the holders, when the access
            /// did not come in time.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")] async fn main() {
            /// use std::time::Duration;
            ///
            /// let config = fixpoint::lock::RwLock::new("config", 7);
            /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
            #[doc = concat!("let guard = config.", stringify!($lock_cloned_timeout), "(&scope, Duration::from_secs(1));")]
            /// assert_eq!(*guard.await.unwrap(), 7);
            /// # }
            /// ```
            #[track_caller]
            pub fn $lock_cloned_timeout<'s>(
                &self,
                scope: &'s LockScope,
                limit: Duration,
            ) -> LockWithin<'s, impl Future<Output = $guard<'s, T>> + use<'s, T>>
            where
                T: 's,
            {
                let record = RecordRef::Owned(Arc::clone(&self.record));
                LockWithin::new(record, $kind, limit, self.$lock_cloned(scope))
            }

            #[doc = concat!($noun, " access if it can be had right now, cloned.")]
            ///
            /// ```
            /// let config = fixpoint::lock::RwLock::new("config", 7);
            /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
            #[doc = concat!("assert_eq!(config.", stringify!($try_lock_cloned), "(&scope).as_deref(), Some(&7));")]
            /// ```
            #[track_caller]
            pub fn $try_lock_cloned<'s>(&self, scope: &'s LockScope) -> Option<$guard<'s, T>>
            where
                T: 's,
            {
                let _ = scope;
                let guard = Arc::clone(&self.lock).$try_lock_owned().ok()?;
                let record = RecordRef::Owned(Arc::clone(&self.record));
                let hold = Hold::new(record, Location::caller());
                Some($guard::new(hold, $locked::Owned(guard)))
            }
        }

        #[doc = concat!("The ", $noun, " access of an [`RwLock`], held for as long as this value")]
        /// lives, and borrowing the [`LockScope`] it was acquired in, so that
        /// `#[lock_scope(no_unbounded_await)]` can see it.
        #[must_use = "the access is given back as soon as the guard is dropped"]
        pub struct $guard<'s, T> {
            // Declared first, so dropped first: the slot is free before the lock is.
            hold: Hold<'s>,
            guard: $locked<'s, T>,
            scope: PhantomData<&'s LockScope>,
        }

        /// tokio's guard: borrowing the lock, or owning a reference to it.
        enum $locked<'s, T> {
            Borrowed(tokio::sync::$tokio_guard<'s, T>),
            Owned(tokio::sync::$tokio_owned_guard<T>),
        }

        impl<'s, T> $guard<'s, T> {
            fn new(hold: Hold<'s>, guard: $locked<'s, T>) -> Self {
                $guard {
                    hold,
                    guard,
                    scope: PhantomData,
                }
            }

            /// Names the holder in diagnoses: "config reload".
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")] async fn main() {
            /// let config = fixpoint::lock::RwLock::new("config", ());
            /// let scope = fixpoint::lock::LockScope::unchecked("a doctest");
            #[doc = concat!("let guard = config.", stringify!($lock), "(&scope).await;")]
            /// guard.set_label("config reload");
            /// assert_eq!(config.holders()[0].label.as_deref(), Some("config reload"));
            /// # }
            /// ```
            pub fn set_label(&self, label: impl Into<Cow<'static, str>>) {
                self.hold.set_label(label.into());
            }

            /// Where the access was acquired.
            #[must_use]
            pub fn acquired_at(&self) -> &'static Location<'static> {
                self.hold.acquired_at()
            }

            /// How long the access has been held (coarse: millisecond resolution).
            #[must_use]
            pub fn held_for(&self) -> Duration {
                self.hold.held_for()
            }
        }

        impl<T> Deref for $guard<'_, T> {
            type Target = T;

            fn deref(&self) -> &T {
                match &self.guard {
                    $locked::Borrowed(guard) => guard,
                    $locked::Owned(guard) => guard,
                }
            }
        }

        impl<T: fmt::Debug> fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let holder = self.hold.holder();
                f.debug_struct(stringify!($guard))
                    .field("rwlock", &self.hold.name())
                    .field("value", &**self)
                    .field("acquired_at", &format_args!("{}", holder.location))
                    .field("label", &holder.label)
                    .field("held_for", &holder.held_for)
                    .finish()
            }
        }
    };
}

access!(
    ReadGuard,
    ReadLocked,
    LockKind::Read,
    RwLockReadGuard,
    OwnedRwLockReadGuard,
    read,
    try_read,
    read_owned,
    try_read_owned,
    read_cloned,
    try_read_cloned,
    read_timeout,
    read_cloned_timeout,
    "read"
);

access!(
    WriteGuard,
    WriteLocked,
    LockKind::Write,
    RwLockWriteGuard,
    OwnedRwLockWriteGuard,
    write,
    try_write,
    write_owned,
    try_write_owned,
    write_cloned,
    try_write_cloned,
    write_timeout,
    write_cloned_timeout,
    "write"
);

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.guard {
            WriteLocked::Borrowed(guard) => guard,
            WriteLocked::Owned(guard) => guard,
        }
    }
}
