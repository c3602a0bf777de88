//! `srs status`: each site's database, replication and app instances, and
//! where the edge routes, as a table or JSON.

use crate::secrets::Secrets;
use crate::supervisor::active_site;
use crate::topology::Topology;
use serde::Serialize;
use srs_mariadb::{Admin, ReplicaStatus, ServerConfig};
use std::path::Path;
use std::time::Duration;

/// One site's database as seen now.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseStatus {
    /// It answered.
    pub up: bool,
    /// It refuses writes from the application.
    pub read_only: bool,
    /// GTIDs it has written to its binlog.
    pub gtid_binlog_pos: String,
    /// GTIDs it has applied as a replica.
    pub gtid_slave_pos: String,
    /// Replication threads and lag, when it replicates.
    pub replica: Option<ReplicaStatus>,
    /// Transactions the primary has that this replica has not applied.
    pub lag_transactions: Option<u64>,
    /// Semi-sync primary side on.
    pub semi_sync_primary: bool,
    /// Replicas acknowledging semi-sync commits.
    pub semi_sync_clients: u64,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// One site.
#[derive(Debug, Clone, Serialize)]
pub struct SiteStatus {
    /// Name.
    pub name: String,
    /// primary or dr, from what the edge routes to.
    pub role: String,
    /// Its database.
    pub database: DatabaseStatus,
    /// App instances answering `/readyz`.
    pub apps_healthy: usize,
    /// App instances configured.
    pub apps_total: usize,
}

/// The whole topology.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The sync mode.
    pub sync_mode: String,
    /// Both sites.
    pub sites: Vec<SiteStatus>,
    /// Where the edge routes, as it says itself.
    pub edge_active: Option<String>,
    /// The edge answered.
    pub edge_up: bool,
}

fn seq(gtid: &str) -> Option<u64> {
    gtid.split(',').next()?.rsplit('-').next()?.parse().ok()
}

async fn database(config: &ServerConfig) -> DatabaseStatus {
    let mut s = DatabaseStatus {
        up: false,
        read_only: true,
        gtid_binlog_pos: String::new(),
        gtid_slave_pos: String::new(),
        replica: None,
        lag_transactions: None,
        semi_sync_primary: false,
        semi_sync_clients: 0,
        error: None,
    };
    let result = async {
        let mut admin = Admin::connect_socket(config).await?;
        let (binlog, slave, ro) = admin.gtid_and_read_only().await?;
        let replica = admin.replica_status().await?;
        let (semi, clients) = admin.semi_sync().await?;
        Ok::<_, srs_mariadb::MariaDbError>((binlog, slave, ro, replica, semi, clients))
    };
    match tokio::time::timeout(Duration::from_secs(3), result).await {
        Ok(Ok((binlog, slave, ro, replica, semi, clients))) => {
            s.up = true;
            s.read_only = ro;
            s.gtid_binlog_pos = binlog;
            s.gtid_slave_pos = slave;
            s.replica = replica;
            s.semi_sync_primary = semi;
            s.semi_sync_clients = clients;
        }
        Ok(Err(e)) => s.error = Some(e.to_string()),
        Err(_) => s.error = Some("no answer within 3 s".into()),
    }
    s
}

/// Reads the state of the topology in `data_dir`.
pub async fn collect(data_dir: &Path) -> anyhow::Result<Status> {
    let topology = Topology::load(&data_dir.join(crate::topology::FILE_NAME))?;
    let secrets = Secrets::load(data_dir)?;
    let active = active_site(&topology, data_dir);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let mut sites = Vec::new();
    for (i, site) in topology.sites.iter().enumerate() {
        let config = ServerConfig {
            name: site.name.clone(),
            dir: data_dir.join(&site.name).join("db"),
            port: site.db_port,
            server_id: u32::try_from(i).unwrap_or(0) + 1,
            buffer_pool_mb: topology.buffer_pool_mb,
            parallel_threads: topology.parallel_apply_threads,
            sync_mode: topology.sync_mode(),
            root_password: secrets.root_password.clone(),
        };
        let db = database(&config).await;
        let mut healthy = 0;
        for port in &site.app_ports {
            if let Ok(r) = client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
            {
                if r.status().is_success() {
                    healthy += 1;
                }
            }
        }
        sites.push(SiteStatus {
            name: site.name.clone(),
            role: if site.name == active.name {
                "primary".into()
            } else {
                "dr".into()
            },
            database: db,
            apps_healthy: healthy,
            apps_total: site.app_ports.len(),
        });
    }
    // Lag in transactions: the primary's last sequence number minus the replica's.
    let primary_seq = sites
        .iter()
        .find(|s| s.role == "primary")
        .and_then(|s| seq(&s.database.gtid_binlog_pos));
    for s in sites.iter_mut().filter(|s| s.role == "dr") {
        if let (Some(p), Some(r)) = (primary_seq, seq(&s.database.gtid_slave_pos)) {
            s.database.lag_transactions = Some(p.saturating_sub(r));
        }
    }
    let edge = client
        .get(format!("http://{}/admin/state", topology.edge.admin_listen))
        .bearer_auth(&secrets.edge_secret)
        .send()
        .await
        .ok()
        .and_then(|r| r.status().is_success().then_some(r));
    let (edge_up, edge_active) = match edge {
        Some(r) => {
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            (true, v["active"].as_str().map(str::to_owned))
        }
        None => (false, None),
    };
    Ok(Status {
        sync_mode: topology.sync_mode().to_string(),
        sites,
        edge_active,
        edge_up,
    })
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// One site as a row of text, for tables and pages.
#[derive(Debug, Clone)]
pub struct Row {
    /// Site name.
    pub name: String,
    /// primary or dr.
    pub role: String,
    /// up or DOWN.
    pub database: String,
    /// Refuses application writes.
    pub read_only: bool,
    /// GTID position (binlog on the primary, applied on the replica).
    pub gtid: String,
    /// I/O and SQL threads.
    pub threads: String,
    /// Lag in seconds / transactions.
    pub lag: String,
    /// Semi-sync on the primary, with acknowledging replicas.
    pub semi_sync: String,
    /// Healthy / configured app instances.
    pub apps: String,
    /// Errors.
    pub note: String,
}

/// Where the edge routes, in words.
pub fn edge_text(status: &Status) -> String {
    match (&status.edge_up, &status.edge_active) {
        (true, Some(site)) => format!("routing to {site}"),
        (true, None) => "up, no active site".into(),
        (false, _) => "DOWN".into(),
    }
}

/// Every site as a row.
pub fn rows(status: &Status) -> Vec<Row> {
    status
        .sites
        .iter()
        .map(|s| {
            let d = &s.database;
            let gtid = if s.role == "primary" {
                &d.gtid_binlog_pos
            } else {
                &d.gtid_slave_pos
            };
            Row {
                name: s.name.clone(),
                role: s.role.clone(),
                database: if d.up { "up".into() } else { "DOWN".into() },
                read_only: d.read_only,
                gtid: if gtid.is_empty() {
                    "-".into()
                } else {
                    gtid.clone()
                },
                threads: d
                    .replica
                    .as_ref()
                    .map(|r| format!("{}/{}", yes(r.io_running), yes(r.sql_running)))
                    .unwrap_or_else(|| "-".into()),
                lag: match (&d.replica, d.lag_transactions) {
                    (Some(r), txn) => format!(
                        "{}/{}",
                        r.seconds_behind
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "?".into()),
                        txn.map(|t| t.to_string()).unwrap_or_else(|| "?".into())
                    ),
                    (None, _) => "-".into(),
                },
                semi_sync: if s.role == "primary" {
                    format!(
                        "{} ({})",
                        if d.semi_sync_primary { "on" } else { "off" },
                        d.semi_sync_clients
                    )
                } else {
                    "-".into()
                },
                apps: format!("{}/{}", s.apps_healthy, s.apps_total),
                note: d
                    .error
                    .clone()
                    .or_else(|| {
                        d.replica
                            .as_ref()
                            .map(|r| format!("{}{}", r.last_io_error, r.last_sql_error))
                            .filter(|e| !e.is_empty())
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The status as a table for people.
pub fn render(status: &Status) -> String {
    let mut out = format!(
        "sync mode: {}   edge: {}\n\n",
        status.sync_mode,
        edge_text(status)
    );
    out.push_str(&format!(
        "{:<10} {:<8} {:<5} {:<9} {:<18} {:<9} {:<11} {:<9} {:<10} {}\n",
        "SITE",
        "ROLE",
        "DB",
        "READ-ONLY",
        "GTID",
        "IO/SQL",
        "LAG s/txn",
        "SEMI-SYNC",
        "APPS",
        "NOTE"
    ));
    for r in rows(status) {
        out.push_str(&format!(
            "{:<10} {:<8} {:<5} {:<9} {:<18} {:<9} {:<11} {:<9} {:<10} {}\n",
            r.name,
            r.role,
            r.database,
            yes(r.read_only),
            r.gtid,
            r.threads,
            r.lag,
            r.semi_sync,
            r.apps,
            r.note
        ));
    }
    out
}
