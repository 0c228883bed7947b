#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use fixpoint_core::*;
pub use fixpoint_macros::*;

/// Items that generated code names through `::fixpoint::__private`. Not a public API: anything
/// here may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use fixpoint_core::__private::*;
}
