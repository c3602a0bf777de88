//! What the controller and `srs status` see: every site's database and
//! app instances, and where the edge routes, read in one pass.

use crate::reach::connect_admin;
use crate::secrets::Secrets;
use crate::topology::{Site, Topology};
use serde::Serialize;
use srs_mariadb::{ReplicaStatus, SemiSync};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one probe may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One site's database as seen now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DatabaseStatus {
    /// It answered.
    pub up: bool,
    /// It refuses writes from the application.
    pub read_only: bool,
    /// GTIDs in its binlog: with log-slave-updates, everything it holds.
    pub gtid_binlog_pos: String,
    /// GTIDs it has applied as a replica.
    pub gtid_slave_pos: String,
    /// Replication threads and lag, when it replicates.
    pub replica: Option<ReplicaStatus>,
    /// Semi-sync, primary side.
    pub semi_sync: SemiSync,
    /// The application's account exists.
    pub app_account: bool,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// One site as seen now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SiteObservation {
    /// Name.
    pub name: String,
    /// Its database.
    pub database: DatabaseStatus,
    /// App instances answering `/readyz`.
    pub apps_healthy: usize,
    /// App instances configured.
    pub apps_total: usize,
}

/// The edge as seen now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EdgeObservation {
    /// It answered on its admin address.
    pub up: bool,
    /// The site it routes to, as it says itself.
    pub active: Option<String>,
}

/// Everything, read in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// Every site, in topology order.
    pub sites: Vec<SiteObservation>,
    /// The edge.
    pub edge: EdgeObservation,
}

impl Observation {
    /// The site called `name`.
    pub fn site(&self, name: &str) -> Option<&SiteObservation> {
        self.sites.iter().find(|s| s.name == name)
    }

    /// Transactions the `primary` has that `site` has not applied; None
    /// for the primary itself or when either database did not answer.
    pub fn lag_transactions(&self, primary: &str, site: &SiteObservation) -> Option<u64> {
        let p = self.site(primary)?;
        (site.name != primary && site.database.up && p.database.up).then(|| {
            crate::gtid::distance(&p.database.gtid_binlog_pos, &site.database.gtid_slave_pos)
        })
    }
}

/// Probes a topology.
pub struct Observer {
    topology: Topology,
    secrets: Secrets,
    data_dir: PathBuf,
    client: reqwest::Client,
}

impl Observer {
    /// An observer of the topology kept in `data_dir`.
    pub fn new(topology: Topology, secrets: Secrets, data_dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            topology,
            secrets,
            data_dir: data_dir.to_owned(),
            client: reqwest::Client::builder().timeout(PROBE_TIMEOUT).build()?,
        })
    }

    /// Reads every database, app instance and the edge, all at once.
    pub async fn observe(&self) -> Observation {
        let sites = futures::future::join_all(self.topology.sites.iter().map(|s| self.site(s)));
        let (sites, edge) = tokio::join!(sites, self.edge());
        Observation { sites, edge }
    }

    async fn site(&self, site: &Site) -> SiteObservation {
        let apps = futures::future::join_all(site.app_addrs().into_iter().map(|addr| {
            let client = &self.client;
            async move {
                client
                    .get(format!("http://{addr}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        }));
        let (database, apps) = tokio::join!(self.database(site), apps);
        SiteObservation {
            name: site.name.clone(),
            database,
            apps_healthy: apps.iter().filter(|ok| **ok).count(),
            apps_total: apps.len(),
        }
    }

    async fn database(&self, site: &Site) -> DatabaseStatus {
        let read = async {
            let mut admin =
                connect_admin(&self.topology, &self.secrets, &self.data_dir, site).await?;
            let (binlog, slave, read_only) = admin.gtid_and_read_only().await?;
            Ok::<_, srs_mariadb::MariaDbError>(DatabaseStatus {
                up: true,
                read_only,
                gtid_binlog_pos: binlog,
                gtid_slave_pos: slave,
                replica: admin.replica_status().await?,
                semi_sync: admin.semi_sync().await?,
                app_account: admin.has_account(&self.secrets.app.user).await?,
                error: None,
            })
        };
        let error = match tokio::time::timeout(PROBE_TIMEOUT, read).await {
            Ok(Ok(status)) => return status,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
        };
        DatabaseStatus {
            read_only: true,
            error: Some(error),
            ..DatabaseStatus::default()
        }
    }

    async fn edge(&self) -> EdgeObservation {
        let answer = self
            .client
            .get(format!(
                "http://{}/admin/state",
                self.topology.edge.admin_listen
            ))
            .bearer_auth(&self.secrets.edge_secret)
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success());
        match answer {
            Some(r) => {
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                EdgeObservation {
                    up: true,
                    active: v["active"].as_str().map(str::to_owned),
                }
            }
            None => EdgeObservation::default(),
        }
    }
}
