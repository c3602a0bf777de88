//! `srs backup run`: the backup agent `srs up` starts. It keeps the binlog
//! archive copying from whichever site is primary, takes a backup on the
//! topology's schedule (from the DR replica when it answers), proves each
//! by a trial restore, applies retention, and reports all of it in
//! `backup-state.json` and the DR event log.

mod judge;

use crate::backups::{ArchiveRun, BackupRun, BackupState, SecondStoreRun, VerifyRun};
use crate::cluster::Cluster;
use crate::cluster_dir::{ClusterDir, ClusterFile};
use crate::controller::published::{EventKind, EventLog, Published};
use secrecy::ExposeSecret;
use srs_backup::{BackupId, BackupStore, Progress, ProgressMode};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the state file is refreshed.
const REPORT_EVERY: Duration = Duration::from_secs(2);
/// How often the second store is brought up to date.
const SECOND_STORE_EVERY: Duration = Duration::from_secs(10);
/// How long after start the first backup waits (the replica catching up).
const FIRST_BACKUP_AFTER: Duration = Duration::from_secs(5);

type Shared = Arc<Mutex<BackupState>>;

fn with<T>(state: &Shared, f: impl FnOnce(&mut BackupState) -> T) -> T {
    let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

fn epoch(cluster: &ClusterDir) -> u64 {
    Published::read(cluster).map_or(0, |p| p.memory.epoch)
}

/// Runs the agent for the cluster in `dir` until `shutdown`.
pub async fn run(dir: &ClusterDir, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let opened = Cluster::open(dir)?;
    let cluster = opened.dir.clone();
    let section = opened.topology.backup.clone();
    let key = section
        .key_file_in(&cluster)
        .map(|file| {
            srs_backup::BackupKey::load(&file)
                .map_err(|e| e.context("the topology's [backup] key_file"))
        })
        .transpose()?
        .map(Arc::new);
    let store = BackupStore::new(cluster.file(ClusterFile::BackupStore)).with_key(key.clone());
    let second = section
        .second_store_in(&cluster)
        .map(|root| BackupStore::new(root).with_key(key));
    let mut initial = BackupState::read(&cluster).unwrap_or_default();
    initial.schedule = section.schedule.to_string();
    initial.interval_secs = section.schedule.every_secs.unwrap_or(0);
    initial.archive = section.archive.then(ArchiveRun::default);
    initial.second_store = second.as_ref().map(|s| SecondStoreRun {
        root: s.root().display().to_string(),
        ..initial.second_store.clone().unwrap_or_default()
    });
    let state: Shared = Arc::new(Mutex::new(initial));
    tracing::info!(store = %store.root().display(), schedule = %section.schedule, archive = section.archive, "backup agent running");

    let mut tasks = tokio::task::JoinSet::new();
    if section.archive {
        tasks.spawn(archive_loop(opened.clone(), store.clone(), state.clone()));
    }
    tasks.spawn(report_loop(opened.clone(), store.clone(), state.clone()));
    let retention = section.retention();
    if let Some(second) = second {
        tasks.spawn(second_store_loop(
            cluster.clone(),
            store.clone(),
            second,
            state.clone(),
            retention,
        ));
    }
    if let Some(every) = section.schedule.every_secs {
        tasks.spawn(schedule_loop(
            opened.clone(),
            store.clone(),
            state.clone(),
            Duration::from_secs(every),
            section.verify,
            retention,
        ));
    }
    // The loops never end on their own: one that does has failed, and the
    // agent exits so that `srs up` restarts it whole.
    tokio::select! {
        () = shutdown => {
            tasks.abort_all();
            Ok(())
        }
        ended = tasks.join_next() => {
            tasks.abort_all();
            match ended {
                Some(Err(e)) => anyhow::bail!("a backup agent task failed: {e}"),
                _ => anyhow::bail!("a backup agent task ended unexpectedly"),
            }
        }
    }
}

/// Copies the primary's binlogs, restarting the copy when it stops and
/// moving it when the primary moves.
async fn archive_loop(cluster: Cluster, store: BackupStore, state: Shared) {
    let report = |status| {
        with(&state, |s| {
            if let Some(a) = s.archive.as_mut() {
                match status {
                    srs_backup::archive::CopyStatus::Copying(source) => {
                        a.source = source.label;
                        a.copying = true;
                        a.error = None;
                    }
                    srs_backup::archive::CopyStatus::Stopped(error) => {
                        a.copying = false;
                        a.error = Some(error);
                    }
                }
            }
        });
    };
    let locate = || Ok(cluster.root_source(&cluster.primary()));
    match srs_backup::archive::supervise(&store, locate, report).await {}
}

/// The primary's newest GTID sequence number (domain 0), if it answers.
async fn primary_seq(cluster: &Cluster) -> Option<u64> {
    use sqlx::ConnectOptions;
    let source = cluster.root_source(&cluster.primary());
    let options = sqlx::mysql::MySqlConnectOptions::new()
        .host(&source.host)
        .port(source.port)
        .username(&source.user)
        .password(&source.password);
    let mut conn = tokio::time::timeout(Duration::from_secs(2), options.connect())
        .await
        .ok()?
        .ok()?;
    let pos: String = sqlx::query_scalar("SELECT CAST(@@GLOBAL.gtid_binlog_pos AS CHAR)")
        .fetch_one(&mut conn)
        .await
        .ok()?;
    pos.split(',')
        .filter_map(|g| g.trim().parse::<srs_backup::Gtid>().ok())
        .find(|g| g.domain == 0)
        .map(|g| g.seq)
}

/// Refreshes the archive's position, the backup count and the state file.
async fn report_loop(cluster: Cluster, store: BackupStore, state: Shared) {
    let mut cache = srs_backup::archive::IndexCache::default();
    loop {
        let archived = srs_backup::archive::state_cached(&store, &mut cache);
        let primary = primary_seq(&cluster).await;
        let backups = store.ids().map(|ids| ids.len()).unwrap_or(0);
        let proven = proven(&store);
        let now = chrono::Utc::now();
        let snapshot = with(&state, |s| {
            s.backups = backups;
            s.proven_backup = proven.as_ref().map(|(id, _)| id.to_string());
            s.proven_point = proven.map(|(_, at)| at);
            s.updated_at = Some(now);
            if let (Some(a), Ok(archived)) = (s.archive.as_mut(), &archived) {
                a.newest_gtid = archived.newest_gtid.clone();
                a.newest_at = archived
                    .newest_at
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&chrono::Utc));
                a.gaps = archived.gaps.len();
                a.rpo_secs =
                    judge::rpo_secs(primary, archived.covered_seq, a.newest_at, now, a.rpo_secs);
            }
            s.clone()
        });
        if let Err(e) = snapshot.write(&cluster.dir) {
            tracing::warn!(error = %format!("{e:#}"), "could not write backup-state.json");
        }
        tokio::time::sleep(REPORT_EVERY).await;
    }
}

/// Takes a backup whenever the last success is older than `every`.
async fn schedule_loop(
    cluster: Cluster,
    store: BackupStore,
    state: Shared,
    every: Duration,
    verify: bool,
    retention: srs_backup::retention::Retention,
) {
    let events = EventLog::new(&cluster.dir);
    tokio::time::sleep(FIRST_BACKUP_AFTER).await;
    loop {
        // Due from the store, not from memory: a backup an operator took,
        // or one taken before a restart, counts.
        let last_failure = with(&state, |s| {
            s.last_attempt.as_ref().filter(|r| !r.ok).map(|r| r.at)
        });
        let due = srs_backup::due::backup_due(
            &taken_times(&store),
            last_failure,
            chrono::Utc::now(),
            every,
        );
        if due {
            backup_once(&cluster, &store, &state, &events).await;
        }
        let next = judge::after_backup(due, verify, unverified_newest(&store));
        if let Some((id, taken_at)) = &next.verify {
            verify_once(&cluster.dir, &store, &state, &events, id, *taken_at).await;
        }
        if next.prune {
            prune_once(&cluster.dir, &store, &events, retention);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

async fn backup_once(cluster: &Cluster, store: &BackupStore, state: &Shared, events: &EventLog) {
    let started = std::time::Instant::now();
    let mut quiet = Progress::new(ProgressMode::Quiet);
    let source = cluster.backup_source().await;
    let taken =
        srs_backup::create(store, source.url.expose_secret(), &source.label, &mut quiet).await;
    let manifest = match taken {
        Ok(m) => m,
        Err(e) => {
            let error = format!("{e:#}");
            events.record(
                epoch(&cluster.dir),
                EventKind::Backup,
                "scheduled backup",
                Some(&error),
            );
            with(state, |s| {
                s.failures += 1;
                s.last_attempt = Some(BackupRun {
                    id: None,
                    at: chrono::Utc::now(),
                    ok: false,
                    secs: started.elapsed().as_secs_f64(),
                    bytes: 0,
                    error: Some(error),
                });
            });
            return;
        }
    };
    let run = BackupRun {
        id: Some(manifest.id.clone()),
        at: chrono::Utc::now(),
        ok: true,
        secs: started.elapsed().as_secs_f64(),
        bytes: manifest.bytes(),
        error: None,
    };
    events.record(
        epoch(&cluster.dir),
        EventKind::Backup,
        &format!(
            "backup {} taken from {} ({} rows, {} bytes, {:.1} s)",
            manifest.id,
            manifest.source,
            manifest.rows(),
            manifest.bytes(),
            run.secs
        ),
        None,
    );
    with(state, |s| {
        s.last_attempt = Some(run.clone());
        s.last_success = Some(run);
    });
}

/// The snapshot times of the store's backups (unreadable ones left out).
fn taken_times(store: &BackupStore) -> Vec<chrono::DateTime<chrono::Utc>> {
    store
        .ids()
        .unwrap_or_default()
        .iter()
        .filter_map(|id| srs_backup::Manifest::read(&store.backup_dir(id)).ok())
        .map(|m| m.taken_at)
        .collect()
}

fn unverified_newest(store: &BackupStore) -> Option<(BackupId, chrono::DateTime<chrono::Utc>)> {
    let id = store.ids().ok()?.pop()?;
    let dir = store.backup_dir(&id);
    if srs_backup::Verification::read(&dir).is_some() {
        return None;
    }
    let manifest = srs_backup::Manifest::read(&dir).ok()?;
    Some((id, manifest.taken_at))
}

/// The newest backup a trial restore proved, and its snapshot time.
fn proven(store: &BackupStore) -> Option<(BackupId, chrono::DateTime<chrono::Utc>)> {
    let ids = store.ids().ok()?;
    ids.into_iter().rev().find_map(|id| {
        let dir = store.backup_dir(&id);
        let verified = srs_backup::Verification::read(&dir)?;
        if !verified.ok {
            return None;
        }
        let manifest = srs_backup::Manifest::read(&dir).ok()?;
        Some((id, manifest.taken_at))
    })
}

async fn verify_once(
    cluster: &ClusterDir,
    store: &BackupStore,
    state: &Shared,
    events: &EventLog,
    id: &BackupId,
    taken_at: chrono::DateTime<chrono::Utc>,
) {
    let mut quiet = Progress::new(ProgressMode::Quiet);
    let verified = srs_backup::verify(store, id, &mut quiet).await;
    let replay = verified
        .as_ref()
        .ok()
        .and_then(|v| {
            v.replayed_to.as_ref().map(|to| {
                format!(
                    "; rolled forward {} transaction(s) to GTID {to} in {:.1} s",
                    v.replayed, v.replay_secs
                )
            })
        })
        .unwrap_or_default();
    let record = match &verified {
        Ok(v) => VerifyRun {
            id: id.to_string(),
            at: v.at,
            ok: true,
            restore_secs: v.restore_secs,
            error: None,
        },
        Err(e) => VerifyRun {
            id: id.to_string(),
            at: chrono::Utc::now(),
            ok: false,
            restore_secs: 0.0,
            error: Some(format!("{e:#}")),
        },
    };
    match &record.error {
        None => events.record(
            epoch(cluster),
            EventKind::BackupVerified,
            &format!(
                "backup {id} (taken {}) proven restorable: trial restore in {:.1} s matched every table{replay}",
                taken_at.format("%Y-%m-%d %H:%M:%S UTC"),
                record.restore_secs
            ),
            None,
        ),
        Some(e) => events.record(
            epoch(cluster),
            EventKind::BackupVerified,
            &format!("verifying backup {id}"),
            Some(e),
        ),
    }
    with(state, |s| {
        if !record.ok {
            s.verify_failures += 1;
        }
        s.last_verification = Some(record);
    });
}

fn prune_once(
    cluster: &ClusterDir,
    store: &BackupStore,
    events: &EventLog,
    retention: srs_backup::retention::Retention,
) {
    match srs_backup::prune::prune(store, retention, false) {
        Ok(p) if !p.backups.is_empty() || !p.binlogs.is_empty() => {
            let why: Vec<String> = p
                .judged
                .iter()
                .filter(|j| !j.kept)
                .map(|j| format!("{} ({})", j.id, j.why))
                .collect();
            events.record(
                epoch(cluster),
                EventKind::Retention,
                &format!(
                    "retention in {} removed {} backup(s){}{} and {} archived binlog file(s)",
                    store.root().display(),
                    p.backups.len(),
                    if why.is_empty() { "" } else { ": " },
                    why.join("; "),
                    p.binlogs.len()
                ),
                None,
            );
        }
        Ok(_) => {}
        Err(e) => {
            let error = format!("{e:#}");
            tracing::warn!(error = %error, "retention did not run");
            events.record(
                epoch(cluster),
                EventKind::Retention,
                "retention",
                Some(&error),
            );
        }
    }
}

/// Keeps the second store up to date: new backups (each checked against
/// its manifest there) and the archive's growth, then that store's own
/// retention once a backup arrived.
async fn second_store_loop(
    cluster: ClusterDir,
    store: BackupStore,
    second: BackupStore,
    state: Shared,
    retention: srs_backup::retention::Retention,
) {
    let events = EventLog::new(&cluster);
    loop {
        let (from, to) = (store.clone(), second.clone());
        let copied =
            tokio::task::spawn_blocking(move || srs_backup::second_store::copy(&from, &to))
                .await
                .map_err(anyhow::Error::from)
                .and_then(|r| r);
        let now = chrono::Utc::now();
        match copied {
            Ok(copied) => {
                for id in &copied.backups {
                    events.record(
                        epoch(&cluster),
                        EventKind::SecondStore,
                        &format!(
                            "backup {id} copied to the second store {}",
                            second.root().display()
                        ),
                        None,
                    );
                }
                if !copied.backups.is_empty() {
                    prune_once(&cluster, &second, &events, retention);
                }
                let count = second.ids().map(|ids| ids.len()).unwrap_or(0);
                with(&state, |s| {
                    if let Some(run) = s.second_store.as_mut() {
                        if run.error.is_some() {
                            tracing::info!(store = %second.root().display(), "copies to the second store work again");
                        }
                        run.last_copy_at = Some(now);
                        run.backups = count;
                        run.error = None;
                        run.failing_since = None;
                    }
                });
            }
            Err(e) => {
                let error = format!("{e:#}");
                let first = with(&state, |s| {
                    let run = s.second_store.as_mut()?;
                    let first = run.error.is_none();
                    run.error = Some(error.clone());
                    run.failing_since.get_or_insert(now);
                    Some(first)
                });
                // One event when copies start failing, not one per attempt.
                if first == Some(true) {
                    events.record(
                        epoch(&cluster),
                        EventKind::SecondStore,
                        &format!("copying to the second store {}", second.root().display()),
                        Some(&error),
                    );
                }
            }
        }
        tokio::time::sleep(SECOND_STORE_EVERY).await;
    }
}
