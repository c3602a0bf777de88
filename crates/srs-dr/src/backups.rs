//! What the backup agent (`srs backup run`, started by `srs up`) reports:
//! its last backup, verification and binlog-archive progress, kept in
//! `backup-state.json` for `srs status`, `/admin/dr` and the controller's
//! `/metrics`, with the alerts they imply.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The archive counts as stalled when it is this far behind the primary.
pub const ARCHIVE_STALL_SECS: f64 = 60.0;

/// One backup attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupRun {
    /// The backup's ID, when one was written.
    pub id: Option<String>,
    /// When it finished (or failed).
    pub at: DateTime<Utc>,
    /// Whether it was written.
    pub ok: bool,
    /// Seconds it took.
    pub secs: f64,
    /// Compressed bytes written.
    pub bytes: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// One verification (trial restore).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyRun {
    /// The backup verified.
    pub id: String,
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Whether the backup restored and matched its manifest.
    pub ok: bool,
    /// Seconds the trial restore took.
    pub restore_secs: f64,
    /// Why it failed.
    pub error: Option<String>,
}

/// The binlog archive's progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ArchiveRun {
    /// The server being copied.
    pub source: String,
    /// Whether the copy is running now.
    pub copying: bool,
    /// The newest archived transaction.
    pub newest_gtid: Option<String>,
    /// When it was logged.
    pub newest_at: Option<DateTime<Utc>>,
    /// How far the archive is behind the primary, seconds (0 when it holds
    /// the primary's newest transaction): the archive's RPO.
    pub rpo_secs: f64,
    /// Missing transaction ranges in the archive.
    pub gaps: usize,
    /// The last error of the copy, if it stopped.
    pub error: Option<String>,
}

/// Copies to the second store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SecondStoreRun {
    /// Its directory.
    pub root: String,
    /// When a copy last completed.
    pub last_copy_at: Option<DateTime<Utc>>,
    /// Backups there.
    pub backups: usize,
    /// Why the last copy failed, if it did.
    pub error: Option<String>,
    /// Since when copies have been failing.
    pub failing_since: Option<DateTime<Utc>>,
}

/// A second store counts as behind when copies have failed this long.
pub const SECOND_STORE_STALL_SECS: i64 = 300;

/// Everything the agent reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct BackupState {
    /// When the agent last wrote this.
    pub updated_at: Option<DateTime<Utc>>,
    /// The schedule in words, e.g. "every 24 h".
    pub schedule: String,
    /// Seconds between scheduled backups (0: none).
    pub interval_secs: u64,
    /// The latest attempt.
    pub last_attempt: Option<BackupRun>,
    /// The latest successful backup.
    pub last_success: Option<BackupRun>,
    /// The latest verification.
    pub last_verification: Option<VerifyRun>,
    /// The newest backup proven by a trial restore, and its point in time:
    /// the last proven restorable point.
    pub proven_backup: Option<String>,
    /// That backup's snapshot time.
    pub proven_point: Option<DateTime<Utc>>,
    /// Backups in the store.
    pub backups: usize,
    /// The binlog archive, when it runs.
    pub archive: Option<ArchiveRun>,
    /// Failed backups since the agent started.
    pub failures: u64,
    /// Failed verifications since the agent started.
    pub verify_failures: u64,
    /// The second store, when one is configured.
    #[serde(default)]
    pub second_store: Option<SecondStoreRun>,
}

impl BackupState {
    /// The state in a cluster directory, if the agent ever ran there.
    pub fn read(data_dir: &ClusterDir) -> Option<Self> {
        let text = std::fs::read_to_string(data_dir.file(ClusterFile::BackupState)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Replaces the state file atomically.
    pub fn write(&self, data_dir: &ClusterDir) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        let tmp = data_dir.temporary(ClusterFile::BackupState);
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, data_dir.file(ClusterFile::BackupState))?;
        Ok(())
    }

    /// Alerts this state raises at `now` (pure: unit-tested).
    pub fn alerts(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut alerts = Vec::new();
        if let Some(a) = &self.last_attempt {
            if !a.ok {
                alerts.push(format!(
                    "backup failed at {}: {}",
                    a.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    a.error.as_deref().unwrap_or("unknown error")
                ));
            }
        }
        if let Some(v) = &self.last_verification {
            if !v.ok {
                alerts.push(format!(
                    "backup {} failed verification: {}",
                    v.id,
                    v.error.as_deref().unwrap_or("unknown error")
                ));
            }
        }
        if self.interval_secs > 0 {
            let overdue = match &self.last_success {
                Some(s) => (now - s.at).num_seconds() > 2 * self.interval_secs as i64,
                None => self
                    .updated_at
                    .is_some_and(|_| self.last_attempt.as_ref().is_some_and(|a| !a.ok)),
            };
            if overdue {
                alerts.push("no successful backup within twice the schedule".into());
            }
        }
        if let Some(a) = &self.archive {
            if a.rpo_secs > ARCHIVE_STALL_SECS {
                alerts.push(format!(
                    "binlog archive stalled: {:.0} s behind the primary{}",
                    a.rpo_secs,
                    a.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ));
            }
            if a.gaps > 0 {
                alerts.push(format!(
                    "binlog archive has {} gap(s): points after them cannot be restored",
                    a.gaps
                ));
            }
        }
        if let Some(second) = &self.second_store {
            if let Some(since) = second.failing_since {
                if (now - since).num_seconds() >= SECOND_STORE_STALL_SECS {
                    alerts.push(format!(
                        "copies to the second store {} have failed since {}: {}",
                        second.root,
                        since.format("%Y-%m-%d %H:%M:%S UTC"),
                        second.error.as_deref().unwrap_or("unknown error")
                    ));
                }
            }
        }
        alerts
    }

    /// One line for status pages.
    pub fn summary(&self) -> String {
        let last = match &self.last_success {
            Some(s) => format!(
                "last backup {} ({})",
                s.at.format("%Y-%m-%d %H:%M:%S UTC"),
                s.id.as_deref().unwrap_or("-")
            ),
            None => "no backup yet".into(),
        };
        let proven = match &self.proven_point {
            Some(p) => format!("proven restorable to {}", p.format("%Y-%m-%d %H:%M:%S UTC")),
            None => "not yet proven restorable".into(),
        };
        let archive = match &self.archive {
            Some(a) => format!(
                "archive RPO {:.1} s{}",
                a.rpo_secs,
                if a.copying { "" } else { " (not copying)" }
            ),
            None => "no binlog archive".into(),
        };
        let second = match &self.second_store {
            Some(s) => format!(
                "; second store {} backup(s){}",
                s.backups,
                match (&s.error, s.last_copy_at) {
                    (Some(_), _) => " (copy failing)".to_owned(),
                    (None, Some(at)) => format!(", copied {}", at.format("%H:%M:%S UTC")),
                    (None, None) => " (not copied yet)".to_owned(),
                }
            ),
            None => String::new(),
        };
        format!(
            "{last}; {proven}; {archive}; {} backup(s), schedule {}{second}",
            self.backups, self.schedule
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ok: bool, at: DateTime<Utc>) -> BackupRun {
        BackupRun {
            id: Some("20261204T000000Z".into()),
            at,
            ok,
            secs: 1.0,
            bytes: 10,
            error: (!ok).then(|| "disk full".to_owned()),
        }
    }

    #[test]
    fn failures_staleness_and_a_stalled_archive_raise_alerts() {
        let now = Utc::now();
        let healthy = BackupState {
            updated_at: Some(now),
            interval_secs: 3600,
            last_attempt: Some(run(true, now)),
            last_success: Some(run(true, now)),
            archive: Some(ArchiveRun {
                copying: true,
                rpo_secs: 0.2,
                ..ArchiveRun::default()
            }),
            ..BackupState::default()
        };
        assert!(healthy.alerts(now).is_empty());

        let mut failed = healthy.clone();
        failed.last_attempt = Some(run(false, now));
        assert!(failed.alerts(now)[0].contains("disk full"));

        let later = now + chrono::Duration::hours(3);
        assert!(healthy.alerts(later)[0].contains("twice the schedule"));

        let mut stalled = healthy.clone();
        stalled.archive = Some(ArchiveRun {
            rpo_secs: 90.0,
            gaps: 1,
            ..ArchiveRun::default()
        });
        let alerts = stalled.alerts(now);
        assert!(alerts.iter().any(|a| a.contains("stalled")));
        assert!(alerts.iter().any(|a| a.contains("gap")));

        let mut copying = healthy.clone();
        copying.second_store = Some(SecondStoreRun {
            root: "/mnt/offsite".into(),
            error: Some("No space left on device".into()),
            failing_since: Some(now - chrono::Duration::seconds(60)),
            ..SecondStoreRun::default()
        });
        assert!(
            copying.alerts(now).is_empty(),
            "a brief failure is no alert"
        );
        let alerts = copying.alerts(now + chrono::Duration::minutes(5));
        assert!(
            alerts.iter().any(|a| a.contains("/mnt/offsite")),
            "{alerts:?}"
        );
        assert!(copying.summary().contains("copy failing"));

        let mut unproven = healthy;
        unproven.last_verification = Some(VerifyRun {
            id: "X".into(),
            at: now,
            ok: false,
            restore_secs: 0.0,
            error: Some("table students differs".into()),
        });
        assert!(unproven.alerts(now)[0].contains("failed verification"));
    }
}
