//! "The value, printed with `Debug` when it implements it", decided at the generated call
//! site by method resolution (the autoref probe), with no bound on the user's type.

use core::fmt::Debug;

/// Wraps a reference for [`ViaDebug`] / [`ViaNothing`] to describe.
pub struct DebugProbe<'a, T>(pub &'a T);

/// Chosen when `T: Debug`.
pub trait ViaDebug {
    /// The value's `Debug` text.
    fn describe(&self) -> Option<String>;
}

impl<T: Debug> ViaDebug for DebugProbe<'_, T> {
    fn describe(&self) -> Option<String> {
        Some(format!("{:?}", self.0))
    }
}

/// Chosen otherwise, one autoref later.
pub trait ViaNothing {
    /// Nothing to print.
    fn describe(&self) -> Option<String>;
}

impl<T> ViaNothing for &DebugProbe<'_, T> {
    fn describe(&self) -> Option<String> {
        None
    }
}
