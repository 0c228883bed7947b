//! What a store is asked to do: checked transitions and reasons, in batches, and which
//! finished rows it may forget.

use core::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(doc)]
use super::contract::StatusStore;
use crate::lifecycle::{IllegalTransition, Lifecycle, State};

/// A move the lifecycle allows: the only kind of transition a store is ever asked to apply.
///
/// The one constructor runs [`Lifecycle::check_transition`], so a backend cannot forget the
/// check: an undeclared edge never reaches it.
///
/// ```
/// use fixpoint::{terminal_state, Lifecycle, store::Transition};
///
/// #[terminal_state]
/// pub enum Job {
///     #[initial] #[to(Done, Failed)] Queued,
///     #[terminal]                    Done,
///     #[terminal] #[abandoned]       Failed,
/// }
///
/// let state = |name| Job::parse_state(name).unwrap();
/// assert!(Transition::new(state("Queued"), state("Done")).is_ok());
/// assert!(Transition::new(state("Done"), state("Queued")).is_err());
/// ```
pub struct Transition<L> {
    from: State<L>,
    to: State<L>,
}

impl<L: Lifecycle> Transition<L> {
    /// The move from `from` to `to`, if the lifecycle declares it (or it abandons a
    /// non-terminal state).
    ///
    /// # Errors
    ///
    /// [`IllegalTransition`], naming the edges `from` may take.
    #[inline]
    pub fn new(from: State<L>, to: State<L>) -> Result<Self, IllegalTransition> {
        L::check_transition(from, to)?;
        Ok(Transition { from, to })
    }

    /// The state the row must be in.
    #[must_use]
    pub fn from(&self) -> State<L> {
        self.from
    }

    /// The state the row moves to.
    #[must_use]
    pub fn to(&self) -> State<L> {
        self.to
    }
}

impl<L> Clone for Transition<L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for Transition<L> {}

impl<L: Lifecycle> fmt::Debug for Transition<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.from.name(), self.to.name())
    }
}

/// The longest reason a row keeps, in bytes: a longer one is cut at a character boundary and
/// ends with a marker saying how long it was (an error that dumps a 10 MB response body
/// keeps its first 16 KiB).
pub const MAX_REASON_BYTES: usize = 16 * 1024;

/// Makes `reason` fit for every store, in place: each NUL byte (which PostgreSQL's text
/// refuses) becomes `␀` (U+2400), and a reason longer than [`MAX_REASON_BYTES`] is cut at a
/// character boundary and marked `… [cut: N bytes in all]`, the whole within the limit.
/// Anything else (text decoded lossily, with its U+FFFD) is kept as it is. Every
/// [`RowWrite::reason`] goes through it.
///
/// ```
/// use fixpoint::{store::{sanitize_reason, MAX_REASON_BYTES}};
///
/// let mut reason = String::from("bad\0byte");
/// sanitize_reason(&mut reason);
/// assert_eq!(reason, "bad\u{2400}byte");
///
/// let mut dump = "x".repeat(10 << 20);
/// sanitize_reason(&mut dump);
/// assert!(dump.len() <= MAX_REASON_BYTES);
/// assert!(dump.ends_with("… [cut: 10485760 bytes in all]"));
/// ```
pub fn sanitize_reason(reason: &mut String) {
    if reason.contains('\0') {
        *reason = reason.replace('\0', "\u{2400}");
    }
    if reason.len() > MAX_REASON_BYTES {
        let marker = format!("… [cut: {} bytes in all]", reason.len());
        let mut keep = MAX_REASON_BYTES - marker.len();
        while !reason.is_char_boundary(keep) {
            keep -= 1;
        }
        reason.truncate(keep);
        reason.push_str(&marker);
    }
}

/// One write of a batch: a new row, a transition of a row, or the reason it ended where it
/// did.
///
/// A supervisor makes these for its tasks; a store applies them with
/// [`StatusStore::apply`], which names the ones it refused.
///
/// ```
/// use fixpoint::{terminal_state, Lifecycle, store::{MemoryStore, RowWrite, StatusStore, StoreError, Transition}};
///
/// #[terminal_state]
/// pub enum Job {
///     #[initial] #[to(Done, Failed)] Queued,
///     #[terminal]                    Done,
///     #[terminal] #[abandoned]       Failed,
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryStore::<Job>::new();
/// store.insert("job-1", "me").await.unwrap();
/// let state = |name| Job::parse_state(name).unwrap();
/// let done = Transition::new(state("Queued"), state("Done")).unwrap();
/// let refused = store
///     .apply("me", &[RowWrite::transition("job-1", done), RowWrite::reason("job-2", "why")])
///     .await
///     .unwrap();
/// assert_eq!(refused, [(1, StoreError::NotFound { id: "job-2".into() })]);
/// # }
/// ```
pub struct RowWrite<L> {
    id: Arc<str>,
    change: RowChange<L>,
}

/// What a [`RowWrite`] changes.
///
/// A store's [`apply`](StatusStore::apply) handles every variant; more may come, so a store
/// written outside this crate matches with a wildcard arm that fails the batch with a
/// [`StoreError::Backend`](super::StoreError::Backend) naming the write it does not know.
#[non_exhaustive]
pub enum RowChange<L> {
    /// Creates the row in the lifecycle's `#[initial]` state, owned by the batch's writer;
    /// refused with [`StoreError::IdTaken`](super::StoreError::IdTaken) when a row with the id
    /// exists, finished or not. A supervisor's spawns reach the store as these, in the same
    /// batches as its tasks' transitions.
    Insert,
    /// Compare-and-set of the row's status.
    Transition(Transition<L>),
    /// Sets the row's reason.
    Reason(String),
}

impl<L> RowWrite<L> {
    /// A new row `id` in the lifecycle's initial state (see [`RowChange::Insert`]).
    #[inline]
    pub fn insert(id: impl Into<Arc<str>>) -> Self {
        RowWrite {
            id: id.into(),
            change: RowChange::Insert,
        }
    }

    /// A transition of row `id`.
    #[inline]
    pub fn transition(id: impl Into<Arc<str>>, transition: Transition<L>) -> Self {
        RowWrite {
            id: id.into(),
            change: RowChange::Transition(transition),
        }
    }

    /// The reason of row `id`, made fit for every store (see [`sanitize_reason`]): a NUL
    /// byte becomes `␀` and a reason over [`MAX_REASON_BYTES`] is cut with a marker, so that
    /// no error text, however odd, can make a backend refuse the write.
    pub fn reason(id: impl Into<Arc<str>>, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        sanitize_reason(&mut reason);
        RowWrite {
            id: id.into(),
            change: RowChange::Reason(reason),
        }
    }

    /// The row's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The row's id, as the write shares it.
    pub(crate) fn shared_id(&self) -> &Arc<str> {
        &self.id
    }

    /// What the write changes.
    #[must_use]
    pub fn change(&self) -> &RowChange<L> {
        &self.change
    }
}

impl<L> Clone for RowChange<L> {
    fn clone(&self) -> Self {
        match self {
            RowChange::Insert => RowChange::Insert,
            RowChange::Transition(transition) => RowChange::Transition(*transition),
            RowChange::Reason(reason) => RowChange::Reason(reason.clone()),
        }
    }
}

impl<L> Clone for RowWrite<L> {
    fn clone(&self) -> Self {
        RowWrite {
            id: Arc::clone(&self.id),
            change: self.change.clone(),
        }
    }
}

impl<L: Lifecycle> fmt::Debug for RowChange<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowChange::Insert => f.write_str("Insert"),
            RowChange::Transition(transition) => {
                f.debug_tuple("Transition").field(transition).finish()
            }
            RowChange::Reason(reason) => f.debug_tuple("Reason").field(reason).finish(),
        }
    }
}

impl<L: Lifecycle> fmt::Debug for RowWrite<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowWrite")
            .field("id", &self.id)
            .field("change", &self.change)
            .finish()
    }
}

/// Which terminal rows a store may forget. Non-terminal rows are never pruned: they are the
/// tasks in flight, and the orphans a crashed process left for `reconcile`.
///
/// A terminal row is pruned when it is older than `max_age` (by the time it turned
/// terminal), or when more than `max_rows` terminal rows are kept (oldest first). Pruning
/// frees the id: ids are refused while their row exists, not after.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::store::Retention;
///
/// // Keep a day of finished rows, and never more than 100,000 of them.
/// let retention = Retention::default();
/// assert_eq!(retention.max_age, Some(Duration::from_secs(24 * 3600)));
/// assert_eq!(retention.max_rows, Some(100_000));
///
/// // An audit table: keep every finished row.
/// assert_eq!(Retention::keep_all(), Retention { max_age: None, max_rows: None });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How long a terminal row is kept after it turned terminal; `None`: no age limit.
    pub max_age: Option<Duration>,
    /// How many terminal rows are kept at most, the newest; `None`: no count limit.
    pub max_rows: Option<u64>,
}

impl Retention {
    /// Keeps every terminal row: the table grows with every task, for audits that archive it
    /// themselves.
    #[must_use]
    pub const fn keep_all() -> Self {
        Retention {
            max_age: None,
            max_rows: None,
        }
    }

    /// The rows of the store that this policy keeps, as a cutoff: rows that turned terminal
    /// before `now_millis - max_age` go.
    pub(crate) fn cutoff(&self, now_millis: i64) -> Option<i64> {
        let age = self.max_age?;
        let age = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        Some(now_millis.saturating_sub(age))
    }
}

impl Retention {
    /// A day of finished rows, at most 100,000 of them ([`Retention::default`]).
    pub const DEFAULT: Retention = Retention {
        max_age: Some(Duration::from_secs(24 * 3600)),
        max_rows: Some(100_000),
    };
}

impl Default for Retention {
    /// [`Retention::DEFAULT`]: a day of finished rows, at most 100,000 of them.
    fn default() -> Self {
        Self::DEFAULT
    }
}
