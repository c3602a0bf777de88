//! `/healthz`, `/readyz` and `/metrics`.

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
