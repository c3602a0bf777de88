//! Notes on a student: dated, by author, written with their audit entry.

use crate::audit::{to_json, write_audit};
use crate::write_tx::Counter;
use crate::{on_pool, Actor, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use serde::Serialize;
use srs_domain::{AuditAction, NoteText, StudentId};

/// One note.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Note {
    /// Its id.
    pub id: i64,
    /// The student it is about.
    #[schema(value_type = i64)]
    pub student_id: StudentId,
    /// What it says.
    #[schema(value_type = String)]
    pub body: NoteText,
    /// Who wrote it, as the audit trail names them.
    pub author: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

type NoteRow = (i64, i64, String, String, DateTime<Utc>);

fn note_of(row: NoteRow) -> Note {
    let (id, student_id, body, author, created_at) = row;
    Note {
        id,
        student_id: StudentId::new(student_id),
        body: NoteText::from_stored(body),
        author,
        created_at,
    }
}

/// Most notes a student's page and the API list.
pub const MAX_NOTES: i64 = 500;

impl Store {
    /// A student's notes, newest first (at most [`MAX_NOTES`]).
    pub async fn notes(&self, student: StudentId) -> StoreResult<Vec<Note>> {
        let rows: Vec<NoteRow> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, student_id, body, author, created_at FROM student_notes \
                 WHERE student_id = ? ORDER BY id DESC LIMIT ?",
            )
            .bind(student.get())
            .bind(MAX_NOTES)
            .fetch_all(p)
            .await?
        });
        Ok(rows.into_iter().map(note_of).collect())
    }

    /// Adds a note to a live student, with its audit entry.
    #[tracing::instrument(skip_all, fields(student_id = %student))]
    pub async fn add_note(
        &self,
        student: StudentId,
        body: &NoteText,
        actor: &Actor,
    ) -> StoreResult<Note> {
        let now = Utc::now();
        let after = to_json(&serde_json::json!({ "note": body.as_str() }))?;
        let mut tx = self.begin_write().await?;
        // Inside the write: a student deleted meanwhile gets no note.
        let live: Option<(i64,)> = tx
            .fetch_optional(
                "SELECT id FROM students WHERE id = ? AND deleted_at IS NULL",
                &[student.get().into()],
            )
            .await?;
        if live.is_none() {
            return Err(StoreError::NotFound);
        }
        let id = tx
            .execute(
                "INSERT INTO student_notes (student_id, body, author, author_user_id, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
                &[
                    student.get().into(),
                    body.as_str().into(),
                    actor.label.as_str().into(),
                    actor.user_id.map(srs_domain::UserId::get).into(),
                    now.into(),
                ],
            )
            .await?
            .inserted_id;
        write_audit(
            &mut tx,
            actor,
            AuditAction::StudentNote,
            "student",
            Some(student.get()),
            None,
            Some(&after),
        )
        .await?;
        tx.bump(Counter::Data).await?;
        tx.commit().await?;
        tracing::info!("note added");
        Ok(Note {
            id,
            student_id: student,
            body: body.clone(),
            author: actor.label.clone(),
            created_at: now,
        })
    }
}
