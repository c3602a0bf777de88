//! Loading a full backup into a database: a new SQLite file, or a MariaDB
//! database whose schema srs builds as the backup had it. Every restore
//! ends by comparing each table's rows and digest with the manifest.

use crate::create::{engine_of, mariadb_connect, sqlite_path, SQLITE_FILE};
use crate::key::BackupKey;
use crate::manifest::{Engine, Manifest};
use crate::progress::Progress;
use crate::tables::Source;
use anyhow::{bail, Context};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

/// Rows per INSERT statement while loading.
const BATCH: usize = 500;

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// Rows loaded.
    pub rows: u64,
    /// Seconds it took, checks included.
    pub secs: f64,
}

/// Whether the target already holds data, and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse a target that holds srs tables or a file.
    Refuse,
    /// Replace it (the caller has backed it up first).
    Replace,
}

/// Whether the database `url` names already holds srs data (so that
/// restoring over it needs `--force`).
pub async fn target_holds_data(url: &str) -> anyhow::Result<bool> {
    match engine_of(url)? {
        Engine::Sqlite => Ok(sqlite_path(url)?.exists()),
        Engine::Mariadb => Ok(catalogue_count(
            url,
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?",
            "checking whether the target database holds tables",
        )
        .await?
            > 0),
    }
}

pub(crate) fn server_options(
    url: &str,
) -> anyhow::Result<(sqlx::mysql::MySqlConnectOptions, String)> {
    use std::str::FromStr;
    let options =
        sqlx::mysql::MySqlConnectOptions::from_str(&url.replacen("mariadb://", "mysql://", 1))
            .context("invalid MySQL URL")?;
    let Some(database) = options.get_database().map(str::to_owned) else {
        bail!("the MySQL URL names no database: add /DATABASE at its end");
    };
    Ok((options.database("information_schema"), database))
}

/// Counts rows of a catalogue query about the URL's database (bound as
/// its one parameter), asked of the server without entering the database.
async fn catalogue_count(url: &str, sql: &str, what: &str) -> anyhow::Result<i64> {
    let (options, database) = server_options(url)?;
    let mut conn = options
        .connect()
        .await
        .context("cannot connect to the MariaDB server to restore into")?;
    let n: i64 = sqlx::query_scalar(sql)
        .bind(&database)
        .fetch_one(&mut conn)
        .await
        .with_context(|| what.to_owned())?;
    conn.close().await.ok();
    Ok(n)
}

async fn database_exists(url: &str) -> anyhow::Result<bool> {
    Ok(catalogue_count(
        url,
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
        "checking whether the target database exists",
    )
    .await?
        > 0)
}

async fn drop_database(url: &str) {
    use sqlx::Executor;
    let Ok((options, database)) = server_options(url) else {
        return;
    };
    let Ok(name) = crate::tables::checked_name(&database) else {
        return;
    };
    if let Ok(mut conn) = options.connect().await {
        let sql = format!("DROP DATABASE IF EXISTS `{name}`");
        if let Err(e) = conn.execute(sqlx::raw_sql(&sql)).await {
            tracing::warn!(error = %e, "could not remove the half-restored database");
        }
        conn.close().await.ok();
    }
}

/// Processes other than this one that hold the SQLite database `url`
/// names open (Linux: from /proc). Replacing the file under a running
/// server would leave it writing to the old, unlinked file.
pub fn sqlite_users(url: &str) -> anyhow::Result<Vec<u32>> {
    let path = sqlite_path(url)?;
    let Ok(path) = path.canonicalize() else {
        return Ok(Vec::new());
    };
    let me = std::process::id();
    let mut users = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Ok(users);
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == path))
        {
            users.push(pid);
        }
    }
    Ok(users)
}

/// Loads the backup in `dir` into `url`, then checks it against the
/// manifest. The data files' checksums must have been checked already.
pub async fn restore(
    dir: &Path,
    manifest: &Manifest,
    key: Option<&BackupKey>,
    url: &str,
    overwrite: Overwrite,
    progress: &mut Progress,
) -> anyhow::Result<Restored> {
    let started = Instant::now();
    let key = crate::key::key_for(&manifest.id, manifest.encryption.as_ref(), key)?;
    let target = engine_of(url)?;
    if target != manifest.engine {
        bail!(
            "backup {} was taken from {}; restore it into a {} database",
            manifest.id,
            manifest.engine.as_str(),
            match manifest.engine {
                Engine::Mariadb => "MariaDB (mysql://…)",
                Engine::Sqlite => "SQLite (sqlite:PATH)",
            }
        );
    }
    let known = srs_store::Store::known_schema_version(match target {
        Engine::Mariadb => srs_store::Backend::MySql,
        Engine::Sqlite => srs_store::Backend::Sqlite,
    });
    if manifest.schema_version > known {
        bail!(
            "backup {} has schema version {}, newer than this srs knows ({known}): restore it with srs {} or later",
            manifest.id,
            manifest.schema_version,
            manifest.srs_version
        );
    }
    if overwrite == Overwrite::Refuse && target_holds_data(url).await? {
        bail!("the target database already exists and holds data; restoring over it needs --force (srs then backs it up first)");
    }
    let rows = match target {
        Engine::Sqlite => sqlite(dir, manifest, key, sqlite_path(url)?, progress).await?,
        Engine::Mariadb => {
            let existed = database_exists(url).await?;
            match mariadb(dir, manifest, key, url, progress).await {
                Ok(rows) => rows,
                Err(e) => {
                    // A database this restore created goes again: a failed
                    // restore leaves nothing half-loaded behind.
                    if !existed {
                        drop_database(url).await;
                    }
                    return Err(e);
                }
            }
        }
    };
    Ok(Restored {
        rows,
        secs: started.elapsed().as_secs_f64(),
    })
}

async fn sqlite(
    dir: &Path,
    manifest: &Manifest,
    key: Option<&BackupKey>,
    path: &Path,
    progress: &mut Progress,
) -> anyhow::Result<u64> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let staging = path.with_extension("restoring");
    progress.stage("decompress", 0);
    crate::files::decompress_to(dir, manifest.data_file(SQLITE_FILE)?, key, &staging)?;
    let checked = async {
        let mut conn = SqliteConnectOptions::new()
            .filename(&staging)
            .read_only(true)
            .connect()
            .await
            .context("cannot open the restored file")?;
        progress.stage("check", 0);
        let found = Source::Sqlite(&mut conn).digests().await?;
        conn.close().await.ok();
        crate::tables::compare(&manifest.tables, &found)
    }
    .await;
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    // The replaced database's log and shared memory belong to the old file.
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot remove {}", Path::new(&side).display()))
            }
        }
    }
    std::fs::rename(&staging, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(manifest.rows())
}

async fn mariadb(
    dir: &Path,
    manifest: &Manifest,
    key: Option<&BackupKey>,
    url: &str,
    progress: &mut Progress,
) -> anyhow::Result<u64> {
    use sqlx::Executor;
    let options = srs_store::StoreOptions {
        max_connections: 2,
        ..Default::default()
    };
    let store = srs_store::Store::connect(url, &options)
        .await
        .context("cannot open the database to restore into")?;
    let mut conn = mariadb_connect(url).await?;
    // A forced restore starts from an empty database.
    let existing = crate::tables::mariadb_tables_in(&mut conn, None).await?;
    conn.execute(sqlx::raw_sql("SET SESSION foreign_key_checks = 0"))
        .await
        .context("preparing the load")?;
    for table in &existing {
        let table = crate::tables::checked_name(table)?;
        conn.execute(sqlx::raw_sql(&format!("DROP TABLE `{table}`")))
            .await
            .with_context(|| format!("cannot drop {table} in the target"))?;
    }
    store
        .migrate_up_to(Some(manifest.schema_version))
        .await
        .context("cannot build the backup's schema in the target")?;
    progress.stage("restore", manifest.rows());
    conn.execute(sqlx::raw_sql("BEGIN"))
        .await
        .context("starting the load")?;
    let mut rows = 0;
    for table in &manifest.tables {
        let name = crate::tables::checked_name(&table.name)?;
        conn.execute(sqlx::raw_sql(&format!("DELETE FROM `{name}`")))
            .await
            .with_context(|| format!("cannot empty {name}"))?;
        rows += load_table(&mut conn, dir, manifest, table, key, progress).await?;
    }
    conn.execute(sqlx::raw_sql("COMMIT"))
        .await
        .context("committing the load")?;
    progress.stage("check", 0);
    let found = Source::Mariadb(&mut conn).digests().await?;
    crate::tables::compare(&manifest.tables, &found)?;
    conn.close().await.ok();
    store
        .migrate()
        .await
        .context("cannot bring the restored schema up to date")?;
    store.close().await;
    Ok(rows)
}

/// Loads one table's rows from its data file, in batches, into the
/// emptied table; returns how many.
async fn load_table(
    conn: &mut sqlx::mysql::MySqlConnection,
    dir: &Path,
    manifest: &Manifest,
    table: &crate::manifest::TableEntry,
    key: Option<&BackupKey>,
    progress: &mut Progress,
) -> anyhow::Result<u64> {
    let name = crate::tables::checked_name(&table.name)?;
    let mut rows = 0;
    let file = manifest.data_file(&format!("data/{name}.jsonl.zst"))?;
    let mut batch: Vec<Vec<Option<String>>> = Vec::with_capacity(BATCH);
    let mut line_no = 0u64;
    for line in crate::files::lines(dir, file, key)?.lines() {
        line_no += 1;
        let line = line
            .with_context(|| format!("backup {}: {file} cannot be read (damaged?)", manifest.id))?;
        let row: Vec<Option<String>> = serde_json::from_str(&line).with_context(|| {
            format!("backup {}: {file} line {line_no} is not a row", manifest.id)
        })?;
        if row.len() != table.columns.len() {
            bail!(
                "backup {}: {file} line {line_no} has {} values for {} columns",
                manifest.id,
                row.len(),
                table.columns.len()
            );
        }
        batch.push(row);
        if batch.len() == BATCH {
            insert(conn, name, &table.columns, &batch).await?;
            progress.advance(batch.len() as u64);
            rows += batch.len() as u64;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        insert(conn, name, &table.columns, &batch).await?;
        progress.advance(batch.len() as u64);
        rows += batch.len() as u64;
    }
    Ok(rows)
}

async fn insert(
    conn: &mut sqlx::mysql::MySqlConnection,
    table: &str,
    columns: &[String],
    rows: &[Vec<Option<String>>],
) -> anyhow::Result<()> {
    let cols: Vec<String> = columns
        .iter()
        .map(|c| crate::tables::checked_name(c).map(|c| format!("`{c}`")))
        .collect::<anyhow::Result<_>>()?;
    let one = format!("({})", vec!["?"; columns.len()].join(", "));
    let sql = format!(
        "INSERT INTO `{table}` ({}) VALUES {}",
        cols.join(", "),
        vec![one; rows.len()].join(", ")
    );
    let mut query = sqlx::query(&sql);
    for row in rows {
        for value in row {
            query = query.bind(value.as_deref());
        }
    }
    query
        .execute(&mut *conn)
        .await
        .with_context(|| format!("cannot load rows into {table}"))?;
    Ok(())
}
