//! Sign in and sign out.

use super::forms::{CsrfForm, TokenOnly};
use crate::auth::middleware::SESSION_COOKIE;
use crate::auth::secrets::secret_hash;
use crate::auth::service::{login, LoginError};
use crate::page::{append_cookie, redirect_with_flash, render, Flash, PageCtx, PageResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use std::net::SocketAddr;

/// Sign-in routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(sign_in))
        .route("/logout", post(sign_out))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: PageCtx,
    username: String,
    next: String,
    error: Option<String>,
    /// A form sent after the session had expired, kept (URL-encoded) until
    /// the user signs in again.
    resume: String,
}

/// Fields never carried through the sign-in page and back.
fn kept_field(name: &str) -> bool {
    name != "csrf_token" && !name.contains("password")
}

/// A page form sent without a valid session (it expired while the form
/// was open) is not lost: the sign-in page is shown in its place, keeping
/// what was typed, and after signing in the user is offered to send it
/// again.
pub(crate) async fn keep_form_of_expired_session(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::extract::FromRequestParts as _;
    let is_form = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let path = req.uri().path().to_owned();
    if req.method() != axum::http::Method::POST || !is_form || path == "/login" || path == "/logout"
    {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    if crate::auth::extract::current(&parts).is_some() {
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    }
    let ctx = match PageCtx::from_request_parts(&mut parts, &state).await {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    let Ok(bytes) = axum::body::to_bytes(body, state.settings.max_body_bytes).await else {
        return crate::page::PageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The form is larger than this site accepts.",
        )
        .into_response();
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    // Only a form from one of our own pages (its token matches the cookie,
    // which other sites cannot send) is kept: a form forged elsewhere must
    // not come back to the user as theirs after sign-in.
    if super::forms::check_csrf_of(&ctx, &pairs).is_err() {
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        return next.run(req).await;
    }
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| kept_field(k)).collect();
    tracing::info!(
        path,
        fields = kept.len(),
        "form sent after the session expired: kept for after sign-in"
    );
    let page = LoginPage {
        ctx,
        username: String::new(),
        next: safe_next(Some(&path)),
        error: Some(
            "Your session had expired, so what you sent was not saved yet. Sign in again: it is kept, and you can send it then."
                .into(),
        ),
        resume: serde_urlencoded::to_string(&kept).unwrap_or_default(),
    };
    (StatusCode::UNAUTHORIZED, render(&page)).into_response()
}

#[derive(Template)]
#[template(path = "resume.html")]
struct ResumePage {
    ctx: PageCtx,
    /// Where the form was going.
    action: String,
    /// What was typed, as sent.
    fields: Vec<(String, String)>,
}

impl ResumePage {
    /// The fields worth showing (not the record's version or ids).
    fn shown(&self) -> Vec<(String, &str)> {
        self.fields
            .iter()
            .filter(|(k, _)| k != "version" && k != "ids" && k != "scope" && k != "expected")
            .map(|(k, v)| (crate::history::field_label(k), v.as_str()))
            .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only local paths: an open redirect would let a link send a fresh
/// sign-in to another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.len() < 2000 =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

async fn login_form(
    ctx: PageCtx,
    crate::extract::AppQuery(q): crate::extract::AppQuery<NextQuery>,
) -> PageResult {
    Ok(render(&LoginPage {
        ctx,
        username: String::new(),
        next: safe_next(q.next.as_deref()),
        error: None,
        resume: String::new(),
    }))
}

#[derive(Debug, Default, Deserialize)]
struct LoginInput {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
    /// A form kept from an expired session (see [`keep_form_of_expired_session`]).
    #[serde(default)]
    resume: String,
}

async fn sign_in(
    ctx: PageCtx,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    jar: CookieJar,
    CsrfForm(input): CsrfForm<LoginInput>,
) -> PageResult {
    let addr = crate::auth::middleware::client_addr_of(
        Some(peer.ip()),
        &headers,
        &state.settings.trusted_proxies,
    )
    .unwrap_or_else(|| peer.ip().to_string());
    let old_session = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned());
    let next = safe_next(input.next.as_deref());
    let outcome = login(
        &state.store,
        &state.throttle,
        &input.username,
        &input.password,
        &addr,
        state.settings.session_lifetime,
    )
    .await;
    let failed = |ctx: PageCtx, status: StatusCode, message: String| {
        let page = LoginPage {
            ctx,
            username: input.username.chars().take(64).collect(),
            next: next.clone(),
            error: Some(message),
            resume: input.resume.clone(),
        };
        Ok((status, render(&page)).into_response())
    };
    match outcome {
        Ok((user, secret)) => {
            // A new session id at every sign-in: a fixed one planted before
            // sign-in is worthless afterwards.
            if let Some(old) = old_session {
                state.store.delete_session(&secret_hash(&old)).await?;
            }
            let kept: Vec<(String, String)> =
                serde_urlencoded::from_str(&input.resume).unwrap_or_default();
            let kept: Vec<(String, String)> =
                kept.into_iter().filter(|(k, _)| kept_field(k)).collect();
            let mut response = if kept.is_empty() {
                redirect_with_flash(
                    &next,
                    Flash::success(format!("Signed in as {}.", user.username)),
                )
            } else {
                let mut ctx = ctx;
                ctx.username = Some(user.username.to_string());
                ctx.role = Some(user.role);
                render(&ResumePage {
                    ctx,
                    action: next.clone(),
                    fields: kept,
                })
            };
            let cookie = Cookie::build((SESSION_COOKIE, secret))
                .path("/")
                .http_only(true)
                .secure(state.settings.secure_cookies)
                .same_site(SameSite::Lax)
                .build();
            append_cookie(&mut response, &cookie);
            Ok(response)
        }
        Err(LoginError::BadCredentials) => failed(
            ctx,
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.".into(),
        ),
        Err(e @ LoginError::Throttled(_)) => {
            failed(ctx, StatusCode::TOO_MANY_REQUESTS, format!("{e}."))
        }
        Err(LoginError::Store(e)) => Err(e.into()),
        Err(LoginError::Other(e)) => Err(crate::error::ApiError::Internal(e).into()),
    }
}

async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
    _: CsrfForm<TokenOnly>,
) -> PageResult {
    let session = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned());
    if let Some(secret) = session {
        state.store.delete_session(&secret_hash(&secret)).await?;
    }
    let mut response = redirect_with_flash("/login", Flash::success("Signed out."));
    let mut gone = Cookie::build((SESSION_COOKIE, "")).path("/").build();
    gone.make_removal();
    append_cookie(&mut response, &gone);
    Ok(response)
}
