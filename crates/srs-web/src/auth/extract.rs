//! Role guards as extractors: a handler names the least role it needs in
//! its signature, and the guard answers 401 or 403 before it runs.

pub use super::middleware::Authenticated;
use super::middleware::Caller;
use crate::error::ApiError;
use crate::page::PageError;
use crate::state::AppState;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use srs_domain::Role;

/// Why a guard refused a request.
#[derive(Debug)]
pub struct AuthRejection {
    api: bool,
    status: StatusCode,
    message: String,
    next: String,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match (self.api, self.status) {
            (true, StatusCode::UNAUTHORIZED) => {
                let mut r = ApiError::Unauthorized(self.message).into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"srs\""),
                );
                r
            }
            (true, _) => ApiError::Forbidden(self.message).into_response(),
            (false, StatusCode::UNAUTHORIZED) => {
                let next: String =
                    serde_urlencoded::to_string([("next", self.next.as_str())]).unwrap_or_default();
                Redirect::to(&format!("/login?{next}")).into_response()
            }
            (false, status) => PageError::new(status, self.message).into_response(),
        }
    }
}

fn guard(parts: &Parts, needed: Role) -> Result<Authenticated, AuthRejection> {
    // Nested routers see their path without the prefix; the original URI
    // tells whether this is an API call.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map(|o| &o.0)
        .unwrap_or(&parts.uri);
    let api = uri.path().starts_with("/api/");
    let next = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let reject = |status, message: &str| AuthRejection {
        api,
        status,
        message: message.to_owned(),
        next: next.clone(),
    };
    match parts.extensions.get::<Caller>() {
        Some(Caller::Known(auth)) if auth.user.role.allows(needed) => Ok((**auth).clone()),
        Some(Caller::Known(auth)) => {
            tracing::warn!(user = %auth.user.username, role = %auth.user.role, needed = %needed, "forbidden");
            Err(reject(
                StatusCode::FORBIDDEN,
                &format!(
                    "this needs the {needed} role; your account is a {}",
                    auth.user.role
                ),
            ))
        }
        Some(Caller::BadToken) => Err(reject(
            StatusCode::UNAUTHORIZED,
            "the bearer token is unknown, revoked or expired",
        )),
        Some(Caller::SessionNotForApiWrites) => Err(reject(
            StatusCode::UNAUTHORIZED,
            "changes through the API need a bearer token (Authorization: Bearer …)",
        )),
        _ => Err(reject(
            StatusCode::UNAUTHORIZED,
            if api {
                "sign in first: send Authorization: Bearer <token>"
            } else {
                "sign in first"
            },
        )),
    }
}

macro_rules! role_guard {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Authenticated);

        impl FromRequestParts<AppState> for $name {
            type Rejection = AuthRejection;

            async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
                guard(parts, $role).map($name)
            }
        }
    };
}

role_guard!(
    /// Any signed-in account: viewer, registrar or admin.
    Viewer,
    Role::Viewer
);
role_guard!(
    /// A registrar or an admin.
    Registrar,
    Role::Registrar
);
role_guard!(
    /// An admin.
    Admin,
    Role::Admin
);

/// The signed-in account, if any, without requiring one (for page chrome).
pub(crate) fn current(parts: &Parts) -> Option<Authenticated> {
    match parts.extensions.get::<Caller>() {
        Some(Caller::Known(auth)) => Some((**auth).clone()),
        _ => None,
    }
}
