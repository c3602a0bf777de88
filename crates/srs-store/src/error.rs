use srs_domain::{Student, StudentId, StudentNumber, ValidationErrors};

/// A live record that a new one may duplicate, named so a person can check it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StudentRef {
    /// The matching record's id.
    pub id: StudentId,
    /// Its student number.
    pub student_number: StudentNumber,
    /// Its name.
    pub full_name: String,
}

/// Which rule a duplicate breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKind {
    /// Same name and date of birth as a live record: a warning the client
    /// may override with `confirm_duplicate`.
    NameAndBirthDate,
    /// Same e-mail as a live record: e-mails are unique, so not overridable.
    Email,
}

/// Why a store operation failed. Each variant maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (or is deleted, where that matters).
    #[error("not found")]
    NotFound,
    /// The client's version is stale; nothing was written.
    #[error("version conflict: the record is at version {}", .current.version)]
    VersionConflict {
        /// The record as it is now.
        current: Box<Student>,
        /// The fields the refused change sets that others changed too.
        clashes: Vec<srs_domain::StudentField>,
    },
    /// The new record matches a live one.
    #[error("duplicate of student {}", .existing.student_number)]
    Duplicate {
        /// Which rule matched.
        kind: DuplicateKind,
        /// The record it matches.
        existing: StudentRef,
    },
    /// Input that is well-formed but breaks a rule held in the database
    /// (unknown department, number already used, ...).
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The operation conflicts with the data's state (e.g. restoring a
    /// record whose e-mail another live record now uses).
    #[error("{0}")]
    Conflict(String),
    /// An Idempotency-Key was reused with a different request body.
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyMismatch,
    /// The database accepts no writes (fenced or a replica).
    #[error("the database is read-only")]
    ReadOnly,
    /// The database could not be reached in time.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Stored data no longer passes the domain rules.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database URL is malformed or names an unsupported engine.
    #[error("{0}")]
    InvalidUrl(String),
    /// A CSV import was refused; nothing was written.
    #[error("import rejected: {} row error(s)", .0.len())]
    ImportRejected(Vec<crate::RowError>),
    /// Any other database failure.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Migrations could not be applied.
    #[error("failed to apply migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        crate::dialect::classify(e)
    }
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;
