//! One student's record: its page and notes, delete and restore.

use super::super::forms::{CsrfForm, TokenOnly};
use crate::auth::{Registrar, Viewer};
use crate::error::ApiError;
use crate::extract::PageId;
use crate::page::{redirect_with_flash, render, Flash, PageCtx, PageError, PageResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use srs_domain::{Student, StudentId};
use srs_store::StoreError;

#[derive(Template)]
#[template(path = "students/show.html")]
struct ShowPage {
    ctx: PageCtx,
    s: Student,
    history: Vec<crate::history::HistoryEntry>,
    /// Who deleted it, when it is deleted (from its history).
    deleted_by: Option<String>,
    /// Its notes, newest first.
    notes: Vec<srs_store::Note>,
    /// The note being written (kept when refused).
    note: String,
    /// Why the note was refused.
    note_error: Option<String>,
}

pub(super) async fn load(state: &AppState, id: StudentId) -> Result<Student, PageError> {
    Ok(state.store.get_student(id).await?)
}

pub(super) async fn show(
    _: Viewer,
    ctx: PageCtx,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
) -> PageResult {
    show_page(&state, ctx, id, NoteInput::default(), None).await
}

/// A student's page, with the note form holding `note` and its error.
async fn show_page(
    state: &AppState,
    ctx: PageCtx,
    id: StudentId,
    note: NoteInput,
    note_error: Option<String>,
) -> PageResult {
    // A deleted student is shown as deleted (with Restore), not as a
    // dead end: its number and history are still what people look for.
    let s = state.store.get_student_any(id).await?;
    let history = crate::routes::api::audit::history_of(state, s.id).await?;
    let notes = state.store.notes(s.id).await?;
    let deleted_by = s.deleted_at.and(
        history
            .iter()
            .filter(|h| h.action == srs_domain::AuditAction::StudentDelete.as_str())
            .max_by_key(|h| h.at)
            .map(|h| h.actor.clone()),
    );
    let status = if note_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ShowPage {
        ctx,
        s,
        history,
        deleted_by,
        notes,
        note: note.body,
        note_error,
    };
    Ok((status, render(&page)).into_response())
}

/// The note form.
#[derive(Debug, Default, Deserialize)]
pub(super) struct NoteInput {
    #[serde(default)]
    body: String,
}

pub(super) async fn add_note(
    Registrar(auth): Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
    CsrfForm(input): CsrfForm<NoteInput>,
) -> PageResult {
    let text = match srs_domain::NoteText::parse(&input.body) {
        Ok(t) => t,
        Err(e) => return show_page(&state, ctx, id, input, Some(e.to_string())).await,
    };
    state.store.add_note(id, &text, &auth.actor).await?;
    Ok(redirect_with_flash(
        &format!("/students/{}#notes", id),
        Flash::success("Note added."),
    ))
}

#[derive(Template)]
#[template(path = "students/delete.html")]
struct DeletePage {
    ctx: PageCtx,
    s: Student,
}

pub(super) async fn confirm_delete(
    _: Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
) -> PageResult {
    let s = load(&state, id).await?;
    Ok(render(&DeletePage { ctx, s }))
}

pub(super) async fn delete(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
    _: CsrfForm<TokenOnly>,
) -> PageResult {
    let s = load(&state, id).await?;
    state.store.delete_student(s.id, &auth.actor).await?;
    let mut flash = Flash::success(format!(
        "Student {} ({}) deleted.",
        s.student_number, s.full_name
    ));
    flash.restore_id = Some(s.id.get());
    Ok(redirect_with_flash("/students", flash))
}

pub(super) async fn restore(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
    _: CsrfForm<TokenOnly>,
) -> PageResult {
    match state.store.restore_student(id, &auth.actor).await {
        Ok(s) => Ok(redirect_with_flash(
            &format!("/students/{}", s.id),
            Flash::success(format!(
                "Student {} ({}) restored.",
                s.student_number, s.full_name
            )),
        )),
        Err(StoreError::Conflict(message)) => Ok(redirect_with_flash(
            "/students?deleted=true",
            Flash::danger(message),
        )),
        Err(e) => Err(ApiError::from(e).into()),
    }
}
