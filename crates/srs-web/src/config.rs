//! Validated settings the app starts with. Parsing flags, environment and
//! files happens in the binary; this is what it must produce.

use secrecy::SecretString;
use std::net::SocketAddr;
use std::str::FromStr;

pub use srs_domain::{SiteName, SiteRole};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line, for machines.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("'{other}' is not a log format: use text or json")),
        }
    }
}

/// Everything `srs serve` needs, already validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// `sqlite:PATH` or `mysql://…`; may hold a password, so kept secret.
    pub database_url: SecretString,
    /// Most database connections.
    pub max_connections: u32,
    /// Name of the site this instance belongs to, shown on every page.
    pub site_name: SiteName,
    /// Role of that site.
    pub site_role: SiteRole,
    /// Largest JSON or form body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest CSV upload accepted, in bytes.
    pub max_import_bytes: usize,
    /// Most seconds to wait for requests in flight at shutdown.
    pub shutdown_grace_secs: u64,
    /// A session unused this long ends.
    pub session_idle: chrono::Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_lifetime: chrono::Duration,
    /// Mark cookies Secure (set when serving over TLS).
    pub secure_cookies: bool,
    /// Serve HTTPS with this certificate chain and key (PEM files).
    pub tls: Option<TlsFiles>,
    /// Longest a write may wait (e.g. for the replica) before a 503.
    pub write_timeout: std::time::Duration,
    /// Proxies (the edge) whose X-Forwarded-For names the real client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Writes only under a write lease (a site of a cluster across hosts).
    pub write_lease: bool,
}

/// PEM files for HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: std::path::PathBuf,
    /// Private key.
    pub key: std::path::PathBuf,
}

impl Settings {
    /// Settings for tests and tools: an app on `database_url`, on a free port.
    pub fn for_database(database_url: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: SecretString::from(database_url.to_owned()),
            max_connections: 8,
            site_name: SiteName::parse("test").expect("a valid constant site name"),
            site_role: SiteRole::Standalone,
            max_body_bytes: 64 * 1024,
            max_import_bytes: 16 * 1024 * 1024,
            shutdown_grace_secs: 10,
            session_idle: chrono::Duration::minutes(30),
            session_lifetime: chrono::Duration::hours(12),
            secure_cookies: false,
            tls: None,
            write_timeout: std::time::Duration::from_secs(10),
            trusted_proxies: Vec::new(),
            write_lease: false,
        }
    }
}
