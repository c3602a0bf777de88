//! One handle for a cluster directory: its topology and secrets read once,
//! and the database addresses commands and agents derive from them.

use crate::cluster_dir::ClusterDir;
use crate::controller::published::primary_site;
use crate::secrets::Secrets;
use crate::topology::{Site, Topology};
use anyhow::Context;
use secrecy::SecretString;
use srs_backup::archive::ArchiveSource;

/// A cluster directory with its topology and secrets.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Where its files are.
    pub dir: ClusterDir,
    /// Its sites and settings.
    pub topology: Topology,
    /// Its passwords.
    pub secrets: Secrets,
}

/// A database to back up, and how to name it in reports.
pub struct BackupSource {
    /// Its URL (holds the application's password).
    pub url: SecretString,
    /// E.g. "site b (replica, 127.0.0.1:3307)".
    pub label: String,
}

impl Cluster {
    /// Reads the topology and secrets `srs up` (or `srs split`) left in `dir`.
    pub fn open(dir: &ClusterDir) -> anyhow::Result<Self> {
        let topology = Topology::of(dir)
            .with_context(|| format!("--data-dir {dir}: no cluster topology there"))?;
        let secrets = Secrets::load(dir)?;
        Ok(Self {
            dir: dir.clone(),
            topology,
            secrets,
        })
    }

    /// The site named `name`, or an error saying it is not in the topology.
    pub fn site(&self, name: &str) -> anyhow::Result<&Site> {
        self.topology
            .site(name)
            .with_context(|| format!("site '{name}' is not in the topology"))
    }

    /// The site that is primary now (the controller's word first).
    pub fn primary(&self) -> Site {
        primary_site(&self.topology, &self.dir)
    }

    /// The application's URL of `site`'s database.
    pub fn app_url(&self, site: &Site) -> String {
        self.secrets.app_url(&site.db_host, site.db_port)
    }

    /// `site`'s server as root: what the binlog archive and a restore into
    /// a new database need (SHOW BINARY LOGS, CREATE DATABASE).
    pub fn root_source(&self, site: &Site) -> ArchiveSource {
        ArchiveSource {
            host: site.db_host.clone(),
            port: site.db_port,
            user: "root".into(),
            password: self.secrets.root_password.clone(),
            label: format!("site {}", site.name),
        }
    }

    /// What a backup reads: the DR site's replica when it answers (the
    /// primary does no extra work), else the primary.
    pub async fn backup_source(&self) -> BackupSource {
        let primary = self.primary();
        for site in self
            .topology
            .sites
            .iter()
            .filter(|s| s.name != primary.name)
        {
            let url = self.app_url(site);
            if srs_backup::create::answers(&url).await {
                return BackupSource {
                    url: SecretString::from(url),
                    label: format!(
                        "site {} (replica, {}:{})",
                        site.name, site.db_host, site.db_port
                    ),
                };
            }
            tracing::warn!(site = %site.name, "the replica does not answer; backing up the primary");
        }
        BackupSource {
            url: SecretString::from(self.app_url(&primary)),
            label: format!(
                "site {} (primary, {}:{})",
                primary.name, primary.db_host, primary.db_port
            ),
        }
    }
}
