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
pub mod site_lease;
pub mod survey;

use crate::cluster_dir::ClusterDir;
use crate::topology::QuorumSection;
use serde::{Deserialize, Serialize};
use srs_domain::SiteName;

pub use elected::EtcdQuorum;
pub use etcd::LeaseId;
pub use local::LocalQuorum;

/// The site that holds the primary epoch, as the quorum records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryRecord {
    /// The site.
    pub site: SiteName,
    /// The epoch: it rises with every change of primary.
    pub epoch: u64,
    /// The site lease its agent held when the leader granted it writes:
    /// writes are taken only under that lease (a site whose agent lost its
    /// lease waits for the leader to grant the new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseId>,
}

impl PrimaryRecord {
    /// `site` in `epoch`, before any lease is granted.
    pub fn new(site: SiteName, epoch: u64) -> Self {
        Self {
            site,
            epoch,
            lease: None,
        }
    }

    /// Whether it names the same site and epoch (whatever the lease).
    pub fn same_epoch(&self, other: &PrimaryRecord) -> bool {
        self.site == other.site && self.epoch == other.epoch
    }
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
    Etcd(Box<EtcdQuorum>),
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
            Some(section) => Quorum::Etcd(Box::new(EtcdQuorum::new(section, candidate)?)),
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

    /// Makes sure no app instance of `site` (the primary being replaced)
    /// can still take a write under the recorded lease, unless its database
    /// is known `fenced`; says what it did, for the event.
    pub async fn release(
        &mut self,
        site: &SiteName,
        fenced: bool,
    ) -> anyhow::Result<Option<String>> {
        match self {
            Quorum::Local(_) => Ok(None),
            Quorum::Etcd(q) => q.release(site, fenced).await.map(Some),
        }
    }

    /// Grants writes again to the primary's site when its agent holds a new
    /// lease (after it lost the old one); says so, for the event.
    pub async fn regrant(&mut self, primary: &SiteName) -> anyhow::Result<Option<String>> {
        match self {
            Quorum::Local(_) => Ok(None),
            Quorum::Etcd(q) => q.regrant(primary).await,
        }
    }

    /// Who can survey the quorum for operators (etcd only: a lock file has
    /// nothing to survey).
    pub fn surveyor(&self, topology: &crate::topology::Topology) -> Option<survey::Surveyor> {
        let Quorum::Etcd(q) = self else {
            return None;
        };
        let sites = topology.sites.iter().map(|s| s.name.clone()).collect();
        let hosts: Vec<String> = topology
            .sites
            .iter()
            .flat_map(|s| [s.app_host.clone(), s.db_host.clone()])
            .collect();
        Some(survey::Surveyor::new(
            q.etcd(),
            q.keys().clone(),
            sites,
            &hosts,
        ))
    }

    /// Kind, for status and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Quorum::Local(_) => "local",
            Quorum::Etcd(_) => "etcd",
        }
    }
}
