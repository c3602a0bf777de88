//! Disaster recovery. Its rooms:
//!
//! - `controller/`: the loop that observes every site, decides (a pure
//!   table) and acts, and what it publishes;
//! - `operator/`: what an operator runs against a cluster (`srs status`,
//!   `srs switchover`, `srs failback`, `srs topology split`);
//! - `supervisor/`: the processes that run a cluster (`srs up` on one
//!   machine, `srs site` and `srs site-agent` on a host of their own);
//! - `quorum/`: leases and epochs in etcd, for a cluster across hosts;
//! - `drill/`: faults injected under load, and their reports;
//! - `backup_agent/`: scheduled backups and the binlog archive;
//! - `link_delay`: a distance between sites on one machine (`srs
//!   link-delay`, and `srs up` with a `[link]`);
//! - at the top: the cluster directory and what it holds (topology,
//!   secrets, the last drill's and backups' records), read through
//!   [`Cluster`].

pub mod backup_agent;
pub mod backups;
pub mod cluster;
pub mod cluster_dir;
pub mod controller;
pub mod drill;
pub mod gtid;
pub mod last_drill;
pub mod link_delay;
pub mod operator;
pub mod quorum;
pub mod reach;
pub mod secrets;
pub mod supervisor;
pub mod topology;

pub use cluster::Cluster;
pub use cluster_dir::{ClusterDir, ClusterFile};
pub use secrets::Secrets;
pub use srs_domain::{SiteName, SiteRole};
pub use topology::{Site, Topology};
