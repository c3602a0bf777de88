//! What the controller publishes for `srs status`, `srs up` and operator
//! commands: its memory (epoch, primary, alerts), readiness and last step;
//! and its event log, one JSON line per DR action.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use crate::decide::Memory;
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
    /// When it last observed the topology (RFC 3339).
    pub observed_at: String,
    /// The controller's process id.
    pub pid: u32,
    /// Write admission advice to the primary's app instances.
    #[serde(default)]
    pub admission: Option<crate::admission::Advice>,
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

/// One DR event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// When (RFC 3339, milliseconds).
    pub at: String,
    /// The epoch at the time.
    pub epoch: u64,
    /// What happened, in words.
    pub what: String,
    /// It succeeded (false: it was tried and failed).
    pub ok: bool,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
    pub fn record(&self, epoch: u64, what: &str, error: Option<&str>) {
        let event = Event {
            at: now_text(),
            epoch,
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
