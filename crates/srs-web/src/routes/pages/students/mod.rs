//! Student pages: the list, the form (add, edit, and what meets an edit:
//! a conflict, a record deleted meanwhile) and the record (view, notes,
//! delete, restore).

mod form;
mod list;
mod list_view;
mod record;

pub(super) use list_view::{page_count, page_numbers, url};

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use form::{create, edit_form, new_form, update};
use list::list;
use record::{add_note, confirm_delete, delete, restore, show};

/// Student page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/students", get(list).post(create))
        .route("/students/new", get(new_form))
        .route("/students/{id}", get(show))
        .route("/students/{id}/edit", get(edit_form).post(update))
        .route("/students/{id}/delete", get(confirm_delete).post(delete))
        .route("/students/{id}/restore", post(restore))
        .route("/students/{id}/notes", post(add_note))
}
