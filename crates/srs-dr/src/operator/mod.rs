//! What an operator runs against a cluster: `srs status`, `srs failback`,
//! `srs topology split` (each a module here) and, in this file,
//! `srs switchover` and `srs failover`: hand the controller a request and
//! follow it through its events until the new primary takes writes behind
//! the edge, or the controller refuses.

pub mod failback;
pub mod request;
pub mod reseeding;
pub mod split;
pub mod status;

use crate::cluster_dir::ClusterDir;
use crate::controller::decide::DecisionKind;
use crate::controller::published::{Event, EventKind, EventLog, Published};
use crate::operator::request::OperatorRequest;
use crate::topology::Topology;
use serde::Serialize;
use srs_domain::SiteName;
use std::time::{Duration, Instant};

/// How long an operator command waits for the controller.
const WAIT: Duration = Duration::from_secs(60);
/// A controller that has not published for this long is not running.
const STALE: Duration = Duration::from_secs(10);

/// How a request ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// What was asked.
    pub request: OperatorRequest,
    /// The primary now.
    pub primary: SiteName,
    /// Its epoch.
    pub epoch: u64,
    /// How long it took, s.
    pub seconds: f64,
    /// The controller's events on the way, oldest first.
    pub events: Vec<Event>,
}

/// The site to move to: `to`, else the one that is not primary now.
pub fn target(data_dir: &ClusterDir, to: Option<SiteName>) -> anyhow::Result<SiteName> {
    let topology = Topology::of(data_dir)?;
    let primary = crate::controller::published::primary_site(&topology, data_dir).name;
    match to {
        Some(to) => {
            anyhow::ensure!(
                topology.site(&to).is_some(),
                "--to {to}: no such site (sites: {})",
                topology
                    .sites
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(to)
        }
        None => topology
            .sites
            .iter()
            .find(|s| s.name != primary)
            .map(|s| s.name.clone())
            .ok_or_else(|| anyhow::anyhow!("the topology has no second site")),
    }
}

/// Hands `request` to the running controller and waits for the outcome;
/// `on_event` sees each of the controller's events as it happens.
pub async fn request_and_wait(
    data_dir: &ClusterDir,
    request: OperatorRequest,
    mut on_event: impl FnMut(&Event),
) -> anyhow::Result<Outcome> {
    let running = Published::read(data_dir).and_then(|p| {
        let at = chrono::DateTime::parse_from_rfc3339(&p.observed_at).ok()?;
        let age = chrono::Utc::now() - at.with_timezone(&chrono::Utc);
        (age.to_std().unwrap_or(Duration::ZERO) < STALE).then_some(p)
    });
    anyhow::ensure!(
        running.is_some(),
        "no controller is running on {} (start `srs up`, or `srs controller --data-dir`)",
        data_dir
    );
    let to = request.target().clone();
    let seen = EventLog::tail(data_dir, usize::MAX).len();
    let began = Instant::now();
    request.submit(data_dir)?;
    let mut events = Vec::new();
    while began.elapsed() < WAIT {
        let all = EventLog::tail(data_dir, usize::MAX);
        for e in all.into_iter().skip(seen + events.len()) {
            on_event(&e);
            if e.kind == EventKind::Step(DecisionKind::Refuse) {
                anyhow::bail!("{}", e.what);
            }
            events.push(e);
        }
        let switched = events
            .iter()
            .any(|e| e.is_step(DecisionKind::SwitchEdge) && e.site.as_ref() == Some(&to));
        if let Some(p) = Published::read(data_dir) {
            if switched && p.memory.primary == to && p.ready {
                return Ok(Outcome {
                    request,
                    primary: to,
                    epoch: p.memory.epoch,
                    seconds: began.elapsed().as_secs_f64(),
                    events,
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!(
        "the controller did not finish the {request} within {} s; see `srs status` and its events",
        WAIT.as_secs()
    )
}
