//! The backup agent's decisions, as pure functions of what it read.

use chrono::{DateTime, Utc};

/// What a pass of the schedule does once it has taken (or not) a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AfterBackup<T> {
    /// Trial-restore this backup.
    pub verify: Option<T>,
    /// Apply retention.
    pub prune: bool,
}

/// `due`: a backup was due this pass (and was tried); `verify`: the
/// topology asks for trial restores; `unverified`: the newest backup when
/// no trial restore has judged it (just taken, or left by an agent that
/// stopped). Retention runs after a verification, so that it never prunes
/// the backup it is proving; without verification, after each backup.
pub(super) fn after_backup<T>(due: bool, verify: bool, unverified: Option<T>) -> AfterBackup<T> {
    match (verify, unverified) {
        (true, Some(newest)) => AfterBackup {
            verify: Some(newest),
            prune: true,
        },
        (true, None) => AfterBackup {
            verify: None,
            prune: false,
        },
        (false, _) => AfterBackup {
            verify: None,
            prune: due,
        },
    }
}

/// How far behind the primary the binlog archive is, in seconds: 0 when it
/// holds the primary's newest transaction (`primary_seq`, GTID domain 0),
/// else the age of its newest copied event; "unbounded" (u32::MAX) while
/// it holds nothing of a primary that has written; `previous` while the
/// primary does not answer (nothing new is known).
pub(super) fn rpo_secs(
    primary_seq: Option<u64>,
    covered_seq: Option<u64>,
    newest_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    previous: f64,
) -> f64 {
    match (primary_seq, covered_seq) {
        (Some(p), Some(n)) if n >= p => 0.0,
        (Some(_), Some(_)) => {
            newest_at.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
        }
        (Some(p), None) if p > 0 => f64::from(u32::MAX),
        _ => previous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_verification_the_newest_unjudged_backup_is_proven_then_retention_runs() {
        let next = after_backup(true, true, Some("b-2"));
        assert_eq!(
            next,
            AfterBackup {
                verify: Some("b-2"),
                prune: true
            }
        );
        // Left unverified by an agent that stopped: proven although no
        // backup was due.
        assert_eq!(after_backup(false, true, Some("b-1")).verify, Some("b-1"));
        // Everything judged: nothing to do, retention waits for the next.
        assert_eq!(
            after_backup::<&str>(true, true, None),
            AfterBackup {
                verify: None,
                prune: false
            }
        );
    }

    #[test]
    fn without_verification_retention_follows_each_backup() {
        assert_eq!(
            after_backup(true, false, Some("b-3")),
            AfterBackup {
                verify: None,
                prune: true
            }
        );
        assert!(!after_backup(false, false, Some("b-3")).prune);
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("time")
    }

    #[test]
    fn the_archive_is_behind_only_when_the_primary_holds_something_newer() {
        let now = at(100);
        assert_eq!(rpo_secs(Some(40), Some(40), Some(at(10)), now, 7.0), 0.0);
        assert_eq!(rpo_secs(Some(40), Some(41), Some(at(10)), now, 7.0), 0.0);
        assert_eq!(rpo_secs(Some(41), Some(40), Some(at(10)), now, 7.0), 90.0);
        assert_eq!(
            rpo_secs(Some(5), None, None, now, 7.0),
            f64::from(u32::MAX),
            "a primary that wrote, an archive with nothing"
        );
        assert_eq!(rpo_secs(Some(0), None, None, now, 7.0), 7.0);
        assert_eq!(rpo_secs(None, Some(3), Some(at(10)), now, 7.0), 7.0);
        // A newest event dated after now (a stepped clock) is not negative.
        assert_eq!(rpo_secs(Some(9), Some(3), Some(at(200)), now, 7.0), 0.0);
    }
}
