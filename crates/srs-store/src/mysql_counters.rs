//! The generation counters of a MariaDB database, read on a connection of
//! their own.
//!
//! Through the pool every read paid for a ping (sqlx tests a connection
//! before lending it: a round trip to the server) and the pool's
//! bookkeeping, for a query the shared reads of `fresh.rs` run one at a
//! time anyway. One connection kept for them alone needs neither; a read
//! that fails on it (the server restarted, the connection was cut) drops
//! it and tries once more on a new one, which a read may: it changes
//! nothing.

use crate::fresh::Generations;
use crate::generation::COUNTERS_SQL;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::Connection;
use std::time::Duration;

/// The connection the counters are read on, opened at the first read.
#[derive(Debug)]
pub(crate) struct MySqlCounters {
    options: MySqlConnectOptions,
    /// Longest a read (with its connect) may take before it fails.
    limit: Duration,
    connection: tokio::sync::Mutex<Option<MySqlConnection>>,
}

impl MySqlCounters {
    /// A reader connecting with `options`; a read taking longer than
    /// `limit` fails.
    pub(crate) fn new(options: MySqlConnectOptions, limit: Duration) -> Self {
        Self {
            options,
            limit,
            connection: tokio::sync::Mutex::new(None),
        }
    }

    /// The counters as committed now.
    pub(crate) async fn read(&self) -> Result<Generations, String> {
        let mut connection = self.connection.lock().await;
        let mut last = String::new();
        for _ in 0..2 {
            match tokio::time::timeout(self.limit, self.read_on(&mut connection)).await {
                Ok(Ok(generations)) => return Ok(generations),
                Ok(Err(e)) => last = format!("reading the change counters: {e}"),
                Err(_) => {
                    last = format!(
                        "reading the change counters: no answer from the database within {} s",
                        self.limit.as_secs()
                    )
                }
            }
            // A connection in an unknown state is not used again.
            *connection = None;
        }
        Err(last)
    }

    async fn read_on(
        &self,
        connection: &mut Option<MySqlConnection>,
    ) -> Result<Generations, sqlx::Error> {
        let open = match connection {
            Some(open) => open,
            None => connection.insert(MySqlConnection::connect_with(&self.options).await?),
        };
        let rows: Vec<(i64, i64)> = sqlx::query_as(COUNTERS_SQL).fetch_all(&mut *open).await?;
        Ok(rows.into_iter().collect())
    }

    /// Closes the connection (when the store closes).
    pub(crate) async fn close(&self) {
        if let Some(open) = self.connection.lock().await.take() {
            let _ = open.close().await;
        }
    }
}
