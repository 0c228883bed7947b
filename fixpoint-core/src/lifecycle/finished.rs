//! A finished machine (a [`Terminal`]) in the type system, and the transitions' one body.
//!
//! Generated code only: `Finished` is the state a `Terminal` is checked in, so that a transition
//! called on it fails on the lifecycle's "a finished machine has no transitions" message;
//! `Transit` carries the provided bodies of every generated transition method.

use super::*;

/// The type-level state of a [`Terminal`] proof, for diagnostics only: `#[terminal_state]`
/// implements the transitions trait for `Terminal` in this state, and every transition's bound
/// then fails on the lifecycle's own "a finished machine has no transitions" message, instead of
/// rustc's "no method named `to_running`". `X` is what the message's bound is about.
#[doc(hidden)]
pub struct Finished<L, X>(PhantomData<(L, X)>);

// Never read as a state: no `Tracked` is ever in it (it is not `Active`), and no edge to it is
// ever declared.
impl<L: Lifecycle, X: 'static> Declared for Finished<L, X> {
    type Of = Marker<L, core::convert::Infallible, IsFinished, I0>;

    fn __into_status(data: core::convert::Infallible) -> L {
        match data {}
    }
}

/// Every state of `L` that still has transitions, and never a [`Terminal`]: the bound that a
/// transition called on a finished machine fails on, with the message that says why.
///
/// `#[terminal_state]` implements each transition method for a `Terminal` too, so that the call
/// resolves and then fails here, instead of as rustc's "no method named `to_running`".
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{L}` is finished: a `Terminal<{L}, _>` is a machine in a terminal state, and a \
               finished machine has no transitions",
    label = "a finished `{L}` has no transitions",
    note = "take this transition before the one into a terminal state; a `Terminal` can only be \
            read: `status()`, `state()`, `into_value()`"
)]
pub trait Unfinished<L>: 'static {}

// Not recommended, so that a `Terminal` is reported as not `Unfinished` (the message above),
// rather than as not `Active`.
#[diagnostic::do_not_recommend]
impl<L: Lifecycle, S: Active + StateMarker<Lifecycle = L>> Unfinished<L> for S {}

/// A finished machine "may go" to every state of its lifecycle as far as [`Edge`] knows, if
/// `X: Unfinished<L>`: for a `Terminal` that never holds, and the message is the one above.
impl<L, X, N> Edge<N> for Finished<L, X>
where
    L: Lifecycle,
    X: Unfinished<L> + 'static,
    N: StateMarker<Lifecycle = L>,
{
}

/// A typed machine of lifecycle `L` in type-level state `S`: what the transition methods that
/// `#[terminal_state]` declares are provided for.
///
/// The generated transitions trait has this as its supertrait, and each of its methods is a
/// provided one that calls [`__transition`](Transit::__transition) or
/// [`__finish`](Transit::__finish), so the generated impls for [`Tracked`] and [`Terminal`]
/// are empty: the bodies are type-checked once per lifecycle, in the trait, instead of once
/// more in an impl. `Tracked` implements it with its own transitions; `Terminal` (in state
/// [`Finished`]) with bodies that never run, because every method's bound fails on it first.
#[doc(hidden)]
pub trait Transit<L, S, T, R>: Sized {
    /// [`Tracked::transition`].
    fn __transition<N>(self, data: N::Data) -> Tracked<L, N, T, R>
    where
        L: Lifecycle,
        R: RecorderSlot<L>,
        S: Edge<N>,
        N: Active + StateMarker<Lifecycle = L>;

    /// [`Tracked::finish`].
    fn __finish<N>(self, data: N::Data) -> Terminal<L, T>
    where
        L: Lifecycle,
        S: Edge<N>,
        N: Final + StateMarker<Lifecycle = L>;
}

impl<L, S, T, R> Transit<L, S, T, R> for Tracked<L, S, T, R>
where
    L: Lifecycle,
    S: Active + StateMarker<Lifecycle = L>,
    R: RecorderSlot<L>,
{
    #[inline]
    fn __transition<N>(self, data: N::Data) -> Tracked<L, N, T, R>
    where
        L: Lifecycle,
        R: RecorderSlot<L>,
        S: Edge<N>,
        N: Active + StateMarker<Lifecycle = L>,
    {
        self.transition(data)
    }

    #[inline]
    fn __finish<N>(self, data: N::Data) -> Terminal<L, T>
    where
        L: Lifecycle,
        S: Edge<N>,
        N: Final + StateMarker<Lifecycle = L>,
    {
        self.finish(data)
    }
}

/// Never called: on a `Terminal` every transition's bound asks `Terminal<L, ()>:`
/// [`Unfinished<L>`], which never holds, so the call does not compile.
impl<L: Lifecycle, T> Transit<L, Finished<L, Terminal<L, ()>>, T, NoRecorder> for Terminal<L, T> {
    fn __transition<N>(self, _: N::Data) -> Tracked<L, N, T, NoRecorder>
    where
        L: Lifecycle,
        NoRecorder: RecorderSlot<L>,
        Finished<L, Terminal<L, ()>>: Edge<N>,
        N: Active + StateMarker<Lifecycle = L>,
    {
        unreachable!("a finished `{}` has no transitions", L::name())
    }

    fn __finish<N>(self, _: N::Data) -> Terminal<L, T>
    where
        L: Lifecycle,
        Finished<L, Terminal<L, ()>>: Edge<N>,
        N: Final + StateMarker<Lifecycle = L>,
    {
        unreachable!("a finished `{}` has no transitions", L::name())
    }
}
