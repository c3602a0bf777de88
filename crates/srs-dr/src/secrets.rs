//! Passwords srs generates for a topology: kept in one file readable only
//! by its owner, never logged.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use anyhow::Context;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use srs_mariadb::Credentials;
use std::path::Path;

/// Every secret of one topology.
#[derive(Clone, Serialize, Deserialize)]
pub struct Secrets {
    /// MariaDB root on every local server.
    pub root_password: String,
    /// The application's database account.
    pub app: Credentials,
    /// The replication account.
    pub repl: Credentials,
    /// The edge's admin secret.
    pub edge_secret: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(***)")
    }
}

fn random() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Secrets {
    /// Reads the secrets of `data_dir`, creating them on first use.
    pub fn load_or_create(data_dir: &ClusterDir) -> anyhow::Result<Self> {
        let path = data_dir.file(ClusterFile::Secrets);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("Failed to read {}", path.display()))?;
            return toml::from_str(&text)
                .with_context(|| format!("Invalid secrets file {}", path.display()));
        }
        let secrets = Secrets {
            root_password: random(),
            app: Credentials {
                user: "srs_app".into(),
                password: random(),
            },
            repl: Credentials {
                user: "srs_repl".into(),
                password: random(),
            },
            edge_secret: random(),
        };
        write_private(&path, &toml::to_string(&secrets)?)?;
        Ok(secrets)
    }

    /// Reads existing secrets (operator commands never create them).
    pub fn load(data_dir: &ClusterDir) -> anyhow::Result<Self> {
        let path = data_dir.file(ClusterFile::Secrets);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "Failed to read {}: has `srs up` run with this data directory?",
                path.display()
            )
        })?;
        toml::from_str(&text).with_context(|| format!("Invalid secrets file {}", path.display()))
    }

    /// The application's URL for the database at `host:port`.
    pub fn app_url(&self, host: &str, port: u16) -> String {
        format!(
            "mysql://{}:{}@{host}:{port}/srs",
            self.app.user, self.app.password
        )
    }
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    srs_mariadb::private_file::write(path, text)
        .with_context(|| format!("Failed to write {}", path.display()))
}
