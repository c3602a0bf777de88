use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One site's app instances.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteBackends {
    /// The site's name, sent back in `X-Srs-Site`.
    pub name: String,
    /// Its app instances.
    pub instances: Vec<SocketAddr>,
}

/// Everything the edge needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeConfig {
    /// Public address.
    pub listen: SocketAddr,
    /// Admin address (keep it on loopback).
    pub admin_listen: SocketAddr,
    /// Bearer secret for the admin endpoint.
    pub admin_secret: String,
    /// Every site the edge may route to.
    pub sites: Vec<SiteBackends>,
    /// The active site when nothing is remembered yet.
    pub initial_site: Option<String>,
    /// Where the active site is remembered across restarts.
    pub state_file: PathBuf,
    /// How long a request may wait for a switch or a healthy instance.
    #[serde(with = "millis", rename = "hold_timeout_ms")]
    pub hold_timeout: Duration,
    /// How often instances are health-checked.
    #[serde(with = "millis", rename = "health_interval_ms")]
    pub health_interval: Duration,
    /// Largest request body the edge buffers, in bytes.
    pub max_body_bytes: usize,
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
