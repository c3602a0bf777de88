//! MariaDB as an engine for srs: servers srs initialises and runs itself,
//! and the replication, status, promotion and fencing statements that
//! turn two of them into a primary and a replica.
//!
//! Admin statements go over the text protocol (`raw_sql`): several of
//! them (`CHANGE MASTER TO`, `START SLAVE`, `SHOW SLAVE STATUS`) fail as
//! prepared statements.

mod admin;
mod error;
pub mod private_file;
pub mod reseed;
mod server;

pub use admin::{Admin, Credentials, EndReplication, Probe, ReplicaStatus, SemiSync, SyncMode};
pub use error::{MariaDbError, Result};
pub use server::{find_binaries, LocalServer, Network, ServerConfig};

/// Finds one of the MariaDB client tools (`mariadb`, `mariadb-binlog`…),
/// or says how to install it.
pub fn tool(name: &str) -> Result<std::path::PathBuf> {
    server::which(name).ok_or_else(|| MariaDbError::NotInstalled(name.into()))
}
