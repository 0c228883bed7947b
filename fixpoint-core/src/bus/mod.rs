#![doc = include_str!("guide.md")]

// Subscribe before you publish: a channel in which waiting for an event that already fired
// cannot be written.
//
// A [`Bus`] delivers each event to the subscriptions open on its topic *at the moment it is
// published*, like a notifier with no buffer: a late subscriber misses what came before. The
// only way to wait is through a [`Subscription`], which is registered the moment
// [`Bus::subscribe`] returns, before the write that causes the event can run; and its wait
// takes the re-check ("is the answer already recorded?") that closes the window before the
// subscription existed. [`Bus::subscribe_then`] does all of it in one call. What the bus holds
// is bounded by what is alive ([`BusLimits`]), so it can run for years.
//
// With feature `postgres`, [`PgBus`] keeps the same contract across processes and hosts, over
// PostgreSQL's `LISTEN`/`NOTIFY`.
//
// [`Registry`] is the identity-keyed map for long-lived handles: removal needs the ticket of
// the entry it removes, so a stale cleanup cannot close a fresh handle, and a replaced handle
// is handed back to be closed.

pub(crate) mod backlog;
mod channel;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod registry;
mod subscription;
mod topics;

pub use channel::{Bus, BusLimits, PublishError};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{
    CHANNEL_MAX_BYTES, HASHED_CHANNEL_PREFIX, PAYLOAD_MAX_BYTES, PgBus, PgBusError, PgBusOptions,
    PgSubscription, PgWaitError, channel_name,
};
pub use registry::{Insertion, Registry, RemoveError, Ticket};
pub use subscription::{ClosedSubscription, Subscription, WaitError};
