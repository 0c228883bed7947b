//! [`PgBus`]: the [`Bus`](crate::bus::Bus) contract across processes and hosts, over
//! PostgreSQL's `LISTEN`/`NOTIFY`.

pub(crate) mod channel;
mod error;
mod listener;
mod subscription;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, GenericClient, NoTls, Statement};

pub use channel::{CHANNEL_MAX_BYTES, HASHED_CHANNEL_PREFIX, channel_name};
pub use subscription::{PgSubscription, PgWaitError};

use super::{Bus, BusLimits};
pub use error::PgBusError;
use error::chain;
use listener::{Command, Gauges, Listener};

/// The longest payload `NOTIFY` carries with the server's default page size: it must be
/// shorter than 8,000 bytes.
pub const PAYLOAD_MAX_BYTES: usize = 7_999;

/// What travels from the listener to a subscription.
#[derive(Debug, Clone)]
pub(super) enum Item {
    /// A notification's payload.
    Event(String),
    /// The connection was lost and is back: run the re-check again.
    Resync,
}

/// A publish/subscribe channel between processes and hosts, over PostgreSQL's
/// `LISTEN`/`NOTIFY`, with the contract of the in-process [`Bus`](crate::bus::Bus):
/// subscribe, write, re-check, wait.
///
/// - [`subscribe`](PgBus::subscribe) returns once the server has confirmed the `LISTEN` on
///   the bus's listening connection: every notification committed from then on, by any
///   process on any host, reaches the [`PgSubscription`].
/// - [`publish`](PgBus::publish) is `pg_notify(channel, payload)` on the bus's publishing
///   connection; [`publish_in`](PgBus::publish_in) sends it in the caller's own transaction,
///   so it is delivered if and only if the write commits. Payloads above
///   [`PAYLOAD_MAX_BYTES`] are refused with [`PgBusError::PayloadTooLarge`]: store the event in
///   a table and publish its key.
/// - [`PgSubscription::wait`] runs the re-check (the caller's query: "is the answer already
///   recorded?") first, then waits for the notification.
/// - A lost listening connection is not a silent hang: the bus reconnects with backoff
///   (jittered, between the bounds of
///   [`reconnect`](PgBusOptions::reconnect)), `LISTEN`s again to every channel that
///   has a subscription, and then every subscription runs its re-check again, so an event
///   published while nobody listened is found in the table its writer recorded it in. Waits
///   in progress *recover*: they keep waiting across the outage and return what the re-check
///   or the next notification brings (bound them with
///   [`wait_within`](PgSubscription::wait_within)). An idle connection is probed every
///   [`heartbeat`](PgBusOptions::heartbeat), so a peer gone silent is found too.
/// - A topic's `LISTEN` lives while it has subscriptions: the last one dropped `UNLISTEN`s
///   it, and the listener's set of channels is exactly those with a subscriber.
///
/// Topics are strings; [`channel_name`] says which channel each is sent on (a topic longer
/// than a channel name may be is named by its hash). Cloning shares the bus; the listener
/// task stops when the bus and all its subscriptions are dropped.
///
/// ```no_run
/// use fixpoint::bus::PgBus;
///
/// # async fn example(answers_db: &tokio_postgres::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let bus = PgBus::connect("postgresql://app@db.internal/app").await?;
/// let mut answer = bus.subscribe("answers/7").await?; // 1. subscribe: LISTEN confirmed
/// ask_the_user(7).await;                              // 2. the write that causes the answer
/// let reply = answer
///     .wait(|| async move {                                // 3. re-check, then wait
///         let row = answers_db
///             .query_opt("SELECT answer FROM answers WHERE question = 7", &[])
///             .await?;
///         Ok(row.map(|row| row.get(0)))
///     })
///     .await?;
/// # Ok(()) }
/// # async fn ask_the_user(_: u64) {}
/// ```
#[derive(Clone)]
pub struct PgBus {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    options: PgBusOptions,
    local: Bus<String, Item>,
    commands: mpsc::UnboundedSender<Command>,
    gauges: Arc<Gauges>,
    publisher: Mutex<Option<Arc<Publisher>>>,
    // Serializes reconnecting the publisher, so that a burst of publishes opens one connection.
    reconnecting: tokio::sync::Mutex<()>,
}

/// The publishing connection and its prepared `pg_notify`.
struct Publisher {
    client: Client,
    notify: Statement,
}

/// How a [`PgBus`] reconnects, probes and buffers: [`PgBusOptions::new`] (the defaults), then a
/// setter for each thing to change.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::bus::PgBusOptions;
///
/// let options = PgBusOptions::new()
///     .reconnect(Duration::from_millis(20), Duration::from_secs(1))
///     .statement_timeout(Duration::from_secs(3));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgBusOptions {
    pub(crate) reconnect_min: Duration,
    pub(crate) reconnect_max: Duration,
    pub(crate) heartbeat: Duration,
    pub(crate) statement_timeout: Duration,
    pub(crate) backlog: usize,
}

impl PgBusOptions {
    /// The defaults: reconnection pauses from 50 ms doubling to 5 s, a heartbeat after 10 s of
    /// silence, 10 s for the server to answer a statement, a backlog of 1,024 notifications.
    #[must_use]
    pub const fn new() -> Self {
        PgBusOptions {
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(5),
            heartbeat: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(10),
            backlog: 1_024,
        }
    }

    /// The pauses between reconnection attempts: `min` after the first failure (at least
    /// 1 ms), each further failure doubling it up to `max`, give or take a quarter (defaults
    /// 50 ms and 5 s).
    #[must_use]
    pub const fn reconnect(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min;
        self.reconnect_max = max;
        self
    }

    /// How long the listening connection may stay silent before it is asked a question
    /// (default 10 s, at least 10 ms): a connection that does not answer within the
    /// [`statement_timeout`](Self::statement_timeout) is dropped and reopened.
    #[must_use]
    pub const fn heartbeat(mut self, silence: Duration) -> Self {
        self.heartbeat = silence;
        self
    }

    /// The longest the bus waits for the server to answer one statement (`LISTEN`,
    /// `UNLISTEN`, `pg_notify`, the heartbeat; default 10 s), and to connect when the
    /// connection's own config sets no connect timeout.
    #[must_use]
    pub const fn statement_timeout(mut self, limit: Duration) -> Self {
        self.statement_timeout = limit;
        self
    }

    /// The most notifications a subscription holds unread (default 1,024; `0` is taken as 1);
    /// past it the oldest give way and the next wait returns [`PgWaitError::Lagged`].
    #[must_use]
    pub const fn backlog(mut self, notifications: usize) -> Self {
        self.backlog = notifications;
        self
    }
}

impl Default for PgBusOptions {
    /// [`PgBusOptions::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl PgBus {
    /// Connects to the server at `url` (a `postgresql://` URL or a `key=value` string, as
    /// [`tokio_postgres::Config`] parses), with the default [`PgBusOptions`].
    ///
    /// Opens the listening connection now, so a wrong address or role fails here; the
    /// publishing connection opens on the first publish.
    ///
    /// # Errors
    ///
    /// [`PgBusError::Config`] when `url` does not parse, [`PgBusError::Connect`] when the
    /// server cannot be reached or refuses the role.
    pub async fn connect(url: &str) -> Result<PgBus, PgBusError> {
        let config: Config = url.parse().map_err(|source| PgBusError::Config {
            source: Arc::new(source),
        })?;
        Self::with_config(config, PgBusOptions::default()).await
    }

    /// Connects with a prepared [`Config`] and the given options. Must run inside a tokio
    /// runtime: it spawns the listener task there.
    ///
    /// A `config` with no connect timeout gets
    /// [`statement_timeout`](PgBusOptions::statement_timeout), so that an attempt to reach a
    /// host that does not answer fails in that time, not at the system's TCP timeout.
    ///
    /// # Errors
    ///
    /// [`PgBusError::Connect`] when the server cannot be reached or refuses the role.
    pub async fn with_config(
        mut config: Config,
        options: PgBusOptions,
    ) -> Result<PgBus, PgBusError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.statement_timeout);
        }
        let local = Bus::with_limits(BusLimits::new().backlog(options.backlog));
        let link = listener::open(&config, &local).await?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let gauges = Arc::new(Gauges::default());
        let listener = Listener {
            config: config.clone(),
            options,
            local: local.clone(),
            commands: receiver,
            gauges: Arc::clone(&gauges),
            listened: HashSet::new(),
            pending: Vec::new(),
        };
        tokio::spawn(listener.run(link));
        Ok(PgBus {
            shared: Arc::new(Shared {
                config,
                options,
                local,
                commands,
                gauges,
                publisher: Mutex::new(None),
                reconnecting: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Opens a subscription on `topic`, returning once the server has confirmed `LISTEN` on
    /// its channel ([`channel_name`]): from then on, every notification committed on it
    /// reaches the subscription, whichever process or host sends it.
    ///
    /// While the listening connection is down, a subscribe makes the listener try to
    /// reconnect at once and returns the outcome of that attempt.
    ///
    /// # Errors
    ///
    /// [`PgBusError::Connect`] or [`PgBusError::Unresponsive`] when the listening connection
    /// is down and the attempt to reopen it failed; [`PgBusError::Listen`] when the server
    /// refused the `LISTEN` (a hot standby does); [`PgBusError::Stopped`] when the listener
    /// task has stopped (its runtime shut down).
    pub async fn subscribe(&self, topic: &str) -> Result<PgSubscription, PgBusError> {
        let channel = channel_name(topic).into_owned();
        // Registered locally first: a notification that arrives the moment the LISTEN is in
        // force already has somewhere to go.
        let inner = self.shared.local.subscribe(channel.clone());
        let subscription = PgSubscription::new(self.clone(), topic.to_owned(), inner);
        let (done, confirmed) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Listen { channel, done })
            .map_err(|_| PgBusError::Stopped)?;
        confirmed.await.map_err(|_| PgBusError::Stopped)??;
        Ok(subscription)
    }

    /// Publishes `payload` on `topic` (`pg_notify`) from the bus's publishing connection, and
    /// returns once the server has committed it: every subscription whose `LISTEN` was
    /// confirmed before then receives it.
    ///
    /// A lost publishing connection fails this publish ([`PgBusError::Publish`]: whether the
    /// server sent the notification is then unknown; the subscribers' re-check covers it) and
    /// is reopened by the next one.
    ///
    /// # Errors
    ///
    /// [`PgBusError::PayloadTooLarge`] and [`PgBusError::PayloadContainsNul`] before anything
    /// is sent; [`PgBusError::Connect`] when the publishing connection cannot be opened;
    /// [`PgBusError::Publish`] when the statement fails; [`PgBusError::Unresponsive`] when the
    /// server does not answer within
    /// [`statement_timeout`](PgBusOptions::statement_timeout).
    pub async fn publish(&self, topic: &str, payload: &str) -> Result<(), PgBusError> {
        check_payload(topic, payload)?;
        let channel = channel_name(topic);
        let channel: &str = &channel;
        let publisher = self.publisher().await?;
        let limit = self.shared.options.statement_timeout;
        let params: [&(dyn ToSql + Sync); 2] = [&channel, &payload];
        let sent = publisher.client.execute(&publisher.notify, &params);
        // On the timekeeper's clock: a paused test clock must not make the server look
        // unresponsive while it answers.
        let outcome = match crate::uptime::timekeeper::timeout(limit, sent).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(source)) => PgBusError::Publish {
                topic: topic.to_owned(),
                source: Arc::new(source),
            },
            Err(_) => PgBusError::Unresponsive {
                action: "pg_notify",
                limit,
            },
        };
        self.discard(&publisher);
        Err(outcome)
    }

    /// Publishes `payload` on `topic` from `client`, typically the caller's transaction: the
    /// server sends the notification when that transaction commits, and never if it rolls
    /// back, so the write and its announcement cannot part.
    ///
    /// # Errors
    ///
    /// [`PgBusError::PayloadTooLarge`] and [`PgBusError::PayloadContainsNul`] before anything
    /// is sent; [`PgBusError::Publish`] when the statement fails.
    ///
    /// ```no_run
    /// use fixpoint::bus::PgBus;
    ///
    /// # async fn example(db: &mut tokio_postgres::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let transaction = db.transaction().await?;
    /// transaction.execute("INSERT INTO answers VALUES (7, 'staging')", &[]).await?;
    /// PgBus::publish_in(&transaction, "answers/7", "staging").await?;
    /// transaction.commit().await?; // the notification leaves now
    /// # Ok(()) }
    /// ```
    pub async fn publish_in(
        client: &impl GenericClient,
        topic: &str,
        payload: &str,
    ) -> Result<(), PgBusError> {
        check_payload(topic, payload)?;
        let channel = channel_name(topic);
        let params: [(&(dyn ToSql + Sync), Type); 2] =
            [(&channel.as_ref(), Type::TEXT), (&payload, Type::TEXT)];
        // `query_typed`: one round trip, no statement prepared (`execute_typed` is younger than
        // the tokio-postgres this crate accepts).
        client
            .query_typed(NOTIFY, &params)
            .await
            .map(drop)
            .map_err(|source| PgBusError::Publish {
                topic: topic.to_owned(),
                source: Arc::new(source),
            })
    }

    /// The number of subscriptions open on `topic` in this process.
    #[must_use]
    pub fn subscribers(&self, topic: &str) -> usize {
        self.shared
            .local
            .subscribers(&channel_name(topic).into_owned())
    }

    /// The number of channels the listening connection listens to (or will again, once
    /// reconnected): exactly the channels with a subscription, once the listener has caught
    /// up with the last ones dropped.
    #[must_use]
    pub fn listening(&self) -> usize {
        self.shared.gauges.listening.load(Ordering::Relaxed)
    }

    /// How many times the listening connection was lost and reopened.
    #[must_use]
    pub fn reconnections(&self) -> u64 {
        self.shared.gauges.reconnections.load(Ordering::Relaxed)
    }

    /// Whether the listening connection is up now.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.shared.gauges.connected.load(Ordering::Relaxed)
    }

    /// Tells the listener that a subscription of `channel` left.
    pub(super) fn left(&self, channel: String) {
        if self.shared.local.subscribers(&channel) == 0 {
            // A stopped listener has nothing to unlisten.
            let _ = self.shared.commands.send(Command::Unlisten { channel });
        }
    }

    /// The publishing connection, opened if there is none.
    async fn publisher(&self) -> Result<Arc<Publisher>, PgBusError> {
        if let Some(publisher) = self.current_publisher() {
            return Ok(publisher);
        }
        let _one_at_a_time = self.shared.reconnecting.lock().await;
        if let Some(publisher) = self.current_publisher() {
            return Ok(publisher);
        }
        let connect = |source| PgBusError::Connect {
            source: Arc::new(source),
        };
        let (client, connection) = self.shared.config.connect(NoTls).await.map_err(connect)?;
        // The connection task ends with the connection; `is_closed` then tells the client.
        tokio::spawn(connection);
        let notify = client
            .prepare_typed(NOTIFY, &[Type::TEXT, Type::TEXT])
            .await
            .map_err(connect)?;
        let publisher = Arc::new(Publisher { client, notify });
        *self.publisher_slot() = Some(Arc::clone(&publisher));
        Ok(publisher)
    }

    fn current_publisher(&self) -> Option<Arc<Publisher>> {
        let slot = self.publisher_slot();
        slot.as_ref()
            .filter(|publisher| !publisher.client.is_closed())
            .cloned()
    }

    /// Drops `failed` so that the next publish opens a fresh connection.
    fn discard(&self, failed: &Arc<Publisher>) {
        let mut slot = self.publisher_slot();
        if slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, failed))
        {
            *slot = None;
        }
    }

    fn publisher_slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Publisher>>> {
        self.shared
            .publisher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

const NOTIFY: &str = "SELECT pg_notify($1, $2)";

fn check_payload(topic: &str, payload: &str) -> Result<(), PgBusError> {
    if payload.len() > PAYLOAD_MAX_BYTES {
        return Err(PgBusError::PayloadTooLarge {
            topic: topic.to_owned(),
            bytes: payload.len(),
        });
    }
    if let Some(at) = payload.find('\0') {
        return Err(PgBusError::PayloadContainsNul {
            topic: topic.to_owned(),
            at,
        });
    }
    Ok(())
}

impl std::fmt::Debug for PgBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBus")
            .field("listening", &self.listening())
            .field("connected", &self.is_connected())
            .field("reconnections", &self.reconnections())
            .finish_non_exhaustive()
    }
}
