//! Disaster recovery: the topology file, the secrets it needs, what the
//! controller observes, decides and publishes, the local supervisor that
//! runs a whole two-site topology (`srs up`), and the view `srs status`
//! prints.

pub mod actuators;
pub mod admission;
pub mod backup_agent;
pub mod backups;
pub mod cluster;
pub mod cluster_dir;
pub mod controller;
pub mod decide;
pub mod drill;
pub mod exposition;
pub mod failback;
pub mod front_door;
pub mod gtid;
pub mod haproxy;
pub mod last_drill;
pub mod lock;
pub mod observe;
pub mod operator;
pub mod published;
pub mod quorum;
pub mod reach;
pub mod request;
pub mod reseeding;
pub mod secrets;
pub mod site_agent;
pub mod site_host;
pub mod split;
pub mod status;
pub mod supervisor;
pub mod topology;

pub use cluster::Cluster;
pub use cluster_dir::{ClusterDir, ClusterFile};
pub use secrets::Secrets;
pub use srs_domain::{SiteName, SiteRole};
pub use topology::{Site, Topology};
