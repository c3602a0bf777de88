//! Backups an operator keeps by hand (`srs backup create --keep`, `srs
//! backup keep`): a marker beside the manifest that retention honours
//! until the operator releases it.

use crate::layout::{BackupId, BackupStore};
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::path::Path;

/// The marker's file name inside a backup's folder.
pub const KEPT: &str = "kept.json";

/// Why an operator keeps a backup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HandKept {
    /// The operator's label (may be empty).
    pub label: String,
    /// When it was marked.
    pub since: DateTime<Utc>,
}

impl HandKept {
    /// The marker of the backup in `dir`, if it has one.
    pub fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(KEPT)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// Keeps backup `id` until released, with `label` (at most 200
/// characters, one line).
pub fn keep(store: &BackupStore, id: &BackupId, label: &str) -> anyhow::Result<HandKept> {
    let label = label.trim();
    if label.chars().count() > 200 || label.contains(['\n', '\r']) {
        anyhow::bail!("--label: at most 200 characters on one line");
    }
    let dir = store.existing(id)?;
    let marker = HandKept {
        label: label.to_owned(),
        since: Utc::now(),
    };
    let text = serde_json::to_string_pretty(&marker).context("cannot encode the marker")?;
    let tmp = dir.join(format!("{KEPT}.tmp"));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(KEPT))
        .with_context(|| format!("cannot write {}", dir.join(KEPT).display()))?;
    Ok(marker)
}

/// Releases backup `id` to retention; says whether it was kept by hand.
pub fn release(store: &BackupStore, id: &BackupId) -> anyhow::Result<bool> {
    let path = store.existing(id)?.join(KEPT);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}
