//! Failed sign-ins, shared by every app instance on the database: the
//! throttle counts them per key (an account, a client address) within a
//! window, so N instances do not allow N times the tries.

use crate::{on_pool, Store, StoreResult};
use chrono::{DateTime, Utc};

/// Failures of one key within a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCount {
    /// The key.
    pub key: String,
    /// How many.
    pub count: i64,
    /// The oldest of them: the count drops when it leaves the window.
    pub oldest: DateTime<Utc>,
}

impl Store {
    /// Failures of each of `keys` since `since` (keys with none are left out).
    pub async fn login_failures(
        &self,
        keys: &[String],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<FailureCount>> {
        let mut counts = Vec::new();
        // Two keys at most: one short query each keeps the SQL plain.
        for key in keys {
            let row: (i64, Option<DateTime<Utc>>) = on_pool!(self, p => {
                sqlx::query_as(
                    "SELECT COUNT(*), MIN(failed_at) FROM login_failures WHERE throttle_key = ? AND failed_at > ?",
                )
                .bind(key)
                .bind(since)
                .fetch_one(p)
                .await?
            });
            if let (count @ 1.., Some(oldest)) = row {
                counts.push(FailureCount {
                    key: key.clone(),
                    count,
                    oldest,
                });
            }
        }
        Ok(counts)
    }

    /// Counts a failure against each of `keys` at `at`, and forgets
    /// failures older than `forget_before`.
    pub async fn record_login_failure(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for key in keys {
            tx.execute(
                "INSERT INTO login_failures (throttle_key, failed_at) VALUES (?, ?)",
                &[key.into(), at.into()],
            )
            .await?;
        }
        tx.execute(
            "DELETE FROM login_failures WHERE failed_at < ?",
            &[forget_before.into()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The keys starting with `prefix` (plain text: no `%` or `_`) that
    /// have at least `at_least` failures since `since`: the locked ones.
    pub async fn login_failures_over(
        &self,
        prefix: &str,
        since: DateTime<Utc>,
        at_least: i64,
    ) -> StoreResult<Vec<FailureCount>> {
        let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT throttle_key, COUNT(*), MIN(failed_at) FROM login_failures \
                 WHERE throttle_key LIKE ? AND failed_at > ? \
                 GROUP BY throttle_key HAVING COUNT(*) >= ?",
            )
            .bind(format!("{prefix}%"))
            .bind(since)
            .bind(at_least)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(key, count, oldest)| {
                Some(FailureCount {
                    key,
                    count,
                    oldest: oldest?,
                })
            })
            .collect())
    }

    /// Forgets the failures of `key` (after a successful sign-in).
    pub async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.write_one(
            "DELETE FROM login_failures WHERE throttle_key = ?",
            &[key.into()],
        )
        .await?;
        Ok(())
    }
}
