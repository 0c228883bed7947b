//! Helpers shared by the fault-injection tests.
#![allow(dead_code)] // each test file uses the helpers it needs

/// A tiny deterministic generator, so a failing seed can be replayed.
pub struct XorShift(pub u64);

impl XorShift {
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Keeps the expected `"injected panic"`s out of the test output; any other panic still
/// prints.
pub fn quiet_injected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"injected panic") {
            default(info);
        }
    }));
}

pub mod example;
#[cfg(feature = "tokio")]
mod flaky;
#[cfg(feature = "tokio")]
#[allow(unused_imports)] // each test file uses the helpers it needs
pub use flaky::Flaky;
