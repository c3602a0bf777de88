use crate::auth::throttle::LoginThrottle;
use crate::auth::Clock;
use crate::Settings;
use metrics_exporter_prometheus::PrometheusHandle;
use srs_store::Store;
use std::sync::Arc;

/// What every handler can reach: the store, the settings and the metrics.
/// One `Arc`: every middleware layer and handler clones the state, and one
/// counter to bump is cheaper than one per field (measured: cloning and
/// dropping the state was 6.5 % of the list API's CPU with a dozen).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state made of its parts.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of the state.
pub struct Shared {
    /// The record store.
    pub store: Store,
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// Renders the Prometheus exposition.
    pub metrics: PrometheusHandle,
    /// Each route's request counter and latency histogram.
    pub(crate) route_metrics: crate::http_metrics::RouteMetrics,
    /// Refuses sign-ins after too many failures.
    pub throttle: Arc<LoginThrottle>,
    /// The time source (injectable for tests).
    pub clock: Arc<dyn Clock>,
    /// Bounds how many writes run at once (set by the DR controller).
    pub write_gate: Arc<crate::admission::WriteGate>,
    /// Whether this site holds the primary epoch (told by the DR controller).
    pub standing: Arc<crate::standing::Standing>,
    /// Where /admin/dr reads the cluster's state, when this instance is in one.
    pub cluster: Arc<std::sync::OnceLock<Arc<dyn crate::cluster::ClusterView>>>,
    /// The overview's one-line DR state, read from `cluster` now and then.
    pub dr_summary: crate::cluster::SummaryCache,
    /// Set when the instance has been told to stop: readiness answers 503
    /// while it still serves, so load balancers take it out first.
    pub stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    /// Today's date, the day of entry the age rule is measured on.
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now().date_naive()
    }
}
