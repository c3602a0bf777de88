//! The continuous binlog archive: `mariadb-binlog --raw --stop-never`
//! copies the primary's binary logs into the store as they are written.
//! The stock tool stops for good when its connection drops, so srs
//! supervises it: it restarts it (resuming with the last file it was
//! writing, which is copied again whole), and follows the new primary
//! after a failover or switchover. Files are kept per server, so two
//! servers' `mariadb-bin.000003` never overwrite each other; with
//! log-slave-updates both logs hold the same GTIDs, and the index below
//! stitches one history out of them.
//!
//! ```text
//! STORE/binlogs/server-ID/mariadb-bin.000001 …
//! ```

use crate::binlog::{index_file, FileIndex, Transaction};
use crate::layout::BackupStore;
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where one server's archived binlogs live.
pub fn server_dir(store: &BackupStore, server_id: u32) -> PathBuf {
    store
        .root()
        .join("binlogs")
        .join(format!("server-{server_id}"))
}

/// A server to archive from.
#[derive(Clone)]
pub struct ArchiveSource {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// An account with REPLICATION SLAVE (or root).
    pub user: String,
    /// Its password.
    pub password: String,
    /// Site name, for logs.
    pub label: String,
}

impl std::fmt::Debug for ArchiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}:{})", self.label, self.host, self.port)
    }
}

/// One archived file and what it holds.
#[derive(Debug, Clone)]
pub struct ArchivedFile {
    /// Its path.
    pub path: PathBuf,
    /// The server whose log it is.
    pub server_id: u32,
    /// What it holds.
    pub index: FileIndex,
}

/// Everything in the archive, indexed.
#[derive(Debug, Default)]
pub struct Archive {
    /// The files, per server in name order.
    pub files: Vec<ArchivedFile>,
}

/// Where a transaction can be replayed from.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    /// The transaction.
    pub transaction: Transaction,
    /// Index into [`Archive::files`].
    pub file: usize,
}

/// Indexes of archived files, kept between loads: only files that grew
/// since are read again.
#[derive(Default)]
pub struct IndexCache {
    files: std::collections::HashMap<PathBuf, (u64, FileIndex)>,
}

impl Archive {
    /// Reads and indexes every archived file.
    pub fn load(store: &BackupStore) -> anyhow::Result<Self> {
        Self::load_cached(store, &mut IndexCache::default())
    }

    /// Like [`Archive::load`], reading again only files whose size changed.
    pub fn load_cached(store: &BackupStore, cache: &mut IndexCache) -> anyhow::Result<Self> {
        let root = store.root().join("binlogs");
        let mut files = Vec::new();
        let servers = match std::fs::read_dir(&root) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", root.display())),
        };
        let mut dirs: Vec<(u32, PathBuf)> = Vec::new();
        for entry in servers {
            let entry = entry.with_context(|| format!("cannot read {}", root.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_prefix("server-").and_then(|n| n.parse().ok()) {
                dirs.push((id, entry.path()));
            }
        }
        dirs.sort();
        for (server_id, dir) in dirs {
            let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot read {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| x.len() == 6 && x.chars().all(|c| c.is_ascii_digit()))
                })
                .collect();
            names.sort();
            for path in names {
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let index = match cache.files.get(&path) {
                    Some((cached_len, index)) if *cached_len == len => index.clone(),
                    _ => {
                        let index = index_file(&path)?;
                        cache.files.insert(path.clone(), (len, index.clone()));
                        index
                    }
                };
                files.push(ArchivedFile {
                    path,
                    server_id,
                    index,
                });
            }
        }
        Ok(Self { files })
    }

    /// Every archived transaction of `domain`, by sequence number; where
    /// two servers' logs hold the same one, the first file listed wins.
    pub fn transactions(&self, domain: u32) -> BTreeMap<u64, Located> {
        let mut by_seq = BTreeMap::new();
        for (i, file) in self.files.iter().enumerate() {
            for t in file
                .index
                .transactions
                .iter()
                .filter(|t| t.gtid.domain == domain)
            {
                by_seq.entry(t.gtid.seq).or_insert(Located {
                    transaction: *t,
                    file: i,
                });
            }
        }
        by_seq
    }

    /// The GTID domains the archive holds transactions of.
    pub fn domains(&self) -> Vec<u32> {
        let mut d: Vec<u32> = self
            .files
            .iter()
            .flat_map(|f| f.index.transactions.iter().map(|t| t.gtid.domain))
            .collect();
        d.sort_unstable();
        d.dedup();
        d
    }

    /// The newest archived transaction.
    pub fn newest(&self) -> Option<Transaction> {
        self.files
            .iter()
            .flat_map(|f| f.index.transactions.iter())
            .max_by_key(|t| (t.at, t.gtid.seq))
            .copied()
    }

    /// Sequence ranges missing between `after` (exclusive) and `upto`
    /// (inclusive) in `domain`.
    pub fn gaps(&self, domain: u32, after: u64, upto: u64) -> Vec<(u64, u64)> {
        if after >= upto {
            return Vec::new();
        }
        let have = self.transactions(domain);
        let mut gaps = Vec::new();
        let mut expected = after + 1;
        for (&seq, _) in have.range(after + 1..=upto) {
            if seq > expected {
                gaps.push((expected, seq - 1));
            }
            expected = seq + 1;
        }
        if expected <= upto {
            gaps.push((expected, upto));
        }
        gaps
    }
}

/// The archive's state for status pages.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArchiveState {
    /// Files archived.
    pub files: usize,
    /// Bytes archived.
    pub bytes: u64,
    /// The newest archived transaction's GTID and time.
    pub newest_gtid: Option<String>,
    /// Its time (UTC, RFC 3339).
    pub newest_at: Option<String>,
    /// Gaps in sequence numbers anywhere in the archive (domain 0).
    pub gaps: Vec<(u64, u64)>,
    /// The highest sequence number the archive accounts for: its newest
    /// transaction, or the state a newer file starts from (a file a server
    /// began after a restart holds no transaction until the next write).
    pub covered_seq: Option<u64>,
}

/// Summarises the archive.
pub fn state(store: &BackupStore) -> anyhow::Result<ArchiveState> {
    state_cached(store, &mut IndexCache::default())
}

/// Like [`state`], with indexes kept between calls.
pub fn state_cached(store: &BackupStore, cache: &mut IndexCache) -> anyhow::Result<ArchiveState> {
    let archive = Archive::load_cached(store, cache)?;
    let bytes = archive
        .files
        .iter()
        .map(|f| std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0))
        .sum();
    let newest = archive.newest();
    let mut gaps = Vec::new();
    for domain in archive.domains() {
        let seqs = archive.transactions(domain);
        if let (Some((&first, _)), Some((&last, _))) = (seqs.iter().next(), seqs.iter().next_back())
        {
            gaps.extend(archive.gaps(domain, first, last));
        }
    }
    let covered_seq = archive
        .files
        .iter()
        .flat_map(|f| {
            f.index
                .transactions
                .iter()
                .map(|t| t.gtid.seq)
                .chain(f.index.starts_after.iter().map(|g| g.seq))
        })
        .max();
    Ok(ArchiveState {
        covered_seq,
        files: archive.files.len(),
        bytes,
        newest_gtid: newest.map(|t| t.gtid.to_string()),
        newest_at: newest
            .and_then(|t| chrono::DateTime::from_timestamp(t.at, 0).map(|d| d.to_rfc3339())),
        gaps,
    })
}

/// A `[client]` option file for the MariaDB tools, so that no password
/// appears on a command line (where `ps` would show it).
pub fn client_options(dir: &Path, user: &str, password: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join("client.cnf");
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut text = format!("[client]\nuser=\"{}\"\n", quote(user));
    if !password.is_empty() {
        text.push_str(&format!("password=\"{}\"\n", quote(password)));
    }
    srs_mariadb::private_file::write(&path, &text)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The server's ID and the binlog file to start copying from: the last one
/// already archived from it (copied again whole), else its oldest.
async fn start_point(store: &BackupStore, source: &ArchiveSource) -> anyhow::Result<(u32, String)> {
    use sqlx::{ConnectOptions, Executor, Row};
    let mut options = sqlx::mysql::MySqlConnectOptions::new()
        .host(&source.host)
        .port(source.port)
        .username(&source.user);
    // An account without a password must be asked without one.
    if !source.password.is_empty() {
        options = options.password(&source.password);
    }
    let mut conn = options
        .connect()
        .await
        .with_context(|| format!("cannot connect to {source:?}"))?;
    let id: u32 = sqlx::query_scalar("SELECT CAST(@@server_id AS UNSIGNED)")
        .fetch_one(&mut conn)
        .await
        .context("reading the server's ID")?;
    let logs = conn
        .fetch_all(sqlx::raw_sql("SHOW BINARY LOGS"))
        .await
        .context("listing the server's binary logs (is log-bin on?)")?;
    let names: Vec<String> = logs
        .iter()
        .filter_map(|r| {
            r.try_get::<String, _>(0).ok().or_else(|| {
                r.try_get::<Vec<u8>, _>(0)
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
        })
        .collect();
    let Some(oldest) = names.first().cloned() else {
        bail!("{source:?} has no binary logs: srs archives need log-bin");
    };
    let dir = server_dir(store, id);
    let mut archived: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| names.contains(n))
                .collect()
        })
        .unwrap_or_default();
    archived.sort();
    Ok((id, archived.pop().unwrap_or(oldest)))
}

/// What the supervised copy is doing, for whoever reports on it.
#[derive(Debug, Clone)]
pub enum CopyStatus {
    /// Copying from this source.
    Copying(ArchiveSource),
    /// The copy stopped (or could not start), and restarts in a second.
    Stopped(String),
}

/// Keeps the binlog copy running for good: it asks `locate` where the
/// primary is, copies from it, restarts the copy a second after it stops,
/// and moves it when `locate` names another server (checked every second).
/// `report` hears each change.
pub async fn supervise(
    store: &BackupStore,
    locate: impl Fn() -> anyhow::Result<ArchiveSource>,
    mut report: impl FnMut(CopyStatus),
) -> std::convert::Infallible {
    let pause = std::time::Duration::from_secs(1);
    loop {
        let source = match locate() {
            Ok(source) => source,
            Err(e) => {
                report(CopyStatus::Stopped(format!("{e:#}")));
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        report(CopyStatus::Copying(source.clone()));
        let current = (source.host.clone(), source.port);
        let moved = async {
            loop {
                tokio::time::sleep(pause).await;
                if let Ok(now) = locate() {
                    if (now.host.clone(), now.port) != current {
                        tracing::warn!(to = ?now, "the primary moved; the binlog archive follows it");
                        return;
                    }
                }
            }
        };
        if let Err(e) = copy_until(store, &source, moved).await {
            tracing::warn!(source = ?source, error = %format!("{e:#}"), "binlog copy stopped; restarting in 1 s");
            report(CopyStatus::Stopped(format!("{e:#}")));
            tokio::time::sleep(pause).await;
        }
    }
}

/// The running copy's process ID, in its server's folder (hidden: not
/// part of the archive).
const PID_FILE: &str = ".archiver.pid";

/// Stops a copy into `dir` left running by an archiver that was killed
/// (SIGKILL gives it no chance to stop its child): two copies would write
/// one file at once. The process must still be a binlog copy into `dir`,
/// since its ID may have been reused.
async fn stop_orphan(dir: &Path) {
    let Some(pid) = std::fs::read_to_string(dir.join(PID_FILE))
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return;
    };
    let ours = || {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).into_owned();
        cmdline.contains("binlog") && cmdline.contains(&format!("--result-file={}/", dir.display()))
    };
    if !ours() {
        return;
    }
    tracing::warn!(pid, dir = %dir.display(), "stopping a binlog copy an earlier archiver left running");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    for _ in 0..50 {
        if !ours() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Copies `source`'s binary logs into the store until `stop` resolves or
/// the copy ends (the connection dropped, the server went away); the
/// caller restarts it.
pub async fn copy_until(
    store: &BackupStore,
    source: &ArchiveSource,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (server_id, first) = start_point(store, source).await?;
    let dir = server_dir(store, server_id);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    stop_orphan(&dir).await;
    let options_dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let options = client_options(options_dir.path(), &source.user, &source.password)?;
    let tool =
        srs_mariadb::tool("mariadb-binlog").context("the binlog archive needs mariadb-binlog")?;
    tracing::info!(source = ?source, server_id, from = %first, "archiving binary logs");
    let mut child = tokio::process::Command::new(tool)
        .arg(format!("--defaults-extra-file={}", options.display()))
        .args(["--read-from-remote-server", "--raw", "--stop-never"])
        .arg(format!("--host={}", source.host))
        .arg(format!("--port={}", source.port))
        // A replica ID no server of a topology uses.
        .arg(format!("--stop-never-slave-server-id={}", 4_000_000_001u32))
        .arg(format!("--result-file={}/", dir.display()))
        .arg(&first)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start mariadb-binlog")?;
    if let Some(pid) = child.id() {
        std::fs::write(dir.join(PID_FILE), pid.to_string())
            .with_context(|| format!("cannot write {}", dir.join(PID_FILE).display()))?;
    }
    tokio::select! {
        status = child.wait() => {
            let status = status.context("waiting for mariadb-binlog")?;
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ = stderr.read_to_string(&mut err).await;
            }
            bail!("mariadb-binlog stopped ({status}): {}", err.trim())
        }
        () = stop => {
            let _ = child.kill().await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::Gtid;

    fn file(server_id: u32, seqs: &[u64]) -> ArchivedFile {
        ArchivedFile {
            path: PathBuf::from(format!("server-{server_id}/mariadb-bin.00000{}", seqs[0])),
            server_id,
            index: FileIndex {
                starts_after: Vec::new(),
                transactions: seqs
                    .iter()
                    .map(|&seq| Transaction {
                        gtid: Gtid {
                            domain: 0,
                            server: server_id,
                            seq,
                        },
                        at: seq as i64,
                    })
                    .collect(),
                complete_bytes: 0,
            },
        }
    }

    #[test]
    fn gaps_are_found_across_servers_and_empty_ranges_have_none() {
        // Server 1 logged 1-5; after a failover server 2 logged 4-6 (its
        // log holds what it applied as a replica too) and then 9.
        let archive = Archive {
            files: vec![
                file(1, &[1, 2, 3, 4, 5]),
                file(2, &[4, 5, 6]),
                file(2, &[9]),
            ],
        };
        assert!(archive.gaps(0, 0, 6).is_empty());
        assert_eq!(archive.gaps(0, 2, 9), vec![(7, 8)]);
        assert_eq!(archive.gaps(0, 0, 11), vec![(7, 8), (10, 11)]);
        assert!(archive.gaps(0, 9, 9).is_empty());
        assert!(archive.gaps(0, 12, 3).is_empty());
        assert_eq!(archive.newest().map(|t| t.gtid.seq), Some(9));
        assert_eq!(archive.transactions(0).len(), 7);
    }
}
