//! A request that met this site's database fenced or gone (a 503 marked
//! "did nothing") is answered only once the DR controller has named the
//! other site primary, and a moment later.
//!
//! A front door that retries such answers on its own schedule (HAProxy's
//! `retry-on 503` repeats at once) would otherwise spend its retries while
//! the switch is still under way; answering after the new primary is named,
//! plus a few of its health-check intervals, lets the retry find the new
//! primary's instances already marked up. srs edge waits for its own switch
//! and loses nothing by it. Without a controller, without a write lease
//! (cut off from the quorum), or on a site just named primary (its
//! database's promotion is landing: a retry in a moment succeeds here),
//! the answer goes at once.

use crate::error::SITE_UNAVAILABLE_HEADER;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use std::time::{Duration, Instant};

/// After the new primary is named: three health-check intervals of the
/// HAProxy config `srs haproxy-config` writes (100 ms while a server is
/// changing state).
const SETTLE: Duration = Duration::from_millis(300);

/// How often the wait looks at what the controller said.
const POLL: Duration = Duration::from_millis(25);

/// How long after being named primary a site's refusals are taken for a
/// promotion still landing. Across hosts the site learns it holds the
/// epoch from the quorum before the controller has made its database
/// writable; holding those refusals for another site to be named (none
/// will be) kept a new primary's clients waiting the whole write timeout.
const PROMOTION_LANDING: Duration = Duration::from_secs(5);

/// Holds a site-unavailable 503 until another site is known to be primary
/// (at most the write timeout), then `SETTLE` more.
pub(crate) async fn answer_once_primary_named(state: &AppState, response: Response) -> Response {
    if response.status() != StatusCode::SERVICE_UNAVAILABLE
        || !response.headers().contains_key(SITE_UNAVAILABLE_HEADER)
        || !state.standing.under_controller()
        || !state.standing.lease_holds()
        || state.standing.newly_promoted(PROMOTION_LANDING)
    {
        // A site without its write lease is cut off from the quorum: it
        // would learn of the new primary only once reconnected, so holding
        // the answer would only make its own users wait.
        return response;
    }
    let started = Instant::now();
    let deadline = started + state.settings.write_timeout;
    while state.standing.fenced_by().is_none() && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
    if state.standing.fenced_by().is_some() {
        tokio::time::sleep(SETTLE).await;
    }
    metrics::histogram!("srs_http_unavailable_wait_seconds")
        .record(started.elapsed().as_secs_f64());
    response
}
