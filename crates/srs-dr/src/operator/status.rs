//! `srs status`: each site's database, replication and app instances, and
//! where the edge routes, as a table or JSON.

use crate::cluster_dir::ClusterDir;
use crate::controller::decide::Alert;
use crate::controller::observe::{DatabaseStatus, Observer};
use crate::controller::published::{primary_site, Event, EventLog, Published};
use serde::Serialize;
use srs_domain::{SiteName, SiteRole};

/// A controller that has not published for this long is reported as not running.
const CONTROLLER_STALE_SECS: i64 = 10;

/// A survey of the quorum older than this is called stale (one a second).
const SURVEY_STALE_SECS: i64 = 10;

/// One site.
#[derive(Debug, Clone, Serialize)]
pub struct SiteStatus {
    /// Name.
    pub name: SiteName,
    /// Primary or replica, as the controller decided.
    pub role: SiteRole,
    /// Its database.
    pub database: DatabaseStatus,
    /// Transactions the primary has that this replica has not applied.
    pub lag_transactions: Option<u64>,
    /// App instances answering `/readyz`.
    pub apps_healthy: usize,
    /// App instances configured (standby ones included).
    pub apps_total: usize,
    /// Of those, standby instances (run only while the site is primary).
    pub standby_total: usize,
}

/// The controller as it last published itself.
#[derive(Debug, Clone, Serialize)]
pub struct ControllerStatus {
    /// The primary's epoch.
    pub epoch: u64,
    /// The site it made primary.
    pub primary: SiteName,
    /// The primary takes writes.
    pub ready: bool,
    /// Its last step.
    pub last_decision: String,
    /// When it last observed (RFC 3339).
    pub observed_at: String,
    /// Seconds since then.
    pub age_secs: i64,
    /// It published recently.
    pub running: bool,
    /// Standing alerts.
    pub alerts: Vec<Alert>,
    /// Write admission advice.
    pub admission: Option<crate::controller::admission::Advice>,
    /// Its place in the quorum (leads, or follows whom).
    pub quorum: Option<crate::controller::published::QuorumState>,
}

/// The whole topology.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The sync mode.
    pub sync_mode: String,
    /// Both sites.
    pub sites: Vec<SiteStatus>,
    /// Where the edge routes, as it says itself.
    pub edge_active: Option<SiteName>,
    /// The edge answered.
    pub edge_up: bool,
    /// The controller, if it ever ran here.
    pub controller: Option<ControllerStatus>,
    /// The latest DR events, oldest first.
    pub events: Vec<Event>,
    /// The last `srs drill` on this cluster.
    pub last_drill: Option<crate::last_drill::LastDrill>,
    /// Backups and the binlog archive, when the backup agent runs.
    pub backups: Option<crate::backups::BackupState>,
    /// The last survey of the quorum taken here (etcd only).
    pub quorum: Option<crate::quorum::survey::Survey>,
}

fn controller_status(data_dir: &ClusterDir) -> Option<ControllerStatus> {
    let p = Published::read(data_dir)?;
    let age_secs = chrono::DateTime::parse_from_rfc3339(&p.observed_at)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(i64::MAX);
    Some(ControllerStatus {
        epoch: p.memory.epoch,
        primary: p.memory.primary,
        ready: p.ready,
        last_decision: p.last_decision,
        observed_at: p.observed_at,
        age_secs,
        running: age_secs <= CONTROLLER_STALE_SECS,
        alerts: p.memory.alerts.into_values().collect(),
        admission: p.admission,
        quorum: p.quorum,
    })
}

/// Reads the state of the topology in `data_dir`.
pub async fn collect(data_dir: &ClusterDir) -> anyhow::Result<Status> {
    let crate::Cluster {
        topology, secrets, ..
    } = crate::Cluster::open(data_dir)?;
    let primary = primary_site(&topology, data_dir);
    let sync_mode = topology.sync_mode().to_string();
    let observer = Observer::new(topology, secrets, data_dir)?;
    let observation = observer.observe().await;
    observer.close().await;
    let lags: Vec<Option<u64>> = observation
        .sites
        .iter()
        .map(|s| observation.lag_transactions(&primary.name, s))
        .collect();
    let sites = observation
        .sites
        .into_iter()
        .zip(lags)
        .map(|(s, lag_transactions)| {
            let is_primary = s.name == primary.name;
            SiteStatus {
                role: if is_primary {
                    SiteRole::Primary
                } else {
                    SiteRole::Replica
                },
                name: s.name,
                database: s.database,
                lag_transactions,
                apps_healthy: s.apps_healthy,
                apps_total: s.apps_total,
                standby_total: s.standby_total,
            }
        })
        .collect();
    Ok(Status {
        sync_mode,
        sites,
        edge_active: observation.edge.active,
        edge_up: observation.edge.up,
        controller: controller_status(data_dir),
        events: EventLog::tail(data_dir, 8),
        last_drill: crate::last_drill::LastDrill::read(data_dir),
        backups: crate::backups::BackupState::read(data_dir),
        quorum: crate::quorum::survey::Survey::read(data_dir),
    })
}

/// The controller in words.
pub fn controller_text(status: &Status) -> String {
    match &status.controller {
        None => "never ran here".into(),
        Some(c) if !c.running => format!(
            "NOT RUNNING (last seen {} s ago; epoch {}, primary '{}')",
            c.age_secs, c.epoch, c.primary
        ),
        Some(c) if c.quorum.as_ref().is_some_and(|q| !q.leading) => format!(
            "follows {} (etcd quorum; the leader acts); last known epoch {}, primary '{}'",
            c.quorum
                .as_ref()
                .and_then(|q| q.leader.as_deref())
                .unwrap_or("no leader it can reach"),
            c.epoch,
            c.primary
        ),
        Some(c) => format!(
            "{}epoch {}, primary '{}', {}; last step: {}{}",
            if c.quorum.as_ref().is_some_and(|q| q.kind == "etcd") {
                "leads the cluster (etcd quorum); "
            } else {
                ""
            },
            c.epoch,
            c.primary,
            if c.ready { "ready" } else { "NOT READY" },
            c.last_decision,
            c.admission.map(admission_text).unwrap_or_default()
        ),
    }
}

fn admission_text(a: crate::controller::admission::Advice) -> String {
    let lag = a
        .lag_seconds
        .map(|s| format!("{s:.2} s"))
        .unwrap_or_else(|| "unknown".into());
    if a.write_concurrency >= crate::controller::admission::UNLIMITED {
        format!(
            "; writes unthrottled (apply lag {lag}, budget {:.1} s)",
            a.budget_seconds
        )
    } else {
        format!(
            "; WRITES THROTTLED to {} at once per app instance (apply lag {lag}, budget {:.1} s)",
            a.write_concurrency, a.budget_seconds
        )
    }
}

/// The last drill in words.
pub fn drill_text(status: &Status) -> String {
    match &status.last_drill {
        None => "none recorded (run `srs drill`)".into(),
        Some(d) => format!(
            "{} at {}: {} of {} run(s), RTO p95 {}, {} acknowledged write(s) lost; report {}",
            d.fault,
            d.at,
            if d.passed { "PASSED" } else { "FAILED" },
            d.runs,
            d.rto_p95_seconds
                .map_or("-".into(), |s| format!("{s:.2} s")),
            d.acknowledged_lost,
            d.report
        ),
    }
}

/// Standing alerts in words: the controller's, then the backups'.
pub fn alert_texts(status: &Status) -> Vec<String> {
    let now = chrono::Utc::now();
    status
        .controller
        .iter()
        .flat_map(|c| c.alerts.iter().map(ToString::to_string))
        .chain(status.backups.iter().flat_map(|b| b.alerts(now)))
        .collect()
}

/// The backups in one line.
pub fn backups_text(status: &Status) -> String {
    status.backups.as_ref().map_or_else(
        || "no backup agent has run here (`srs backup create`, or `[backup]` in the topology under srs up)".into(),
        crate::backups::BackupState::summary,
    )
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
    pub name: SiteName,
    /// Its role now.
    pub role: SiteRole,
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
    /// Its lease in the quorum ("-" without one).
    pub lease: String,
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

/// The last survey of the quorum, when the cluster has one.
fn survey(status: &Status) -> Option<&crate::quorum::survey::Survey> {
    let etcd = status
        .controller
        .as_ref()
        .and_then(|c| c.quorum.as_ref())
        .is_some_and(|q| q.kind == "etcd");
    status.quorum.as_ref().filter(|_| etcd)
}

/// The quorum's members and site leases in one line (None on one machine,
/// where a lock file stands in for the quorum).
pub fn quorum_text(status: &Status) -> Option<String> {
    let c = status.controller.as_ref()?;
    c.quorum.as_ref().filter(|q| q.kind == "etcd")?;
    Some(match survey(status) {
        Some(survey) => match survey.age_secs() {
            Some(age) if age > SURVEY_STALE_SECS => format!(
                "{} (STALE: surveyed {age} s ago, at {}; is the controller candidate running?)",
                survey.summary(),
                survey.at
            ),
            _ => format!("{} (surveyed {})", survey.summary(), survey.at),
        },
        None => "not surveyed yet".into(),
    })
}

/// A site's lease as the last survey found it.
fn lease_text(status: &Status, site: &SiteName) -> String {
    survey(status)
        .and_then(|s| s.sites.iter().find(|l| l.site == *site))
        .map_or_else(
            || "-".into(),
            |l| {
                match (l.holds_lease, l.may_write) {
                    (true, true) => "may write",
                    (true, false) => "held",
                    (false, _) => "NONE",
                }
                .into()
            },
        )
}

/// Every site as a row.
pub fn rows(status: &Status) -> Vec<Row> {
    status
        .sites
        .iter()
        .map(|s| {
            let d = &s.database;
            let gtid = crate::gtid::highest(&d.current_pos());
            Row {
                name: s.name.clone(),
                role: s.role,
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
                lag: match (&d.replica, s.lag_transactions) {
                    (Some(r), txn) => format!(
                        "{}/{}",
                        r.seconds_behind
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "?".into()),
                        txn.map(|t| t.to_string()).unwrap_or_else(|| "?".into())
                    ),
                    (None, _) => "-".into(),
                },
                semi_sync: if s.role == SiteRole::Primary {
                    let state = match (d.semi_sync.enabled, d.semi_sync.active) {
                        (true, true) => "on",
                        (true, false) => "FELL BACK",
                        (false, _) => "off",
                    };
                    format!("{state} ({})", d.semi_sync.clients)
                } else {
                    "-".into()
                },
                apps: if s.standby_total > 0 {
                    format!(
                        "{}/{} ({} standby)",
                        s.apps_healthy, s.apps_total, s.standby_total
                    )
                } else {
                    format!("{}/{}", s.apps_healthy, s.apps_total)
                },
                lease: lease_text(status, &s.name),
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
        "sync mode: {}   edge: {}\ncontroller: {}\n",
        status.sync_mode,
        edge_text(status),
        controller_text(status)
    );
    if let Some(quorum) = quorum_text(status) {
        out.push_str(&format!("quorum: {quorum}\n"));
    }
    out.push_str(&format!("last drill: {}\n", drill_text(status)));
    out.push_str(&format!("backups: {}\n", backups_text(status)));
    for alert in alert_texts(status) {
        out.push_str(&format!("ALERT: {alert}\n"));
    }
    out.push('\n');
    // The lease column only where a quorum hands out leases.
    let leases = quorum_text(status).is_some();
    let line = |cells: [&str; 11]| {
        let [name, role, db, ro, gtid, threads, lag, semi, apps, lease, note] = cells;
        let lease = if leases {
            format!("{lease:<10} ")
        } else {
            String::new()
        };
        format!(
            "{name:<10} {role:<8} {db:<5} {ro:<9} {gtid:<18} {threads:<9} {lag:<11} {semi:<13} {apps:<16} {lease}{note}\n"
        )
    };
    out.push_str(&line([
        "SITE",
        "ROLE",
        "DB",
        "READ-ONLY",
        "GTID",
        "IO/SQL",
        "LAG s/txn",
        "SEMI-SYNC",
        "APPS",
        "LEASE",
        "NOTE",
    ]));
    for r in rows(status) {
        out.push_str(&line([
            r.name.as_str(),
            &r.role.to_string(),
            &r.database,
            yes(r.read_only),
            &r.gtid,
            &r.threads,
            &r.lag,
            &r.semi_sync,
            &r.apps,
            &r.lease,
            &r.note,
        ]));
    }
    if !status.events.is_empty() {
        out.push_str("\nRECENT EVENTS\n");
        for e in &status.events {
            let outcome = e
                .error
                .as_deref()
                .map(|err| format!(" FAILED: {err}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{}  [epoch {}] {}{}\n",
                e.at, e.epoch, e.what, outcome
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    #[test]
    fn the_controller_line_says_who_leads_the_quorum() {
        let controller = |quorum| ControllerStatus {
            epoch: 2,
            primary: SiteName::parse("b").expect("valid"),
            ready: true,
            last_decision: "steady".into(),
            observed_at: String::new(),
            age_secs: 0,
            running: true,
            alerts: Vec::new(),
            admission: None,
            quorum,
        };
        let status = |c| Status {
            sync_mode: "strict".into(),
            sites: Vec::new(),
            edge_active: None,
            edge_up: true,
            controller: Some(c),
            events: Vec::new(),
            last_drill: None,
            backups: None,
            quorum: None,
        };
        let leads = controller_text(&status(controller(Some(
            crate::controller::published::QuorumState {
                kind: "etcd".into(),
                leading: true,
                leader: None,
            },
        ))));
        assert!(
            leads.starts_with("leads the cluster (etcd quorum); epoch 2"),
            "{leads}"
        );
        let follows = controller_text(&status(controller(Some(
            crate::controller::published::QuorumState {
                kind: "etcd".into(),
                leading: false,
                leader: Some("controller of site a".into()),
            },
        ))));
        assert!(
            follows.starts_with("follows controller of site a"),
            "{follows}"
        );
        let local = controller_text(&status(controller(None)));
        assert!(local.starts_with("epoch 2, primary 'b', ready"), "{local}");
    }

    #[test]
    fn the_table_shows_the_quorum_and_each_sites_lease_only_with_a_quorum() {
        use crate::quorum::survey::{MemberState, SiteLeaseState, Survey};
        let name = |n: &str| SiteName::parse(n).expect("valid");
        let member = |endpoint: &str, up: bool| MemberState {
            endpoint: endpoint.into(),
            id: 1,
            witness: endpoint.contains(".3:"),
            up,
            raft_leader: false,
            has_leader: up,
        };
        let survey = Survey {
            at: "2026-12-05T16:00:00.000Z".into(),
            members: vec![
                member("http://10.0.0.1:2379", true),
                member("http://10.0.0.2:2379", true),
                member("http://10.0.0.3:2379", false),
            ],
            sites: vec![
                SiteLeaseState {
                    site: name("a"),
                    holds_lease: true,
                    may_write: true,
                },
                SiteLeaseState {
                    site: name("b"),
                    holds_lease: false,
                    may_write: false,
                },
            ],
            primary: None,
        };
        let site = |n: &str| SiteStatus {
            name: name(n),
            role: SiteRole::Replica,
            database: DatabaseStatus::default(),
            lag_transactions: None,
            apps_healthy: 0,
            apps_total: 1,
            standby_total: 0,
        };
        let status = |quorum: Option<crate::controller::published::QuorumState>| Status {
            sync_mode: "strict".into(),
            sites: vec![site("a"), site("b")],
            edge_active: None,
            edge_up: true,
            controller: Some(ControllerStatus {
                epoch: 1,
                primary: name("a"),
                ready: true,
                last_decision: "steady".into(),
                observed_at: String::new(),
                age_secs: 0,
                running: true,
                alerts: Vec::new(),
                admission: None,
                quorum: quorum.clone(),
            }),
            events: Vec::new(),
            last_drill: None,
            backups: None,
            // A survey file left from a three-host past shows only while
            // the controller holds an etcd quorum.
            quorum: Some(survey.clone()),
        };
        let table = render(&status(Some(crate::controller::published::QuorumState {
            kind: "etcd".into(),
            leading: true,
            leader: None,
        })));
        assert!(
            table.contains("quorum: 2/3 members up (")
                && table.contains("http://10.0.0.3:2379 (witness) DOWN or unreachable")
                && table.contains("STALE"),
            "{table}"
        );
        let row = |site: &str| {
            table
                .lines()
                .find(|l| l.starts_with(&format!("{site} ")))
                .unwrap_or_default()
                .to_owned()
        };
        assert!(table.contains(" LEASE "), "{table}");
        assert!(row("a").contains("may write"), "{table}");
        assert!(row("b").contains("NONE"), "{table}");

        let one_machine = render(&status(None));
        assert!(!one_machine.contains("quorum:"), "{one_machine}");
        assert!(!one_machine.contains(" LEASE "), "{one_machine}");
    }

    #[test]
    fn reading_the_status_can_run_on_any_runtime_thread() {
        // Compiles only while the future is Send: /admin/dr awaits it
        // inside a request handler rather than on a blocking thread.
        let dir = ClusterDir::new(std::env::temp_dir().join("srs-status-send-check"));
        let future = collect(&dir);
        is_send(&future);
        drop(future);
        let future = crate::controller::run(&dir, "test", std::future::pending());
        is_send(&future);
    }
}
