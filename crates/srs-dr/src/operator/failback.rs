//! `srs failback`: brings the former primary back as a caught-up replica of
//! the new one. If it holds transactions the new primary lacks, they are
//! written to a file for review and the site is re-seeded from the primary
//! first. `srs switchover --to` it afterwards gives it its role back.

use crate::cluster_dir::ClusterDir;
use crate::controller::decide::errant;
use crate::controller::observe::{Observation, Observer, SiteObservation};
use crate::controller::published::Published;
use crate::operator::reseeding::{self, Phase};
use crate::reach::server_config;
use crate::secrets::Secrets;
use crate::topology::{Site, Topology};
use anyhow::Context;
use serde::Serialize;
use srs_domain::SiteName;
use srs_mariadb::reseed::{copy_databases, save_transactions, Endpoint};
use srs_mariadb::{Credentials, LocalServer};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long each wait of a failback may take.
const WAIT: Duration = Duration::from_secs(180);

/// What a failback did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The site brought back.
    pub site: SiteName,
    /// The primary it replicates from.
    pub primary: SiteName,
    /// Transactions it held that the primary lacked.
    pub errant_transactions: u64,
    /// Where they were written, when there were any.
    pub saved_to: Option<PathBuf>,
    /// Where its old data directory was set aside, when it was re-seeded.
    pub old_data: Option<PathBuf>,
    /// How long it took, s.
    pub seconds: f64,
}

/// Runs a failback on the topology in `data_dir`; `say` reports each step.
pub async fn failback(data_dir: &ClusterDir, say: impl Fn(&str)) -> anyhow::Result<Outcome> {
    let began = Instant::now();
    let crate::Cluster {
        topology, secrets, ..
    } = crate::Cluster::open(data_dir)?;
    let published = Published::read(data_dir)
        .context("the controller has not run on this topology; start `srs up` first")?;
    let primary = published.memory.primary.clone();
    let site = topology
        .sites
        .iter()
        .find(|s| s.name != primary)
        .context("the topology has no second site")?
        .clone();
    let observer = Observer::new(topology.clone(), secrets.clone(), data_dir)?;
    say(&format!(
        "site '{primary}' is primary; bringing site '{}' back as its replica",
        site.name
    ));
    let seen = both_up(&observer, &site.name, &primary).await?;
    let (Some(old), Some(new)) = (seen.site(&site.name), seen.site(&primary)) else {
        anyhow::bail!("a site is missing from the observation");
    };
    let count = errant(old, new);
    let mut outcome = Outcome {
        site: site.name.clone(),
        primary: primary.clone(),
        errant_transactions: count,
        saved_to: None,
        old_data: None,
        seconds: 0.0,
    };
    if count > 0 {
        anyhow::ensure!(
            site.is_local(),
            "site '{}' holds {count} transaction(s) site '{primary}' lacks; srs re-seeds only servers it runs. \
             Save them with mariadb-binlog --do-server-ids={}, rebuild that server from a dump of site '{primary}', and start it read-only",
            site.name,
            old.database.server_id
        );
        say(&format!(
            "site '{}' holds transactions site '{primary}' lacks (up to {count}): saving them, then re-seeding it",
            site.name
        ));
        let reseed = Reseed {
            data_dir,
            topology: &topology,
            secrets: &secrets,
            say: &say,
        };
        reseed.run(&site.name, old, new, &mut outcome).await?;
    }
    say("waiting for the controller to attach it as a replica and for it to catch up");
    caught_up(&observer, &site.name, &primary).await?;
    observer.close().await;
    outcome.seconds = began.elapsed().as_secs_f64();
    Ok(outcome)
}

/// A site's data replaced by a copy of the primary's, its errant
/// transactions saved first.
struct Reseed<'a, F: Fn(&str)> {
    data_dir: &'a ClusterDir,
    topology: &'a Topology,
    secrets: &'a Secrets,
    say: &'a F,
}

impl<F: Fn(&str)> Reseed<'_, F> {
    /// Saves site `name`'s errant transactions, replaces its data with a
    /// dump of the primary's (site `new.name`), and leaves it for the
    /// controller to attach.
    async fn run(
        &self,
        name: &SiteName,
        old: &SiteObservation,
        new: &SiteObservation,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let site = self.topology.site(name).context("no such site")?;
        let source = self.topology.site(&new.name).context("no such site")?;
        let config = server_config(self.topology, self.secrets, self.data_dir, site);
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let saved = self.data_dir.errant_file(name, &stamp);
        let start = crate::gtid::start_after(
            &new.database.gtid_binlog_state,
            old.database.server_id,
            &old.database.gtid_binlog_state,
        );
        let count = save_transactions(&config, old.database.server_id, &start, &saved).await?;
        (self.say)(&format!(
            "saved {count} transaction(s) to {} for review",
            saved.display()
        ));
        outcome.errant_transactions = count;
        outcome.saved_to = Some(saved);
        // Stop it and keep srs up from starting it while its data is replaced.
        reseeding::mark(self.data_dir, name, Phase::Stopped)?;
        let result = async {
            outcome.old_data = Some(self.set_aside(&config, name, &stamp).await?);
            LocalServer::new(config.clone())?.prepare().await?;
            reseeding::mark(self.data_dir, name, Phase::Loading)?;
            (self.say)("initialised a fresh data directory; waiting for srs up to start it");
            self.load(site, source).await
        }
        .await;
        reseeding::clear(self.data_dir, name);
        result
    }

    /// Stops the site's server and moves its data directory and binlogs
    /// (which hold the errant transactions too: a fresh server must not
    /// continue them) aside; returns where.
    async fn set_aside(
        &self,
        config: &srs_mariadb::ServerConfig,
        name: &SiteName,
        stamp: &str,
    ) -> anyhow::Result<PathBuf> {
        if config.kill_running() {
            (self.say)(&format!("stopped site '{name}''s server"));
        }
        for _ in 0..100 {
            if !config.is_running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::ensure!(!config.is_running(), "site '{name}''s server did not stop");
        let aside = config
            .data_dir()
            .with_file_name(format!("data.errant-{stamp}"));
        std::fs::rename(config.data_dir(), &aside)
            .with_context(|| format!("Failed to set {} aside", config.data_dir().display()))?;
        let binlogs = config.dir.join("binlog");
        std::fs::rename(&binlogs, aside.join("binlog"))
            .with_context(|| format!("Failed to set {} aside", binlogs.display()))?;
        (self.say)(&format!(
            "set its data directory and binlogs aside in {}",
            aside.display()
        ));
        Ok(aside)
    }

    /// Waits for srs up to start the fresh server, copies the primary's
    /// records into it and positions it to replicate from there.
    async fn load(&self, site: &Site, source: &Site) -> anyhow::Result<()> {
        let root = Credentials {
            user: "root".into(),
            password: self.secrets.root_password.clone(),
        };
        let began = Instant::now();
        while srs_mariadb::Admin::connect_tcp("127.0.0.1", site.db_port, &root)
            .await
            .is_err()
        {
            anyhow::ensure!(
                began.elapsed() < WAIT,
                "the fresh server did not start (is srs up running?)"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let from = Endpoint {
            host: source.db_host.clone(),
            port: source.db_port,
            account: Credentials {
                user: if source.is_local() {
                    "root".into()
                } else {
                    source.admin_user.clone()
                },
                password: self.secrets.root_password.clone(),
            },
        };
        let to = Endpoint {
            host: "127.0.0.1".into(),
            port: site.db_port,
            account: root.clone(),
        };
        (self.say)(&format!("copying the records from site '{}'", source.name));
        let position = copy_databases(&from, &to, &["srs"], |bytes| {
            (self.say)(&format!("  {:.1} MiB copied", bytes as f64 / 1_048_576.0));
        })
        .await?;
        let mut admin = srs_mariadb::Admin::connect_tcp("127.0.0.1", site.db_port, &root).await?;
        admin
            .exec(
                "positioning the replica",
                &format!(
                    "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL gtid_slave_pos = '{}';",
                    position.replace('\'', "")
                ),
            )
            .await?;
        admin.close().await;
        (self.say)(&format!("loaded; it continues from {position}"));
        Ok(())
    }
}

/// Observes until `ready` says yes, or `within` passes.
/// Waits until both sites' databases answer; returns what was seen then.
async fn both_up(
    observer: &Observer,
    site: &SiteName,
    primary: &SiteName,
) -> anyhow::Result<Observation> {
    wait_for(observer, WAIT, |o| {
        let s = o.site(site)?;
        (s.database.up && o.site(primary)?.database.up).then(|| o.clone())
    })
    .await
    .with_context(|| {
        format!(
            "site '{}''s database did not answer within {} s (srs up restarts a server it runs; start others read-only by hand)",
            site,
            WAIT.as_secs()
        )
    })
}

/// Waits until the controller has attached `site` as a replica of
/// `primary` and it is under 100 transactions behind.
async fn caught_up(observer: &Observer, site: &SiteName, primary: &SiteName) -> anyhow::Result<()> {
    wait_for(observer, WAIT, |o| {
        let lag = o.lag_transactions(primary, o.site(site)?)?;
        let replicating = o
            .site(site)?
            .database
            .replica
            .as_ref()
            .is_some_and(|r| r.io_running && r.sql_running);
        (replicating && lag < 100).then_some(())
    })
    .await
    .with_context(|| {
        format!(
            "site '{}' did not catch up within {} s; see `srs status`",
            site,
            WAIT.as_secs()
        )
    })
}

async fn wait_for<T>(
    observer: &Observer,
    within: Duration,
    mut ready: impl FnMut(&Observation) -> Option<T>,
) -> Option<T> {
    let began = Instant::now();
    while began.elapsed() < within {
        if let Some(found) = ready(&observer.observe().await) {
            return Some(found);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}
