//! Response headers that make browsers strict, and bounds on what a
//! request may carry in its URL.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Only the server's own scripts, styles, images and forms; no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Swagger UI sets inline style attributes; its scripts still come only
/// from this server.
const CSP_API_DOCS: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// Longest query string accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 4096;

/// Refuses oversized query strings and adds the security headers.
pub(crate) async fn harden(req: Request, next: Next) -> Response {
    let docs = req.uri().path().starts_with("/api/docs");
    let mut response = if req.uri().query().is_some_and(|q| q.len() > MAX_QUERY_BYTES) {
        let problem = crate::error::ApiError::BadRequest(format!(
            "the query string is longer than {MAX_QUERY_BYTES} bytes"
        ));
        let mut response = problem.into_response();
        *response.status_mut() = StatusCode::URI_TOO_LONG;
        response
    } else {
        next.run(req).await
    };
    let headers = response.headers_mut();
    // Room for all of them at once: grown one by one the map was
    // reallocated twice a response.
    headers.reserve(7);
    let csp = if docs { CSP_API_DOCS } else { CSP };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages and API answers hold personal data: keep them out of shared caches.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses every request but health, metrics and assets on an instance
/// whose site lost the primary epoch: it would read a replica that may
/// lag the new primary, so a front door that still routes here during a
/// switch (HAProxy between two health checks) gets a 503 that did nothing
/// and sends the request to the new primary. Then admits writes through
/// the instance's write gate (the DR controller narrows it while the
/// replica's apply backlog is over budget), and bounds how long a write
/// may take. In strict sync mode a primary whose replica is gone cannot
/// commit; rather than hang, the client gets a 503 saying the write was
/// not confirmed (it may still land later: an Idempotency-Key makes the
/// retry safe). Imports are admitted like any write but not bounded: they
/// are long by nature and all-or-nothing.
pub(crate) async fn write_deadline(
    state: &crate::state::AppState,
    req: Request,
    next: Next,
) -> Response {
    use axum::http::Method;
    let path = req.uri().path();
    let api = path.starts_with("/api/");
    if !crate::routes::is_infrastructure(path) {
        if let Some(primary) = state.standing.fenced_by() {
            metrics::counter!("srs_requests_refused_not_primary_total").increment(1);
            let message = format!(
                "this site is not the primary: site '{}' holds it (epoch {}); nothing was done here, retry shortly",
                primary.site, primary.epoch
            );
            return if api {
                crate::error::ApiError::NotPrimary(message).into_response()
            } else {
                crate::page::PageError::new(StatusCode::SERVICE_UNAVAILABLE, message)
                    .into_response()
            };
        }
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let leased = state.standing.needs_write_lease();
    if safe {
        let mut response = next.run(req).await;
        if leased && !state.standing.lease_holds() {
            // Cut off from the quorum: the other site may be taking writes.
            response.headers_mut().insert(
                "x-srs-possibly-stale",
                axum::http::HeaderValue::from_static("true"),
            );
        }
        return response;
    }
    if !crate::routes::is_infrastructure(path) && !state.standing.lease_holds() {
        metrics::counter!("srs_requests_refused_no_lease_total").increment(1);
        let message = "this site cannot confirm it holds the primary epoch (it has no current write lease from the quorum); nothing was done here, retry shortly".to_owned();
        return if api {
            crate::error::ApiError::NotPrimary(message).into_response()
        } else {
            crate::page::PageError::new(StatusCode::SERVICE_UNAVAILABLE, message).into_response()
        };
    }
    let import = path.ends_with("/import");
    let response = bounded_write(state, import, api, req, next).await;
    if leased && !state.standing.lease_holds() && response.status().is_success() {
        // The lease ran out while the change was made: the other site may
        // already take writes, so this one is not acknowledged.
        metrics::counter!("srs_writes_unconfirmed_lease_lost_total").increment(1);
        let message = "the change was not confirmed: this site lost its write lease while it was made; it may have been applied here but may not survive a failover: retry with the same Idempotency-Key, or check before repeating it".to_owned();
        return if api {
            crate::error::ApiError::WriteNotConfirmed(message).into_response()
        } else {
            crate::page::PageError::new(StatusCode::SERVICE_UNAVAILABLE, message).into_response()
        };
    }
    response
}

/// A write through the gate, bounded by the write timeout (imports are not).
async fn bounded_write(
    state: &crate::state::AppState,
    import: bool,
    api: bool,
    req: Request,
    next: Next,
) -> Response {
    let limit = state.settings.write_timeout;
    let Ok(_permit) = tokio::time::timeout(limit, state.write_gate.enter()).await else {
        metrics::counter!("srs_write_admission_refused_total").increment(1);
        let message = format!(
            "the change was not started: writes are admitted slowly while the DR replica catches up, and none was free within {} s; nothing was changed, retry shortly",
            limit.as_secs()
        );
        return if api {
            crate::error::ApiError::WriteThrottled(message).into_response()
        } else {
            crate::page::PageError::new(StatusCode::SERVICE_UNAVAILABLE, message).into_response()
        };
    };
    if import {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("srs_write_timeouts_total").increment(1);
            tracing::warn!(
                timeout_secs = limit.as_secs_f64(),
                "write not confirmed in time"
            );
            let message = format!(
                "the change was not confirmed within {} s (the DR replica may be unreachable); it may still be applied: retry with the same Idempotency-Key, or check before repeating it",
                limit.as_secs()
            );
            if api {
                crate::error::ApiError::WriteNotConfirmed(message).into_response()
            } else {
                crate::page::PageError::new(StatusCode::SERVICE_UNAVAILABLE, message)
                    .into_response()
            }
        }
    }
}
