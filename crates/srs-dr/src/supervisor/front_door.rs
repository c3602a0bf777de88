//! The edge's settings for a topology: every site's app instances, the
//! admin endpoint and its secret, where it remembers the active site.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use crate::controller::published::primary_site;
use crate::secrets::Secrets;
use crate::topology::Topology;
use anyhow::Context;
use srs_edge::{EdgeConfig, SiteBackends};
use std::net::SocketAddr;
use std::time::Duration;

/// Largest request body the edge passes on (the app's CSV limit plus room).
const MAX_BODY_BYTES: usize = 17 * 1024 * 1024;

/// The edge configuration of the topology kept in `data_dir`.
pub fn edge_config(
    topology: &Topology,
    secrets: &Secrets,
    data_dir: &ClusterDir,
) -> anyhow::Result<EdgeConfig> {
    let sites = topology
        .sites
        .iter()
        .map(|s| {
            let instances = s
                .app_addrs()
                .iter()
                .map(|a| {
                    a.parse::<SocketAddr>().with_context(|| {
                        format!("sites '{}': app address '{a}' is not IP:port", s.name)
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(SiteBackends {
                name: s.name.to_string(),
                instances,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(EdgeConfig {
        listen: topology.edge.listen,
        admin_listen: topology.edge.admin_listen,
        admin_secret: secrets.edge_secret.clone(),
        sites,
        initial_site: Some(primary_site(topology, data_dir).name.to_string()),
        state_file: data_dir.file(ClusterFile::EdgeState),
        hold_timeout: Duration::from_millis(topology.edge.hold_timeout_ms),
        health_interval: Duration::from_millis(500),
        max_body_bytes: MAX_BODY_BYTES,
    })
}
