//! `srs backup verify`: checksums first, then a trial restore into a
//! scratch database whose rows and digests must match the manifest. The
//! result is kept beside the backup, so that "last proven restorable" is
//! a fact on disk, not a belief.

use crate::layout::{BackupId, BackupStore};
use crate::manifest::{Engine, Manifest};
use crate::progress::Progress;
use crate::restore::{restore, Overwrite};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file in a backup's folder that records its last verification.
pub const VERIFIED: &str = "verified.json";

/// The outcome of one verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Whether the backup restored and matched its manifest.
    pub ok: bool,
    /// Rows restored.
    pub rows: u64,
    /// Seconds the trial restore took.
    pub restore_secs: f64,
    /// What went wrong, when it did.
    pub error: Option<String>,
    /// The random point in the archive the restored backup was rolled
    /// forward to (MariaDB with a binlog archive), as a GTID.
    #[serde(default)]
    pub replayed_to: Option<String>,
    /// Archived transactions replayed to reach it.
    #[serde(default)]
    pub replayed: u64,
    /// Seconds the replay took.
    #[serde(default)]
    pub replay_secs: f64,
}

/// What a trial found.
struct Trial {
    rows: u64,
    restore_secs: f64,
    replayed_to: Option<String>,
    replayed: u64,
    replay_secs: f64,
}

impl Verification {
    /// The last verification of the backup in `dir`, if any.
    pub fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(VERIFIED)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self).context("cannot encode the result")?;
        let tmp = dir.join(format!("{VERIFIED}.tmp"));
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, dir.join(VERIFIED))
            .with_context(|| format!("cannot write {}", dir.join(VERIFIED).display()))
    }
}

/// Verifies one backup and records the outcome beside it; an error says
/// what failed (and is recorded too).
pub async fn verify(
    store: &BackupStore,
    id: &BackupId,
    progress: &mut Progress,
) -> anyhow::Result<Verification> {
    let dir = store.existing(id)?;
    let _reading = crate::lock::shared(store.root())?;
    let outcome = trial(store, id, &dir, progress).await;
    let record = match &outcome {
        Ok(t) => Verification {
            at: Utc::now(),
            ok: true,
            rows: t.rows,
            restore_secs: t.restore_secs,
            error: None,
            replayed_to: t.replayed_to.clone(),
            replayed: t.replayed,
            replay_secs: t.replay_secs,
        },
        Err(e) => Verification {
            at: Utc::now(),
            ok: false,
            rows: 0,
            restore_secs: 0.0,
            error: Some(format!("{e:#}")),
            replayed_to: None,
            replayed: 0,
            replay_secs: 0.0,
        },
    };
    record.write(&dir)?;
    outcome?;
    tracing::info!(backup = %id, secs = record.restore_secs, "backup verified by a trial restore");
    Ok(record)
}

async fn trial(
    store: &BackupStore,
    id: &BackupId,
    dir: &Path,
    progress: &mut Progress,
) -> anyhow::Result<Trial> {
    let manifest = Manifest::read(dir)?;
    progress.stage("checksums", 0);
    crate::files::check(dir, &manifest)?;
    crate::key::key_for(&manifest.id, manifest.encryption.as_ref(), store.key())?;
    match manifest.engine {
        Engine::Sqlite => {
            let scratch = tempfile::Builder::new()
                .prefix("srs-trial-restore-")
                .tempdir()
                .context("cannot create a folder for the trial restore")?;
            let url = format!("sqlite:{}", scratch.path().join("srs.db").display());
            let done = restore(
                dir,
                &manifest,
                store.key(),
                &url,
                Overwrite::Refuse,
                progress,
            )
            .await?;
            Ok(Trial {
                rows: done.rows,
                restore_secs: done.secs,
                replayed_to: None,
                replayed: 0,
                replay_secs: 0.0,
            })
        }
        Engine::Mariadb => {
            archive_continues(dir, &manifest)?;
            progress.stage("scratch server", 0);
            let scratch = crate::scratch::Scratch::start().await?;
            let result = async {
                let done = restore(
                    dir,
                    &manifest,
                    store.key(),
                    &scratch.url(),
                    Overwrite::Refuse,
                    progress,
                )
                .await?;
                let mut trial = Trial {
                    rows: done.rows,
                    restore_secs: done.secs,
                    replayed_to: None,
                    replayed: 0,
                    replay_secs: 0.0,
                };
                if let Some(point) = random_point(store, &manifest)? {
                    let plan = crate::pitr::plan_from(store, id, point)?;
                    let (n, secs) = crate::pitr::replay(&plan, &scratch.url(), progress).await?;
                    trial.replayed_to = plan.to.map(|t| t.transaction.gtid.to_string());
                    trial.replayed = n;
                    trial.replay_secs = secs;
                }
                Ok(trial)
            }
            .await;
            scratch.stop().await;
            result
        }
    }
}

/// A random archived transaction after the backup, if there is one: the
/// trial rolls the backup forward to it, which proves the log chain
/// applies, not just that it is there.
fn random_point(
    store: &BackupStore,
    manifest: &Manifest,
) -> anyhow::Result<Option<crate::pitr::Point>> {
    let archive = crate::archive::Archive::load(store)?;
    let Some(newest) = archive.newest() else {
        return Ok(None);
    };
    let Some(from) = manifest
        .gtid
        .as_deref()
        .and_then(|g| crate::binlog::parse_position(g).ok())
        .and_then(|p| p.into_iter().find(|g| g.domain == newest.gtid.domain))
    else {
        return Ok(None);
    };
    if newest.gtid.seq <= from.seq {
        return Ok(None);
    }
    let seq = rand::Rng::gen_range(&mut rand::thread_rng(), from.seq + 1..=newest.gtid.seq);
    Ok(Some(crate::pitr::Point::Gtid(crate::binlog::Gtid {
        seq,
        ..newest.gtid
    })))
}

/// A backup is only as good as the log that rolls it forward: every
/// archived transaction after its position must be there.
fn archive_continues(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let Some(store_root) = dir.parent().and_then(Path::parent) else {
        return Ok(());
    };
    let archive = crate::archive::Archive::load(&BackupStore::new(store_root))?;
    let Some(newest) = archive.newest() else {
        return Ok(());
    };
    let Some(from) = manifest
        .gtid
        .as_deref()
        .and_then(|g| crate::binlog::parse_position(g).ok())
        .and_then(|p| p.into_iter().find(|g| g.domain == newest.gtid.domain))
    else {
        return Ok(());
    };
    if let Some((a, b)) = archive
        .gaps(newest.gtid.domain, from.seq, newest.gtid.seq)
        .first()
    {
        anyhow::bail!(
            "the binlog archive has a gap after this backup: transactions {d}-*-{a} to {d}-*-{b} are missing, so points after {d}-*-{prev} cannot be restored",
            d = newest.gtid.domain,
            prev = a - 1
        );
    }
    Ok(())
}
