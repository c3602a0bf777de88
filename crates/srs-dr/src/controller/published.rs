//! What the controller publishes for `srs status`, `srs up` and operator
//! commands: its memory (epoch, primary, alerts), readiness and last step;
//! and its event log, one JSON line per DR action.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use crate::controller::decide::{Decision, DecisionKind, Memory};
use crate::secrets::write_private;
use crate::topology::{Site, Topology};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use srs_domain::SiteName;
use std::io::Write;
use std::path::PathBuf;

/// The controller's state as last written.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    /// Epoch, primary, standing alerts.
    pub memory: Memory,
    /// The primary is writable and has the application's account.
    pub ready: bool,
    /// The last step, in words.
    pub last_decision: String,
    /// The last step's kind (absent in files older than it).
    #[serde(default)]
    pub last_decision_kind: Option<DecisionKind>,
    /// When it last observed the topology (RFC 3339).
    pub observed_at: String,
    /// The controller's process id.
    pub pid: u32,
    /// Write admission advice to the primary's app instances.
    #[serde(default)]
    pub admission: Option<crate::controller::admission::Advice>,
    /// How it holds its leadership (absent in files from before quorums).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<QuorumState>,
}

/// The controller's place in the quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumState {
    /// `local` (a lock file) or `etcd`.
    pub kind: String,
    /// Whether this controller leads (and so acts).
    pub leading: bool,
    /// The leader, as it named itself, when another one leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

impl Published {
    /// Reads the state file of `data_dir`, if the controller wrote one.
    pub fn read(data_dir: &ClusterDir) -> Option<Self> {
        let text = std::fs::read_to_string(data_dir.file(ClusterFile::ControllerState)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes it whole or not at all (a reader never sees half a file).
    pub fn write(&self, data_dir: &ClusterDir) -> anyhow::Result<()> {
        let tmp = data_dir.temporary(ClusterFile::ControllerState);
        write_private(&tmp, &serde_json::to_string_pretty(self)?)?;
        std::fs::rename(&tmp, data_dir.file(ClusterFile::ControllerState))
            .with_context(|| "Failed to replace the controller's state file")
    }
}

/// The site that is primary: the controller's word, else the site the
/// edge remembers routing to, else the topology's primary.
pub fn primary_site(topology: &Topology, data_dir: &ClusterDir) -> Site {
    let from_controller = Published::read(data_dir).map(|p| p.memory.primary);
    let from_edge = || {
        std::fs::read_to_string(data_dir.file(ClusterFile::EdgeState))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["active"].as_str().and_then(|s| SiteName::parse(s).ok()))
    };
    from_controller
        .or_else(from_edge)
        .and_then(|name| topology.site(&name).cloned())
        .unwrap_or_else(|| topology.primary().clone())
}

/// What an event is, for code: `srs switchover`, the drill and tests
/// match on this, never on the words, which are for people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A controller step: the decision it carried out, or tried.
    Step(DecisionKind),
    /// A controller started.
    ControllerStarted,
    /// A controller stopped.
    ControllerStopped,
    /// A controller took the lead and adopted the quorum's record.
    TookTheLead,
    /// The quorum granted the primary's site its write lease again.
    LeaseRegranted,
    /// The quorum survey steered the cluster (e.g. moved the lead).
    QuorumSteered,
    /// Writes were throttled for a lagging replica.
    WritesThrottled,
    /// The replica caught up; writes are no longer throttled.
    WritesUnthrottled,
    /// A site agent fenced its database after losing the quorum.
    SiteSelfFenced,
    /// A site agent regained the quorum (its database stays fenced).
    QuorumRegained,
    /// A scheduled backup was taken, or failed.
    Backup,
    /// A backup was proven restorable, or failed its trial restore.
    BackupVerified,
    /// Retention removed backups, or could not run.
    Retention,
    /// The second backup store was brought up to date, or could not be.
    SecondStore,
    /// Written by a version that did not record kinds.
    #[default]
    Unrecorded,
}

/// What an event is about: its kind and the sites it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct About {
    /// Its kind.
    pub kind: EventKind,
    /// The site acted on (a failover's or switchover's new primary).
    pub site: Option<SiteName>,
    /// The site it moved away from (a failover's or switchover's old
    /// primary, a replica's source).
    pub from: Option<SiteName>,
}

impl From<EventKind> for About {
    fn from(kind: EventKind) -> Self {
        Self {
            kind,
            site: None,
            from: None,
        }
    }
}

impl From<&Decision> for About {
    fn from(decision: &Decision) -> Self {
        let (site, from) = match decision {
            Decision::Failover { from, to, .. } | Decision::Switchover { from, to, .. } => {
                (Some(to.clone()), Some(from.clone()))
            }
            Decision::Replicate {
                replica, primary, ..
            } => (Some(replica.clone()), Some(primary.clone())),
            Decision::Refuse { request, .. } => (Some(request.target().clone()), None),
            Decision::Promote { site, .. }
            | Decision::Detach { site }
            | Decision::RestoreSync { site }
            | Decision::ScaleUp { site }
            | Decision::ScaleDown { site }
            | Decision::Fence { site }
            | Decision::RecordEpoch { site, .. }
            | Decision::CreateAppAccount { site }
            | Decision::SwitchEdge { site } => (Some(site.clone()), None),
            Decision::Steady | Decision::Raise(_) | Decision::Clear(_) => (None, None),
        };
        Self {
            kind: EventKind::Step(decision.kind()),
            site,
            from,
        }
    }
}

/// One DR event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// When (RFC 3339, milliseconds).
    pub at: String,
    /// The epoch at the time.
    pub epoch: u64,
    /// What it is.
    #[serde(default)]
    pub kind: EventKind,
    /// The site acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<SiteName>,
    /// The site moved away from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<SiteName>,
    /// What happened, in words, for people.
    pub what: String,
    /// It succeeded (false: it was tried and failed).
    pub ok: bool,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Event {
    /// A step of `kind` that succeeded.
    pub fn is_step(&self, kind: DecisionKind) -> bool {
        self.ok && self.kind == EventKind::Step(kind)
    }
}

/// The append-only event log.
pub struct EventLog {
    path: PathBuf,
}

/// Now, as RFC 3339 with milliseconds.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl EventLog {
    /// The log in `data_dir`.
    pub fn new(data_dir: &ClusterDir) -> Self {
        Self {
            path: data_dir.file(ClusterFile::Events),
        }
    }

    /// Appends an event and logs it.
    pub fn record(&self, epoch: u64, about: impl Into<About>, what: &str, error: Option<&str>) {
        let about = about.into();
        let event = Event {
            at: now_text(),
            epoch,
            kind: about.kind,
            site: about.site,
            from: about.from,
            what: what.to_owned(),
            ok: error.is_none(),
            error: error.map(str::to_owned),
        };
        match error {
            None => tracing::info!(epoch, event = %what, "dr event"),
            Some(e) => tracing::error!(epoch, event = %what, error = %e, "dr event failed"),
        }
        let appended = serde_json::to_string(&event)
            .map_err(anyhow::Error::from)
            .and_then(|line| {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?;
                writeln!(f, "{line}")?;
                Ok(())
            });
        if let Err(e) = appended {
            tracing::error!(error = %e, file = %self.path.display(), "could not append to the event log");
        }
    }

    /// The last `n` events, oldest first.
    pub fn tail(data_dir: &ClusterDir, n: usize) -> Vec<Event> {
        let text = std::fs::read_to_string(data_dir.file(ClusterFile::Events)).unwrap_or_default();
        let events: Vec<Event> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let skip = events.len().saturating_sub(n);
        events.into_iter().skip(skip).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_keeps_its_kind_and_sites_and_old_lines_still_read() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = ClusterDir::new(tmp.path());
        let log = EventLog::new(&dir);
        let failover = Decision::Failover {
            from: SiteName::parse("a").expect("site"),
            to: SiteName::parse("b").expect("site"),
            epoch: 3,
            at_ms: 0,
            reason: "site 'a' is down".into(),
        };
        log.record(3, &failover, &failover.to_string(), None);
        let old = r#"{"at":"2026-01-01T00:00:00.000Z","epoch":1,"what":"fail over from site 'a' to site 'b'","ok":true}"#;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.file(ClusterFile::Events))
            .expect("open the log");
        writeln!(f, "{old}").expect("append");
        let events = EventLog::tail(&dir, 10);
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].is_step(DecisionKind::Failover));
        assert_eq!(events[0].site.as_ref().map(SiteName::as_str), Some("b"));
        assert_eq!(events[0].from.as_ref().map(SiteName::as_str), Some("a"));
        assert_eq!(events[1].kind, EventKind::Unrecorded);
        assert!(!events[1].is_step(DecisionKind::Failover));
    }
}
