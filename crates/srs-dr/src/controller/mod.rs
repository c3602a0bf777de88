//! `srs controller`: the DR brain. It observes every site, decides the one
//! next step (`decide`), acts on it through adapters, records every action
//! as an event and publishes its state; then observes again.

pub mod actuators;
pub mod admission;
pub mod connections;
pub mod decide;
pub mod exposition;
pub mod lock;
pub mod observe;
pub mod published;

use crate::cluster_dir::ClusterDir;
use crate::controller::actuators::{Databases, EdgeSwitch, Processes, Scale};
use crate::controller::admission::{Regulator, UNLIMITED};
use crate::controller::decide::{decide, ready, Decision, Memory, Policy};
use crate::controller::observe::{Observation, Observer};
use crate::controller::published::{
    now_text, primary_site, EventKind, EventLog, Published, QuorumState,
};
use crate::gtid;
use crate::operator::request::OperatorRequest;
use crate::quorum::{Leadership, PrimaryRecord, Quorum};
use crate::secrets::Secrets;
use crate::topology::Topology;
use anyhow::Context;
use exposition::Shared;
use srs_domain::SiteName;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

/// Steps taken back to back before the controller pauses anyway, so a
/// decision that never settles cannot spin.
const MAX_STEPS_WITHOUT_PAUSE: u32 = 20;

/// How often a controller candidate surveys the quorum for operators.
const SURVEY_INTERVAL: Duration = Duration::from_secs(1);

/// What the controller observes and acts on.
pub trait Plant {
    /// Reads every site and the edge; `down` names sites whose database
    /// is already counted down (a quick look is enough there).
    fn observe(&mut self, down: &BTreeSet<SiteName>) -> impl Future<Output = Observation>;
    /// Carries out an action (`Decision::is_action`); what it found worth
    /// saying beyond the decision itself, for the event.
    fn act(&mut self, decision: &Decision) -> impl Future<Output = anyhow::Result<Option<String>>>;
}

/// The real topology: MariaDB servers, the edge's admin endpoint and the
/// processes of each site, each behind its own adapter.
pub struct LiveTopology {
    data_dir: ClusterDir,
    observer: Observer,
    databases: Databases,
    edge: EdgeSwitch,
    processes: Processes,
}

impl LiveTopology {
    /// The topology kept in `data_dir`.
    pub fn new(
        topology: Topology,
        secrets: Secrets,
        data_dir: &ClusterDir,
    ) -> anyhow::Result<Self> {
        let observer =
            Observer::new(topology.clone(), secrets.clone(), data_dir)?.probe_apps_in_background();
        let databases = Databases::new(
            topology.clone(),
            secrets.clone(),
            data_dir,
            observer.connections(),
        );
        Ok(Self {
            data_dir: data_dir.to_owned(),
            observer,
            databases,
            edge: EdgeSwitch::new(&topology, &secrets)?,
            processes: Processes::new(topology, data_dir),
        })
    }
}

impl Plant for LiveTopology {
    async fn observe(&mut self, down: &BTreeSet<SiteName>) -> Observation {
        self.observer.observe_with(down).await
    }

    async fn act(&mut self, decision: &Decision) -> anyhow::Result<Option<String>> {
        match decision {
            Decision::Failover { from, .. } => {
                let note = self.databases.fence_if_reachable(from).await;
                OperatorRequest::clear(&self.data_dir);
                Ok(Some(note))
            }
            Decision::Switchover { from, to, .. } => {
                // Requests wait at the edge, not fail, while roles change.
                self.edge.hold().await?;
                let outcome = self.databases.hand_over(from, to).await;
                if outcome.is_err() {
                    // Back as it was: the old primary takes writes again.
                    let _ = self.databases.unfence(from).await;
                    let _ = self.edge.switch(from).await;
                }
                OperatorRequest::clear(&self.data_dir);
                outcome.map(Some)
            }
            Decision::Refuse { .. } => {
                OperatorRequest::clear(&self.data_dir);
                Ok(None)
            }
            Decision::Promote { site, epoch, alone } => {
                self.databases.promote(site, *epoch, *alone).await.map(Some)
            }
            Decision::Fence { site } => self.databases.fence(site).await.map(Some),
            Decision::Replicate {
                replica, primary, ..
            } => {
                self.databases.replicate(replica, primary).await?;
                Ok(None)
            }
            Decision::RestoreSync { site } => {
                self.databases.restore_sync(site).await?;
                Ok(None)
            }
            Decision::Detach { site } => {
                self.databases.detach(site).await?;
                Ok(None)
            }
            Decision::CreateAppAccount { site } => {
                self.databases.create_app_account(site).await?;
                Ok(None)
            }
            Decision::RecordEpoch { site, epoch } => {
                self.databases.record_epoch(site, *epoch).await?;
                Ok(None)
            }
            Decision::SwitchEdge { site } => {
                self.edge.switch(site).await?;
                Ok(None)
            }
            Decision::ScaleUp { site } => self.processes.scale(site, Scale::Up).await,
            Decision::ScaleDown { site } => self.processes.scale(site, Scale::Down).await,
            Decision::Steady | Decision::Raise(_) | Decision::Clear(_) => Ok(None),
        }
    }
}

/// The observe -> decide -> act loop over a plant.
pub struct Controller<P> {
    plant: P,
    quorum: Quorum,
    topology: Topology,
    memory: Memory,
    data_dir: ClusterDir,
    events: EventLog,
    last_failure: Option<String>,
    shared: Shared,
    regulator: Regulator,
    started: std::time::Instant,
    /// Whether it led at its last step (the survey task steers etcd only
    /// then).
    leading: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<P: Plant> Controller<P> {
    /// A controller of the topology in `data_dir`, leading through
    /// `quorum`, remembering what it published last (or starting with the
    /// site that is primary now).
    pub fn new(plant: P, quorum: Quorum, topology: Topology, data_dir: &ClusterDir) -> Self {
        let memory = Published::read(data_dir)
            .map(|p| p.memory)
            .filter(|m| topology.site(&m.primary).is_some())
            .unwrap_or_else(|| Memory::new(&primary_site(&topology, data_dir).name));
        Self {
            plant,
            quorum,
            memory,
            data_dir: data_dir.to_owned(),
            events: EventLog::new(data_dir),
            last_failure: None,
            shared: Shared::default(),
            regulator: Regulator::new(topology.apply_lag_budget_ms),
            started: std::time::Instant::now(),
            topology,
            leading: Default::default(),
        }
    }

    /// What its HTTP endpoint shows.
    pub fn shared(&self) -> Shared {
        self.shared.clone()
    }

    /// What it remembers now.
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    fn policy(&self) -> Policy {
        Policy {
            sync_mode: self.topology.sync_mode(),
            failure_threshold: self.topology.controller.failure_threshold,
            automatic: self.topology.controller.automatic,
            cooldown_ms: self.topology.controller.failover_cooldown_secs * 1000,
        }
    }

    /// The primary's database as its replica reaches it.
    fn primary_addr(&self) -> String {
        self.topology
            .site(&self.memory.primary)
            .map(|s| {
                let (host, port) = self.topology.db_reach(s);
                format!("{host}:{port}")
            })
            .unwrap_or_default()
    }

    /// Feeds the regulator the replica's applied count and lag; with
    /// admission turned off in the topology, writes are never limited.
    fn admission(&mut self, observation: &Observation) -> crate::controller::admission::Advice {
        if !self.topology.controller.admission {
            return crate::controller::admission::Advice {
                write_concurrency: UNLIMITED,
                ..self.regulator.advice()
            };
        }
        // Only a replica that is applying can be waited for.
        let replica = observation.sites.iter().find_map(|s| {
            let lag = observation.lag_transactions(&self.memory.primary, s)?;
            s.database
                .replica
                .as_ref()
                .is_some_and(|r| r.sql_running)
                .then(|| (gtid::distance(&s.database.current_pos(), ""), lag))
        });
        let (applied, lag) = replica.unzip();
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let before = self.regulator.advice().write_concurrency;
        let advice = self.regulator.update(now_ms, applied, lag);
        if advice.write_concurrency != before {
            tracing::info!(
                write_concurrency = advice.write_concurrency,
                lag_transactions = advice.lag_transactions,
                lag_seconds = advice.lag_seconds,
                "write admission changed"
            );
        }
        // Entering and leaving the throttled state are events; the steps
        // in between are in the log and the metrics.
        let lag_text = advice
            .lag_seconds
            .map(|s| format!("{s:.2} s"))
            .unwrap_or_else(|| "growing, not being applied".into());
        if before == UNLIMITED && advice.write_concurrency < UNLIMITED {
            self.events.record(
                self.memory.epoch,
                EventKind::WritesThrottled,
                &format!(
                    "writes throttled: the replica's apply backlog ({lag_text}) is over a quarter of the {:.1} s budget",
                    advice.budget_seconds
                ),
                None,
            );
        } else if before < UNLIMITED && advice.write_concurrency == UNLIMITED {
            self.events.record(
                self.memory.epoch,
                EventKind::WritesUnthrottled,
                &format!("writes unthrottled: the replica has caught up (apply lag {lag_text})"),
                None,
            );
        }
        advice
    }

    /// The primary epoch a decision moves to, when it moves it.
    fn moves_primary(&self, decision: &Decision) -> Option<PrimaryRecord> {
        match decision {
            Decision::Failover { to, epoch, .. } | Decision::Switchover { to, epoch, .. } => {
                Some(PrimaryRecord::new(to.clone(), *epoch))
            }
            Decision::Promote { site, epoch, .. } if *epoch > self.memory.epoch => {
                Some(PrimaryRecord::new(site.clone(), *epoch))
            }
            _ => None,
        }
    }

    /// Carries out an action, recording a change of primary in the quorum:
    /// a first promotion before the database is made writable; a failover
    /// or switchover after its fence held (if the record then fails, this
    /// controller was deposed, and the leader decides from what it sees).
    async fn act(&mut self, decision: &Decision) -> anyhow::Result<Option<String>> {
        let moved = self.moves_primary(decision);
        if let (Decision::Promote { .. }, Some(record)) = (decision, &moved) {
            self.quorum.record_primary(record).await?;
            return self.plant.act(decision).await;
        }
        let note = self.plant.act(decision).await?;
        let Some(record) = &moved else {
            return Ok(note);
        };
        // A switchover fenced the old primary's database and saw it hold; a
        // failover could not count on that: the old site's write lease must
        // have ended before the new primary is recorded.
        let fenced = matches!(decision, Decision::Switchover { .. });
        let (Decision::Failover { from, .. } | Decision::Switchover { from, .. }) = decision else {
            return Ok(note);
        };
        let released = self.quorum.release(from, fenced).await?;
        self.quorum.record_primary(record).await?;
        Ok(match (note, released) {
            (Some(n), Some(r)) => Some(format!("{n}; {r}")),
            (n, r) => n.or(r),
        })
    }

    /// Takes the quorum's record of the primary on taking the lead: a
    /// controller that led before, or never did, may remember an older one.
    async fn adopt_recorded_primary(&mut self) -> anyhow::Result<()> {
        let Some(record) = self.quorum.primary().await? else {
            return Ok(());
        };
        let what = if record.site == self.memory.primary && record.epoch == self.memory.epoch {
            format!(
                "leads the cluster ({}); it records {record}",
                self.quorum.kind()
            )
        } else {
            format!(
                "leads the cluster ({}); it records {record}, which replaces this controller's memory (site '{}', epoch {})",
                self.quorum.kind(),
                self.memory.primary,
                self.memory.epoch
            )
        };
        if self.topology.site(&record.site).is_none() {
            anyhow::bail!("the quorum names {record}, which this topology does not have");
        }
        self.memory.primary = record.site;
        self.memory.epoch = record.epoch;
        self.events
            .record(self.memory.epoch, EventKind::TookTheLead, &what, None);
        Ok(())
    }

    /// Its place in the quorum; remembers `leading` for the survey task.
    fn quorum_state(&self, leading: bool, leader: Option<String>) -> QuorumState {
        self.leading
            .store(leading, std::sync::atomic::Ordering::Relaxed);
        QuorumState {
            kind: self.quorum.kind().into(),
            leading,
            leader,
        }
    }

    /// Publishes a follower's state: it watches, the leader acts.
    fn follow(&mut self, leader: Option<String>) {
        let published = Published {
            memory: self.memory.clone(),
            ready: false,
            last_decision: match &leader {
                Some(l) => format!("following the leader, {l}"),
                None => "following: no leader can be reached".into(),
            },
            last_decision_kind: None,
            observed_at: now_text(),
            pid: std::process::id(),
            admission: None,
            quorum: Some(self.quorum_state(false, leader)),
        };
        self.shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .quorum
            .clone_from(&published.quorum);
        if let Err(e) = published.write(&self.data_dir) {
            tracing::error!(error = %e, "could not publish the controller's state");
        }
    }

    /// One observe -> decide -> act round; the decision and whether it was
    /// carried out. A controller that does not lead only watches.
    pub async fn step(&mut self) -> (Decision, bool) {
        if let Some(watched) = self.lead_or_watch().await {
            return watched;
        }
        self.regrant_primary().await;
        let down = self.memory.down(self.topology.controller.failure_threshold);
        let observation = self.plant.observe(&down).await;
        self.memory.note(&observation);
        let decision = decide(
            &observation,
            &self.memory,
            self.policy(),
            &self.primary_addr(),
            unix_ms(),
        );
        // The one line each cycle writes (debug: steady cycles are many).
        tracing::debug!(epoch = self.memory.epoch, decision = %decision, "cycle");
        let outcome = if decision.is_action() {
            self.act(&decision).await
        } else {
            Ok(None)
        };
        let done = self.record(&decision, outcome);
        let is_ready = ready(&observation, &self.memory);
        let advice = self.admission(&observation);
        // Under srs up its children are counted too; a controller run on
        // its own has none.
        let children = crate::supervisor::ChildInfo::read_all(&self.data_dir).unwrap_or_default();
        let backups = crate::backups::BackupState::read(&self.data_dir);
        let last_drill = crate::last_drill::LastDrill::read(&self.data_dir);
        {
            let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            let tally = if done {
                &mut s.steps
            } else {
                &mut s.failed_steps
            };
            *tally.entry(decision.kind()).or_insert(0) += 1;
            s.memory = Some(self.memory.clone());
            s.advice = Some(advice);
            s.ready = is_ready;
            s.observation = observation;
            s.children = children;
            s.backups = backups;
            s.last_drill = last_drill;
            s.quorum = Some(self.quorum_state(true, None));
        }
        let published = Published {
            memory: self.memory.clone(),
            ready: is_ready,
            last_decision: decision.to_string(),
            last_decision_kind: Some(decision.kind()),
            observed_at: now_text(),
            pid: std::process::id(),
            admission: Some(advice),
            quorum: Some(self.quorum_state(true, None)),
        };
        if let Err(e) = published.write(&self.data_dir) {
            tracing::error!(error = %e, "could not publish the controller's state");
        }
        (decision, done)
    }

    /// Takes (or keeps) the lead; a follower only watches, and a new
    /// leader that cannot read the recorded epoch does nothing this round:
    /// then the round's outcome, else None (lead and act).
    async fn lead_or_watch(&mut self) -> Option<(Decision, bool)> {
        match self.quorum.lead().await {
            Leadership::Following { leader } => {
                // A follower watches too: taking the lead, it already knows
                // how long the primary has failed its probes.
                let down = self.memory.down(self.topology.controller.failure_threshold);
                let observation = self.plant.observe(&down).await;
                self.memory.note(&observation);
                self.follow(leader);
                return Some((Decision::Steady, true));
            }
            Leadership::Leading { newly: true } => {
                if let Err(e) = self.adopt_recorded_primary().await {
                    let error = format!("{e:#}");
                    if self.last_failure.as_deref() != Some(error.as_str()) {
                        self.events.record(
                            self.memory.epoch,
                            EventKind::TookTheLead,
                            "read the recorded primary epoch",
                            Some(&error),
                        );
                        self.last_failure = Some(error);
                    }
                    return Some((Decision::Steady, false));
                }
            }
            Leadership::Leading { newly: false } => {}
        }
        None
    }

    /// Grants the primary's site its write lease again when it took a new
    /// one (after a pause or a cut), under the current epoch.
    async fn regrant_primary(&mut self) {
        match self.quorum.regrant(&self.memory.primary).await {
            Ok(Some(what)) => {
                self.events
                    .record(self.memory.epoch, EventKind::LeaseRegranted, &what, None)
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "could not check the primary site's lease")
            }
        }
    }

    /// Applies a carried-out decision to memory and records it as an
    /// event; a step that keeps failing the same way is one event. True
    /// when it was carried out.
    fn record(&mut self, decision: &Decision, outcome: anyhow::Result<Option<String>>) -> bool {
        match outcome {
            Ok(note) => {
                self.memory.apply(decision);
                if let Decision::Raise(alert) = &decision {
                    // Loud: operators must see this in any log view.
                    tracing::error!(epoch = self.memory.epoch, alert = %alert.key(), "ALERT: {alert}");
                }
                if *decision != Decision::Steady {
                    let what = match note {
                        Some(note) => format!("{decision}; {note}"),
                        None => decision.to_string(),
                    };
                    self.events.record(self.memory.epoch, decision, &what, None);
                }
                self.last_failure = None;
                true
            }
            Err(e) => {
                let error = format!("{e:#}");
                // A step that keeps failing is one event, not one per probe.
                if self.last_failure.as_deref() != Some(error.as_str()) {
                    self.events.record(
                        self.memory.epoch,
                        decision,
                        &decision.to_string(),
                        Some(&error),
                    );
                    self.last_failure = Some(error);
                }
                false
            }
        }
    }

    /// Runs until `shutdown`: acts step after step while there is something
    /// to do, probes again soon while something is suspect or a step
    /// failed, otherwise observes every probe interval.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let interval = Duration::from_millis(self.topology.controller.probe_interval_ms);
        let recheck = Duration::from_millis(self.topology.controller.recheck_interval_ms);
        self.events.record(
            self.memory.epoch,
            EventKind::ControllerStarted,
            &format!(
                "controller started; site '{}' is to be primary",
                self.memory.primary
            ),
            None,
        );
        let surveying = self.quorum.surveyor(&self.topology).map(|surveyor| {
            surveyor.spawn(SURVEY_INTERVAL, self.leading.clone(), self.data_dir.clone())
        });
        if let Some((last, _)) = &surveying {
            self.shared.lock().unwrap_or_else(|e| e.into_inner()).survey = Some(last.clone());
        }
        tokio::pin!(shutdown);
        let mut back_to_back = 0;
        loop {
            let (decision, done) = self.step().await;
            let again = done && decision != Decision::Steady;
            back_to_back = if again { back_to_back + 1 } else { 0 };
            let pause = if again && back_to_back < MAX_STEPS_WITHOUT_PAUSE {
                Duration::ZERO
            } else if !done || self.memory.suspects() {
                back_to_back = 0;
                recheck.min(interval)
            } else {
                back_to_back = 0;
                interval
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        if let Some((_, task)) = surveying {
            task.abort();
        }
        self.events.record(
            self.memory.epoch,
            EventKind::ControllerStopped,
            "controller stopped",
            None,
        );
    }
}

/// Now, in Unix milliseconds.
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How a controller names itself when not told: its host and process id.
pub fn default_candidate_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!(
        "controller pid {} on {}",
        std::process::id(),
        if host.is_empty() { "this host" } else { &host }
    )
}

/// Runs the controller of the topology in `data_dir` until `shutdown`;
/// `candidate` names it to the other candidates when a quorum is shared.
pub async fn run(
    data_dir: &ClusterDir,
    candidate: &str,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let crate::Cluster {
        topology, secrets, ..
    } = crate::Cluster::open(data_dir)?;
    // Two controllers deciding at once would fight: on one machine the
    // second refuses to start; across hosts only the elected one acts.
    let quorum = Quorum::for_topology(topology.quorum.as_ref(), data_dir, candidate)?;
    let plant = LiveTopology::new(topology.clone(), secrets, data_dir)?;
    let controller = Controller::new(plant, quorum, topology.clone(), data_dir);
    let Some(addr) = topology.controller.listen else {
        controller.run(shutdown).await;
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("controller.listen {addr}: cannot listen (is it in use?)"))?;
    tracing::info!(%addr, "controller endpoint: /healthz, /readyz, /metrics");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(exposition::serve(listener, controller.shared(), async {
        let _ = stopped.await;
    }));
    controller.run(shutdown).await;
    let _ = stop.send(());
    server
        .await
        .context("the controller endpoint task failed")?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_named(name: &str) -> SiteName {
        SiteName::parse(name).expect("a valid site name")
    }

    /// The decision without its clock reading (these tests run on the
    /// real clock).
    fn untimed(d: Decision) -> Decision {
        match d {
            Decision::Replicate {
                replica, primary, ..
            } => Decision::Replicate {
                replica,
                primary,
                at_ms: 0,
            },
            other => other,
        }
    }
    use crate::controller::decide::Alert;
    use crate::controller::observe::{DatabaseStatus, EdgeObservation, SiteObservation};
    use crate::controller::published::EventLog;
    use crate::quorum::elected::Keys;
    use crate::quorum::member::LocalEtcd;
    use crate::quorum::{EtcdQuorum, LocalQuorum};
    use crate::topology::QuorumSection;
    use srs_mariadb::{ReplicaStatus, SemiSync};

    /// Two databases and an edge in memory, as the real ones behave after
    /// `srs up` starts them: both read-only, nothing wired.
    struct Simulated {
        writable: [bool; 2],
        replicating: [bool; 2],
        app_account: bool,
        edge: Option<SiteName>,
        dr_up: bool,
        primary_up: bool,
        acts: Vec<Decision>,
        /// Transactions written on the primary and applied on the replica.
        written: u64,
        applied: u64,
        /// The epoch recorded in the data.
        epoch: u64,
    }

    const NAMES: [&str; 2] = ["primary", "dr"];

    impl Simulated {
        fn fresh() -> Self {
            Self {
                writable: [false, false],
                replicating: [false, false],
                app_account: false,
                edge: None,
                dr_up: true,
                primary_up: true,
                acts: Vec::new(),
                written: 0,
                applied: 0,
                epoch: 0,
            }
        }
    }

    fn index(site: &str) -> usize {
        NAMES.iter().position(|n| *n == site).unwrap_or(0)
    }

    impl Plant for Simulated {
        async fn observe(&mut self, _down: &BTreeSet<SiteName>) -> Observation {
            let clients = u64::from(self.dr_up && self.replicating[1]);
            let sites = (0..2)
                .map(|i| {
                    let up = if i == 0 { self.primary_up } else { self.dr_up };
                    SiteObservation {
                        name: site_named(NAMES[i]),
                        database: DatabaseStatus {
                            up,
                            read_only: !self.writable[i],
                            replica: self.replicating[i].then(|| ReplicaStatus {
                                io_running: true,
                                sql_running: true,
                                source: "127.0.0.1:3407".into(),
                                ..ReplicaStatus::default()
                            }),
                            semi_sync: SemiSync {
                                enabled: self.writable[i],
                                active: self.writable[i],
                                clients: if self.writable[i] { clients } else { 0 },
                            },
                            app_account: self.app_account,
                            epoch: self.epoch,
                            // With log-slave-updates a replica's binlog holds what it applied.
                            gtid_binlog_pos: format!(
                                "0-1-{}",
                                if i == 0 { self.written } else { self.applied }
                            ),
                            gtid_slave_pos: format!(
                                "0-1-{}",
                                if i == 0 { 0 } else { self.applied }
                            ),
                            ..DatabaseStatus::default()
                        },
                        apps_healthy: 0,
                        apps_total: 0,
                        standby_total: 0,
                        reseeding: false,
                    }
                })
                .collect();
            Observation {
                sites,
                edge: EdgeObservation {
                    up: true,
                    active: self.edge.clone(),
                    ..EdgeObservation::default()
                },
                requested: None,
            }
        }

        async fn act(&mut self, decision: &Decision) -> anyhow::Result<Option<String>> {
            self.acts.push(decision.clone());
            match decision {
                Decision::Promote { site, .. } => self.writable[index(site)] = true,
                Decision::Fence { site } => self.writable[index(site)] = false,
                Decision::Replicate { replica, .. } => self.replicating[index(replica)] = true,
                Decision::CreateAppAccount { .. } => self.app_account = true,
                Decision::RecordEpoch { epoch, .. } => self.epoch = *epoch,
                Decision::SwitchEdge { site } => self.edge = Some(site.clone()),
                _ => {}
            }
            Ok(None)
        }
    }

    fn topology() -> Topology {
        toml::from_str(crate::topology::DEFAULT).expect("default topology")
    }

    /// The two kinds of quorum every controller test runs on.
    const KINDS: [&str; 2] = ["local", "etcd"];

    /// A quorum of `kind` for the controller of `dir`: the lock file, or a
    /// real etcd (kept alive by the returned guard).
    async fn quorum(kind: &str, dir: &ClusterDir) -> (Quorum, Option<LocalEtcd>) {
        if kind == "local" {
            return (
                Quorum::Local(LocalQuorum::acquire(dir).expect("lock")),
                None,
            );
        }
        let etcd = LocalEtcd::start()
            .await
            .expect("etcd starts (apt-get install etcd-server)");
        let section = quorum_section(etcd.url());
        (
            Quorum::Etcd(Box::new(
                EtcdQuorum::new(&section, "test candidate").expect("etcd quorum"),
            )),
            Some(etcd),
        )
    }

    fn quorum_section(url: &str) -> QuorumSection {
        QuorumSection {
            etcd: vec![url.to_owned()],
            cluster: "test".into(),
            leader_ttl_secs: 1,
            write_lease_secs: 1,
        }
    }

    async fn wire(c: &mut Controller<Simulated>) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for _ in 0..10 {
            let (d, done) = c.step().await;
            assert!(done, "{d}");
            if d == Decision::Steady {
                break;
            }
            decisions.push(untimed(d));
        }
        decisions
    }

    fn actions(dir: &ClusterDir) -> Vec<crate::controller::published::Event> {
        EventLog::tail(dir, 50)
            .into_iter()
            .filter(|e| e.kind != EventKind::TookTheLead)
            .collect()
    }

    #[tokio::test]
    async fn a_fresh_topology_is_wired_in_order_then_steady() {
        for kind in KINDS {
            let tmp = tempfile::tempdir().expect("temp dir");
            let dir = ClusterDir::new(tmp.path());
            let (quorum, _etcd) = quorum(kind, &dir).await;
            let mut c = Controller::new(Simulated::fresh(), quorum, topology(), &dir);
            assert_eq!(
                wire(&mut c).await,
                vec![
                    Decision::Promote {
                        site: site_named("primary"),
                        epoch: 1,
                        alone: false,
                    },
                    Decision::Replicate {
                        replica: site_named("dr"),
                        primary: site_named("primary"),
                        at_ms: 0,
                    },
                    Decision::CreateAppAccount {
                        site: site_named("primary")
                    },
                    Decision::SwitchEdge {
                        site: site_named("primary")
                    },
                    Decision::RecordEpoch {
                        site: site_named("primary"),
                        epoch: 1
                    },
                ],
                "{kind}"
            );
            let published = Published::read(&dir).expect("published");
            assert!(published.ready, "{kind}");
            assert_eq!(published.memory.epoch, 1, "{kind}");
            let events = actions(&dir);
            assert_eq!(events.len(), 5, "{kind}: one event per action: {events:?}");
            assert!(events.iter().all(|e| e.ok && !e.at.is_empty()), "{kind}");
            if let Quorum::Etcd(q) = &mut c.quorum {
                assert_eq!(
                    q.primary().await.expect("read"),
                    Some(PrimaryRecord::new(site_named("primary"), 1)),
                    "the first promotion is recorded in etcd"
                );
            }
            drop(c);

            // A restarted controller remembers its epoch and primary.
            let quorum = match kind {
                "local" => Quorum::Local(LocalQuorum::acquire(&dir).expect("lock")),
                _ => Quorum::Etcd(Box::new(
                    EtcdQuorum::new(
                        &quorum_section(_etcd.as_ref().expect("etcd").url()),
                        "again",
                    )
                    .expect("etcd quorum"),
                )),
            };
            let again = Controller::new(Simulated::fresh(), quorum, topology(), &dir);
            assert_eq!(again.memory().epoch, 1, "{kind}");
            assert_eq!(again.memory().primary, "primary", "{kind}");
        }
    }

    #[tokio::test]
    async fn a_replica_outage_is_raised_once_and_cleared_when_it_returns() {
        for kind in KINDS {
            let tmp = tempfile::tempdir().expect("temp dir");
            let dir = ClusterDir::new(tmp.path());
            let (quorum, _etcd) = quorum(kind, &dir).await;
            let mut c = Controller::new(Simulated::fresh(), quorum, topology(), &dir);
            while c.step().await.0 != Decision::Steady {}
            c.plant.dr_up = false;
            c.plant.replicating[1] = false;
            let mut seen = Vec::new();
            for _ in 0..6 {
                seen.push(c.step().await.0);
            }
            let raised = Decision::Raise(Alert::ReplicaUnreachable {
                site: site_named("dr"),
                strict: true,
            });
            assert_eq!(
                seen.iter().filter(|d| **d == raised).count(),
                1,
                "{kind}: {seen:?}"
            );
            c.plant.dr_up = true;
            let mut back = Vec::new();
            for _ in 0..4 {
                back.push(untimed(c.step().await.0));
            }
            assert_eq!(
                back[0],
                Decision::Replicate {
                    replica: site_named("dr"),
                    primary: site_named("primary"),
                    at_ms: 0,
                },
                "{kind}: replication restarted after the replica came back"
            );
            assert!(back.contains(&Decision::Clear(Alert::ReplicaUnreachable {
                site: site_named("dr"),
                strict: true
            })));
            assert!(c.memory().alerts.is_empty(), "{kind}");
        }
    }

    #[tokio::test]
    async fn a_backlog_nobody_applies_throttles_writes_until_the_replica_catches_up() {
        for kind in KINDS {
            let tmp = tempfile::tempdir().expect("temp dir");
            let dir = ClusterDir::new(tmp.path());
            let (quorum, _etcd) = quorum(kind, &dir).await;
            let mut c = Controller::new(Simulated::fresh(), quorum, topology(), &dir);
            while c.step().await.0 != Decision::Steady {}
            c.plant.written = 1_000;
            c.step().await;
            let advice = c.shared().lock().expect("lock").advice.expect("advice");
            assert!(advice.write_concurrency < UNLIMITED, "{kind}: {advice:?}");
            c.plant.applied = 1_000;
            for _ in 0..40 {
                c.step().await;
            }
            let advice = c.shared().lock().expect("lock").advice.expect("advice");
            assert_eq!(advice.write_concurrency, UNLIMITED, "{kind}");
            let events: Vec<String> = EventLog::tail(&dir, 20)
                .into_iter()
                .map(|e| e.what)
                .collect();
            let throttled = events
                .iter()
                .position(|e| e.starts_with("writes throttled"));
            let unthrottled = events
                .iter()
                .position(|e| e.starts_with("writes unthrottled"));
            assert!(
                matches!((throttled, unthrottled), (Some(a), Some(b)) if a < b),
                "{kind}: {events:?}"
            );
        }
    }

    /// The primary is killed: the failover's new epoch is recorded in the
    /// quorum, on both kinds.
    #[tokio::test]
    async fn a_failover_moves_the_recorded_epoch() {
        for kind in KINDS {
            let tmp = tempfile::tempdir().expect("temp dir");
            let dir = ClusterDir::new(tmp.path());
            let (quorum, _etcd) = quorum(kind, &dir).await;
            let mut c = Controller::new(Simulated::fresh(), quorum, topology(), &dir);
            while c.step().await.0 != Decision::Steady {}
            c.plant.primary_up = false;
            c.plant.replicating[1] = false;
            let mut decisions = Vec::new();
            for _ in 0..20 {
                let (d, done) = c.step().await;
                assert!(done, "{kind}: {d}");
                if matches!(d, Decision::Promote { .. }) {
                    decisions.push(d);
                    break;
                }
                decisions.push(d);
            }
            assert!(
                decisions
                    .iter()
                    .any(|d| matches!(d, Decision::Failover { to, epoch: 2, .. } if *to == "dr")),
                "{kind}: {decisions:?}"
            );
            assert_eq!(c.memory().primary, "dr", "{kind}");
            assert_eq!(c.memory().epoch, 2, "{kind}");
            if let Quorum::Etcd(q) = &mut c.quorum {
                assert_eq!(
                    q.primary().await.expect("read"),
                    Some(PrimaryRecord::new(site_named("dr"), 2))
                );
            }
        }
    }

    /// Two candidates on one etcd: one leads and wires the topology, the
    /// other only watches; when the leader dies (its lease is left to run
    /// out) the other takes the lead, adopts the recorded epoch and carries
    /// on from what it sees.
    #[tokio::test]
    async fn a_follower_takes_over_with_the_recorded_epoch_when_the_leader_dies() {
        let etcd = LocalEtcd::start().await.expect("etcd starts");
        let section = quorum_section(etcd.url());
        let (tmp_a, tmp_b) = (
            tempfile::tempdir().expect("temp dir"),
            tempfile::tempdir().expect("temp dir"),
        );
        let (dir_a, dir_b) = (ClusterDir::new(tmp_a.path()), ClusterDir::new(tmp_b.path()));
        let mut a = Controller::new(
            Simulated::fresh(),
            Quorum::Etcd(Box::new(
                EtcdQuorum::new(&section, "candidate a").expect("quorum"),
            )),
            topology(),
            &dir_a,
        );
        let mut b = Controller::new(
            Simulated::fresh(),
            Quorum::Etcd(Box::new(
                EtcdQuorum::new(&section, "candidate b").expect("quorum"),
            )),
            topology(),
            &dir_b,
        );
        wire(&mut a).await;
        assert_eq!(b.step().await, (Decision::Steady, true));
        assert!(b.plant.acts.is_empty(), "a follower never acts");
        let follower = Published::read(&dir_b).expect("published");
        assert_eq!(
            follower.quorum.and_then(|q| q.leader).as_deref(),
            Some("candidate a")
        );
        // The world as a left it: primary writable, dr replicating.
        let mut world = Simulated::fresh();
        world.writable = a.plant.writable;
        world.replicating = a.plant.replicating;
        world.app_account = true;
        world.edge = a.plant.edge.clone();
        world.epoch = 1;
        b.plant = world;
        drop(a);
        let started = std::time::Instant::now();
        while b.step().await.0 == Decision::Steady && b.plant.acts.is_empty() {
            let published = Published::read(&dir_b).expect("published");
            if published.quorum.is_some_and(|q| q.leading) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "b never took the lead"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "not before a's lease ran out"
        );
        assert_eq!(b.memory().epoch, 1);
        assert_eq!(b.memory().primary, "primary");
        assert!(
            EventLog::tail(&dir_b, 5)
                .iter()
                .any(|e| e.kind == EventKind::TookTheLead
                    && e.what.contains(
                        "leads the cluster (etcd); it records site 'primary' in epoch 1"
                    )),
            "{:?}",
            EventLog::tail(&dir_b, 5)
        );
        for _ in 0..3 {
            assert_eq!(b.step().await.0, Decision::Steady);
        }
        assert!(
            b.plant.acts.is_empty(),
            "nothing to redo: {:?}",
            b.plant.acts
        );
    }

    /// A leader whose lease was lost while it was busy cannot move the
    /// epoch: etcd compares the leader key's lease with its own.
    #[tokio::test]
    async fn a_deposed_leader_cannot_move_the_epoch() {
        let etcd = LocalEtcd::start().await.expect("etcd starts");
        let section = quorum_section(etcd.url());
        let mut a = EtcdQuorum::new(&section, "a").expect("quorum");
        let mut b = EtcdQuorum::new(&section, "b").expect("quorum");
        assert_eq!(a.lead().await, Leadership::Leading { newly: true });
        let first = PrimaryRecord::new(site_named("primary"), 1);
        a.record_primary(&first).await.expect("the leader records");
        assert_eq!(
            b.lead().await,
            Leadership::Following {
                leader: Some("a".into())
            }
        );
        let err = b
            .record_primary(&PrimaryRecord::new(site_named("dr"), 2))
            .await
            .expect_err("a follower cannot record");
        assert!(err.to_string().contains("no longer leads"), "{err}");
        // a's lease is revoked behind its back (as if it ran out while a
        // was paused); b takes the lead and moves the epoch.
        let leader = a
            .etcd()
            .get(&Keys::new("test").leader())
            .await
            .expect("read");
        let lease = leader.and_then(|kv| kv.lease).expect("on a lease");
        a.etcd().revoke(lease).await.expect("revoke");
        assert_eq!(b.lead().await, Leadership::Leading { newly: true });
        assert_eq!(b.primary().await.expect("read"), Some(first));
        let second = PrimaryRecord::new(site_named("dr"), 2);
        b.record_primary(&second)
            .await
            .expect("the new leader records");
        let err = a
            .record_primary(&PrimaryRecord::new(site_named("primary"), 2))
            .await
            .expect_err("the deposed leader is refused");
        assert!(err.to_string().contains("site 'dr' in epoch 2"), "{err}");
        assert_eq!(b.primary().await.expect("read"), Some(second));
    }
}
