//! Reads tables generically, as text, on either engine: the same code
//! takes a backup's rows, computes its digests, and checks a restore.

use crate::digest::TableDigest;
use crate::manifest::TableEntry;
use anyhow::{bail, Context};
use futures::TryStreamExt;
use sqlx::mysql::MySqlConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::Row;

/// sqlx's own bookkeeping: a restore rebuilds it by running migrations.
pub const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// A connection to read tables through.
pub enum Source<'c> {
    /// MariaDB/MySQL, inside whatever transaction the caller opened.
    Mariadb(&'c mut MySqlConnection),
    /// SQLite.
    Sqlite(&'c mut SqliteConnection),
}

/// Table and column names come from the database's own catalogue, but are
/// quoted into statements, so anything unusual is refused outright.
pub fn checked_name(name: &str) -> anyhow::Result<&str> {
    if !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(name)
    } else {
        bail!("unexpected table or column name {name:?} in the database")
    }
}

/// A table's shape.
pub struct TableShape {
    /// Table name.
    pub name: String,
    /// Columns in table order.
    pub columns: Vec<String>,
    /// Primary-key columns (all columns when there is none).
    pub key: Vec<String>,
}

/// Every table (views too) of MariaDB database `schema`, or of the
/// connection's own database when None.
pub(crate) async fn mariadb_tables_in(
    conn: &mut sqlx::MySqlConnection,
    schema: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR CHARACTER SET utf8mb4) FROM information_schema.tables \
         WHERE table_schema = COALESCE(?, DATABASE()) ORDER BY table_name",
    )
    .bind(schema)
    .fetch_all(conn)
    .await
    .with_context(|| format!("listing the tables of {}", schema.unwrap_or("the database")))
}

impl Source<'_> {
    /// The srs tables, by name.
    pub async fn tables(&mut self) -> anyhow::Result<Vec<TableShape>> {
        let names: Vec<String> = match self {
            Source::Mariadb(c) => sqlx::query_scalar(
                "SELECT CAST(table_name AS CHAR CHARACTER SET utf8mb4) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name",
            )
            .fetch_all(&mut **c)
            .await
            .context("listing the tables")?,
            Source::Sqlite(c) => sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .fetch_all(&mut **c)
            .await
            .context("listing the tables")?,
        };
        let mut shapes = Vec::new();
        for name in names.into_iter().filter(|n| n != MIGRATIONS_TABLE) {
            checked_name(&name)?;
            let (columns, mut key) = self.columns(&name).await?;
            if key.is_empty() {
                key = columns.clone();
            }
            shapes.push(TableShape { name, columns, key });
        }
        Ok(shapes)
    }

    async fn columns(&mut self, table: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let what = || format!("reading the columns of {table}");
        let (columns, key): (Vec<String>, Vec<String>) = match self {
            Source::Mariadb(c) => {
                let columns = sqlx::query_scalar(
                    "SELECT CAST(column_name AS CHAR CHARACTER SET utf8mb4) FROM information_schema.columns \
                     WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(&mut **c)
                .await
                .with_context(what)?;
                let key = sqlx::query_scalar(
                    "SELECT CAST(column_name AS CHAR CHARACTER SET utf8mb4) FROM information_schema.key_column_usage \
                     WHERE table_schema = DATABASE() AND table_name = ? AND constraint_name = 'PRIMARY' \
                     ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(&mut **c)
                .await
                .with_context(what)?;
                (columns, key)
            }
            Source::Sqlite(c) => {
                let rows = sqlx::query("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid")
                    .bind(table)
                    .fetch_all(&mut **c)
                    .await
                    .with_context(what)?;
                let mut columns = Vec::new();
                let mut key: Vec<(i64, String)> = Vec::new();
                for row in rows {
                    let name: String = row.try_get(0).with_context(what)?;
                    let pk: i64 = row.try_get(1).with_context(what)?;
                    if pk > 0 {
                        key.push((pk, name.clone()));
                    }
                    columns.push(name);
                }
                key.sort();
                (columns, key.into_iter().map(|(_, n)| n).collect())
            }
        };
        for c in columns.iter().chain(&key) {
            checked_name(c)?;
        }
        Ok((columns, key))
    }

    /// Exact row count (inside the caller's snapshot).
    pub async fn count(&mut self, table: &str) -> anyhow::Result<u64> {
        let sql = match self {
            Source::Mariadb(_) => format!("SELECT COUNT(*) FROM `{}`", checked_name(table)?),
            Source::Sqlite(_) => format!("SELECT COUNT(*) FROM \"{}\"", checked_name(table)?),
        };
        let n: i64 = match self {
            Source::Mariadb(c) => sqlx::query_scalar(&sql).fetch_one(&mut **c).await,
            Source::Sqlite(c) => sqlx::query_scalar(&sql).fetch_one(&mut **c).await,
        }
        .with_context(|| format!("counting the rows of {table}"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Streams every row of a table as text, in key order, to `each`.
    pub async fn rows(
        &mut self,
        shape: &TableShape,
        mut each: impl FnMut(Vec<Option<String>>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let sql = match self {
            Source::Mariadb(_) => {
                let cols: Vec<String> = shape
                    .columns
                    .iter()
                    .map(|c| format!("CAST(`{c}` AS CHAR CHARACTER SET utf8mb4)"))
                    .collect();
                let key: Vec<String> = shape.key.iter().map(|c| format!("`{c}`")).collect();
                format!(
                    "SELECT {} FROM `{}` ORDER BY {}",
                    cols.join(", "),
                    shape.name,
                    key.join(", ")
                )
            }
            Source::Sqlite(_) => {
                let cols: Vec<String> = shape
                    .columns
                    .iter()
                    .map(|c| format!("CAST(\"{c}\" AS TEXT)"))
                    .collect();
                let key: Vec<String> = shape.key.iter().map(|c| format!("\"{c}\"")).collect();
                format!(
                    "SELECT {} FROM \"{}\" ORDER BY {}",
                    cols.join(", "),
                    shape.name,
                    key.join(", ")
                )
            }
        };
        let what = || format!("reading the rows of {}", shape.name);
        let width = shape.columns.len();
        match self {
            Source::Mariadb(c) => {
                let mut stream = sqlx::query(&sql).fetch(&mut **c);
                while let Some(row) = stream.try_next().await.with_context(what)? {
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        values.push(row.try_get::<Option<String>, _>(i).with_context(what)?);
                    }
                    each(values)?;
                }
            }
            Source::Sqlite(c) => {
                let mut stream = sqlx::query(&sql).fetch(&mut **c);
                while let Some(row) = stream.try_next().await.with_context(what)? {
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        values.push(row.try_get::<Option<String>, _>(i).with_context(what)?);
                    }
                    each(values)?;
                }
            }
        }
        Ok(())
    }

    /// Row counts and digests of every table, as a backup's manifest
    /// would list them.
    pub async fn digests(&mut self) -> anyhow::Result<Vec<TableEntry>> {
        let mut entries = Vec::new();
        for shape in self.tables().await? {
            let mut digest = TableDigest::default();
            self.rows(&shape, |row| {
                digest.add(&row);
                Ok(())
            })
            .await?;
            let (rows, digest) = digest.finish();
            entries.push(TableEntry {
                name: shape.name,
                columns: shape.columns,
                rows,
                digest,
            });
        }
        Ok(entries)
    }

    /// The newest migration applied.
    pub async fn schema_version(&mut self) -> anyhow::Result<i64> {
        let sql = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        let v: i64 = match self {
            Source::Mariadb(c) => sqlx::query_scalar(sql).fetch_one(&mut **c).await,
            Source::Sqlite(c) => sqlx::query_scalar(sql).fetch_one(&mut **c).await,
        }
        .context("reading the schema version: is this an srs database?")?;
        Ok(v)
    }
}

/// Compares a restored database's tables with a manifest's; the first
/// difference, named, is the error.
pub fn compare(expected: &[TableEntry], found: &[TableEntry]) -> anyhow::Result<()> {
    for want in expected {
        let Some(got) = found.iter().find(|t| t.name == want.name) else {
            bail!("table {} is missing from the restored database", want.name);
        };
        if got.rows != want.rows {
            bail!(
                "table {}: {} rows restored, the backup's manifest says {}",
                want.name,
                got.rows,
                want.rows
            );
        }
        if got.digest != want.digest {
            bail!(
                "table {}: the restored rows differ from the backup's (digest {} instead of {})",
                want.name,
                short(&got.digest),
                short(&want.digest)
            );
        }
    }
    Ok(())
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}
