//! `srs backup …` and `srs restore`: definitions and what they print.

use crate::config::{self, StoreArgs};
use anyhow::Context;
use clap::{Args, Subcommand};
use secrecy::ExposeSecret;
use srs_backup::restore_job::{RestoreJob, RestoreOutcome, RestoreRequest};
use srs_backup::{BackupId, BackupStore, Manifest, Progress, ProgressMode, Verification};
use std::path::PathBuf;

/// The backup store, when neither --store nor --data-dir says otherwise.
const DEFAULT_STORE: &str = "./srs-data/backup-store";

/// Where the backups are kept.
#[derive(Debug, Args)]
pub struct StoreDirArgs {
    /// The backup store: a directory (local or mounted)
    /// [default: DATA_DIR/backup-store with --data-dir, else ./srs-data/backup-store]
    #[arg(long, env = "SRS_BACKUP_STORE", value_name = "DIR")]
    store: Option<PathBuf>,
    /// The backup key (see `srs backup key`): new backups are encrypted
    /// with it, and encrypted ones need it to be read
    /// [default: the topology's key_file with --data-dir]
    #[arg(long, env = "SRS_BACKUP_KEY_FILE", value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Print JSON lines for scripts (progress, then the result).
    #[arg(long)]
    json: bool,
}

impl StoreDirArgs {
    fn store(&self, data_dir: Option<&std::path::Path>) -> anyhow::Result<BackupStore> {
        let cluster = data_dir.map(srs_dr::ClusterDir::new);
        let store = match (&self.store, &cluster) {
            (Some(dir), _) => BackupStore::new(dir),
            (None, Some(cluster)) => {
                BackupStore::new(cluster.file(srs_dr::ClusterFile::BackupStore))
            }
            (None, None) => BackupStore::new(DEFAULT_STORE),
        };
        let key_file = match (&self.key_file, &cluster) {
            (Some(file), _) => Some(file.clone()),
            (None, Some(cluster)) => srs_dr::Topology::of(cluster)
                .ok()
                .and_then(|t| t.backup.key_file_in(cluster)),
            (None, None) => None,
        };
        let key = key_file
            .map(|file| srs_backup::BackupKey::load(&file).context("--key-file"))
            .transpose()?;
        Ok(store.with_key(key.map(std::sync::Arc::new)))
    }

    fn progress(&self) -> Progress {
        Progress::new(if self.json {
            ProgressMode::Json
        } else {
            ProgressMode::Terminal
        })
    }
}

/// The retention policy, when the topology's is not the one wanted.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Every point of this much recent time stays restorable, e.g. 7d,
    /// 36h, 2w [default: the topology's with --data-dir, else 7d]
    #[arg(long, value_name = "DURATION")]
    recovery_window: Option<srs_dr::topology::RecoveryWindow>,
    /// Beyond the window, keep the newest backup of each of this many days
    /// [default: the topology's with --data-dir, else 7]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=3660))]
    keep_daily: Option<u32>,
    /// Beyond the window, keep the newest backup of each of this many
    /// weeks [default: the topology's with --data-dir, else 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=520))]
    keep_weekly: Option<u32>,
}

impl RetentionArgs {
    /// The flags over the cluster's `[backup]` section (or its defaults).
    fn resolve(
        &self,
        data_dir: Option<&std::path::Path>,
    ) -> anyhow::Result<srs_backup::retention::Retention> {
        let mut section = match data_dir {
            Some(dir) => {
                let cluster = srs_dr::ClusterDir::new(dir);
                srs_dr::Topology::of(&cluster)
                    .with_context(|| format!("--data-dir {cluster}: no cluster topology there"))?
                    .backup
            }
            None => srs_dr::topology::BackupSection::default(),
        };
        if let Some(window) = self.recovery_window {
            section.recovery_window = window;
        }
        section.keep_daily = self.keep_daily.unwrap_or(section.keep_daily);
        section.keep_weekly = self.keep_weekly.unwrap_or(section.keep_weekly);
        Ok(section.retention())
    }
}

/// `srs backup` subcommands.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Create a key file for encrypting backups at rest (age, X25519);
    /// name it with --key-file or the topology's key_file. Keep a copy away
    /// from the backups: without it they cannot be read.
    Key {
        /// Where to write it (never overwritten; readable by you only).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Take a consistent full backup without blocking writes (from the DR
    /// replica of a cluster when it answers, else the primary).
    Create {
        #[command(flatten)]
        source: StoreArgs,
        #[command(flatten)]
        store: StoreDirArgs,
        /// Prove it at once with a trial restore (see `srs backup verify`).
        #[arg(long)]
        verify: bool,
        /// Keep it whatever retention says, until released with `srs backup
        /// keep ID --release`.
        #[arg(long)]
        keep: bool,
        /// With --keep: why it is kept, shown by `srs backup list`.
        #[arg(long, requires = "keep", value_name = "TEXT")]
        label: Option<String>,
    },
    /// Keep a backup whatever retention says (or, with --release, hand it
    /// back to retention).
    Keep {
        /// The backup (see `srs backup list`).
        id: BackupId,
        /// Why it is kept, shown by `srs backup list`.
        #[arg(long, value_name = "TEXT", conflicts_with = "release")]
        label: Option<String>,
        /// Hand it back to retention: the next prune may remove it.
        #[arg(long)]
        release: bool,
        /// A cluster started by `srs up` (its store is DATA_DIR/backup-store).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        store: StoreDirArgs,
    },
    /// List the backups: when, size, rows, whether each was proven
    /// restorable, and why retention keeps it.
    List {
        /// A cluster started by `srs up` (its store is DATA_DIR/backup-store).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        store: StoreDirArgs,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Copy the primary's binary logs into the store as they are written,
    /// following a new primary after a failover; runs until Ctrl-C.
    Archive {
        /// A cluster started by `srs up`: archive whichever site is primary.
        #[arg(long, value_name = "DIR", required_unless_present = "server")]
        data_dir: Option<PathBuf>,
        /// Or one server: mysql://USER:PASSWORD@HOST:PORT (an account with
        /// REPLICATION SLAVE and BINLOG MONITOR).
        #[arg(
            long,
            env = "SRS_ARCHIVE_SERVER",
            hide_env_values = true,
            conflicts_with = "data_dir"
        )]
        server: Option<String>,
        #[command(flatten)]
        store: StoreDirArgs,
    },
    /// The backup agent `srs up` runs: the binlog archive, scheduled and
    /// verified backups and retention, as the topology's [backup] section
    /// says; reports to backup-state.json. Runs until Ctrl-C.
    Run {
        /// The cluster's data directory.
        #[arg(long, default_value = "./srs-data/cluster")]
        data_dir: PathBuf,
    },
    /// Copy the backups and the binlog archive to a second store (only
    /// what it lacks; nothing there is removed). `srs up` does this itself
    /// when the topology names a second_store.
    Copy {
        /// The second store's directory.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// A cluster started by `srs up` (its store is DATA_DIR/backup-store).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        store: StoreDirArgs,
    },
    /// Remove the backups retention no longer needs (every point of the
    /// recovery window stays restorable) and the archived binlogs no kept
    /// backup needs; never while a restore or verify runs.
    Prune {
        #[command(flatten)]
        retention: RetentionArgs,
        /// Say what would be removed and why, and remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// A cluster started by `srs up` (its store is DATA_DIR/backup-store).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        store: StoreDirArgs,
    },
    /// Check a backup's checksums, then restore it into a scratch database
    /// and compare every table with its manifest.
    Verify {
        /// The backup [default: the newest]
        id: Option<BackupId>,
        /// A cluster started by `srs up` (its store is DATA_DIR/backup-store).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        store: StoreDirArgs,
    },
}

/// `srs restore` settings.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Where to restore: sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE,
    /// or with --data-dir a database name on the cluster's primary
    #[arg(long, value_name = "DATABASE", required_unless_present = "student")]
    into: Option<String>,
    /// Instead: show this one student as it was at --at/--gtid next to how
    /// it is now, and put it back (an audited update) once confirmed.
    #[arg(long, value_name = "ID", conflicts_with = "into", requires = "point")]
    student: Option<i64>,
    /// With --student: the live database (default: the cluster's primary
    /// with --data-dir).
    #[arg(
        long,
        env = "SRS_DATABASE_URL",
        hide_env_values = true,
        requires = "student"
    )]
    database_url: Option<String>,
    /// With --student: put it back without asking.
    #[arg(long, requires = "student")]
    yes: bool,
    /// The backup to restore [default: the newest]
    #[arg(long, conflicts_with_all = ["at", "gtid"])]
    backup: Option<BackupId>,
    /// Restore to this moment (RFC 3339, e.g. 2026-11-25T10:42:00Z): the
    /// newest backup before it, plus the archived transactions up to and
    /// including that second.
    #[arg(long, conflicts_with = "gtid", group = "point")]
    at: Option<chrono::DateTime<chrono::Utc>>,
    /// Restore up to and including this transaction, e.g. 0-1-12345.
    #[arg(long, group = "point")]
    gtid: Option<srs_backup::Gtid>,
    /// A cluster started by `srs up` (its store is DATA_DIR/backup-store).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Restore over a database that holds data (it is backed up first).
    #[arg(long)]
    force: bool,
    /// Say what would be done, and do nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    store: StoreDirArgs,
}

fn size(bytes: u64) -> String {
    if bytes >= 10 << 20 {
        format!("{:.0} MiB", bytes as f64 / f64::from(1 << 20))
    } else if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.0} KiB", (bytes as f64 / 1024.0).ceil())
    }
}

/// A retention window in the words the topology uses (7d, 36h).
fn humanize(window: chrono::Duration) -> String {
    let secs = window.num_seconds().max(0) as u64;
    srs_dr::topology::RecoveryWindow { secs }.to_string()
}

fn print_json(value: serde_json::Value) {
    println!("{value}");
}

/// Runs a `srs backup` subcommand.
pub async fn backup(command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Key { out } => {
            let key = srs_backup::BackupKey::generate(&out)?;
            println!(
                "wrote {} (public key {}); backups taken with --key-file {} are encrypted with it.\nKeep a copy somewhere other than the backup store: without it, those backups cannot be restored.",
                out.display(),
                key.recipient(),
                out.display()
            );
            Ok(())
        }
        BackupCommand::Create {
            source,
            store,
            verify,
            keep,
            label: keep_label,
        } => create_backup(source, store, verify, keep, keep_label).await,
        BackupCommand::Archive {
            data_dir,
            server,
            store,
        } => {
            let backups = store.store(data_dir.as_deref())?;
            archive(&backups, data_dir, server).await
        }
        BackupCommand::Copy {
            to,
            data_dir,
            store,
        } => copy_store(to, data_dir, store).await,
        BackupCommand::Run { data_dir } => {
            srs_dr::backup_agent::run(
                &srs_dr::ClusterDir::new(data_dir),
                crate::cli::shutdown_signal(),
            )
            .await
        }
        BackupCommand::Prune {
            retention,
            dry_run,
            data_dir,
            store,
        } => prune_store(retention, dry_run, data_dir, store).await,
        BackupCommand::Keep {
            id,
            label,
            release,
            data_dir,
            store,
        } => keep_backup(id, label, release, data_dir, store).await,
        BackupCommand::List {
            data_dir,
            store,
            retention,
        } => {
            let backups = store.store(data_dir.as_deref())?;
            let retention = retention.resolve(data_dir.as_deref())?;
            list(&backups, retention, store.json)
        }
        BackupCommand::Verify {
            id,
            data_dir,
            store,
        } => verify_backup(id, data_dir, store).await,
    }
}

/// `srs backup create`: takes a backup, keeps it by hand or proves it when asked.
async fn create_backup(
    source: StoreArgs,
    store: StoreDirArgs,
    verify: bool,
    keep: bool,
    keep_label: Option<String>,
) -> anyhow::Result<()> {
    let data_dir = source.data_dir().map(PathBuf::from);
    let backups = store.store(data_dir.as_deref())?;
    let (url, label) = config::resolve_backup_source(source).await?;
    let mut progress = store.progress();
    let manifest = srs_backup::create(&backups, url.expose_secret(), &label, &mut progress).await?;
    let id: BackupId = manifest.id.parse().map_err(anyhow::Error::msg)?;
    let kept = keep
        .then(|| srs_backup::hand_kept::keep(&backups, &id, keep_label.as_deref().unwrap_or("")))
        .transpose()?;
    let verification = if verify {
        Some(srs_backup::verify(&backups, &id, &mut progress).await?)
    } else {
        None
    };
    progress.finish();
    if store.json {
        print_json(serde_json::json!({
            "event": "done",
            "backup": manifest.id,
            "store": backups.root(),
            "engine": manifest.engine,
            "gtid": manifest.gtid,
            "bytes": manifest.bytes(),
            "rows": manifest.rows(),
            "secs": (manifest.finished_at - manifest.taken_at).num_milliseconds() as f64 / 1000.0,
            "verified": verification,
            "kept_by_hand": kept,
        }));
    } else {
        println!(
            "backup {} written to {}: {} rows, {} compressed, from {}{}",
            manifest.id,
            backups
                .backup_dir(&manifest.id.parse().map_err(anyhow::Error::msg)?)
                .display(),
            manifest.rows(),
            size(manifest.bytes()),
            manifest.source,
            manifest
                .gtid
                .as_deref()
                .map(|g| format!(" at GTID {g}"))
                .unwrap_or_default()
        );
        if kept.is_some() {
            println!(
                "kept by hand: retention will not remove it until `srs backup keep {id} --release`"
            );
        }
        if let Some(v) = verification {
            println!(
                "verified: restored {} rows into a scratch database in {:.1} s; every table matches",
                v.rows, v.restore_secs
            );
        }
    }
    Ok(())
}

/// `srs backup copy`: brings a second store up to date.
async fn copy_store(
    to: PathBuf,
    data_dir: Option<PathBuf>,
    store: StoreDirArgs,
) -> anyhow::Result<()> {
    let backups = store.store(data_dir.as_deref())?;
    let second = BackupStore::new(&to);
    let copied =
        tokio::task::spawn_blocking(move || srs_backup::second_store::copy(&backups, &second))
            .await??;
    if store.json {
        print_json(serde_json::json!({"event": "done", "to": to, "copied": copied}));
    } else {
        println!(
            "copied {} backup(s) and {} binlog file(s) ({}) to {}{}",
            copied.backups.len(),
            copied.binlog_files,
            size(copied.bytes),
            to.display(),
            if copied.backups.is_empty() {
                String::new()
            } else {
                format!(": {}", copied.backups.join(", "))
            }
        );
    }
    Ok(())
}

/// `srs backup prune`: applies retention, or says what it would remove.
async fn prune_store(
    retention: RetentionArgs,
    dry_run: bool,
    data_dir: Option<PathBuf>,
    store: StoreDirArgs,
) -> anyhow::Result<()> {
    let backups = store.store(data_dir.as_deref())?;
    let retention = retention.resolve(data_dir.as_deref())?;
    let pruned = srs_backup::prune::prune(&backups, retention, dry_run)?;
    if store.json {
        print_json(serde_json::json!({"event": "done", "dry_run": dry_run, "pruned": pruned}));
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        if let Some(from) = pruned.window_from {
            println!(
                "recovery window: every point since {} stays restorable",
                from.format("%Y-%m-%d %H:%M:%S UTC")
            );
        }
        for j in &pruned.judged {
            println!(
                "  {} {}: {}",
                if j.kept {
                    "keep  "
                } else if dry_run {
                    "would remove"
                } else {
                    "remove"
                },
                j.id,
                j.why
            );
        }
        println!(
            "{verb} {} backup(s) and {} archived binlog file(s), {}; kept {} backup(s)",
            pruned.backups.len(),
            pruned.binlogs.len(),
            size(pruned.bytes),
            pruned.kept.len(),
        );
    }
    Ok(())
}

/// `srs backup keep`: keeps a backup by hand, or releases it.
async fn keep_backup(
    id: BackupId,
    label: Option<String>,
    release: bool,
    data_dir: Option<PathBuf>,
    store: StoreDirArgs,
) -> anyhow::Result<()> {
    let backups = store.store(data_dir.as_deref())?;
    if release {
        let was = srs_backup::hand_kept::release(&backups, &id)?;
        println!(
            "{}",
            if was {
                format!("backup {id} is released: retention decides about it again")
            } else {
                format!("backup {id} was not kept by hand: nothing changed")
            }
        );
    } else {
        srs_backup::hand_kept::keep(&backups, &id, label.as_deref().unwrap_or(""))?;
        println!(
            "backup {id} is kept by hand: retention will not remove it until `srs backup keep {id} --release`"
        );
    }
    Ok(())
}

/// `srs backup verify`: proves a backup by a trial restore.
async fn verify_backup(
    id: Option<BackupId>,
    data_dir: Option<PathBuf>,
    store: StoreDirArgs,
) -> anyhow::Result<()> {
    let backups = store.store(data_dir.as_deref())?;
    let id = match id {
        Some(id) => id,
        None => backups.newest()?,
    };
    let mut progress = store.progress();
    let result = srs_backup::verify(&backups, &id, &mut progress).await;
    progress.finish();
    let v = result.with_context(|| format!("backup {id} failed verification"))?;
    if store.json {
        print_json(serde_json::json!({"event": "done", "backup": id.as_str(), "verified": v}));
    } else {
        println!(
            "backup {id} is restorable: checksums match, and a trial restore of {} rows took {:.1} s with every table matching its manifest",
            v.rows, v.restore_secs
        );
        if let Some(to) = &v.replayed_to {
            println!(
                "rolled forward: {} archived transaction(s) replayed to GTID {to} (a random point in the archive) in {:.1} s",
                v.replayed, v.replay_secs
            );
        }
    }
    Ok(())
}

fn list(
    backups: &BackupStore,
    retention: srs_backup::retention::Retention,
    json: bool,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    for (id, manifest, verdict) in srs_backup::prune::judge(backups, retention, now)? {
        let verified = Verification::read(&backups.backup_dir(&id));
        rows.push((manifest, verified, verdict));
    }
    let archive = srs_backup::archive::Archive::load(backups)?;
    let mariadb: Vec<Manifest> = rows
        .iter()
        .filter(|(m, _, _)| m.engine == srs_backup::Engine::Mariadb)
        .map(|(m, _, _)| m.clone())
        .collect();
    let window = srs_backup::window::window(&mariadb, &archive);
    if json {
        let items: Vec<_> = rows
            .iter()
            .map(|(m, v, verdict)| {
                serde_json::json!({
                    "id": m.id, "engine": m.engine, "taken_at": m.taken_at, "gtid": m.gtid,
                    "bytes": m.bytes(), "rows": m.rows(), "source": m.source, "verified": v,
                    "encryption": m.encryption,
                    "retention": {"kept": verdict.keeps(), "why": verdict.to_string()},
                })
            })
            .collect();
        let value = serde_json::json!({
            "backups": items,
            "window": window,
            "recovery_window_from": retention.window_start(now),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "no backups in {} yet: take one with `srs backup create`",
            backups.root().display()
        );
        return Ok(());
    }
    print_backups(&rows);
    print_window(&window, retention, now);
    Ok(())
}

/// One backup with its trial restore and retention's verdict.
type Listed = (
    Manifest,
    Option<Verification>,
    srs_backup::retention::Verdict,
);

/// The backups as a table, each with why retention keeps it or not, and
/// the keys they are encrypted to.
fn print_backups(rows: &[Listed]) {
    println!(
        "{:<20} {:<8} {:<20} {:>10} {:>9}  PROVEN RESTORABLE",
        "ID", "ENGINE", "TAKEN (UTC)", "SIZE", "ROWS"
    );
    for (m, v, verdict) in rows {
        let proven = match v {
            Some(v) if v.ok => format!(
                "yes, {} ({:.1} s)",
                v.at.format("%Y-%m-%d %H:%M"),
                v.restore_secs
            ),
            Some(v) => format!(
                "FAILED {}: {}",
                v.at.format("%Y-%m-%d %H:%M"),
                v.error.as_deref().unwrap_or("unknown")
            ),
            None => "not yet verified".into(),
        };
        println!(
            "{:<20} {:<8} {:<20} {:>10} {:>9}  {}",
            m.id,
            m.engine.as_str(),
            m.taken_at.format("%Y-%m-%d %H:%M:%S"),
            format!(
                "{}{}",
                size(m.bytes()),
                if m.encryption.is_some() { "*" } else { " " }
            ),
            m.rows(),
            proven
        );
        if verdict.keeps() {
            println!("    kept: {verdict}");
        } else {
            println!("    the next prune removes it: {verdict}");
        }
    }
    let mut keys: Vec<&str> = rows
        .iter()
        .filter_map(|(m, _, _)| m.encryption.as_ref().map(|e| e.recipient.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        println!("* encrypted at rest (age) to {key}");
    }
}

/// The points a restore can reach, and the recovery window retention keeps.
fn print_window(
    window: &[srs_backup::window::Span],
    retention: srs_backup::retention::Retention,
    now: chrono::DateTime<chrono::Utc>,
) {
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    match window {
        [] => println!(
            "restorable points: each backup's own time (no MariaDB backup with a binlog archive)"
        ),
        spans => {
            for span in spans {
                println!(
                    "restorable window (UTC): {} to {}{}",
                    stamp(span.from),
                    stamp(span.to),
                    if span.from == span.to {
                        " (the backup alone: no archived transaction after it)"
                    } else {
                        ""
                    }
                );
            }
            if spans.len() > 1 {
                println!("the archive has gaps: times between these spans cannot be restored");
            }
            println!(
                "retention keeps every point since {} restorable (recovery window {})",
                stamp(retention.window_start(now)),
                humanize(retention.window)
            );
        }
    }
}

/// Runs `srs restore`.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let backups = args.store.store(args.data_dir.as_deref())?;
    let point = match (args.at, args.gtid) {
        (Some(at), _) => Some(srs_backup::pitr::Point::Time(at)),
        (None, Some(g)) => Some(srs_backup::pitr::Point::Gtid(g)),
        (None, None) => None,
    };
    if let Some(student) = args.student {
        let Some(point) = point else {
            anyhow::bail!("--student needs --at TIME or --gtid GTID");
        };
        let plan = srs_backup::pitr::plan(&backups, point)?;
        let live = config::resolve_store(config::StoreArgs::with(
            args.database_url.clone(),
            args.data_dir.clone(),
        ))?;
        let _reading = srs_backup::lock::shared(backups.root())?;
        let mut progress = args.store.progress();
        let result = crate::student_restore::run(
            &backups,
            &plan,
            live.expose_secret(),
            srs_domain::StudentId::new(student),
            args.yes,
            &mut progress,
        )
        .await;
        progress.finish();
        return result;
    }
    let Some(into) = args.into.as_deref() else {
        anyhow::bail!("--into: say where to restore (a database URL)");
    };
    let request = RestoreRequest {
        into: config::restore_target(into, args.data_dir.as_deref())?,
        point,
        backup: args.backup.clone(),
        force: args.force,
    };
    let job = RestoreJob::plan(&backups, request).await?;
    if let Some(note) = job.note() {
        eprintln!("note: {note}");
    }
    if args.dry_run {
        if args.store.json {
            print_json(
                serde_json::json!({"event": "plan", "plan": job.to_string(), "dry_run": true}),
            );
        } else {
            println!("would {job}");
        }
        return Ok(());
    }
    let mut progress = args.store.progress();
    let done = job.execute(&backups, &mut progress).await?;
    progress.finish();
    if args.store.json {
        print_json(serde_json::json!({
            "event": "done", "backup": done.backup.as_str(), "rows": done.rows, "secs": done.secs,
            "replayed": done.replayed, "replay_secs": done.replay_secs, "gtid": done.gtid,
            "replaced_tables_kept_in": done.swap.as_ref().map(|s| s.kept.clone()),
        }));
    } else {
        print_restored(&done);
    }
    Ok(())
}

fn print_restored(done: &RestoreOutcome) {
    if let Some(id) = &done.safety_backup {
        println!("backed up what was replaced as backup {id}");
    }
    println!(
        "restored backup {}: {} rows in {:.1} s; every table matches the backup's manifest",
        done.backup, done.rows, done.secs
    );
    if done.replayed_to_point {
        println!(
            "replayed {} archived transaction(s) in {:.1} s; the database now stands at GTID {}",
            done.replayed,
            done.replay_secs,
            done.gtid.as_deref().unwrap_or("(the backup's)")
        );
    }
    if let Some(swap) = &done.swap {
        println!(
            "swapped in: {} now holds the restored tables; the replaced ones are kept in database {} (drop it once you are satisfied)",
            swap.live, swap.kept
        );
    }
}

/// Supervises the binlog copy: restarts it when it stops, and moves it to
/// the new primary after a failover or switchover.
async fn archive(
    backups: &BackupStore,
    data_dir: Option<PathBuf>,
    server: Option<String>,
) -> anyhow::Result<()> {
    // The cluster's topology and secrets are read once; which site is
    // primary is asked each time the copy (re)starts.
    let cluster = match (&data_dir, &server) {
        (Some(dir), None) => Some(srs_dr::Cluster::open(&srs_dr::ClusterDir::new(dir))?),
        _ => None,
    };
    let locate = || match (&cluster, &server) {
        (_, Some(url)) => config::archive_server(url),
        (Some(cluster), None) => Ok(cluster.root_source(&cluster.primary())),
        (None, None) => anyhow::bail!("srs backup archive needs --data-dir DIR or --server URL"),
    };
    // A wrong flag is an error now, not a retry every second.
    locate()?;
    println!(
        "archiving binary logs into {} (Ctrl-C stops)",
        backups.root().join("binlogs").display()
    );
    let report = |status| {
        if let srs_backup::archive::CopyStatus::Stopped(e) = status {
            eprintln!("srs: binlog copy stopped: {e}; restarting in 1 s");
        }
    };
    tokio::select! {
        never = srs_backup::archive::supervise(backups, locate, report) => match never {},
        () = crate::cli::shutdown_signal() => Ok(()),
    }
}
