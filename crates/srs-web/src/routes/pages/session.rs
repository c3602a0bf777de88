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
    }))
}

#[derive(Debug, Default, Deserialize)]
struct LoginInput {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
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
            let mut response = redirect_with_flash(
                &next,
                Flash::success(format!("Signed in as {}.", user.username)),
            );
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
