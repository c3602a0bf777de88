//! `/api/v1/students/{id}/history` and `/api/v1/audit`.

use crate::auth::{Admin, Viewer};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, parse_number, AppQuery};
use crate::history::HistoryEntry;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use srs_domain::{StudentId, Username};
use srs_store::{AuditFilter, PageRequest};
use utoipa::{IntoParams, ToSchema};

/// Routes for history and the audit trail.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/students/{id}/history", get(student_history))
        .route("/audit", get(audit))
}

/// A student's history, newest first (up to 200 entries).
#[utoipa::path(get, path = "/api/v1/students/{id}/history", tag = "audit",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 404, body = Problem)))]
pub async fn student_history(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<HistoryEntry>>> {
    let id = StudentId::new(parse_id(&id)?);
    state.store.get_student_any(id).await?;
    Ok(Json(history_of(&state, id).await?))
}

/// The newest entries about one student.
pub(crate) async fn history_of(state: &AppState, id: StudentId) -> ApiResult<Vec<HistoryEntry>> {
    let filter = AuditFilter {
        entity: Some("student".into()),
        entity_id: Some(id.get()),
        ..AuditFilter::default()
    };
    let page = state
        .store
        .audit_entries(
            &filter,
            PageRequest {
                page: 1,
                per_page: PageRequest::MAX_PER_PAGE,
            },
        )
        .await?;
    Ok(page.items.into_iter().map(HistoryEntry::from).collect())
}

/// Filters for the audit trail.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only changes by this account (user name).
    pub actor: Option<String>,
    /// Only this action, e.g. student.update.
    pub action: Option<String>,
    /// Only this kind: student, department, user, token.
    pub entity: Option<String>,
    /// At or after this time (RFC 3339).
    pub since: Option<String>,
    /// Before this time (RFC 3339).
    pub until: Option<String>,
    /// 1-based page.
    pub page: Option<String>,
    /// Entries a page, 1-200 (default 50).
    pub per_page: Option<String>,
}

/// One page of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries, newest first.
    pub items: Vec<HistoryEntry>,
    /// Entries matching on all pages.
    pub total: i64,
    /// This page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
}

fn time(name: &str, raw: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    raw.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::BadRequest(format!(
                        "{name} must be an RFC 3339 time, e.g. 2026-11-25T09:00:00Z"
                    ))
                })
        })
        .transpose()
}

/// The audit trail, newest first, for admins.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), tag = "audit",
    responses((status = 200, body = AuditPage), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn audit(
    _: Admin,
    State(state): State<AppState>,
    AppQuery(q): AppQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let actor_user_id = match q.actor.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(name) => {
            let name =
                Username::parse(name).map_err(|e| ApiError::BadRequest(format!("actor: {e}")))?;
            match state.store.user_credentials(&name).await? {
                Some((user, _)) => Some(user.id),
                None => {
                    return Err(ApiError::BadRequest(format!(
                        "actor: there is no account named '{name}'"
                    )))
                }
            }
        }
    };
    let short = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 40)
            .map(str::to_owned)
    };
    let filter = AuditFilter {
        actor_user_id,
        action: short(&q.action),
        entity: short(&q.entity),
        entity_id: None,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
    };
    let page = PageRequest {
        page: parse_number("page", q.page.as_deref(), 1, 1_000_000)?,
        per_page: parse_number(
            "per_page",
            q.per_page.as_deref(),
            PageRequest::DEFAULT_PER_PAGE,
            PageRequest::MAX_PER_PAGE,
        )?,
    };
    let result = state.store.audit_entries(&filter, page).await?;
    Ok(Json(AuditPage {
        items: result.items.into_iter().map(HistoryEntry::from).collect(),
        total: result.total,
        page: result.page,
        per_page: result.per_page,
    }))
}
