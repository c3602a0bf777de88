//! Our own extractors, so rejected input is answered in problem+json with
//! a message that says what is wrong and where.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;

/// A JSON body, with the raw bytes kept for idempotency hashing.
pub struct AppJson<T> {
    /// The parsed body.
    pub value: T,
    /// The body as received.
    pub raw: Bytes,
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Reads the whole body, answering 413 when it exceeds the route's limit.
pub(crate) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(
                "the request body is larger than this endpoint accepts".into(),
            )
        } else {
            ApiError::BadRequest(format!("could not read the request body: {rejection}"))
        }
    })
}

/// Parses JSON, naming the field at fault: 400 for malformed JSON, 422 for
/// wrong types, unknown fields and missing required fields.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::Validation(srs_domain::ValidationErrors::single(
                    &field,
                    strip_position(&inner.to_string()),
                ))
            }
            _ => ApiError::BadRequest(format!("the body is not valid JSON: {inner}")),
        }
    })
}

/// serde's messages end with "at line 1 column 17"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl<S, T> FromRequest<S> for AppJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let raw = read_body(req, state).await?;
        let value = parse_json(&raw)?;
        Ok(Self { value, raw })
    }
}

/// Query parameters parsed leniently into strings; handlers validate them.
pub struct AppQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AppQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(AppQuery)
            .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
    }
}

/// Parses a path id; anything but a positive integer is simply not found.
pub fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound)
}

/// Parses a true/false query parameter; absent or empty is false.
pub(crate) fn parse_flag(name: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw.map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("on") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "{name} must be true or false (got '{}')",
            other.chars().take(20).collect::<String>()
        ))),
    }
}

/// Parses a whole-number query parameter from 1 to `max`; absent or
/// empty gives `default`.
pub(crate) fn parse_number(
    name: &str,
    raw: Option<&str>,
    default: u32,
    max: u32,
) -> Result<u32, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("{name} must be a whole number from 1 to {max}"))
            }),
    }
}

/// A record id as the path of a page names it: a positive number, or the
/// page answers 404 in the site's layout.
pub(crate) struct PageId<T>(pub T);

/// Ids a page's path may name.
pub(crate) trait RecordId: Sized {
    /// The id from its number.
    fn from_number(n: i64) -> Self;
}

impl RecordId for srs_domain::StudentId {
    fn from_number(n: i64) -> Self {
        Self::new(n)
    }
}

impl RecordId for srs_domain::UserId {
    fn from_number(n: i64) -> Self {
        Self::new(n)
    }
}

impl RecordId for srs_domain::TokenId {
    fn from_number(n: i64) -> Self {
        Self::new(n)
    }
}

impl RecordId for srs_domain::DepartmentId {
    fn from_number(n: i64) -> Self {
        Self::new(n)
    }
}

impl<T: RecordId> axum::extract::FromRequestParts<crate::state::AppState> for PageId<T> {
    type Rejection = crate::page::PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| crate::page::PageError::from(ApiError::NotFound))?;
        let n = parse_id(&raw).map_err(crate::page::PageError::from)?;
        Ok(Self(T::from_number(n)))
    }
}
