//! Disaster recovery: the topology file, the secrets it needs, the local
//! supervisor that runs a whole two-site topology (`srs up`), and the view
//! `srs status` prints.

pub mod secrets;
pub mod status;
pub mod supervisor;
pub mod topology;

pub use secrets::Secrets;
pub use topology::{Site, SiteRole, Topology};
