#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub use fixpoint_core::*;
pub use fixpoint_macros::*;

/// Items that generated code names through `::fixpoint::__private`: the runtime's, and the
/// macro that draws a lifecycle's diagram for rustdoc. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use fixpoint_core::__private::*;
    pub use fixpoint_macros::lifecycle_doc;
}
