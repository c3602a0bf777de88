//! What a backup holds: written last, so a backup without one is
//! incomplete, and read first by every command that uses a backup.

use crate::key::Encryption;
use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The manifest's file name inside a backup's folder.
pub const MANIFEST: &str = "manifest.json";
/// The manifest format this build writes and reads.
pub const FORMAT: u32 = 1;

/// The database engine a backup was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// MariaDB (or MySQL): one file of rows per table, taken in one
    /// consistent snapshot at a known GTID position.
    Mariadb,
    /// SQLite: an online copy of the database file.
    Sqlite,
}

impl Engine {
    /// The engine's name as shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Mariadb => "mariadb",
            Engine::Sqlite => "sqlite",
        }
    }
}

/// One data file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the backup's folder, e.g. `data/students.jsonl.zst`.
    pub name: String,
    /// Size in bytes as written.
    pub bytes: u64,
    /// SHA-256 of the bytes as written, hex.
    pub sha256: String,
}

/// One table at the backup's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Table name.
    pub name: String,
    /// Its columns, in the order the data file lists values.
    pub columns: Vec<String>,
    /// Rows at the backup's position.
    pub rows: u64,
    /// SHA-256 over every row in primary-key order (see `digest`), hex.
    pub digest: String,
}

/// Everything a backup's folder holds, and where it stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub format: u32,
    /// The backup's ID (its folder's name).
    pub id: String,
    /// Engine it was taken from.
    pub engine: Engine,
    /// When the snapshot was taken: the backup holds exactly what was
    /// committed then.
    pub taken_at: DateTime<Utc>,
    /// When writing it finished.
    pub finished_at: DateTime<Utc>,
    /// MariaDB: the GTID position of the snapshot (binlog replay starts
    /// after it). None on SQLite.
    pub gtid: Option<String>,
    /// MariaDB: the database (schema) name it was taken from.
    pub database: Option<String>,
    /// Where it was taken from, without credentials.
    pub source: String,
    /// srs version that wrote it.
    pub srs_version: String,
    /// Database server version (SQLite library version on SQLite).
    pub server_version: String,
    /// The srs schema version (newest migration applied).
    pub schema_version: i64,
    /// Data files with their sizes and checksums.
    pub files: Vec<FileEntry>,
    /// Tables with row counts and digests.
    pub tables: Vec<TableEntry>,
    /// How the data files are encrypted; absent when they are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

impl Manifest {
    /// Total bytes of the data files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Total rows over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// The name of the data file written as `stem` (with `.age` when
    /// encrypted).
    pub fn data_file(&self, stem: &str) -> anyhow::Result<&str> {
        self.files
            .iter()
            .map(|f| f.name.as_str())
            .find(|name| {
                name.strip_prefix(stem)
                    .is_some_and(|rest| rest.is_empty() || rest == crate::key::SUFFIX)
            })
            .with_context(|| {
                format!(
                    "backup {} lists no data file {stem}: its manifest is incomplete",
                    self.id
                )
            })
    }

    /// Writes the manifest into a backup's folder (last step of a backup).
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self).context("cannot encode the manifest")?;
        let path = dir.join(MANIFEST);
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Reads a backup's manifest, refusing formats this build cannot read.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let probe: serde_json::Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not valid JSON: the backup is damaged",
                path.display()
            )
        })?;
        let format = probe.get("format").and_then(serde_json::Value::as_u64);
        if format != Some(u64::from(FORMAT)) {
            bail!(
                "{} has manifest format {}, but this srs reads format {FORMAT}: use the srs version that wrote it",
                path.display(),
                format.map_or_else(|| "none".to_owned(), |f| f.to_string())
            );
        }
        serde_json::from_value(probe)
            .with_context(|| format!("{} is not a manifest this srs understands", path.display()))
    }
}
