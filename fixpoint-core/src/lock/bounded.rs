//! Waits with a bound, and waits declared unbounded on purpose.

use core::future::IntoFuture;
use std::time::Duration;

use super::scope::VisiblyBounded;

/// Awaits `future` for at most `limit`: a wait `#[lock_scope(no_unbounded_await)]` accepts
/// while a permit is held. The output is `Err(Elapsed)` when the limit passed first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
///
/// let answer = fixpoint::lock::bounded(Duration::from_millis(5), std::future::pending::<u8>()).await;
/// assert!(answer.is_err());
/// # }
/// ```
pub fn bounded<F: IntoFuture>(limit: Duration, future: F) -> tokio::time::Timeout<F::IntoFuture> {
    tokio::time::timeout(limit, future)
}

/// `future.bounded(limit)`: the method form of [`bounded`].
pub trait BoundedExt: IntoFuture + Sized {
    /// Awaits `self` for at most `limit`.
    fn bounded(self, limit: Duration) -> tokio::time::Timeout<Self::IntoFuture> {
        tokio::time::timeout(limit, self)
    }
}

impl<F: IntoFuture> BoundedExt for F {}

impl<F> VisiblyBounded for tokio::time::Timeout<F> {}
impl VisiblyBounded for tokio::time::Sleep {}

/// Declares a wait that may be unbounded although a permit is held, with the reason, where the
/// wait is made. The attribute lets it through; the reason stays in the code, and with the
/// `tracing` feature each such wait emits an event carrying it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let ready = fixpoint::lock::allow_unbounded("the peer's handshake has its own deadline", async { 7 });
/// assert_eq!(ready.reason(), "the peer's handshake has its own deadline");
/// assert_eq!(ready.await, 7);
/// # }
/// ```
pub fn allow_unbounded<F: IntoFuture>(reason: &'static str, future: F) -> Exempt<F> {
    Exempt { reason, future }
}

/// A wait declared unbounded on purpose; see [`allow_unbounded`].
#[derive(Debug)]
#[must_use = "an exception does nothing until it is awaited"]
pub struct Exempt<F> {
    reason: &'static str,
    future: F,
}

impl<F> Exempt<F> {
    /// Why the wait may be unbounded.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl<F: IntoFuture> IntoFuture for Exempt<F> {
    type Output = F::Output;
    type IntoFuture = F::IntoFuture;

    fn into_future(self) -> Self::IntoFuture {
        #[cfg(feature = "tracing")]
        tracing::debug!(
            reason = self.reason,
            "declared unbounded wait while a permit may be held"
        );
        self.future.into_future()
    }
}

impl<F> VisiblyBounded for Exempt<F> {}
