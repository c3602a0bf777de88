//! `/api/v1/departments`: list, add, rename, retire, delete when unused.

use crate::auth::{Admin, Viewer};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, AppJson};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use srs_domain::{Department, DepartmentId, DepartmentName, ValidationErrors};
use srs_store::DepartmentChange;
use utoipa::ToSchema;

/// Routes for departments.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/departments",
            get(list_departments).post(create_department),
        )
        .route(
            "/departments/{id}",
            get(get_department)
                .patch(update_department)
                .delete(delete_department),
        )
}

/// A new department.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartmentRequest {
    /// 2-80 characters; unique regardless of case.
    #[schema(example = "Law")]
    pub name: String,
}

/// A change to a department.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDepartmentRequest {
    /// New name.
    pub name: Option<String>,
    /// true retires (no new students), false brings it back.
    pub retired: Option<bool>,
}

fn parse_name(raw: &str) -> Result<DepartmentName, ApiError> {
    DepartmentName::parse(raw)
        .map_err(|e| ApiError::Validation(ValidationErrors::single("name", e.0)))
}

/// Lists every department, retired ones included.
#[utoipa::path(get, path = "/api/v1/departments", tag = "departments",
    responses((status = 200, body = Vec<Department>)))]
pub async fn list_departments(
    _: Viewer,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<Department>>> {
    Ok(Json(state.store.list_departments().await?))
}

/// Reads one department.
#[utoipa::path(get, path = "/api/v1/departments/{id}", tag = "departments",
    params(("id" = i64, Path)), responses((status = 200, body = Department), (status = 404, body = Problem)))]
pub async fn get_department(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Department>> {
    let id = DepartmentId::new(parse_id(&id)?);
    Ok(Json(state.store.get_department(id).await?))
}

/// Adds a department.
#[utoipa::path(post, path = "/api/v1/departments", request_body = CreateDepartmentRequest, tag = "departments",
    responses((status = 201, body = Department), (status = 422, body = Problem)))]
pub async fn create_department(
    Admin(auth): Admin,
    State(state): State<AppState>,
    body: AppJson<CreateDepartmentRequest>,
) -> ApiResult<Response> {
    let name = parse_name(&body.value.name)?;
    let department = state.store.create_department(&name, &auth.actor).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/departments/{}", department.id))
        .unwrap_or(HeaderValue::from_static("/api/v1/departments"));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(department),
    )
        .into_response())
}

/// Renames, retires or brings back a department.
#[utoipa::path(patch, path = "/api/v1/departments/{id}", request_body = UpdateDepartmentRequest, tag = "departments",
    params(("id" = i64, Path)),
    responses((status = 200, body = Department), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_department(
    Admin(auth): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: AppJson<UpdateDepartmentRequest>,
) -> ApiResult<Json<Department>> {
    let id = DepartmentId::new(parse_id(&id)?);
    let change = DepartmentChange {
        name: body.value.name.as_deref().map(parse_name).transpose()?,
        retired: body.value.retired,
    };
    Ok(Json(
        state
            .store
            .update_department(id, &change, &auth.actor)
            .await?,
    ))
}

/// Deletes a department that no record names.
#[utoipa::path(delete, path = "/api/v1/departments/{id}", tag = "departments",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem, description = "In use; retire it instead")))]
pub async fn delete_department(
    Admin(auth): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = DepartmentId::new(parse_id(&id)?);
    state.store.delete_department(id, &auth.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
