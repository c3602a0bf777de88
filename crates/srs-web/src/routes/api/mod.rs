//! The JSON API under `/api/v1`.

pub mod audit;
pub mod departments;
pub mod notes;
pub mod students;
pub mod transfer;

use crate::state::AppState;
use axum::Router;

/// Every API route, to be nested under `/api/v1`.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(students::router())
        .merge(audit::router())
        .merge(notes::router())
        .merge(departments::router())
        .merge(transfer::router(state))
}
