//! Forwarding: pick an instance of the active site, wait briefly when none
//! is available, retry only what is safe to retry.

use crate::state::EdgeState;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Headers that describe one hop, not the message.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Every path goes to the active site.
pub(crate) fn router(state: Arc<EdgeState>) -> Router {
    Router::new().fallback(forward).with_state(state)
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "/problems/edge",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn idempotent(method: &Method, headers: &axum::http::HeaderMap) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || headers.contains_key("idempotency-key")
}

/// Waits for a usable instance, up to the hold timeout.
async fn wait_for_instance(state: &EdgeState, deadline: Instant) -> Option<(String, SocketAddr)> {
    let mut held = false;
    loop {
        if let Some(pick) = state.pick() {
            if held {
                metrics::counter!("srs_edge_requests_held_total").increment(1);
            }
            return Some(pick);
        }
        held = true;
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        // Woken by a switch or an instance coming back; re-check at least every 50 ms.
        let wait = (deadline - now).min(std::time::Duration::from_millis(50));
        let _ = tokio::time::timeout(wait, state.changed.notified()).await;
    }
}

async fn forward(
    State(state): State<Arc<EdgeState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let deadline = started + state.config.hold_timeout;
    let (parts, body) = request.into_parts();
    let body: Bytes = match http_body_util::Limited::new(body, state.config.max_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than the edge accepts",
            )
        }
    };
    let retry_any = idempotent(&parts.method, &parts.headers);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    loop {
        let Some((site, addr)) = wait_for_instance(&state, deadline).await else {
            metrics::counter!("srs_edge_requests_total", "site" => state.active().unwrap_or_default(), "outcome" => "no_instance").increment(1);
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "no healthy instance of the active site answered in time; retry shortly",
            );
        };
        let Ok(uri) = format!("http://{addr}{path}").parse::<Uri>() else {
            return problem(
                StatusCode::BAD_REQUEST,
                "the request path cannot be forwarded",
            );
        };
        let mut outgoing = axum::http::Request::builder()
            .method(parts.method.clone())
            .uri(uri);
        for (name, value) in &parts.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) && name != header::HOST {
                outgoing = outgoing.header(name, value);
            }
        }
        outgoing = outgoing
            .header("x-forwarded-for", peer.ip().to_string())
            .header("x-forwarded-proto", "http");
        let Ok(outgoing) = outgoing.body(Full::new(body.clone())) else {
            return problem(StatusCode::BAD_REQUEST, "the request cannot be forwarded");
        };
        match state.client.request(outgoing).await {
            Ok(response) => {
                let (mut parts, incoming) = response.into_parts();
                for name in HOP_BY_HOP {
                    parts.headers.remove(name);
                }
                if let Ok(v) = HeaderValue::from_str(&site) {
                    parts
                        .headers
                        .insert(HeaderName::from_static("x-srs-site"), v);
                }
                let outcome = if parts.status.is_server_error() {
                    "server_error"
                } else {
                    "ok"
                };
                metrics::counter!("srs_edge_requests_total", "site" => site, "outcome" => outcome)
                    .increment(1);
                return Response::from_parts(parts, Body::new(incoming));
            }
            Err(e) => {
                state.mark(addr, false);
                // A refused connection never reached the instance: any
                // request may go elsewhere. Otherwise only idempotent ones.
                let never_sent = e.is_connect();
                metrics::counter!("srs_edge_requests_total", "site" => site.clone(), "outcome" => "instance_error").increment(1);
                tracing::warn!(%addr, site, never_sent, error = %e, "instance failed a request");
                if !(never_sent || retry_any) {
                    return problem(
                        StatusCode::BAD_GATEWAY,
                        "the instance failed while handling this request, which may have taken effect; it was not repeated",
                    );
                }
            }
        }
    }
}
