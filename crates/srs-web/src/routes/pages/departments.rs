//! The departments page: list, add, rename, retire, reinstate, delete.

use super::forms::CsrfForm;
use crate::auth::{Admin, Viewer};
use crate::extract::PageId;
use crate::page::{redirect_with_flash, render, Flash, PageCtx, PageError, PageResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use srs_domain::{Department, DepartmentId, DepartmentName};
use srs_store::{DepartmentChange, StoreError};

/// Department page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/departments", get(list).post(create))
        .route("/departments/{id}", post(change))
}

#[derive(Template)]
#[template(path = "departments/list.html")]
struct DepartmentsPage {
    ctx: PageCtx,
    departments: Vec<Department>,
    name: String,
    error: Option<String>,
}

async fn list(_: Viewer, ctx: PageCtx, State(state): State<AppState>) -> PageResult {
    let departments = state.store.list_departments().await?;
    Ok(render(&DepartmentsPage {
        ctx,
        departments,
        name: String::new(),
        error: None,
    }))
}

#[derive(Debug, Default, Deserialize)]
struct DepartmentInput {
    #[serde(default)]
    name: String,
    #[serde(default)]
    action: String,
}

async fn create(
    Admin(auth): Admin,
    ctx: PageCtx,
    State(state): State<AppState>,
    CsrfForm(input): CsrfForm<DepartmentInput>,
) -> PageResult {
    let outcome = match DepartmentName::parse(&input.name) {
        Ok(name) => state
            .store
            .create_department(&name, &auth.actor)
            .await
            .map_err(|e| match e {
                StoreError::Invalid(v) => Ok(v
                    .0
                    .into_iter()
                    .map(|f| f.message)
                    .collect::<Vec<_>>()
                    .join("; ")),
                other => Err(other),
            }),
        Err(e) => Err(Ok(e.0)),
    };
    match outcome {
        Ok(d) => Ok(redirect_with_flash(
            "/departments",
            Flash::success(format!("Department {} added.", d.name)),
        )),
        Err(Ok(message)) => {
            let departments = state.store.list_departments().await?;
            let page = DepartmentsPage {
                ctx,
                departments,
                name: input.name,
                error: Some(message),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(Err(e)) => Err(e.into()),
    }
}

async fn change(
    Admin(auth): Admin,
    State(state): State<AppState>,
    PageId(id): PageId<DepartmentId>,
    CsrfForm(input): CsrfForm<DepartmentInput>,
) -> PageResult {
    let result = match input.action.as_str() {
        "rename" => match DepartmentName::parse(&input.name) {
            Ok(name) => state
                .store
                .update_department(
                    id,
                    &DepartmentChange {
                        name: Some(name),
                        retired: None,
                    },
                    &auth.actor,
                )
                .await
                .map(|d| format!("Department renamed to {}.", d.name)),
            Err(e) => {
                return Ok(redirect_with_flash(
                    "/departments",
                    Flash::danger(format!("Not renamed: {e}")),
                ))
            }
        },
        "retire" => state
            .store
            .update_department(
                id,
                &DepartmentChange {
                    name: None,
                    retired: Some(true),
                },
                &auth.actor,
            )
            .await
            .map(|d| format!("Department {} retired: it takes no new students.", d.name)),
        "reinstate" => state
            .store
            .update_department(
                id,
                &DepartmentChange {
                    name: None,
                    retired: Some(false),
                },
                &auth.actor,
            )
            .await
            .map(|d| format!("Department {} reinstated.", d.name)),
        "delete" => state
            .store
            .delete_department(id, &auth.actor)
            .await
            .map(|()| "Department deleted.".to_owned()),
        _ => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Unknown department action.",
            ))
        }
    };
    match result {
        Ok(message) => Ok(redirect_with_flash("/departments", Flash::success(message))),
        Err(StoreError::Invalid(v)) => Ok(redirect_with_flash(
            "/departments",
            Flash::danger(
                v.0.into_iter()
                    .map(|f| f.message)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        )),
        Err(StoreError::Conflict(message)) => {
            Ok(redirect_with_flash("/departments", Flash::danger(message)))
        }
        Err(e) => Err(e.into()),
    }
}
