//! Restoring over a live MariaDB database without a window in which it is
//! half-loaded: the restore (and its replay) goes into a staging database
//! beside it, and one `RENAME TABLE` statement, atomic in MariaDB and
//! replicated like any other, then moves the live tables aside into a kept
//! database and the restored ones in. App instances see the old tables or
//! the new ones, never a mix; nothing they wrote is lost, since the
//! replaced tables are kept until the operator drops them.

use crate::restore::server_options;
use crate::tables::{checked_name, mariadb_tables_in};
use anyhow::{bail, Context};
use sqlx::{ConnectOptions, Connection, Executor};

/// The live database, its staging twin, and where the replaced tables go.
#[derive(Debug, Clone)]
pub struct Swap {
    /// The live database's name.
    pub live: String,
    /// The staging database the restore fills.
    pub staging: String,
    /// The database the replaced tables are kept in.
    pub kept: String,
    /// The URL of the staging database (the live URL with its name).
    pub staging_url: String,
}

impl Swap {
    /// The names for replacing the database `url` names at `at`.
    pub fn plan(url: &str, at: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Self> {
        let (_, live) = server_options(url)?;
        checked_name(&live)?;
        // MariaDB names are at most 64 characters.
        let stem: String = live.chars().take(40).collect();
        let staging = format!("{stem}_restoring");
        let kept = format!("{stem}_replaced_{}", at.format("%Y%m%d%H%M%S"));
        let staging_url = with_database(url, &live, &staging)?;
        Ok(Self {
            live,
            staging,
            kept,
            staging_url,
        })
    }

    /// Drops a staging database an interrupted restore left behind.
    pub async fn clear_staging(&self, url: &str) -> anyhow::Result<()> {
        let mut conn = server(url).await?;
        conn.execute(sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS `{}`",
            checked_name(&self.staging)?
        )))
        .await
        .with_context(|| {
            format!(
                "cannot remove the leftover staging database {}",
                self.staging
            )
        })?;
        Ok(())
    }

    /// Moves the live tables into the kept database and the staging tables
    /// into the live one, in one statement, then drops the empty staging
    /// database.
    pub async fn swap(&self, url: &str) -> anyhow::Result<()> {
        let mut conn = server(url).await?;
        let live = mariadb_tables_in(&mut conn, Some(&self.live)).await?;
        let staged = mariadb_tables_in(&mut conn, Some(&self.staging)).await?;
        if staged.is_empty() {
            bail!(
                "the staging database {} holds no tables: nothing to swap in",
                self.staging
            );
        }
        let (l, s, k) = (
            checked_name(&self.live)?,
            checked_name(&self.staging)?,
            checked_name(&self.kept)?,
        );
        let mut moves = Vec::new();
        for t in &live {
            let t = checked_name(t)?;
            moves.push(format!("`{l}`.`{t}` TO `{k}`.`{t}`"));
        }
        for t in &staged {
            let t = checked_name(t)?;
            moves.push(format!("`{s}`.`{t}` TO `{l}`.`{t}`"));
        }
        conn.execute(sqlx::raw_sql(&format!("CREATE DATABASE `{k}`")))
            .await
            .with_context(|| format!("cannot create {k} for the replaced tables"))?;
        conn.execute(sqlx::raw_sql(&format!("RENAME TABLE {}", moves.join(", "))))
            .await
            .context("cannot swap the restored tables in (the live database was left as it was)")?;
        conn.execute(sqlx::raw_sql(&format!("DROP DATABASE `{s}`")))
            .await
            .with_context(|| format!("cannot remove the emptied staging database {s}"))?;
        conn.close().await.ok();
        Ok(())
    }
}

async fn server(url: &str) -> anyhow::Result<sqlx::MySqlConnection> {
    let (options, _) = server_options(url)?;
    options
        .connect()
        .await
        .context("cannot connect to the MariaDB server to restore into")
}

/// `url` with its database `from` replaced by `to` (the path's last part).
fn with_database(url: &str, from: &str, to: &str) -> anyhow::Result<String> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let Some(prefix) = base.strip_suffix(&format!("/{from}")) else {
        bail!("cannot tell the database name in the URL apart from the server");
    };
    Ok(match query {
        Some(q) => format!("{prefix}/{to}?{q}"),
        None => format!("{prefix}/{to}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_beside_the_live_database() {
        let at = chrono::DateTime::from_timestamp(1_764_843_000, 0).expect("time");
        let swap = Swap::plan("mysql://root:pw@127.0.0.1:3307/srs", at).expect("plan");
        assert_eq!(swap.staging, "srs_restoring");
        assert!(swap.kept.starts_with("srs_replaced_2025"), "{}", swap.kept);
        assert_eq!(
            swap.staging_url,
            "mysql://root:pw@127.0.0.1:3307/srs_restoring"
        );
        let long = "a".repeat(64);
        let swap =
            Swap::plan(&format!("mysql://r@h:1/{long}?ssl-mode=disabled"), at).expect("plan");
        assert!(swap.kept.len() <= 64 && swap.staging.len() <= 64);
        assert!(swap.staging_url.ends_with("_restoring?ssl-mode=disabled"));
    }
}
