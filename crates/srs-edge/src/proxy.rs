//! Forwarding: pick an instance of the active site, wait briefly when none
//! is available, retry only what is safe to retry.

use crate::state::{EdgeState, Pick, SiteRoute};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::{self, PathAndQuery};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
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

/// The app's mark on a 503 that did nothing because its site's database
/// is read-only or unreachable.
const SITE_UNAVAILABLE: &str = "x-srs-site-unavailable";

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
async fn wait_for_instance(state: &EdgeState, deadline: Instant) -> Option<Pick> {
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

/// The request's headers as they go on: without hop-by-hop headers and
/// Host, with who asked. Made once per request, cloned per attempt.
fn forwarded_headers(mut headers: HeaderMap, peer: SocketAddr) -> HeaderMap {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::HOST);
    if let Ok(v) = HeaderValue::from_str(&peer.ip().to_string()) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    );
    headers
}

/// The request for `instance`: the client's method, path, headers and
/// body; None when the path cannot make a URI.
fn outgoing(
    instance: &crate::state::Instance,
    path_and_query: &PathAndQuery,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<axum::http::Request<Full<Bytes>>> {
    let mut uri = uri::Parts::default();
    uri.scheme = Some(uri::Scheme::HTTP);
    uri.authority = Some(instance.authority.clone());
    uri.path_and_query = Some(path_and_query.clone());
    let uri = Uri::from_parts(uri).ok()?;
    let mut outgoing = axum::http::Request::new(Full::new(body.clone()));
    *outgoing.method_mut() = method.clone();
    *outgoing.uri_mut() = uri;
    *outgoing.headers_mut() = headers.clone();
    Some(outgoing)
}

/// What the instance answered; None when the instance stopped answering
/// health checks or its site stopped being active meanwhile (a failover):
/// the edge does not wait for it.
async fn send(
    state: &EdgeState,
    pick: Pick,
    outgoing: axum::http::Request<Full<Bytes>>,
) -> Option<Result<Response, hyper_util::client::legacy::Error>> {
    let sent = state.client.request(outgoing);
    tokio::pin!(sent);
    loop {
        let lost = state.lost.notified();
        if !state.still_wanted(pick) {
            return None;
        }
        tokio::select! {
            answer = &mut sent => return Some(answer.map(|r| r.map(Body::new))),
            () = lost => {}
        }
    }
}

/// The instance's answer as the client gets it: hop-by-hop headers
/// dropped, the answering site named, counted by outcome.
fn relay(response: Response, route: &crate::state::SiteRoute) -> Response {
    let (mut parts, body) = response.into_parts();
    for name in HOP_BY_HOP {
        parts.headers.remove(name);
    }
    parts
        .headers
        .insert(HeaderName::from_static("x-srs-site"), route.header.clone());
    if parts.status.is_server_error() {
        route.server_error.increment(1);
    } else {
        route.ok.increment(1);
    }
    Response::from_parts(parts, body)
}

async fn forward(
    State(state): State<Arc<EdgeState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let deadline = started + state.config.hold_timeout;
    let (parts, body) = request.into_parts();
    let body = match collect_body(body, state.config.max_body_bytes).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let retry_any = idempotent(&parts.method, &parts.headers);
    let path_and_query = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let headers = forwarded_headers(parts.headers, peer);
    loop {
        let Some(pick) = wait_for_instance(&state, deadline).await else {
            metrics::counter!("srs_edge_requests_total", "site" => state.active().unwrap_or_default(), "outcome" => "no_instance").increment(1);
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "no healthy instance of the active site answered in time; retry shortly",
            );
        };
        let (Some(instance), Some(route)) = (state.instance(pick), state.route(pick)) else {
            return problem(StatusCode::SERVICE_UNAVAILABLE, "no instance to forward to");
        };
        let Some(outgoing) = outgoing(instance, &path_and_query, &parts.method, &headers, &body)
        else {
            return problem(
                StatusCode::BAD_REQUEST,
                "the request path cannot be forwarded",
            );
        };
        let Some(answer) = send(&state, pick, outgoing).await else {
            // Its instance stopped answering health checks or its site is no
            // longer active (a failover): do not wait for it.
            route.instance_error.increment(1);
            metrics::counter!("srs_edge_requests_abandoned_total").increment(1);
            if retry_any && Instant::now() < deadline {
                continue;
            }
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the site failed while handling this request, which may or may not have taken effect; it was not repeated (send an Idempotency-Key to make writes safe to repeat)",
            );
        };
        if let Next::Done(response) =
            after_answer(&state, instance.addr, route, answer, retry_any, deadline).await
        {
            return response;
        }
    }
}

/// The request body, whole, or the answer refusing a body over `limit`.
async fn collect_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than the edge accepts",
        )),
    }
}

/// What the edge does after an instance answered (or failed to).
enum Next {
    /// Pass this on to the client.
    Done(Response),
    /// Try again, on whichever instance is picked next.
    Again,
}

/// Relays an answer, or decides to go again: after a fenced site's
/// refusal of a request that did nothing, or a failure of a request that
/// is safe to repeat.
async fn after_answer(
    state: &EdgeState,
    addr: SocketAddr,
    route: &SiteRoute,
    answer: Result<Response, hyper_util::client::legacy::Error>,
    retry_any: bool,
    deadline: Instant,
) -> Next {
    match answer {
        Ok(response)
            if retry_any
                && response.status() == StatusCode::SERVICE_UNAVAILABLE
                && response.headers().contains_key(SITE_UNAVAILABLE)
                && Instant::now() < deadline =>
        {
            // The site's database is fenced or gone and the request did
            // nothing: wait for a switch (or a short while) and go again.
            route.server_error.increment(1);
            metrics::counter!("srs_edge_requests_retried_total").increment(1);
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(std::time::Duration::from_millis(200));
            let _ = tokio::time::timeout(wait, state.changed.notified()).await;
            Next::Again
        }
        Ok(response) => Next::Done(relay(response, route)),
        Err(e) => {
            state.mark(addr, false);
            // A refused connection never reached the instance: any
            // request may go elsewhere. Otherwise only idempotent ones.
            let never_sent = e.is_connect();
            route.instance_error.increment(1);
            tracing::warn!(%addr, never_sent, error = %e, "instance failed a request");
            if never_sent || retry_any {
                Next::Again
            } else {
                Next::Done(problem(
                    StatusCode::BAD_GATEWAY,
                    "the instance failed while handling this request, which may have taken effect; it was not repeated",
                ))
            }
        }
    }
}
