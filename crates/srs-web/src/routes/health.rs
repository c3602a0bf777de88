//! `/healthz`, `/readyz`, `/readyz/primary` and `/metrics`.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::time::Duration;

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Health and metrics routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/readyz/primary", get(primary))
        .route("/metrics", get(metrics))
}

/// The process is alive.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers: 200, or 503 with the reason.
async fn readyz(State(state): State<AppState>) -> Response {
    let backend = state.store.backend().as_str();
    let site = &state.settings.site_name;
    if state.stopping.load(std::sync::atomic::Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "stopping", "reason": "this instance is stopping", "database": backend, "site": site })),
        )
            .into_response();
    }
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Json(json!({ "status": "ready", "database": backend, "site": site })).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": format!("database unreachable: {e}"), "database": backend, "site": site })),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": format!("database did not answer within {} s", READY_TIMEOUT.as_secs()), "database": backend, "site": site })),
        )
            .into_response(),
    }
}

/// 200 only where writes belong: this site holds the primary epoch (as the
/// DR controller last said, else as started) and its database answers. A
/// load balancer's health check on it follows every failover and
/// switchover on its own.
async fn primary(State(state): State<AppState>) -> Response {
    let site = &state.settings.site_name;
    if let Some(p) = state.standing.fenced_by() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_primary", "reason": format!("site '{}' holds the primary (epoch {})", p.site, p.epoch), "site": site })),
        )
            .into_response();
    }
    if !state.standing.holds_primary() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_primary", "reason": "this site was started as a replica and no controller has said otherwise", "site": site })),
        )
            .into_response();
    }
    readyz(State(state)).await
}

/// Prometheus text exposition; gauges are refreshed on each scrape.
async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.store.pool_stats();
    metrics::gauge!("srs_db_pool_connections", "state" => "in_use")
        .set(f64::from(stats.size.saturating_sub(stats.idle)));
    metrics::gauge!("srs_db_pool_connections", "state" => "idle").set(f64::from(stats.idle));
    match state.store.count_live_students().await {
        Ok(n) => metrics::gauge!("srs_students_live").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "could not count students for metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
