//! Owned subscriptions: the only way to wait on a [`Bus`].

use core::fmt;
use core::hash::{BuildHasher, Hash};
use std::hash::RandomState;
use std::time::Duration;

use super::Bus;
use super::backlog::{Backlog, DETACHED};
use crate::sync::Arc;

/// An open subscription to one topic of a [`Bus`], owned by the code that waits.
///
/// Events published on the topic since [`Bus::subscribe`] returned are kept for it until
/// waited on, up to the bus's [`backlog`](super::BusLimits::backlog): past it the oldest give
/// way and the next wait reports [`WaitError::Lagged`]. Dropping it unregisters it;
/// [`close`](Subscription::close) does the same and returns what can still be inspected. Only
/// the owner can wait or close: both need the subscription itself, not a shared reference.
///
/// ```compile_fail,E0382
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bus: fixpoint::bus::Bus<u8, u8> = fixpoint::bus::Bus::new();
/// let mut subscription = bus.subscribe(1);
/// let closed = subscription.close();
/// let event = subscription.wait(|| None).await; // a closed subscription cannot be waited on
/// # }
/// ```
#[must_use = "a subscription receives events only while it is held"]
pub struct Subscription<K: Hash + Eq + Clone, E: Clone, S: BuildHasher = RandomState> {
    bus: Bus<K, E, S>,
    topic: K,
    backlog: Arc<Backlog<E>>,
    delivered: u64,
}

impl<K: Hash + Eq + Clone, E: Clone, S: BuildHasher> Subscription<K, E, S> {
    pub(super) fn new(bus: Bus<K, E, S>, topic: K, backlog: Arc<Backlog<E>>) -> Self {
        Subscription {
            bus,
            topic,
            backlog,
            delivered: 0,
        }
    }

    /// Runs `recheck` (now that the subscription is registered, nothing can slip past it), and
    /// returns its answer if it has one; otherwise waits for the next event on the topic.
    ///
    /// `recheck` answers "has the event I wait for already happened?", typically by reading
    /// the store the event's writer records to. Pass `|| None` only when nothing can have
    /// happened before the subscription.
    ///
    /// Cancelling the wait (dropping its future) loses nothing: an event leaves the backlog
    /// only when a wait returns it.
    ///
    /// # Errors
    ///
    /// [`WaitError::Closed`] when the topic or bus closes before an event arrives;
    /// [`WaitError::Lagged`] once, when events were dropped because the backlog was full (the
    /// next wait returns the oldest event kept).
    ///
    /// ```
    /// use fixpoint::bus::Bus;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let answers: Bus<u64, &str> = Bus::new();
    /// let mut answer = answers.subscribe(7);
    /// // The answer was recorded before we subscribed: only the re-check can find it.
    /// let recorded = Some("recorded earlier");
    /// assert_eq!(answer.wait(|| recorded).await, Ok("recorded earlier"));
    /// # }
    /// ```
    pub async fn wait(&mut self, recheck: impl FnOnce() -> Option<E>) -> Result<E, WaitError> {
        if let Some(answer) = recheck() {
            return Ok(answer);
        }
        let event = std::future::poll_fn(|cx| self.backlog.poll_next(cx)).await?;
        self.delivered += 1;
        Ok(event)
    }

    /// Like [`wait`](Subscription::wait), for at most `limit`, kept by the
    /// [`timekeeper`](crate::uptime::timekeeper): the limit holds with every runtime worker
    /// busy, and on tokio's paused clock it is real time.
    ///
    /// # Errors
    ///
    /// [`WaitError::TimedOut`] when `limit` passes first, and those of
    /// [`wait`](Subscription::wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fixpoint::{bus::{Bus, WaitError}};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let answers: Bus<u64, &str> = Bus::new();
    /// let mut answer = answers.subscribe(7);
    /// let limit = Duration::from_millis(10);
    /// assert_eq!(answer.wait_within(limit, || None).await, Err(WaitError::TimedOut { limit }));
    /// # }
    /// ```
    pub async fn wait_within(
        &mut self,
        limit: Duration,
        recheck: impl FnOnce() -> Option<E>,
    ) -> Result<E, WaitError> {
        match crate::uptime::timekeeper::timeout(limit, self.wait(recheck)).await {
            Ok(result) => result,
            Err(_) => Err(WaitError::TimedOut { limit }),
        }
    }

    /// The topic this subscription listens to.
    ///
    /// ```
    /// let answers: fixpoint::bus::Bus<u64, String> = fixpoint::bus::Bus::new();
    /// assert_eq!(answers.subscribe(7).topic(), &7);
    /// ```
    #[must_use]
    pub fn topic(&self) -> &K {
        &self.topic
    }

    /// Unregisters the subscription and returns what remains to inspect.
    ///
    /// ```
    /// let answers: fixpoint::bus::Bus<u64, String> = fixpoint::bus::Bus::new();
    /// let answer = answers.subscribe(7);
    /// answers.publish(&7, "never read".to_owned()).unwrap();
    /// let closed = answer.close();
    /// assert_eq!((closed.delivered(), closed.unread(), closed.missed()), (0, 1, 0));
    /// ```
    pub fn close(mut self) -> ClosedSubscription<K> {
        self.unregister();
        let remains = self.backlog.drain();
        ClosedSubscription {
            topic: self.topic.clone(),
            delivered: self.delivered,
            unread: remains.unread,
            missed: remains.missed,
        }
    }

    fn unregister(&mut self) {
        // A subscription born closed, or detached by a close, is in no list: no lock to take.
        if self.backlog.slot() != DETACHED {
            self.bus.unregister(&self.topic, &self.backlog);
        }
    }
}

impl<K: Hash + Eq + Clone, E: Clone, S: BuildHasher> Drop for Subscription<K, E, S> {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl<K: Hash + Eq + Clone + fmt::Debug, E: Clone, S: BuildHasher> fmt::Debug
    for Subscription<K, E, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("delivered", &self.delivered)
            .finish()
    }
}

/// What is left of a closed subscription: inspection only.
///
/// ```
/// let answers: fixpoint::bus::Bus<u64, String> = fixpoint::bus::Bus::new();
/// let closed = answers.subscribe(7).close();
/// assert_eq!(closed.topic(), &7);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSubscription<K> {
    topic: K,
    delivered: u64,
    unread: u64,
    missed: u64,
}

impl<K> ClosedSubscription<K> {
    /// The topic it listened to.
    #[must_use]
    pub fn topic(&self) -> &K {
        &self.topic
    }

    /// Events its waits returned.
    #[must_use]
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Events that had arrived and were never waited for (at most the backlog).
    #[must_use]
    pub fn unread(&self) -> u64 {
        self.unread
    }

    /// Events that arrived while the backlog was full and gave way to later ones.
    #[must_use]
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

/// Why a wait on a [`Subscription`] ended without an event.
///
/// ```
/// use fixpoint::{bus::{Bus, WaitError}};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let answers: Bus<u64, String> = Bus::new();
/// let mut answer = answers.subscribe(7);
/// answers.close_topic(&7);
/// assert_eq!(answer.wait(|| None).await, Err(WaitError::Closed));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The topic or the bus was closed.
    #[error("the topic was closed before the event arrived")]
    Closed,
    /// The limit passed first.
    #[error("no event within {limit:?}")]
    TimedOut {
        /// The limit of the wait.
        limit: Duration,
    },
    /// The subscription's backlog was full and its oldest events gave way; the next wait
    /// returns the oldest event kept.
    #[error("{missed} events were dropped because the subscription's backlog was full")]
    Lagged {
        /// How many events gave way since the last wait that reported a loss.
        missed: u64,
    },
}
