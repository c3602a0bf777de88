//! Server-rendered pages. They work without JavaScript; every form carries
//! a CSRF token.

mod admin;
mod audit;
mod bulk;
mod departments;
mod forms;
mod import;
mod overview;
mod session;
mod students;

pub(crate) use session::keep_form_of_expired_session;

use crate::state::AppState;
use axum::Router;

/// Every page route.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(overview::router())
        .merge(bulk::router())
        .merge(students::router())
        .merge(departments::router())
        .merge(import::router(state))
        .merge(session::router())
        .merge(admin::router())
        .merge(audit::router())
}
