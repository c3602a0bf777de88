//! Student records: read, list, create, change, delete, restore, purge.

use crate::audit::{to_json, write_audit, Actor};
use crate::constraints::UniqueKey;
use crate::error::{DuplicateKind, StudentRef};
use crate::filter::{Listing, Page, PageRequest, StudentFilter};
use crate::generation::CachedDepartment;
use crate::rows::{name_key, StudentRow, STUDENT_COLUMNS};
use crate::student_values::{insert_student, update_student as update_row, StudentValues};
use crate::write_tx::{Counter, WriteTx};
use crate::{on_pool, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use srs_domain::{
    AuditAction, DepartmentId, DepartmentName, Email, EmergencyContacts, NewStudent, Student,
    StudentField, StudentId, StudentNumber, StudentPatch, ValidationErrors,
};
use std::sync::Arc;

/// How long an `Idempotency-Key` is remembered: a retry within it gets the
/// first answer; after it the key is forgotten (and purged).
pub const IDEMPOTENCY_RETENTION: chrono::Duration = chrono::Duration::hours(24);

/// What the store keeps under an idempotency key.
enum KeyRecord {
    /// The first answer, within its retention: replay it.
    Fresh(Box<Created>),
    /// A key past its retention, not yet purged: forgotten, so reusable.
    Stale,
    /// Never seen (or purged).
    Unknown,
}

/// An `Idempotency-Key` and the hash of the request body it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// The client's key.
    pub key: String,
    /// SHA-256 of the canonical request body, hex.
    pub request_hash: String,
}

/// How a create treats duplicates and retries.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The client saw the duplicate warning and wants the record anyway.
    pub confirm_duplicate: bool,
    /// Makes retries of the same request create nothing new.
    pub idempotency: Option<IdempotencyKey>,
}

/// The outcome of a create.
#[derive(Debug, Clone)]
pub enum Created {
    /// A new record.
    New(Student),
    /// A retry of an earlier request: its first response, as it was sent.
    Replayed {
        /// The record the first request created.
        student_id: StudentId,
        /// The first response's JSON body.
        body: String,
    },
}

pub(crate) const STUDENT_FROM: &str = "FROM students s";

/// Prefix of the placeholder number a record holds between its insert and
/// the assignment of its generated number, inside one transaction.
pub(crate) const PENDING_NUMBER_PREFIX: &str = "PENDING-";

/// The emergency-contacts column: the text form, or NULL for none.
pub(crate) fn contacts_column(contacts: &EmergencyContacts) -> Option<String> {
    (!contacts.is_empty()).then(|| contacts.to_string())
}

fn email_taken(existing: &StudentRef) -> ValidationErrors {
    ValidationErrors::single(
        "email",
        format!(
            "this email is already used by student {} ({})",
            existing.student_number, existing.full_name
        ),
    )
}

fn to_ref(row: (i64, String, String)) -> StoreResult<StudentRef> {
    Ok(StudentRef {
        id: StudentId::new(row.0),
        student_number: StudentNumber::parse(&row.1)
            .map_err(|e| StoreError::Corrupt(format!("student {}: {e}", row.0)))?,
        full_name: row.2,
    })
}

impl Store {
    /// A live student by id.
    pub async fn get_student(&self, id: StudentId) -> StoreResult<Student> {
        match self.get_student_any(id).await? {
            s if s.deleted_at.is_none() => Ok(s),
            _ => Err(StoreError::NotFound),
        }
    }

    /// A student by id, live or deleted.
    pub async fn get_student_any(&self, id: StudentId) -> StoreResult<Student> {
        let generation = self.generation().await?;
        if let Some(hit) = self.cache.student(id.get(), generation) {
            return Ok(hit);
        }
        let sql = format!("SELECT {STUDENT_COLUMNS} {STUDENT_FROM} WHERE s.id = ?");
        let row: Option<StudentRow> = on_pool!(self, p => {
            sqlx::query_as(&sql).bind(id.get()).fetch_optional(p).await?
        });
        let student: Student = row.ok_or(StoreError::NotFound)?.try_into()?;
        self.cache
            .remember_student(id.get(), generation, student.clone());
        Ok(student)
    }

    /// One page of the students `filter` selects, with the total.
    pub async fn list_students(
        &self,
        filter: &StudentFilter,
        page: PageRequest,
    ) -> StoreResult<Arc<Listing>> {
        let generation = self.generation().await?;
        self.list_students_at(generation, filter, page).await
    }

    /// One page of students plus every department's name, for the list
    /// page's filter, read at one generation.
    pub async fn list_students_and_departments(
        &self,
        filter: &StudentFilter,
        page: PageRequest,
    ) -> StoreResult<(Arc<Listing>, Vec<String>)> {
        let generation = self.generation().await?;
        let students = self.list_students_at(generation, filter, page).await?;
        let departments = self.department_names_at(generation, true).await?;
        Ok((students, departments))
    }

    async fn list_students_at(
        &self,
        generation: i64,
        filter: &StudentFilter,
        page: PageRequest,
    ) -> StoreResult<Arc<Listing>> {
        let per_page = page.per_page.clamp(1, PageRequest::MAX_PER_PAGE);
        let page = PageRequest {
            page: page.page.max(1),
            per_page,
        };
        let key = (filter.clone(), page);
        if let Some(hit) = self.cache.list(&key, generation) {
            return Ok(hit);
        }
        let (where_sql, args) = where_clause(filter);
        let count_sql = format!("SELECT COUNT(*) {STUDENT_FROM} {where_sql}");
        let total: i64 = on_pool!(self, p => {
            let mut q = sqlx::query_scalar(&count_sql);
            for a in &args {
                q = q.bind(a);
            }
            q.fetch_one(p).await?
        });
        let items = self
            .students_batch(filter, page.offset(), i64::from(per_page))
            .await?;
        let result = Arc::new(Listing::new(Page {
            items,
            total,
            page: page.page,
            per_page,
        }));
        self.cache.remember_list(key, generation, result.clone());
        Ok(result)
    }

    /// Up to `limit` students `filter` selects, skipping `offset`: the
    /// building block of streamed exports.
    pub async fn students_batch(
        &self,
        filter: &StudentFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<Student>> {
        let (where_sql, args) = where_clause(filter);
        let sqlite = matches!(self.pool, crate::Pool::Sqlite(_));
        let sql = format!(
            "SELECT {STUDENT_COLUMNS} {STUDENT_FROM} {where_sql} ORDER BY {} LIMIT ? OFFSET ?",
            filter.sort.order_by(sqlite)
        );
        let rows: Vec<StudentRow> = on_pool!(self, p => {
            let mut q = sqlx::query_as(&sql);
            for a in &args {
                q = q.bind(a);
            }
            q.bind(limit).bind(offset).fetch_all(p).await?
        });
        rows.into_iter().map(Student::try_from).collect()
    }

    /// Live students, for the metrics gauge.
    pub async fn count_live_students(&self) -> StoreResult<i64> {
        Ok(on_pool!(self, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM students WHERE deleted_at IS NULL")
                .fetch_one(p)
                .await?
        }))
    }

    /// The department's id and its name as stored (its own spelling), if
    /// it exists and takes new students.
    pub(crate) async fn department_for_new_student(
        &self,
        name: &DepartmentName,
    ) -> StoreResult<(DepartmentId, DepartmentName)> {
        // Departments change rarely: answered from the cache while the
        // departments generation says nothing changed.
        let generation = self.generations().await?.departments;
        let key = name.unique_key();
        let found = match self.cache.department(&key, generation) {
            Some(hit) => hit,
            None => {
                let row: Option<(i64, Option<DateTime<Utc>>, String)> = on_pool!(self, p => {
                    sqlx::query_as("SELECT id, retired_at, name FROM departments WHERE name_key = ?")
                        .bind(&key)
                        .fetch_optional(p)
                        .await?
                });
                let found = row.map(|(id, retired_at, name)| CachedDepartment {
                    id,
                    retired: retired_at.is_some(),
                    name,
                });
                self.cache
                    .remember_department(&key, generation, found.clone());
                found
            }
        };
        match found {
            None => Err(ValidationErrors::single(
                "department",
                format!("there is no department named '{name}'"),
            )
            .into()),
            Some(d) if d.retired => Err(ValidationErrors::single(
                "department",
                format!("department '{name}' is retired and takes no new students"),
            )
            .into()),
            Some(d) => {
                let stored = DepartmentName::parse(&d.name)
                    .map_err(|e| StoreError::Corrupt(format!("department {}: {e}", d.id)))?;
                Ok((DepartmentId::new(d.id), stored))
            }
        }
    }

    /// The live student using this e-mail, other than `except`.
    async fn live_email_owner(
        &self,
        email: &Email,
        except: Option<StudentId>,
    ) -> StoreResult<Option<StudentRef>> {
        let row: Option<(i64, String, String)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, student_number, full_name FROM students WHERE live_email_key = ? AND id <> ?",
            )
            .bind(email.unique_key())
            .bind(except.map(StudentId::get).unwrap_or(0))
            .fetch_optional(p)
            .await?
        });
        row.map(to_ref).transpose()
    }

    /// A live student with the same name and date of birth.
    async fn live_name_twin(&self, new: &NewStudent) -> StoreResult<Option<StudentRef>> {
        let row: Option<(i64, String, String)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, student_number, full_name FROM students \
                 WHERE name_key = ? AND date_of_birth = ? AND deleted_at IS NULL \
                 ORDER BY id LIMIT 1",
            )
            .bind(name_key(&new.full_name))
            .bind(new.date_of_birth.date())
            .fetch_optional(p)
            .await?
        });
        row.map(to_ref).transpose()
    }

    /// Forgets idempotency keys past their retention; how many went.
    pub async fn purge_idempotency_keys(&self) -> StoreResult<u64> {
        let before = Utc::now() - IDEMPOTENCY_RETENTION;
        let done = self
            .write_one(
                "DELETE FROM idempotency_keys WHERE created_at <= ?",
                &[before.into()],
            )
            .await?;
        Ok(done.rows)
    }

    async fn find_idempotent(&self, key: &IdempotencyKey) -> StoreResult<Option<Created>> {
        match self.idempotency_record(key).await? {
            KeyRecord::Fresh(created) => Ok(Some(*created)),
            KeyRecord::Stale | KeyRecord::Unknown => Ok(None),
        }
    }

    /// What is kept under `key`: a first answer to replay, one past its
    /// retention, or nothing.
    async fn idempotency_record(&self, key: &IdempotencyKey) -> StoreResult<KeyRecord> {
        let row: Option<(String, String, i64, DateTime<Utc>)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT request_hash, response_body, student_id, created_at FROM idempotency_keys WHERE idem_key = ?",
            )
            .bind(&key.key)
            .fetch_optional(p)
            .await?
        });
        match row {
            None => Ok(KeyRecord::Unknown),
            Some((.., created_at)) if created_at <= Utc::now() - IDEMPOTENCY_RETENTION => {
                Ok(KeyRecord::Stale)
            }
            Some((hash, ..)) if hash != key.request_hash => Err(StoreError::IdempotencyMismatch),
            Some((_, body, id, _)) => Ok(KeyRecord::Fresh(Box::new(Created::Replayed {
                student_id: StudentId::new(id),
                body,
            }))),
        }
    }

    /// Creates a student, refusing duplicates unless confirmed and replaying
    /// the first response for a repeated idempotency key.
    #[tracing::instrument(skip_all)]
    pub async fn create_student(
        &self,
        new: &NewStudent,
        options: &CreateOptions,
        actor: &Actor,
    ) -> StoreResult<Created> {
        let mut stale_key = false;
        if let Some(key) = &options.idempotency {
            match self.idempotency_record(key).await? {
                KeyRecord::Fresh(replay) => return Ok(*replay),
                KeyRecord::Stale => stale_key = true,
                KeyRecord::Unknown => {}
            }
        }
        let (department, department_name) =
            self.department_for_new_student(&new.department).await?;
        if let Some(email) = &new.email {
            if let Some(existing) = self.live_email_owner(email, None).await? {
                return Err(StoreError::Duplicate {
                    kind: DuplicateKind::Email,
                    existing,
                });
            }
        }
        if !options.confirm_duplicate {
            if let Some(existing) = self.live_name_twin(new).await? {
                return Err(StoreError::Duplicate {
                    kind: DuplicateKind::NameAndBirthDate,
                    existing,
                });
            }
        }
        let values = StudentValues::of_new(new, department);
        // To the microsecond, as both engines store it: the record built
        // here is the one a later read returns.
        let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
        let mut tx = self.begin_write().await?;
        let (id, number) =
            insert_student(&mut tx, &values, new.student_number.as_ref(), now).await?;
        // Built from what was written rather than read back: one round
        // trip less on the write path.
        let number = StudentNumber::parse(&number)
            .map_err(|e| StoreError::Corrupt(format!("student {id}: {e}")))?;
        let student = Student::created(new, StudentId::new(id), number, department_name, now);
        let after = to_json(&student)?;
        write_audit(
            &mut tx,
            actor,
            AuditAction::StudentCreate,
            "student",
            Some(id),
            None,
            Some(&after),
        )
        .await?;
        if let Some(key) = &options.idempotency {
            if let Err(e) = remember_key(&mut tx, key, stale_key, &after, id, now).await {
                if UniqueKey::violated_by(&e) == Some(UniqueKey::IdempotencyKey) {
                    // A concurrent request with the same key won: answer as
                    // it did. This create is undone; on SQLite the winner
                    // may still be in an open group, so wait for it first.
                    drop(tx);
                    self.begin_write().await?.commit().await?;
                    return match self.find_idempotent(key).await? {
                        Some(replay) => Ok(replay),
                        None => Err(UniqueKey::IdempotencyKey.taken("")),
                    };
                }
                return Err(e.into());
            }
        }
        tx.bump(Counter::Data).await?;
        tx.commit().await?;
        tracing::info!(student_id = %student.id, "student created");
        Ok(Created::New(student))
    }

    /// Applies `patch` to `current` (the record as the caller read it, which
    /// it needed to check the patch). When `patch.version` is older, the
    /// patch is merged field by field: it applies if no field it changes
    /// was changed by someone else since (the audit trail says which), and
    /// is refused naming the real clashes otherwise. The update itself
    /// re-checks the version, so a change in between gives a conflict,
    /// never a lost update.
    #[tracing::instrument(skip_all, fields(student_id = %current.id))]
    pub async fn update_student(
        &self,
        current: &Student,
        patch: &StudentPatch,
        actor: &Actor,
    ) -> StoreResult<Student> {
        let id = current.id;
        self.merge_check(current, patch).await?;
        if patch.is_empty() {
            return Ok(current.clone());
        }
        let (department_id, department_name) = self.department_after(current, patch).await?;
        if let Some(email) = patch
            .email
            .as_ref()
            .map_or(current.email.as_ref(), Option::as_ref)
        {
            if let Some(existing) = self.live_email_owner(email, Some(id)).await? {
                return Err(email_taken(&existing).into());
            }
        }
        let now = Utc::now();
        let after = Student {
            department: department_name,
            updated_at: now,
            version: current.version + 1,
            ..patch.applied_to(current)
        };
        let values = StudentValues::of_student(&after, department_id);
        let (before_json, after_json) = (to_json(&current)?, to_json(&after)?);
        let mut tx = self.begin_write().await?;
        let updated = match update_row(&mut tx, &values, id.get(), current.version, now).await {
            Ok(n) => n,
            Err(e) if UniqueKey::violated_by(&e) == Some(UniqueKey::LiveEmail) => {
                return Err(UniqueKey::LiveEmail.taken(""))
            }
            Err(e) => return Err(e.into()),
        };
        if updated == 0 {
            // Nothing was written; on SQLite this also waits for the group
            // holding the change that beat this one, so the read sees it.
            tx.commit().await?;
            // Changed in the moment between reading and writing: the
            // caller merges again from the record as it is now.
            let now = self.get_student(id).await?;
            return Err(StoreError::VersionConflict {
                current: Box::new(now),
                clashes: patch_fields(patch),
            });
        }
        write_audit(
            &mut tx,
            actor,
            AuditAction::StudentUpdate,
            "student",
            Some(id.get()),
            Some(&before_json),
            Some(&after_json),
        )
        .await?;
        tx.bump(Counter::Data).await?;
        tx.commit().await?;
        tracing::info!("student updated");
        self.get_student(id).await
    }

    /// Refuses a patch written against another version unless it merges:
    /// an older version whose fields nobody changed since merges; a clash,
    /// or a version from the future, is a conflict naming the fields.
    async fn merge_check(&self, current: &Student, patch: &StudentPatch) -> StoreResult<()> {
        if current.version == patch.version {
            return Ok(());
        }
        let others = if patch.version < current.version {
            self.fields_changed_between(current.id, patch.version, current.version)
                .await?
        } else {
            // A version from the future: nothing to merge with.
            StudentField::ALL.into_iter().collect()
        };
        let clashes = patch.clashes(current, &others);
        if !clashes.is_empty() || patch.version > current.version {
            return Err(StoreError::VersionConflict {
                current: Box::new(current.clone()),
                clashes: if clashes.is_empty() {
                    patch_fields(patch)
                } else {
                    clashes
                },
            });
        }
        tracing::info!(
            from = patch.version,
            to = current.version,
            "an edit from an older version merged: it changes no field changed since"
        );
        Ok(())
    }

    /// The department the record has after `patch`: a new one must exist
    /// and take students; the same one (in any case) stays as stored.
    async fn department_after(
        &self,
        current: &Student,
        patch: &StudentPatch,
    ) -> StoreResult<(DepartmentId, DepartmentName)> {
        match &patch.department {
            Some(name) if name.unique_key() != current.department.unique_key() => {
                self.department_for_new_student(name).await
            }
            _ => Ok((
                self.department_id_of(&current.department).await?,
                current.department.clone(),
            )),
        }
    }

    async fn department_id_of(&self, name: &DepartmentName) -> StoreResult<DepartmentId> {
        let id: Option<i64> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT id FROM departments WHERE name_key = ?")
                .bind(name.unique_key())
                .fetch_optional(p)
                .await?
        });
        id.map(DepartmentId::new).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "department '{name}' of a stored student is missing"
            ))
        })
    }

    /// Soft-deletes a live student: it leaves lists and lookups but can be restored.
    #[tracing::instrument(skip_all, fields(student_id = %id))]
    pub async fn delete_student(&self, id: StudentId, actor: &Actor) -> StoreResult<()> {
        let before_json = to_json(&self.get_student(id).await?)?;
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let deleted = tx
            .execute(
                "UPDATE students SET deleted_at = ?, live_email_key = NULL, updated_at = ?, \
                 version = version + 1 WHERE id = ? AND deleted_at IS NULL",
                &[now.into(), now.into(), id.get().into()],
            )
            .await?
            .rows;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            actor,
            AuditAction::StudentDelete,
            "student",
            Some(id.get()),
            Some(&before_json),
            None,
        )
        .await?;
        tx.bump(Counter::Data).await?;
        tx.commit().await?;
        tracing::info!("student deleted");
        Ok(())
    }

    /// Brings a deleted student back, unless its e-mail now belongs to
    /// another live student.
    #[tracing::instrument(skip_all, fields(student_id = %id))]
    pub async fn restore_student(&self, id: StudentId, actor: &Actor) -> StoreResult<Student> {
        let student = self.get_student_any(id).await?;
        if student.deleted_at.is_none() {
            return Err(StoreError::Conflict(format!(
                "student {} is not deleted",
                student.student_number
            )));
        }
        if let Some(email) = &student.email {
            if let Some(owner) = self.live_email_owner(email, Some(id)).await? {
                return Err(StoreError::Conflict(format!(
                    "cannot restore: its email is now used by student {} ({}); change that record's email first",
                    owner.student_number, owner.full_name
                )));
            }
        }
        let now = Utc::now();
        let before_json = to_json(&student)?;
        let after_json = to_json(&Student {
            deleted_at: None,
            updated_at: now,
            version: student.version + 1,
            ..student.clone()
        })?;
        let email_key = student.email.as_ref().map(Email::unique_key);
        let mut tx = self.begin_write().await?;
        let restored = tx
            .execute(
                "UPDATE students SET deleted_at = NULL, live_email_key = ?, updated_at = ?, \
                 version = version + 1 WHERE id = ? AND deleted_at IS NOT NULL",
                &[(&email_key).into(), now.into(), id.get().into()],
            )
            .await;
        let restored = match restored {
            Ok(done) => done.rows,
            Err(e) if UniqueKey::violated_by(&e) == Some(UniqueKey::LiveEmail) => {
                return Err(StoreError::Conflict(
                    "cannot restore: its email is now used by another student".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        if restored == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            actor,
            AuditAction::StudentRestore,
            "student",
            Some(id.get()),
            Some(&before_json),
            Some(&after_json),
        )
        .await?;
        tx.bump(Counter::Data).await?;
        tx.commit().await?;
        tracing::info!("student restored");
        self.get_student(id).await
    }

    /// Removes for good the students deleted before `cutoff`; returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn purge_deleted(&self, cutoff: DateTime<Utc>, actor: &Actor) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let purged = tx
            .execute(
                "DELETE FROM students WHERE deleted_at IS NOT NULL AND deleted_at < ?",
                &[cutoff.into()],
            )
            .await?
            .rows;
        tx.execute(
            "DELETE FROM idempotency_keys WHERE student_id NOT IN (SELECT id FROM students)",
            &[],
        )
        .await?;
        // The foreign key cascades; this also holds where it is not enforced.
        tx.execute(
            "DELETE FROM student_notes WHERE student_id NOT IN (SELECT id FROM students)",
            &[],
        )
        .await?;
        let summary = serde_json::json!({"purged": purged, "deleted_before": cutoff}).to_string();
        write_audit(
            &mut tx,
            actor,
            AuditAction::StudentPurge,
            "student",
            None,
            None,
            Some(&summary),
        )
        .await?;
        tx.bump(Counter::Data).await?;
        tx.commit().await?;
        tracing::info!(purged, "deleted students purged");
        Ok(purged)
    }
}

/// Keeps the first answer under `key` (forgetting a stale record of the
/// same key first), inside the create's write.
async fn remember_key(
    tx: &mut WriteTx<'_>,
    key: &IdempotencyKey,
    stale: bool,
    body: &str,
    student_id: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // Only when it is there: on MariaDB a DELETE that finds nothing locks
    // the gap where the key would be, and two creates doing that before
    // their INSERTs deadlock.
    if stale {
        tx.execute(
            "DELETE FROM idempotency_keys WHERE idem_key = ? AND created_at <= ?",
            &[
                key.key.as_str().into(),
                (now - IDEMPOTENCY_RETENTION).into(),
            ],
        )
        .await?;
    }
    tx.execute(
        "INSERT INTO idempotency_keys (idem_key, request_hash, response_body, student_id, created_at) \
         VALUES (?, ?, ?, ?, ?)",
        &[
            key.key.as_str().into(),
            key.request_hash.as_str().into(),
            body.into(),
            student_id.into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}

/// The WHERE clause and its arguments, all bound as parameters.
pub(crate) fn where_clause(filter: &StudentFilter) -> (String, Vec<String>) {
    let mut conditions = vec![if filter.deleted {
        "s.deleted_at IS NOT NULL"
    } else {
        "s.deleted_at IS NULL"
    }
    .to_owned()];
    let mut args = Vec::new();
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // INSTR, not LIKE: no wildcards to escape, and several times faster
        // on SQLite; search_text is folded for search, so are the words.
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        let phone_like = digits.len() >= 3
            && q.chars()
                .all(|c| c.is_ascii_digit() || " +-.()".contains(c));
        // Every word, in any order: "sharma ada" finds Ada Bz Sharma.
        let words = srs_domain::search_words(q);
        let all_words = if words.is_empty() {
            // Only punctuation: nothing to look for, so nothing matches.
            "1 = 0".to_owned()
        } else {
            vec!["INSTR(s.search_text, ?) > 0"; words.len()].join(" AND ")
        };
        if phone_like && digits != q {
            // "(555) 123-45" finds 5551234567 however it was written, and
            // still finds "S2026-000123" written as it is.
            conditions.push(format!("(({all_words}) OR INSTR(s.search_text, ?) > 0)"));
            args.extend(words);
            args.push(digits);
        } else {
            conditions.push(format!("({all_words})"));
            args.extend(words);
        }
    }
    if let Some(department) = &filter.department {
        conditions.push("s.department_id = (SELECT id FROM departments WHERE name_key = ?)".into());
        args.push(department.unique_key());
    }
    if let Some(status) = filter.status {
        conditions.push("s.status = ?".into());
        args.push(status.as_str().to_owned());
    }
    (format!("WHERE {}", conditions.join(" AND ")), args)
}

/// Every field `patch` sets.
fn patch_fields(patch: &StudentPatch) -> Vec<StudentField> {
    StudentField::ALL
        .into_iter()
        .filter(|f| patch.sets(*f))
        .collect()
}
