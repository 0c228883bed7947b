#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use fixpoint_core::*;
pub use fixpoint_macros::*;
