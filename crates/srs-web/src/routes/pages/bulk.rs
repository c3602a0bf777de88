//! Bulk changes from the student list: the chosen students (or all that
//! the list's filter matches) get a new status or department. A GET shows
//! what would change and asks to confirm; the POST does it in one
//! transaction, one audit entry per student.

use super::forms::CsrfForm;
use super::students::url;
use crate::auth::Registrar;
use crate::error::ApiError;
use crate::page::{redirect_with_flash, render, sentence, Flash, PageCtx, PageError, PageResult};
use crate::routes::api::students::ListQuery;
use crate::state::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use srs_domain::{DepartmentName, Status, Student, StudentId};
use srs_store::{BulkChange, BulkTarget, StoreError};

/// Bulk-change routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/students/bulk", get(review).post(apply))
}

/// How many of the students a confirmation lists by name.
const NAMED: usize = 20;

/// The bulk form as the list (GET) or the confirmation (POST) sends it.
#[derive(Debug, Default, Deserialize)]
struct BulkInput {
    /// `picked` (the ticked rows) or `matching` (all the filter matches).
    #[serde(default)]
    scope: String,
    /// Ticked rows.
    #[serde(default)]
    ids: Vec<String>,
    /// New status; empty keeps each student's.
    #[serde(default)]
    set_status: String,
    /// New department; empty keeps each student's.
    #[serde(default)]
    set_department: String,
    /// The list's filter, for `matching`.
    #[serde(default)]
    q: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    status: String,
    /// How many matched when confirmed, for `matching`.
    #[serde(default)]
    expected: String,
}

/// Where a bulk request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Shown what would change (GET).
    Review,
    /// Confirmed (POST).
    Confirm,
}

/// A checked bulk request.
struct Checked {
    target: BulkTarget,
    change: BulkChange,
}

impl BulkInput {
    /// The list this came from, to go back to.
    fn list_url(&self) -> String {
        url(
            "/students",
            &[
                ("q", self.q.clone()),
                ("department", self.department.clone()),
                ("status", self.status.clone()),
            ],
        )
    }

    /// Validates the input into a target and a change; the message says
    /// what to fix, in the words of the list page. A review counts the
    /// students of "all this list shows" itself (`Stage::Review`); the
    /// confirmation carries the count it was shown.
    fn check(&self, stage: Stage) -> Result<Checked, String> {
        let status = match self.set_status.trim() {
            "" => None,
            s => Some(Status::parse(s).map_err(|e| format!("The new status is not valid: {e}."))?),
        };
        let department = match self.set_department.trim() {
            "" => None,
            d => Some(
                DepartmentName::parse(d)
                    .map_err(|e| format!("The new department is not valid: {e}."))?,
            ),
        };
        if status.is_none() && department.is_none() {
            return Err("Choose a new status or a new department (or both) to change.".into());
        }
        let (filter, _) = ListQuery {
            q: Some(self.q.clone()),
            department: Some(self.department.clone()),
            status: Some(self.status.clone()),
            sort: None,
            page: None,
            per_page: None,
            deleted: None,
            bom: None,
        }
        .parse()
        .map_err(|e| match e {
            ApiError::BadRequest(why) => format!("The list's filter is not valid: {why}."),
            other => other.to_string(),
        })?;
        let target = match self.scope.as_str() {
            "matching" => {
                let expected = match stage {
                    // Not used: a review lists whatever matches now.
                    Stage::Review => 0,
                    Stage::Confirm => self.expected.trim().parse::<i64>().map_err(|_| {
                        "The confirmation lost its count of students; start again from the list."
                            .to_owned()
                    })?,
                };
                BulkTarget::Matching { filter, expected }
            }
            "picked" | "" => {
                if self.ids.is_empty() {
                    return Err("Tick at least one student in the list, or choose \"All this list shows\".".into());
                }
                let ids = self
                    .ids
                    .iter()
                    .map(|raw| {
                        crate::extract::parse_id(raw)
                            .map(StudentId::new)
                            .map_err(|_| format!("'{raw}' is not a student's id."))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                BulkTarget::Picked(ids)
            }
            other => {
                return Err(format!(
                    "'{other}' is not a choice of students: use the ticked ones or all this list shows."
                ))
            }
        };
        Ok(Checked {
            target,
            change: BulkChange { status, department },
        })
    }
}

#[derive(Template)]
#[template(path = "students/bulk.html")]
struct ReviewPage {
    ctx: PageCtx,
    input: BulkInput,
    /// What will be set, in words ("status Graduated").
    change_text: String,
    /// The students to change, the first few named.
    named: Vec<Student>,
    /// How many of them in all.
    count: usize,
    /// Of them, how many already have the new values.
    already: usize,
    /// What stops the change, if anything.
    error: Option<String>,
    back_url: String,
}

impl ReviewPage {
    fn ids(&self) -> &[String] {
        &self.input.ids
    }

    fn more(&self) -> usize {
        self.count.saturating_sub(self.named.len())
    }
}

fn change_text(change: &BulkChange) -> String {
    let mut parts = Vec::new();
    if let Some(s) = change.status {
        parts.push(format!("status {}", s.label()));
    }
    if let Some(d) = &change.department {
        parts.push(format!("department {d}"));
    }
    parts.join(" and ")
}

/// A review page that says what is wrong and offers the way back.
fn refused(ctx: PageCtx, input: BulkInput, status: StatusCode, message: String) -> PageResult {
    let back_url = input.list_url();
    let page = ReviewPage {
        ctx,
        input,
        change_text: String::new(),
        named: Vec::new(),
        count: 0,
        already: 0,
        error: Some(message),
        back_url,
    };
    Ok((status, render(&page)).into_response())
}

/// The message a store refusal shows on the page.
fn refusal(e: StoreError) -> Result<String, PageError> {
    match e {
        StoreError::Conflict(why) => Ok(sentence(&why)),
        StoreError::Invalid(errors) => Ok(errors
            .0
            .iter()
            .map(|e| sentence(&e.message))
            .collect::<Vec<_>>()
            .join(" ")),
        other => Err(other.into()),
    }
}

async fn review(
    _: Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let input: BulkInput = serde_html_form::from_str(query.as_deref().unwrap_or_default())
        .map_err(|e| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!("The address could not be read: {e}"),
            )
        })?;
    // For "all this list shows", the count is taken now and confirmed.
    let checked = match input.check(Stage::Review) {
        Ok(c) => c,
        Err(why) => return refused(ctx, input, StatusCode::UNPROCESSABLE_ENTITY, why),
    };
    let target = checked.target;
    let students = match state.store.bulk_preview(&target).await {
        Ok(s) => s,
        Err(e) => {
            let message = refusal(e)?;
            return refused(ctx, input, StatusCode::CONFLICT, message);
        }
    };
    if let BulkTarget::Picked(ids) = &target {
        if students.len() != ids.len() {
            let gone = ids.len() - students.len();
            let message = format!(
                "{gone} of the {} ticked students no longer exist or were deleted; go back to the list and tick them again.",
                ids.len()
            );
            return refused(ctx, input, StatusCode::CONFLICT, message);
        }
    }
    if students.is_empty() {
        return refused(
            ctx,
            input,
            StatusCode::UNPROCESSABLE_ENTITY,
            "No student matches this list: there is nothing to change.".into(),
        );
    }
    let change = &checked.change;
    let already = students
        .iter()
        .filter(|s| {
            change.status.is_none_or(|st| st == s.status)
                && change
                    .department
                    .as_ref()
                    .is_none_or(|d| d.unique_key() == s.department.unique_key())
        })
        .count();
    let count = students.len();
    let mut input = input;
    input.expected = count.to_string();
    let back_url = input.list_url();
    Ok(render(&ReviewPage {
        ctx,
        change_text: change_text(change),
        named: students.into_iter().take(NAMED).collect(),
        count,
        already,
        error: None,
        back_url,
        input,
    }))
}

async fn apply(
    Registrar(auth): Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    CsrfForm(input): CsrfForm<BulkInput>,
) -> PageResult {
    let checked = match input.check(Stage::Confirm) {
        Ok(c) => c,
        Err(why) => return refused(ctx, input, StatusCode::UNPROCESSABLE_ENTITY, why),
    };
    match state
        .store
        .bulk_change(&checked.target, &checked.change, &auth.actor)
        .await
    {
        Ok(outcome) => {
            let students = |n: usize| {
                if n == 1 {
                    "1 student".to_owned()
                } else {
                    format!("{n} students")
                }
            };
            let mut message = format!(
                "Changed {} to {}.",
                students(outcome.changed),
                change_text(&checked.change)
            );
            if outcome.unchanged > 0 {
                message.push_str(&format!(
                    " {} already had it and {} left as they were.",
                    students(outcome.unchanged),
                    if outcome.unchanged == 1 {
                        "was"
                    } else {
                        "were"
                    }
                ));
            }
            Ok(redirect_with_flash(
                &input.list_url(),
                Flash::success(message),
            ))
        }
        Err(e) => {
            let message = refusal(e)?;
            refused(ctx, input, StatusCode::CONFLICT, message)
        }
    }
}
