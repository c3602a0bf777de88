//! Server-rendered pages. They work without JavaScript; every form carries
//! a CSRF token.

mod departments;
mod forms;
mod import;
mod students;

use crate::state::AppState;
use axum::Router;

/// Every page route.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(students::router())
        .merge(departments::router())
        .merge(import::router(state))
}
