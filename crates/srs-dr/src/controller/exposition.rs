//! The controller's own HTTP endpoint: `/healthz` (alive), `/readyz` (the
//! primary takes writes), `/admission` (how many writes app instances may
//! run at once, and which site holds the primary epoch) and Prometheus `/metrics` (epoch, alerts, steps, probe
//! failures, replication lag).

use crate::controller::admission::Advice;
use crate::controller::decide::Memory;
use crate::controller::observe::Observation;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use srs_domain::SiteName;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// What the endpoint shows, as of the controller's last step.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The controller's memory.
    pub memory: Option<Memory>,
    /// The primary takes writes.
    pub ready: bool,
    /// The last observation.
    pub observation: Observation,
    /// Steps carried out, by decision kind.
    pub steps: BTreeMap<crate::controller::decide::DecisionKind, u64>,
    /// Steps that failed, by decision kind.
    pub failed_steps: BTreeMap<crate::controller::decide::DecisionKind, u64>,
    /// What app instances are told about admitting writes.
    pub advice: Option<Advice>,
    /// The processes `srs up` runs, when it runs this topology.
    pub children: Vec<crate::supervisor::ChildInfo>,
    /// What the backup agent last reported.
    pub backups: Option<crate::backups::BackupState>,
    /// The verdict of the last `srs drill` on this topology.
    pub last_drill: Option<crate::last_drill::LastDrill>,
    /// Its place in the quorum (etcd).
    pub quorum: Option<crate::controller::published::QuorumState>,
    /// The survey task's last survey of the quorum.
    pub survey: Option<crate::quorum::survey::LastSurvey>,
}

/// The snapshot shared between the loop and the endpoint.
pub type Shared = Arc<Mutex<Snapshot>>;

fn read<T>(shared: &Shared, f: impl FnOnce(&Snapshot) -> T) -> T {
    // A poisoned lock only means a panic elsewhere; the numbers are still good.
    let guard = shared.lock().unwrap_or_else(|e| e.into_inner());
    f(&guard)
}

/// Prometheus text for a snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(String, f64)]| {
        write_gauge(&mut out, name, help, samples);
    };
    let epoch = s.memory.as_ref().map_or(0, |m| m.epoch);
    gauge(
        "srs_controller_epoch",
        "The primary's epoch.",
        &[(String::new(), epoch as f64)],
    );
    gauge(
        "srs_controller_ready",
        "1 when the primary takes writes.",
        &[(String::new(), f64::from(u8::from(s.ready)))],
    );
    let alerts: Vec<(String, f64)> = s
        .memory
        .iter()
        .flat_map(|m| m.alerts.keys())
        .map(|key| {
            let site = key.site.as_ref().map_or("", SiteName::as_str);
            (
                format!("{{kind=\"{}\",site=\"{site}\"}}", key.kind.as_str()),
                1.0,
            )
        })
        .collect();
    gauge(
        "srs_controller_alert",
        "Standing alerts (1 while raised).",
        &alerts,
    );
    let primary = s.memory.as_ref().map(|m| m.primary.as_str()).unwrap_or("");
    let mut up = Vec::new();
    let mut lag_txn = Vec::new();
    let mut lag_secs = Vec::new();
    for site in &s.observation.sites {
        let label = format!("{{site=\"{}\"}}", site.name);
        up.push((label.clone(), f64::from(u8::from(site.database.up))));
        if let Some(txn) = s.observation.lag_transactions(primary, site) {
            lag_txn.push((label.clone(), txn as f64));
            if let Some(secs) = site
                .database
                .replica
                .as_ref()
                .and_then(|r| r.seconds_behind)
            {
                lag_secs.push((label, secs as f64));
            }
        }
    }
    gauge(
        "srs_site_database_up",
        "1 when the site's database answers.",
        &up,
    );
    gauge(
        "srs_replica_lag_transactions",
        "Transactions the primary has that the replica has not applied.",
        &lag_txn,
    );
    gauge(
        "srs_replica_lag_seconds",
        "Apply lag as the replica estimates it.",
        &lag_secs,
    );
    let advice = s.advice.as_ref();
    gauge(
        "srs_admission_write_concurrency",
        "Writes each primary app instance may run at once (64: unthrottled).",
        &[(
            String::new(),
            advice.map_or(f64::from(crate::controller::admission::UNLIMITED), |a| {
                f64::from(a.write_concurrency)
            }),
        )],
    );
    gauge(
        "srs_replica_lag_budget_seconds",
        "The apply lag budget (apply_lag_budget_ms): a failover waits at most about this long for the replica.",
        &advice
            .map(|a| vec![(String::new(), a.budget_seconds)])
            .unwrap_or_default(),
    );
    gauge(
        "srs_replica_lag_estimate_seconds",
        "The replica's apply backlog at its recent apply rate.",
        &advice
            .and_then(|a| a.lag_seconds)
            .map(|s| vec![(String::new(), s)])
            .unwrap_or_default(),
    );
    let mut counter =
        |name: &str,
         help: &str,
         samples: &BTreeMap<crate::controller::decide::DecisionKind, u64>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (kind, n) in samples {
                let _ = writeln!(out, "{name}{{decision=\"{}\"}} {n}", kind.as_str());
            }
        };
    counter(
        "srs_controller_steps_total",
        "Steps carried out, by decision.",
        &s.steps,
    );
    counter(
        "srs_controller_failed_steps_total",
        "Steps that failed, by decision.",
        &s.failed_steps,
    );
    let _ = writeln!(
        out,
        "# HELP srs_up_child_exits_total Unexpected exits of processes srs up runs (each is restarted).\n# TYPE srs_up_child_exits_total counter"
    );
    for c in &s.children {
        let site = c.site.as_ref().map_or("", |s| s.as_str());
        let _ = writeln!(
            out,
            "srs_up_child_exits_total{{kind=\"{}\",site=\"{site}\",port=\"{}\"}} {}",
            c.kind, c.port, c.exits
        );
    }
    if let Some(b) = &s.backups {
        render_backups(&mut out, b);
    }
    if let Some(d) = &s.last_drill {
        render_drill(&mut out, d);
    }
    if let Some(q) = s.quorum.as_ref().filter(|q| q.kind == "etcd") {
        let survey = s
            .survey
            .as_ref()
            .and_then(|last| last.lock().unwrap_or_else(|e| e.into_inner()).clone());
        render_quorum(&mut out, q, survey.as_ref());
    }
    out
}

/// The quorum as this candidate sees it: a member down anywhere shows on
/// every candidate that can still reach the others.
fn render_quorum(
    out: &mut String,
    q: &crate::controller::published::QuorumState,
    survey: Option<&crate::quorum::survey::Survey>,
) {
    let flag = |b: bool| f64::from(u8::from(b));
    write_gauge(
        out,
        "srs_quorum_leading",
        "1 when this controller candidate leads the cluster.",
        &[(String::new(), flag(q.leading))],
    );
    let Some(survey) = survey else {
        return;
    };
    let members: Vec<(String, f64)> = survey
        .members
        .iter()
        .map(|m| {
            (
                format!("{{member=\"{}\"}}", m.endpoint),
                flag(m.up && m.has_leader),
            )
        })
        .collect();
    write_gauge(
        out,
        "srs_quorum_member_up",
        "1 when the etcd member answers and follows a raft leader.",
        &members,
    );
    let (up, all) = survey.members_up();
    write_gauge(
        out,
        "srs_quorum_members_up",
        "etcd members up, of srs_quorum_members.",
        &[(String::new(), up as f64)],
    );
    write_gauge(
        out,
        "srs_quorum_members",
        "etcd members in the topology.",
        &[(String::new(), all as f64)],
    );
    let per_site = |value: fn(&crate::quorum::survey::SiteLeaseState) -> bool| {
        survey
            .sites
            .iter()
            .map(|l| (format!("{{site=\"{}\"}}", l.site), flag(value(l))))
            .collect::<Vec<_>>()
    };
    write_gauge(
        out,
        "srs_site_lease_held",
        "1 while the site's agent holds its lease in the quorum.",
        &per_site(|l| l.holds_lease),
    );
    write_gauge(
        out,
        "srs_site_writes_granted",
        "1 while the quorum grants the site writes (it holds the primary epoch on its live lease).",
        &per_site(|l| l.may_write),
    );
}

/// One gauge family in Prometheus text: its help, type and samples
/// (labels already in braces, or empty).
fn write_gauge(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

fn render_drill(out: &mut String, d: &crate::last_drill::LastDrill) {
    let at = chrono::DateTime::parse_from_rfc3339(&d.at).map_or(0, |t| t.timestamp());
    let _ = writeln!(
        out,
        "# HELP srs_drill_last_timestamp_seconds When the last drill started.\n# TYPE srs_drill_last_timestamp_seconds gauge\nsrs_drill_last_timestamp_seconds{{fault=\"{fault}\"}} {at}\n\
         # HELP srs_drill_last_passed 1 when every run of the last drill kept every promise.\n# TYPE srs_drill_last_passed gauge\nsrs_drill_last_passed{{fault=\"{fault}\"}} {passed}\n\
         # HELP srs_drill_last_rto_seconds The last drill's recovery time (p95 over its runs).\n# TYPE srs_drill_last_rto_seconds gauge\nsrs_drill_last_rto_seconds{{fault=\"{fault}\"}} {rto}\n\
         # HELP srs_drill_last_acknowledged_lost Acknowledged writes the last drill found lost.\n# TYPE srs_drill_last_acknowledged_lost gauge\nsrs_drill_last_acknowledged_lost{{fault=\"{fault}\"}} {lost}",
        fault = d.fault,
        passed = u8::from(d.passed),
        rto = d.rto_p95_seconds.unwrap_or(f64::NAN),
        lost = d.acknowledged_lost,
    );
}

fn render_backups(out: &mut String, b: &crate::backups::BackupState) {
    let mut gauge = |name: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    let stamp = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(0.0, |t| t.timestamp() as f64);
    gauge(
        "srs_backup_last_success_timestamp_seconds",
        "When the last successful backup finished (0: none).",
        stamp(b.last_success.as_ref().map(|r| r.at)),
    );
    gauge(
        "srs_backup_last_success_bytes",
        "Compressed size of the last successful backup.",
        b.last_success.as_ref().map_or(0.0, |r| r.bytes as f64),
    );
    gauge(
        "srs_backup_last_attempt_ok",
        "1 when the last backup attempt succeeded.",
        f64::from(u8::from(b.last_attempt.as_ref().is_none_or(|r| r.ok))),
    );
    gauge(
        "srs_backup_last_verification_ok",
        "1 when the last trial restore matched its manifest.",
        f64::from(u8::from(b.last_verification.as_ref().is_none_or(|v| v.ok))),
    );
    gauge(
        "srs_backup_last_restore_seconds",
        "How long the last trial restore took.",
        b.last_verification.as_ref().map_or(0.0, |v| v.restore_secs),
    );
    gauge(
        "srs_backup_proven_restorable_timestamp_seconds",
        "The snapshot time of the newest backup proven by a trial restore (0: none).",
        stamp(b.proven_point),
    );
    gauge(
        "srs_backup_count",
        "Backups in the store.",
        b.backups as f64,
    );
    let _ = writeln!(
        out,
        "# HELP srs_backup_failures_total Failed backups and verifications since the agent started.\n# TYPE srs_backup_failures_total counter\nsrs_backup_failures_total{{what=\"backup\"}} {}\nsrs_backup_failures_total{{what=\"verify\"}} {}",
        b.failures, b.verify_failures
    );
    if let Some(a) = &b.archive {
        let mut gauge = |name: &str, help: &str, value: f64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "srs_backup_archive_rpo_seconds",
            "How far the binlog archive is behind the primary (0: it holds the newest transaction).",
            a.rpo_secs,
        );
        gauge(
            "srs_backup_archive_copying",
            "1 while the binlog copy runs.",
            f64::from(u8::from(a.copying)),
        );
        gauge(
            "srs_backup_archive_gaps",
            "Missing transaction ranges in the binlog archive.",
            a.gaps as f64,
        );
    }
    if let Some(second) = &b.second_store {
        let _ = writeln!(
            out,
            "# HELP srs_backup_second_store_copy_timestamp_seconds When the last copy to the second store completed (0: none).\n# TYPE srs_backup_second_store_copy_timestamp_seconds gauge\nsrs_backup_second_store_copy_timestamp_seconds {}\n# HELP srs_backup_second_store_ok 1 when the last copy to the second store succeeded.\n# TYPE srs_backup_second_store_ok gauge\nsrs_backup_second_store_ok {}",
            second.last_copy_at.map_or(0, |t| t.timestamp()),
            u8::from(second.error.is_none())
        );
    }
}

async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        read(&shared, render),
    )
}

/// What `/admission` tells app instances: the write advice, and which site
/// holds the primary epoch (instances of any other site refuse writes).
#[derive(Debug, serde::Serialize)]
struct AdmissionAnswer {
    #[serde(flatten)]
    advice: Advice,
    primary_site: SiteName,
    epoch: u64,
}

async fn admission(State(shared): State<Shared>) -> impl IntoResponse {
    let answer = read(&shared, |s| {
        let memory = s.memory.as_ref()?;
        Some(AdmissionAnswer {
            advice: s.advice?,
            primary_site: memory.primary.clone(),
            epoch: memory.epoch,
        })
    });
    match answer {
        Some(a) => axum::Json(a).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no observation yet").into_response(),
    }
}

async fn ready(State(shared): State<Shared>) -> impl IntoResponse {
    if read(&shared, |s| s.ready) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "the primary is not ready")
    }
}

/// Serves the endpoint on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/admission", get(admission))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::published::QuorumState;
    use crate::quorum::survey::{MemberState, SiteLeaseState, Survey};

    #[test]
    fn a_candidate_of_an_etcd_quorum_exports_its_survey() {
        let survey = Survey {
            at: "2026-12-05T16:00:00.000Z".into(),
            members: vec![
                MemberState {
                    endpoint: "http://10.0.0.1:2379".into(),
                    id: 1,
                    witness: false,
                    up: true,
                    raft_leader: false,
                    has_leader: true,
                },
                MemberState {
                    endpoint: "http://10.0.0.3:2379".into(),
                    id: 3,
                    witness: true,
                    up: false,
                    raft_leader: false,
                    has_leader: false,
                },
            ],
            sites: vec![SiteLeaseState {
                site: SiteName::parse("a").expect("valid"),
                holds_lease: true,
                may_write: true,
            }],
            primary: None,
        };
        let snapshot = Snapshot {
            quorum: Some(QuorumState {
                kind: "etcd".into(),
                leading: true,
                leader: None,
            }),
            survey: Some(Arc::new(Mutex::new(Some(survey)))),
            ..Snapshot::default()
        };
        let text = render(&snapshot);
        for line in [
            "srs_quorum_leading 1",
            "srs_quorum_member_up{member=\"http://10.0.0.1:2379\"} 1",
            "srs_quorum_member_up{member=\"http://10.0.0.3:2379\"} 0",
            "srs_quorum_members_up 1",
            "srs_quorum_members 2",
            "srs_site_lease_held{site=\"a\"} 1",
            "srs_site_writes_granted{site=\"a\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        let one_machine = render(&Snapshot {
            quorum: Some(QuorumState {
                kind: "local".into(),
                leading: true,
                leader: None,
            }),
            ..Snapshot::default()
        });
        assert!(!one_machine.contains("srs_quorum_"), "{one_machine}");
    }
}
