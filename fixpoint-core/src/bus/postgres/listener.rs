//! The task that owns the listening connection: it runs `LISTEN` and `UNLISTEN` in the order
//! subscriptions ask, hands each notification to the local bus, and when the connection is
//! lost, reconnects with backoff, listens again to every live channel and tells each
//! subscription to re-run its re-check.

use std::collections::HashSet;
use std::future::poll_fn;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use super::channel::quoted;
use super::{Item, PgBusError, PgBusOptions};
use crate::bus::Bus;

/// What subscriptions ask of the listener.
pub(super) enum Command {
    /// Listen to `channel` (if not already) and answer once the server confirmed it.
    Listen {
        channel: String,
        done: oneshot::Sender<Result<(), PgBusError>>,
    },
    /// The last subscription of `channel` may have left: stop listening if none came back.
    Unlisten { channel: String },
}

/// What the listener tells the rest of the bus, read without asking it.
#[derive(Default)]
pub(super) struct Gauges {
    pub(super) listening: AtomicUsize,
    pub(super) reconnections: AtomicU64,
    pub(super) connected: AtomicBool,
}

/// One open listening connection: the client that sends `LISTEN`s, and the task that drives
/// the connection and hands its notifications to the local bus.
pub(super) struct Link {
    client: Client,
    driver: JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        // A link given up for being unresponsive may still have a socket: close it.
        self.driver.abort();
    }
}

/// Opens a connection whose notifications go to `local`.
pub(super) async fn open(config: &Config, local: &Bus<String, Item>) -> Result<Link, PgBusError> {
    let (client, mut connection) =
        config
            .connect(NoTls)
            .await
            .map_err(|source| PgBusError::Connect {
                source: Arc::new(source),
            })?;
    let local = local.clone();
    let driver = tokio::spawn(async move {
        // `None` or an error is the end of the connection; the listener sees the task end.
        while let Some(Ok(message)) = poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(notification) = message {
                let payload = notification.payload().to_owned();
                // Nobody subscribed (any more) is not an error: UNLISTEN is on its way.
                let _ = local.publish(&notification.channel().to_owned(), Item::Event(payload));
            }
        }
    });
    Ok(Link { client, driver })
}

/// Why the listener stopped serving a link.
enum Ended {
    /// The connection broke or stopped answering: reconnect.
    Lost,
    /// Every handle on the bus is gone: stop.
    Shutdown,
}

/// The listener's state; [`Listener::run`] is its whole life.
pub(super) struct Listener {
    pub(super) config: Config,
    pub(super) options: PgBusOptions,
    pub(super) local: Bus<String, Item>,
    pub(super) commands: mpsc::UnboundedReceiver<Command>,
    pub(super) gauges: Arc<Gauges>,
    /// The channels listened to on the current connection, or to listen to again on the next;
    /// exactly those with a subscriber or a subscribe in progress (its reaper is `Unlisten`).
    pub(super) listened: HashSet<String>,
    /// `Listen` commands to answer after the next connection attempt.
    pub(super) pending: Vec<(String, oneshot::Sender<Result<(), PgBusError>>)>,
}

impl Listener {
    /// Serves `link`, then reconnects whenever it is lost, until the bus is dropped.
    pub(super) async fn run(mut self, link: Link) {
        // However the task ends (the bus dropped, its runtime shut down), waits end with an
        // error instead of hanging.
        let _closer = CloseOnDrop(self.local.clone());
        let mut link = link;
        loop {
            self.gauges.connected.store(true, Ordering::Relaxed);
            let ended = self.serve(&mut link).await;
            self.gauges.connected.store(false, Ordering::Relaxed);
            drop(link);
            match ended {
                Ended::Shutdown => return,
                Ended::Lost => match self.reconnect().await {
                    Some(next) => link = next,
                    None => return,
                },
            }
        }
    }

    /// Runs the subscriptions' commands on `link` until it is lost or the bus is dropped.
    async fn serve(&mut self, link: &mut Link) -> Ended {
        loop {
            let event = tokio::select! {
                _ = &mut link.driver => Wake::Lost,
                command = self.commands.recv() => Wake::Command(command),
                () = crate::uptime::timekeeper::sleep(self.options.heartbeat.max(MIN_HEARTBEAT)) => Wake::Idle,
            };
            let served = match event {
                Wake::Lost => Err(Lost),
                Wake::Command(None) => return Ended::Shutdown,
                Wake::Command(Some(command)) => self.apply(&link.client, command).await,
                // An idle connection is asked a question: a peer gone silent (a cut link, no
                // reset) is found within a heartbeat and a statement limit, not at the TCP
                // timeout.
                Wake::Idle => self.execute(&link.client, "").await.map_err(|_| Lost),
            };
            if served.is_err() {
                return Ended::Lost;
            }
        }
    }

    /// Runs one command on a live connection.
    async fn apply(&mut self, client: &Client, command: Command) -> Result<(), Lost> {
        match command {
            Command::Listen { channel, done } => {
                if self.listened.contains(&channel) {
                    let _ = done.send(Ok(()));
                    return Ok(());
                }
                match self
                    .execute(client, &format!("LISTEN {}", quoted(&channel)))
                    .await
                {
                    Ok(()) => {
                        self.listened.insert(channel);
                        self.count();
                        let _ = done.send(Ok(()));
                    }
                    Err(Failure::Lost) => {
                        // Listened to with every other channel once reconnected.
                        self.pending.push((channel, done));
                        return Err(Lost);
                    }
                    Err(Failure::Refused(source)) => {
                        let source = Arc::new(source);
                        let _ = done.send(Err(PgBusError::Listen { channel, source }));
                    }
                }
            }
            Command::Unlisten { channel } => {
                if self.forget(&channel) {
                    let unlisten = format!("UNLISTEN {}", quoted(&channel));
                    if let Err(Failure::Lost) = self.execute(client, &unlisten).await {
                        return Err(Lost);
                    }
                }
            }
        }
        Ok(())
    }

    /// Drops `channel` from the listened set if no subscription holds it; says whether it did.
    fn forget(&mut self, channel: &String) -> bool {
        let idle = self.local.subscribers(channel) == 0 && self.listened.remove(channel);
        self.count();
        idle
    }

    /// Publishes the size of the listened set, and gives back the memory of a crowd of
    /// channels that left, so the set is bounded by what is alive, not by its peak.
    fn count(&mut self) {
        let alive = self.listened.len();
        if self.listened.capacity() > 64 && alive * 4 < self.listened.capacity() {
            self.listened.shrink_to(alive * 2);
        }
        self.gauges.listening.store(alive, Ordering::Relaxed);
    }

    /// Runs `statement` within the bus's statement limit, kept by the timekeeper: a paused
    /// test clock that jumps while the server answers does not make it look unresponsive.
    async fn execute(&self, client: &Client, statement: &str) -> Result<(), Failure> {
        match crate::uptime::timekeeper::timeout(
            self.options.statement_timeout,
            client.batch_execute(statement),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) if error.is_closed() || client.is_closed() => Err(Failure::Lost),
            Ok(Err(error)) => Err(Failure::Refused(error)),
            Err(_) => Err(Failure::Lost),
        }
    }

    /// Reconnects with backoff; answers the subscribes that arrived meanwhile after each
    /// attempt. `None` when the bus was dropped meanwhile.
    async fn reconnect(&mut self) -> Option<Link> {
        let mut backoff = self.options.reconnect_min.max(Duration::from_millis(1));
        loop {
            let attempt = self.relink().await;
            match attempt {
                Ok(link) => {
                    self.answer_pending(|| Ok(()));
                    self.gauges.reconnections.fetch_add(1, Ordering::Relaxed);
                    // Anything published while no connection listened is only in the
                    // publisher's tables now: every subscription re-runs its re-check.
                    for channel in &self.listened {
                        let _ = self.local.publish(channel, Item::Resync);
                    }
                    return Some(link);
                }
                Err(error) => self.answer_pending(|| Err(error.clone())),
            }
            if !self.pause(jittered(backoff)).await {
                return None;
            }
            backoff = (backoff * 2).min(self.options.reconnect_max);
        }
    }

    /// One attempt: connect, then listen to every channel that still has a subscriber.
    async fn relink(&mut self) -> Result<Link, PgBusError> {
        let pending: Vec<String> = self.pending.iter().map(|(c, _)| c.clone()).collect();
        self.listened.extend(pending);
        let stale: Vec<String> = self
            .listened
            .iter()
            .filter(|channel| self.local.subscribers(channel) == 0)
            .cloned()
            .collect();
        for channel in &stale {
            self.listened.remove(channel);
        }
        self.count();
        let link = open(&self.config, &self.local).await?;
        let channels: Vec<&String> = self.listened.iter().collect();
        for batch in channels.chunks(LISTEN_BATCH) {
            let statement: String = batch
                .iter()
                .map(|channel| format!("LISTEN {};", quoted(channel)))
                .collect();
            match self.execute(&link.client, &statement).await {
                Ok(()) => {}
                Err(Failure::Refused(source)) => {
                    return Err(PgBusError::Listen {
                        channel: batch
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        source: Arc::new(source),
                    });
                }
                Err(Failure::Lost) => {
                    return Err(PgBusError::Unresponsive {
                        action: "LISTEN after reconnecting",
                        limit: self.options.statement_timeout,
                    });
                }
            }
        }
        Ok(link)
    }

    fn answer_pending(&mut self, outcome: impl Fn() -> Result<(), PgBusError>) {
        for (_, done) in self.pending.drain(..) {
            let _ = done.send(outcome());
        }
    }

    /// Waits `delay` between attempts, running the commands that arrive meanwhile. A subscribe
    /// cuts the wait short (it gets the outcome of the very next attempt). `false` when the
    /// bus was dropped.
    async fn pause(&mut self, delay: Duration) -> bool {
        let sleep = crate::uptime::timekeeper::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                command = self.commands.recv() => match command {
                    None => return false,
                    Some(Command::Listen { channel, done }) => {
                        self.pending.push((channel, done));
                        return true;
                    }
                    Some(Command::Unlisten { channel }) => {
                        self.forget(&channel);
                    }
                },
            }
        }
    }
}

/// The shortest heartbeat: a zero one would keep the connection busy with questions.
const MIN_HEARTBEAT: Duration = Duration::from_millis(10);

/// How many channels one `LISTEN` batch names after a reconnect, to keep statements small.
const LISTEN_BATCH: usize = 512;

/// Why a statement of the listener did not run.
enum Failure {
    /// The connection broke or did not answer in time.
    Lost,
    /// The server answered with an error.
    Refused(tokio_postgres::Error),
}

/// What woke the listener.
enum Wake {
    Lost,
    Command(Option<Command>),
    Idle,
}

/// The connection was found lost while a statement ran.
struct Lost;

/// `delay`, give or take a quarter, so that a fleet that lost its server does not come back
/// in one wave.
fn jittered(delay: Duration) -> Duration {
    let random = RandomState::new().hash_one(std::time::Instant::now());
    let quarter = delay / 4;
    let spread = u32::try_from(random % 1_001).unwrap_or(0);
    delay - quarter + quarter * 2 * spread / 1_000
}

/// Closes the local bus when the listener ends.
struct CloseOnDrop(Bus<String, Item>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}
