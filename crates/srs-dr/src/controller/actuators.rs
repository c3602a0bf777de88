//! The controller's hands: one adapter each for the databases, the edge
//! and the sites' processes. Each carries out one kind of step and says
//! what it found; none decides anything.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use crate::controller::connections::AdminConnections;
use crate::reach::{connect_admin, server_config};
use crate::secrets::Secrets;
use crate::topology::{Site, Topology};
use anyhow::Context;
use srs_mariadb::{Admin, EndReplication};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long a fence may wait for `read_only` before the server is stopped
/// instead (setting it waits for commits in flight).
const FENCE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a planned hand-over waits for the replica to catch up.
const HAND_OVER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a scale command may run.
const SCALE_TIMEOUT: Duration = Duration::from_secs(120);

/// The sites' databases.
pub struct Databases {
    topology: Topology,
    secrets: Secrets,
    data_dir: ClusterDir,
    /// Borrowed for a step, given back when it succeeded.
    connections: Arc<AdminConnections>,
}

impl Databases {
    /// The databases of the topology kept in `data_dir`, reached first
    /// through the open `connections`.
    pub fn new(
        topology: Topology,
        secrets: Secrets,
        data_dir: &ClusterDir,
        connections: Arc<AdminConnections>,
    ) -> Self {
        Self {
            topology,
            secrets,
            data_dir: data_dir.to_owned(),
            connections,
        }
    }

    /// Keeps a connection a step is done with, for the next probe or step.
    async fn done_with(&self, name: &str, admin: Admin) {
        self.connections.give_back(name, admin).await;
    }

    fn site(&self, name: &str) -> anyhow::Result<&Site> {
        self.topology
            .site(name)
            .with_context(|| format!("no site named '{name}' in the topology"))
    }

    fn probe_timeout(&self) -> Duration {
        self.topology.probe_timeout()
    }

    /// Runs one step on site `name`'s database, giving it up after the
    /// topology's step timeout plus `waits` (what the step waits for on
    /// purpose). A step given up drops the connection it borrowed: the
    /// next probe connects anew.
    async fn bounded<T>(
        &self,
        name: &str,
        waits: Duration,
        step: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let limit = self.topology.step_timeout() + waits;
        tokio::time::timeout(limit, step).await.unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "site '{name}': the step did not finish within {} ms (its database stopped answering, or a statement waited that long)",
                limit.as_millis()
            ))
        })
    }

    /// Runs `step` on the site's admin connection (the one the observation
    /// kept, else a new one), bounded as `bounded` says; the connection is
    /// kept for the next use only when the step succeeded.
    async fn on_database<T>(
        &self,
        name: &str,
        waits: Duration,
        step: impl AsyncFnOnce(&mut Admin) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        self.bounded(name, waits, async {
            let mut admin = self.admin(name).await?;
            let done = step(&mut admin).await?;
            self.done_with(name, admin).await;
            Ok(done)
        })
        .await
    }

    async fn admin(&self, name: &str) -> anyhow::Result<Admin> {
        self.admin_within(name, self.probe_timeout() * 2).await
    }

    async fn admin_within(&self, name: &str, within: Duration) -> anyhow::Result<Admin> {
        let site = self.site(name)?;
        if let Some(open) = self.connections.take(name).await {
            // The observation this step was decided on just used it.
            return Ok(open);
        }
        let connect = connect_admin(&self.topology, &self.secrets, &self.data_dir, site);
        tokio::time::timeout(within, connect)
            .await
            .with_context(|| {
                format!(
                    "site '{name}': its database did not answer within {} ms",
                    within.as_millis()
                )
            })?
            .map_err(Into::into)
    }

    /// Fences a failed primary: read-only where it can still be reached; a
    /// server srs runs that does not answer (paused, hung) is stopped, so
    /// it can never wake up as a second primary and its replica's receiver
    /// lets go at once. Says what happened.
    pub async fn fence_if_reachable(&self, name: &str) -> String {
        // It just failed its probes: one short try, not a long wait.
        let reached = self.admin_within(name, self.probe_timeout()).await;
        let fenced = match reached {
            Ok(admin) => {
                self.bounded(name, FENCE_TIMEOUT, self.fence_with(name, admin))
                    .await
            }
            Err(e) => Err(e),
        };
        let error = match fenced {
            Ok(done) => return done,
            Err(e) => e,
        };
        if self.kill_if_local(name) {
            return format!(
                "old primary did not answer ({error:#}); its server was stopped (SIGKILL): it restarts read-only"
            );
        }
        if self.topology.sync_mode() == srs_mariadb::SyncMode::Strict {
            format!(
                "old primary not reached ({error:#}); in strict mode it cannot commit anything the replica lacks"
            )
        } else {
            format!(
                "old primary not reached ({error:#}); writes it acknowledged without the replica may be lost"
            )
        }
    }

    /// Makes a site refuse writes. A server with sessions waiting for a
    /// semi-sync acknowledgement is stopped instead: killing those
    /// sessions would report success for rows the replica never received.
    /// A server srs runs here that cannot be fenced (no answer, an error)
    /// is stopped too: it must not go on taking writes.
    pub async fn fence(&self, name: &str) -> anyhow::Result<String> {
        let fenced = self
            .bounded(name, FENCE_TIMEOUT, async {
                let admin = self.admin(name).await?;
                self.fence_with(name, admin).await
            })
            .await;
        match fenced {
            Err(e) if self.kill_if_local(name) => Ok(format!(
                "not fenced ({e:#}); its server was stopped (SIGKILL): it restarts read-only"
            )),
            fenced => fenced,
        }
    }

    /// Stops the site's server if srs runs it on this host (SIGKILL: it
    /// restarts read-only, its unacknowledged transactions truncated);
    /// whether it did.
    fn kill_if_local(&self, name: &str) -> bool {
        self.site(name).is_ok_and(|site| {
            self.topology.runs_here(site)
                && server_config(&self.topology, &self.secrets, &self.data_dir, site).kill_running()
        })
    }

    async fn fence_with(&self, name: &str, mut admin: Admin) -> anyhow::Result<String> {
        let waiting = admin.semi_sync_waiting().await?;
        if waiting > 0 {
            return self.stop_server(name, admin).await.map(|how| {
                format!("{waiting} session(s) waited for a semi-sync acknowledgement: {how}")
            });
        }
        match tokio::time::timeout(FENCE_TIMEOUT, admin.fence()).await {
            Ok(result) => {
                result?;
                self.done_with(name, admin).await;
                Ok("read_only set".into())
            }
            Err(_) => {
                // Its session is stuck in the fence: a server srs runs here
                // is killed without a new connection, another is shut down
                // over one.
                drop(admin);
                let how = if self.kill_if_local(name) {
                    "server stopped (SIGKILL)".to_owned()
                } else {
                    let admin = self.admin(name).await?;
                    self.stop_server(name, admin).await?
                };
                Ok(format!(
                    "read_only did not take within {} s: {how}",
                    FENCE_TIMEOUT.as_secs()
                ))
            }
        }
    }

    /// A planned hand-over: fences `from`, then waits until `to` has
    /// applied everything `from` wrote.
    pub async fn hand_over(&self, from: &str, to: &str) -> anyhow::Result<String> {
        let written = self
            .on_database(from, FENCE_TIMEOUT * 5, async |old| {
                tokio::time::timeout(FENCE_TIMEOUT * 5, old.fence())
                    .await
                    .with_context(|| {
                        format!(
                            "site '{from}': read_only did not take within {} s",
                            (FENCE_TIMEOUT * 5).as_secs()
                        )
                    })??;
                let (written, _, _) = old.gtid_and_read_only().await?;
                Ok(written)
            })
            .await?;
        self.on_database(to, HAND_OVER_TIMEOUT, async |new| {
            if !new.wait_for_gtid(&written, HAND_OVER_TIMEOUT).await? {
                anyhow::bail!(
                    "site '{to}' did not apply everything site '{from}' wrote (up to {written}) within {} s",
                    HAND_OVER_TIMEOUT.as_secs()
                );
            }
            Ok(())
        })
        .await?;
        Ok(format!(
            "site '{from}' fenced; site '{to}' has everything it wrote (up to {written})"
        ))
    }

    /// Undoes a fence (a hand-over that could not finish).
    pub async fn unfence(&self, name: &str) -> anyhow::Result<()> {
        self.on_database(name, Duration::ZERO, async |admin| {
            Ok(admin
                .exec("lifting the fence", "SET GLOBAL read_only = OFF;")
                .await?)
        })
        .await
    }

    /// Stops a server that must not go on: SIGKILL for one srs runs (it
    /// restarts read-only and truncates unacknowledged transactions),
    /// SHUTDOWN for one it does not.
    async fn stop_server(&self, name: &str, mut admin: Admin) -> anyhow::Result<String> {
        let site = self.site(name)?;
        if self.topology.runs_here(site) {
            drop(admin);
            let config = server_config(&self.topology, &self.secrets, &self.data_dir, site);
            anyhow::ensure!(
                config.kill_running(),
                "site '{name}': its server's process was not found to stop"
            );
            Ok("server stopped (SIGKILL)".into())
        } else {
            admin.shutdown().await?;
            Ok("server shut down".into())
        }
    }

    /// Whether every other site's server is one srs runs and none of them
    /// runs now: then nothing more can reach `name` or be acknowledged.
    fn others_stopped(&self, name: &str) -> bool {
        self.topology
            .sites
            .iter()
            .filter(|s| s.name != name)
            .all(|s| {
                self.topology.runs_here(s)
                    && !server_config(&self.topology, &self.secrets, &self.data_dir, s).is_running()
            })
    }

    /// Makes a site the writable primary. A replica first applies all it
    /// received (bounded by the apply lag budget per attempt; a step that
    /// times out is tried again, nothing received is thrown away).
    pub async fn promote(&self, name: &str, epoch: u64, alone: bool) -> anyhow::Result<String> {
        let catching_up = Duration::from_millis(self.topology.apply_lag_budget_ms);
        self.on_database(name, catching_up, async |admin| {
            self.promote_on(admin, name, epoch, alone).await
        })
        .await
    }

    async fn promote_on(
        &self,
        admin: &mut Admin,
        name: &str,
        epoch: u64,
        alone: bool,
    ) -> anyhow::Result<String> {
        let (replication, note) = match admin.replica_status().await? {
            None => (EndReplication::Forget, String::new()),
            Some(status) => {
                let applier_stopped = !status.sql_running && status.last_sql_error.is_empty();
                if applier_stopped && admin.recorded_epoch_of(name).await? >= epoch {
                    // Primary in this epoch already: a restart of the
                    // promoted server (its applier does not start again)
                    // before Detach cleared the replication it kept. What
                    // it received since its promotion came from the old
                    // primary after that one's lease ended: no client was
                    // told it succeeded, and applying it now would put it
                    // over writes this site took. Forgotten, not applied.
                    (
                        EndReplication::Forget,
                        format!(
                            "restarted as the primary of epoch {epoch}: replication from the old primary dropped, with what it sent after the promotion (never acknowledged to a client) not applied; "
                        ),
                    )
                } else {
                    if applier_stopped {
                        // A promotion cut short after its batch stopped the
                        // applier (a later statement failed): what was
                        // received must still be applied before it takes
                        // writes.
                        admin.start_applying().await?;
                    }
                    self.apply_received(admin, name, status).await?
                }
            }
        };
        // Replicas connect with this site's replication account once it is
        // primary; all of it in one round trip.
        admin
            .take_over(
                &self.secrets.repl,
                self.topology.sync_mode(),
                alone,
                replication,
            )
            .await?;
        Ok(format!("{note}writable"))
    }

    /// Waits until a replica being promoted applied all it received; how
    /// its replication is to end, and what was applied, for the event.
    async fn apply_received(
        &self,
        admin: &mut Admin,
        name: &str,
        status: srs_mariadb::ReplicaStatus,
    ) -> anyhow::Result<(EndReplication, String)> {
        // Receiving must stop first, or the old primary could still get
        // an acknowledgement for something applied too late. Not when
        // its server is known gone: then its receiver may be stuck on a
        // cut connection (stopping it takes seconds), and is cleared
        // after writes flow again.
        // Across hosts the old primary's write lease ended before the
        // epoch moved (the quorum's release): whatever it still sends
        // here, no client was told it succeeded, so its receiver need
        // not be stopped first either.
        let detach_later = self.others_stopped(name) || self.topology.quorum.is_some();
        let received = if detach_later {
            // Still receiving: a later reading would bound nothing more.
            status.gtid_io_pos
        } else {
            admin.stop_receiving().await?;
            admin
                .replica_status()
                .await?
                .map(|r| r.gtid_io_pos)
                .unwrap_or_default()
        };
        let budget = Duration::from_millis(self.topology.apply_lag_budget_ms);
        if !admin.wait_for_gtid(&received, budget).await? {
            anyhow::bail!(
                "site '{name}' is still applying what it received (up to {received}); trying again"
            );
        }
        let replication = if detach_later {
            EndReplication::StopApplying
        } else {
            EndReplication::Forget
        };
        Ok((
            replication,
            format!("applied everything received (up to {received}); "),
        ))
    }

    /// Removes a promoted site's leftover replication settings.
    pub async fn detach(&self, name: &str) -> anyhow::Result<()> {
        self.on_database(name, Duration::ZERO, async |admin| {
            Ok(admin.detach().await?)
        })
        .await
    }

    /// Points `replica` at `primary` and starts replication. START SLAVE
    /// returns before its threads run: the loop watches them come up
    /// (`decide::REPLICATION_START_MS`) instead of this step waiting.
    pub async fn replicate(&self, replica: &str, primary: &str) -> anyhow::Result<()> {
        let (host, port) = self.topology.db_reach(self.site(primary)?);
        self.on_database(replica, Duration::ZERO, async |admin| {
            // The same account here lets this site be a primary later.
            admin.create_replication_account(&self.secrets.repl).await?;
            Ok(admin
                .replicate_from(&host, port, &self.secrets.repl)
                .await?)
        })
        .await
    }

    /// Commits wait for the replica again.
    pub async fn restore_sync(&self, name: &str) -> anyhow::Result<()> {
        self.on_database(name, Duration::ZERO, async |admin| {
            Ok(admin.set_semi_sync(true).await?)
        })
        .await
    }

    /// Records the primary's epoch in its data.
    pub async fn record_epoch(&self, name: &str, epoch: u64) -> anyhow::Result<()> {
        self.on_database(name, Duration::ZERO, async |admin| {
            Ok(admin.record_epoch(epoch, name).await?)
        })
        .await
    }

    /// Creates the database and the application's account.
    pub async fn create_app_account(&self, name: &str) -> anyhow::Result<()> {
        self.on_database(name, Duration::ZERO, async |admin| {
            Ok(admin.create_app_account("srs", &self.secrets.app).await?)
        })
        .await
    }
}

/// The edge's admin endpoint.
pub struct EdgeSwitch {
    url: String,
    secret: String,
    client: reqwest::Client,
}

impl EdgeSwitch {
    /// The edge of `topology`.
    pub fn new(topology: &Topology, secrets: &Secrets) -> anyhow::Result<Self> {
        Ok(Self {
            url: format!("http://{}/admin", topology.edge.admin_listen),
            secret: secrets.edge_secret.clone(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
        })
    }

    /// Routes to `site` from now on (held requests go there).
    pub async fn switch(&self, site: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({ "site": site });
        self.put("active-site", Some(body)).await
    }

    /// Holds new requests until the next switch.
    pub async fn hold(&self) -> anyhow::Result<()> {
        self.put("hold", None).await
    }

    async fn put(&self, what: &str, body: Option<serde_json::Value>) -> anyhow::Result<()> {
        let mut request = self
            .client
            .put(format!("{}/{what}", self.url))
            .bearer_auth(&self.secret);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request
            .send()
            .await
            .context("the edge's admin endpoint did not answer")?;
        if !answer.status().is_success() {
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            anyhow::bail!("the edge refused ({status}): {body}");
        }
        Ok(())
    }
}

/// Which way to scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Start the standby app instances.
    Up,
    /// Stop them.
    Down,
}

/// The sites' app processes.
pub struct Processes {
    topology: Topology,
    log_dir: PathBuf,
}

impl Processes {
    /// The processes of the topology kept in `data_dir`.
    pub fn new(topology: Topology, data_dir: &ClusterDir) -> Self {
        Self {
            topology,
            log_dir: data_dir.file(ClusterFile::Logs),
        }
    }

    /// Starts or stops a site's standby app instances: through its
    /// configured command, or (sites `srs up` runs) by publishing the
    /// wish, which `srs up` follows.
    pub async fn scale(&self, name: &str, way: Scale) -> anyhow::Result<Option<String>> {
        let site = self
            .topology
            .site(name)
            .with_context(|| format!("no site named '{name}' in the topology"))?;
        let command = match way {
            Scale::Up => site.scale_up.as_deref(),
            Scale::Down => site.scale_down.as_deref(),
        };
        let Some(command) = command else {
            return Ok(site
                .is_local()
                .then(|| "srs up follows (ports in standby_app_ports)".to_owned()));
        };
        let _ = std::fs::create_dir_all(&self.log_dir);
        let run = tokio::process::Command::new("sh")
            .args(["-c", command])
            .env("SRS_SITE", name)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(SCALE_TIMEOUT, run)
            .await
            .with_context(|| {
                format!(
                    "site '{name}': the scale command did not finish within {} s",
                    SCALE_TIMEOUT.as_secs()
                )
            })?
            .with_context(|| format!("site '{name}': could not run the scale command"))?;
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        tracing::info!(site = name, status = %out.status, output = %output.trim(), "scale command ran");
        anyhow::ensure!(
            out.status.success(),
            "site '{name}': the scale command failed ({}): {}",
            out.status,
            output.trim()
        );
        Ok(Some(format!("scale command succeeded: {}", output.trim())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote_dr(scale_up: &str, scale_down: &str) -> Topology {
        let text = crate::topology::DEFAULT.replace(
            "db_host = \"127.0.0.1\"\ndb_port = 3408",
            &format!(
                "db_host = \"10.0.0.2\"\ndb_port = 3408\nscale_up = \"{scale_up}\"\nscale_down = \"{scale_down}\""
            ),
        );
        toml::from_str(&text).expect("topology")
    }

    #[tokio::test]
    async fn scale_commands_run_with_the_site_name_and_report_their_output() {
        let dir = tempfile::tempdir().expect("temp dir");
        let processes = Processes::new(
            remote_dr("echo starting $SRS_SITE", "echo no way >&2; exit 3"),
            &ClusterDir::new(dir.path()),
        );
        let up = processes.scale("dr", Scale::Up).await.expect("scaled up");
        assert_eq!(up.as_deref(), Some("scale command succeeded: starting dr"));
        let down = processes
            .scale("dr", Scale::Down)
            .await
            .expect_err("the command failed")
            .to_string();
        assert!(down.contains("failed") && down.contains("no way"), "{down}");
        // A site srs runs itself has no command: srs up follows the wish.
        let local = processes.scale("primary", Scale::Up).await.expect("local");
        assert!(local.is_some_and(|n| n.contains("srs up follows")));
    }
}
