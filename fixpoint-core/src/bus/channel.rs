//! The topic-keyed bus: subscribing, publishing and closing.

use core::fmt;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
use std::hash::RandomState;
use std::sync::PoisonError;
use std::time::Duration;

use super::backlog::Backlog;
use super::subscription::{Subscription, WaitError};
use super::topics::{Route, Topics};
use crate::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An in-process publish/subscribe channel keyed by topic.
///
/// ```
/// use fixpoint::bus::Bus;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let answers: Bus<u64, String> = Bus::new();
/// let mut answer = answers.subscribe(7);        // 1. subscribe: registered now
/// answers.publish(&7, "yes".to_owned()).unwrap(); // 2. the write that causes the event
/// let reply = answer.wait(|| None).await.unwrap(); // 3. wait (the re-check found nothing)
/// assert_eq!(reply, "yes");
/// # }
/// ```
///
/// There is no way to wait without a subscription:
///
/// ```compile_fail,E0599
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let answers: fixpoint::bus::Bus<u64, String> = fixpoint::bus::Bus::new();
/// let reply = answers.wait(&7).await; // no such method: subscribe first
/// # }
/// ```
///
/// Its memory is bounded by what is alive, not by what happened: a topic's entry lives while
/// it has subscribers, a closed topic is remembered among the last
/// [`remembered_closes`](BusLimits::remembered_closes) only, and each subscription holds at
/// most [`backlog`](BusLimits::backlog) events (see [`BusLimits`]).
pub struct Bus<K, E, S = RandomState> {
    shared: Arc<Shared<K, E, S>>,
}

struct Shared<K, E, S> {
    // Publishers only read the table, so they do not queue behind one another.
    topics: RwLock<Topics<K, E, S>>,
    backlog: usize,
}

/// The bounds of a [`Bus`]: how much a slow subscription holds and how many closes it
/// remembers.
///
/// ```
/// use fixpoint::{bus::{Bus, BusLimits, WaitError}};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let ticks: Bus<&str, u32> = Bus::with_limits(BusLimits::new().backlog(2));
/// let mut slow = ticks.subscribe("clock");
/// for tick in 0..5 {
///     ticks.publish(&"clock", tick).unwrap();
/// }
/// // The backlog kept the latest two; the wait says how many gave way before them.
/// assert_eq!(slow.wait(|| None).await, Err(WaitError::Lagged { missed: 3 }));
/// assert_eq!(slow.wait(|| None).await, Ok(3));
/// assert_eq!(slow.wait(|| None).await, Ok(4));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusLimits {
    pub(crate) backlog: usize,
    pub(crate) remembered_closes: usize,
}

impl BusLimits {
    /// The defaults: a backlog of 1,024 events per subscription, 4,096 closes remembered.
    #[must_use]
    pub const fn new() -> Self {
        BusLimits {
            backlog: 1_024,
            remembered_closes: 4_096,
        }
    }

    /// The most events a subscription holds unread (default 1,024; `0` is taken as 1). When
    /// one more arrives, the oldest gives way and the next wait returns
    /// [`WaitError::Lagged`] with the count of those lost, then the events kept, oldest first
    /// (as `tokio::sync::broadcast`).
    #[must_use]
    pub const fn backlog(mut self, events: usize) -> Self {
        self.backlog = if events == 0 { 1 } else { events };
        self
    }

    /// How many closed topics the bus remembers (default 4,096), so that a subscription to
    /// one of them is born closed. Past that many later closes, a close is forgotten: the
    /// topic is then a fresh one, and only the re-check or a bounded wait covers it.
    #[must_use]
    pub const fn remembered_closes(mut self, topics: usize) -> Self {
        self.remembered_closes = topics;
        self
    }
}

impl Default for BusLimits {
    /// [`BusLimits::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<K, E, S> Clone for Bus<K, E, S> {
    fn clone(&self) -> Self {
        Bus {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K: Hash + Eq + Clone, E: Clone, S: BuildHasher + Default> Default for Bus<K, E, S> {
    fn default() -> Self {
        Self::with_hasher(BusLimits::default(), S::default())
    }
}

impl<K: Hash + Eq + Clone, E: Clone> Bus<K, E> {
    /// An open bus with no topics and the default [`BusLimits`]. Cloning shares it.
    #[must_use]
    pub fn new() -> Self {
        Self::with_limits(BusLimits::default())
    }

    /// An open bus with no topics and the given bounds. Cloning shares it.
    ///
    /// ```
    /// use fixpoint::{bus::{Bus, BusLimits}};
    ///
    /// let questions: Bus<u64, String> =
    ///     Bus::with_limits(BusLimits::new().backlog(1).remembered_closes(100_000));
    /// ```
    #[must_use]
    pub fn with_limits(limits: BusLimits) -> Self {
        Self::with_hasher(limits, RandomState::new())
    }
}

impl<K: Hash + Eq + Clone, E: Clone, S: BuildHasher> Bus<K, E, S> {
    /// An open bus with the given bounds whose topic table hashes with `hasher`.
    ///
    /// The default, [`RandomState`], resists topics chosen to collide (question ids that come
    /// from outside). A stream of events on one topic hashes its key once whatever the hasher;
    /// a faster one pays off for a topic per question, and for subscribing and unsubscribing,
    /// with keys the service picks itself.
    ///
    /// ```
    /// use std::hash::{BuildHasherDefault, DefaultHasher};
    /// use fixpoint::{bus::{Bus, BusLimits}};
    ///
    /// type Fixed = BuildHasherDefault<DefaultHasher>;
    /// let bus: Bus<u32, u64, Fixed> = Bus::with_hasher(BusLimits::default(), Fixed::default());
    /// let _subscription = bus.subscribe(1);
    /// assert_eq!(bus.publish(&1, 5), Ok(1));
    /// ```
    #[must_use]
    pub fn with_hasher(limits: BusLimits, hasher: S) -> Self {
        Bus {
            shared: Arc::new(Shared {
                topics: RwLock::new(Topics::new(limits.remembered_closes, hasher)),
                backlog: limits.backlog,
            }),
        }
    }

    /// Opens a subscription on `topic`. It is registered before this returns: every event
    /// published on `topic` from now on reaches it, however late it is waited on (up to its
    /// [`backlog`](BusLimits::backlog)).
    ///
    /// On a closed bus, or a topic among the remembered closes, the subscription is born
    /// closed: its wait fails with [`WaitError::Closed`] at once.
    ///
    /// ```
    /// use fixpoint::bus::Bus;
    ///
    /// let answers: Bus<u64, String> = Bus::new();
    /// let answer = answers.subscribe(7);
    /// assert_eq!(answers.subscribers(&7), 1);
    /// ```
    #[must_use = "a subscription receives events only while it is held"]
    pub fn subscribe(&self, topic: K) -> Subscription<K, E, S> {
        let backlog = self.shared.write().register(&topic, self.shared.backlog);
        Subscription::new(self.clone(), topic, backlog)
    }

    /// Delivers `event` to every subscription open on `topic` now, and returns how many it
    /// reached. With none open, the event is dropped: subscribe first.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] when the bus or the topic is closed.
    ///
    /// ```
    /// use fixpoint::bus::Bus;
    ///
    /// let answers: Bus<u64, String> = Bus::new();
    /// assert_eq!(answers.publish(&7, "nobody listens".to_owned()), Ok(0));
    /// let _answer = answers.subscribe(7);
    /// assert_eq!(answers.publish(&7, "heard".to_owned()), Ok(1));
    /// ```
    pub fn publish(&self, topic: &K, event: E) -> Result<usize, PublishError> {
        match self.shared.read().route(topic) {
            Route::Closed => Err(PublishError::Closed),
            Route::Open(subscribers) => Ok(deliver(subscribers, event)),
        }
    }

    /// Subscribes to `topic`, runs `write` (the action that causes the event), re-checks, then
    /// waits, at most `limit` when one is given: the whole contract in one call.
    ///
    /// # Errors
    ///
    /// [`WaitError::Closed`] when the topic closes first, [`WaitError::TimedOut`] when `limit`
    /// passes first, [`WaitError::Lagged`] when `write` caused more events than the backlog
    /// holds.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fixpoint::bus::Bus;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let answers: Bus<&str, u32> = Bus::new();
    /// let remote = answers.clone();
    /// let answer = answers
    ///     .subscribe_then(
    ///         "question-1",
    ///         || async move { remote.publish(&"question-1", 42).unwrap(); }, // the write
    ///         || None,                                                      // the re-check
    ///         Some(Duration::from_secs(1)),
    ///     )
    ///     .await;
    /// assert_eq!(answer.unwrap(), 42);
    /// # }
    /// ```
    pub async fn subscribe_then<W, F>(
        &self,
        topic: K,
        write: W,
        recheck: impl FnOnce() -> Option<E>,
        limit: Option<Duration>,
    ) -> Result<E, WaitError>
    where
        W: FnOnce() -> F,
        F: Future<Output = ()>,
    {
        let mut subscription = self.subscribe(topic);
        write().await;
        match limit {
            Some(limit) => subscription.wait_within(limit, recheck).await,
            None => subscription.wait(recheck).await,
        }
    }

    /// Closes `topic`: its subscriptions' waits fail with [`WaitError::Closed`] once they have
    /// read what had arrived, publishing on it fails with [`PublishError::Closed`], and new
    /// subscriptions to it are born closed for as long as the bus remembers the close (the
    /// last [`remembered_closes`](BusLimits::remembered_closes) closes).
    ///
    /// ```
    /// use fixpoint::{bus::{Bus, PublishError}};
    ///
    /// let answers: Bus<u64, String> = Bus::new();
    /// answers.close_topic(&7);
    /// assert_eq!(answers.publish(&7, "too late".to_owned()), Err(PublishError::Closed));
    /// ```
    pub fn close_topic(&self, topic: &K) {
        let detached = self.shared.write().close_topic(topic);
        for backlog in detached {
            backlog.close();
        }
    }

    /// Closes every topic, for good.
    ///
    /// ```
    /// use fixpoint::{bus::{Bus, PublishError}};
    ///
    /// let answers: Bus<u64, String> = Bus::new();
    /// answers.close();
    /// assert_eq!(answers.publish(&7, "too late".to_owned()), Err(PublishError::Closed));
    /// ```
    pub fn close(&self) {
        let detached = self.shared.write().close_all();
        for backlog in detached {
            backlog.close();
        }
    }

    /// The number of subscriptions open on `topic`.
    ///
    /// ```
    /// use fixpoint::bus::Bus;
    ///
    /// let answers: Bus<u64, String> = Bus::new();
    /// let first = answers.subscribe(7);
    /// let second = answers.subscribe(7);
    /// drop(first);
    /// assert_eq!(answers.subscribers(&7), 1);
    /// ```
    #[must_use]
    pub fn subscribers(&self, topic: &K) -> usize {
        self.shared.read().subscribers(topic)
    }

    /// The entries in the table of topics: open topics and remembered closes.
    #[cfg(test)]
    pub(crate) fn topic_entries(&self) -> usize {
        self.shared.read().len()
    }

    pub(super) fn unregister(&self, topic: &K, backlog: &Arc<Backlog<E>>) {
        self.shared.write().unregister(topic, backlog);
    }
}

/// Hands `event` to each backlog, cloning it for all but the last.
fn deliver<E: Clone>(subscribers: &[Arc<Backlog<E>>], event: E) -> usize {
    let Some((last, others)) = subscribers.split_last() else {
        return 0;
    };
    let reached = others
        .iter()
        .filter(|backlog| backlog.push(event.clone()))
        .count();
    reached + usize::from(last.push(event))
}

impl<K, E, S> Shared<K, E, S> {
    fn read(&self) -> RwLockReadGuard<'_, Topics<K, E, S>> {
        self.topics.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Topics<K, E, S>> {
        self.topics.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K, E, S> fmt::Debug for Bus<K, E, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topics = self.shared.read();
        f.debug_struct("Bus")
            .field("topics", &topics.len())
            .field("remembered_closes", &topics.remembered_closes())
            .field("closed", &topics.is_closed())
            .finish()
    }
}

/// Why an event was not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The topic or the bus was closed.
    #[error("cannot publish on a closed topic")]
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table keeps an entry per open topic and per remembered close, and nothing else:
    /// closes beyond the window are forgotten, and a topic whose last subscriber left is gone.
    #[test]
    fn the_table_keeps_open_topics_and_remembered_closes_only() {
        let bus: Bus<u32, u8> = Bus::with_limits(BusLimits::new().remembered_closes(2));
        let held = bus.subscribe(1);
        drop(bus.subscribe(2));
        assert_eq!(
            bus.topic_entries(),
            1,
            "topic 2's entry outlived its subscriber"
        );
        for topic in 10..15 {
            bus.close_topic(&topic);
        }
        assert_eq!(
            bus.topic_entries(),
            1 + 2,
            "closes beyond the window were kept"
        );
        bus.close_topic(&1);
        drop(held);
        assert_eq!(
            bus.topic_entries(),
            2,
            "the oldest remembered close was kept"
        );
        assert!(format!("{bus:?}").contains("closed: false"), "{bus:?}");
        bus.close();
        assert_eq!(bus.topic_entries(), 0, "a closed bus kept entries");
        assert!(format!("{bus:?}").contains("closed: true"), "{bus:?}");
    }
}
