//! All-or-nothing CSV import: every row is checked against the database and
//! the rest of the file before anything is written.

use crate::audit::{write_audit, Actor};
use crate::rows::name_key;
use crate::student_values::{insert_student, StudentValues};
use crate::write_tx::Counter;
use crate::{on_pool, Store, StoreError, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};
use srs_domain::{AuditAction, DepartmentId, NewStudent};
use std::collections::{HashMap, HashSet};

/// One parsed row of an import and the line it came from.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// The row's student.
    pub student: NewStudent,
}

/// Why one row was refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// 1-based line number in the file.
    pub line: u64,
    /// The column at fault.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// The row's student, as the file names them (when it does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The value at fault, as the file gives it (when there is one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What would let the row in, when the importer can choose it; each
    /// surface (API, page) words it in its own terms.
    #[serde(skip)]
    pub remedy: Option<RowRemedy>,
}

/// What an importer can choose to let a refused row in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowRemedy {
    /// Accept rows that look like students already there or earlier in
    /// the file (same name and date of birth).
    AllowDuplicates,
}

impl RowError {
    /// An error about a line as a whole.
    pub fn new(line: u64, field: &str, message: impl Into<String>) -> Self {
        Self {
            line,
            field: field.to_owned(),
            message: message.into(),
            name: None,
            value: None,
            remedy: None,
        }
    }

    /// The same error, naming the row's student and the value at fault.
    pub fn about(mut self, name: Option<String>, value: Option<String>) -> Self {
        self.name = name.filter(|n| !n.trim().is_empty());
        self.value = value;
        self
    }
}

/// The value of one of a student's fields, as an error shows it.
fn value_of(s: &srs_domain::NewStudent, field: &str) -> Option<String> {
    srs_domain::StudentField::named(field)
        .map(|f| s.text(f))
        .filter(|v| !v.is_empty())
}

/// How an import treats its rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check only; write nothing.
    pub dry_run: bool,
    /// Accept rows whose name and date of birth match a live record.
    pub allow_duplicates: bool,
}

/// How many keys go into one `IN (...)` look-up.
const LOOKUP_CHUNK: usize = 500;

impl Store {
    /// Checks every row, then writes all of them in one transaction or none.
    /// Returns the number of rows imported (or that would be, on a dry run).
    #[tracing::instrument(skip_all, fields(rows = rows.len(), dry_run = options.dry_run))]
    pub async fn import_students(
        &self,
        rows: &[ImportRow],
        options: ImportOptions,
        actor: &Actor,
    ) -> StoreResult<usize> {
        let errors = self.check_import(rows, options).await?;
        if !errors.is_empty() {
            return Err(StoreError::ImportRejected(errors));
        }
        if options.dry_run {
            return Ok(rows.len());
        }
        let departments = self.department_ids().await?;
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        for row in rows {
            let department = departments
                .get(&row.student.department.unique_key())
                .map(|(id, _)| *id)
                .ok_or_else(|| {
                    StoreError::Conflict("a department was removed during the import".into())
                })?;
            let values = StudentValues::of_new(&row.student, department);
            let inserted =
                insert_student(&mut tx, &values, row.student.student_number.as_ref(), now).await;
            let (id, number) = inserted.map_err(|e| rejected_row(row, e))?;
            // The record as a create would record it, and the line of the
            // file it came from.
            let number = srs_domain::StudentNumber::parse(&number)
                .map_err(|e| StoreError::Corrupt(format!("student {id}: {e}")))?;
            let student = srs_domain::Student::created(
                &row.student,
                srs_domain::StudentId::new(id),
                number,
                row.student.department.clone(),
                now,
            );
            let mut after = serde_json::to_value(&student)
                .map_err(|e| StoreError::Corrupt(format!("audit serialisation: {e}")))?;
            after["import_line"] = serde_json::json!(row.line);
            write_audit(
                &mut tx,
                actor,
                AuditAction::StudentImport,
                "student",
                Some(id),
                None,
                Some(&after.to_string()),
            )
            .await?;
        }
        tx.bump(Counter::Data).await?;
        tx.commit().await?;
        let imported = rows.len();
        tracing::info!(imported, "students imported");
        Ok(imported)
    }

    async fn department_ids(&self) -> StoreResult<HashMap<String, (DepartmentId, bool)>> {
        let rows: Vec<(i64, String, Option<DateTime<Utc>>)> = on_pool!(self, p => {
            sqlx::query_as("SELECT id, name_key, retired_at FROM departments")
                .fetch_all(p)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, key, retired)| (key, (DepartmentId::new(id), retired.is_some())))
            .collect())
    }

    /// Values of `column` among students that match any of `keys`.
    async fn existing_values(
        &self,
        column: &'static str,
        live_only: bool,
        keys: &[String],
    ) -> StoreResult<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in keys.chunks(LOOKUP_CHUNK) {
            let placeholders = crate::dialect::placeholders(chunk.len());
            let live = if live_only {
                " AND deleted_at IS NULL"
            } else {
                ""
            };
            let sql =
                format!("SELECT {column} FROM students WHERE {column} IN ({placeholders}){live}");
            let values: Vec<String> = on_pool!(self, p => {
                let mut q = sqlx::query_scalar(&sql);
                for k in chunk {
                    q = q.bind(k);
                }
                q.fetch_all(p).await?
            });
            found.extend(values);
        }
        Ok(found)
    }

    /// (name key, date of birth) pairs of live students among `names`.
    async fn existing_name_births(
        &self,
        names: &[String],
    ) -> StoreResult<HashSet<(String, NaiveDate)>> {
        let mut found = HashSet::new();
        for chunk in names.chunks(LOOKUP_CHUNK) {
            let placeholders = crate::dialect::placeholders(chunk.len());
            let sql = format!(
                "SELECT name_key, date_of_birth FROM students WHERE deleted_at IS NULL AND name_key IN ({placeholders})"
            );
            let values: Vec<(String, NaiveDate)> = on_pool!(self, p => {
                let mut q = sqlx::query_as(&sql);
                for k in chunk {
                    q = q.bind(k);
                }
                q.fetch_all(p).await?
            });
            found.extend(values);
        }
        Ok(found)
    }

    /// Every problem the database or the rest of the file finds with `rows`.
    pub async fn check_import(
        &self,
        rows: &[ImportRow],
        options: ImportOptions,
    ) -> StoreResult<Vec<RowError>> {
        let departments = self.department_ids().await?;
        let emails: Vec<String> = rows
            .iter()
            .filter_map(|r| r.student.email.as_ref().map(|e| e.unique_key()))
            .collect();
        let numbers: Vec<String> = rows
            .iter()
            .filter_map(|r| {
                r.student
                    .student_number
                    .as_ref()
                    .map(|n| n.as_str().to_owned())
            })
            .collect();
        let names: Vec<String> = rows
            .iter()
            .map(|r| name_key(&r.student.full_name))
            .collect();
        let taken = Taken {
            emails: self
                .existing_values("live_email_key", false, &emails)
                .await?,
            numbers: self
                .existing_values("student_number", false, &numbers)
                .await?,
            names: if options.allow_duplicates {
                HashSet::new()
            } else {
                self.existing_name_births(&names).await?
            },
        };
        let mut checker = RowChecker {
            departments: &departments,
            taken,
            allow_duplicates: options.allow_duplicates,
            seen_emails: HashMap::new(),
            seen_numbers: HashMap::new(),
            seen_names: HashMap::new(),
        };
        Ok(rows.iter().flat_map(|row| checker.check(row)).collect())
    }
}

/// The keys the database already holds that a new student may not take.
struct Taken {
    /// Live students' e-mails (folded).
    emails: HashSet<String>,
    /// Student numbers.
    numbers: HashSet<String>,
    /// Live students' folded names with their dates of birth.
    names: HashSet<(String, NaiveDate)>,
}

/// Checks a file's rows, one after another, against the departments, the
/// keys taken in the database and the rows before them.
struct RowChecker<'a> {
    departments: &'a HashMap<String, (DepartmentId, bool)>,
    taken: Taken,
    allow_duplicates: bool,
    seen_emails: HashMap<String, u64>,
    seen_numbers: HashMap<String, u64>,
    seen_names: HashMap<(String, NaiveDate), u64>,
}

impl RowChecker<'_> {
    /// Every problem of `row`.
    fn check(&mut self, row: &ImportRow) -> Vec<RowError> {
        let s = &row.student;
        let error = |field: &str, message: String| {
            RowError::new(row.line, field, message)
                .about(Some(s.full_name.to_string()), value_of(s, field))
        };
        let mut errors = Vec::new();
        match self.departments.get(&s.department.unique_key()) {
            None => errors.push(error(
                "department",
                format!("there is no department named '{}'", s.department),
            )),
            Some((_, true)) => errors.push(error(
                "department",
                format!(
                    "department '{}' is retired and takes no new students",
                    s.department
                ),
            )),
            Some(_) => {}
        }
        if let Some(email) = &s.email {
            let key = email.unique_key();
            if self.taken.emails.contains(&key) {
                errors.push(error(
                    "email",
                    format!("email {email} is already used by a live student"),
                ));
            } else if let Some(first) = self.seen_emails.insert(key, row.line) {
                errors.push(error(
                    "email",
                    format!("email {email} also appears on line {first}"),
                ));
            }
        }
        if let Some(number) = &s.student_number {
            let key = number.as_str().to_owned();
            if self.taken.numbers.contains(&key) {
                errors.push(error(
                    "student_number",
                    format!("student number {number} is already in use"),
                ));
            } else if let Some(first) = self.seen_numbers.insert(key, row.line) {
                errors.push(error(
                    "student_number",
                    format!("student number {number} also appears on line {first}"),
                ));
            }
        }
        if let Some(message) = self.twin(row) {
            let mut e = error("full_name", message);
            e.remedy = Some(RowRemedy::AllowDuplicates);
            errors.push(e);
        }
        errors
    }

    /// Why `row` looks like a student already on record or earlier in
    /// the file (same name and date of birth), unless duplicates are
    /// allowed.
    fn twin(&mut self, row: &ImportRow) -> Option<String> {
        if self.allow_duplicates {
            return None;
        }
        let s = &row.student;
        let key = (name_key(&s.full_name), s.date_of_birth.date());
        if self.taken.names.contains(&key) {
            return Some("a student already on record has the same name and date of birth".into());
        }
        self.seen_names
            .insert(key, row.line)
            .map(|first| format!("line {first} has the same name and date of birth"))
    }
}

/// A row the database refused (a number or e-mail taken meanwhile), as
/// the import's report names it; other errors pass through.
fn rejected_row(row: &ImportRow, e: StoreError) -> StoreError {
    match e {
        StoreError::Invalid(v) => StoreError::ImportRejected(
            v.0.into_iter()
                .map(|f| {
                    RowError::new(row.line, &f.field, f.message).about(
                        Some(row.student.full_name.to_string()),
                        value_of(&row.student, &f.field),
                    )
                })
                .collect(),
        ),
        other => other,
    }
}
