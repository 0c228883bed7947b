#![doc = include_str!("guide.md")]

// Lifecycles as type-state machines.
//
// `#[terminal_state]` turns an enum into a lifecycle: its variants are the states, `#[to(..)]`
// declares the legal transitions, and the generated code makes every other transition a
// compile error. This module holds what the generated code builds on:
//
// - [`Tracked<L, S, T>`](Tracked): a value `T` whose lifecycle `L` is in state `S`. Its
// transition methods exist only for declared edges, and dropping it before it reaches a
// terminal state records the `#[abandoned]` state.
// - [`Terminal<L, T>`](Terminal): the proof that a lifecycle finished; only a transition into a
// `#[terminal]` state produces one, and nothing can follow it.
// - [`Lifecycle`] and [`State`]: the runtime view of the same machine, for code that reads a
// status back from storage.
// - [`Recorder`]: where transitions and abandonments are reported.

mod error;
mod finished;
mod marker;
mod recorder;
pub(crate) mod spec;
mod tracked;

use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;

pub use error::{IllegalTransition, ResumeError, UnknownState};
// The marker machinery (`Declared`, `Marker`, `I0`..`I63`, ...), as if declared here.
pub use finished::{Finished, Transit, Unfinished};
pub use marker::*;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use recorder::TracingRecorder;
pub use recorder::{Abandonment, Event, EventKind, NoRecorder, Recorded, Recorder, RecorderSlot};
pub use tracked::{Terminal, Tracked, View};

use spec::Spec;

/// The runtime view of a lifecycle declared with `#[terminal_state]`.
///
/// Implemented by the generated code for the annotated enum, never by hand. It answers the
/// questions storage code asks about a status it did not create: is it terminal, may it go there,
/// and which typed machine does it resume as.
///
/// ```
/// use fixpoint::{terminal_state, Lifecycle};
///
/// #[terminal_state]
/// enum Job {
///     #[initial] #[to(Running, Failed)] Queued,
///     #[to(Done, Failed)] Running,
///     #[terminal] Done,
///     #[terminal] #[abandoned] Failed,
/// }
///
/// let queued = Job::Queued.state();
/// let done = Job::Done.state();
/// assert!(!Job::can_transition(queued, done));
/// assert!(Job::Done.is_terminal());
/// assert_eq!(Job::abandoned().name(), "Failed");
/// assert!(Job::mermaid().contains("Queued --> Running"));
/// ```
pub trait Lifecycle: Sized + 'static {
    /// The declared machine. Read it through the methods below.
    #[doc(hidden)]
    const SPEC: &'static Spec;

    /// The marker of the `#[initial]` state.
    type Initial: Active + StateMarker<Lifecycle = Self>;

    /// The state this status is in.
    fn state(&self) -> State<Self>;

    /// The status value of a state that carries no data.
    #[doc(hidden)]
    fn __unit(state: State<Self>) -> Option<Self>;

    /// The `#[abandoned]` status value: `#[terminal_state]` refuses an abandoned state that
    /// carries data, so it is always a unit status.
    #[doc(hidden)]
    fn __abandoned() -> Self {
        match Self::__unit(Self::abandoned()) {
            Some(status) => status,
            None => unreachable!(
                "the abandoned state `{}` of `{}` carries data; #[terminal_state] refuses that",
                Self::abandoned().name(),
                Self::name()
            ),
        }
    }

    /// The lifecycle's name: the enum's identifier.
    fn name() -> &'static str {
        Self::SPEC.name
    }

    /// The lifecycle's name in snake case, as `#[terminal_state]` spells it for the generated
    /// module (`HTTPJob` -> `http_job`): what storage names its table after.
    fn snake_name() -> &'static str {
        Self::SPEC.snake_name
    }

    /// The `#[initial]` state.
    fn initial() -> State<Self> {
        State::from_index(Self::SPEC.initial)
    }

    /// The `#[abandoned]` state: recorded when an owner is lost before a terminal state.
    fn abandoned() -> State<Self> {
        State::from_index(Self::SPEC.abandoned)
    }

    /// Every state, in declaration order.
    fn states() -> impl ExactSizeIterator<Item = State<Self>> + Clone {
        (0..Self::SPEC.states.len()).map(|i| State::from_index(i as u16))
    }

    /// Every declared transition `(from, to)`, in declaration order. The implicit move of a
    /// non-terminal state to the `#[abandoned]` state is not listed unless it was declared.
    fn transitions() -> impl Iterator<Item = (State<Self>, State<Self>)> + Clone {
        Self::states().flat_map(|from| from.successors().map(move |to| (from, to)))
    }

    /// Whether `#[to(..)]` declares `from -> to`.
    fn can_transition(from: State<Self>, to: State<Self>) -> bool {
        from.can_transition_to(to)
    }

    /// Checks a transition that storage is asked to record: a declared edge, or the move of a
    /// non-terminal state to the `#[abandoned]` state.
    ///
    /// # Errors
    ///
    /// [`IllegalTransition`] naming both states and the ones `from` may go to.
    #[inline]
    fn check_transition(from: State<Self>, to: State<Self>) -> Result<(), IllegalTransition> {
        let abandoning = !from.is_terminal() && to == Self::abandoned();
        if from.can_transition_to(to) || abandoning {
            Ok(())
        } else {
            Err(IllegalTransition::new(from, to))
        }
    }

    /// Whether this status is `#[terminal]`.
    fn is_terminal(&self) -> bool {
        self.state().is_terminal()
    }

    /// The declared machine as a Mermaid `stateDiagram-v2`.
    fn mermaid() -> &'static str {
        Self::SPEC.mermaid
    }

    /// The state named `name`, as a status column would store it.
    ///
    /// # Errors
    ///
    /// [`UnknownState`] when no state has that name; it lists the ones that exist.
    fn parse_state(name: &str) -> Result<State<Self>, UnknownState> {
        State::parse(name)
    }
}

/// Rebuilding a typed machine from a stored status: what `#[terminal_state(resume)]` adds to a
/// lifecycle.
///
/// A service that keeps statuses in a table and picks work up again after a restart reads a
/// row's status back and resumes the machine it stands for: a [`Tracked`] in that state (with
/// its data), or a [`Terminal`] proof. [`Supervisor::reconcile`](crate::task::Supervisor::reconcile)
/// and the compile-time `testing::transition_suite` need it. A lifecycle that is never read back from storage does without the generated
/// `<Enum>Resumed` enum and its conversions, and compiles faster.
///
/// ```
/// use fixpoint::{terminal_state, Lifecycle, Resume};
///
/// #[terminal_state(resume)]
/// pub enum Job {
///     #[initial] #[to(Running, Failed)] Queued,
///     #[to(Done, Failed)]               Running,
///     #[terminal]                       Done,
///     #[terminal] #[abandoned]          Failed,
/// }
///
/// match Job::Running.resume("job-7") {
///     JobResumed::Running(job) => drop(job.to_done()),
///     _ => unreachable!("a running status resumes as a running machine"),
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "lifecycle `{Self}` cannot be resumed from a stored status",
    label = "`{Self}` was declared without `resume`",
    note = "resuming a machine from a stored row is generated on request: write \
            `#[terminal_state(resume)]` on `{Self}`"
)]
pub trait Resume: Lifecycle {
    /// The generated enum over every typed state (`<Enum>Resumed`): what
    /// [`resume`](Resume::resume) returns.
    type Resumed<T, R: RecorderSlot<Self>>;

    #[doc(hidden)]
    fn __resume<T, R: RecorderSlot<Self>>(self, value: T, recorder: R) -> Self::Resumed<T, R>;

    /// Rebuilds the typed machine this status stands for, with no recorder: a
    /// [`Tracked`] for a non-terminal state (carrying the state's data), a [`Terminal`] for a
    /// terminal one.
    fn resume<T>(self, value: T) -> Self::Resumed<T, NoRecorder> {
        self.__resume(value, NoRecorder)
    }

    /// Like [`resume`](Resume::resume), reporting later transitions to `recorder`.
    fn resume_recorded<T, R: Recorder<Self>>(
        self,
        value: T,
        recorder: R,
    ) -> Self::Resumed<T, Recorded<R>> {
        self.__resume(value, Recorded::new(recorder))
    }

    /// Rebuilds the typed machine from a state name alone, as a plain status column stores it.
    ///
    /// # Errors
    ///
    /// [`ResumeError::Unknown`] for a name that is not a state, and
    /// [`ResumeError::NeedsData`] for a state whose variant carries data: resume those from the
    /// enum value with [`resume`](Resume::resume).
    fn resume_named<T>(name: &str, value: T) -> Result<Self::Resumed<T, NoRecorder>, ResumeError> {
        let state = State::<Self>::parse(name)?;
        let status = Self::__unit(state).ok_or_else(|| ResumeError::needs_data(state))?;
        Ok(status.resume(value))
    }
}

/// A zero-sized, type-level name of one state of lifecycle [`Lifecycle`](StateMarker::Lifecycle).
///
/// Generated by `#[terminal_state]` in the lifecycle's module (`project_status::Running`).
/// Implemented for every marker through what the macro declares about it ([`Declared`]).
pub trait StateMarker: Sized + 'static {
    /// The lifecycle this state belongs to.
    type Lifecycle: Lifecycle;
    /// What must be supplied to enter this state: `()` for a unit variant, the field's type for
    /// a variant with one field, a tuple of the field types otherwise.
    type Data;
    /// The runtime id of this state.
    const STATE: State<Self::Lifecycle>;

    /// The status value of this state holding `data`.
    fn into_status(data: Self::Data) -> Self::Lifecycle;
}

/// A state that is not terminal: a [`Tracked`] may be in it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an active state: a `Tracked` is a machine still on its way",
    label = "a `Tracked` in `{Self}`",
    note = "a `Tracked`'s state is one of the non-terminal markers `#[terminal_state]` generates \
            in the lifecycle's module (`job::Running` for variant `Running` of `enum Job`)",
    note = "a machine that reached a terminal state is a `Terminal` (`Terminal<Job, T>` for \
            `enum Job`): the transition into that state returns it, and nothing follows it"
)]
pub trait Active: StateMarker {}

/// A `#[terminal]` state: entering it produces a [`Terminal`], and nothing follows it.
pub trait Final: StateMarker {}

/// `Self -> To` is a declared transition. Generated for each `#[to(..)]` target; never for a
/// terminal `Self`.
///
/// It is the bound of every transition, the generated methods (`to_running()`) as much as
/// [`Tracked::transition`] in generic code, so an undeclared one reads, wherever it is tried:
///
/// ```text
/// error[E0277]: illegal transition: `Queued` has no declared edge to `job::Done`
///    |     let done = job.to_done();
///    |                    ^^^^^^^ `Queued` may not go to `job::Done`
/// help: the following other types implement trait `Edge<To>`
///    |     #[initial] #[to(Running, Failed)] Queued,
///    |                                       ^^^^^^ `Queued` implements `Edge<Running>`
///    |                                              `Queued` implements `Edge<job::Failed>`
/// ```
#[diagnostic::on_unimplemented(
    message = "illegal transition: `{Self}` has no declared edge to `{To}`",
    label = "`{Self}` may not go to `{To}`",
    note = "a `#[terminal_state]` enum declares every legal transition in the `#[to(..)]` of the \
            state it leaves: the edges `{Self}` has are listed below",
    note = "if `{Self}` should be able to go to `{To}`, name the target in that `#[to(..)]`; \
            otherwise take a path the lifecycle declares"
)]
pub trait Edge<To: StateMarker>: StateMarker {}

/// The runtime id of one state of lifecycle `L`: what a status column stores.
///
/// Cheap to copy and compare; prints as the state's name.
///
/// ```
/// use fixpoint::{terminal_state, Lifecycle, State};
///
/// #[terminal_state]
/// enum Door {
///     #[initial] #[to(Open, Broken)] Closed,
///     #[to(Closed, Broken)] Open,
///     #[terminal] #[abandoned] Broken,
/// }
///
/// let open = State::<Door>::parse("Open").unwrap();
/// assert_eq!(open.to_string(), "Open");
/// assert!(open.can_transition_to(Door::Closed.state()));
/// assert!(State::<Door>::parse("Ajar").is_err());
/// ```
pub struct State<L> {
    index: u16,
    lifecycle: PhantomData<fn() -> L>,
}

impl<L: Lifecycle> State<L> {
    pub(crate) const fn from_index(index: u16) -> Self {
        State {
            index,
            lifecycle: PhantomData,
        }
    }

    #[inline]
    fn spec(self) -> &'static spec::StateSpec {
        &L::SPEC.states[usize::from(self.index)]
    }

    /// The state named `name`.
    ///
    /// # Errors
    ///
    /// [`UnknownState`] when `L` has no such state.
    pub fn parse(name: &str) -> Result<Self, UnknownState> {
        L::states()
            .find(|state| state.name() == name)
            .ok_or_else(|| UnknownState::new::<L>(name))
    }

    /// The variant's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The position of the variant in the enum, from 0.
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.index)
    }

    /// Whether the state is `#[terminal]`.
    #[must_use]
    #[inline]
    pub fn is_terminal(self) -> bool {
        self.spec().terminal
    }

    /// Whether this is the `#[initial]` state.
    #[must_use]
    pub fn is_initial(self) -> bool {
        self.index == L::SPEC.initial
    }

    /// Whether this is the `#[abandoned]` state.
    #[must_use]
    pub fn is_abandoned(self) -> bool {
        self.index == L::SPEC.abandoned
    }

    /// Whether entering this state needs data (its variant has fields).
    #[must_use]
    pub fn carries_data(self) -> bool {
        self.spec().carries_data
    }

    /// The states `#[to(..)]` lets this one go to, in declared order.
    pub fn successors(self) -> impl ExactSizeIterator<Item = State<L>> + Clone {
        self.spec().to.iter().map(|&index| State::from_index(index))
    }

    /// Whether `#[to(..)]` declares `self -> to`.
    #[must_use]
    #[inline]
    pub fn can_transition_to(self, to: State<L>) -> bool {
        // A plain scan: the lists are a few entries long, too short for `contains`'s SIMD set-up
        // (measured: it cost every supervised write ~20 instructions more).
        #[allow(clippy::manual_contains)]
        self.spec().to.iter().any(|&index| index == to.index)
    }
}

impl<L> Clone for State<L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for State<L> {}

impl<L> PartialEq for State<L> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}

impl<L> Eq for State<L> {}

impl<L> PartialOrd for State<L> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<L> Ord for State<L> {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.index.cmp(&other.index)
    }
}

impl<L> Hash for State<L> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.index.hash(state);
    }
}

impl<L: Lifecycle> fmt::Debug for State<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", L::name(), self.name())
    }
}

impl<L: Lifecycle> fmt::Display for State<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
