//! The last drill's verdict, kept in the cluster directory for `srs status`,
//! /admin/dr and the controller's /metrics (apart from the drill itself,
//! which writes it, so that reading it needs nothing of the drill).

use crate::cluster_dir::{ClusterDir, ClusterFile};

/// The last drill's verdict.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LastDrill {
    /// When it started.
    pub at: String,
    /// Which fault.
    pub fault: String,
    /// Runs made.
    pub runs: usize,
    /// Every run passed.
    pub passed: bool,
    /// RTO p95 over the runs, s.
    pub rto_p95_seconds: Option<f64>,
    /// Acknowledged creates lost in all runs.
    pub acknowledged_lost: u64,
    /// Where the report is.
    pub report: String,
}

impl LastDrill {
    /// Keeps it in `dir` (best effort: a drill's verdict is also in its
    /// report).
    pub(crate) fn save(&self, dir: &ClusterDir) {
        if let Ok(text) = serde_json::to_string_pretty(self) {
            let _ = std::fs::write(dir.file(ClusterFile::LastDrill), text);
        }
    }

    /// The last drill recorded in `dir`, if any.
    pub fn read(dir: &ClusterDir) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(dir.file(ClusterFile::LastDrill)).ok()?).ok()
    }
}
