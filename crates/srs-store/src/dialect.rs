//! Everything that differs between SQLite and MariaDB/MySQL lives here.

use crate::StoreError;

/// MySQL/MariaDB: "The MariaDB server is running with the --read-only option".
const MYSQL_OPTION_PREVENTS_STATEMENT: u16 = 1290;
/// MySQL/MariaDB: "Running in read-only mode".
const MYSQL_READ_ONLY_MODE: u16 = 1836;
/// SQLite primary result code for an attempt to write a read-only database.
const SQLITE_READONLY: i64 = 8;

/// `n` comma-separated `?` placeholders, for an `IN (...)` list.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Sorts a driver error into the store's error kinds.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Database(db) => {
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                if matches!(
                    my.number(),
                    MYSQL_OPTION_PREVENTS_STATEMENT | MYSQL_READ_ONLY_MODE
                ) && my.message().to_ascii_lowercase().contains("read")
                {
                    return StoreError::ReadOnly;
                }
            }
            let sqlite_code = db
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .map(|c| c & 0xff);
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                && sqlite_code == Some(SQLITE_READONLY)
            {
                return StoreError::ReadOnly;
            }
            StoreError::Database(e)
        }
        _ => StoreError::Database(e),
    }
}
