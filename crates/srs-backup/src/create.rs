//! `srs backup create`: a consistent full backup that does not block
//! writes. MariaDB: every table read inside one `START TRANSACTION WITH
//! CONSISTENT SNAPSHOT`, whose binlog position MariaDB reports with it, so
//! the backup sits at exactly one GTID. SQLite: `VACUUM INTO`, an online
//! copy from one read transaction.

use crate::files::{sync_dir, DataWriter};
use crate::key::BackupKey;
use crate::layout::BackupStore;
use crate::manifest::{Engine, Manifest, FORMAT};
use crate::progress::Progress;
use crate::tables::Source;
use anyhow::{bail, Context};
use chrono::Utc;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Row};
use std::path::Path;
use std::str::FromStr;

/// Takes a full backup of the database `url` names into `store`.
/// `source` describes it for people (never the URL: it may hold a password).
pub async fn create(
    store: &BackupStore,
    url: &str,
    source: &str,
    progress: &mut Progress,
) -> anyhow::Result<Manifest> {
    let started = Utc::now();
    let (id, partial) = store.reserve(started)?;
    let result = match engine_of(url)? {
        Engine::Mariadb => mariadb(url, &partial, store.key(), progress).await,
        Engine::Sqlite => sqlite(url, &partial, store.key(), progress).await,
    };
    let mut manifest = match result {
        Ok(m) => m,
        Err(e) => {
            // Nothing half-written stays in the store.
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    manifest.id = id.to_string();
    manifest.source = source.to_owned();
    manifest.finished_at = Utc::now();
    let published = (|| {
        sync_dir(&partial.join("data"))?;
        manifest.write(&partial)?;
        let dir = store.publish(&id, &partial)?;
        sync_dir(dir.parent().unwrap_or(&dir))
    })();
    if let Err(e) = published {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    tracing::info!(backup = %id, bytes = manifest.bytes(), rows = manifest.rows(), "backup written");
    Ok(manifest)
}

/// Which engine a database URL names.
pub fn engine_of(url: &str) -> anyhow::Result<Engine> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        Ok(Engine::Mariadb)
    } else {
        let scheme = url.split(':').next().unwrap_or_default();
        bail!("unsupported database URL scheme '{scheme}': use sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE")
    }
}

/// Connects to a MariaDB URL (`mariadb://` accepted as `mysql://`).
pub async fn mariadb_connect(url: &str) -> anyhow::Result<MySqlConnection> {
    let url = url.replacen("mariadb://", "mysql://", 1);
    let options = MySqlConnectOptions::from_str(&url).context("invalid MySQL URL")?;
    if options.get_database().is_none() {
        bail!("the MySQL URL names no database: add /DATABASE at its end");
    }
    options
        .connect()
        .await
        .context("cannot connect to the MariaDB database")
}

/// Whether a MariaDB URL's server answers within two seconds.
pub async fn answers(url: &str) -> bool {
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), mariadb_connect(url)).await,
        Ok(Ok(_))
    )
}

/// The path a `sqlite:` URL names.
pub fn sqlite_path(url: &str) -> anyhow::Result<&Path> {
    let path = url
        .strip_prefix("sqlite:")
        .map(|p| p.trim_start_matches("//"))
        .unwrap_or_default();
    if path.is_empty() {
        bail!("the sqlite URL names no file: use sqlite:PATH");
    }
    Ok(Path::new(path))
}

/// Reads a status or variable value that MariaDB may send as text or bytes.
fn text(row: &sqlx::mysql::MySqlRow, i: usize) -> String {
    row.try_get::<Option<String>, _>(i)
        .ok()
        .flatten()
        .or_else(|| {
            row.try_get::<Option<Vec<u8>>, _>(i)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        })
        .unwrap_or_default()
}

async fn mariadb(
    url: &str,
    dir: &Path,
    key: Option<&BackupKey>,
    progress: &mut Progress,
) -> anyhow::Result<Manifest> {
    use sqlx::Executor;
    let mut conn = mariadb_connect(url).await?;
    conn.execute(sqlx::raw_sql(
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    ))
    .await
    .context("setting the isolation level")?;
    conn.execute(sqlx::raw_sql(
        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
    ))
    .await
    .context("starting the snapshot")?;
    let taken_at = Utc::now();
    let gtid = snapshot_gtid(&mut conn).await?;
    let row = conn
        .fetch_one(sqlx::raw_sql("SELECT @@version, DATABASE()"))
        .await
        .context("reading the server version")?;
    let server_version = text(&row, 0);
    let database = text(&row, 1);

    let mut source = Source::Mariadb(&mut conn);
    let schema_version = source.schema_version().await?;
    let (files, tables) = dump_tables(&mut source, dir, key, progress).await?;
    conn.execute(sqlx::raw_sql("COMMIT"))
        .await
        .context("ending the snapshot")?;
    Ok(Manifest {
        format: FORMAT,
        id: String::new(),
        engine: Engine::Mariadb,
        taken_at,
        finished_at: taken_at,
        gtid,
        database: Some(database),
        source: String::new(),
        srs_version: env!("CARGO_PKG_VERSION").to_owned(),
        server_version,
        schema_version,
        files,
        tables,
        encryption: key.map(BackupKey::encryption),
    })
}

/// The GTID position of the open snapshot (None when the server writes no
/// binary log: such a backup cannot be rolled forward).
async fn snapshot_gtid(conn: &mut MySqlConnection) -> anyhow::Result<Option<String>> {
    use sqlx::Executor;
    let status = (&mut *conn)
        .fetch_all(sqlx::raw_sql("SHOW STATUS LIKE 'binlog_snapshot_%'"))
        .await
        .context("reading the snapshot's binlog position")?;
    let mut file = String::new();
    let mut position = 0u64;
    for row in &status {
        match text(row, 0).to_ascii_lowercase().as_str() {
            "binlog_snapshot_file" => file = text(row, 1),
            "binlog_snapshot_position" => position = text(row, 1).parse().unwrap_or(0),
            _ => {}
        }
    }
    if file.is_empty() {
        tracing::warn!("the server writes no binary log: this backup cannot be rolled forward");
        Ok(None)
    } else {
        let pos: Option<String> = sqlx::query_scalar("SELECT BINLOG_GTID_POS(?, ?)")
            .bind(&file)
            .bind(position)
            .fetch_one(&mut *conn)
            .await
            .context("turning the snapshot's binlog position into a GTID")?;
        Ok(pos)
    }
}

/// Writes every table of `source` as a data file, returning the files and
/// each table's row count and digest.
async fn dump_tables(
    source: &mut Source<'_>,
    dir: &Path,
    key: Option<&BackupKey>,
    progress: &mut Progress,
) -> anyhow::Result<(
    Vec<crate::manifest::FileEntry>,
    Vec<crate::manifest::TableEntry>,
)> {
    let shapes = source.tables().await?;
    let mut total = 0;
    for shape in &shapes {
        total += source.count(&shape.name).await?;
    }
    progress.stage("backup", total);
    let mut files = Vec::new();
    let mut tables = Vec::new();
    for shape in &shapes {
        let name = format!("data/{}.jsonl.zst", shape.name);
        let mut writer = DataWriter::create(dir, &name, key)?;
        let mut digest = crate::digest::TableDigest::default();
        let mut line = Vec::with_capacity(1024);
        let mut pending = 0u64;
        source
            .rows(shape, |row| {
                digest.add(&row);
                line.clear();
                serde_json::to_writer(&mut line, &row).context("encoding a row")?;
                line.push(b'\n');
                writer.write_all(&line)?;
                pending += 1;
                if pending == 1000 {
                    progress.advance(pending);
                    pending = 0;
                }
                Ok(())
            })
            .await?;
        progress.advance(pending);
        files.push(writer.finish()?);
        let (rows, digest) = digest.finish();
        tables.push(crate::manifest::TableEntry {
            name: shape.name.clone(),
            columns: shape.columns.clone(),
            rows,
            digest,
        });
    }
    Ok((files, tables))
}

/// The name of a SQLite backup's one data file.
pub const SQLITE_FILE: &str = "data/srs.db.zst";

async fn sqlite(
    url: &str,
    dir: &Path,
    key: Option<&BackupKey>,
    progress: &mut Progress,
) -> anyhow::Result<Manifest> {
    let path = sqlite_path(url)?;
    if !path.is_file() {
        bail!("there is no SQLite database at {}", path.display());
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    progress.stage("snapshot", 0);
    let snapshot = dir.join("data/srs.db.snapshot");
    let taken_at = Utc::now();
    let snapshot_text = snapshot
        .to_str()
        .context("the backup store's path is not valid UTF-8")?
        .to_owned();
    sqlx::query("VACUUM INTO ?")
        .bind(&snapshot_text)
        .execute(&mut conn)
        .await
        .with_context(|| format!("cannot copy {} online (VACUUM INTO)", path.display()))?;
    conn.close().await.ok();
    let result = describe_sqlite(&snapshot, dir, key, taken_at, progress).await;
    let _ = std::fs::remove_file(&snapshot);
    result
}

async fn describe_sqlite(
    snapshot: &Path,
    dir: &Path,
    key: Option<&BackupKey>,
    taken_at: chrono::DateTime<Utc>,
    progress: &mut Progress,
) -> anyhow::Result<Manifest> {
    let mut copy: SqliteConnection = SqliteConnectOptions::new()
        .filename(snapshot)
        .read_only(true)
        .connect()
        .await
        .context("cannot open the snapshot")?;
    let server_version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut copy)
        .await
        .context("reading the SQLite version")?;
    let mut source = Source::Sqlite(&mut copy);
    let schema_version = source.schema_version().await?;
    progress.stage("digest", 0);
    let tables = source.digests().await?;
    copy.close().await.ok();
    let bytes = std::fs::metadata(snapshot)
        .with_context(|| format!("cannot read {}", snapshot.display()))?
        .len();
    progress.stage("compress", bytes);
    let mut writer = DataWriter::create(dir, SQLITE_FILE, key)?;
    let mut reader = std::fs::File::open(snapshot)
        .with_context(|| format!("cannot read {}", snapshot.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut reader, &mut buf)
            .with_context(|| format!("cannot read {}", snapshot.display()))?;
        if n == 0 {
            break;
        }
        writer.write_all(&buf[..n])?;
        progress.advance(n as u64);
    }
    let file = writer.finish()?;
    Ok(Manifest {
        format: FORMAT,
        id: String::new(),
        engine: Engine::Sqlite,
        taken_at,
        finished_at: taken_at,
        gtid: None,
        database: None,
        source: String::new(),
        srs_version: env!("CARGO_PKG_VERSION").to_owned(),
        server_version,
        schema_version,
        files: vec![file],
        tables,
        encryption: key.map(BackupKey::encryption),
    })
}
