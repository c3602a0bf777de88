//! `/api/v1/students/{id}/notes`: notes on a student.

use crate::auth::{Registrar, Viewer};
use crate::error::{ApiResult, Problem};
use crate::extract::{parse_id, AppJson};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use srs_domain::{NoteText, StudentId, ValidationErrors};
use srs_store::Note;
use utoipa::ToSchema;

/// Routes for notes.
pub fn router() -> Router<AppState> {
    Router::new().route("/students/{id}/notes", get(list_notes).post(add_note))
}

/// A new note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNoteRequest {
    /// 1-2,000 characters; line breaks are kept.
    #[schema(example = "Called home: back after the winter break.")]
    pub body: String,
}

/// A student's notes, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/students/{id}/notes", tag = "students",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Note>), (status = 404, body = Problem)))]
pub async fn list_notes(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Note>>> {
    let id = StudentId::new(parse_id(&id)?);
    state.store.get_student_any(id).await?;
    Ok(Json(state.store.notes(id).await?))
}

/// Adds a note to a live student (recorded in the audit trail).
#[utoipa::path(post, path = "/api/v1/students/{id}/notes", request_body = NewNoteRequest, tag = "students",
    params(("id" = i64, Path)),
    responses((status = 201, body = Note), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_note(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: AppJson<NewNoteRequest>,
) -> ApiResult<(StatusCode, Json<Note>)> {
    let id = StudentId::new(parse_id(&id)?);
    let text = NoteText::parse(&body.value.body)
        .map_err(|e| ValidationErrors::single("body", e.to_string()))?;
    let note = state.store.add_note(id, &text, &auth.actor).await?;
    Ok((StatusCode::CREATED, Json(note)))
}
