//! What an operator asks the controller to do (`srs switchover`, `srs
//! failover`): a file in the cluster directory that the controller reads
//! each cycle and removes once it has acted on it or refused it.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use crate::secrets::write_private;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use srs_domain::SiteName;
use std::fmt;

/// One operator request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OperatorRequest {
    /// Planned: make `to` primary with nothing lost (the primary is healthy).
    Switchover {
        /// The site to become primary.
        to: SiteName,
    },
    /// Forced: make `to` primary now, whatever the primary's state.
    Failover {
        /// The site to become primary.
        to: SiteName,
    },
}

impl fmt::Display for OperatorRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperatorRequest::Switchover { to } => write!(f, "switchover to site '{to}'"),
            OperatorRequest::Failover { to } => write!(f, "forced failover to site '{to}'"),
        }
    }
}

impl OperatorRequest {
    /// The site it asks to make primary.
    pub fn target(&self) -> &SiteName {
        match self {
            OperatorRequest::Switchover { to } | OperatorRequest::Failover { to } => to,
        }
    }

    /// Leaves the request for the controller (replacing an earlier one).
    pub fn submit(&self, data_dir: &ClusterDir) -> anyhow::Result<()> {
        let path = data_dir.file(ClusterFile::OperatorRequest);
        let tmp = data_dir.temporary(ClusterFile::OperatorRequest);
        write_private(&tmp, &serde_json::to_string(self)?)?;
        std::fs::rename(&tmp, &path).with_context(|| format!("Failed to write {}", path.display()))
    }

    /// The pending request, if any (an unreadable file is no request).
    pub fn pending(data_dir: &ClusterDir) -> Option<Self> {
        let text = std::fs::read_to_string(data_dir.file(ClusterFile::OperatorRequest)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Removes the pending request.
    pub fn clear(data_dir: &ClusterDir) {
        let _ = std::fs::remove_file(data_dir.file(ClusterFile::OperatorRequest));
    }
}
