//! Applying retention to a store: the backups `retention::plan` lets go,
//! and the archived binlogs no kept backup needs (only those wholly before
//! the oldest kept backup, so the log chain from every kept backup stays
//! unbroken). A prune that would leave any point of the recovery window
//! unrestorable refuses.

use crate::archive::Archive;
use crate::hand_kept::HandKept;
use crate::layout::{BackupId, BackupStore};
use crate::manifest::{Engine, Manifest};
use crate::retention::{Candidate, Retention, Verdict};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// One backup and what retention does with it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Judged {
    /// The backup.
    pub id: String,
    /// Its snapshot time.
    pub taken_at: DateTime<Utc>,
    /// Whether it stays.
    pub kept: bool,
    /// Why it stays or goes, in words.
    pub why: String,
}

/// What a prune removes (or would).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pruned {
    /// Where the recovery window started.
    pub window_from: Option<DateTime<Utc>>,
    /// Every backup, oldest first, with its verdict.
    pub judged: Vec<Judged>,
    /// Backups kept.
    pub kept: Vec<String>,
    /// Backups removed.
    pub backups: Vec<String>,
    /// Archived binlog files removed.
    pub binlogs: Vec<PathBuf>,
    /// Bytes freed.
    pub bytes: u64,
}

/// The store's backups (oldest first) with their manifests and verdicts.
pub fn judge(
    store: &BackupStore,
    retention: Retention,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<(BackupId, Manifest, Verdict)>> {
    let mut all = Vec::new();
    for id in store.ids()? {
        let dir = store.backup_dir(&id);
        let manifest = Manifest::read(&dir)?;
        let kept_by_hand = HandKept::read(&dir).map(|k| k.label);
        all.push((id, manifest, kept_by_hand));
    }
    let candidates: Vec<Candidate> = all
        .iter()
        .map(|(id, m, kept_by_hand)| Candidate {
            id: id.clone(),
            engine: m.engine,
            taken_at: m.taken_at,
            kept_by_hand: kept_by_hand.clone(),
        })
        .collect();
    let verdicts = crate::retention::plan(&candidates, retention, now);
    Ok(all
        .into_iter()
        .zip(verdicts)
        .map(|((id, manifest, _), (_, verdict))| (id, manifest, verdict))
        .collect())
}

/// Applies `retention` to the store (or, with `dry_run`, says what it
/// would remove).
pub fn prune(store: &BackupStore, retention: Retention, dry_run: bool) -> anyhow::Result<Pruned> {
    let _lock = crate::lock::exclusive(store.root())?;
    let now = Utc::now();
    let judged = judge(store, retention, now)?;
    let mut pruned = Pruned {
        window_from: Some(retention.window_start(now)),
        ..Pruned::default()
    };
    for (id, manifest, verdict) in &judged {
        pruned.judged.push(Judged {
            id: id.to_string(),
            taken_at: manifest.taken_at,
            kept: verdict.keeps(),
            why: verdict.to_string(),
        });
        if verdict.keeps() {
            pruned.kept.push(id.to_string());
        } else {
            pruned.backups.push(id.to_string());
            pruned.bytes += manifest.bytes();
        }
    }
    let all: Vec<(&BackupId, &Manifest)> = judged.iter().map(|(id, m, _)| (id, m)).collect();
    let kept_ids: std::collections::BTreeSet<&BackupId> = judged
        .iter()
        .filter(|(_, _, v)| v.keeps())
        .map(|(id, _, _)| id)
        .collect();
    // The oldest kept MariaDB backup's position: every archived transaction
    // after it is needed to roll it (or any later one) forward.
    let oldest_kept_seq = all
        .iter()
        .filter(|(id, m)| kept_ids.contains(id) && m.engine == Engine::Mariadb)
        .filter_map(|(_, m)| {
            crate::binlog::parse_position(m.gtid.as_deref().unwrap_or_default())
                .ok()?
                .first()
                .map(|g| g.seq)
        })
        .min();
    let archive = Archive::load(store)?;
    if let Some(keep_after) = oldest_kept_seq {
        for (i, file) in archive.files.iter().enumerate() {
            // A server's newest file may still be growing.
            let is_last_of_server = archive
                .files
                .get(i + 1)
                .is_none_or(|next| next.server_id != file.server_id);
            let newest_seq = file.index.transactions.iter().map(|t| t.gtid.seq).max();
            let wholly_before = match newest_seq {
                Some(seq) => seq <= keep_after,
                // No transaction: only its starting state tells its place.
                None => file.index.starts_after.iter().all(|g| g.seq < keep_after),
            };
            if wholly_before && !is_last_of_server {
                pruned.bytes += std::fs::metadata(&file.path).map(|m| m.len()).unwrap_or(0);
                pruned.binlogs.push(file.path.clone());
            }
        }
    }
    refuse_to_shrink(&judged, &archive, &pruned, retention.window_start(now), now)?;
    if dry_run {
        return Ok(pruned);
    }
    for id in &judged
        .iter()
        .filter(|(_, _, v)| !v.keeps())
        .map(|(id, _, _)| id)
        .collect::<Vec<_>>()
    {
        let dir = store.backup_dir(id);
        std::fs::remove_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", dir.display()))?;
    }
    for path in &pruned.binlogs {
        std::fs::remove_file(path)
            .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", path.display()))?;
    }
    Ok(pruned)
}

/// A safety net under the policy: the restorable MariaDB window inside
/// `[from, now]` after the prune must cover all it covered before.
fn refuse_to_shrink(
    judged: &[(BackupId, Manifest, Verdict)],
    archive: &Archive,
    pruned: &Pruned,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mariadb = |keep_all: bool| -> Vec<Manifest> {
        judged
            .iter()
            .filter(|(_, m, v)| m.engine == Engine::Mariadb && (keep_all || v.keeps()))
            .map(|(_, m, _)| m.clone())
            .collect()
    };
    let after_archive = Archive {
        files: archive
            .files
            .iter()
            .filter(|f| !pruned.binlogs.contains(&f.path))
            .cloned()
            .collect(),
    };
    let before = crate::window::window(&mariadb(true), archive);
    let after = crate::window::window(&mariadb(false), &after_archive);
    for span in &before {
        let (lo, hi) = (span.from.max(from), span.to.min(now));
        if lo > hi {
            continue;
        }
        let covered = after.iter().any(|s| s.from <= lo && hi <= s.to);
        if !covered {
            anyhow::bail!(
                "refusing to prune: the restorable window from {} to {} would shrink \
                 (removing {}); nothing was removed",
                lo.format("%Y-%m-%d %H:%M:%S UTC"),
                hi.format("%Y-%m-%d %H:%M:%S UTC"),
                pruned.backups.join(", ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::KeptBecause;
    use crate::test_support::{archive, manifest};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("time")
    }

    fn id(n: u32) -> BackupId {
        format!("20260101T0000{n:02}Z").parse().expect("id")
    }

    /// Two backups over an unbroken archive (transactions 2..=6, at
    /// 1020..=1060); the older one is judged `older`.
    fn two_backups(older: Verdict) -> Vec<(BackupId, Manifest, Verdict)> {
        vec![
            (id(1), manifest(1015, 1), older),
            (id(2), manifest(1045, 4), Verdict::Keep(KeptBecause::Newest)),
        ]
    }

    #[test]
    fn a_plan_that_would_leave_a_point_of_the_window_unrestorable_is_refused() {
        let judged = two_backups(Verdict::Remove {
            starts_window: id(2),
        });
        let pruned = Pruned {
            backups: vec![id(1).to_string()],
            ..Pruned::default()
        };
        // The window starts at 1000: 1015..1045 is reachable only from the
        // older backup.
        let err = refuse_to_shrink(
            &judged,
            &archive(&[2, 3, 4, 5, 6]),
            &pruned,
            t(1000),
            t(2000),
        )
        .expect_err("refused");
        assert!(err.to_string().contains("would shrink"), "{err}");
        assert!(err.to_string().contains(id(1).as_str()), "{err}");
        // Starting at 1050, the newer backup covers the whole window.
        refuse_to_shrink(
            &judged,
            &archive(&[2, 3, 4, 5, 6]),
            &pruned,
            t(1050),
            t(2000),
        )
        .expect("allowed");
    }

    #[test]
    fn removing_binlogs_a_kept_backup_needs_is_refused() {
        let judged = two_backups(Verdict::Keep(KeptBecause::StartsWindow));
        let pruned = Pruned {
            binlogs: vec!["x.000001".into()],
            ..Pruned::default()
        };
        let err = refuse_to_shrink(
            &judged,
            &archive(&[2, 3, 4, 5, 6]),
            &pruned,
            t(1000),
            t(2000),
        )
        .expect_err("refused");
        assert!(err.to_string().contains("would shrink"), "{err}");
    }
}
