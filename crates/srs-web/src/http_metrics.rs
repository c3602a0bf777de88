//! Request counts and latencies for Prometheus, by route and status.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Instant;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder; the `metrics` facade allows only one.
pub(crate) fn handle() -> anyhow::Result<PrometheusHandle> {
    // A lock, not a OnceLock: two apps starting at once (tests) must not
    // both try to install the process-wide recorder.
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut slot = HANDLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("http_request_duration_seconds".into()),
            LATENCY_BUCKETS,
        )?
        .install_recorder()?;
    register_counters();
    spawn_upkeep(handle.clone());
    *slot = Some(handle.clone());
    Ok(handle)
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The recorder keeps every histogram sample until an upkeep folds it into
/// the buckets, and `install_recorder` starts none: without this thread
/// memory grew by 8 bytes a request until something scraped /metrics
/// (measured: 45 to 73 MiB over a 200 s benchmark run).
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the metrics upkeep; histograms are folded only when /metrics is read");
    }
}

/// The app's event counters, with their help text, at zero from the start:
/// dashboards and alert rules see them before the first event, and
/// `rate()` counts the first one.
fn register_counters() {
    for (name, help) in [
        (
            "srs_write_admission_waits_total",
            "Writes that waited for a free admission slot.",
        ),
        (
            "srs_write_admission_refused_total",
            "Writes refused because no admission slot was free within the write timeout.",
        ),
        (
            "srs_write_timeouts_total",
            "Writes not confirmed within the write timeout (503; they may still apply).",
        ),
        (
            "srs_requests_refused_not_primary_total",
            "Requests refused because another site holds the primary epoch.",
        ),
        ("srs_login_failures_total", "Failed sign-ins."),
        (
            "srs_idempotency_keys_purged_total",
            "Idempotency keys removed after their retention.",
        ),
    ] {
        metrics::describe_counter!(name, help);
        metrics::counter!(name).absolute(0);
    }
    metrics::describe_histogram!(
        "srs_http_unavailable_wait_seconds",
        metrics::Unit::Seconds,
        "How long answers that did nothing (site fenced or gone) waited for the new primary to be named."
    );
}

/// Each route's request counters and latency histograms, by method and
/// status, made once: building a metric's key from its labels (three
/// strings, hashed into the registry) for every request was a few percent
/// of a cached read.
#[derive(Default)]
pub(crate) struct RouteMetrics(RwLock<HashMap<String, ByOutcome>>);

/// One route's handles, by method and status.
type ByOutcome = HashMap<(Method, u16), Handles>;

/// A request counter and its latency histogram.
type Handles = (metrics::Counter, metrics::Histogram);

impl RouteMetrics {
    fn record(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let found = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
            .and_then(|by| by.get(&(method.clone(), status)))
            .cloned();
        let (counter, histogram) = found.unwrap_or_else(|| {
            let labels = [
                ("method", method.as_str().to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ];
            let made = (
                metrics::counter!("http_requests_total", &labels),
                metrics::histogram!("http_request_duration_seconds", &labels),
            );
            self.0
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(route.to_owned())
                .or_default()
                .insert((method.clone(), status), made.clone());
            made
        });
        counter.increment(1);
        histogram.record(seconds);
    }
}

/// The methods counted under their own name; any other is "OTHER", so a
/// client inventing methods cannot grow the metrics without bound.
fn counted(method: &Method) -> Method {
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    if KNOWN.contains(method) {
        method.clone()
    } else {
        Method::from_bytes(b"OTHER").unwrap_or(Method::GET)
    }
}

/// What every matched route goes through, as one layer (each layer of a
/// router clones what is under it per request): counts the request and
/// records its latency under its route template, around the write checks
/// (`security::write_deadline`) and the wait for the new primary's name
/// (`switch_wait::answer_once_primary_named`).
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = counted(req.method());
    let response = crate::security::write_deadline(&state, req, next).await;
    let response = crate::switch_wait::answer_once_primary_named(&state, response).await;
    state.route_metrics.record(
        &method,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}
