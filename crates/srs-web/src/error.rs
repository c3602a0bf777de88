//! The one error type handlers return, answered as RFC 9457 problem+json.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use srs_domain::{FieldError, Student, ValidationErrors};
use srs_store::{DuplicateKind, RowError, StoreError, StudentRef};

/// Why a request failed. Each variant's doc names its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad query parameter).
    #[error("{0}")]
    BadRequest(String),
    /// 422: well-formed but invalid; one entry per field.
    #[error(transparent)]
    Validation(ValidationErrors),
    /// 401: not signed in, or a bad token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: signed in, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 429: too many attempts; retry later.
    #[error("{message}")]
    TooManyRequests {
        /// What to tell the client.
        message: String,
        /// Seconds until a retry may succeed.
        retry_after_secs: i64,
    },
    /// 404: no such record.
    #[error("not found")]
    NotFound,
    /// 409: the client's version is stale.
    #[error("version conflict")]
    VersionConflict {
        /// The record as it is now.
        current: Box<Student>,
        /// The fields the refused change sets that others changed too.
        clashes: Vec<srs_domain::StudentField>,
    },
    /// 405: the route exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the new record duplicates a live one.
    #[error("duplicate")]
    Duplicate {
        /// Which rule matched.
        kind: DuplicateKind,
        /// The matching record.
        existing: StudentRef,
    },
    /// 409: the operation conflicts with the data's state.
    #[error("{0}")]
    Conflict(String),
    /// 422: an Idempotency-Key was reused with another body.
    #[error("idempotency key reused with a different body")]
    IdempotencyMismatch,
    /// 422: a CSV import was refused; every bad row is listed.
    #[error("import rejected")]
    ImportRejected(Vec<RowError>),
    /// 413: the body is larger than allowed.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the body's media type is not accepted here.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 503: the database is read-only (fenced or a replica).
    #[error("the database is read-only")]
    ReadOnly,
    /// 503: another site holds the primary epoch; nothing was done here.
    #[error("{0}")]
    NotPrimary(String),
    /// 503: a write was not confirmed in time; it may still be applied.
    #[error("{0}")]
    WriteNotConfirmed(String),
    /// 503: the write was not started (admission control); nothing changed.
    #[error("write not admitted: {0}")]
    WriteThrottled(String),
    /// 503: the database cannot be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// 500: anything else; the body is generic and the cause is logged.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Set on a 503 whose request did nothing because this site's database is
/// read-only or unreachable (not on throttled or unconfirmed writes).
pub const SITE_UNAVAILABLE_HEADER: &str = "x-srs-site-unavailable";

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::VersionConflict { current, clashes } => {
                ApiError::VersionConflict { current, clashes }
            }
            StoreError::Duplicate { kind, existing } => ApiError::Duplicate { kind, existing },
            StoreError::Invalid(v) => ApiError::Validation(v),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::IdempotencyMismatch => ApiError::IdempotencyMismatch,
            StoreError::ImportRejected(rows) => ApiError::ImportRejected(rows),
            StoreError::ReadOnly => ApiError::ReadOnly,
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        ApiError::Validation(e)
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// Per-field validation failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Per-row import failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub row_errors: Option<Vec<RowError>>,
    /// The live record a new one duplicates.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub duplicate_of: Option<StudentRef>,
    /// Whether resending with `"confirm_duplicate": true` creates the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmable: Option<bool>,
    /// The record as it is now, after a version conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<Student>,
    /// After a version conflict: the fields both sides changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clashes: Option<Vec<String>>,
}

impl Problem {
    fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
            row_errors: None,
            duplicate_of: None,
            confirmable: None,
            current: None,
            clashes: None,
        }
    }
}

impl ApiError {
    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.problem()
            .status
            .try_into()
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The problem document describing this error.
    pub fn problem(&self) -> Problem {
        use StatusCode as S;
        match self {
            ApiError::BadRequest(m) => {
                Problem::new(S::BAD_REQUEST, "/problems/bad-request", "Bad request", m)
            }
            ApiError::Validation(v) => {
                let mut p = Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "/problems/validation",
                    "Invalid input",
                    format!("{} field(s) are invalid", v.0.len()),
                );
                p.errors = Some(v.0.clone());
                p
            }
            ApiError::Unauthorized(m) => Problem::new(
                S::UNAUTHORIZED,
                "/problems/unauthorized",
                "Sign-in required",
                m,
            ),
            ApiError::Forbidden(m) => {
                Problem::new(S::FORBIDDEN, "/problems/forbidden", "Forbidden", m)
            }
            ApiError::TooManyRequests { message, .. } => Problem::new(
                S::TOO_MANY_REQUESTS,
                "/problems/too-many-requests",
                "Too many requests",
                message,
            ),
            ApiError::NotFound => Problem::new(
                S::NOT_FOUND,
                "/problems/not-found",
                "Not found",
                "no such record",
            ),
            ApiError::VersionConflict { current, clashes } => {
                let names: Vec<&str> = clashes.iter().map(|f| f.name()).collect();
                let mut p = Problem::new(
                    S::CONFLICT,
                    "/problems/version-conflict",
                    "Version conflict",
                    format!(
                        "the record was changed by someone else and is now at version {}; they changed {} too, so nothing was overwritten (fields only you changed would have been applied)",
                        current.version,
                        names.join(", ")
                    ),
                );
                p.current = Some((**current).clone());
                p.clashes = Some(names.into_iter().map(str::to_owned).collect());
                p
            }
            ApiError::Duplicate { kind, existing } => {
                let (detail, confirmable) = match kind {
                    DuplicateKind::NameAndBirthDate => (
                        format!(
                            "student {} ({}) has the same name and date of birth; resend with \"confirm_duplicate\": true to create this record anyway",
                            existing.student_number, existing.full_name
                        ),
                        true,
                    ),
                    DuplicateKind::Email => (
                        format!(
                            "student {} ({}) already uses this email; emails are unique among live records",
                            existing.student_number, existing.full_name
                        ),
                        false,
                    ),
                };
                let mut p = Problem::new(
                    S::CONFLICT,
                    "/problems/duplicate",
                    "Possible duplicate",
                    detail,
                );
                p.duplicate_of = Some(existing.clone());
                p.confirmable = Some(confirmable);
                if matches!(kind, DuplicateKind::Email) {
                    p.errors = Some(vec![FieldError {
                        field: "email".into(),
                        message: format!("already used by student {}", existing.student_number),
                    }]);
                }
                p
            }
            ApiError::MethodNotAllowed(m) => Problem::new(
                S::METHOD_NOT_ALLOWED,
                "/problems/method-not-allowed",
                "Method not allowed",
                m,
            ),
            ApiError::Conflict(m) => Problem::new(S::CONFLICT, "/problems/conflict", "Conflict", m),
            ApiError::IdempotencyMismatch => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "/problems/idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was already used with a different request body",
            ),
            ApiError::ImportRejected(rows) => {
                let mut p = Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "/problems/import-rejected",
                    "Import rejected",
                    format!("{} problem(s) found; nothing was imported", rows.len()),
                );
                p.row_errors = Some(
                    rows.iter()
                        .cloned()
                        .map(|mut row| {
                            if row.remedy == Some(srs_store::RowRemedy::AllowDuplicates) {
                                row.message
                                    .push_str(" (send allow_duplicates=true to import it anyway)");
                            }
                            row
                        })
                        .collect(),
                );
                p
            }
            ApiError::PayloadTooLarge(m) => Problem::new(
                S::PAYLOAD_TOO_LARGE,
                "/problems/too-large",
                "Payload too large",
                m,
            ),
            ApiError::UnsupportedMediaType(m) => Problem::new(
                S::UNSUPPORTED_MEDIA_TYPE,
                "/problems/unsupported-media-type",
                "Unsupported media type",
                m,
            ),
            ApiError::ReadOnly => Problem::new(
                S::SERVICE_UNAVAILABLE,
                "/problems/read-only",
                "Read-only",
                "this site's database accepts no writes right now; retry shortly",
            ),
            ApiError::NotPrimary(m) => Problem::new(
                S::SERVICE_UNAVAILABLE,
                "/problems/not-primary",
                "Not the primary site",
                m,
            ),
            ApiError::WriteNotConfirmed(m) => Problem::new(
                S::SERVICE_UNAVAILABLE,
                "/problems/write-not-confirmed",
                "Write not confirmed",
                m,
            ),
            ApiError::WriteThrottled(m) => Problem::new(
                S::SERVICE_UNAVAILABLE,
                "/problems/write-throttled",
                "Write not admitted",
                m,
            ),
            ApiError::Unavailable(_) => Problem::new(
                S::SERVICE_UNAVAILABLE,
                "/problems/unavailable",
                "Service unavailable",
                "the database cannot be reached; retry shortly",
            ),
            ApiError::Internal(_) => Problem::new(
                S::INTERNAL_SERVER_ERROR,
                "/problems/internal",
                "Internal server error",
                "something went wrong on our side; it has been logged",
            ),
        }
    }

    /// Logs the cause of server-side failures once, inside the request's span.
    pub(crate) fn log(&self) {
        match self {
            ApiError::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            ApiError::Unavailable(m) => tracing::warn!(error = %m, "database unavailable"),
            ApiError::ReadOnly => tracing::warn!("write refused: database is read-only"),
            _ => {}
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        } = &self
        {
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if matches!(
            self,
            ApiError::ReadOnly | ApiError::Unavailable(_) | ApiError::NotPrimary(_)
        ) {
            // Nothing was done and this site cannot do it now: a front door
            // may send a request that is safe to repeat to another site.
            response.headers_mut().insert(
                header::HeaderName::from_static(SITE_UNAVAILABLE_HEADER),
                header::HeaderValue::from_static("1"),
            );
        }
        if matches!(
            self,
            ApiError::ReadOnly
                | ApiError::Unavailable(_)
                | ApiError::NotPrimary(_)
                | ApiError::WriteNotConfirmed(_)
                | ApiError::WriteThrottled(_)
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
