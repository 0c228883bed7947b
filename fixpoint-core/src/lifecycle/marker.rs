//! How `#[terminal_state]` declares a state marker: one impl of [`Declared`] whose associated
//! type is a [`Marker`] naming the lifecycle, data, kind and index, and the blanket impls that
//! derive [`StateMarker`], [`Active`] and [`Final`] from it.

use core::marker::PhantomData;

use super::{Active, Final, Lifecycle, State, StateMarker};

/// What `#[terminal_state]` declares about one state marker, in one associated type:
/// `Marker<Lifecycle, Data, Kind, Index>`. [`StateMarker`], and [`Active`] or [`Final`], follow
/// from it by the impls below, so a state costs the user's build one impl with one item instead
/// of two impls with three.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a state marker of a `#[terminal_state]` lifecycle",
    label = "not a state marker",
    note = "`#[terminal_state]` generates a marker per variant, in the lifecycle's module: \
            `job::Running` for variant `Running` of `enum Job`"
)]
pub trait Declared: Sized + 'static {
    /// `Marker<L, Data, IsActive or IsFinal, I3>`.
    type Of: MarkerInfo;

    /// [`StateMarker::into_status`]. Provided for a state without data (the lifecycle's value
    /// for it); `#[terminal_state]` implements it for each state that carries data.
    #[inline]
    fn __into_status(data: <Self::Of as MarkerInfo>::Data) -> <Self::Of as MarkerInfo>::Lifecycle {
        // `Data` is `()` for every state that takes this body.
        let _ = data;
        let state = State::from_index(<Self::Of as MarkerInfo>::INDEX);
        match <Self::Of as MarkerInfo>::Lifecycle::__unit(state) {
            Some(status) => status,
            None => unreachable!(
                "state `{}` of `{}` carries data and implements `__into_status` itself",
                state.name(),
                <Self::Of as MarkerInfo>::Lifecycle::name()
            ),
        }
    }
}

/// A state's declaration, as a type: lifecycle `L`, data `D`, kind `K` ([`IsActive`],
/// [`IsFinal`]) and declaration index `I` ([`StateIndex`]: `I3`, or `Ix<70>` past 63).
#[doc(hidden)]
pub struct Marker<L, D, K, I>(PhantomData<(L, D, K, I)>);

/// A declaration index as a type. The first 64 are plain types (`I0` to `I63`): a literal
/// const argument (`Ix<3>`) is an anonymous constant, which rustc type-checks and evaluates
/// as a body of its own, at every build of the user's crate.
#[doc(hidden)]
pub trait StateIndex {
    /// The index.
    const INDEX: u16;
}

/// A declaration index past 63.
#[doc(hidden)]
pub struct Ix<const N: u16>;

impl<const N: u16> StateIndex for Ix<N> {
    const INDEX: u16 = N;
}

macro_rules! indices {
    ($($name:ident = $index:literal),* $(,)?) => {
        $(
            #[doc(hidden)]
            pub struct $name;

            impl StateIndex for $name {
                const INDEX: u16 = $index;
            }
        )*
    };
}

indices!(
    I0 = 0,
    I1 = 1,
    I2 = 2,
    I3 = 3,
    I4 = 4,
    I5 = 5,
    I6 = 6,
    I7 = 7,
    I8 = 8,
    I9 = 9,
    I10 = 10,
    I11 = 11,
    I12 = 12,
    I13 = 13,
    I14 = 14,
    I15 = 15,
    I16 = 16,
    I17 = 17,
    I18 = 18,
    I19 = 19,
    I20 = 20,
    I21 = 21,
    I22 = 22,
    I23 = 23,
    I24 = 24,
    I25 = 25,
    I26 = 26,
    I27 = 27,
    I28 = 28,
    I29 = 29,
    I30 = 30,
    I31 = 31,
    I32 = 32,
    I33 = 33,
    I34 = 34,
    I35 = 35,
    I36 = 36,
    I37 = 37,
    I38 = 38,
    I39 = 39,
    I40 = 40,
    I41 = 41,
    I42 = 42,
    I43 = 43,
    I44 = 44,
    I45 = 45,
    I46 = 46,
    I47 = 47,
    I48 = 48,
    I49 = 49,
    I50 = 50,
    I51 = 51,
    I52 = 52,
    I53 = 53,
    I54 = 54,
    I55 = 55,
    I56 = 56,
    I57 = 57,
    I58 = 58,
    I59 = 59,
    I60 = 60,
    I61 = 61,
    I62 = 62,
    I63 = 63,
);

/// The kind of a non-terminal state's [`Marker`].
#[doc(hidden)]
pub struct IsActive;

/// The kind of a terminal state's [`Marker`].
#[doc(hidden)]
pub struct IsFinal;

/// The kind of [`Finished`], which is neither.
#[doc(hidden)]
pub struct IsFinished;

/// What a [`Marker`] declares.
#[doc(hidden)]
pub trait MarkerInfo {
    /// The lifecycle.
    type Lifecycle: Lifecycle;
    /// The state's data.
    type Data;
    /// [`IsActive`], [`IsFinal`] or [`IsFinished`].
    type Kind;
    /// The declaration index.
    const INDEX: u16;
}

impl<L: Lifecycle, D, K, I: StateIndex> MarkerInfo for Marker<L, D, K, I> {
    type Lifecycle = L;
    type Data = D;
    type Kind = K;
    const INDEX: u16 = I::INDEX;
}

// Not recommended, so that a type that is no marker is reported as not `StateMarker`.
#[diagnostic::do_not_recommend]
impl<S: Declared> StateMarker for S {
    type Lifecycle = <S::Of as MarkerInfo>::Lifecycle;
    type Data = <S::Of as MarkerInfo>::Data;
    const STATE: State<Self::Lifecycle> = State::from_index(<S::Of as MarkerInfo>::INDEX);

    #[inline]
    fn into_status(data: Self::Data) -> Self::Lifecycle {
        S::__into_status(data)
    }
}

// Not recommended, so that a terminal marker is reported as not `Active` (not as a mismatched
// kind), and the other way round.
#[diagnostic::do_not_recommend]
impl<S: Declared<Of: MarkerInfo<Kind = IsActive>>> Active for S {}

#[diagnostic::do_not_recommend]
impl<S: Declared<Of: MarkerInfo<Kind = IsFinal>>> Final for S {}
