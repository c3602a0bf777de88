//! The admin endpoint: who routes where, and switching sites. Every call
//! needs the shared secret.

use crate::state::EdgeState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub(crate) fn router(state: Arc<EdgeState>) -> Router {
    Router::new()
        .route("/admin/state", get(show))
        .route("/admin/active-site", put(switch))
        .route("/admin/hold", put(hold))
        .route("/metrics", get(metrics))
        .with_state(state)
}

fn authorised(state: &EdgeState, headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {}", state.config.admin_secret);
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn refuse() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "missing or wrong admin secret"})),
    )
        .into_response()
}

async fn show(State(state): State<Arc<EdgeState>>, headers: HeaderMap) -> Response {
    if !authorised(&state, &headers) {
        return refuse();
    }
    let sites: Vec<_> = state
        .sites()
        .iter()
        .map(|(name, instances)| {
            json!({
                "name": name,
                "instances": instances.iter().map(|i| json!({"addr": i.addr.to_string(), "healthy": i.healthy()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({"active": state.active(), "switching": state.switching(), "sites": sites}))
        .into_response()
}

#[derive(Deserialize)]
struct SwitchBody {
    site: String,
}

async fn switch(
    State(state): State<Arc<EdgeState>>,
    headers: HeaderMap,
    body: Json<SwitchBody>,
) -> Response {
    if !authorised(&state, &headers) {
        return refuse();
    }
    if !state.knows(&body.site) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": format!("no site named '{}'", body.site)})),
        )
            .into_response();
    }
    state.begin_switch();
    match state.finish_switch(&body.site) {
        Ok(()) => Json(json!({"active": body.site})).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Holds new requests (a switch is starting); released by the next switch.
async fn hold(State(state): State<Arc<EdgeState>>, headers: HeaderMap) -> Response {
    if !authorised(&state, &headers) {
        return refuse();
    }
    state.begin_switch();
    Json(json!({"switching": true})).into_response()
}

async fn metrics(State(state): State<Arc<EdgeState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
