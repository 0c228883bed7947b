//! What a restart supervisor does when a child ends: which children it restarts, how many
//! restarts it allows in a period, and how long it waits before each.

use std::time::Duration;

/// When a child is restarted after it ends (OTP's restart types).
///
/// An end is *abnormal* when the body returned an error, panicked, was aborted (a wedge
/// found by its watchdog included), or finished in the lifecycle's `#[abandoned]` state; it
/// is *normal* when the body reached any other terminal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Restart {
    /// Always restarted, whether it ended normally or not: a service that must keep running.
    Permanent,
    /// Restarted only after an abnormal end; a normal end leaves it down (listed as
    /// [`ChildState::Exited`](super::ChildState::Exited)): a job that runs until it succeeds.
    Transient,
    /// Never restarted, and removed from the supervisor when it ends: a one-off.
    Temporary,
}

/// Which children a restart takes (OTP's strategies). Children are started in the order they
/// were added and stopped in the reverse order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Only the child that ended is restarted: independent children.
    #[default]
    OneForOne,
    /// Every other child is stopped (in reverse start order), then all are restarted (in start
    /// order): children that only work together.
    OneForAll,
    /// The children started after the one that ended are stopped (in reverse start order),
    /// then it and they are restarted (in start order): each child depends on the ones
    /// before it.
    RestForOne,
}

/// How many restarts a supervisor allows within a period (OTP's intensity): one restart more
/// within `period` and it gives up, stops its children and returns
/// [`RestartError::GaveUp`](super::RestartError::GaveUp).
///
/// Every restart counts, whatever the child and whatever the strategy restarts with it (a
/// `OneForAll` restart of five children is one restart). The window survives a crash: a new
/// supervisor on the same store resumes it from the attempt rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Intensity {
    /// The restarts allowed within `period`; `0` gives up at the first end that calls for a
    /// restart.
    pub max_restarts: u32,
    /// The sliding window the restarts are counted in.
    pub period: Duration,
}

impl Default for Intensity {
    /// OTP's default: one restart in five seconds.
    fn default() -> Self {
        Intensity {
            max_restarts: 1,
            period: Duration::from_secs(5),
        }
    }
}

/// How long a supervisor waits before it restarts a child: exponential in the child's
/// restarts within the current [`Intensity`] window, capped, with jitter.
///
/// The `n`th restart of a child within the window waits `initial * multiplier^(n-1)`, at
/// most `max`, then less a random part of up to `jitter` of it (so that children failing
/// together do not restart together). [`RestartBackoff::ZERO`] restarts at once, as OTP
/// does.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::restart::RestartBackoff;
///
/// let backoff = RestartBackoff::exponential(Duration::from_millis(100), Duration::from_secs(5));
/// assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(100));
/// assert_eq!(backoff.delay(3, 0.0), Duration::from_millis(400));
/// assert_eq!(backoff.delay(30, 0.0), Duration::from_secs(5)); // capped
/// let jittered = backoff.with_jitter(0.5).delay(2, 0.999);
/// assert!(jittered >= Duration::from_millis(100) && jittered <= Duration::from_millis(200));
/// assert_eq!(RestartBackoff::ZERO.delay(9, 0.5), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestartBackoff {
    /// The wait before a child's first restart within the window.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// What each further restart within the window multiplies the wait by.
    pub multiplier: u32,
    /// The part of each wait, from `0.0` to `1.0`, that is randomly taken off it.
    pub jitter: f64,
}

impl RestartBackoff {
    /// No wait: a child is restarted as soon as it ends (OTP's behaviour).
    pub const ZERO: RestartBackoff = RestartBackoff {
        initial: Duration::ZERO,
        max: Duration::ZERO,
        multiplier: 1,
        jitter: 0.0,
    };

    /// Doubling waits from `initial` up to `max`, without jitter.
    #[must_use]
    pub const fn exponential(initial: Duration, max: Duration) -> Self {
        RestartBackoff {
            initial,
            max,
            multiplier: 2,
            jitter: 0.0,
        }
    }

    /// This backoff with `jitter` (clamped to `0.0..=1.0`) of each wait taken off at random.
    #[must_use]
    pub fn with_jitter(self, jitter: f64) -> Self {
        RestartBackoff {
            jitter: jitter.clamp(0.0, 1.0),
            ..self
        }
    }

    /// The wait before a child's `restart`th restart within the window (`1` for the first),
    /// with `random` (in `0.0..1.0`) choosing the jitter.
    #[must_use]
    pub fn delay(&self, restart: u32, random: f64) -> Duration {
        let mut delay = self.initial;
        for _ in 1..restart {
            if delay >= self.max {
                break;
            }
            delay = delay.saturating_mul(self.multiplier);
        }
        let delay = delay.min(self.max);
        let cut = (self.jitter * random).clamp(0.0, 1.0);
        delay.mul_f64(1.0 - cut)
    }
}

impl Default for RestartBackoff {
    /// From 10 ms, doubling up to 5 s, with a quarter of each wait jittered.
    fn default() -> Self {
        RestartBackoff::exponential(Duration::from_millis(10), Duration::from_secs(5))
            .with_jitter(0.25)
    }
}
