/// Why a MariaDB operation failed, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum MariaDbError {
    /// The server binaries are missing.
    #[error("{0} was not found: install MariaDB (Debian: apt-get install mariadb-server); `srs serve` runs on SQLite without it")]
    NotInstalled(String),
    /// The port is taken by another process.
    #[error("port {0} on 127.0.0.1 is already in use; choose another in the topology file")]
    PortInUse(u16),
    /// The data directory is unusable.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server did not start or stop as asked.
    #[error("MariaDB server on port {port}: {reason}")]
    Server {
        /// Its port.
        port: u16,
        /// What happened (with the end of its error log).
        reason: String,
    },
    /// A statement failed.
    #[error("MariaDB on port {port}: {what}: {source}")]
    Sql {
        /// Its port.
        port: u16,
        /// What srs was doing.
        what: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A file could not be written or read.
    #[error("{what}: {source}")]
    Io {
        /// What srs was doing.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl MariaDbError {
    /// The server refused the account or its password (not: unreachable).
    pub fn is_access_denied(&self) -> bool {
        matches!(self, MariaDbError::Sql { source, .. }
            if source.as_database_error().and_then(|e| e.code()).as_deref() == Some("28000"))
    }
}

/// Shorthand for results.
pub type Result<T> = std::result::Result<T, MariaDbError>;
