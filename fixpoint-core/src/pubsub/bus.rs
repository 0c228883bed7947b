//! The topic-keyed bus and its owned subscriptions.

use core::fmt;
use core::future::Future;
use core::hash::Hash;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

/// An in-process publish/subscribe channel keyed by topic.
///
/// ```
/// use fixpoint::Bus;
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
/// let answers: fixpoint::Bus<u64, String> = fixpoint::Bus::new();
/// let reply = answers.wait(&7).await; // no such method: subscribe first
/// # }
/// ```
pub struct Bus<K, E> {
    shared: Arc<Shared<K, E>>,
}

struct Shared<K, E> {
    topics: Mutex<HashMap<K, Topic<E>>>,
    closed: AtomicBool,
    next_id: AtomicU64,
}

struct Topic<E> {
    subscribers: Vec<(u64, mpsc::UnboundedSender<E>)>,
    closed: bool,
}

impl<E> Default for Topic<E> {
    fn default() -> Self {
        Topic {
            subscribers: Vec::new(),
            closed: false,
        }
    }
}

impl<K, E> Clone for Bus<K, E> {
    fn clone(&self) -> Self {
        Bus {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K: Hash + Eq + Clone, E: Clone> Default for Bus<K, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq + Clone, E: Clone> Bus<K, E> {
    /// An open bus with no topics. Cloning shares it.
    #[must_use]
    pub fn new() -> Self {
        Bus {
            shared: Arc::new(Shared {
                topics: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// Opens a subscription on `topic`. It is registered before this returns: every event
    /// published on `topic` from now on reaches it, however late it is waited on.
    ///
    /// On a closed bus or topic the subscription is born closed: its wait fails with
    /// [`WaitError::Closed`] at once.
    #[must_use = "a subscription receives events only while it is held"]
    pub fn subscribe(&self, topic: K) -> Subscription<K, E> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        if !self.shared.closed.load(Ordering::Acquire) {
            let mut topics = self.shared.lock();
            let entry = topics.entry(topic.clone()).or_default();
            if !entry.closed {
                entry.subscribers.push((id, sender));
            }
        }
        Subscription {
            bus: self.clone(),
            topic,
            id,
            receiver,
            delivered: 0,
        }
    }

    /// Delivers `event` to every subscription open on `topic` now, and returns how many it
    /// reached. With none open, the event is dropped: subscribe first.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] when the bus or the topic is closed.
    pub fn publish(&self, topic: &K, event: E) -> Result<usize, PublishError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(PublishError::Closed);
        }
        let mut topics = self.shared.lock();
        let Some(entry) = topics.get_mut(topic) else {
            return Ok(0);
        };
        if entry.closed {
            return Err(PublishError::Closed);
        }
        let mut reached = 0;
        let mut event = Some(event);
        let last = entry.subscribers.len().saturating_sub(1);
        for (position, (_, sender)) in entry.subscribers.iter().enumerate() {
            let copy = if position == last {
                event.take()
            } else {
                event.clone()
            };
            if let Some(copy) = copy {
                reached += usize::from(sender.send(copy).is_ok());
            }
        }
        Ok(reached)
    }

    /// Subscribes to `topic`, runs `write` (the action that causes the event), re-checks, then
    /// waits, at most `limit` when one is given: the whole contract in one call.
    ///
    /// # Errors
    ///
    /// [`WaitError::Closed`] when the topic closes first, [`WaitError::TimedOut`] when `limit`
    /// passes first.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fixpoint::Bus;
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

    /// Closes `topic`: its subscriptions' waits fail with [`WaitError::Closed`], publishing on
    /// it fails with [`PublishError::Closed`], and new subscriptions to it are born closed.
    pub fn close_topic(&self, topic: &K) {
        let mut topics = self.shared.lock();
        let entry = topics.entry(topic.clone()).or_default();
        entry.closed = true;
        entry.subscribers.clear();
    }

    /// Closes every topic, for good.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.lock().clear();
    }

    /// The number of subscriptions open on `topic`.
    #[must_use]
    pub fn subscribers(&self, topic: &K) -> usize {
        self.shared
            .lock()
            .get(topic)
            .map_or(0, |entry| entry.subscribers.len())
    }

    fn unregister(&self, topic: &K, id: u64) {
        let mut topics = self.shared.lock();
        if let Some(entry) = topics.get_mut(topic) {
            entry
                .subscribers
                .retain(|(subscriber, _)| *subscriber != id);
            // The topic's entry lives as long as someone listens, or it is closed.
            if entry.subscribers.is_empty() && !entry.closed {
                topics.remove(topic);
            }
        }
    }
}

impl<K, E> Shared<K, E> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, Topic<E>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K, E> fmt::Debug for Bus<K, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("topics", &self.shared.lock().len())
            .field("closed", &self.shared.closed.load(Ordering::Relaxed))
            .finish()
    }
}

/// An open subscription to one topic of a [`Bus`], owned by the code that waits.
///
/// Events published on the topic since [`Bus::subscribe`] returned are kept for it until
/// waited on. Dropping it unregisters it; [`close`](Subscription::close) does the same and
/// returns what can still be inspected. Only the owner can wait or close: both need the
/// subscription itself, not a shared reference.
///
/// ```compile_fail,E0382
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bus: fixpoint::Bus<u8, u8> = fixpoint::Bus::new();
/// let mut subscription = bus.subscribe(1);
/// let closed = subscription.close();
/// let event = subscription.wait(|| None).await; // a closed subscription cannot be waited on
/// # }
/// ```
#[must_use = "a subscription receives events only while it is held"]
pub struct Subscription<K: Hash + Eq + Clone, E: Clone> {
    bus: Bus<K, E>,
    topic: K,
    id: u64,
    receiver: mpsc::UnboundedReceiver<E>,
    delivered: u64,
}

impl<K: Hash + Eq + Clone, E: Clone> Subscription<K, E> {
    /// Runs `recheck` (now that the subscription is registered, nothing can slip past it), and
    /// returns its answer if it has one; otherwise waits for the next event on the topic.
    ///
    /// `recheck` answers "has the event I wait for already happened?", typically by reading
    /// the store the event's writer records to. Pass `|| None` only when nothing can have
    /// happened before the subscription.
    ///
    /// # Errors
    ///
    /// [`WaitError::Closed`] when the topic or bus closes before an event arrives.
    pub async fn wait(&mut self, recheck: impl FnOnce() -> Option<E>) -> Result<E, WaitError> {
        if let Some(answer) = recheck() {
            return Ok(answer);
        }
        match self.receiver.recv().await {
            Some(event) => {
                self.delivered += 1;
                Ok(event)
            }
            None => Err(WaitError::Closed),
        }
    }

    /// Like [`wait`](Subscription::wait), for at most `limit`.
    ///
    /// # Errors
    ///
    /// [`WaitError::TimedOut`] when `limit` passes first, [`WaitError::Closed`] when the topic
    /// closes first.
    pub async fn wait_within(
        &mut self,
        limit: Duration,
        recheck: impl FnOnce() -> Option<E>,
    ) -> Result<E, WaitError> {
        match tokio::time::timeout(limit, self.wait(recheck)).await {
            Ok(result) => result,
            Err(_) => Err(WaitError::TimedOut { limit }),
        }
    }

    /// The topic this subscription listens to.
    #[must_use]
    pub fn topic(&self) -> &K {
        &self.topic
    }

    /// Unregisters the subscription and returns what remains to inspect.
    pub fn close(mut self) -> ClosedSubscription<K> {
        self.bus.unregister(&self.topic, self.id);
        self.receiver.close();
        let mut unread = 0;
        while self.receiver.try_recv().is_ok() {
            unread += 1;
        }
        ClosedSubscription {
            topic: self.topic.clone(),
            delivered: self.delivered,
            unread,
        }
    }
}

impl<K: Hash + Eq + Clone, E: Clone> Drop for Subscription<K, E> {
    fn drop(&mut self) {
        self.bus.unregister(&self.topic, self.id);
    }
}

impl<K: Hash + Eq + Clone + fmt::Debug, E: Clone> fmt::Debug for Subscription<K, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("delivered", &self.delivered)
            .finish()
    }
}

/// What is left of a closed subscription: inspection only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSubscription<K> {
    topic: K,
    delivered: u64,
    unread: u64,
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

    /// Events that had arrived and were never waited for.
    #[must_use]
    pub fn unread(&self) -> u64 {
        self.unread
    }
}

/// Why a wait on a [`Subscription`] ended without an event.
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
}

/// Why an event was not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The topic or the bus was closed.
    #[error("cannot publish on a closed topic")]
    Closed,
}
