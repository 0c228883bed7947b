//! Where a tracked machine reports its transitions and its abandonment.

use core::fmt;
use std::sync::Arc;

use super::{Lifecycle, State};

/// Receives every transition of the machines created with it, and the `#[abandoned]` state when
/// one of them is dropped before reaching a terminal state.
///
/// Implemented for closures `Fn(Event<L>)` and for `Arc<R>`, so `Arc<dyn Recorder<L> + Send +
/// Sync>` shares one recorder between many machines.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use fixpoint::{terminal_state, Event, Tracked};
///
/// #[terminal_state]
/// enum Job {
///     #[initial] #[to(Done, Failed)] Queued,
///     #[terminal] Done,
///     #[terminal] #[abandoned] Failed,
/// }
///
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&log);
/// let job = Tracked::<Job, _, _>::new("nightly report")
///     .with_recorder(move |event: Event<Job>| sink.lock().unwrap().push(event.to_string()));
/// drop(job); // the owner is lost before a terminal state
/// assert_eq!(*log.lock().unwrap(), ["Job: Queued -> Failed (abandoned: dropped)"]);
/// ```
pub trait Recorder<L: Lifecycle> {
    /// Called once per transition, and once when a machine is abandoned.
    fn record(&self, event: Event<L>);
}

impl<L: Lifecycle, F: Fn(Event<L>) + ?Sized> Recorder<L> for F {
    fn record(&self, event: Event<L>) {
        self(event);
    }
}

impl<L: Lifecycle, R: Recorder<L> + ?Sized> Recorder<L> for Arc<R> {
    fn record(&self, event: Event<L>) {
        (**self).record(event);
    }
}

/// One recorded step of a machine of lifecycle `L`.
#[non_exhaustive]
pub struct Event<L> {
    /// The state left.
    pub from: State<L>,
    /// The state entered (the `#[abandoned]` state for an abandonment).
    pub to: State<L>,
    /// A declared transition, or an abandonment and its cause.
    pub kind: EventKind,
}

impl<L: Lifecycle> Event<L> {
    pub(crate) fn transition(from: State<L>, to: State<L>) -> Self {
        Event {
            from,
            to,
            kind: EventKind::Transition,
        }
    }

    pub(crate) fn abandoned(from: State<L>, cause: Abandonment) -> Self {
        Event {
            from,
            to: L::abandoned(),
            kind: EventKind::Abandoned(cause),
        }
    }

    /// Whether this event records an abandonment.
    #[must_use]
    pub fn is_abandonment(&self) -> bool {
        matches!(self.kind, EventKind::Abandoned(_))
    }
}

impl<L> Clone for Event<L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for Event<L> {}

impl<L> PartialEq for Event<L> {
    fn eq(&self, other: &Self) -> bool {
        (self.from, self.to, self.kind) == (other.from, other.to, other.kind)
    }
}

impl<L> Eq for Event<L> {}

impl<L: Lifecycle> fmt::Debug for Event<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("kind", &self.kind)
            .finish()
    }
}

/// Prints `Lifecycle: From -> To`, with the cause of an abandonment.
impl<L: Lifecycle> fmt::Display for Event<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", L::name(), self.from, self.to)?;
        match self.kind {
            EventKind::Transition => Ok(()),
            EventKind::Abandoned(cause) => write!(f, " (abandoned: {cause})"),
        }
    }
}

/// What an [`Event`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A declared transition, taken by the owner.
    Transition,
    /// The owner was lost before a terminal state; the `#[abandoned]` state stands in.
    Abandoned(Abandonment),
}

/// Why a machine was abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Abandonment {
    /// Dropped while its thread was panicking.
    Panicked,
    /// Dropped without a panic: an early return or `?`, a cancelled future, a forgotten owner.
    Dropped,
    /// Given up on purpose with [`Tracked::abandon`](super::Tracked::abandon).
    Explicit,
}

impl fmt::Display for Abandonment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Abandonment::Panicked => "panicked",
            Abandonment::Dropped => "dropped",
            Abandonment::Explicit => "explicit",
        })
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoRecorder {}
    impl<R> Sealed for super::Recorded<R> {}
}

/// The recorder slot of a [`Tracked`](super::Tracked): [`NoRecorder`] or [`Recorded<R>`].
/// Sealed; name it only in bounds.
pub trait RecorderSlot<L: Lifecycle>: sealed::Sealed {
    #[doc(hidden)]
    fn __record(&self, event: Event<L>);

    /// Moves the recorder out, leaving a slot that records nothing.
    #[doc(hidden)]
    #[must_use]
    fn __take(&mut self) -> Self;

    #[doc(hidden)]
    fn __abandon(&self, from: State<L>);
}

/// The slot of a machine created without a recorder: zero-sized, and its drop check compiles
/// to nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NoRecorder;

impl<L: Lifecycle> RecorderSlot<L> for NoRecorder {
    #[inline(always)]
    fn __record(&self, _: Event<L>) {}

    #[inline(always)]
    fn __take(&mut self) -> Self {
        NoRecorder
    }

    #[inline(always)]
    fn __abandon(&self, _: State<L>) {}
}

/// The slot of a machine created with recorder `R`.
pub struct Recorded<R>(Option<R>);

impl<R> Recorded<R> {
    pub(crate) fn new(recorder: R) -> Self {
        Recorded(Some(recorder))
    }
}

impl<R> fmt::Debug for Recorded<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Recorded"
        } else {
            "Recorded(taken)"
        })
    }
}

impl<L: Lifecycle, R: Recorder<L>> RecorderSlot<L> for Recorded<R> {
    fn __record(&self, event: Event<L>) {
        if let Some(recorder) = &self.0 {
            recorder.record(event);
        }
    }

    fn __take(&mut self) -> Self {
        Recorded(self.0.take())
    }

    fn __abandon(&self, from: State<L>) {
        if let Some(recorder) = &self.0 {
            let cause = if std::thread::panicking() {
                Abandonment::Panicked
            } else {
                Abandonment::Dropped
            };
            recorder.record(Event::abandoned(from, cause));
        }
    }
}

/// A recorder that emits a `tracing` event per transition (level `INFO`) and per abandonment
/// (level `WARN`), with the fields `lifecycle`, `from`, `to` and, for abandonments, `cause`.
#[cfg(feature = "tracing")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingRecorder;

#[cfg(feature = "tracing")]
impl<L: Lifecycle> Recorder<L> for TracingRecorder {
    fn record(&self, event: Event<L>) {
        let (lifecycle, from, to) = (L::name(), event.from.name(), event.to.name());
        match event.kind {
            EventKind::Transition => {
                tracing::info!(lifecycle, from, to, "lifecycle transition");
            }
            EventKind::Abandoned(cause) => {
                tracing::warn!(lifecycle, from, to, %cause, "lifecycle abandoned");
            }
        }
    }
}
