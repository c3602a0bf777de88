//! `srs restore --into`: a restore planned and checked before anything is
//! touched (its `Display` is the "would ..." line of a dry run), then
//! executed in order: checksums, a backup of what the target holds, the
//! restore (beside a live MariaDB database, then swapped in), the replay
//! of archived transactions to the point asked for.

use crate::db_url::redacted;
use crate::lock::StoreLock;
use crate::pitr::{self, Point};
use crate::swap::Swap;
use crate::{BackupId, BackupStore, Engine, Manifest, Overwrite, Progress};
use anyhow::{bail, Context};
use std::fmt;
use std::path::PathBuf;

/// What an operator asked to restore, and where.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The target database's URL.
    pub into: String,
    /// A point in time or a GTID to replay up to (MariaDB only).
    pub point: Option<Point>,
    /// A backup chosen by id (without a point; default: the newest).
    pub backup: Option<BackupId>,
    /// Replace a target that holds data (it is backed up first).
    pub force: bool,
}

/// A restore checked against the store and the target, not yet begun. It
/// holds the store's shared lock, so no prune removes its backup meanwhile.
pub struct RestoreJob {
    into: String,
    id: BackupId,
    dir: PathBuf,
    manifest: Manifest,
    plan: Option<pitr::Plan>,
    holds_data: bool,
    swap: Option<Swap>,
    _reading: StoreLock,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreOutcome {
    /// The backup restored.
    pub backup: BackupId,
    /// Rows restored, and how long it took.
    pub rows: u64,
    /// Seconds the restore took.
    pub secs: f64,
    /// Archived transactions replayed after it, and how long that took.
    pub replayed: u64,
    /// Seconds the replay took.
    pub replay_secs: f64,
    /// The GTID the database stands at, when a point was replayed to.
    pub gtid: Option<String>,
    /// The backup of what the target held before, when it held data.
    pub safety_backup: Option<String>,
    /// The swap, when a live MariaDB database was restored beside itself.
    pub swap: Option<Swap>,
    /// A point was asked for (the replay line is worth printing).
    pub replayed_to_point: bool,
}

impl RestoreJob {
    /// Checks everything a restore needs before it begins: the point on
    /// this engine, the backup, its key, the target's state.
    pub async fn plan(backups: &BackupStore, request: RestoreRequest) -> anyhow::Result<Self> {
        let into = request.into;
        let engine = crate::create::engine_of(&into).context("--into")?;
        if request.point.is_some() && engine == Engine::Sqlite {
            bail!("--at and --gtid need MariaDB's binary log; a SQLite database restores to one backup's point: choose it with --backup ID (see `srs backup list`)");
        }
        let plan = request.point.map(|p| pitr::plan(backups, p)).transpose()?;
        let id = match (&plan, request.backup) {
            (Some(plan), _) => plan.backup.clone(),
            (None, Some(id)) => id,
            (None, None) => backups.newest()?,
        };
        let dir = backups.existing(&id)?;
        let reading = crate::lock::shared(backups.root())?;
        let manifest = Manifest::read(&dir)?;
        crate::key::key_for(&manifest.id, manifest.encryption.as_ref(), backups.key())?;
        let holds_data = crate::target_holds_data(&into).await.context("--into")?;
        if holds_data && !request.force {
            bail!("--into: that database already exists and holds data; add --force to replace it (srs backs it up first)");
        }
        if holds_data && engine == Engine::Sqlite {
            let users = crate::restore::sqlite_users(&into)?;
            if !users.is_empty() {
                bail!(
                    "--into: the database is open in process {users:?} (a running srs serve?): stop it, restore, then start it again; a running server would go on writing to the replaced file"
                );
            }
        }
        // A live MariaDB database is restored beside itself and swapped in.
        let swap = (holds_data && engine == Engine::Mariadb)
            .then(|| Swap::plan(&into, chrono::Utc::now()))
            .transpose()?;
        Ok(Self {
            into,
            id,
            dir,
            manifest,
            plan,
            holds_data,
            swap,
            _reading: reading,
        })
    }

    /// A note for the operator (e.g. the point is past the archive's end).
    pub fn note(&self) -> Option<&str> {
        self.plan.as_ref().and_then(|p| p.note.as_deref())
    }

    /// Runs the restore; on a failure after the target was backed up, the
    /// error names that backup.
    pub async fn execute(
        self,
        backups: &BackupStore,
        progress: &mut Progress,
    ) -> anyhow::Result<RestoreOutcome> {
        progress.stage("checksums", 0);
        crate::check_files(&self.dir, &self.manifest)?;
        let safety_backup = if self.holds_data {
            let label = format!("{} (before a restore replaced it)", redacted(&self.into));
            let safety = crate::create(backups, &self.into, &label, progress)
                .await
                .context(
                    "cannot back up the database about to be replaced, so it was left as it was",
                )?;
            Some(safety.id)
        } else {
            None
        };
        let done = self.restore_and_replay(backups.key(), progress).await;
        match (done, &safety_backup) {
            (Ok(outcome), _) => Ok(RestoreOutcome {
                safety_backup,
                ..outcome
            }),
            (Err(e), Some(id)) => {
                Err(e.context(format!("what the database held before is in backup {id}")))
            }
            (Err(e), None) => Err(e),
        }
    }

    async fn restore_and_replay(
        self,
        key: Option<&crate::BackupKey>,
        progress: &mut Progress,
    ) -> anyhow::Result<RestoreOutcome> {
        // Instances serving the live database cache reads against its
        // change counters; the restored ones must move past what they saw.
        let past = match &self.swap {
            Some(_) => live_generations(&self.into).await,
            None => None,
        };
        let (target, overwrite) = match &self.swap {
            Some(swap) => {
                swap.clear_staging(&self.into).await?;
                (swap.staging_url.clone(), Overwrite::Refuse)
            }
            None if self.holds_data => (self.into.clone(), Overwrite::Replace),
            None => (self.into.clone(), Overwrite::Refuse),
        };
        let done =
            crate::restore(&self.dir, &self.manifest, key, &target, overwrite, progress).await?;
        let (replayed, replay_secs) = match &self.plan {
            Some(plan) => pitr::replay(plan, &target, progress).await?,
            None => (0, 0.0),
        };
        if let Some(swap) = &self.swap {
            progress.stage("swap", 0);
            swap.swap(&self.into).await?;
            if let Some(past) = past {
                advance_past(&self.into, past).await?;
            }
        }
        let gtid = self.plan.as_ref().and_then(|p| {
            p.to.map(|t| t.transaction.gtid.to_string())
                .or_else(|| self.manifest.gtid.clone())
        });
        Ok(RestoreOutcome {
            backup: self.id,
            rows: done.rows,
            secs: done.secs,
            replayed,
            replay_secs,
            gtid,
            safety_backup: None,
            swap: self.swap,
            replayed_to_point: self.plan.is_some(),
        })
    }
}

impl fmt::Display for RestoreJob {
    /// What it will do, as one sentence after "would".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "restore backup {} ({} rows taken {} from {}) into {}",
            self.id,
            self.manifest.rows(),
            self.manifest.taken_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.manifest.source,
            redacted(&self.into)
        )?;
        match self.plan.as_ref().map(|p| (p, p.to)) {
            Some((p, Some(to))) => write!(
                f,
                ", then replay {} archived transaction(s) from {} files up to GTID {} (logged {})",
                p.transactions,
                p.segments.len(),
                to.transaction.gtid,
                chrono::DateTime::from_timestamp(to.transaction.at, 0)
                    .map_or_else(String::new, |d| d
                        .format("%Y-%m-%d %H:%M:%S UTC")
                        .to_string())
            )?,
            Some((_, None)) => f.write_str(", with no archived transaction to replay after it")?,
            None => {}
        }
        match (&self.swap, self.holds_data) {
            (Some(swap), _) => write!(
                f,
                ", after backing up what it holds now: restored into {} first, then swapped in with one atomic RENAME TABLE; the replaced tables are kept in database {}",
                swap.staging, swap.kept
            ),
            (None, true) => f.write_str(", after backing up what it holds now"),
            (None, false) => Ok(()),
        }
    }
}

/// The change counters of a live srs database, if it has them.
async fn live_generations(url: &str) -> Option<srs_store::Generations> {
    let options = srs_store::StoreOptions {
        max_connections: 1,
        ..Default::default()
    };
    let store = srs_store::Store::connect(url, &options).await.ok()?;
    let past = store.generations().await.ok();
    store.close().await;
    past
}

/// Moves the restored database's change counters past `past`, so that
/// instances that cached reads of the replaced data read again.
async fn advance_past(url: &str, past: srs_store::Generations) -> anyhow::Result<()> {
    let store = srs_store::Store::connect(url, &srs_store::StoreOptions::default())
        .await
        .context("cannot open the restored database")?;
    let advanced = store
        .advance_generations_past(past)
        .await
        .context("cannot advance the restored database's change counters");
    store.close().await;
    advanced
}
