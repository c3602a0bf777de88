//! Re-seeding a server from another: what `srs failback` needs when a
//! former primary holds transactions the new primary lacks. Its errant
//! transactions are saved for review with `mariadb-binlog`, its data
//! directory is set aside, and a fresh one is loaded from a consistent dump
//! of the primary, positioned so replication continues where the dump ends.

use crate::server::{which, ServerConfig};
use crate::{Credentials, MariaDbError, Result};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

fn tool(name: &str) -> Result<PathBuf> {
    which(name).ok_or_else(|| MariaDbError::NotInstalled(name.into()))
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> MariaDbError {
    let what = what.into();
    move |source| MariaDbError::Io { what, source }
}

/// The binlog files of a server srs runs, oldest first.
pub fn binlog_files(config: &ServerConfig) -> Vec<PathBuf> {
    let dir = config.dir.join("binlog");
    let index = std::fs::read_to_string(dir.join("mariadb-bin.index")).unwrap_or_default();
    index
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let p = PathBuf::from(l);
            if p.is_absolute() {
                p
            } else {
                dir.join(p.file_name().unwrap_or_default())
            }
        })
        .filter(|p| p.is_file())
        .collect()
}

/// Writes the transactions server `server_id` wrote after `start` (a GTID
/// list; empty: all of them) to `out` as readable SQL with row images;
/// returns how many there were.
pub async fn save_transactions(
    config: &ServerConfig,
    server_id: u32,
    start: &str,
    out: &Path,
) -> Result<u64> {
    let files = binlog_files(config);
    if files.is_empty() {
        return Err(MariaDbError::DataDir {
            path: config.dir.display().to_string(),
            reason: "no binlog files to read the errant transactions from".into(),
        });
    }
    let mut cmd = Command::new(tool("mariadb-binlog")?);
    cmd.arg("--base64-output=DECODE-ROWS")
        .arg("--verbose")
        .arg(format!("--do-server-ids={server_id}"));
    if !start.is_empty() {
        cmd.arg(format!("--start-position={start}"));
    }
    let output = cmd
        .args(&files)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(io("running mariadb-binlog"))?;
    if !output.status.success() {
        return Err(MariaDbError::Server {
            port: config.port,
            reason: format!(
                "mariadb-binlog failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    crate::private_file::write(out, &text).map_err(io(format!("writing {}", out.display())))?;
    // Each transaction starts with a GTID event: "#... server id N ... GTID d-s-n".
    Ok(text
        .lines()
        .filter(|l| l.starts_with('#') && l.contains("\tGTID "))
        .count() as u64)
}

/// Where a server is reached for a dump or a load.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Account.
    pub account: Credentials,
}

impl Endpoint {
    fn args(&self) -> Vec<String> {
        vec![
            format!("--host={}", self.host),
            format!("--port={}", self.port),
            format!("--user={}", self.account.user),
            "--protocol=TCP".into(),
        ]
    }
}

/// Copies `databases` from `source` into `target` (a fresh server) with
/// one consistent dump, nothing of it binlogged on the target, and sets the
/// target's replica position to where the dump was taken. `progress` sees
/// the bytes copied so far now and then. Returns that position.
pub async fn copy_databases(
    source: &Endpoint,
    target: &Endpoint,
    databases: &[&str],
    mut progress: impl FnMut(u64),
) -> Result<String> {
    let mut dump = Command::new(tool("mariadb-dump")?)
        .args(source.args())
        .args([
            "--single-transaction",
            "--gtid",
            "--master-data=2",
            "--routines",
            "--triggers",
            "--databases",
        ])
        .args(databases)
        // The password goes through the environment, not the command line.
        .env("MYSQL_PWD", &source.account.password)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io("starting mariadb-dump"))?;
    let mut load = Command::new(tool("mariadb")?)
        .args(target.args())
        .arg("--init-command=SET SESSION sql_log_bin = 0")
        .env("MYSQL_PWD", &target.account.password)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io("starting mariadb"))?;
    let (Some(mut from), Some(to)) = (dump.stdout.take(), load.stdin.take()) else {
        return Err(MariaDbError::Server {
            port: target.port,
            reason: "could not connect mariadb-dump to mariadb".into(),
        });
    };
    let position = pipe(&mut from, to, &mut progress).await?;
    let dumped = dump.wait_with_output().await.map_err(io("mariadb-dump"))?;
    let loaded = load.wait_with_output().await.map_err(io("mariadb"))?;
    for (what, out) in [("mariadb-dump", &dumped), ("mariadb", &loaded)] {
        if !out.status.success() {
            return Err(MariaDbError::Server {
                port: target.port,
                reason: format!(
                    "{what} failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
    }
    if position.is_empty() {
        return Err(MariaDbError::Server {
            port: source.port,
            reason: "the dump did not say at which GTID position it was taken".into(),
        });
    }
    Ok(position)
}

/// Copies the dump into the loading client, reporting the bytes copied
/// every 4 MiB; returns the GTID position the dump's header names (empty
/// when it names none).
async fn pipe(
    from: &mut tokio::process::ChildStdout,
    mut to: tokio::process::ChildStdin,
    progress: &mut impl FnMut(u64),
) -> Result<String> {
    let mut buf = vec![0u8; 1 << 16];
    let mut copied = 0u64;
    let mut position = String::new();
    let mut reported = 0u64;
    loop {
        let n = from.read(&mut buf).await.map_err(io("reading the dump"))?;
        if n == 0 {
            break;
        }
        if position.is_empty() && copied < 1 << 20 {
            position = gtid_position(&String::from_utf8_lossy(&buf[..n])).unwrap_or_default();
        }
        to.write_all(&buf[..n])
            .await
            .map_err(io("loading the dump"))?;
        copied += n as u64;
        if copied - reported >= 4 << 20 {
            reported = copied;
            progress(copied);
        }
    }
    drop(to);
    progress(copied);
    Ok(position)
}

/// The GTID position a `--gtid --master-data=2` dump names in its header.
fn gtid_position(head: &str) -> Option<String> {
    let line = head.lines().find(|l| l.contains("gtid_slave_pos"))?;
    let start = line.find('\'')? + 1;
    let end = start + line[start..].find('\'')?;
    Some(line[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dump_header_names_its_position() {
        let head = "-- MariaDB dump\n-- SET GLOBAL gtid_slave_pos='0-2-41,1-1-3';\nCREATE DATABASE";
        assert_eq!(gtid_position(head).as_deref(), Some("0-2-41,1-1-3"));
        assert_eq!(gtid_position("-- nothing here"), None);
    }
}
