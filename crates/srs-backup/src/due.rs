//! When a scheduled backup is due: judged from the store (its newest
//! backup, whoever took it, and across restarts of the agent), not from
//! the agent's memory.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// How soon a failed attempt is tried again (at most; a shorter schedule
/// retries sooner).
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Whether a backup is due at `now`: the newest of the store's backups
/// (`taken`, their snapshot times) is at least `every` old, or there is
/// none, and the last failed attempt, if any, is at least `every` or a
/// minute old, whichever is shorter. A backup dated after `now` (the clock
/// was stepped back) does not count, or it would stop the schedule until
/// the clock caught up.
pub fn backup_due(
    taken: &[DateTime<Utc>],
    last_failure: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    every: Duration,
) -> bool {
    let newest = taken.iter().copied().filter(|&t| t <= now).max();
    let since = |t: Option<DateTime<Utc>>| {
        t.map_or(Duration::MAX, |t| (now - t).to_std().unwrap_or_default())
    };
    since(newest) >= every && since(last_failure) >= every.min(RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("time")
    }

    #[test]
    fn an_empty_store_wants_a_backup() {
        assert!(backup_due(&[], None, t(0), DAY));
    }

    #[test]
    fn an_operator_s_backup_counts_as_the_schedule_s() {
        // Taken by hand five seconds before the agent looked.
        assert!(!backup_due(&[t(-5)], None, t(0), DAY));
        assert!(backup_due(&[t(-86_400)], None, t(0), DAY));
    }

    #[test]
    fn a_restarted_agent_waits_for_the_newest_backup_to_age() {
        // The store's backup is an hour old; the agent's memory is empty.
        assert!(!backup_due(&[t(-3_600)], None, t(0), DAY));
    }

    #[test]
    fn a_failure_is_retried_within_a_minute_not_a_period() {
        assert!(!backup_due(&[t(-2 * 86_400)], Some(t(-30)), t(0), DAY));
        assert!(backup_due(&[t(-2 * 86_400)], Some(t(-61)), t(0), DAY));
        // A schedule shorter than a minute's retry keeps its own pace.
        let every = Duration::from_secs(20);
        assert!(backup_due(&[t(-25)], Some(t(-21)), t(0), every));
    }

    #[test]
    fn a_backup_from_the_future_does_not_stop_the_schedule() {
        // A clock stepped back a day: the backup it took "tomorrow" does
        // not count, the one before it does.
        assert!(backup_due(&[t(86_000)], None, t(0), DAY));
        assert!(!backup_due(&[t(-60), t(86_000)], None, t(0), DAY));
    }
}
