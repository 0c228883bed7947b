//! Taking an [`RwLock`]'s read or write access, borrowed or owned, and the guards that hold it.
//! Both accesses have the same shape, so one macro writes them; only their tokio calls, their
//! kind and `DerefMut` differ.

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
use super::rwlock::{OwnedRead, OwnedWrite, Read, RwLock, Write};
use super::scope::LockScope;

macro_rules! access {
    (
        $access:ident, $owned:ident, $guard:ident, $locked:ident, $kind:expr,
        $tokio_guard:ident, $tokio_owned_guard:ident,
        $lock:ident, $try_lock:ident, $lock_owned:ident, $try_lock_owned:ident,
        $noun:literal
    ) => {
        impl<'a, T> $access<'a, T> {
            #[doc = concat!("Waits for ", $noun, " access, for as long as it takes. Inside")]
            /// `#[lock_scope(no_unbounded_await)]` this wait is unbounded, so it does not compile
            /// while a guard or permit of the scope is alive; use `acquire_timeout` there.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")] async fn main() {
            /// let config = fixpoint::RwLock::new("config", 7);
            /// let scope = fixpoint::LockScope::unchecked("a doctest");
            #[doc = concat!("assert_eq!(*config.", $noun, "().acquire(&scope).await, 7);")]
            /// # }
            /// ```
            #[track_caller]
            pub fn acquire<'s>(self, scope: &'s LockScope) -> impl Future<Output = $guard<'s, T>>
            where
                'a: 's,
            {
                let _ = scope;
                let (lock, location) = (self.0, Location::caller());
                let record = RecordRef::Borrowed(&*lock.record);
                async move {
                    // Inline rather than through `Record::hold`: each async layer costs on
                    // every poll, and the borrowed form is the common one.
                    let (hold, guard) = match lock.lock.$try_lock() {
                        Ok(guard) => (Hold::new(record, location), guard),
                        Err(_) => {
                            let waiting = lock.record.slots.waiting();
                            let guard = lock.lock.$lock().await;
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
            /// [`AcquireTimeout`](crate::AcquireTimeout) when the access did not come in time:
            /// it names the holders, where they locked and for how long.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")] async fn main() {
            /// use std::time::Duration;
            ///
            /// let config = fixpoint::RwLock::new("config", 7);
            /// let scope = fixpoint::LockScope::unchecked("a doctest");
            #[doc = concat!("let guard = config.", $noun, "().acquire_timeout(&scope, Duration::from_secs(1));")]
            /// assert_eq!(*guard.await.unwrap(), 7);
            /// # }
            /// ```
            #[track_caller]
            pub fn acquire_timeout<'s>(
                self,
                scope: &'s LockScope,
                limit: Duration,
            ) -> LockWithin<'s, impl Future<Output = $guard<'s, T>>>
            where
                'a: 's,
            {
                let record = RecordRef::Borrowed(&*self.0.record);
                LockWithin::new(record, $kind, limit, self.acquire(scope))
            }

            #[doc = concat!($noun, " access if it can be had right now.")]
            ///
            /// ```
            /// let config = fixpoint::RwLock::new("config", 7);
            /// let scope = fixpoint::LockScope::unchecked("a doctest");
            #[doc = concat!("assert_eq!(config.", $noun, "().try_acquire(&scope).as_deref(), Some(&7));")]
            /// ```
            #[track_caller]
            pub fn try_acquire<'s>(self, scope: &'s LockScope) -> Option<$guard<'s, T>>
            where
                'a: 's,
            {
                let _ = scope;
                let guard = self.0.lock.$try_lock().ok()?;
                let hold = Hold::new(RecordRef::Borrowed(&self.0.record), Location::caller());
                Some($guard::new(hold, $locked::Borrowed(guard)))
            }
        }

        // A guard's type also fits one borrowing the lock, hence `T: 's`.
        impl<T> $owned<T> {
            #[doc = concat!("Waits for ", $noun, " access, for as long as it takes; the guard")]
            /// keeps the lock alive by itself and borrows only the scope.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")] async fn main() {
            /// let config = fixpoint::RwLock::new("config", 7);
            /// let scope = fixpoint::LockScope::unchecked("a doctest");
            #[doc = concat!("assert_eq!(*config.", $noun, "().owned().acquire(&scope).await, 7);")]
            /// # }
            /// ```
            #[track_caller]
            pub fn acquire<'s>(self, scope: &'s LockScope) -> impl Future<Output = $guard<'s, T>>
            where
                T: 's,
            {
                let _ = scope;
                let location = Location::caller();
                async move {
                    let RwLock { lock, record } = self.0;
                    // The owned guard needs its own reference; a failed try gives it up.
                    let ready = Arc::clone(&lock).$try_lock_owned().ok();
                    let acquire = lock.$lock_owned();
                    let record = RecordRef::Owned(record);
                    let (hold, guard) = Record::hold(record, ready, acquire, location).await;
                    $guard::new(hold, $locked::Owned(guard))
                }
            }

            #[doc = concat!("Waits at most `limit` for ", $noun, " access; the guard keeps the")]
            /// lock alive by itself and borrows only the scope.
            ///
            /// # Errors
            ///
            /// [`AcquireTimeout`](crate::AcquireTimeout) naming the holders, when the access
            /// did not come in time.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")] async fn main() {
            /// use std::time::Duration;
            ///
            /// let config = fixpoint::RwLock::new("config", 7);
            /// let scope = fixpoint::LockScope::unchecked("a doctest");
            #[doc = concat!("let access = config.", $noun, "().owned();")]
            /// assert_eq!(*access.acquire_timeout(&scope, Duration::from_secs(1)).await.unwrap(), 7);
            /// # }
            /// ```
            #[track_caller]
            pub fn acquire_timeout<'s>(
                self,
                scope: &'s LockScope,
                limit: Duration,
            ) -> LockWithin<'s, impl Future<Output = $guard<'s, T>>>
            where
                T: 's,
            {
                let record = RecordRef::Owned(Arc::clone(&self.0.record));
                LockWithin::new(record, $kind, limit, self.acquire(scope))
            }

            #[doc = concat!($noun, " access if it can be had right now, owned.")]
            ///
            /// ```
            /// let config = fixpoint::RwLock::new("config", 7);
            /// let scope = fixpoint::LockScope::unchecked("a doctest");
            #[doc = concat!("let access = config.", $noun, "().owned();")]
            /// assert_eq!(access.try_acquire(&scope).as_deref(), Some(&7));
            /// ```
            #[track_caller]
            pub fn try_acquire<'s>(self, scope: &'s LockScope) -> Option<$guard<'s, T>>
            where
                T: 's,
            {
                let _ = scope;
                let RwLock { lock, record } = self.0;
                let guard = lock.$try_lock_owned().ok()?;
                let hold = Hold::new(RecordRef::Owned(record), Location::caller());
                Some($guard::new(hold, $locked::Owned(guard)))
            }
        }

        impl<T> fmt::Debug for $access<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($access)).field(&self.0).finish()
            }
        }

        impl<T> fmt::Debug for $owned<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($owned)).field(&self.0).finish()
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
            /// let config = fixpoint::RwLock::new("config", ());
            /// let scope = fixpoint::LockScope::unchecked("a doctest");
            #[doc = concat!("let guard = config.", $noun, "().acquire(&scope).await;")]
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
    Read,
    OwnedRead,
    ReadGuard,
    ReadLocked,
    LockKind::Read,
    RwLockReadGuard,
    OwnedRwLockReadGuard,
    read,
    try_read,
    read_owned,
    try_read_owned,
    "read"
);

access!(
    Write,
    OwnedWrite,
    WriteGuard,
    WriteLocked,
    LockKind::Write,
    RwLockWriteGuard,
    OwnedRwLockWriteGuard,
    write,
    try_write,
    write_owned,
    try_write_owned,
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
