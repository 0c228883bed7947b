//! What a lock says about itself: its holders, its gauges, and the error of a wait that gave up.

use core::fmt;
use std::panic::Location;
use std::time::Duration;

/// Who holds a permit: where it was acquired, its label, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Where the permit was acquired.
    pub location: &'static Location<'static>,
    /// The label set with [`Permit::set_label`](crate::Permit::set_label).
    pub label: Option<String>,
    /// How long the permit had been held when this was read.
    pub held_for: Duration,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(label) = &self.label {
            write!(f, "`{label}` ")?;
        }
        write!(
            f,
            "acquired at {}, held for {}",
            self.location,
            human(self.held_for)
        )
    }
}

/// A wait for a permit that gave up; it names who held them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no permit of semaphore `{semaphore}` came free within {}: all {permits} are held ({})",
    human(*.waited),
    list(.holders)
)]
pub struct AcquireTimeout {
    /// The semaphore's name.
    pub semaphore: String,
    /// Its number of permits.
    pub permits: usize,
    /// How long the acquisition waited.
    pub waited: Duration,
    /// Who held permits when it gave up, the longest hold first.
    pub holders: Vec<Holder>,
}

fn list(holders: &[Holder]) -> String {
    let holders: Vec<String> = holders.iter().map(ToString::to_string).collect();
    holders.join("; ")
}

/// `93m05s`, `4.2s`, `120ms`: durations as a person reads them.
pub(crate) fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 3600 {
        format!("{}h{:02}m{:02}s", secs / 3600, secs % 3600 / 60, secs % 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else if secs >= 1 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// The gauges of a [`Semaphore`](crate::Semaphore), read by
/// [`Semaphore::gauges`](crate::Semaphore::gauges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gauges {
    /// The number of permits.
    pub permits: usize,
    /// Permits held now.
    pub in_flight: usize,
    /// Tasks waiting for a permit now.
    pub waiters: usize,
    /// The longest current hold, if any permit is held.
    pub longest_hold: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_reads_them() {
        assert_eq!(human(Duration::from_secs(93 * 60 + 5)), "1h33m05s");
        assert_eq!(human(Duration::from_secs(125)), "2m05s");
        assert_eq!(human(Duration::from_millis(4_200)), "4.2s");
        assert_eq!(human(Duration::from_millis(120)), "120ms");
    }
}
