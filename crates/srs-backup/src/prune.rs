//! Retention: which backups to keep (the newest of each of the last N days
//! and of the last M weeks, and always the newest), and which archived
//! binlogs may go (only those wholly before the oldest kept backup, so the
//! log chain from every kept backup stays unbroken).

use crate::archive::Archive;
use crate::layout::{BackupId, BackupStore};
use crate::manifest::{Engine, Manifest};
use chrono::{DateTime, Datelike, Utc};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// How many backups to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The newest backup of each of this many most recent days that have one.
    pub keep_daily: u32,
    /// The newest backup of each of this many most recent weeks that have one.
    pub keep_weekly: u32,
}

/// What a prune removes (or would).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pruned {
    /// Backups kept.
    pub kept: Vec<String>,
    /// Backups removed.
    pub backups: Vec<String>,
    /// Archived binlog files removed.
    pub binlogs: Vec<PathBuf>,
    /// Bytes freed.
    pub bytes: u64,
}

/// The backups `retention` keeps, given each backup's time (pure: tested
/// without a store).
pub fn keep(backups: &[(BackupId, DateTime<Utc>)], retention: Retention) -> BTreeSet<BackupId> {
    let mut newest_first: Vec<&(BackupId, DateTime<Utc>)> = backups.iter().collect();
    newest_first.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let mut kept = BTreeSet::new();
    if let Some((id, _)) = newest_first.first() {
        kept.insert(id.clone());
    }
    let mut days = BTreeSet::new();
    let mut weeks = BTreeSet::new();
    for (id, at) in newest_first {
        let day = at.date_naive();
        if days.len() < retention.keep_daily as usize && days.insert(day) {
            kept.insert(id.clone());
        }
        let week = (at.iso_week().year(), at.iso_week().week());
        if weeks.len() < retention.keep_weekly as usize && weeks.insert(week) {
            kept.insert(id.clone());
        }
    }
    kept
}

/// Applies `retention` to the store (or, with `dry_run`, says what it
/// would remove).
pub fn prune(store: &BackupStore, retention: Retention, dry_run: bool) -> anyhow::Result<Pruned> {
    let _lock = crate::lock::exclusive(store.root())?;
    let mut all = Vec::new();
    for id in store.ids()? {
        let manifest = Manifest::read(&store.backup_dir(&id))?;
        all.push((id, manifest));
    }
    let times: Vec<(BackupId, DateTime<Utc>)> =
        all.iter().map(|(id, m)| (id.clone(), m.taken_at)).collect();
    let kept = keep(&times, retention);
    let mut pruned = Pruned {
        kept: kept.iter().map(ToString::to_string).collect(),
        ..Pruned::default()
    };
    for (id, manifest) in &all {
        if !kept.contains(id) {
            pruned.backups.push(id.to_string());
            pruned.bytes += manifest.bytes();
            if !dry_run {
                let dir = store.backup_dir(id);
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", dir.display()))?;
            }
        }
    }
    // The oldest kept MariaDB backup's position: every archived transaction
    // after it is needed to roll it (or any later one) forward.
    let oldest_kept_seq = all
        .iter()
        .filter(|(id, m)| kept.contains(id) && m.engine == Engine::Mariadb)
        .filter_map(|(_, m)| {
            crate::binlog::parse_position(m.gtid.as_deref().unwrap_or_default())
                .ok()?
                .first()
                .map(|g| g.seq)
        })
        .min();
    if let Some(keep_after) = oldest_kept_seq {
        let archive = Archive::load(store)?;
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
                if !dry_run {
                    std::fs::remove_file(&file.path).map_err(|e| {
                        anyhow::anyhow!("cannot remove {}: {e}", file.path.display())
                    })?;
                }
            }
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    fn id(n: u32) -> BackupId {
        format!("20260101T0000{n:02}Z").parse().expect("id")
    }

    #[test]
    fn the_newest_of_each_day_and_week_is_kept() {
        // Two a day for ten days (2026-11-20 is a Friday).
        let mut backups = Vec::new();
        for day in 0..10 {
            for hour in [1, 13] {
                let n = day * 2 + u32::from(hour == 13);
                backups.push((
                    id(n),
                    at(&format!("2026-11-{:02}T{hour:02}:00:00Z", 20 + day)),
                ));
            }
        }
        let kept = keep(
            &backups,
            Retention {
                keep_daily: 3,
                keep_weekly: 2,
            },
        );
        // Days 29, 28, 27 (their 13:00 backups), and the newest of the week
        // before (Sunday 22nd, 13:00); the newest week's is the 29th's.
        let expected: BTreeSet<BackupId> = [id(19), id(17), id(15), id(5)].into_iter().collect();
        assert_eq!(kept, expected);
    }

    #[test]
    fn the_newest_backup_is_always_kept() {
        let backups = vec![(id(1), at("2026-11-20T01:00:00Z"))];
        let none = Retention {
            keep_daily: 0,
            keep_weekly: 0,
        };
        assert_eq!(keep(&backups, none).len(), 1);
        assert!(keep(&[], none).is_empty());
    }
}
