//! A child's past, read back from its attempt rows: the attempt to number next, and the
//! restarts that count in the intensity window. This is what lets a crash loop across
//! process restarts stay capped.

use std::time::Duration;

use super::policy::Restart;
use crate::store::Row;
use crate::store::now_millis;

/// The prefix of the reason the supervisor writes on an attempt it stops itself (shutdown,
/// a sibling's restart, removal, giving up): such an end is not a failure, and the restart
/// that follows it (a sibling's) is counted once, for the child that failed.
pub(super) const STOPPED: &str = "stopped by its restart supervisor";

/// The id of attempt `attempt` of child `child`.
pub(super) fn row_id(child: &str, attempt: u32) -> String {
    // Written by hand: `format!` costs a restart more than the rest of its bookkeeping.
    let mut digits = [0u8; 10];
    let (mut rest, mut at) = (attempt, digits.len());
    loop {
        at -= 1;
        digits[at] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut id = String::with_capacity(child.len() + 1 + digits.len() - at);
    id.push_str(child);
    id.push('#');
    id.extend(digits[at..].iter().map(|&digit| char::from(digit)));
    id
}

/// The attempt number of `row`, if it is an attempt of `child`.
pub(super) fn attempt_of(child: &str, row: &str) -> Option<u32> {
    let number = row.strip_prefix(child)?.strip_prefix('#')?;
    // `1`, not `01` or `+1`: only the ids this module writes.
    if number.starts_with(['0', '+']) {
        return None;
    }
    number.parse().ok()
}

/// What a child's rows say.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct History {
    /// The highest attempt number found (`0`: none).
    pub(super) last_attempt: u32,
    /// How long ago each restart within `period` happened (each failed attempt that was
    /// followed by another).
    pub(super) restarts: Vec<Duration>,
    /// How long ago the last attempt failed, if it did in a way its restart type restarts:
    /// starting the child again is then a restart, counted in the window.
    pub(super) pending: Option<Duration>,
}

/// Whether a row ended by failing (not by the supervisor stopping it), and when, as an age.
fn failed_ago(row: &Row, now: i64, abandoned: &str) -> Option<(Duration, bool)> {
    let finished = row.finished_at?;
    if row
        .reason
        .as_deref()
        .is_some_and(|why| why.starts_with(STOPPED))
    {
        return None;
    }
    let ago = Duration::from_millis(u64::try_from(now.saturating_sub(finished)).unwrap_or(0));
    Some((ago, row.status == abandoned))
}

/// The history of `child` in `rows` (any rows: others are skipped), with restarts older than
/// `period` left out. `abandoned` is the lifecycle's abandoned state's name: an attempt that
/// ended there ended abnormally.
pub(super) fn history(
    child: &str,
    restart: Restart,
    rows: &[Row],
    period: Duration,
    abandoned: &str,
) -> History {
    let mut attempts: Vec<(u32, &Row)> = rows
        .iter()
        .filter_map(|row| Some((attempt_of(child, &row.id)?, row)))
        .collect();
    attempts.sort_unstable_by_key(|(attempt, _)| *attempt);
    let now = now_millis();
    let mut history = History {
        last_attempt: attempts.last().map_or(0, |(attempt, _)| *attempt),
        ..History::default()
    };
    let Some(((_, last), earlier)) = attempts.split_last() else {
        return history;
    };
    history.restarts = earlier
        .iter()
        .filter_map(|(_, row)| failed_ago(row, now, abandoned))
        .map(|(ago, _)| ago)
        .filter(|ago| *ago <= period)
        .collect();
    history.pending = failed_ago(last, now, abandoned)
        .filter(|(_, abnormal)| match restart {
            Restart::Permanent => true,
            Restart::Transient => *abnormal,
            Restart::Temporary => false,
        })
        .map(|(ago, _)| ago);
    history
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: &str, reason: Option<&str>, finished_at: Option<i64>) -> Row {
        Row {
            id: id.into(),
            owner: "o".into(),
            status: status.into(),
            reason: reason.map(Into::into),
            finished_at,
        }
    }

    #[test]
    fn attempt_ids_round_trip_and_refuse_other_ids() {
        assert_eq!(attempt_of("a#b", &row_id("a#b", 12)), Some(12));
        for attempt in [0, 1, 9, 10, 4_294_967_295] {
            assert_eq!(row_id("w", attempt), format!("w#{attempt}"));
        }
        assert_eq!(attempt_of("a", "a#01"), None);
        assert_eq!(attempt_of("a", "ab#1"), None);
        assert_eq!(attempt_of("a", "a#x"), None);
    }

    #[test]
    fn failures_count_stops_do_not_and_old_ones_fall_out() {
        let now = now_millis();
        let hour = Duration::from_secs(3600);
        let rows = [
            row("w#1", "Failed", Some("boom"), Some(now - 7_200_000)),
            row("w#2", "Failed", Some("boom"), Some(now - 1000)),
            row("w#3", "Failed", Some(STOPPED), Some(now - 900)),
            row("w#4", "Done", None, Some(now - 800)),
            row("w#5", "Failed", Some("boom"), Some(now - 10)),
            row("other#9", "Failed", Some("boom"), Some(now)),
        ];
        let found = history("w", Restart::Permanent, &rows, hour, "Failed");
        assert_eq!(found.last_attempt, 5);
        assert_eq!(
            found.restarts.len(),
            2,
            "w#2 and w#4 (a permanent child's normal end)"
        );
        assert!(found.pending.is_some());
        let transient = history("w", Restart::Transient, &rows[..4], hour, "Failed");
        assert_eq!(transient.pending, None, "a normal end is not restarted");
        assert_eq!(
            history("w", Restart::Permanent, &[], hour, "Failed"),
            History::default()
        );
    }
}
