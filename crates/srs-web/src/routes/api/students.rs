//! `/api/v1/students`: list, create, read, change, delete, restore.

use crate::auth::{Registrar, Viewer};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_flag, parse_id, parse_number, AppJson, AppQuery};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use srs_domain::{
    DepartmentName, NewStudent, RawStudent, Status, Student, StudentField, StudentId, StudentPatch,
};
use srs_store::{CreateOptions, Created, IdempotencyKey, PageRequest, Sort, StudentFilter};
use utoipa::{IntoParams, ToSchema};

/// Routes for students.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/students", get(list_students).post(create_student))
        .route(
            "/students/{id}",
            get(get_student)
                .patch(update_student)
                .delete(delete_student),
        )
        .route("/students/{id}/restore", post(restore_student))
}

/// Filters, order and page of a student list; the CSV export takes the same.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Text matched against name, student number and email, ignoring case.
    pub q: Option<String>,
    /// A department's name.
    pub department: Option<String>,
    /// active, on_leave, graduated or withdrawn.
    pub status: Option<String>,
    /// A column (name, student_number, email, department, status,
    /// created_at), with a leading `-` for the other way round.
    pub sort: Option<String>,
    /// 1-based page number.
    pub page: Option<String>,
    /// Rows a page, 1-200 (default 50).
    pub per_page: Option<String>,
    /// `true` lists deleted records (for restoring) instead of live ones.
    pub deleted: Option<String>,
    /// Export only: `true` starts the file with a UTF-8 byte-order mark,
    /// so that Excel reads accents right.
    pub bom: Option<String>,
}

impl ListQuery {
    /// Validates the parameters into a filter and a page.
    pub fn parse(&self) -> Result<(StudentFilter, PageRequest), ApiError> {
        let bad = |m: String| ApiError::BadRequest(m);
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let q = non_empty(&self.q);
        if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err(bad("q must be at most 200 characters".into()));
        }
        let department = non_empty(&self.department)
            .map(|d| DepartmentName::parse(&d).map_err(|e| bad(format!("department: {e}"))))
            .transpose()?;
        let status = non_empty(&self.status)
            .map(|s| Status::parse(&s).map_err(|e| bad(e.to_string())))
            .transpose()?;
        let sort = match non_empty(&self.sort) {
            None => Sort::default(),
            Some(s) => Sort::parse(&s)
                .ok_or_else(|| bad(format!("sort must be one of {}", Sort::ALL.join(", "))))?,
        };
        let page = parse_number("page", self.page.as_deref(), 1, 1_000_000)?;
        let per_page = parse_number(
            "per_page",
            self.per_page.as_deref(),
            PageRequest::DEFAULT_PER_PAGE,
            PageRequest::MAX_PER_PAGE,
        )?;
        let deleted = parse_flag("deleted", self.deleted.as_deref())?;
        Ok((
            StudentFilter {
                q,
                department,
                status,
                deleted,
                sort,
            },
            PageRequest { page, per_page },
        ))
    }
}

/// One page of students.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentList {
    /// The students on this page.
    pub items: Vec<Student>,
    /// Students matching the filter on all pages.
    pub total: i64,
    /// This page's number.
    pub page: u32,
    /// The page size.
    pub per_page: u32,
}

/// [`StudentList`] as it is written, borrowing a cached page: the same
/// fields, so the schema above describes it.
#[derive(Serialize)]
struct StudentListView<'a> {
    items: &'a [Student],
    total: i64,
    page: u32,
    per_page: u32,
}

/// A new student: every field of [`StudentField`] by its name (a
/// department by its name), plus `confirm_duplicate`. The body is read
/// field by field from the list of fields, so the documentation and the
/// parser cannot disagree.
pub struct CreateStudentRequest;

/// A change to a student: `version` and the fields to change; an empty
/// string or `null` clears an optional field.
pub struct UpdateStudentRequest;

/// The schema of one student field in a request.
fn field_schema(field: StudentField) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;
    let text = ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .description(Some(field.help()));
    let schema: Schema = match field {
        StudentField::EmergencyContacts => ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .property("name", ObjectBuilder::new().schema_type(Type::String))
                    .property(
                        "relationship",
                        ObjectBuilder::new().schema_type(Type::String),
                    )
                    .property("phone", ObjectBuilder::new().schema_type(Type::String))
                    .required("name")
                    .required("relationship")
                    .required("phone"),
            )
            .max_items(Some(srs_domain::EmergencyContacts::MAX))
            .description(Some(field.help()))
            .build()
            .into(),
        _ if field.example().is_empty() => text.build().into(),
        _ => text
            .examples([serde_json::json!(field.example())])
            .build()
            .into(),
    };
    RefOr::T(schema)
}

/// An object schema that refuses keys it does not list.
fn closed() -> Option<utoipa::openapi::schema::AdditionalProperties<utoipa::openapi::schema::Schema>>
{
    Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(
        false,
    ))
}

impl utoipa::PartialSchema for CreateStudentRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let mut object = ObjectBuilder::new()
            .description(Some("A new student. Unknown fields are refused."))
            .additional_properties(closed());
        for field in StudentField::ALL {
            object = object.property(field.name(), field_schema(field));
            if field.required() {
                object = object.required(field.name());
            }
        }
        object
            .property(
                "confirm_duplicate",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some(
                        "Create even though a live record has the same name and date of birth.",
                    )),
            )
            .into()
    }
}

impl utoipa::ToSchema for CreateStudentRequest {}

impl utoipa::PartialSchema for UpdateStudentRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let mut object = ObjectBuilder::new()
            .description(Some(
                "A change: the fields to change. Unknown fields are refused.",
            ))
            .additional_properties(closed())
            .property(
                "version",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .description(Some(
                        "The version last read. From an older version the change is merged: it applies when nobody changed the same fields since, else 409 names them in `clashes` and changes nothing.",
                    )),
            )
            .required("version");
        for field in StudentField::ALL {
            object = object.property(field.name(), field_schema(field));
        }
        object.into()
    }
}

impl utoipa::ToSchema for UpdateStudentRequest {}

/// The student fields of a JSON body; `extra` names the other keys the
/// endpoint reads itself. For a new student (`clearing` false) a `null`
/// is as if absent; for a change it clears the field.
pub(crate) fn raw_student(
    body: &serde_json::Map<String, serde_json::Value>,
    extra: &[&str],
    clearing: bool,
) -> Result<RawStudent, srs_domain::ValidationErrors> {
    use serde_json::Value;
    let mut raw = RawStudent::default();
    let mut errors = srs_domain::ValidationErrors::default();
    for (key, value) in body {
        if extra.contains(&key.as_str()) {
            continue;
        }
        let Some(field) = StudentField::named(key) else {
            let known: Vec<&str> = StudentField::ALL
                .iter()
                .map(|f| f.name())
                .chain(extra.iter().copied())
                .collect();
            errors.push(
                key,
                format!(
                    "unknown field `{key}`, expected one of {}",
                    known.join(", ")
                ),
            );
            continue;
        };
        match (field, value) {
            (_, Value::Null) if clearing => raw.set(field, ""),
            (_, Value::Null) => {}
            (_, Value::String(s)) => raw.set(field, s.clone()),
            (StudentField::EmergencyContacts, Value::Array(items)) => match contacts_of(items) {
                Ok(text) => raw.set(field, text),
                Err(why) => errors.push(key, why),
            },
            (StudentField::EmergencyContacts, _) => {
                errors.push(key, "must be a list of {name, relationship, phone}")
            }
            (_, other) => errors.push(key, format!("must be a string, not {}", json_kind(other))),
        }
    }
    if errors.is_empty() {
        Ok(raw)
    } else {
        Err(errors)
    }
}

/// JSON emergency contacts in their text form, or what is wrong.
fn contacts_of(items: &[serde_json::Value]) -> Result<String, String> {
    let mut contacts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let part = |name: &str| -> Result<&str, String> {
            item.get(name)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| format!("Contact {}: `{name}` is missing or not a string.", i + 1))
        };
        if let Some(extra) = item.as_object().and_then(|o| {
            o.keys()
                .find(|k| !["name", "relationship", "phone"].contains(&k.as_str()))
        }) {
            return Err(format!("Contact {}: unknown field `{extra}`.", i + 1));
        }
        let contact = srs_domain::EmergencyContacts::contact(
            part("name")?,
            part("relationship")?,
            part("phone")?,
        )
        .map_err(|why| format!("Contact {}: {why}", i + 1))?;
        contacts.push(contact);
    }
    srs_domain::EmergencyContacts::from_list(contacts)
        .map(|c| c.to_string())
        .map_err(|e| e.to_string())
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

fn location(id: StudentId) -> HeaderValue {
    HeaderValue::from_str(&format!("/api/v1/students/{id}"))
        .unwrap_or(HeaderValue::from_static("/api/v1/students"))
}

/// Reads and checks the Idempotency-Key header, if any.
fn idempotency_key(headers: &HeaderMap, body: &[u8]) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::BadRequest("Idempotency-Key must be 1-255 visible ASCII characters".into())
        })?;
    // Hash the parsed JSON, not the bytes, so whitespace and key order do not matter.
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .and_then(|v| serde_json::to_vec(&v))
        .unwrap_or_else(|_| body.to_vec());
    let request_hash = hex::encode(Sha256::digest(&canonical));
    Ok(Some(IdempotencyKey {
        key: key.to_owned(),
        request_hash,
    }))
}

/// Lists students.
#[utoipa::path(get, path = "/api/v1/students", params(ListQuery), tag = "students",
    responses((status = 200, body = StudentList), (status = 400, body = Problem)))]
pub async fn list_students(
    _: Viewer,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    let (filter, page) = query.parse()?;
    let listing = state.store.list_students(&filter, page).await?;
    // Every request for this page until the data changes gets the same
    // bytes: serialising 50 records was a fifth of the list's CPU.
    let body = listing
        .rendered(srs_store::Rendering::ApiJson, |p| {
            serde_json::to_vec(&StudentListView {
                items: &p.items,
                total: p.total,
                page: p.page,
                per_page: p.per_page,
            })
            .map(bytes::Bytes::from)
        })
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// Creates a student.
#[utoipa::path(post, path = "/api/v1/students", request_body = CreateStudentRequest, tag = "students",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body return the first response")),
    responses(
        (status = 201, body = Student, headers(("Location" = String))),
        (status = 409, body = Problem, description = "Possible duplicate"),
        (status = 422, body = Problem, description = "Invalid input or reused Idempotency-Key"),
        (status = 503, body = Problem, description = "Database read-only or unavailable")))]
pub async fn create_student(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: AppJson<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Response> {
    let idempotency = idempotency_key(&headers, &body.raw)?;
    let confirm_duplicate = match body.value.get("confirm_duplicate") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(other) => {
            return Err(srs_domain::ValidationErrors::single(
                "confirm_duplicate",
                format!("must be true or false, not {}", json_kind(other)),
            )
            .into())
        }
    };
    let raw = raw_student(&body.value, &["confirm_duplicate"], false)?;
    let new = NewStudent::parse(&raw, state.today())?;
    let options = CreateOptions {
        confirm_duplicate,
        idempotency,
    };
    match state
        .store
        .create_student(&new, &options, &auth.actor)
        .await?
    {
        Created::New(student) => Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location(student.id))],
            Json(student),
        )
            .into_response()),
        Created::Replayed { student_id, body } => Ok((
            StatusCode::CREATED,
            [
                (header::LOCATION, location(student_id)),
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    header::HeaderName::from_static("idempotent-replayed"),
                    HeaderValue::from_static("true"),
                ),
            ],
            body,
        )
            .into_response()),
    }
}

/// Reads one live student.
#[utoipa::path(get, path = "/api/v1/students/{id}", tag = "students",
    params(("id" = i64, Path)), responses((status = 200, body = Student), (status = 404, body = Problem)))]
pub async fn get_student(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Student>> {
    let id = StudentId::new(parse_id(&id)?);
    Ok(Json(state.store.get_student(id).await?))
}

/// Changes a student if `version` is current.
#[utoipa::path(patch, path = "/api/v1/students/{id}", request_body = UpdateStudentRequest, tag = "students",
    params(("id" = i64, Path)),
    responses((status = 200, body = Student), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Someone changed the same fields since this version (named in `clashes`); nothing was overwritten"),
        (status = 422, body = Problem)))]
pub async fn update_student(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: AppJson<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Json<Student>> {
    let id = StudentId::new(parse_id(&id)?);
    let version = match body.value.get("version") {
        Some(v) => v.as_i64().ok_or_else(|| {
            srs_domain::ValidationErrors::single(
                "version",
                format!("must be a whole number, not {}", json_kind(v)),
            )
        })?,
        None => {
            return Err(srs_domain::ValidationErrors::single(
                "version",
                "missing field `version`: send the version last read",
            )
            .into())
        }
    };
    let raw = raw_student(&body.value, &["version"], true)?;
    // A stale version is merged by the store: refused only where others
    // changed a field this patch changes too.
    let current = state.store.get_student(id).await?;
    let patch = StudentPatch::parse(&raw, version, &current, state.today())?;
    Ok(Json(
        state
            .store
            .update_student(&current, &patch, &auth.actor)
            .await?,
    ))
}

/// Deletes a student softly: it can be restored until purged.
#[utoipa::path(delete, path = "/api/v1/students/{id}", tag = "students",
    params(("id" = i64, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_student(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = StudentId::new(parse_id(&id)?);
    state.store.delete_student(id, &auth.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores a deleted student.
#[utoipa::path(post, path = "/api/v1/students/{id}/restore", tag = "students",
    params(("id" = i64, Path)),
    responses((status = 200, body = Student), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Not deleted, or its email is taken")))]
pub async fn restore_student(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Student>> {
    let id = StudentId::new(parse_id(&id)?);
    Ok(Json(state.store.restore_student(id, &auth.actor).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_borrowed_list_is_written_as_the_documented_one() {
        let documented = StudentList {
            items: Vec::new(),
            total: 205,
            page: 3,
            per_page: 50,
        };
        let view = StudentListView {
            items: &[],
            total: 205,
            page: 3,
            per_page: 50,
        };
        assert_eq!(
            serde_json::to_string(&documented).expect("json"),
            serde_json::to_string(&view).expect("json")
        );
    }
}
