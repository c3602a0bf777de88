//! The backup store: a plain directory tree, so that copying it to object
//! storage is one `rsync` or `rclone` away.
//!
//! ```text
//! STORE/
//!   backups/ID/manifest.json      what the backup holds, with checksums
//!   backups/ID/data/…             the compressed data files it lists
//!   backups/ID/verified.json      the last trial restore's result
//!   backups/.ID.partial/          a backup being written (never listed)
//! ```

use crate::key::BackupKey;
use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A backup's name: the UTC time it was taken, e.g. `20261204T143000Z`,
/// with `-2`, `-3`… when two are taken in one second.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupId(String);

impl BackupId {
    /// The name for a backup taken at `at`, before uniqueness is checked.
    fn at(at: DateTime<Utc>, n: u32) -> Self {
        let base = at.format("%Y%m%dT%H%M%SZ").to_string();
        if n <= 1 {
            Self(base)
        } else {
            Self(format!("{base}-{n}"))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for BackupId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (stamp, suffix) = s.split_once('-').unwrap_or((s, "1"));
        let well_formed = stamp.len() == 16
            && DateTime::parse_from_str(&format!("{stamp}+0000"), "%Y%m%dT%H%M%SZ%z").is_ok()
            && !suffix.is_empty()
            && suffix.chars().all(|c| c.is_ascii_digit());
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "'{s}' is not a backup ID: they look like 20261204T143000Z (see `srs backup list`)"
            ))
        }
    }
}

/// The directory a store lives in, and the key its new backups are
/// encrypted with (and old ones read with), if any.
#[derive(Debug, Clone)]
pub struct BackupStore {
    root: PathBuf,
    key: Option<std::sync::Arc<BackupKey>>,
}

impl BackupStore {
    /// The store in `root`; created on first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            key: None,
        }
    }

    /// The same store, encrypting new backups with `key`.
    pub fn with_key(self, key: Option<std::sync::Arc<BackupKey>>) -> Self {
        Self { key, ..self }
    }

    /// The key, when one was given.
    pub fn key(&self) -> Option<&BackupKey> {
        self.key.as_deref()
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn backups(&self) -> PathBuf {
        self.root.join("backups")
    }

    /// Where a finished backup lives.
    pub fn backup_dir(&self, id: &BackupId) -> PathBuf {
        self.backups().join(id.as_str())
    }

    /// Reserves a new backup's ID and the hidden folder it is written in;
    /// [`BackupStore::publish`] makes it visible once complete.
    pub fn reserve(&self, at: DateTime<Utc>) -> anyhow::Result<(BackupId, PathBuf)> {
        let backups = self.backups();
        std::fs::create_dir_all(&backups)
            .with_context(|| format!("cannot create the backup store at {}", backups.display()))?;
        for n in 1..1000 {
            let id = BackupId::at(at, n);
            let partial = backups.join(format!(".{id}.partial"));
            if self.backup_dir(&id).exists() {
                continue;
            }
            match std::fs::create_dir(&partial) {
                Ok(()) => {
                    std::fs::create_dir(partial.join("data"))
                        .with_context(|| format!("cannot create {}", partial.display()))?;
                    return Ok((id, partial));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", partial.display()))
                }
            }
        }
        bail!("no free backup ID for {at} in {}", backups.display())
    }

    /// The hidden folder a copy of backup `id` from another store is
    /// written in (emptied first: a leftover is an interrupted copy).
    pub fn partial_dir(&self, id: &BackupId) -> anyhow::Result<PathBuf> {
        let partial = self.backups().join(format!(".{id}.partial"));
        match std::fs::remove_dir_all(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot remove {}", partial.display()))
            }
        }
        std::fs::create_dir_all(partial.join("data"))
            .with_context(|| format!("cannot create {}", partial.display()))?;
        Ok(partial)
    }

    /// Moves a complete backup from its hidden folder into the store.
    pub fn publish(&self, id: &BackupId, partial: &Path) -> anyhow::Result<PathBuf> {
        let dir = self.backup_dir(id);
        std::fs::rename(partial, &dir)
            .with_context(|| format!("cannot move {} to {}", partial.display(), dir.display()))?;
        Ok(dir)
    }

    /// The finished backups, oldest first.
    pub fn ids(&self) -> anyhow::Result<Vec<BackupId>> {
        let backups = self.backups();
        let entries = match std::fs::read_dir(&backups) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", backups.display())),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", backups.display()))?;
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<BackupId>().ok())
            {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The newest backup, or a message saying the store has none.
    pub fn newest(&self) -> anyhow::Result<BackupId> {
        self.ids()?.pop().with_context(|| {
            format!(
                "the backup store {} holds no backup yet: take one with `srs backup create`",
                self.root.display()
            )
        })
    }

    /// The backup named `id`, checked to exist.
    pub fn existing(&self, id: &BackupId) -> anyhow::Result<PathBuf> {
        let dir = self.backup_dir(id);
        if !dir.join(crate::manifest::MANIFEST).is_file() {
            bail!(
                "no backup {id} in {} (see `srs backup list`)",
                self.root.display()
            );
        }
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_parse_back() {
        let at = DateTime::parse_from_rfc3339("2026-12-04T14:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let first = BackupId::at(at, 1);
        assert_eq!(first.as_str(), "20261204T143000Z");
        assert_eq!(BackupId::at(at, 2).as_str(), "20261204T143000Z-2");
        assert_eq!(
            "20261204T143000Z-2".parse::<BackupId>(),
            Ok(BackupId::at(at, 2))
        );
        assert!("20261304T143000Z".parse::<BackupId>().is_err());
        assert!("../etc".parse::<BackupId>().is_err());
        assert!("20261204T143000Z-".parse::<BackupId>().is_err());
    }

    #[test]
    fn reserved_backups_are_hidden_until_published() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BackupStore::new(dir.path());
        let at = Utc::now();
        let (id, partial) = store.reserve(at).expect("reserve");
        let (second, _) = store.reserve(at).expect("reserve");
        assert_ne!(id, second, "two backups in one second get two IDs");
        assert!(store.ids().expect("ids").is_empty());
        std::fs::write(partial.join(crate::manifest::MANIFEST), "{}").expect("write");
        store.publish(&id, &partial).expect("publish");
        assert_eq!(store.ids().expect("ids"), vec![id.clone()]);
        assert!(store.existing(&id).is_ok());
        assert!(store.existing(&second).is_err());
    }
}
