//! Point-in-time restore: the newest full backup before the point, then
//! the archived transactions after the backup's GTID up to the point,
//! replayed by `mariadb-binlog | mariadb` one archived file at a time.

use crate::archive::{client_options, Archive, Located};
use crate::binlog::{parse_position, Gtid};
use crate::layout::{BackupId, BackupStore};
use crate::manifest::{Engine, Manifest};
use crate::progress::Progress;
use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use tokio::io::AsyncWriteExt;

/// Where to stop.
#[derive(Debug, Clone, Copy)]
pub enum Point {
    /// Everything logged up to and including this second (the binlog
    /// records whole seconds).
    Time(DateTime<Utc>),
    /// Everything up to and including this transaction.
    Gtid(Gtid),
}

/// What a point-in-time restore will do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The full backup it starts from.
    pub backup: BackupId,
    /// That backup's manifest.
    pub manifest: Manifest,
    /// The backup's position.
    pub from: Option<Gtid>,
    /// The last transaction replayed (None: the backup alone).
    pub to: Option<Located>,
    /// Transactions to replay.
    pub transactions: u64,
    /// Archived files to replay from, in order.
    pub segments: Vec<Segment>,
    /// A note for the operator (e.g. the point is past the archive's end).
    pub note: Option<String>,
}

/// A run of consecutive transactions in one archived file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The archived file.
    pub file: PathBuf,
    /// The first and last sequence numbers taken from it.
    pub first: u64,
    pub last: u64,
    /// The server that logged them (their GTID's middle number).
    pub server: u32,
}

fn single_gtid(manifest: &Manifest) -> anyhow::Result<Option<Gtid>> {
    let Some(text) = manifest.gtid.as_deref() else {
        return Ok(None);
    };
    let position = parse_position(text).map_err(anyhow::Error::msg)?;
    match position.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => bail!(
            "backup {} sits at {text}, several GTID domains: srs replays one domain",
            manifest.id
        ),
    }
}

/// Works out which backup and which archived transactions reach `point`.
pub fn plan(store: &BackupStore, point: Point) -> anyhow::Result<Plan> {
    plan_with(store, point, None)
}

/// Like [`plan`], from one given backup (a verification rolls the backup
/// it checks forward, whichever is newest).
pub fn plan_from(store: &BackupStore, backup: &BackupId, point: Point) -> anyhow::Result<Plan> {
    plan_with(store, point, Some(backup))
}

fn plan_with(store: &BackupStore, point: Point, only: Option<&BackupId>) -> anyhow::Result<Plan> {
    if let Point::Time(at) = point {
        if at > Utc::now() {
            bail!("--at {} is in the future", at.to_rfc3339());
        }
    }
    let archive = Archive::load(store)?;
    if archive.files.is_empty() {
        bail!(
            "there is no binlog archive in {}: without one only a backup's own point can be restored (--backup ID); `srs backup archive` keeps one",
            store.root().join("binlogs").display()
        );
    }
    let domains = archive.domains();
    if domains.len() > 1 {
        bail!("the binlog archive holds GTID domains {domains:?}: srs replays one domain");
    }
    let domain = domains.first().copied().unwrap_or(0);
    let history = archive.transactions(domain);
    // The last transaction to replay.
    let target: Option<Located> = match point {
        Point::Gtid(g) => {
            if g.domain != domain && !history.is_empty() {
                bail!("--gtid {g}: the archive holds domain {domain} only");
            }
            history.get(&g.seq).copied()
        }
        Point::Time(at) => last_before(&history, at.timestamp()),
    };
    let (backup, manifest, from) = newest_backup_before(store, point, only)?;
    let from_seq = from.map_or(0, |g| g.seq);
    if let Point::Gtid(g) = point {
        if target.is_none() && g.seq > from_seq {
            bail!(
                "--gtid {g} is not in the binlog archive (newest archived: {})",
                archive
                    .newest()
                    .map_or_else(|| "none".to_owned(), |t| t.gtid.to_string())
            );
        }
    }
    let to = target.filter(|t| t.transaction.gtid.seq > from_seq);
    let note = past_the_archive(point, &archive);
    let (segments, transactions) = match to {
        Some(to) => {
            if from.is_none() {
                bail!(
                    "backup {backup} has no GTID position (its server wrote no binary log), so it cannot be rolled forward"
                );
            }
            segments_between(&archive, &history, domain, from_seq, to, &backup)?
        }
        None => (Vec::new(), 0),
    };
    Ok(Plan {
        backup,
        manifest,
        from,
        to,
        transactions,
        segments,
        note,
    })
}

/// The newest MariaDB backup at or before `point` (of `only`, when given),
/// with its manifest and GTID position.
fn newest_backup_before(
    store: &BackupStore,
    point: Point,
    only: Option<&BackupId>,
) -> anyhow::Result<(BackupId, Manifest, Option<Gtid>)> {
    for id in store.ids()?.into_iter().rev() {
        if only.is_some_and(|only| *only != id) {
            continue;
        }
        let manifest = Manifest::read(&store.backup_dir(&id))?;
        if manifest.engine != Engine::Mariadb {
            continue;
        }
        let from = single_gtid(&manifest)?;
        let before = match point {
            // Whole seconds, as the binlog counts: `--at` names a second.
            Point::Time(at) => manifest.taken_at.timestamp() <= at.timestamp(),
            Point::Gtid(g) => from.is_some_and(|f| f.seq <= g.seq),
        };
        if before {
            return Ok((id, manifest, from));
        }
    }
    bail!(
        "no MariaDB backup was taken before that point, so it is outside the restorable window (see `srs backup list`)"
    )
}

/// A note when the point lies past the newest archived transaction.
fn past_the_archive(point: Point, archive: &Archive) -> Option<String> {
    let (Point::Time(at), Some(newest)) = (point, archive.newest()) else {
        return None;
    };
    (at.timestamp() > newest.at).then(|| {
        format!(
            "nothing was archived after {} (GTID {}); the restore ends there",
            DateTime::from_timestamp(newest.at, 0).map_or_else(String::new, |d| d.to_rfc3339()),
            newest.gtid
        )
    })
}

/// The archived files holding transactions after `from_seq` up to `to`,
/// each with the run of sequence numbers it gives, and how many in all.
fn segments_between(
    archive: &Archive,
    history: &BTreeMap<u64, Located>,
    domain: u32,
    from_seq: u64,
    to: Located,
    backup: &BackupId,
) -> anyhow::Result<(Vec<Segment>, u64)> {
    let last = to.transaction.gtid.seq;
    if let Some((a, b)) = archive.gaps(domain, from_seq, last).first() {
        bail!(
            "the binlog archive has a gap: transactions {domain}-*-{a} to {domain}-*-{b} are missing, so the point cannot be reached from backup {backup}"
        );
    }
    let mut segments: Vec<Segment> = Vec::new();
    let mut transactions = 0;
    for (seq, located) in history.range(from_seq + 1..=last) {
        transactions += 1;
        let file = &archive.files[located.file].path;
        match segments.last_mut() {
            Some(seg) if seg.file == *file && seg.last + 1 == *seq => seg.last = *seq,
            _ => segments.push(Segment {
                file: file.clone(),
                first: *seq,
                last: *seq,
                server: located.transaction.gtid.server,
            }),
        }
    }
    Ok((segments, transactions))
}

/// Replays a plan's archived transactions into `url` (a database already
/// restored from the plan's backup). Returns transactions and seconds.
pub async fn replay(plan: &Plan, url: &str, progress: &mut Progress) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    if plan.segments.is_empty() {
        return Ok((0, 0.0));
    }
    let options = {
        use std::str::FromStr;
        sqlx::mysql::MySqlConnectOptions::from_str(&url.replacen("mariadb://", "mysql://", 1))
            .context("invalid MySQL URL")?
    };
    let database = options.get_database().unwrap_or_default().to_owned();
    let source_db = plan
        .manifest
        .database
        .clone()
        .unwrap_or_else(|| database.clone());
    let host = options.get_host().to_owned();
    let port = options.get_port();
    let user = options.get_username().to_owned();
    let password = password_of(url);
    let tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
    let client = client_options(tmp.path(), &user, &password)?;
    let binlog_tool = srs_mariadb::tool("mariadb-binlog").context("replay needs mariadb-binlog")?;
    let domain = plan.from.map_or(0, |g| g.domain);
    progress.stage("replay", plan.transactions);
    let mut mariadb = spawn_client(&client, &host, port, &database)?;
    let mut stdin = mariadb
        .stdin
        .take()
        .context("the mariadb client has no input")?;
    // Replayed transactions are logged on the target like any write, so a
    // target with replicas (a cluster's primary) passes them on; they lose
    // their original sequence numbers (a server in strict mode with a
    // history of its own refuses older ones) and server IDs (a replica
    // skips events that carry its own ID as its own).
    for Segment {
        file: path,
        first,
        last,
        server,
    } in &plan.segments
    {
        let mut command = tokio::process::Command::new(&binlog_tool);
        command
            .arg(format!("--start-position={domain}-{server}-{}", first - 1))
            .arg(format!("--stop-position={domain}-{server}-{last}"))
            .arg("--skip-gtid-strict-mode");
        // Only the srs database's changes: the server's log also holds other
        // databases' (a restore into a neighbour, srs_dr's epochs, accounts).
        // MariaDB's tool filters on the original name, then renames.
        command.arg(format!("--database={source_db}"));
        if source_db != database {
            command.arg(format!("--rewrite-db={source_db}->{database}"));
        }
        let statements = binlog_output(command.arg(path), path).await?;
        if stdin.write_all(&statements).await.is_err() {
            // The client stopped: its own message says why.
            break;
        }
        progress.advance(last - first + 1);
    }
    drop(stdin);
    let out = mariadb
        .wait_with_output()
        .await
        .context("waiting for the mariadb client")?;
    if !out.status.success() {
        bail!(
            "replaying the archived transactions failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((plan.transactions, started.elapsed().as_secs_f64()))
}

/// The mariadb client that replays, reading statements from its stdin.
fn spawn_client(
    defaults: &std::path::Path,
    host: &str,
    port: u16,
    database: &str,
) -> anyhow::Result<tokio::process::Child> {
    let client_tool = srs_mariadb::tool("mariadb").context("replay needs the mariadb client")?;
    tokio::process::Command::new(client_tool)
        .arg(format!("--defaults-extra-file={}", defaults.display()))
        .arg(format!("--host={host}"))
        .arg(format!("--port={port}"))
        .arg("--binary-mode")
        .arg(database)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the mariadb client")
}

/// What mariadb-binlog prints for one archived file, its GTID numbers
/// taken out.
async fn binlog_output(
    command: &mut tokio::process::Command,
    path: &std::path::Path,
) -> anyhow::Result<Vec<u8>> {
    let output = command
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .await
        .context("cannot run mariadb-binlog")?;
    if !output.status.success() {
        bail!(
            "mariadb-binlog could not read {}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(without_gtid_numbers(&output.stdout))
}

/// The last transaction of the log's prefix that ends before the first
/// transaction logged after `at`: a replay logged later keeps its original
/// (older) timestamps, so "every transaction stamped before" would reach
/// past writes made after the point.
fn last_before(history: &BTreeMap<u64, Located>, at: i64) -> Option<Located> {
    history
        .values()
        .take_while(|l| l.transaction.at <= at)
        .last()
        .copied()
}

/// The statements `mariadb-binlog` writes to give a transaction its
/// original sequence number and server ID.
const ORIGINAL_IDS: [&[u8]; 3] = [
    b"/*M!100001 SET @@session.gtid_seq_no=",
    b"/*!100001 SET @@session.server_id=",
    b"/*M!100001 SET @@session.server_id=",
];

/// The replay script without the statements that set original IDs.
fn without_gtid_numbers(script: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(script.len());
    for line in script.split_inclusive(|b| *b == b'\n') {
        if !ORIGINAL_IDS.iter().any(|p| line.starts_with(p)) {
            out.extend_from_slice(line);
        }
    }
    out
}

/// The password in a database URL (percent-decoded), empty when none.
pub fn password_of(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return String::new();
    };
    let Some((userinfo, _)) = rest.rsplit_once('@') else {
        return String::new();
    };
    let raw = userinfo.split_once(':').map(|(_, p)| p).unwrap_or_default();
    percent_decode(raw)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_are_dropped_and_nothing_else() {
        let script = b"/*!100001 SET @@session.server_id=2*//*!*/;\nBEGIN\n/*M!100001 SET @@session.gtid_seq_no=40*//*!*/;\nBINLOG '\nAbC=\n'/*!*/;\nCOMMIT";
        let out = without_gtid_numbers(script);
        assert_eq!(out, b"BEGIN\nBINLOG '\nAbC=\n'/*!*/;\nCOMMIT".to_vec());
    }

    #[test]
    fn a_point_in_time_ends_at_the_first_later_transaction() {
        let history: BTreeMap<u64, Located> = [(1, 100), (2, 105), (3, 110), (4, 101)]
            .into_iter()
            .map(|(seq, at)| {
                let transaction = crate::binlog::Transaction {
                    gtid: Gtid {
                        domain: 0,
                        server: 1,
                        seq,
                    },
                    at,
                };
                (
                    seq,
                    Located {
                        transaction,
                        file: 0,
                    },
                )
            })
            .collect();
        let seq = |at| last_before(&history, at).map(|l| l.transaction.gtid.seq);
        // Transaction 4 is a replay stamped 101 but logged after 3 (110).
        assert_eq!(seq(107), Some(2));
        assert_eq!(seq(110), Some(4));
        assert_eq!(seq(99), None);
    }

    #[test]
    fn passwords_are_read_from_urls() {
        assert_eq!(
            password_of("mysql://root:p%40ss@127.0.0.1:3306/srs"),
            "p@ss"
        );
        assert_eq!(password_of("mysql://root@127.0.0.1:3306/srs"), "");
        assert_eq!(password_of("sqlite:x.db"), "");
    }
}
