//! The controller's judgement: from what it observed and what it
//! remembers, the one next step. Pure (no I/O, no clock of its own), so
//! every rule is a row in a table test.

use crate::gtid;
use crate::observe::{Observation, SiteObservation};
use serde::{Deserialize, Serialize};
use srs_mariadb::SyncMode;
use std::collections::BTreeMap;
use std::fmt;

/// Something an operator must know about that the controller does not
/// repair on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// The primary's database failed `probes` probes in a row.
    PrimaryUnreachable {
        /// The site.
        site: String,
    },
    /// The replica's database failed its probes.
    ReplicaUnreachable {
        /// The site.
        site: String,
        /// Strict mode: the primary cannot commit meanwhile.
        strict: bool,
    },
    /// Replication stopped with an error the controller does not repair.
    ReplicationBroken {
        /// The replica's site.
        site: String,
        /// What the replica says.
        error: String,
    },
    /// Bounded mode gave up waiting for the replica: commits are
    /// acknowledged without it until it catches up.
    SemiSyncFallback {
        /// The primary's site.
        site: String,
    },
    /// The edge stopped answering on its admin address.
    EdgeUnreachable,
    /// The site to promote lacks transactions the other site has.
    PromotionRefused {
        /// The site that was to be promoted.
        site: String,
        /// The site holding more.
        ahead: String,
    },
}

impl Alert {
    /// What identifies the condition (the same alert with a new error text
    /// is not a new alert).
    pub fn key(&self) -> String {
        match self {
            Alert::PrimaryUnreachable { site } => format!("primary-unreachable:{site}"),
            Alert::ReplicaUnreachable { site, .. } => format!("replica-unreachable:{site}"),
            Alert::ReplicationBroken { site, .. } => format!("replication-broken:{site}"),
            Alert::SemiSyncFallback { site } => format!("semi-sync-fallback:{site}"),
            Alert::EdgeUnreachable => "edge-unreachable".into(),
            Alert::PromotionRefused { site, .. } => format!("promotion-refused:{site}"),
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
        }
    }
}

/// The one next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Everything is as it should be (alerts may still stand).
    Steady,
    /// Make `site` the writable primary, with semi-sync as configured.
    Promote {
        /// The site.
        site: String,
        /// The epoch it is primary in.
        epoch: u64,
    },
    /// Make `site` read-only: it is not the primary.
    Fence {
        /// The site.
        site: String,
    },
    /// Point `replica` at `primary` and start replicating.
    Replicate {
        /// The replica's site.
        replica: String,
        /// The primary's site.
        primary: String,
    },
    /// Create the database and the application's account on the primary.
    CreateAppAccount {
        /// The primary's site.
        site: String,
    },
    /// Route the edge to `site`.
    SwitchEdge {
        /// The site.
        site: String,
    },
    /// A condition operators must know about began.
    Raise(Alert),
    /// A condition ended.
    Clear(Alert),
}

impl Decision {
    /// A short name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::Steady => "steady",
            Decision::Promote { .. } => "promote",
            Decision::Fence { .. } => "fence",
            Decision::Replicate { .. } => "replicate",
            Decision::CreateAppAccount { .. } => "create_app_account",
            Decision::SwitchEdge { .. } => "switch_edge",
            Decision::Raise(_) => "raise",
            Decision::Clear(_) => "clear",
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
            Decision::Promote { site, epoch } => {
                write!(f, "promote site '{site}' to primary (epoch {epoch})")
            }
            Decision::Fence { site } => write!(f, "fence site '{site}' (read_only)"),
            Decision::Replicate { replica, primary } => {
                write!(f, "make site '{replica}' replicate from site '{primary}'")
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

/// What the controller keeps between observations (and across restarts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Rises each time the primary changes; 0 before the first promotion.
    pub epoch: u64,
    /// The site that is, or is to be, primary.
    pub primary: String,
    /// Standing alerts by key.
    #[serde(default)]
    pub alerts: BTreeMap<String, Alert>,
    /// Consecutive failed probes by component (`db:SITE`, `edge`); this
    /// process's own observations, not kept across restarts.
    #[serde(skip)]
    pub failures: BTreeMap<String, u32>,
    /// The edge has answered this process at least once (an edge not yet
    /// started is not down).
    #[serde(skip)]
    pub edge_seen: bool,
}

impl Memory {
    /// A fresh memory with `primary` to be made primary.
    pub fn new(primary: &str) -> Self {
        Self {
            epoch: 0,
            primary: primary.to_owned(),
            alerts: BTreeMap::new(),
            failures: BTreeMap::new(),
            edge_seen: false,
        }
    }

    /// Counts failed probes from one observation.
    pub fn note(&mut self, observation: &Observation) {
        for site in &observation.sites {
            self.count(format!("db:{}", site.name), site.database.up);
        }
        self.count("edge".into(), observation.edge.up);
        self.edge_seen |= observation.edge.up;
    }

    fn count(&mut self, key: String, up: bool) {
        if up {
            self.failures.remove(&key);
        } else {
            *self.failures.entry(key).or_insert(0) += 1;
        }
    }

    fn failed(&self, key: &str, threshold: u32) -> bool {
        self.failures.get(key).copied().unwrap_or(0) >= threshold
    }

    /// Takes in a step that succeeded.
    pub fn apply(&mut self, decision: &Decision) {
        match decision {
            Decision::Promote { site, epoch } => {
                self.primary.clone_from(site);
                self.epoch = *epoch;
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
}

/// Whether `site`'s database is the replica it should be of `primary`.
fn replicates_from(site: &SiteObservation, primary_addr: &str) -> bool {
    site.database.replica.as_ref().is_some_and(|r| {
        r.source == primary_addr && (r.io_running || r.io_connecting) && r.sql_running
    })
}

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

/// The conditions that hold now, as alerts.
fn conditions(
    observation: &Observation,
    memory: &Memory,
    policy: Policy,
    primary: &SiteObservation,
) -> Vec<Alert> {
    let mut now = Vec::new();
    let p = &primary.database;
    if memory.failed(&format!("db:{}", primary.name), policy.failure_threshold) {
        now.push(Alert::PrimaryUnreachable {
            site: primary.name.clone(),
        });
    }
    for replica in observation.sites.iter().filter(|s| s.name != primary.name) {
        if memory.failed(&format!("db:{}", replica.name), policy.failure_threshold) {
            now.push(Alert::ReplicaUnreachable {
                site: replica.name.clone(),
                strict: policy.sync_mode == SyncMode::Strict,
            });
        }
        if p.up && replica.database.up {
            if let Some(error) = broken(replica) {
                now.push(Alert::ReplicationBroken {
                    site: replica.name.clone(),
                    error,
                });
            }
            if p.read_only && gtid::lacks(&p.gtid_binlog_pos, &replica.database.gtid_binlog_pos) {
                now.push(Alert::PromotionRefused {
                    site: primary.name.clone(),
                    ahead: replica.name.clone(),
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
    if memory.edge_seen && memory.failed("edge", policy.failure_threshold) {
        now.push(Alert::EdgeUnreachable);
    }
    now
}

/// The one next step. `primary_addr` is the primary's database address as
/// replicas reach it (`host:port`).
pub fn decide(
    observation: &Observation,
    memory: &Memory,
    policy: Policy,
    primary_addr: &str,
) -> Decision {
    let Some(primary) = observation.site(&memory.primary) else {
        return Decision::Steady;
    };
    let now = conditions(observation, memory, policy, primary);
    let refused = now
        .iter()
        .any(|a| matches!(a, Alert::PromotionRefused { .. }));
    let p = &primary.database;
    let replicas: Vec<&SiteObservation> = observation
        .sites
        .iter()
        .filter(|s| s.name != primary.name)
        .collect();

    // Never two writable sites: fence any other site that accepts writes.
    if let Some(r) = replicas
        .iter()
        .find(|r| r.database.up && !r.database.read_only)
    {
        return Decision::Fence {
            site: r.name.clone(),
        };
    }
    if p.up && p.read_only && !refused {
        return Decision::Promote {
            site: primary.name.clone(),
            epoch: memory.epoch.max(1),
        };
    }
    if p.up && !p.read_only {
        // Restart replication that stopped cleanly (every server starts
        // with skip-slave-start), or point a replica at the right source;
        // one that stopped on an error waits for an operator.
        if let Some(r) = replicas
            .iter()
            .find(|r| r.database.up && !replicates_from(r, primary_addr) && broken(r).is_none())
        {
            return Decision::Replicate {
                replica: r.name.clone(),
                primary: primary.name.clone(),
            };
        }
        // Strict mode: a binlogged statement cannot commit until a replica
        // acknowledges, so the account waits for one.
        let can_commit = policy.sync_mode != SyncMode::Strict || p.semi_sync.clients > 0;
        if !p.app_account && can_commit {
            return Decision::CreateAppAccount {
                site: primary.name.clone(),
            };
        }
    }
    if observation.edge.up && observation.edge.active.as_deref() != Some(primary.name.as_str()) {
        return Decision::SwitchEdge {
            site: primary.name.clone(),
        };
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

/// Whether the primary is ready for the application: writable, with its account.
pub fn ready(observation: &Observation, memory: &Memory) -> bool {
    observation
        .site(&memory.primary)
        .is_some_and(|p| p.database.up && !p.database.read_only && p.database.app_account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{DatabaseStatus, EdgeObservation};
    use srs_mariadb::{ReplicaStatus, SemiSync};

    const PRIMARY_ADDR: &str = "127.0.0.1:3407";

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
                    name: "a".into(),
                    database: a,
                    apps_healthy: 2,
                    apps_total: 2,
                },
                SiteObservation {
                    name: "b".into(),
                    database: b,
                    apps_healthy: 0,
                    apps_total: 0,
                },
            ],
            edge: EdgeObservation {
                up: true,
                active: Some("a".into()),
            },
        }
    }

    fn memory() -> Memory {
        let mut m = Memory::new("a");
        m.epoch = 1;
        m.edge_seen = true;
        m
    }

    const STRICT: Policy = Policy {
        sync_mode: SyncMode::Strict,
        failure_threshold: 3,
    };
    const BOUNDED: Policy = Policy {
        sync_mode: SyncMode::Bounded { timeout_ms: 1000 },
        failure_threshold: 3,
    };

    fn down() -> DatabaseStatus {
        DatabaseStatus {
            read_only: true,
            error: Some("connection refused".into()),
            ..DatabaseStatus::default()
        }
    }

    type Change = fn(&mut Observation, &mut Memory);

    #[test]
    fn each_situation_has_one_next_step() {
        let cases: Vec<(&str, Policy, Change, Decision)> = vec![
            ("healthy", STRICT, |_, _| {}, Decision::Steady),
            (
                "fresh start: both read-only, nothing wired",
                STRICT,
                |o, m| {
                    *m = Memory::new("a");
                    o.sites[0].database = db(true, "");
                    o.sites[1].database = db(true, "");
                    o.edge = EdgeObservation::default();
                },
                Decision::Promote {
                    site: "a".into(),
                    epoch: 1,
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
                    site: "a".into(),
                    epoch: 4,
                },
            ),
            (
                "the other site is writable too: fence it first",
                STRICT,
                |o, _| o.sites[1].database.read_only = false,
                Decision::Fence { site: "b".into() },
            ),
            (
                "replica restarted with replication stopped",
                STRICT,
                |o, _| o.sites[1].database.replica = None,
                Decision::Replicate {
                    replica: "b".into(),
                    primary: "a".into(),
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
                    replica: "b".into(),
                    primary: "a".into(),
                },
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
                    site: "b".into(),
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
                Decision::CreateAppAccount { site: "a".into() },
            ),
            (
                "async: app account without a replica",
                Policy {
                    sync_mode: SyncMode::Async,
                    failure_threshold: 3,
                },
                |o, _| {
                    o.sites[0].database.app_account = false;
                    o.sites[0].database.semi_sync.clients = 0;
                },
                Decision::CreateAppAccount { site: "a".into() },
            ),
            (
                "edge routes elsewhere",
                STRICT,
                |o, _| o.edge.active = Some("b".into()),
                Decision::SwitchEdge { site: "a".into() },
            ),
            (
                "edge has no site yet",
                STRICT,
                |o, _| o.edge.active = None,
                Decision::SwitchEdge { site: "a".into() },
            ),
            (
                "one failed probe of the primary is not an outage",
                STRICT,
                |o, m| {
                    o.sites[0].database = down();
                    m.failures.insert("db:a".into(), 1);
                },
                Decision::Steady,
            ),
            (
                "primary down for three probes",
                STRICT,
                |o, m| {
                    o.sites[0].database = down();
                    m.failures.insert("db:a".into(), 3);
                },
                Decision::Raise(Alert::PrimaryUnreachable { site: "a".into() }),
            ),
            (
                "replica down for three probes, strict",
                STRICT,
                |o, m| {
                    o.sites[1].database = down();
                    m.failures.insert("db:b".into(), 3);
                },
                Decision::Raise(Alert::ReplicaUnreachable {
                    site: "b".into(),
                    strict: true,
                }),
            ),
            (
                "bounded mode fell back to async",
                BOUNDED,
                |o, _| o.sites[0].database.semi_sync.active = false,
                Decision::Raise(Alert::SemiSyncFallback { site: "a".into() }),
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
                        site: "a".into(),
                    }));
                },
                Decision::Clear(Alert::SemiSyncFallback { site: "a".into() }),
            ),
            (
                "a standing alert is not raised twice",
                BOUNDED,
                |o, m| {
                    o.sites[0].database.semi_sync.active = false;
                    m.apply(&Decision::Raise(Alert::SemiSyncFallback {
                        site: "a".into(),
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
                    site: "a".into(),
                    ahead: "b".into(),
                }),
            ),
            (
                "an edge not started yet is not down",
                STRICT,
                |o, m| {
                    o.edge = EdgeObservation::default();
                    m.edge_seen = false;
                    m.failures.insert("edge".into(), 9);
                },
                Decision::Steady,
            ),
            (
                "an edge that was up and stopped answering",
                STRICT,
                |o, m| {
                    o.edge = EdgeObservation::default();
                    m.failures.insert("edge".into(), 3);
                },
                Decision::Raise(Alert::EdgeUnreachable),
            ),
        ];
        for (name, policy, change, expected) in cases {
            let (mut o, mut m) = (healthy(), memory());
            change(&mut o, &mut m);
            assert_eq!(decide(&o, &m, policy, PRIMARY_ADDR), expected, "{name}");
        }
    }

    #[test]
    fn failures_are_counted_per_component_and_reset_on_success() {
        let mut m = memory();
        let mut o = healthy();
        o.sites[1].database = down();
        m.note(&o);
        m.note(&o);
        assert_eq!(m.failures.get("db:b"), Some(&2));
        m.note(&healthy());
        assert!(m.failures.is_empty());
    }

    #[test]
    fn promotion_sets_primary_and_epoch() {
        let mut m = Memory::new("a");
        m.apply(&Decision::Promote {
            site: "b".into(),
            epoch: 2,
        });
        assert_eq!((m.primary.as_str(), m.epoch), ("b", 2));
    }

    #[test]
    fn decisions_read_as_sentences() {
        assert_eq!(
            Decision::Promote {
                site: "a".into(),
                epoch: 1
            }
            .to_string(),
            "promote site 'a' to primary (epoch 1)"
        );
        assert!(
            Decision::Raise(Alert::SemiSyncFallback { site: "a".into() })
                .to_string()
                .contains("FELL BACK TO ASYNCHRONOUS")
        );
        assert!(!Decision::Steady.is_action());
        assert!(Decision::SwitchEdge { site: "a".into() }.is_action());
    }
}
