//! Runtime of [`fixpoint`](https://docs.rs/fixpoint): the types that generated code and users
//! share. Depend on the `fixpoint` facade, not on this crate: the facade re-exports everything
//! here, and pins the macro crate that generates code against it.
//!
//! The root holds what every user of `#[terminal_state]` touches ([`Tracked`], [`Terminal`],
//! [`Event`], [`Recorder`], [`Lifecycle`], [`State`]); the rest lives in one module per
//! capability: [`lock`], [`task`], [`restart`], [`store`], [`bus`], `process`, [`uptime`],
//! [`invariant`] and `testing`; [`lifecycle`] holds the machinery generated code builds on.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

#[cfg(feature = "process")]
extern crate self as fixpoint;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod bus;
pub mod invariant;
pub mod lifecycle;
pub mod lock;
#[cfg(all(feature = "process", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "process", target_os = "linux"))))]
pub mod process;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod restart;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod store;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod task;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod uptime;
// The synchronization our own concurrency code uses: `std`'s, or loom's or shuttle's for the
// model checks.
#[cfg(feature = "tokio")]
mod sync;

pub use lifecycle::{
    Abandonment, Active, Edge, Event, EventKind, Final, IllegalTransition, Lifecycle, NoRecorder,
    Recorded, Recorder, RecorderSlot, Resume, ResumeError, State, StateMarker, Terminal, Tracked,
    UnknownState, View,
};

#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use lifecycle::TracingRecorder;

/// Readers of outside input that are not public API, for the fuzz targets in `fuzz/` alone
/// (`cargo fuzz` builds every crate with `--cfg fuzzing`). Not an API: absent from every
/// other build.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __fuzzing {
    /// `/proc/<pid>/stat`: pid, name and state, when the text holds a whole line.
    #[cfg(all(feature = "process", target_os = "linux"))]
    #[must_use]
    pub fn proc_stat(text: &str) -> Option<(u32, String, char)> {
        crate::process::procfs::parse_stat(text).map(|stat| (stat.pid, stat.name, stat.state))
    }

    /// `/proc/<pid>/cmdline` as a shell would read it.
    #[cfg(all(feature = "process", target_os = "linux"))]
    #[must_use]
    pub fn command_line(raw: &[u8]) -> String {
        crate::process::procfs::command_line(raw)
    }

    /// A `PgBus` channel as the quoted identifier its `LISTEN` names.
    #[cfg(feature = "postgres")]
    #[must_use]
    pub fn quoted_channel(channel: &str) -> String {
        crate::bus::postgres::channel::quoted(channel)
    }
}

#[doc(hidden)]
pub mod __private {
    pub use crate::invariant::{
        Checked, DebugProbe, Invariant, Invariants, Rejected, ViaDebug, ViaNothing, Violation,
    };
    pub use crate::lifecycle::spec::{Spec, StateSpec};
    pub use crate::lifecycle::{
        Active, Declared, Edge, Final, Finished, IsActive, IsFinal, Ix, Lifecycle, Marker,
        NoRecorder, RecorderSlot, Resume, State, StateMarker, Terminal, Tracked, Transit,
        Unfinished,
    };
    pub use crate::lifecycle::{
        I0, I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13, I14, I15, I16, I17, I18, I19,
        I20, I21, I22, I23, I24, I25, I26, I27, I28, I29, I30, I31, I32, I33, I34, I35, I36, I37,
        I38, I39, I40, I41, I42, I43, I44, I45, I46, I47, I48, I49, I50, I51, I52, I53, I54, I55,
        I56, I57, I58, I59, I60, I61, I62, I63,
    };
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub use crate::lock::{Entered, HandOff, Semaphore};
    pub use crate::lock::{LockScope, checkpoint, checkpoint_after, verify_bounded};
    pub use core::option::Option::{self, None, Some};
    // The watched child's lifecycle, declared in this crate, has its diagram drawn by it.
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub use fixpoint_macros::lifecycle_doc;

    /// The state with declaration index `index` of lifecycle `L`.
    #[must_use]
    pub const fn state<L: Lifecycle>(index: u16) -> State<L> {
        State::from_index(index)
    }

    /// A typed machine in state `S`, rebuilt from a status read back from storage.
    pub fn resume<L, S, T, R>(value: T, data: S::Data, recorder: R) -> Tracked<L, S, T, R>
    where
        L: Lifecycle,
        S: Active + StateMarker<Lifecycle = L>,
        R: RecorderSlot<L>,
    {
        Tracked::from_parts(value, data, recorder)
    }

    /// A terminal proof rebuilt from a terminal status read back from storage.
    pub fn terminal<L: Lifecycle, T>(status: L, value: T) -> Terminal<L, T> {
        Terminal::from_parts(status, value)
    }
}
