//! The futures that wait on the timekeeper: [`Sleep`] and [`Timeout`], woken from its thread.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use super::{Action, KEEPER};
use crate::sync::Mutex;
use crate::sync::atomic::{AtomicBool, Ordering};

/// Whether a sleep's deadline has passed, and who to wake when it does.
#[derive(Default)]
pub(crate) struct Signal {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    pub(crate) fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn poll(&self, cx: &Context<'_>) -> Poll<()> {
        if self.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *waker {
            Some(waker) => waker.clone_from(cx.waker()),
            None => *waker = Some(cx.waker().clone()),
        }
        drop(waker);
        // Fired between the first look and the waker's registration: it found no waker.
        if self.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// Waits until `duration` has passed, on the timekeeper's clock: it fires whether or not a
/// runtime worker is free, and whatever `tokio::time::pause` did to the runtime's clock.
///
/// Any executor can await it (it needs no runtime). Dropping it cancels the timer.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let start = Instant::now();
/// fixpoint::uptime::timekeeper::sleep(Duration::from_millis(20)).await;
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// # }
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`, on the timekeeper's clock (see [`sleep`]).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let deadline = Instant::now() + Duration::from_millis(20);
/// let sleep = fixpoint::uptime::timekeeper::sleep_until(deadline);
/// assert_eq!(sleep.deadline(), deadline);
/// sleep.await;
/// assert!(Instant::now() >= deadline);
/// # }
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    let signal = Arc::new(Signal::default());
    let id = KEEPER.insert(deadline, Action::Wake(Arc::clone(&signal)));
    Sleep {
        signal,
        id,
        deadline,
    }
}

/// The future of [`sleep`] and [`sleep_until`].
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep {
    signal: Arc<Signal>,
    id: u64,
    deadline: Instant,
}

impl Sleep {
    /// Its deadline.
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether its deadline has passed (and its timer fired).
    #[must_use]
    pub fn is_elapsed(&self) -> bool {
        self.signal.fired.load(Ordering::Acquire)
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.signal.poll(cx)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if !self.is_elapsed() {
            KEEPER.cancel(self.id);
        }
    }
}

impl core::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("elapsed", &self.is_elapsed())
            .finish()
    }
}

/// Runs `future` for at most `limit` on the timekeeper's clock: `Err(Elapsed)` once the limit
/// has passed, whether or not a runtime worker was free to notice.
///
/// The inner future is polled first at every wake: a result that is ready when the deadline
/// fires wins.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::uptime::timekeeper;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let never = std::future::pending::<()>();
/// let limited = timekeeper::timeout(Duration::from_millis(10), never).await;
/// assert!(matches!(limited, Err(timekeeper::Elapsed { .. })));
/// # }
/// ```
pub fn timeout<F: IntoFuture>(limit: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        sleep: sleep(limit),
        limit,
    }
}

/// Runs `future` until `deadline` at most, on the timekeeper's clock (see [`timeout`]).
///
/// ```
/// use std::time::{Duration, Instant};
/// use fixpoint::uptime::timekeeper;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let deadline = Instant::now() + Duration::from_secs(1);
/// assert_eq!(timekeeper::timeout_at(deadline, async { 7 }).await, Ok(7));
/// # }
/// ```
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        sleep: sleep_until(deadline),
        limit: deadline.saturating_duration_since(Instant::now()),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`] and [`timeout_at`].
    #[must_use = "a timeout does nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
        limit: Duration,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        Pin::new(this.sleep)
            .poll(cx)
            .map(|()| Err(Elapsed { limit: *this.limit }))
    }
}

/// The limit of a [`timeout`] passed before its future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline of {limit:?} elapsed (kept by the timekeeper)")]
pub struct Elapsed {
    /// The limit that passed.
    pub limit: Duration,
}
