//! The topology files the drills write for the clusters they build,
//! serialised with `toml` (no hand-made quoting).

use crate::topology::SyncModeName;
use serde::Serialize;

/// A drill's `srs-topology.toml`.
#[derive(Debug, Serialize)]
pub(super) struct DrillTopology {
    pub sync_mode: SyncModeName,
    pub parallel_apply_threads: u32,
    pub buffer_pool_mb: u32,
    pub write_timeout_secs: u64,
    pub controller: Listen,
    pub edge: EdgeListen,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupOff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum: Option<Quorum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    pub sites: Vec<DrillSite>,
}

impl DrillTopology {
    /// Small databases that commit quickly: what a drill on a shared
    /// machine needs.
    pub(super) fn small(sync_mode: SyncModeName, controller: Listen, edge: EdgeListen) -> Self {
        Self {
            sync_mode,
            parallel_apply_threads: 2,
            buffer_pool_mb: 64,
            write_timeout_secs: 5,
            controller,
            edge,
            backup: None,
            quorum: None,
            link: None,
            sites: Vec::new(),
        }
    }

    /// The file's text.
    pub(super) fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string(self)?)
    }
}

/// A `[controller]` section.
#[derive(Debug, Serialize)]
pub(super) struct Listen {
    pub listen: String,
}

/// An `[edge]` section.
#[derive(Debug, Serialize)]
pub(super) struct EdgeListen {
    pub listen: String,
    pub admin_listen: String,
}

/// A `[backup]` section that takes no backups.
#[derive(Debug, Serialize)]
pub(super) struct BackupOff {
    pub schedule: &'static str,
    pub archive: bool,
    pub verify: bool,
}

impl BackupOff {
    /// No schedule, no archive, no trial restores.
    pub(super) fn new() -> Self {
        Self {
            schedule: "off",
            archive: false,
            verify: false,
        }
    }
}

/// A `[quorum]` section.
#[derive(Debug, Serialize)]
pub(super) struct Quorum {
    pub etcd: Vec<String>,
    pub cluster: String,
}

/// A `[link]` section: the distance between the sites.
#[derive(Debug, Serialize)]
pub(super) struct Link {
    pub delay_ms: u64,
}

/// One `[[sites]]` entry.
#[derive(Debug, Serialize, Default)]
pub(super) struct DrillSite {
    pub name: String,
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    pub db_port: u16,
    pub app_ports: Vec<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub standby_app_ports: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_port: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drill_topology_reads_back_as_a_topology() {
        let mut t = DrillTopology::small(
            SyncModeName::Bounded,
            Listen {
                listen: "127.0.0.1:9100".into(),
            },
            EdgeListen {
                listen: "127.0.0.1:9101".into(),
                admin_listen: "127.0.0.1:9102".into(),
            },
        );
        t.sites = vec![
            DrillSite {
                name: "primary".into(),
                role: "primary",
                db_port: 9103,
                app_ports: vec![9104],
                ..DrillSite::default()
            },
            DrillSite {
                name: "dr".into(),
                role: "dr",
                db_port: 9105,
                app_ports: Vec::new(),
                standby_app_ports: vec![9106],
                ..DrillSite::default()
            },
        ];
        let tmp = tempfile::tempdir().expect("temp dir");
        let file = tmp.path().join("srs-topology.toml");
        std::fs::write(&file, t.to_toml().expect("serialises")).expect("written");
        let read = crate::Topology::load(&file).expect("a valid topology");
        assert_eq!(read.sites.len(), 2);
        assert_eq!(
            read.sync_mode().to_string().split(' ').next(),
            Some("bounded")
        );
    }
}
