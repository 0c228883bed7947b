//! The restart budget: each restart counted in the supervisor's window (OTP's intensity) and
//! the child's own (its backoff), and when the next attempt is due.

use super::*;

impl<L, S> Driver<L, S>
where
    L: Lifecycle + Send,
    L::Initial: StateMarker<Data = ()>,
    S: StatusStore<L>,
{
    /// Counts a restart of child `index` at `at` (`now` or before); one more than the
    /// intensity allows is the give-up, returned as the error.
    pub(super) fn count_restart(
        &mut self,
        index: usize,
        (at, now): (Instant, Instant),
        id: &Arc<str>,
        reason: impl FnOnce() -> String,
    ) -> Result<(), RestartError> {
        let period = self.policy.intensity.period;
        let entry = &mut self.children[index];
        entry.restarts.push_back(at);
        forget_before(&mut entry.restarts, now, period);
        self.window.push_back(at);
        forget_before(&mut self.window, now, period);
        let restarts = u32::try_from(self.window.len()).unwrap_or(u32::MAX);
        if restarts > self.policy.intensity.max_restarts {
            #[cfg(feature = "tracing")]
            tracing::error!(
                child = &**id,
                restarts,
                ?period,
                "restart supervisor gave up: more restarts than its intensity allows"
            );
            let attempt = self.children[index].attempt;
            return Err(RestartError::GaveUp {
                child: id.to_string(),
                attempt,
                restarts,
                period,
                reason: reason(),
                stopped: Vec::new(),
            });
        }
        bump(&self.shared.counters.restarts);
        #[cfg(feature = "tracing")]
        tracing::info!(
            child = &**id,
            restarts,
            "restart supervisor restarts a child"
        );
        Ok(())
    }

    /// When child `index`'s restart is due: after the backoff of its restarts in the window.
    pub(super) fn backoff_after(&mut self, index: usize, now: Instant) -> Instant {
        let restarts = u32::try_from(self.children[index].restarts.len()).unwrap_or(u32::MAX);
        // xorshift: the jitter needs no more than a spread.
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        #[allow(clippy::cast_precision_loss)] // 53 bits of randomness are plenty
        let random = (self.random >> 11) as f64 / (1u64 << 53) as f64;
        now + self.policy.backoff.delay(restarts.max(1), random)
    }
}
