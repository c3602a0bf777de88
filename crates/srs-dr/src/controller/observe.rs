//! What the controller and `srs status` see: every site's database and
//! app instances, and where the edge routes, read in one pass.

use crate::cluster_dir::ClusterDir;
use crate::controller::connections::AdminConnections;
use crate::reach::connect_admin;
use crate::secrets::Secrets;
use crate::topology::{Site, Topology};
use serde::Serialize;
use srs_domain::SiteName;
use srs_mariadb::{Admin, ReplicaStatus, SemiSync};
use std::collections::BTreeSet;
use std::time::Duration;

/// Longest an app instance's readiness probe may take.
const APP_PROBE_TIMEOUT: Duration = Duration::from_millis(150);

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
    /// The last GTID per domain and originating server.
    pub gtid_binlog_state: String,
    /// Its server id.
    pub server_id: u32,
    /// Replication threads and lag, when it replicates.
    pub replica: Option<ReplicaStatus>,
    /// Semi-sync, primary side.
    pub semi_sync: SemiSync,
    /// The application's account exists.
    pub app_account: bool,
    /// The highest primary epoch recorded in its data.
    pub epoch: u64,
    /// Why it could not be read.
    pub error: Option<String>,
}

impl DatabaseStatus {
    /// A database that did not answer, and why (taken as read-only: it
    /// takes no writes that anyone sees).
    fn not_answering(error: String) -> Self {
        Self {
            read_only: true,
            error: Some(error),
            ..Self::default()
        }
    }

    /// Everything it holds, as one GTID position: what it applied as a
    /// replica and what it wrote as a primary (a former primary rejoined
    /// with `current_pos` has an empty replica position for a while).
    pub fn current_pos(&self) -> String {
        match (
            self.gtid_slave_pos.is_empty(),
            self.gtid_binlog_pos.is_empty(),
        ) {
            (true, _) => self.gtid_binlog_pos.clone(),
            (_, true) => self.gtid_slave_pos.clone(),
            _ => format!("{},{}", self.gtid_slave_pos, self.gtid_binlog_pos),
        }
    }
}

/// One site as seen now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteObservation {
    /// Name.
    pub name: SiteName,
    /// Its database.
    pub database: DatabaseStatus,
    /// App instances answering `/readyz`.
    pub apps_healthy: usize,
    /// App instances configured (standby ones included while they run).
    pub apps_total: usize,
    /// Standby app instances configured (started on promotion).
    pub standby_total: usize,
    /// `srs failback` is replacing its data: leave it alone.
    pub reseeding: bool,
}

/// The edge as seen now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EdgeObservation {
    /// It answered on its admin address.
    pub up: bool,
    /// The site it routes to, as it says itself.
    pub active: Option<SiteName>,
    /// Healthy app instances per site, as the edge sees them.
    pub healthy: std::collections::BTreeMap<SiteName, usize>,
    /// It holds new requests (a switch began and has not finished).
    pub holding: bool,
}

/// Everything, read in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// Every site, in topology order.
    pub sites: Vec<SiteObservation>,
    /// The edge.
    pub edge: EdgeObservation,
    /// What an operator asked for and the controller has not yet done.
    pub requested: Option<crate::operator::request::OperatorRequest>,
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
            crate::gtid::distance(&p.database.gtid_binlog_pos, &site.database.current_pos())
        })
    }
}

/// A connection being made to a site's database, in a task of its own.
type Connecting = tokio::task::JoinHandle<Result<Admin, String>>;

/// Probes a topology, keeping one administrative connection per site
/// open between probes (a probe is then a few queries, and servers do not
/// log an aborted connection twice a second).
pub struct Observer {
    topology: Topology,
    secrets: Secrets,
    data_dir: ClusterDir,
    client: reqwest::Client,
    apps: reqwest::Client,
    timeout: Duration,
    /// Shared with the controller's steps (see `connections.rs`).
    connections: std::sync::Arc<AdminConnections>,
    /// Per site, in the topology's order: the connection being made, kept
    /// across probes that time out waiting for it. A site far away takes
    /// several round trips to connect to (TCP, MariaDB's handshake, the
    /// session's set-up: 350 ms 35 ms apart), more than a probe may wait,
    /// and one round trip to probe once connected.
    connecting: Vec<tokio::sync::Mutex<Option<Connecting>>>,
    /// App readiness from the last background round, by address, when the
    /// observer probes apps in the background (the controller's does).
    app_health: Option<BackgroundApps>,
}

/// App readiness probed off the observation's path: an instance whose
/// database is gone may take the whole probe timeout to say so, and the
/// controller must not wait for that before it acts.
#[derive(Clone, Default)]
struct BackgroundApps {
    healthy: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, bool>>>,
    in_flight: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BackgroundApps {
    /// The last known readiness of `addr` (not yet probed: assumed ready,
    /// so that no failover starts on a missing reading).
    fn ready(&self, addr: &str) -> bool {
        self.healthy
            .lock()
            .map(|h| h.get(addr).copied().unwrap_or(true))
            .unwrap_or(true)
    }

    /// Starts a round over `addrs` unless one is still running.
    fn refresh(&self, client: &reqwest::Client, addrs: Vec<String>) {
        use std::sync::atomic::Ordering;
        if self.in_flight.swap(true, Ordering::SeqCst) {
            return;
        }
        let (client, this) = (client.clone(), self.clone());
        tokio::spawn(async move {
            let checks = addrs.into_iter().map(|addr| {
                let client = client.clone();
                async move {
                    let ok = client
                        .get(format!("http://{addr}/readyz"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    (addr, ok)
                }
            });
            let results = futures::future::join_all(checks).await;
            if let Ok(mut h) = this.healthy.lock() {
                h.extend(results);
            }
            this.in_flight.store(false, Ordering::SeqCst);
        });
    }
}

impl Observer {
    /// An observer of the topology kept in `data_dir`.
    pub fn new(
        topology: Topology,
        secrets: Secrets,
        data_dir: &ClusterDir,
    ) -> anyhow::Result<Self> {
        let timeout = topology.probe_timeout();
        Ok(Self {
            connections: std::sync::Arc::new(AdminConnections::for_sites(&topology)),
            connecting: topology
                .sites
                .iter()
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            topology,
            secrets,
            data_dir: data_dir.to_owned(),
            client: reqwest::Client::builder().timeout(timeout).build()?,
            // A live instance answers readiness in milliseconds; one whose
            // database is gone may hang, and must not slow the probe down.
            apps: reqwest::Client::builder()
                .timeout(timeout.min(APP_PROBE_TIMEOUT))
                .build()?,
            timeout,
            app_health: None,
        })
    }

    /// From now on app instances are probed in the background and each
    /// observation reports the last round (for the controller's loop).
    pub fn probe_apps_in_background(mut self) -> Self {
        self.app_health = Some(BackgroundApps::default());
        self
    }

    /// Reads every database, app instance and the edge, all at once.
    pub async fn observe(&self) -> Observation {
        self.observe_with(&BTreeSet::new()).await
    }

    /// As `observe`; databases of the sites in `down` (already counted
    /// down) get a third of the probe timeout, so that steps taken while a
    /// silent server stays silent do not each wait for it in full.
    pub async fn observe_with(&self, down: &BTreeSet<SiteName>) -> Observation {
        let sites = futures::future::join_all(
            self.topology
                .sites
                .iter()
                .zip(self.connections.slots().zip(&self.connecting))
                .map(|(s, c)| {
                    let timeout = if down.contains(&s.name) {
                        // Never less than the link's round trips: a
                        // server back up must be able to answer in time.
                        (self.timeout.saturating_sub(self.topology.link_allowance()) / 3)
                            .max(Duration::from_millis(50))
                            + self.topology.link_allowance()
                    } else {
                        self.timeout
                    };
                    self.site(s, c, timeout)
                }),
        );
        if let Some(apps) = &self.app_health {
            let addrs = self
                .topology
                .sites
                .iter()
                .flat_map(Site::app_addrs)
                .collect();
            apps.refresh(&self.apps, addrs);
        }
        let (sites, edge) = tokio::join!(sites, self.edge());
        Observation {
            sites,
            edge,
            requested: crate::operator::request::OperatorRequest::pending(&self.data_dir),
        }
    }

    /// Closes the connections it keeps, and gives up those being made.
    pub async fn close(self) {
        for connecting in &self.connecting {
            drop_finished(connecting).await;
            if let Some(task) = connecting.lock().await.take() {
                task.abort();
            }
        }
        self.connections.close().await;
    }

    /// Its connections, for the steps taken on what it observes.
    pub fn connections(&self) -> std::sync::Arc<AdminConnections> {
        self.connections.clone()
    }

    async fn site(
        &self,
        site: &Site,
        (connection, connecting): (
            &tokio::sync::Mutex<Option<Admin>>,
            &tokio::sync::Mutex<Option<Connecting>>,
        ),
        timeout: Duration,
    ) -> SiteObservation {
        let background = self.app_health.as_ref();
        let apps = futures::future::join_all(site.app_addrs().into_iter().map(|addr| {
            let client = &self.apps;
            async move {
                if let Some(apps) = background {
                    return apps.ready(&addr);
                }
                client
                    .get(format!("http://{addr}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        }));
        let (database, apps) =
            tokio::join!(self.database(site, connection, connecting, timeout), apps);
        SiteObservation {
            name: site.name.clone(),
            database,
            apps_healthy: apps.iter().filter(|ok| **ok).count(),
            apps_total: apps.len(),
            standby_total: site.standby_app_ports.len(),
            reseeding: crate::operator::reseeding::phase(&self.data_dir, &site.name).is_some(),
        }
    }

    async fn database(
        &self,
        site: &Site,
        connection: &tokio::sync::Mutex<Option<Admin>>,
        connecting: &tokio::sync::Mutex<Option<Connecting>>,
        timeout: Duration,
    ) -> DatabaseStatus {
        let mut slot = connection.lock().await;
        if slot.is_some() {
            // A step filled the slot while a connection was being made.
            drop_finished(connecting).await;
        }
        // A site far away takes several round trips to connect to (the
        // handshakes) and one or two to probe: a connection made within
        // this probe leaves the probe what is left of the timeout, but
        // never less than the connecting took; one carried over from an
        // earlier probe that gave up waiting gets the full timeout, also
        // where waiting to connect was cut short (a site counted down). A
        // server that is gone never connects, so detecting it takes no
        // longer; one that connects but never answers costs at most twice
        // the timeout, and only while it connects anew.
        let mut probe_timeout = timeout;
        if slot.is_none() {
            let began = std::time::Instant::now();
            let error = match tokio::time::timeout(timeout, self.connected(site, connecting)).await
            {
                Ok(Ok((admin, carried_over))) => {
                    let took = began.elapsed();
                    probe_timeout = if carried_over {
                        self.timeout
                    } else {
                        timeout.saturating_sub(took).max(took)
                    };
                    *slot = Some(admin);
                    None
                }
                Ok(Err(e)) => Some(e),
                Err(_) => Some(format!("no connection within {} ms", timeout.as_millis())),
            };
            if let Some(error) = error {
                return DatabaseStatus::not_answering(error);
            }
        }
        let Some(admin) = slot.as_mut() else {
            unreachable!("connected just above")
        };
        let probe = read_status(admin, &self.secrets.app.user);
        let error = match tokio::time::timeout(probe_timeout, probe).await {
            Ok(Ok(status)) => return status,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", probe_timeout.as_millis()),
        };
        // A connection that failed or hung is not trusted again.
        *slot = None;
        DatabaseStatus::not_answering(error)
    }

    /// A new connection to the site's database: the one being made, else
    /// one started now. It is made in a task of its own that outlives a
    /// probe timing out while it waits (the next probe waits on), and
    /// gives up after the topology's step timeout (a silent server: the
    /// next probe starts another).
    async fn connected(
        &self,
        site: &Site,
        connecting: &tokio::sync::Mutex<Option<Connecting>>,
    ) -> Result<(Admin, bool), String> {
        let mut connecting = connecting.lock().await;
        let carried_over = connecting.is_some();
        let task = connecting.get_or_insert_with(|| {
            let (topology, secrets, data_dir, site) = (
                self.topology.clone(),
                self.secrets.clone(),
                self.data_dir.clone(),
                site.clone(),
            );
            tokio::spawn(async move {
                let limit = topology.step_timeout();
                match tokio::time::timeout(
                    limit,
                    connect_admin(&topology, &secrets, &data_dir, &site),
                )
                .await
                {
                    Ok(connected) => connected.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no connection within {} ms", limit.as_millis())),
                }
            })
        });
        let made = task.await;
        // Done, either way: the next probe that needs one starts anew.
        *connecting = None;
        made.unwrap_or_else(|e| Err(format!("connecting stopped: {e}")))
            .map(|admin| (admin, carried_over))
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
        let Some(r) = answer else {
            return EdgeObservation::default();
        };
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        let healthy = v["sites"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let name = SiteName::parse(s["name"].as_str()?).ok()?;
                let n = s["instances"]
                    .as_array()
                    .map_or(0, |i| i.iter().filter(|i| i["healthy"] == true).count());
                Some((name, n))
            })
            .collect();
        EdgeObservation {
            up: true,
            active: v["active"].as_str().and_then(|s| SiteName::parse(s).ok()),
            healthy,
            holding: v["switching"] == true,
        }
    }
}

/// Closes the connection a finished connecting task made, if nobody took
/// it: one left waiting would be handed to a probe much later, its session
/// long dropped by the server, and fail it once.
async fn drop_finished(connecting: &tokio::sync::Mutex<Option<Connecting>>) {
    let mut connecting = connecting.lock().await;
    if !connecting.as_ref().is_some_and(|t| t.is_finished()) {
        return;
    }
    if let Some(task) = connecting.take() {
        if let Ok(Ok(admin)) = task.await {
            admin.close().await;
        }
    }
}

/// One database's status over an open connection, in one round trip.
async fn read_status(admin: &mut Admin, app_user: &str) -> srs_mariadb::Result<DatabaseStatus> {
    let probe = admin.probe(app_user).await?;
    Ok(DatabaseStatus {
        up: true,
        read_only: probe.read_only,
        gtid_binlog_pos: probe.gtid_binlog_pos,
        gtid_slave_pos: probe.gtid_slave_pos,
        gtid_binlog_state: probe.gtid_binlog_state,
        server_id: probe.server_id,
        replica: probe.replica,
        semi_sync: probe.semi_sync,
        app_account: probe.has_account,
        epoch: probe.epoch,
        error: None,
    })
}
