//! What a supervised task's body may return.

use core::fmt;

use crate::lifecycle::{Lifecycle, State, Terminal};

/// What a supervised task's body may return: the proof that its lifecycle finished, or an
/// error (recorded as the reason of the `#[abandoned]` state its dropped machine recorded).
#[diagnostic::on_unimplemented(
    message = "a supervised task must finish its lifecycle, but its body returns `{Self}`",
    label = "not a `Terminal` proof",
    note = "return the `Terminal` that a transition into a #[terminal] state produces (or \
            `machine.abandon()`), or a `Result` of one whose error is recorded as the reason"
)]
pub trait TaskOutput<L: Lifecycle>: Send + 'static {
    /// The terminal state reached, or the error's text.
    ///
    /// # Errors
    ///
    /// The error's text.
    fn into_result(self) -> Result<State<L>, String>;
}

impl<L: Lifecycle + Send, T: Send + 'static> TaskOutput<L> for Terminal<L, T> {
    fn into_result(self) -> Result<State<L>, String> {
        Ok(self.state())
    }
}

impl<L, T, E> TaskOutput<L> for Result<Terminal<L, T>, E>
where
    L: Lifecycle + Send,
    T: Send + 'static,
    E: fmt::Display + Send + 'static,
{
    fn into_result(self) -> Result<State<L>, String> {
        self.map(|terminal| terminal.state())
            .map_err(|error| error.to_string())
    }
}
