#![doc = include_str!("guide.md")]

// Scoped permits: a permit is never held across a wait that has no bound.
//
// `#[lock_scope(no_unbounded_await)]` opens a [`LockScope`] named `lock_scope` in an async fn.
// A [`Permit`] borrows it for as long as the permit lives, and before every
// await that is not visibly bounded the attribute borrows
// `lock_scope.permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded`
// mutably. The borrow checker then decides, exactly, whether a permit is alive at that await:
// if one is, the function does not compile, and the field's name says what to do.
//
// The runtime half (feature `tokio`) is [`Semaphore`]: acquisition with a
// timeout whose error names the holders, gauges, and release-then-reacquire.

mod scope;
pub use scope::{Checkpoint, LockScope, VisiblyBounded};

#[doc(hidden)]
pub use scope::{checkpoint, checkpoint_after, verify_bounded};

#[cfg(feature = "tokio")]
mod access;
#[cfg(feature = "tokio")]
mod bounded;
#[cfg(feature = "tokio")]
mod diagnosis;
#[cfg(feature = "tokio")]
mod handoff;
#[cfg(feature = "tokio")]
mod mutex;
#[cfg(feature = "tokio")]
mod permit;
#[cfg(feature = "tokio")]
mod record;
#[cfg(feature = "tokio")]
mod rwlock;
#[cfg(feature = "tokio")]
mod semaphore;
#[cfg(feature = "tokio")]
pub(crate) mod slots;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use access::{ReadGuard, WriteGuard};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use bounded::{BoundedExt, Exempt, allow_unbounded, bounded};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use diagnosis::{AcquireTimeout, Gauges, Holder, LockKind};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use handoff::{CheckedTask, Entered, HandOff};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use mutex::{Mutex, MutexGuard};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use permit::{AcquireWithin, Permit, Released};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use record::LockWithin;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use rwlock::RwLock;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use semaphore::Semaphore;
