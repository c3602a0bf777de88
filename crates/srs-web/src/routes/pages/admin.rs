//! Administration pages: accounts and API tokens.

use super::forms::{CsrfForm, TokenOnly};
use crate::auth::service::{create_token, create_user, reset_password, unlock};
use crate::auth::throttle::Locked;
use crate::auth::Admin;
use crate::extract::PageId;
use crate::page::{redirect_with_flash, render, Flash, PageCtx, PageError, PageResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use srs_domain::{Role, TokenId, UserId};
use srs_store::{ApiToken, StoreError, User};

/// Admin page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/{id}", post(change_user))
        .route("/admin/tokens", get(tokens).post(add_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/admin/dr", get(dr))
}

#[derive(Template)]
#[template(path = "admin/dr.html")]
struct DrPage {
    ctx: PageCtx,
    view: Option<crate::cluster::DrView>,
    error: Option<String>,
}

async fn dr(_: Admin, ctx: PageCtx, State(state): State<AppState>) -> PageResult {
    let (view, error) = match state.cluster.get() {
        None => (None, None),
        Some(source) => match source.view().await {
            Ok(v) => (Some(v), None),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "cluster status unavailable");
                (
                    None,
                    Some(format!("The cluster's state could not be read: {e}")),
                )
            }
        },
    };
    Ok(render(&DrPage { ctx, view, error }))
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: PageCtx,
    /// Every account, with the throttle's hold on it if any.
    users: Vec<(User, Option<Locked>)>,
    roles: [Role; 3],
    username: String,
    role: String,
    error: Option<String>,
}

async fn users_page(
    state: &AppState,
    ctx: PageCtx,
    username: String,
    role: String,
    error: Option<String>,
) -> PageResult {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut locked = state.throttle.locked(&state.store).await?;
    let users = state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| {
            let lock = locked.remove(&u.username.as_str().to_lowercase());
            (u, lock)
        })
        .collect();
    let page = UsersPage {
        ctx,
        users,
        roles: Role::ALL,
        username,
        role,
        error,
    };
    Ok((status, render(&page)).into_response())
}

async fn users(_: Admin, ctx: PageCtx, State(state): State<AppState>) -> PageResult {
    users_page(&state, ctx, String::new(), "viewer".into(), None).await
}

#[derive(Debug, Default, Deserialize)]
struct UserInput {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    action: String,
}

fn messages(e: StoreError) -> Result<String, PageError> {
    match e {
        StoreError::Invalid(v) => Ok(v
            .0
            .into_iter()
            .map(|f| f.message)
            .collect::<Vec<_>>()
            .join("; ")),
        other => Err(other.into()),
    }
}

async fn add_user(
    Admin(auth): Admin,
    ctx: PageCtx,
    State(state): State<AppState>,
    CsrfForm(input): CsrfForm<UserInput>,
) -> PageResult {
    let role = match Role::parse(&input.role) {
        Ok(r) => r,
        Err(e) => return users_page(&state, ctx, input.username, input.role, Some(e.0)).await,
    };
    match create_user(
        &state.store,
        &input.username,
        role,
        &input.password,
        &auth.actor,
    )
    .await
    {
        Ok(user) => Ok(redirect_with_flash(
            "/admin/users",
            Flash::success(format!(
                "Account {} ({}) created.",
                user.username, user.role
            )),
        )),
        Err(e) => {
            let message = messages(e)?;
            users_page(&state, ctx, input.username, input.role, Some(message)).await
        }
    }
}

async fn change_user(
    Admin(auth): Admin,
    State(state): State<AppState>,
    PageId(id): PageId<UserId>,
    CsrfForm(input): CsrfForm<UserInput>,
) -> PageResult {
    if id == auth.user.id && matches!(input.action.as_str(), "disable" | "role") {
        return Ok(redirect_with_flash(
            "/admin/users",
            Flash::danger("You cannot disable your own account or change your own role."),
        ));
    }
    let result = match input.action.as_str() {
        "disable" => state
            .store
            .update_user(id, None, Some(true), None, &auth.actor)
            .await
            .map(|u| format!("Account {} disabled; its sessions ended.", u.username)),
        "enable" => state
            .store
            .update_user(id, None, Some(false), None, &auth.actor)
            .await
            .map(|u| format!("Account {} enabled.", u.username)),
        "role" => match Role::parse(&input.role) {
            Ok(role) => state
                .store
                .update_user(id, Some(role), None, None, &auth.actor)
                .await
                .map(|u| format!("Account {} is now {}.", u.username, u.role)),
            Err(e) => return Ok(redirect_with_flash("/admin/users", Flash::danger(e.0))),
        },
        "reset_password" => reset_password(&state.store, id, &input.password, &auth.actor)
            .await
            .map(|u| {
                format!(
                    "Password of {} reset; its sessions ended and it is unlocked.",
                    u.username
                )
            }),
        "unlock" => unlock(&state.store, id, &auth.actor)
            .await
            .map(|(u, forgotten)| {
                format!(
                    "Account {} unlocked ({forgotten} failed sign-ins forgotten).",
                    u.username
                )
            }),
        _ => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Unknown account action.",
            ))
        }
    };
    match result {
        Ok(message) => Ok(redirect_with_flash("/admin/users", Flash::success(message))),
        Err(e) => Ok(redirect_with_flash(
            "/admin/users",
            Flash::danger(messages(e)?),
        )),
    }
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage {
    ctx: PageCtx,
    tokens: Vec<ApiToken>,
    users: Vec<User>,
    new_token: Option<String>,
    error: Option<String>,
}

async fn tokens_page(
    state: &AppState,
    ctx: PageCtx,
    new_token: Option<String>,
    error: Option<String>,
) -> PageResult {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = TokensPage {
        ctx,
        tokens: state.store.list_tokens(None).await?,
        users: state
            .store
            .list_users()
            .await?
            .into_iter()
            .filter(|u| !u.disabled)
            .collect(),
        new_token,
        error,
    };
    Ok((status, render(&page)).into_response())
}

async fn tokens(_: Admin, ctx: PageCtx, State(state): State<AppState>) -> PageResult {
    tokens_page(&state, ctx, None, None).await
}

#[derive(Debug, Default, Deserialize)]
struct TokenInput {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_days: String,
}

async fn add_token(
    Admin(auth): Admin,
    ctx: PageCtx,
    State(state): State<AppState>,
    CsrfForm(input): CsrfForm<TokenInput>,
) -> PageResult {
    let Ok(user_id) = input.user_id.parse::<i64>() else {
        return tokens_page(&state, ctx, None, Some("Choose an account.".into())).await;
    };
    let expires_at = match input.expires_days.trim() {
        "" => None,
        days => match days.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => {
                Some(chrono::Utc::now() + chrono::Duration::days(d))
            }
            _ => {
                return tokens_page(
                    &state,
                    ctx,
                    None,
                    Some("Expiry must be 1 to 3650 days, or empty for none.".into()),
                )
                .await
            }
        },
    };
    match create_token(
        &state.store,
        UserId::new(user_id),
        &input.name,
        expires_at,
        &auth.actor,
    )
    .await
    {
        Ok((secret, _)) => tokens_page(&state, ctx, Some(secret), None).await,
        Err(e) => {
            let message = messages(e)?;
            tokens_page(&state, ctx, None, Some(message)).await
        }
    }
}

async fn revoke_token(
    Admin(auth): Admin,
    State(state): State<AppState>,
    PageId(id): PageId<TokenId>,
    _: CsrfForm<TokenOnly>,
) -> PageResult {
    let token = state.store.revoke_token(id, &auth.actor).await?;
    Ok(redirect_with_flash(
        "/admin/tokens",
        Flash::success(format!(
            "Token \"{}\" of {} revoked.",
            token.name, token.username
        )),
    ))
}
