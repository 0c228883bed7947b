//! Identical timeouts escalate: the same key timing out with the same signature again and again
//! gets a deeper diagnosis, and optionally is kept stopped for someone to look at.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// When identical timeouts escalate, and how far: [`EscalationPolicy::new`] (the defaults),
/// then a setter for each thing to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPolicy {
    after: u32,
    inspect_for: Option<Duration>,
    max_keys: usize,
    forget_after: Duration,
}

impl EscalationPolicy {
    /// The defaults: every thread's stack after 3 identical timeouts in a row, nothing kept
    /// stopped, at most 1,024 keys remembered, each for a day.
    #[must_use]
    pub const fn new() -> Self {
        EscalationPolicy {
            after: 3,
            inspect_for: None,
            max_keys: 1024,
            forget_after: Duration::from_secs(24 * 3600),
        }
    }

    /// After this many timeouts of one key in a row with the same signature, the next one gets
    /// every thread's stack (default 3).
    #[must_use]
    pub const fn after(mut self, timeouts: u32) -> Self {
        self.after = timeouts;
        self
    }

    /// The first escalated timeout of a streak keeps its process group stopped (`SIGSTOP`)
    /// this long for inspection, then kills and reaps it (default: never stopped).
    #[must_use]
    pub const fn inspect_for(mut self, window: Duration) -> Self {
        self.inspect_for = Some(window);
        self
    }

    /// At most this many keys are remembered; past it the key seen longest ago is forgotten
    /// (default 1,024; `0` is taken as 1).
    #[must_use]
    pub const fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// A key not seen for this long is forgotten (default one day).
    #[must_use]
    pub const fn forget_after(mut self, quiet: Duration) -> Self {
        self.forget_after = quiet;
        self
    }
}

impl Default for EscalationPolicy {
    /// [`EscalationPolicy::new`].
    fn default() -> Self {
        Self::new()
    }
}

/// How far a timeout goes, decided by [`Escalation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    /// Timeouts in a row with this signature, this one included.
    pub(crate) repeated: u32,
    pub(crate) deep: bool,
    pub(crate) inspect_for: Option<Duration>,
}

/// The loud event of an escalated timeout: where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Escalated {
    /// The key that keeps timing out.
    pub key: String,
    /// How many times in a row, with the same signature.
    pub repeated: u32,
    /// The process group kept stopped, and for how long, when the policy asks for it.
    pub stopped: Option<(u32, Duration)>,
    /// The pids of the group, leader first.
    pub pids: Vec<u32>,
}

impl fmt::Display for Escalated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` timed out {} times in a row, stuck in the same place; every thread's stack is in its \
             diagnosis",
            self.key, self.repeated
        )?;
        let Some((group, window)) = self.stopped else {
            return Ok(());
        };
        let leader = self.pids.first().copied().unwrap_or(group);
        write!(
            f,
            "; process group {group} (pids {:?}) is kept stopped for {window:?} for inspection: \
             `gdb -p {leader}`, `cat /proc/{leader}/task/*/stack`, `ls -l /proc/{leader}/fd`; it is \
             killed and reaped after that",
            self.pids
        )
    }
}

type Listener = Arc<dyn Fn(&Escalated) + Send + Sync>;

/// A shared, bounded record of timeouts by key, which decides when a timeout escalates.
///
/// Give the same `Escalation` (it is a cheap `Clone`) to every `Watched` child whose hangs should
/// be compared. A key's streak counts its timeouts in a row whose diagnosis has the same
/// [`signature`](super::Diagnosis::signature) (where each process waits); a different signature
/// starts a new streak, and a run of the key that ends by itself (it exits, whatever its code) ends
/// the streak: `N` timeouts separated by runs that finish are `N` streaks of one, not one of `N`,
/// and never escalate. Once a streak is longer than [`after`](EscalationPolicy::after), the timeout
/// captures every thread's stack, and the first such timeout may keep the group stopped for
/// inspection. Each escalation is announced to the listener (standard error unless
/// [`on_escalation`] replaces it, and a `tracing` error event with the `tracing` feature).
///
/// The record is bounded: at most [`max_keys`](EscalationPolicy::max_keys) keys, each forgotten
/// [`forget_after`](EscalationPolicy::forget_after) after its last timeout (checked on every
/// timeout, so a quiet registry costs nothing).
///
/// [`on_escalation`]: Escalation::on_escalation
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{process::{Escalation, EscalationPolicy}};
///
/// let escalation = Escalation::new(
///     EscalationPolicy::new().after(2).inspect_for(Duration::from_secs(600)),
/// )
/// .on_escalation(|event| eprintln!("ALERT: {event}"));
/// assert_eq!(escalation.len(), 0);
/// ```
#[derive(Clone)]
pub struct Escalation {
    shared: Arc<Shared>,
}

struct Shared {
    policy: EscalationPolicy,
    streaks: Mutex<HashMap<String, Streak>>,
    listener: Mutex<Option<Listener>>,
}

#[derive(Debug)]
struct Streak {
    signature: String,
    count: u32,
    last: Instant,
}

impl Escalation {
    /// A registry that escalates as `policy` says.
    #[must_use]
    pub fn new(policy: EscalationPolicy) -> Self {
        let shared = Shared {
            policy,
            streaks: Mutex::new(HashMap::new()),
            listener: Mutex::new(None),
        };
        Escalation {
            shared: Arc::new(shared),
        }
    }

    /// Sends each escalation to `listener` instead of standard error.
    #[must_use]
    pub fn on_escalation(self, listener: impl Fn(&Escalated) + Send + Sync + 'static) -> Self {
        *self
            .shared
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(listener));
        self
    }

    /// The policy it follows.
    #[must_use]
    pub fn policy(&self) -> &EscalationPolicy {
        &self.shared.policy
    }

    /// How many keys it remembers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.streaks().len()
    }

    /// Whether it remembers no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The length of `key`'s current streak of identical timeouts (0 for a key it does not know).
    #[must_use]
    pub fn streak(&self, key: &str) -> u32 {
        self.streaks().get(key).map_or(0, |s| s.count)
    }

    /// Forgets `key`: its next timeout starts a new streak. A `Watched` child's watcher calls it
    /// when a run of the key ends by itself.
    pub fn forget(&self, key: &str) {
        self.streaks().remove(key);
    }

    fn streaks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Streak>> {
        self.shared
            .streaks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a timeout of `key` with `signature`, and says how far it goes.
    pub(crate) fn record(&self, key: &str, signature: &str, now: Instant) -> Level {
        let policy = &self.shared.policy;
        let mut streaks = self.streaks();
        if !streaks.contains_key(key) {
            reap(&mut streaks, policy, now);
        }
        let streak = streaks.entry(key.to_owned()).or_insert_with(|| Streak {
            signature: signature.to_owned(),
            count: 0,
            last: now,
        });
        if streak.signature != signature {
            streak.signature = signature.to_owned();
            streak.count = 0;
        }
        streak.count = streak.count.saturating_add(1);
        streak.last = now;
        let deep = streak.count > policy.after;
        let first_deep = streak.count == policy.after.saturating_add(1);
        Level {
            repeated: streak.count,
            deep,
            inspect_for: policy.inspect_for.filter(|_| first_deep),
        }
    }

    /// Announces an escalation to the listener.
    pub(crate) fn announce(&self, event: &Escalated) {
        #[cfg(feature = "tracing")]
        tracing::error!(key = %event.key, repeated = event.repeated, "{event}");
        let listener = self
            .shared
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match listener {
            Some(listener) => listener(event),
            None => eprintln!("fixpoint: {event}"),
        }
    }
}

/// Makes room for one more key: forgets the keys not seen for `forget_after`, then, if still
/// full, the key seen longest ago. Runs only when a new key arrives, so it is paid per timeout.
fn reap(streaks: &mut HashMap<String, Streak>, policy: &EscalationPolicy, now: Instant) {
    streaks.retain(|_, s| now.saturating_duration_since(s.last) < policy.forget_after);
    while streaks.len() >= policy.max_keys.max(1) {
        let Some(oldest) = streaks
            .iter()
            .min_by_key(|(_, s)| s.last)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        streaks.remove(&oldest);
    }
}

impl fmt::Debug for Escalation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Escalation")
            .field("policy", &self.shared.policy)
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(after: u32, max_keys: usize) -> EscalationPolicy {
        EscalationPolicy::new()
            .after(after)
            .max_keys(max_keys)
            .forget_after(Duration::from_secs(60))
            .inspect_for(Duration::from_secs(1))
    }

    #[test]
    fn a_streak_of_identical_timeouts_escalates_once_past_the_threshold() {
        let escalation = Escalation::new(policy(2, 8));
        let now = Instant::now();
        let levels: Vec<Level> = (0..4)
            .map(|_| escalation.record("k", "sh@pipe_read", now))
            .collect();
        assert_eq!(
            levels.iter().map(|l| l.deep).collect::<Vec<_>>(),
            [false, false, true, true]
        );
        // Only the first escalated timeout of a streak is kept stopped.
        assert_eq!(
            levels
                .iter()
                .map(|l| l.inspect_for.is_some())
                .collect::<Vec<_>>(),
            [false, false, true, false]
        );
    }

    #[test]
    fn a_different_signature_starts_a_new_streak() {
        let escalation = Escalation::new(policy(1, 8));
        let now = Instant::now();
        escalation.record("k", "sh@pipe_read", now);
        let other = escalation.record("k", "sh@do_wait", now);
        assert_eq!((other.repeated, other.deep), (1, false));
    }

    #[test]
    fn keys_are_bounded_and_forgotten() {
        let escalation = Escalation::new(policy(1, 3));
        let start = Instant::now();
        for (i, key) in ["a", "b", "c", "d"].into_iter().enumerate() {
            escalation.record(key, "x", start + Duration::from_secs(i as u64));
        }
        assert_eq!(escalation.len(), 3);
        assert_eq!(
            escalation.streak("a"),
            0,
            "the key seen longest ago made room"
        );
        escalation.record("e", "x", start + Duration::from_secs(3600));
        assert_eq!(
            escalation.len(),
            1,
            "keys not seen for `forget_after` are forgotten"
        );
    }
}
