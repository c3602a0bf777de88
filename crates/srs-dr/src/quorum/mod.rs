//! Who may act for the cluster, and which site holds the primary epoch.
//!
//! One abstraction, two ways to hold it:
//! - **local**: one machine, one controller. A lock file keeps a second
//!   controller out, and the epoch lives in the controller's own memory
//!   (`controller.json`). Nothing to install.
//! - **etcd**: a controller candidate at every site, three etcd members (one
//!   per site and a witness). The leader holds a key on a lease; the primary
//!   epoch is a key only the leader changes, compare-and-set on its revision
//!   and on the leader key being still its own, so two controllers can
//!   never both move it.

pub mod elected;
pub mod etcd;
pub mod lease;
mod local;
pub mod member;

use crate::cluster_dir::ClusterDir;
use crate::topology::QuorumSection;
use serde::{Deserialize, Serialize};
use srs_domain::SiteName;

pub use elected::EtcdQuorum;
pub use local::LocalQuorum;

/// The site that holds the primary epoch, as the quorum records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryRecord {
    /// The site.
    pub site: SiteName,
    /// The epoch: it rises with every change of primary.
    pub epoch: u64,
}

impl std::fmt::Display for PrimaryRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "site '{}' in epoch {}", self.site, self.epoch)
    }
}

/// Whether this controller may act now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leadership {
    /// It leads; `newly` on the first round after it took the lead.
    Leading {
        /// It took the lead this round (it must read the epoch first).
        newly: bool,
    },
    /// Another candidate leads (named when known), or the quorum cannot be
    /// reached: this controller only watches.
    Following {
        /// The leader, as it named itself.
        leader: Option<String>,
    },
}

/// How the controller holds its leadership and records the epoch.
#[derive(Debug)]
pub enum Quorum {
    /// One machine: a lock file.
    Local(LocalQuorum),
    /// Three hosts: etcd.
    Etcd(EtcdQuorum),
}

impl Quorum {
    /// The quorum a topology names: etcd when it has a `[quorum]` section,
    /// else the lock file of `data_dir`. `candidate` names this controller
    /// to the others (its site and host).
    pub fn for_topology(
        section: Option<&QuorumSection>,
        data_dir: &ClusterDir,
        candidate: &str,
    ) -> anyhow::Result<Self> {
        Ok(match section {
            Some(section) => Quorum::Etcd(EtcdQuorum::new(section, candidate)?),
            None => Quorum::Local(LocalQuorum::acquire(data_dir)?),
        })
    }

    /// Takes or keeps the lead where it can; says whether to act.
    pub async fn lead(&mut self) -> Leadership {
        match self {
            Quorum::Local(q) => q.lead(),
            Quorum::Etcd(q) => q.lead().await,
        }
    }

    /// The primary epoch as recorded; None when nothing is recorded beyond
    /// the controller's own memory (local) or before the first promotion.
    pub async fn primary(&mut self) -> anyhow::Result<Option<PrimaryRecord>> {
        match self {
            Quorum::Local(_) => Ok(None),
            Quorum::Etcd(q) => q.primary().await,
        }
    }

    /// Records `to` as the primary epoch, only if the record is still the
    /// one last read and this controller still leads.
    pub async fn record_primary(&mut self, to: &PrimaryRecord) -> anyhow::Result<()> {
        match self {
            Quorum::Local(_) => Ok(()),
            Quorum::Etcd(q) => q.record_primary(to).await,
        }
    }

    /// Kind, for status and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Quorum::Local(_) => "local",
            Quorum::Etcd(_) => "etcd",
        }
    }
}
