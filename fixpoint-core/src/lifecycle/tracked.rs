//! The typed machine and its terminal proof.

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use super::recorder::{Abandonment, Event, NoRecorder, Recorded, Recorder, RecorderSlot};
use super::{Active, Edge, Final, Lifecycle, State, StateMarker};

/// A value `T` whose lifecycle `L` is in state `S`.
///
/// The owner moves it on with the transition methods `#[terminal_state]` generates
/// (`job.to_running()`); they exist only for the edges `#[to(..)]` declares, and each consumes
/// the machine, so a state cannot be used after it was left. A transition into a `#[terminal]`
/// state returns a [`Terminal`] proof instead. Shared access (`&Tracked`, `Arc<Tracked>`,
/// [`View`]) reaches `T` through `Deref` but can never move the machine, so only the owner can
/// close it.
///
/// Dropping a `Tracked` (a panic, an early `?`, a cancelled future) reports the `#[abandoned]`
/// state to the machine's recorder. With no recorder (`R =` [`NoRecorder`]) the wrapper is
/// exactly the size of `T` and its state data, and the drop check compiles to nothing.
///
/// The accessors are associated functions (`Tracked::state(&job)`) so that they never shadow a
/// method of `T`.
///
/// ```
/// use fixpoint::{terminal_state, Tracked, Terminal};
///
/// #[terminal_state]
/// enum Job {
///     #[initial] #[to(Running, Failed)] Queued,
///     #[to(Done, Failed)] Running,
///     #[terminal] Done,
///     #[terminal] #[abandoned] Failed,
/// }
///
/// let job = Tracked::<Job, _, _>::new(String::from("report"));
/// let job = job.to_running();
/// assert_eq!(job.len(), 6); // reads reach the value
/// let done: Terminal<Job, String> = job.to_done();
/// assert_eq!(done.state().name(), "Done");
/// ```
///
/// Only declared transitions compile:
///
/// ```compile_fail,E0277
/// # use fixpoint::{terminal_state, Tracked};
/// # #[terminal_state]
/// # enum Job {
/// #     #[initial] #[to(Running, Failed)] Queued,
/// #     #[to(Done, Failed)] Running,
/// #     #[terminal] Done,
/// #     #[terminal] #[abandoned] Failed,
/// # }
/// let job = Tracked::<Job, _, _>::new(());
/// let done = job.to_done(); // `Queued` may go to `Running` or `Failed` only
/// ```
///
/// A state is gone once left:
///
/// ```compile_fail,E0382
/// # use fixpoint::{terminal_state, Tracked};
/// # #[terminal_state]
/// # enum Job {
/// #     #[initial] #[to(Running, Failed)] Queued,
/// #     #[to(Done, Failed)] Running,
/// #     #[terminal] Done,
/// #     #[terminal] #[abandoned] Failed,
/// # }
/// let queued = Tracked::<Job, _, _>::new(());
/// let running = queued.to_running();
/// let failed = queued.to_failed(); // `queued` was moved by the first transition
/// ```
///
/// Only the owner can close; shared holders reach the value, never the transitions:
///
/// ```compile_fail,E0507
/// # use std::sync::Arc;
/// # use fixpoint::{terminal_state, Tracked};
/// # #[terminal_state]
/// # enum Conn {
/// #     #[initial] #[to(Open, Closed)] Connecting,
/// #     #[to(Closed)] Open,
/// #     #[terminal] #[abandoned] Closed,
/// # }
/// fn sharer(conn: Arc<Tracked<Conn, conn::Open, String>>) {
///     let _closed = conn.to_closed(); // cannot move out of an `Arc`
/// }
/// ```
pub struct Tracked<L, S, T, R = NoRecorder>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    value: T,
    data: S::Data,
    armed: Armed<L, S, R>,
}

/// Holds the recorder and reports the abandonment when dropped armed.
///
/// A separate field, so that `Tracked` itself has no `Drop` and its value can be moved out
/// by a transition; the transition takes the recorder first, which disarms this guard.
struct Armed<L, S, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    recorder: R,
    state: PhantomData<fn() -> S>,
}

impl<L, S, R> Drop for Armed<L, S, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    #[inline]
    fn drop(&mut self) {
        self.recorder.__abandon(S::STATE);
    }
}

impl<L, T> Tracked<L, L::Initial, T>
where
    L: Lifecycle,
{
    /// Starts a machine in the `#[initial]` state, holding `value`, with no recorder.
    ///
    /// For an initial state that carries data, use [`new_with`](Tracked::new_with).
    #[must_use]
    pub fn new(value: T) -> Self
    where
        L::Initial: StateMarker<Data = ()>,
    {
        Tracked::from_parts(value, (), NoRecorder)
    }

    /// Starts a machine in the `#[initial]` state, holding `value` and the state's `data`.
    #[must_use]
    pub fn new_with(value: T, data: <L::Initial as StateMarker>::Data) -> Self {
        Tracked::from_parts(value, data, NoRecorder)
    }
}

impl<L, S, T> Tracked<L, S, T>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
{
    /// Reports every later transition, and the abandonment if the machine is dropped before a
    /// terminal state, to `recorder`.
    #[must_use]
    pub fn with_recorder<Q: Recorder<L>>(self, recorder: Q) -> Tracked<L, S, T, Recorded<Q>> {
        let (value, data, NoRecorder) = self.into_parts();
        Tracked::from_parts(value, data, Recorded::new(recorder))
    }
}

impl<L, S, T, R> Tracked<L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    pub(crate) fn from_parts(value: T, data: S::Data, recorder: R) -> Self {
        Tracked {
            value,
            data,
            armed: Armed {
                recorder,
                state: PhantomData,
            },
        }
    }

    /// Moves the parts out and disarms the drop guard.
    fn into_parts(self) -> (T, S::Data, R) {
        let Tracked {
            value,
            data,
            mut armed,
        } = self;
        let recorder = armed.recorder.__take();
        (value, data, recorder)
    }

    /// Takes the declared transition `S -> N` into a non-terminal state, supplying `N`'s data.
    ///
    /// Generated methods (`to_running()`) call this; call it directly in code that is generic
    /// over states.
    pub fn transition<N>(self, data: N::Data) -> Tracked<L, N, T, R>
    where
        S: Edge<N>,
        N: Active + StateMarker<Lifecycle = L>,
    {
        let (value, _, recorder) = self.into_parts();
        recorder.__record(Event::transition(S::STATE, N::STATE));
        Tracked::from_parts(value, data, recorder)
    }

    /// Takes the declared transition `S -> N` into a terminal state, supplying `N`'s data, and
    /// returns the proof that the lifecycle finished.
    pub fn finish<N>(self, data: N::Data) -> Terminal<L, T>
    where
        S: Edge<N>,
        N: Final + StateMarker<Lifecycle = L>,
    {
        let (value, _, recorder) = self.into_parts();
        recorder.__record(Event::transition(S::STATE, N::STATE));
        Terminal::from_parts(N::into_status(data), value)
    }

    /// Gives the machine up on purpose: records the `#[abandoned]` state (cause
    /// [`Abandonment::Explicit`]) and returns its terminal proof.
    pub fn abandon(self) -> Terminal<L, T> {
        let (value, _, recorder) = self.into_parts();
        recorder.__record(Event::abandoned(S::STATE, Abandonment::Explicit));
        Terminal::from_parts(L::__abandoned(), value)
    }

    /// The current state.
    #[must_use]
    pub fn state(_this: &Self) -> State<L> {
        S::STATE
    }

    /// The data the current state was entered with (`()` for a state without data).
    #[must_use]
    pub fn data(this: &Self) -> &S::Data {
        &this.data
    }

    /// The current status as a value of the lifecycle enum, as storage records it.
    #[must_use]
    pub fn status(this: &Self) -> L
    where
        S::Data: Clone,
    {
        S::into_status(this.data.clone())
    }

    /// A shared, read-only view to hand out: it reaches the value but can never move the
    /// machine.
    #[must_use]
    pub fn view(this: &Self) -> View<'_, L, S, T, R> {
        View { tracked: this }
    }
}

impl<L, S, T, R> Deref for Tracked<L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<L, S, T, R> DerefMut for Tracked<L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<L, S, T, R> fmt::Debug for Tracked<L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    S::Data: fmt::Debug,
    T: fmt::Debug,
    R: RecorderSlot<L>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("state", &S::STATE)
            .field("data", &self.data)
            .field("value", &self.value)
            .finish()
    }
}

/// A borrowed, read-only view of a [`Tracked`] machine.
///
/// It derefs to the value, so reads and `&self` operations (a send on a connection) work, but
/// it has no transition, no `close`: hand it to code that must use a handle it does not own.
///
/// ```compile_fail,E0599
/// # use fixpoint::{terminal_state, Tracked, View};
/// # #[terminal_state]
/// # enum Conn {
/// #     #[initial] #[to(Open, Closed)] Connecting,
/// #     #[to(Closed)] Open,
/// #     #[terminal] #[abandoned] Closed,
/// # }
/// fn borrower(view: View<'_, Conn, conn::Open, String>) {
///     view.to_closed(); // a view cannot close the handle it sees
/// }
/// ```
pub struct View<'a, L, S, T, R = NoRecorder>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    tracked: &'a Tracked<L, S, T, R>,
}

impl<L, S, T, R> View<'_, L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    /// The state of the machine seen.
    #[must_use]
    pub fn state(_this: &Self) -> State<L> {
        S::STATE
    }

    /// The data of the state the machine is in.
    #[must_use]
    pub fn data(this: &Self) -> &S::Data {
        &this.tracked.data
    }
}

impl<L, S, T, R> Clone for View<'_, L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<L, S, T, R> Copy for View<'_, L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
}

impl<L, S, T, R> Deref for View<'_, L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    type Target = T;

    fn deref(&self) -> &T {
        &self.tracked.value
    }
}

impl<L, S, T, R> fmt::Debug for View<'_, L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    S::Data: fmt::Debug,
    T: fmt::Debug,
    R: RecorderSlot<L>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("View").field(self.tracked).finish()
    }
}

/// The proof that a lifecycle reached a `#[terminal]` state, holding the final status and the
/// value.
///
/// Only a transition into a terminal state (or [`Tracked::abandon`]) produces one, so a function
/// that returns `Terminal<L, T>` cannot return before its machine finished. It has no
/// transitions and does not deref to the value: a closed handle offers inspection only, and
/// [`into_value`](Terminal::into_value) ends the proof to take the value back.
///
/// ```compile_fail,E0308
/// # use fixpoint::{terminal_state, Tracked, Terminal};
/// # #[terminal_state]
/// # enum Job {
/// #     #[initial] #[to(Running, Failed)] Queued,
/// #     #[to(Done, Failed)] Running,
/// #     #[terminal] Done,
/// #     #[terminal] #[abandoned] Failed,
/// # }
/// fn run(job: Tracked<Job, job::Queued, ()>) -> Terminal<Job, ()> {
///     job.to_running() // still running: not a terminal proof
/// }
/// ```
pub struct Terminal<L, T> {
    status: L,
    value: T,
}

impl<L: Lifecycle, T> Terminal<L, T> {
    pub(crate) fn from_parts(status: L, value: T) -> Self {
        Terminal { status, value }
    }

    /// The terminal status, with the data of its variant.
    #[must_use]
    pub fn status(&self) -> &L {
        &self.status
    }

    /// The terminal state.
    #[must_use]
    pub fn state(&self) -> State<L> {
        self.status.state()
    }

    /// Whether the machine ended in the `#[abandoned]` state.
    #[must_use]
    pub fn is_abandoned(&self) -> bool {
        self.state().is_abandoned()
    }

    /// Ends the proof and hands the value back.
    #[must_use]
    pub fn into_value(self) -> T {
        self.value
    }

    /// Ends the proof and hands back the terminal status and the value.
    #[must_use]
    pub fn into_parts(self) -> (L, T) {
        (self.status, self.value)
    }
}

impl<L: Lifecycle + fmt::Debug, T: fmt::Debug> fmt::Debug for Terminal<L, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Terminal")
            .field("status", &self.status)
            .field("value", &self.value)
            .finish()
    }
}
