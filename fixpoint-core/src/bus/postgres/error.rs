//! What can go wrong with a [`PgBus`](super::PgBus), and a driver error told with its causes.

use std::sync::Arc;
use std::time::Duration;

/// Why a [`PgBus`](super::PgBus) could not connect, subscribe or publish.
///
/// ```
/// use fixpoint::{bus::{PgBus, PgBusError}};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let refused = PgBus::connect("not a url").await.unwrap_err();
/// assert!(matches!(refused, PgBusError::Config { .. }));
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PgBusError {
    /// The connection string did not parse.
    #[error("the PostgreSQL connection string does not parse: {}", chain(source))]
    Config {
        /// The parser's error.
        #[source]
        source: Arc<tokio_postgres::Error>,
    },
    /// The server could not be reached, or refused the connection.
    #[error(
        "cannot connect to PostgreSQL: {}; check that the server runs at that address and \
         accepts this role and database",
        chain(source)
    )]
    Connect {
        /// The driver's error.
        #[source]
        source: Arc<tokio_postgres::Error>,
    },
    /// The server refused to listen to a channel.
    #[error(
        "the server refused to LISTEN to {channel:?}: {}; LISTEN needs a primary, not a hot \
         standby",
        chain(source)
    )]
    Listen {
        /// The channel (or the channels of one batch, after a reconnect).
        channel: String,
        /// The server's error.
        #[source]
        source: Arc<tokio_postgres::Error>,
    },
    /// `pg_notify` failed.
    #[error(
        "publishing on topic {topic:?} failed: {}; if the connection was lost, whether the \
         notification left is unknown, and the subscribers' re-check covers it",
        chain(source)
    )]
    Publish {
        /// The topic.
        topic: String,
        /// The driver's or the server's error.
        #[source]
        source: Arc<tokio_postgres::Error>,
    },
    /// The server did not answer in time; the connection was dropped and is reopened.
    #[error(
        "the server did not answer {action} within {limit:?}; the connection is dropped and \
         reopened (for a slower server, give PgBusOptions::statement_timeout a longer limit)"
    )]
    Unresponsive {
        /// What was asked.
        action: &'static str,
        /// [`PgBusOptions::statement_timeout`](super::PgBusOptions::statement_timeout).
        limit: Duration,
    },
    /// The payload is too long for `NOTIFY`.
    #[error(
        "the payload on topic {topic:?} has {bytes} bytes, above NOTIFY's limit of 7999; store \
         the event in a table and publish its key, which the subscriber reads"
    )]
    PayloadTooLarge {
        /// The topic.
        topic: String,
        /// The payload's length in bytes.
        bytes: usize,
    },
    /// The payload contains a NUL, which PostgreSQL text cannot hold.
    #[error(
        "the payload on topic {topic:?} has a NUL byte at {at}, which PostgreSQL text cannot \
         hold; encode it (JSON, base64) or publish its key"
    )]
    PayloadContainsNul {
        /// The topic.
        topic: String,
        /// The byte offset of the first NUL.
        at: usize,
    },
    /// The listener task stopped: the runtime it was spawned on shut down.
    #[error("the bus's listener task has stopped (its runtime shut down); connect a new PgBus")]
    Stopped,
}

/// A driver error with its causes: tokio-postgres from 0.7.15 says only "db error" and keeps
/// the server's message in its source (earlier releases print the causes themselves: those
/// are not repeated).
pub(super) fn chain(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(next) = cause {
        let said = next.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = next.source();
    }
    text
}
