//! Resolves who is asking, once per request, from a bearer token or the
//! session cookie.

use super::secrets::secret_hash;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use srs_store::{Actor, ApiToken, User};
use std::net::SocketAddr;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "srs_session";

/// How the caller proved who it is.
#[derive(Debug, Clone)]
pub enum Via {
    /// A page session; the hash of its secret.
    Session(String),
    /// An API token.
    Token(ApiToken),
}

/// A caller whose identity is known.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The account.
    pub user: User,
    /// How it signed in.
    pub via: Via,
    /// Who to name in the audit trail, with address and request id.
    pub actor: Actor,
}

/// What the middleware found out about the caller.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// No credentials.
    Anonymous,
    /// A bearer token that is unknown, revoked or expired.
    BadToken,
    /// A session cookie used for an unsafe API method.
    SessionNotForApiWrites,
    /// A known account.
    Known(Box<Authenticated>),
}

/// The client's address as the audit trail records it.
/// The client's address: the peer's, or, when the peer is a trusted proxy
/// (the edge), the last address that proxy put in `X-Forwarded-For`.
/// Untrusted peers cannot choose their address: throttling and the audit
/// trail depend on it.
pub(crate) fn client_addr_of(
    peer: Option<std::net::IpAddr>,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> Option<String> {
    let peer = peer?;
    if trusted.contains(&peer) {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
            .next_back();
        if let Some(client) = forwarded {
            return Some(client.to_string());
        }
    }
    Some(peer.to_string())
}

pub(crate) fn client_addr(req: &Request, trusted: &[std::net::IpAddr]) -> Option<String> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    client_addr_of(peer, req.headers(), trusted)
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Looks up the caller and leaves a [`Caller`] in the request's extensions.
/// Every cached read of the request (this look-up's and the handler's)
/// is checked against one read of the change counters, made after the
/// request arrived (see `srs_store::one_read_per_request`).
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    srs_store::one_read_per_request(identify(state, req, next)).await
}

async fn identify(state: AppState, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if crate::routes::is_infrastructure(path) {
        // Public and hot: no credential look-up.
        return next.run(req).await;
    }
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let actor = |label: String, user: &User| Actor {
        user_id: Some(user.id),
        label,
        client_addr: addr.clone(),
        request_id: request_id.clone(),
    };
    let caller = if let Some(token) = bearer(&req) {
        match state.store.token_user(&secret_hash(token)).await {
            Ok(Some((user, token))) => {
                let label = format!("{} (token \"{}\")", user.username, token.name);
                Caller::Known(Box::new(Authenticated {
                    actor: actor(label, &user),
                    via: Via::Token(token),
                    user,
                }))
            }
            Ok(None) => Caller::BadToken,
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else if let Some(cookie) = CookieJar::from_headers(req.headers()).get(SESSION_COOKIE) {
        let hash = secret_hash(cookie.value());
        match state
            .store
            .session_user(&hash, state.settings.session_idle)
            .await
        {
            Ok(Some(user)) => {
                let is_api = req.uri().path().starts_with("/api/");
                let safe = matches!(*req.method(), Method::GET | Method::HEAD);
                if is_api && !safe {
                    Caller::SessionNotForApiWrites
                } else {
                    Caller::Known(Box::new(Authenticated {
                        actor: actor(user.username.to_string(), &user),
                        via: Via::Session(hash),
                        user,
                    }))
                }
            }
            Ok(None) => Caller::Anonymous,
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else {
        Caller::Anonymous
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}
