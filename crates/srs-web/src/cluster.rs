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
    /// Its lease in the quorum (shown only when the cluster has one).
    pub lease: String,
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
    /// The quorum's members and site leases (None on one machine).
    pub quorum: Option<String>,
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

impl DrView {
    /// The state in one line, for the overview: each site's role and
    /// replication, standing alerts, and the backups.
    pub fn summary_line(&self) -> String {
        let sites: Vec<String> = self
            .sites
            .iter()
            .map(|s| {
                if s.database != "up" {
                    format!("site {} ({}): database {}", s.name, s.role, s.database)
                } else if s.role == srs_domain::SiteRole::Primary {
                    format!("site {} is primary", s.name)
                } else {
                    format!(
                        "site {} ({}): replication {}, lag {}",
                        s.name, s.role, s.threads, s.lag
                    )
                }
            })
            .collect();
        let alerts = match self.alerts.len() {
            0 => "no alerts".to_owned(),
            1 => "1 alert".to_owned(),
            n => format!("{n} alerts"),
        };
        format!("{}; {alerts}; backups: {}", sites.join("; "), self.backups)
    }
}

/// How long the overview's DR line is reused before the cluster is read
/// again: a read probes every database, too much for each page view.
const SUMMARY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// The DR line, read at most every few seconds, one read at a time.
#[derive(Default)]
pub struct SummaryCache {
    last: std::sync::Mutex<Option<(std::time::Instant, Result<String, String>)>>,
    reading: tokio::sync::Mutex<()>,
}

impl SummaryCache {
    fn recent(&self) -> Option<Result<String, String>> {
        let last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*last {
            Some((at, line)) if at.elapsed() < SUMMARY_FOR => Some(line.clone()),
            _ => None,
        }
    }

    /// The line from `source`, or why it could not be read.
    pub async fn line(&self, source: &dyn ClusterView) -> Result<String, String> {
        if let Some(line) = self.recent() {
            return line;
        }
        let _reading = self.reading.lock().await;
        // Whoever held the lock before may have just read it.
        if let Some(line) = self.recent() {
            return line;
        }
        let line = source
            .view()
            .await
            .map(|v| v.summary_line())
            .map_err(|e| format!("{e:#}"));
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((std::time::Instant::now(), line.clone()));
        line
    }
}
