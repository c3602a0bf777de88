//! The controller's judgement: from what it observed and what it
//! remembers, the one next step. Pure (no I/O, no clock of its own), so
//! every rule is a row in a table test.

use crate::controller::observe::{Observation, SiteObservation};
use crate::gtid;
use crate::operator::request::OperatorRequest;
use serde::{Deserialize, Serialize};
use srs_domain::SiteName;
use srs_mariadb::SyncMode;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Something an operator must know about that the controller does not
/// repair on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// The primary's database failed `probes` probes in a row.
    PrimaryUnreachable {
        /// The site.
        site: SiteName,
    },
    /// The replica's database failed its probes.
    ReplicaUnreachable {
        /// The site.
        site: SiteName,
        /// Strict mode: the primary cannot commit meanwhile.
        strict: bool,
    },
    /// Replication stopped with an error the controller does not repair.
    ReplicationBroken {
        /// The replica's site.
        site: SiteName,
        /// What the replica says.
        error: String,
    },
    /// Bounded mode gave up waiting for the replica: commits are
    /// acknowledged without it until it catches up.
    SemiSyncFallback {
        /// The primary's site.
        site: SiteName,
    },
    /// The edge stopped answering on its admin address.
    EdgeUnreachable,
    /// The site to promote lacks transactions the other site has.
    PromotionRefused {
        /// The site that was to be promoted.
        site: SiteName,
        /// The site holding more.
        ahead: SiteName,
    },
    /// A primary without a replica: commits no longer wait for one (the
    /// degraded mode after a failover) until a replica is back.
    RunningWithoutReplica {
        /// The primary's site.
        site: SiteName,
    },
    /// The primary is down but the controller will not fail over on its
    /// own (automation off, cool-down, no healthy replica).
    FailoverHeld {
        /// The primary's site.
        site: SiteName,
        /// Why not.
        reason: String,
    },
    /// A former primary holds transactions the primary lacks: it stays
    /// fenced until `srs failback` deals with them.
    ErrantTransactions {
        /// The site holding them.
        site: SiteName,
        /// How many at most (GTID sequence numbers past what the primary
        /// has of it; `srs failback` counts them exactly).
        count: u64,
    },
}

/// What kind of condition an alert reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertKind {
    /// The primary's database fails its probes.
    PrimaryUnreachable,
    /// The replica's database fails its probes.
    ReplicaUnreachable,
    /// Replication stopped with an error.
    ReplicationBroken,
    /// Bounded mode stopped waiting for the replica.
    SemiSyncFallback,
    /// The edge does not answer.
    EdgeUnreachable,
    /// A promotion was refused: the site lacks transactions.
    PromotionRefused,
    /// A primary runs without a replica.
    RunningWithoutReplica,
    /// A failover is held back.
    FailoverHeld,
    /// A former primary holds errant transactions.
    ErrantTransactions,
}

impl AlertKind {
    const ALL: [AlertKind; 9] = [
        AlertKind::PrimaryUnreachable,
        AlertKind::ReplicaUnreachable,
        AlertKind::ReplicationBroken,
        AlertKind::SemiSyncFallback,
        AlertKind::EdgeUnreachable,
        AlertKind::PromotionRefused,
        AlertKind::RunningWithoutReplica,
        AlertKind::FailoverHeld,
        AlertKind::ErrantTransactions,
    ];

    /// Its name in keys and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::PrimaryUnreachable => "primary-unreachable",
            AlertKind::ReplicaUnreachable => "replica-unreachable",
            AlertKind::ReplicationBroken => "replication-broken",
            AlertKind::SemiSyncFallback => "semi-sync-fallback",
            AlertKind::EdgeUnreachable => "edge-unreachable",
            AlertKind::PromotionRefused => "promotion-refused",
            AlertKind::RunningWithoutReplica => "running-without-replica",
            AlertKind::FailoverHeld => "failover-held",
            AlertKind::ErrantTransactions => "errant-transactions",
        }
    }
}

/// What identifies an alert's condition: its kind and site (the same
/// alert with a new error text is not a new alert). Written as
/// `kind:site` in `controller.json`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertKey {
    /// The condition.
    pub kind: AlertKind,
    /// The site it is about (none for the edge).
    pub site: Option<SiteName>,
}

impl fmt::Display for AlertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.site {
            Some(site) => write!(f, "{}:{site}", self.kind.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

impl std::str::FromStr for AlertKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, site) = match text.split_once(':') {
            Some((kind, site)) => (kind, Some(site)),
            None => (text, None),
        };
        let kind = AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| format!("'{kind}' is not an alert"))?;
        let site = site
            .map(SiteName::parse)
            .transpose()
            .map_err(|e| format!("alert '{text}': {e}"))?;
        Ok(Self { kind, site })
    }
}

impl Serialize for AlertKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AlertKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Alert {
    /// What identifies the condition.
    pub fn key(&self) -> AlertKey {
        let (kind, site) = match self {
            Alert::PrimaryUnreachable { site } => (AlertKind::PrimaryUnreachable, Some(site)),
            Alert::ReplicaUnreachable { site, .. } => (AlertKind::ReplicaUnreachable, Some(site)),
            Alert::ReplicationBroken { site, .. } => (AlertKind::ReplicationBroken, Some(site)),
            Alert::SemiSyncFallback { site } => (AlertKind::SemiSyncFallback, Some(site)),
            Alert::EdgeUnreachable => (AlertKind::EdgeUnreachable, None),
            Alert::PromotionRefused { site, .. } => (AlertKind::PromotionRefused, Some(site)),
            Alert::RunningWithoutReplica { site } => (AlertKind::RunningWithoutReplica, Some(site)),
            Alert::FailoverHeld { site, .. } => (AlertKind::FailoverHeld, Some(site)),
            Alert::ErrantTransactions { site, .. } => (AlertKind::ErrantTransactions, Some(site)),
        };
        AlertKey {
            kind,
            site: site.cloned(),
        }
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Alert::PrimaryUnreachable { site } => write!(
                f,
                "the primary database at site '{site}' does not answer; writes fail until it is back"
            ),
            Alert::ReplicaUnreachable { site, strict: true } => write!(
                f,
                "the replica database at site '{site}' does not answer; in strict mode writes wait and fail with 503 until it is back"
            ),
            Alert::ReplicaUnreachable { site, strict: false } => write!(
                f,
                "the replica database at site '{site}' does not answer; new writes exist only on the primary"
            ),
            Alert::ReplicationBroken { site, error } => {
                write!(f, "replication to site '{site}' stopped: {error}")
            }
            Alert::SemiSyncFallback { site } => write!(
                f,
                "SEMI-SYNC FELL BACK TO ASYNCHRONOUS at site '{site}': acknowledged writes may exist only on the primary until the replica catches up"
            ),
            Alert::EdgeUnreachable => f.write_str("the edge does not answer on its admin address"),
            Alert::PromotionRefused { site, ahead } => write!(
                f,
                "not promoting site '{site}': site '{ahead}' holds transactions it lacks"
            ),
            Alert::RunningWithoutReplica { site } => write!(
                f,
                "RUNNING WITHOUT A REPLICA at site '{site}': commits do not wait for a second copy until a replica is back"
            ),
            Alert::FailoverHeld { site, reason } => write!(
                f,
                "the primary at site '{site}' is down and no automatic failover happens: {reason}; `srs failover --yes` promotes the other site"
            ),
            Alert::ErrantTransactions { site, count } => write!(
                f,
                "site '{site}' holds up to {count} transaction(s) the primary lacks: it stays fenced; `srs failback` saves them and re-seeds it"
            ),
        }
    }
}

/// The one next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Everything is as it should be (alerts may still stand).
    Steady,
    /// The primary is gone: make `to` the primary from now on, fencing
    /// `from` where it can still be reached. Promotion follows.
    Failover {
        /// The failed primary.
        from: SiteName,
        /// The replica taking over.
        to: SiteName,
        /// The new epoch.
        epoch: u64,
        /// When it was decided (Unix ms), for the cool-down.
        at_ms: u64,
        /// What showed the primary failed.
        reason: String,
    },
    /// Planned change of primary: hold the edge, fence `from`, wait until
    /// `to` has everything `from` wrote; promotion follows.
    Switchover {
        /// The primary now.
        from: SiteName,
        /// The site to become primary.
        to: SiteName,
        /// The new epoch.
        epoch: u64,
    },
    /// An operator's request that cannot be carried out now.
    Refuse {
        /// What was asked.
        request: OperatorRequest,
        /// Why not.
        reason: String,
    },
    /// Make `site` the writable primary, with semi-sync as configured;
    /// it first applies everything it received as a replica.
    Promote {
        /// The site.
        site: SiteName,
        /// The epoch it is primary in.
        epoch: u64,
        /// No other site is up: commits must not wait for a replica.
        alone: bool,
    },
    /// The primary still has replication settings from before its
    /// promotion (its receiver was stuck on a vanished source): clear them.
    Detach {
        /// The primary's site.
        site: SiteName,
    },
    /// A replica is back and caught up: commits wait for it again.
    RestoreSync {
        /// The primary's site.
        site: SiteName,
    },
    /// Start the standby app instances of the new primary's site.
    ScaleUp {
        /// The site.
        site: SiteName,
    },
    /// Stop the standby app instances of a site that is no longer primary.
    ScaleDown {
        /// The site.
        site: SiteName,
    },
    /// Make `site` read-only: it is not the primary.
    Fence {
        /// The site.
        site: SiteName,
    },
    /// Point `replica` at `primary` and start replicating. The step
    /// returns once replication is started; the loop watches the threads
    /// come up (for `REPLICATION_START_MS`) rather than waiting in the step.
    Replicate {
        /// The replica's site.
        replica: SiteName,
        /// The primary's site.
        primary: SiteName,
        /// When it was decided (Unix ms).
        at_ms: u64,
    },
    /// Record the primary's epoch in its data (it replicates).
    RecordEpoch {
        /// The primary's site.
        site: SiteName,
        /// Its epoch.
        epoch: u64,
    },
    /// Create the database and the application's account on the primary.
    CreateAppAccount {
        /// The primary's site.
        site: SiteName,
    },
    /// Route the edge to `site`.
    SwitchEdge {
        /// The site.
        site: SiteName,
    },
    /// A condition operators must know about began.
    Raise(Alert),
    /// A condition ended.
    Clear(Alert),
}

/// What kind of step a [`Decision`] is: for metrics, events and any code
/// that must tell steps apart (their `Display` is for people only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Nothing to do.
    Steady,
    /// Make a replica primary because the primary failed.
    Failover,
    /// Make a site the writable primary.
    Promote,
    /// Move the primary as an operator asked, nothing lost.
    Switchover,
    /// Refuse an operator's request.
    Refuse,
    /// Commits wait for a replica again.
    RestoreSync,
    /// Clear replication settings kept from before a promotion.
    Detach,
    /// Start a site's standby app instances.
    ScaleUp,
    /// Stop a site's app instances.
    ScaleDown,
    /// Make a site's database read-only.
    Fence,
    /// Make a site replicate from the primary.
    Replicate,
    /// Create the application's account on the primary.
    CreateAppAccount,
    /// Record the epoch in a site's data.
    RecordEpoch,
    /// Route the edge to a site.
    SwitchEdge,
    /// An alert began.
    Raise,
    /// An alert ended.
    Clear,
}

impl DecisionKind {
    /// Its metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Steady => "steady",
            DecisionKind::Failover => "failover",
            DecisionKind::Promote => "promote",
            DecisionKind::Switchover => "switchover",
            DecisionKind::Refuse => "refuse",
            DecisionKind::RestoreSync => "restore_sync",
            DecisionKind::Detach => "detach",
            DecisionKind::ScaleUp => "scale_up",
            DecisionKind::ScaleDown => "scale_down",
            DecisionKind::Fence => "fence",
            DecisionKind::Replicate => "replicate",
            DecisionKind::CreateAppAccount => "create_app_account",
            DecisionKind::RecordEpoch => "record_epoch",
            DecisionKind::SwitchEdge => "switch_edge",
            DecisionKind::Raise => "raise",
            DecisionKind::Clear => "clear",
        }
    }
}

impl Decision {
    /// What kind of step it is.
    pub fn kind(&self) -> DecisionKind {
        match self {
            Decision::Steady => DecisionKind::Steady,
            Decision::Failover { .. } => DecisionKind::Failover,
            Decision::Promote { .. } => DecisionKind::Promote,
            Decision::Switchover { .. } => DecisionKind::Switchover,
            Decision::Refuse { .. } => DecisionKind::Refuse,
            Decision::RestoreSync { .. } => DecisionKind::RestoreSync,
            Decision::Detach { .. } => DecisionKind::Detach,
            Decision::ScaleUp { .. } => DecisionKind::ScaleUp,
            Decision::ScaleDown { .. } => DecisionKind::ScaleDown,
            Decision::Fence { .. } => DecisionKind::Fence,
            Decision::Replicate { .. } => DecisionKind::Replicate,
            Decision::CreateAppAccount { .. } => DecisionKind::CreateAppAccount,
            Decision::RecordEpoch { .. } => DecisionKind::RecordEpoch,
            Decision::SwitchEdge { .. } => DecisionKind::SwitchEdge,
            Decision::Raise(_) => DecisionKind::Raise,
            Decision::Clear(_) => DecisionKind::Clear,
        }
    }

    /// Whether it changes the topology (rather than reports on it).
    pub fn is_action(&self) -> bool {
        !matches!(
            self,
            Decision::Steady | Decision::Raise(_) | Decision::Clear(_)
        )
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Steady => f.write_str("steady"),
            Decision::Failover {
                from,
                to,
                epoch,
                reason,
                ..
            } => write!(
                f,
                "fail over from site '{from}' to site '{to}' (epoch {epoch}): {reason}"
            ),
            Decision::Promote {
                site,
                epoch,
                alone: false,
            } => write!(f, "promote site '{site}' to primary (epoch {epoch})"),
            Decision::Promote {
                site,
                epoch,
                alone: true,
            } => write!(
                f,
                "promote site '{site}' to primary (epoch {epoch}) without a replica: commits do not wait for one"
            ),
            Decision::Switchover { from, to, epoch } => write!(
                f,
                "switch over from site '{from}' to site '{to}' (epoch {epoch}), as an operator asked"
            ),
            Decision::Refuse { request, reason } => {
                write!(f, "refused the operator's {request}: {reason}")
            }
            Decision::Detach { site } => write!(
                f,
                "clear the replication settings site '{site}' kept from before its promotion"
            ),
            Decision::RestoreSync { site } => write!(
                f,
                "a replica of site '{site}' is back and caught up: commits wait for it again"
            ),
            Decision::ScaleUp { site } => {
                write!(f, "start the standby app instances of site '{site}'")
            }
            Decision::ScaleDown { site } => {
                write!(f, "stop the standby app instances of site '{site}'")
            }
            Decision::Fence { site } => write!(f, "fence site '{site}' (read_only)"),
            Decision::Replicate {
                replica, primary, ..
            } => {
                write!(f, "make site '{replica}' replicate from site '{primary}'")
            }
            Decision::RecordEpoch { site, epoch } => {
                write!(f, "record epoch {epoch} in site '{site}''s data")
            }
            Decision::CreateAppAccount { site } => {
                write!(f, "create the application account at site '{site}'")
            }
            Decision::SwitchEdge { site } => write!(f, "route the edge to site '{site}'"),
            Decision::Raise(alert) => write!(f, "alert: {alert}"),
            Decision::Clear(alert) => write!(f, "cleared: {alert}"),
        }
    }
}

/// A part of the topology the controller probes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    /// A site's database.
    Database(SiteName),
    /// The edge's admin endpoint.
    Edge,
}

/// What the controller keeps between observations (and across restarts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Rises each time the primary changes; 0 before the first promotion.
    pub epoch: u64,
    /// The site that is, or is to be, primary.
    pub primary: SiteName,
    /// Standing alerts by key.
    #[serde(default)]
    pub alerts: BTreeMap<AlertKey, Alert>,
    /// When the last automatic failover was decided (Unix ms): none back
    /// within the cool-down unless an operator acts.
    #[serde(default)]
    pub last_failover_ms: Option<u64>,
    /// The replica whose replication was last started, and when (Unix
    /// ms): it is given time to connect before being started again.
    #[serde(default)]
    pub replication_started: Option<(SiteName, u64)>,
    /// Sites whose standby app instances run (started on promotion).
    #[serde(default)]
    pub standby_running: BTreeSet<SiteName>,
    /// Consecutive failed probes by component; this process's own
    /// observations, not kept across restarts.
    #[serde(skip)]
    pub failures: BTreeMap<Component, u32>,
    /// The edge has answered this process at least once (an edge not yet
    /// started is not down).
    #[serde(skip)]
    pub edge_seen: bool,
}

impl Memory {
    /// A fresh memory with `primary` to be made primary.
    pub fn new(primary: &SiteName) -> Self {
        Self {
            epoch: 0,
            primary: primary.clone(),
            alerts: BTreeMap::new(),
            last_failover_ms: None,
            replication_started: None,
            standby_running: BTreeSet::new(),
            failures: BTreeMap::new(),
            edge_seen: false,
        }
    }

    /// Counts failed probes from one observation.
    pub fn note(&mut self, observation: &Observation) {
        // A started replication is done once its threads run, and moot
        // once its server went down (it must be started again when back).
        if let Some((name, _)) = &self.replication_started {
            let settled = observation.site(name).is_none_or(|s| {
                !s.database.up
                    || s.database
                        .replica
                        .as_ref()
                        .is_some_and(|r| r.io_running && r.sql_running)
            });
            if settled {
                self.replication_started = None;
            }
        }
        for site in &observation.sites {
            self.count(Component::Database(site.name.clone()), site.database.up);
        }
        self.count(Component::Edge, observation.edge.up);
        self.edge_seen |= observation.edge.up;
    }

    fn count(&mut self, component: Component, up: bool) {
        if up {
            self.failures.remove(&component);
        } else {
            *self.failures.entry(component).or_insert(0) += 1;
        }
    }

    fn failures_of(&self, component: &Component) -> u32 {
        self.failures.get(component).copied().unwrap_or(0)
    }

    fn failed(&self, component: &Component, threshold: u32) -> bool {
        self.failures_of(component) >= threshold
    }

    /// Sites whose database is counted down.
    pub fn down(&self, threshold: u32) -> BTreeSet<SiteName> {
        self.failures
            .iter()
            .filter(|(_, n)| **n >= threshold)
            .filter_map(|(c, _)| match c {
                Component::Database(site) => Some(site.clone()),
                Component::Edge => None,
            })
            .collect()
    }

    /// Some component failed its last probe but is not yet counted down:
    /// probe again soon rather than after a whole interval.
    pub fn suspects(&self) -> bool {
        !self.failures.is_empty()
    }

    /// Takes in a step that succeeded.
    pub fn apply(&mut self, decision: &Decision) {
        match decision {
            Decision::Failover {
                to, epoch, at_ms, ..
            } => {
                self.primary.clone_from(to);
                self.epoch = *epoch;
                self.last_failover_ms = Some(*at_ms);
            }
            Decision::Promote { site, epoch, .. } => {
                self.primary.clone_from(site);
                self.epoch = *epoch;
            }
            Decision::Switchover { to, epoch, .. } => {
                self.primary.clone_from(to);
                self.epoch = *epoch;
                // An operator restored a known state: automation guards it again.
                self.last_failover_ms = None;
            }
            Decision::ScaleUp { site } => {
                self.standby_running.insert(site.clone());
            }
            Decision::Replicate { replica, at_ms, .. } => {
                self.replication_started = Some((replica.clone(), *at_ms));
            }
            Decision::ScaleDown { site } => {
                self.standby_running.remove(site);
            }
            Decision::Raise(alert) => {
                self.alerts.insert(alert.key(), alert.clone());
            }
            Decision::Clear(alert) => {
                self.alerts.remove(&alert.key());
            }
            _ => {}
        }
    }
}

/// The settings decisions depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How commits wait for the replica.
    pub sync_mode: SyncMode,
    /// Consecutive failed probes before a component counts as down.
    pub failure_threshold: u32,
    /// Whether the controller fails over on its own.
    pub automatic: bool,
    /// No automatic failover within this long of the last one, ms.
    pub cooldown_ms: u64,
}

/// Transactions a replica may still have to receive for commits to wait
/// for it again without a long stall.
const CAUGHT_UP_TRANSACTIONS: u64 = 50;

/// Whether `site`'s database is the replica it should be of `primary`.
fn replicates_from(site: &SiteObservation, primary_addr: &str) -> bool {
    site.database.replica.as_ref().is_some_and(|r| {
        r.source == primary_addr && (r.io_running || r.io_connecting) && r.sql_running
    })
}

/// How long a replica whose replication was just started is given to
/// connect and run before it is started again.
pub const REPLICATION_START_MS: u64 = 5_000;

/// Replication that stopped with an error, as the replica reports it.
fn broken(site: &SiteObservation) -> Option<String> {
    let r = site.database.replica.as_ref()?;
    let io = (!r.io_running && !r.io_connecting && !r.last_io_error.is_empty())
        .then(|| r.last_io_error.clone());
    let sql = (!r.sql_running && !r.last_sql_error.is_empty()).then(|| r.last_sql_error.clone());
    match (io, sql) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

/// Transactions `site` originated that `primary` lacks: written on a
/// former primary after the other site stopped receiving from it.
pub fn errant(site: &SiteObservation, primary: &SiteObservation) -> u64 {
    // What the primary holds: its binlog's state, and what it applied as a
    // replica (a re-seeded server knows the history only as a position).
    let holds = format!(
        "{},{}",
        primary.database.gtid_binlog_state, primary.database.gtid_slave_pos
    );
    gtid::originated_beyond(
        &site.database.gtid_binlog_state,
        &holds,
        site.database.server_id,
    )
}

/// Why the primary counts as failed, or None while it does not: enough
/// failed probes in a row AND a second opinion (a replica lost it, or the
/// edge sees none of its app instances).
fn primary_failure(
    observation: &Observation,
    memory: &Memory,
    policy: Policy,
    primary: &SiteObservation,
) -> Option<String> {
    let probes = memory.failures_of(&Component::Database(primary.name.clone()));
    if probes < policy.failure_threshold {
        return None;
    }
    let replica_lost = observation
        .sites
        .iter()
        .filter(|s| s.name != primary.name && s.database.up)
        .any(|s| s.database.replica.as_ref().is_none_or(|r| !r.io_running));
    let edge_sees_none = observation.edge.up
        && observation
            .edge
            .healthy
            .get(&primary.name)
            .is_some_and(|n| *n == 0);
    let apps_down = primary.apps_total > 0 && primary.apps_healthy == 0;
    let opinion = match (replica_lost, edge_sees_none || apps_down) {
        (true, true) => "the replica lost it and none of its app instances answers",
        (true, false) => "the replica lost it",
        (false, true) => "none of its app instances answers",
        (false, false) => return None,
    };
    Some(format!(
        "its database failed {probes} probes in a row and {opinion}"
    ))
}

/// The site that would take over from `primary`, or why there is none.
fn candidate<'a>(
    observation: &'a Observation,
    primary: &SiteObservation,
) -> Result<&'a SiteObservation, String> {
    let others = observation.sites.iter().filter(|s| s.name != primary.name);
    let mut reason = "no other site".to_owned();
    for s in others {
        if !s.database.up {
            reason = format!("site '{}' is down too", s.name);
        } else if let Some(error) = broken(s) {
            reason = format!("replication to site '{}' is broken ({error})", s.name);
        } else {
            return Ok(s);
        }
    }
    Err(reason)
}

/// The conditions that hold now, as alerts.
fn conditions(
    observation: &Observation,
    memory: &Memory,
    policy: Policy,
    primary: &SiteObservation,
    now_ms: u64,
) -> Vec<Alert> {
    let mut now = Vec::new();
    let p = &primary.database;
    let threshold = policy.failure_threshold;
    if memory.failed(&Component::Database(primary.name.clone()), threshold) {
        now.push(Alert::PrimaryUnreachable {
            site: primary.name.clone(),
        });
        if let Some(reason) = held(observation, memory, policy, primary, now_ms) {
            now.push(Alert::FailoverHeld {
                site: primary.name.clone(),
                reason,
            });
        }
    }
    for replica in observation.sites.iter().filter(|s| s.name != primary.name) {
        if memory.failed(&Component::Database(replica.name.clone()), threshold) {
            now.push(Alert::ReplicaUnreachable {
                site: replica.name.clone(),
                // A primary promoted alone does not wait for it: its
                // writes are the ones that exist only there.
                strict: policy.sync_mode == SyncMode::Strict && p.semi_sync.enabled,
            });
        }
        if p.up && replica.database.up {
            if let Some(error) = broken(replica) {
                now.push(Alert::ReplicationBroken {
                    site: replica.name.clone(),
                    error,
                });
            }
            if p.read_only && gtid::lacks(&p.current_pos(), &replica.database.current_pos()) {
                now.push(Alert::PromotionRefused {
                    site: primary.name.clone(),
                    ahead: replica.name.clone(),
                });
            }
            let count = errant(replica, primary);
            if count > 0 {
                now.push(Alert::ErrantTransactions {
                    site: replica.name.clone(),
                    count,
                });
            }
        }
    }
    if matches!(policy.sync_mode, SyncMode::Bounded { .. })
        && p.up
        && !p.read_only
        && p.semi_sync.enabled
        && !p.semi_sync.active
    {
        now.push(Alert::SemiSyncFallback {
            site: primary.name.clone(),
        });
    }
    if policy.sync_mode != SyncMode::Async && p.up && !p.read_only && !p.semi_sync.enabled {
        now.push(Alert::RunningWithoutReplica {
            site: primary.name.clone(),
        });
    }
    if memory.edge_seen && memory.failed(&Component::Edge, threshold) {
        now.push(Alert::EdgeUnreachable);
    }
    now
}

/// Why a failed primary is not failed over automatically, if it is not.
fn held(
    observation: &Observation,
    memory: &Memory,
    policy: Policy,
    primary: &SiteObservation,
    now_ms: u64,
) -> Option<String> {
    if !policy.automatic {
        return Some("automatic failover is off ([controller] automatic = false)".into());
    }
    if let Some(at) = memory.last_failover_ms {
        let since = now_ms.saturating_sub(at);
        if since < policy.cooldown_ms {
            return Some(format!(
                "the last failover was {} s ago, within the {} s cool-down",
                since / 1000,
                policy.cooldown_ms / 1000
            ));
        }
    }
    candidate(observation, primary).err()
}

/// The one next step. `primary_addr` is the primary's database address as
/// replicas reach it (`host:port`); `now_ms` is the wall clock (Unix ms).
pub fn decide(
    observation: &Observation,
    memory: &Memory,
    policy: Policy,
    primary_addr: &str,
    now_ms: u64,
) -> Decision {
    let Some(primary) = observation.site(&memory.primary) else {
        return Decision::Steady;
    };
    let now = conditions(observation, memory, policy, primary, now_ms);
    let refused = now
        .iter()
        .any(|a| matches!(a, Alert::PromotionRefused { .. }));
    let p = &primary.database;
    let replicas: Vec<&SiteObservation> = observation
        .sites
        .iter()
        .filter(|s| s.name != primary.name)
        .collect();

    if let Some(request) = &observation.requested {
        return operator(request, observation, memory, primary, primary_addr, now_ms);
    }
    // Before the first promotion there is nothing to fail over from: the
    // configured primary may still be starting (across hosts, the other
    // site's controller can be up first).
    let ever_promoted = memory.epoch > 0;
    if let Some(reason) =
        primary_failure(observation, memory, policy, primary).filter(|_| ever_promoted)
    {
        if held(observation, memory, policy, primary, now_ms).is_none() {
            if let Ok(to) = candidate(observation, primary) {
                return Decision::Failover {
                    from: primary.name.clone(),
                    to: to.name.clone(),
                    epoch: memory.epoch + 1,
                    at_ms: now_ms,
                    reason,
                };
            }
        }
    }
    // Never two writable sites: fence any other site that accepts writes.
    if let Some(r) = replicas
        .iter()
        .find(|r| r.database.up && !r.database.read_only)
    {
        return Decision::Fence {
            site: r.name.clone(),
        };
    }
    // A first promotion whose step ran out of time after the server had
    // taken it leaves the site writable but no epoch remembered, and then
    // nothing would ever guard it (failover waits for a first promotion):
    // promoting again finds little left to do and records the epoch.
    if p.up && (p.read_only || !ever_promoted) && !refused {
        return Decision::Promote {
            site: primary.name.clone(),
            // Never below what its data records (a memory lost).
            epoch: memory.epoch.max(p.epoch).max(1),
            alone: !replicas.iter().any(|r| r.database.up),
        };
    }
    if p.up && !p.read_only {
        // Restart replication that stopped cleanly (every server starts
        // with skip-slave-start), or point a replica at the right source;
        // one that stopped on an error, or that holds transactions the
        // primary lacks, waits for an operator.
        let starting = |r: &SiteObservation| {
            memory
                .replication_started
                .as_ref()
                .is_some_and(|(site, at)| *site == r.name && now_ms < at + REPLICATION_START_MS)
        };
        if let Some(r) = replicas.iter().find(|r| {
            r.database.up
                && !r.reseeding
                && !replicates_from(r, primary_addr)
                && broken(r).is_none()
                && errant(r, primary) == 0
                && !starting(r)
        }) {
            return Decision::Replicate {
                replica: r.name.clone(),
                primary: primary.name.clone(),
                at_ms: now_ms,
            };
        }
        let caught_up = replicas.iter().any(|r| {
            replicates_from(r, primary_addr)
                && r.database.replica.as_ref().is_some_and(|s| {
                    s.io_running
                        && gtid::distance(&p.gtid_binlog_pos, &s.gtid_io_pos)
                            <= CAUGHT_UP_TRANSACTIONS
                })
        });
        if policy.sync_mode != SyncMode::Async && !p.semi_sync.enabled && caught_up {
            return Decision::RestoreSync {
                site: primary.name.clone(),
            };
        }
        // Strict mode: a binlogged statement cannot commit until a replica
        // acknowledges, so the account waits for one.
        let can_commit =
            policy.sync_mode != SyncMode::Strict || p.semi_sync.clients > 0 || !p.semi_sync.enabled;
        if !p.app_account && can_commit {
            return Decision::CreateAppAccount {
                site: primary.name.clone(),
            };
        }

        if primary.standby_total > 0 && !memory.standby_running.contains(&primary.name) {
            return Decision::ScaleUp {
                site: primary.name.clone(),
            };
        }
    }
    if observation.edge.up
        && (observation.edge.holding
            || observation.edge.active.as_deref() != Some(primary.name.as_str()))
    {
        return Decision::SwitchEdge {
            site: primary.name.clone(),
        };
    }
    // Not urgent: after writes flow again through the edge.
    let can_commit =
        policy.sync_mode != SyncMode::Strict || p.semi_sync.clients > 0 || !p.semi_sync.enabled;
    if p.up && !p.read_only && p.epoch < memory.epoch && can_commit {
        return Decision::RecordEpoch {
            site: primary.name.clone(),
            epoch: memory.epoch,
        };
    }
    // STOP SLAVE waits for a receiver still trying to reach its source: a
    // source that is gone (a host lost, a partition) holds it until the
    // attempt times out (seconds across a network, longer than a step
    // may take), and every cycle with it. Settings left a while longer
    // harm nothing (servers start with skip-slave-start and the applier
    // is stopped), so they are cleared once the receiver is idle or every
    // other site's database answers again.
    let receiver_free = p.replica.as_ref().is_some_and(|r| {
        !(r.io_running || r.io_connecting) || replicas.iter().all(|s| s.database.up)
    });
    if p.up && !p.read_only && receiver_free {
        return Decision::Detach {
            site: primary.name.clone(),
        };
    }
    // Standby instances of a former primary stop once nothing routes there.
    if let Some(site) = memory
        .standby_running
        .iter()
        .find(|s| **s != primary.name && observation.edge.active.as_deref() != Some(s.as_str()))
    {
        return Decision::ScaleDown { site: site.clone() };
    }
    if let Some(alert) = now.iter().find(|a| !memory.alerts.contains_key(&a.key())) {
        return Decision::Raise(alert.clone());
    }
    if let Some(alert) = memory
        .alerts
        .values()
        .find(|a| !now.iter().any(|n| n.key() == a.key()))
    {
        return Decision::Clear(alert.clone());
    }
    Decision::Steady
}

/// The step an operator's request calls for, or why it cannot be taken.
fn operator(
    request: &OperatorRequest,
    observation: &Observation,
    memory: &Memory,
    primary: &SiteObservation,
    primary_addr: &str,
    now_ms: u64,
) -> Decision {
    let refuse = |reason: String| Decision::Refuse {
        request: request.clone(),
        reason,
    };
    let (OperatorRequest::Switchover { to } | OperatorRequest::Failover { to }) = request;
    let Some(target) = observation.site(to) else {
        return refuse(format!("there is no site '{to}'"));
    };
    if target.name == primary.name {
        return refuse(format!("site '{to}' is the primary already"));
    }
    if !target.database.up {
        return refuse(format!("site '{to}': its database does not answer"));
    }
    if let Some(error) = broken(target) {
        return refuse(format!(
            "site '{to}': replication stopped on an error ({error})"
        ));
    }
    match request {
        OperatorRequest::Failover { .. } => Decision::Failover {
            from: primary.name.clone(),
            to: to.clone(),
            epoch: memory.epoch + 1,
            at_ms: now_ms,
            reason: "an operator forced it".into(),
        },
        OperatorRequest::Switchover { .. } => {
            if !primary.database.up || primary.database.read_only {
                return refuse(format!(
                    "the primary at site '{}' is not up and writable; use `srs failover --yes`",
                    primary.name
                ));
            }
            if !replicates_from(target, primary_addr) {
                return refuse(format!(
                    "site '{to}' does not replicate from the primary yet"
                ));
            }
            Decision::Switchover {
                from: primary.name.clone(),
                to: to.clone(),
                epoch: memory.epoch + 1,
            }
        }
    }
}

/// Whether the primary is ready for the application: writable, with its account.
pub fn ready(observation: &Observation, memory: &Memory) -> bool {
    observation
        .site(&memory.primary)
        .is_some_and(|p| p.database.up && !p.database.read_only && p.database.app_account)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_named(name: &str) -> SiteName {
        SiteName::parse(name).expect("a valid site name")
    }
    use crate::controller::observe::{DatabaseStatus, EdgeObservation};
    use srs_mariadb::{ReplicaStatus, SemiSync};

    const PRIMARY_ADDR: &str = "127.0.0.1:3407";

    #[test]
    fn alert_keys_are_typed_and_keep_their_written_form() {
        let alert = Alert::ReplicaUnreachable {
            site: site_named("west"),
            strict: true,
        };
        let key = alert.key();
        assert_eq!(key.kind, AlertKind::ReplicaUnreachable);
        assert_eq!(key.to_string(), "replica-unreachable:west");
        assert_eq!(
            "replica-unreachable:west".parse::<AlertKey>(),
            Ok(key.clone())
        );
        assert_eq!(Alert::EdgeUnreachable.key().to_string(), "edge-unreachable");
        assert!("made-up:west".parse::<AlertKey>().is_err());
        // controller.json written before the type still reads.
        let json = r#"{"replica-unreachable:west":{"kind":"replica_unreachable","site":"west","strict":true}}"#;
        let alerts: BTreeMap<AlertKey, Alert> = serde_json::from_str(json).expect("reads");
        assert_eq!(alerts.get(&key), Some(&alert));
        assert_eq!(serde_json::to_string(&alerts).expect("writes"), json);
    }

    fn db(read_only: bool, gtid: &str) -> DatabaseStatus {
        DatabaseStatus {
            up: true,
            read_only,
            gtid_binlog_pos: gtid.into(),
            ..DatabaseStatus::default()
        }
    }

    fn replicating() -> ReplicaStatus {
        ReplicaStatus {
            io_running: true,
            sql_running: true,
            source: PRIMARY_ADDR.into(),
            ..ReplicaStatus::default()
        }
    }

    /// A healthy cluster: `a` primary with its account and one semi-sync
    /// client, `b` replicating, the edge routing to `a`.
    fn healthy() -> Observation {
        let mut a = db(false, "0-1-10");
        a.app_account = true;
        a.epoch = 1;
        a.semi_sync = SemiSync {
            enabled: true,
            active: true,
            clients: 1,
        };
        let mut b = db(true, "0-1-10");
        b.replica = Some(replicating());
        b.app_account = true;
        Observation {
            sites: vec![
                SiteObservation {
                    name: site_named("a"),
                    database: a,
                    apps_healthy: 2,
                    apps_total: 2,
                    standby_total: 0,
                    reseeding: false,
                },
                SiteObservation {
                    name: site_named("b"),
                    database: b,
                    apps_healthy: 0,
                    apps_total: 0,
                    standby_total: 2,
                    reseeding: false,
                },
            ],
            edge: EdgeObservation {
                up: true,
                active: Some(site_named("a")),
                healthy: [(site_named("a"), 2), (site_named("b"), 0)].into(),
                holding: false,
            },
            requested: None,
        }
    }

    fn memory() -> Memory {
        let mut m = Memory::new(&site_named("a"));
        m.epoch = 1;
        m.edge_seen = true;
        m
    }

    const STRICT: Policy = Policy {
        sync_mode: SyncMode::Strict,
        failure_threshold: 3,
        automatic: true,
        cooldown_ms: 300_000,
    };
    const BOUNDED: Policy = Policy {
        sync_mode: SyncMode::Bounded { timeout_ms: 1000 },
        ..STRICT
    };
    const MANUAL: Policy = Policy {
        automatic: false,
        ..STRICT
    };
    /// The test clock: a day after the epoch, in ms.
    const NOW: u64 = 86_400_000;

    fn down() -> DatabaseStatus {
        DatabaseStatus {
            read_only: true,
            error: Some("connection refused".into()),
            ..DatabaseStatus::default()
        }
    }

    type Change = fn(&mut Observation, &mut Memory);

    /// The primary's server killed: probes refused, the replica's receiver
    /// reconnecting, its app instances not ready.
    fn primary_gone(o: &mut Observation) {
        o.sites[0].database = down();
        o.sites[0].apps_healthy = 0;
        o.edge.healthy.insert(site_named("a"), 0);
        if let Some(r) = o.sites[1].database.replica.as_mut() {
            r.io_running = false;
            r.io_connecting = true;
        }
    }

    fn failover(reason: &str) -> Decision {
        Decision::Failover {
            from: site_named("a"),
            to: site_named("b"),
            epoch: 2,
            at_ms: NOW,
            reason: format!("its database failed 3 probes in a row and {reason}"),
        }
    }

    /// The failover decided and taken in: b is to be primary, a is down.
    fn after_failover(o: &mut Observation, m: &mut Memory) {
        primary_gone(o);
        m.failures.insert(Component::Database(site_named("a")), 4);
        m.apply(&failover("x"));
    }

    /// b promoted alone (semi-sync off), a down, the edge still on a.
    fn promoted(o: &mut Observation, m: &mut Memory) {
        after_failover(o, m);
        let mut b = db(false, "0-1-10");
        b.app_account = true;
        b.epoch = 2;
        b.server_id = 2;
        b.gtid_binlog_state = "0-1-10".into();
        o.sites[1].database = b;
        o.sites[0].database.server_id = 1;
    }

    #[test]
    fn each_situation_has_one_next_step() {
        let cases: Vec<(&str, Policy, Change, Decision)> = vec![
            ("healthy", STRICT, |_, _| {}, Decision::Steady),
            (
                "fresh start: both read-only, nothing wired",
                STRICT,
                |o, m| {
                    *m = Memory::new(&site_named("a"));
                    o.sites[0].database = db(true, "");
                    o.sites[1].database = db(true, "");
                    o.edge = EdgeObservation::default();
                },
                Decision::Promote {
                    site: site_named("a"),
                    epoch: 1,
                    alone: false,
                },
            ),
            (
                "writable, no epoch remembered (a first promotion cut short after the server took it): promote again",
                STRICT,
                |o, m| {
                    *m = Memory::new(&site_named("a"));
                    o.sites[0].database.epoch = 0;
                },
                Decision::Promote {
                    site: site_named("a"),
                    epoch: 1,
                    alone: false,
                },
            ),
            (
                "writable, its memory lost, its data records epoch 3: promote in epoch 3",
                STRICT,
                |o, m| {
                    *m = Memory::new(&site_named("a"));
                    o.sites[0].database.epoch = 3;
                },
                Decision::Promote {
                    site: site_named("a"),
                    epoch: 3,
                    alone: false,
                },
            ),
            (
                "restart: the primary came back read-only, same epoch",
                STRICT,
                |o, m| {
                    m.epoch = 4;
                    o.sites[0].database.read_only = true;
                },
                Decision::Promote {
                    site: site_named("a"),
                    epoch: 4,
                    alone: false,
                },
            ),
            (
                "the other site is writable too: fence it first",
                STRICT,
                |o, _| o.sites[1].database.read_only = false,
                Decision::Fence { site: site_named("b") },
            ),
            (
                "replica restarted with replication stopped",
                STRICT,
                |o, _| o.sites[1].database.replica = None,
                Decision::Replicate {
                    replica: site_named("b"),
                    primary: site_named("a"),
                    at_ms: NOW,                },
            ),
            (
                "replication started a moment ago is given time to connect",
                STRICT,
                |o, m| {
                    o.sites[1].database.replica = None;
                    m.replication_started = Some((site_named("b"), NOW - 1_000));
                },
                Decision::Steady,
            ),
            (
                "replication still not running 5 s after its start is started again",
                STRICT,
                |o, m| {
                    o.sites[1].database.replica = None;
                    m.replication_started = Some((site_named("b"), NOW - 6_000));
                },
                Decision::Replicate {
                    replica: site_named("b"),
                    primary: site_named("a"),
                    at_ms: NOW,
                },
            ),
            (
                "replica follows the wrong source",
                STRICT,
                |o, _| {
                    if let Some(r) = o.sites[1].database.replica.as_mut() {
                        r.source = "10.0.0.9:3306".into();
                    }
                },
                Decision::Replicate {
                    replica: site_named("b"),
                    primary: site_named("a"),
                    at_ms: NOW,                },
            ),
            (
                "replica reconnecting is left alone",
                STRICT,
                |o, _| {
                    if let Some(r) = o.sites[1].database.replica.as_mut() {
                        r.io_running = false;
                        r.io_connecting = true;
                        r.last_io_error = "error reconnecting to master".into();
                    }
                },
                Decision::Steady,
            ),
            (
                "replication stopped on an error: alert, no blind restart",
                STRICT,
                |o, _| {
                    if let Some(r) = o.sites[1].database.replica.as_mut() {
                        r.io_running = false;
                        r.last_io_error = "Got fatal error 1236".into();
                    }
                },
                Decision::Raise(Alert::ReplicationBroken {
                    site: site_named("b"),
                    error: "Got fatal error 1236".into(),
                }),
            ),
            (
                "strict: no app account until a replica acknowledges",
                STRICT,
                |o, _| {
                    o.sites[0].database.app_account = false;
                    o.sites[0].database.semi_sync.clients = 0;
                },
                Decision::Steady,
            ),
            (
                "strict: app account once a replica acknowledges",
                STRICT,
                |o, _| o.sites[0].database.app_account = false,
                Decision::CreateAppAccount { site: site_named("a") },
            ),
            (
                "async: app account without a replica",
                Policy {
                    sync_mode: SyncMode::Async,
                    ..STRICT
                },
                |o, _| {
                    o.sites[0].database.app_account = false;
                    o.sites[0].database.semi_sync.clients = 0;
                },
                Decision::CreateAppAccount { site: site_named("a") },
            ),
            (
                "edge routes elsewhere",
                STRICT,
                |o, _| o.edge.active = Some(site_named("b")),
                Decision::SwitchEdge { site: site_named("a") },
            ),
            (
                "edge has no site yet",
                STRICT,
                |o, _| o.edge.active = None,
                Decision::SwitchEdge { site: site_named("a") },
            ),
            (
                "one failed probe of the primary is not an outage",
                STRICT,
                |o, m| {
                    o.sites[0].database = down();
                    m.failures.insert(Component::Database(site_named("a")), 1);
                },
                Decision::Steady,
            ),
            (
                "primary down for three probes, but replica and edge still see it: no failover",
                STRICT,
                |o, m| {
                    o.sites[0].database = down();
                    m.failures.insert(Component::Database(site_named("a")), 3);
                },
                Decision::Raise(Alert::PrimaryUnreachable { site: site_named("a") }),
            ),
            (
                "primary down for two probes and the replica lost it: not yet",
                STRICT,
                |o, m| {
                    primary_gone(o);
                    m.failures.insert(Component::Database(site_named("a")), 2);
                },
                Decision::Steady,
            ),
            (
                "primary down for three probes and the replica lost it: fail over",
                STRICT,
                |o, m| {
                    primary_gone(o);
                    m.failures.insert(Component::Database(site_named("a")), 3);
                },
                failover("the replica lost it and none of its app instances answers"),
            ),
            (
                "a cluster never promoted waits for its configured primary (an alert, no failover)",
                STRICT,
                |o, m| {
                    primary_gone(o);
                    m.epoch = 0;
                    m.failures.insert(Component::Database(site_named("a")), 30);
                },
                Decision::Raise(Alert::PrimaryUnreachable {
                    site: site_named("a"),
                }),
            ),
            (
                "a silent primary: the replica still thinks it is connected, the edge sees no app",
                STRICT,
                |o, m| {
                    o.sites[0].database = down();
                    o.sites[0].apps_healthy = 0;
                    o.edge.healthy.insert(site_named("a"), 0);
                    m.failures.insert(Component::Database(site_named("a")), 3);
                },
                failover("none of its app instances answers"),
            ),
            (
                "flapping: a success in between resets the count",
                STRICT,
                |o, m| {
                    primary_gone(o);
                    let mut flapping = Memory::new(&site_named("a"));
                    flapping.note(o);
                    flapping.note(o);
                    flapping.note(&healthy());
                    flapping.note(o);
                    m.failures = flapping.failures;
                },
                Decision::Steady,
            ),
            (
                "automatic failover off: an alert says so",
                MANUAL,
                |o, m| {
                    primary_gone(o);
                    m.failures.insert(Component::Database(site_named("a")), 3);
                },
                Decision::Raise(Alert::PrimaryUnreachable { site: site_named("a") }),
            ),
            (
                "automatic failover off: held, and why",
                MANUAL,
                |o, m| {
                    primary_gone(o);
                    m.failures.insert(Component::Database(site_named("a")), 3);
                    m.apply(&Decision::Raise(Alert::PrimaryUnreachable { site: site_named("a") }));
                },
                Decision::Raise(Alert::FailoverHeld {
                    site: site_named("a"),
                    reason: "automatic failover is off ([controller] automatic = false)".into(),
                }),
            ),
            (
                "cool-down: no second automatic failover within it",
                STRICT,
                |o, m| {
                    primary_gone(o);
                    m.failures.insert(Component::Database(site_named("a")), 3);
                    m.last_failover_ms = Some(NOW - 60_000);
                    m.apply(&Decision::Raise(Alert::PrimaryUnreachable { site: site_named("a") }));
                },
                Decision::Raise(Alert::FailoverHeld {
                    site: site_named("a"),
                    reason: "the last failover was 60 s ago, within the 300 s cool-down".into(),
                }),
            ),
            (
                "cool-down over: fail over again",
                STRICT,
                |o, m| {
                    primary_gone(o);
                    m.failures.insert(Component::Database(site_named("a")), 3);
                    m.last_failover_ms = Some(NOW - 301_000);
                },
                failover("the replica lost it and none of its app instances answers"),
            ),
            (
                "no failover to a replica whose replication broke",
                STRICT,
                |o, m| {
                    primary_gone(o);
                    if let Some(r) = o.sites[1].database.replica.as_mut() {
                        r.sql_running = false;
                        r.last_sql_error = "Duplicate entry".into();
                    }
                    m.failures.insert(Component::Database(site_named("a")), 3);
                    m.apply(&Decision::Raise(Alert::PrimaryUnreachable { site: site_named("a") }));
                },
                Decision::Raise(Alert::FailoverHeld {
                    site: site_named("a"),
                    reason: "replication to site 'b' is broken (Duplicate entry)".into(),
                }),
            ),
            (
                "after the failover: promote the replica alone (the old primary is down)",
                STRICT,
                |o, m| {
                    after_failover(o, m);
                },
                Decision::Promote {
                    site: site_named("b"),
                    epoch: 2,
                    alone: true,
                },
            ),
            (
                "a controller restarted mid-failover finishes it: promotes once",
                STRICT,
                |o, m| {
                    after_failover(o, m);
                    // What it published survives; its probe counts do not.
                    m.failures.clear();
                    m.edge_seen = false;
                },
                Decision::Promote {
                    site: site_named("b"),
                    epoch: 2,
                    alone: true,
                },
            ),
            (
                "promoted: start the standby app instances",
                STRICT,
                |o, m| {
                    promoted(o, m);
                },
                Decision::ScaleUp { site: site_named("b") },
            ),
            (
                "standby running: route the edge to the new primary",
                STRICT,
                |o, m| {
                    promoted(o, m);
                    m.standby_running.insert(site_named("b"));
                },
                Decision::SwitchEdge { site: site_named("b") },
            ),
            (
                "routed: the survivor without a replica is an alert",
                STRICT,
                |o, m| {
                    promoted(o, m);
                    m.standby_running.insert(site_named("b"));
                    o.edge.active = Some(site_named("b"));
                    m.apply(&Decision::Raise(Alert::ReplicaUnreachable {
                        site: site_named("a"),
                        strict: true,
                    }));
                },
                Decision::Raise(Alert::RunningWithoutReplica { site: site_named("b") }),
            ),
            (
                "a zombie primary wakes up writable: fence it",
                STRICT,
                |o, m| {
                    promoted(o, m);
                    o.sites[0].database = db(false, "0-1-10");
                },
                Decision::Fence { site: site_named("a") },
            ),
            (
                // Before the edge switched too (`promoted` leaves it on a):
                // the writes about to flow are then replicated at once.
                "the old primary is back read-only with nothing errant: rejoin it",
                STRICT,
                |o, m| {
                    promoted(o, m);
                    o.sites[0].database = db(true, "0-1-10");
                    o.sites[0].database.gtid_binlog_state = "0-1-10".into();
                    o.sites[0].database.server_id = 1;
                },
                Decision::Replicate {
                    replica: site_named("a"),
                    primary: site_named("b"),
                    at_ms: NOW,                },
            ),
            (
                "a site being re-seeded is not attached until its data is loaded",
                STRICT,
                |o, m| {
                    promoted(o, m);
                    m.failures.clear();
                    o.sites[0].database = db(true, "");
                    o.sites[0].reseeding = true;
                    m.standby_running.insert(site_named("b"));
                    o.edge.active = Some(site_named("b"));
                    m.apply(&Decision::Raise(Alert::RunningWithoutReplica { site: site_named("b") }));
                },
                Decision::Steady,
            ),
            (
                "the old primary holds errant transactions: it stays fenced, alert",
                STRICT,
                |o, m| {
                    promoted(o, m);
                    m.standby_running.insert(site_named("b"));
                    o.edge.active = Some(site_named("b"));
                    o.sites[0].database = db(true, "0-1-12");
                    o.sites[0].database.gtid_binlog_state = "0-1-12".into();
                    o.sites[0].database.server_id = 1;
                    m.failures.clear();
                    m.apply(&Decision::Raise(Alert::RunningWithoutReplica { site: site_named("b") }));
                },
                Decision::Raise(Alert::ErrantTransactions {
                    site: site_named("a"),
                    count: 2,
                }),
            ),
            (
                "a re-seeded primary knows the replica's history as a position only: not errant",
                STRICT,
                |o, _| {
                    o.sites[0].database.gtid_binlog_state = String::new();
                    o.sites[0].database.gtid_slave_pos = "0-2-31".into();
                    o.sites[1].database.server_id = 2;
                    o.sites[1].database.gtid_binlog_state = "0-1-10,0-2-31".into();
                },
                Decision::Steady,
            ),
            (
                "the replica is back and caught up: commits wait for it again",
                STRICT,
                |o, m| {
                    promoted(o, m);
                    let mut back = db(true, "0-1-10");
                    back.replica = Some(ReplicaStatus {
                        io_running: true,
                        sql_running: true,
                        source: PRIMARY_ADDR.into(),
                        gtid_io_pos: "0-1-10".into(),
                        ..ReplicaStatus::default()
                    });
                    o.sites[0].database = back;
                },
                Decision::RestoreSync { site: site_named("b") },
            ),
            (
                "failover during failback: the switched-to site dies, no failover inside the cool-down",
                STRICT,
                |o, m| {
                    // b took over a minute ago; a rejoined and was switched back to.
                    m.last_failover_ms = Some(NOW - 60_000);
                    primary_gone(o);
                    m.failures.insert(Component::Database(site_named("a")), 3);
                    m.apply(&Decision::Raise(Alert::PrimaryUnreachable { site: site_named("a") }));
                },
                Decision::Raise(Alert::FailoverHeld {
                    site: site_named("a"),
                    reason: "the last failover was 60 s ago, within the 300 s cool-down".into(),
                }),
            ),
            (
                "an operator's switchover to the healthy replica",
                STRICT,
                |o, _| {
                    o.requested = Some(OperatorRequest::Switchover { to: site_named("b") });
                },
                Decision::Switchover {
                    from: site_named("a"),
                    to: site_named("b"),
                    epoch: 2,
                },
            ),
            (
                "a switchover to a replica that does not replicate is refused",
                STRICT,
                |o, _| {
                    o.sites[1].database.replica = None;
                    o.requested = Some(OperatorRequest::Switchover { to: site_named("b") });
                },
                Decision::Refuse {
                    request: OperatorRequest::Switchover { to: site_named("b") },
                    reason: "site 'b' does not replicate from the primary yet".into(),
                },
            ),
            (
                "a switchover needs a healthy primary",
                STRICT,
                |o, m| {
                    primary_gone(o);
                    m.failures.insert(Component::Database(site_named("a")), 1);
                    o.requested = Some(OperatorRequest::Switchover { to: site_named("b") });
                },
                Decision::Refuse {
                    request: OperatorRequest::Switchover { to: site_named("b") },
                    reason: "the primary at site 'a' is not up and writable; use `srs failover --yes`".into(),
                },
            ),
            (
                "a switchover within the cool-down is the operator's call",
                STRICT,
                |o, m| {
                    m.last_failover_ms = Some(NOW - 1_000);
                    o.requested = Some(OperatorRequest::Switchover { to: site_named("b") });
                },
                Decision::Switchover {
                    from: site_named("a"),
                    to: site_named("b"),
                    epoch: 2,
                },
            ),
            (
                "a forced failover while automation is off",
                MANUAL,
                |o, m| {
                    primary_gone(o);
                    m.failures.insert(Component::Database(site_named("a")), 9);
                    o.requested = Some(OperatorRequest::Failover { to: site_named("b") });
                },
                Decision::Failover {
                    from: site_named("a"),
                    to: site_named("b"),
                    epoch: 2,
                    at_ms: NOW,
                    reason: "an operator forced it".into(),
                },
            ),
            (
                "a request for the site that is primary already is refused",
                STRICT,
                |o, _| {
                    o.requested = Some(OperatorRequest::Failover { to: site_named("a") });
                },
                Decision::Refuse {
                    request: OperatorRequest::Failover { to: site_named("a") },
                    reason: "site 'a' is the primary already".into(),
                },
            ),
            (
                "the edge still holds requests after a switch that did not finish: release them",
                STRICT,
                |o, _| o.edge.holding = true,
                Decision::SwitchEdge { site: site_named("a") },
            ),
            (
                "switched over: the new primary is promoted with semi-sync (the old one is up)",
                STRICT,
                |o, m| {
                    m.apply(&Decision::Switchover {
                        from: site_named("a"),
                        to: site_named("b"),
                        epoch: 2,
                    });
                    o.sites[0].database.read_only = true;
                },
                Decision::Promote {
                    site: site_named("b"),
                    epoch: 2,
                    alone: false,
                },
            ),
            (
                "promoted while its receiver still tries a source that is gone: no detach yet",
                STRICT,
                |o, m| {
                    o.sites[0].database.replica = Some(ReplicaStatus {
                        io_running: false,
                        io_connecting: true,
                        sql_running: false,
                        source: "127.0.0.1:3307".into(),
                        ..ReplicaStatus::default()
                    });
                    o.sites[1].database = down();
                    m.failures.insert(Component::Database(site_named("b")), 3);
                },
                // Not held up behind the receiver: the alerts come at once.
                Decision::Raise(Alert::ReplicaUnreachable {
                    site: site_named("b"),
                    strict: true,
                }),
            ),
            (
                "promoted, its receiver stopped, the other site still gone: clear replication",
                STRICT,
                |o, m| {
                    o.sites[0].database.replica = Some(ReplicaStatus {
                        source: "127.0.0.1:3307".into(),
                        ..ReplicaStatus::default()
                    });
                    o.sites[1].database = down();
                    m.failures.insert(Component::Database(site_named("b")), 3);
                },
                Decision::Detach { site: site_named("a") },
            ),
            (
                "promoted while its receiver was stuck: clear replication once routed",
                STRICT,
                |o, _| o.sites[0].database.replica = Some(replicating()),
                Decision::Detach { site: site_named("a") },
            ),
            (
                "the primary's epoch is not yet in its data: record it",
                STRICT,
                |o, _| o.sites[0].database.epoch = 0,
                Decision::RecordEpoch {
                    site: site_named("a"),
                    epoch: 1,
                },
            ),
            (
                "strict: the epoch waits until a commit can be acknowledged",
                STRICT,
                |o, _| {
                    o.sites[0].database.epoch = 0;
                    o.sites[0].database.semi_sync.clients = 0;
                },
                Decision::Steady,
            ),
            (
                "standby instances of a former primary stop once the edge routes away",
                STRICT,
                |_, m| {
                    m.standby_running.insert(site_named("b"));
                },
                Decision::ScaleDown { site: site_named("b") },
            ),
            (
                "replica down for three probes, strict",
                STRICT,
                |o, m| {
                    o.sites[1].database = down();
                    m.failures.insert(Component::Database(site_named("b")), 3);
                },
                Decision::Raise(Alert::ReplicaUnreachable {
                    site: site_named("b"),
                    strict: true,
                }),
            ),
            (
                "replica down, strict, the primary promoted alone: its writes wait for nobody",
                STRICT,
                |o, m| {
                    o.sites[0].database.semi_sync.enabled = false;
                    o.sites[1].database = down();
                    m.failures.insert(Component::Database(site_named("b")), 3);
                },
                Decision::Raise(Alert::ReplicaUnreachable {
                    site: site_named("b"),
                    strict: false,
                }),
            ),
            (
                "bounded mode fell back to async",
                BOUNDED,
                |o, _| o.sites[0].database.semi_sync.active = false,
                Decision::Raise(Alert::SemiSyncFallback { site: site_named("a") }),
            ),
            (
                "strict mode never reports a fallback",
                STRICT,
                |o, _| o.sites[0].database.semi_sync.active = false,
                Decision::Steady,
            ),
            (
                "fallback over: cleared",
                BOUNDED,
                |_, m| {
                    m.apply(&Decision::Raise(Alert::SemiSyncFallback {
                        site: site_named("a"),
                    }));
                },
                Decision::Clear(Alert::SemiSyncFallback { site: site_named("a") }),
            ),
            (
                "a standing alert is not raised twice",
                BOUNDED,
                |o, m| {
                    o.sites[0].database.semi_sync.active = false;
                    m.apply(&Decision::Raise(Alert::SemiSyncFallback {
                        site: site_named("a"),
                    }));
                },
                Decision::Steady,
            ),
            (
                "the replica holds more: refuse to promote",
                STRICT,
                |o, _| {
                    o.sites[0].database.read_only = true;
                    o.sites[1].database.gtid_binlog_pos = "0-1-12".into();
                },
                Decision::Raise(Alert::PromotionRefused {
                    site: site_named("a"),
                    ahead: site_named("b"),
                }),
            ),
            (
                "an edge not started yet is not down",
                STRICT,
                |o, m| {
                    o.edge = EdgeObservation::default();
                    m.edge_seen = false;
                    m.failures.insert(Component::Edge, 9);
                },
                Decision::Steady,
            ),
            (
                "an edge that was up and stopped answering",
                STRICT,
                |o, m| {
                    o.edge = EdgeObservation::default();
                    m.failures.insert(Component::Edge, 3);
                },
                Decision::Raise(Alert::EdgeUnreachable),
            ),
        ];
        for (name, policy, change, expected) in cases {
            let (mut o, mut m) = (healthy(), memory());
            change(&mut o, &mut m);
            assert_eq!(
                decide(&o, &m, policy, PRIMARY_ADDR, NOW),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn failures_are_counted_per_component_and_reset_on_success() {
        let mut m = memory();
        let mut o = healthy();
        o.sites[1].database = down();
        m.note(&o);
        m.note(&o);
        assert_eq!(
            m.failures.get(&Component::Database(site_named("b"))),
            Some(&2)
        );
        m.note(&healthy());
        assert!(m.failures.is_empty());
    }

    #[test]
    fn promotion_sets_primary_and_epoch() {
        let mut m = Memory::new(&site_named("a"));
        m.apply(&Decision::Promote {
            site: site_named("b"),
            epoch: 2,
            alone: false,
        });
        assert_eq!((m.primary.as_str(), m.epoch), ("b", 2));
    }

    #[test]
    fn decisions_read_as_sentences() {
        assert_eq!(
            Decision::Promote {
                site: site_named("a"),
                epoch: 1,
                alone: false,
            }
            .to_string(),
            "promote site 'a' to primary (epoch 1)"
        );
        assert!(Decision::Raise(Alert::SemiSyncFallback {
            site: site_named("a")
        })
        .to_string()
        .contains("FELL BACK TO ASYNCHRONOUS"));
        assert!(!Decision::Steady.is_action());
        assert!(Decision::SwitchEdge {
            site: site_named("a")
        }
        .is_action());
    }
}
