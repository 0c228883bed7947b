//! `#[invariant]` over arbitrary and mutated source text (seeded with the ui cases): never a panic;
//! every expansion parses as Rust or carries a `compile_error!`.
#![no_main]

use fixpoint_fuzz::{Attribute, over_source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        over_source(Attribute::Invariant, text);
    }
});
