//! Owned subscriptions to a [`PgBus`] topic: the only way to wait for a notification.

use std::fmt;
use std::time::Duration;

use super::{Item, PgBus};
use crate::bus::{Subscription, WaitError};

/// A subscription to one topic of a [`PgBus`], whose `LISTEN` the server has confirmed.
///
/// Every notification committed on its channel since [`PgBus::subscribe`] returned is kept
/// for it (up to [`backlog`](super::PgBusOptions::backlog)) until waited on. Dropping it
/// unsubscribes; the last subscription of a topic to leave makes the listener `UNLISTEN`.
/// Only the owner waits: [`wait`](PgSubscription::wait) takes `&mut self`.
#[must_use = "a subscription receives notifications only while it is held"]
pub struct PgSubscription {
    bus: PgBus,
    topic: String,
    // `None` only while dropping, so that the local subscription leaves before the listener
    // is told to count what is left.
    inner: Option<Subscription<String, Item>>,
}

impl PgSubscription {
    pub(super) fn new(bus: PgBus, topic: String, inner: Subscription<String, Item>) -> Self {
        PgSubscription {
            bus,
            topic,
            inner: Some(inner),
        }
    }

    /// Runs `recheck`, and returns its answer if it has one; otherwise waits for the next
    /// notification on the topic and returns its payload.
    ///
    /// `recheck` answers "has the event I wait for already happened?", typically with a query
    /// on the table the event's writer records to. It runs first (nothing published from now
    /// on can slip past the subscription) and again each time the listening connection is
    /// reopened after a loss, since notifications sent while nobody listened are gone: the
    /// wait *recovers* from an outage instead of failing, and returns what the table holds.
    ///
    /// Cancelling the wait (dropping its future) loses no notification.
    ///
    /// `recheck` is a closure that returns a future (`|| async move { .. }`), not an async
    /// closure: the future an async closure returns cannot yet be proven `Send` by the
    /// compiler, which would keep the wait out of `tokio::spawn`.
    ///
    /// # Errors
    ///
    /// [`PgWaitError::Recheck`] when `recheck` fails; [`PgWaitError::Lagged`] once, when
    /// notifications were dropped because the backlog was full (re-check, then wait again);
    /// [`PgWaitError::Stopped`] when the bus's listener task has stopped.
    ///
    /// ```no_run
    /// # async fn example(bus: fixpoint::bus::PgBus, db: &tokio_postgres::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut answer = bus.subscribe("answers/7").await?;
    /// let reply = answer
    ///     .wait(|| async move {
    ///         let row = db.query_opt("SELECT answer FROM answers WHERE question = 7", &[]).await?;
    ///         Ok(row.map(|row| row.get(0)))
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait<F, R>(&mut self, mut recheck: F) -> Result<String, PgWaitError>
    where
        F: FnMut() -> R,
        R: Future<Output = Result<Option<String>, tokio_postgres::Error>>,
    {
        loop {
            if let Some(answer) = recheck().await.map_err(PgWaitError::Recheck)? {
                return Ok(answer);
            }
            if let Some(payload) = self.next_event().await? {
                return Ok(payload);
            }
        }
    }

    /// Like [`wait`](PgSubscription::wait), for at most `limit`, kept by the
    /// [`timekeeper`](crate::uptime::timekeeper): the limit holds with every runtime worker
    /// busy, and on tokio's paused clock it is real time.
    ///
    /// # Errors
    ///
    /// [`PgWaitError::TimedOut`] when `limit` passes first, and those of
    /// [`wait`](PgSubscription::wait).
    pub async fn wait_within<F, R>(
        &mut self,
        limit: Duration,
        recheck: F,
    ) -> Result<String, PgWaitError>
    where
        F: FnMut() -> R,
        R: Future<Output = Result<Option<String>, tokio_postgres::Error>>,
    {
        match crate::uptime::timekeeper::timeout(limit, self.wait(recheck)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(PgWaitError::TimedOut { limit }),
        }
    }

    /// The next notification's payload, or `None` when the connection came back and the
    /// re-check must run again.
    async fn next_event(&mut self) -> Result<Option<String>, PgWaitError> {
        let inner = self.inner.as_mut().ok_or(PgWaitError::Stopped)?;
        match inner.wait(|| None).await {
            Ok(Item::Event(payload)) => Ok(Some(payload)),
            Ok(Item::Resync) => Ok(None),
            Err(WaitError::Lagged { missed }) => Err(PgWaitError::Lagged { missed }),
            Err(WaitError::Closed | WaitError::TimedOut { .. }) => Err(PgWaitError::Stopped),
        }
    }

    /// The topic this subscription listens to.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The channel its topic is sent on ([`channel_name`](super::channel_name)).
    #[must_use]
    pub fn channel(&self) -> &str {
        self.inner.as_ref().map_or("", |inner| inner.topic())
    }
}

impl Drop for PgSubscription {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let channel = inner.topic().clone();
            drop(inner);
            self.bus.left(channel);
        }
    }
}

impl fmt::Debug for PgSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSubscription")
            .field("topic", &self.topic)
            .field("channel", &self.channel())
            .finish()
    }
}

/// Why a wait on a [`PgSubscription`] ended without an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgWaitError {
    /// The re-check's query failed.
    #[error(
        "the re-check failed: {}; the event may have happened: wait again to re-check",
        super::chain(.0)
    )]
    Recheck(#[source] tokio_postgres::Error),
    /// The limit passed first.
    #[error("no notification within {limit:?}")]
    TimedOut {
        /// The limit of the wait.
        limit: Duration,
    },
    /// The subscription's backlog was full and its oldest notifications gave way.
    #[error(
        "{missed} notifications were dropped because the subscription's backlog was full; wait \
         again (the re-check runs first) or raise PgBusOptions::backlog"
    )]
    Lagged {
        /// How many gave way since the last wait that reported a loss.
        missed: u64,
    },
    /// The bus's listener task stopped (its runtime shut down).
    #[error("the bus's listener task has stopped (its runtime shut down); connect a new PgBus")]
    Stopped,
}
