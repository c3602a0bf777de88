//! The disaster-recovery view an admin sees at /admin/dr. The web app does
//! not know how clusters work: whoever starts it (the binary) may plug in a
//! source of this view.

use std::future::Future;
use std::pin::Pin;

/// One site as the page shows it.
#[derive(Debug, Clone)]
pub struct DrSiteView {
    /// Site name.
    pub name: srs_domain::SiteName,
    /// Its role now.
    pub role: srs_domain::SiteRole,
    /// up or DOWN.
    pub database: String,
    /// Whether it refuses application writes.
    pub read_only: bool,
    /// Its GTID position.
    pub gtid: String,
    /// Replication I/O and SQL threads, e.g. "yes/yes".
    pub threads: String,
    /// Apply lag, seconds / transactions.
    pub lag: String,
    /// Semi-sync state on the primary.
    pub semi_sync: String,
    /// Healthy / configured app instances.
    pub apps: String,
    /// Errors worth a look.
    pub note: String,
}

/// The whole topology as the page shows it.
#[derive(Debug, Clone, Default)]
pub struct DrView {
    /// strict, bounded or async.
    pub sync_mode: String,
    /// Where the edge routes.
    pub edge: String,
    /// The controller: epoch, primary, last step.
    pub controller: String,
    /// Standing alerts.
    pub alerts: Vec<String>,
    /// The last `srs drill` on this cluster: when, which fault, verdict.
    pub last_drill: String,
    /// Backups: last success, last proven restorable point, archive RPO.
    pub backups: String,
    /// Both sites.
    pub sites: Vec<DrSiteView>,
    /// Latest DR events, newest first: (when, what).
    pub events: Vec<(String, String)>,
}

/// A future of a view, boxed so implementations can live in other crates.
pub type ViewFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<DrView>> + Send + 'a>>;

/// Reads the current state of the cluster this instance belongs to.
pub trait ClusterView: Send + Sync {
    /// The state now.
    fn view(&self) -> ViewFuture<'_>;
}
