//! The mark a re-seed leaves on a site while it runs, so that `srs up`
//! does not restart the server whose data is being replaced and the
//! controller does not attach a replica that is still half loaded.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use serde::{Deserialize, Serialize};
use srs_domain::SiteName;
use std::path::PathBuf;

/// Where a re-seed stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The server must stay stopped (its data directory is being replaced).
    Stopped,
    /// The fresh server may run; it is being loaded.
    Loading,
}

fn file(data_dir: &ClusterDir, site: &SiteName) -> PathBuf {
    data_dir.file(ClusterFile::Reseed(site.clone()))
}

/// The re-seed phase of `site`, if one runs.
pub fn phase(data_dir: &ClusterDir, site: &SiteName) -> Option<Phase> {
    serde_json::from_str(&std::fs::read_to_string(file(data_dir, site)).ok()?).ok()
}

/// Marks `site` as being re-seeded, in `phase`.
pub fn mark(data_dir: &ClusterDir, site: &SiteName, phase: Phase) -> anyhow::Result<()> {
    crate::secrets::write_private(&file(data_dir, site), &serde_json::to_string(&phase)?)
}

/// The re-seed of `site` is over (or abandoned).
pub fn clear(data_dir: &ClusterDir, site: &SiteName) {
    let _ = std::fs::remove_file(file(data_dir, site));
}
