//! The overview, the page a signed-in account lands on: how many students,
//! where, in what state, what changed last, and for admins the DR state.

use super::students::url;
use crate::auth::Viewer;
use crate::charts::{self, Chart};
use crate::history::HistoryEntry;
use crate::page::{render, PageCtx, PageResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use srs_store::Month;

/// Overview routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(overview))
}

/// One counted category, as the chart's table shows it.
struct Count {
    label: String,
    value: i64,
    /// The student list filtered to it.
    href: String,
}

/// One of the latest changes.
struct Change {
    entry: HistoryEntry,
    /// The student's name as the entry recorded it.
    name: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    ctx: PageCtx,
    total: i64,
    status_chart: Chart,
    statuses: Vec<Count>,
    department_chart: Chart,
    departments: Vec<Count>,
    month_chart: Chart,
    months: Vec<(String, i64)>,
    /// New enrolments over the 12 months.
    enrolled_in_year: i64,
    recent: Vec<Change>,
    /// For admins: the DR state in a line, or why it could not be read.
    dr_line: Option<Result<String, String>>,
}

/// "Jan", with the year under it on January and on the first column:
/// short enough for a column of a 12-month chart.
fn month_label(m: Month, first: bool) -> String {
    if first || m.month == 1 {
        m.first_day().format("%b\n%Y").to_string()
    } else {
        m.first_day().format("%b").to_string()
    }
}

/// "January 2026", for the table.
fn month_name(m: Month) -> String {
    m.first_day().format("%B %Y").to_string()
}

/// A recent change with the student's name: as it is now, or for a
/// purged student as the entry itself holds it.
fn change_of((e, now): (srs_store::AuditEntry, Option<String>)) -> Change {
    let entry = HistoryEntry::from(e);
    let name = now
        .or_else(|| {
            entry
                .after
                .as_ref()
                .or(entry.before.as_ref())
                .and_then(|v| v.get("full_name"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    Change { entry, name }
}

/// The DR line an admin sees: the cluster's state, or why there is none.
async fn dr_line(state: &AppState) -> Result<String, String> {
    match state.cluster.get() {
        Some(source) => state.dr_summary.line(source.as_ref()).await,
        None => Ok(format!(
            "this instance runs on its own ({}): no replica, no failover. The two-site cluster (srs up) has both.",
            state.store.backend().as_str()
        )),
    }
}

async fn overview(_: Viewer, ctx: PageCtx, State(state): State<AppState>) -> PageResult {
    let figures = state.store.overview(state.today()).await?;
    let statuses: Vec<Count> = figures
        .by_status
        .iter()
        .map(|(s, n)| Count {
            label: s.label().to_owned(),
            value: *n,
            href: url("/students", &[("status", s.as_str().to_owned())]),
        })
        .collect();
    let departments: Vec<Count> = figures
        .by_department
        .iter()
        .map(|(d, n)| Count {
            label: d.clone(),
            value: *n,
            href: url("/students", &[("department", d.clone())]),
        })
        .collect();
    let pairs = |counts: &[Count]| -> Vec<(String, i64)> {
        counts.iter().map(|c| (c.label.clone(), c.value)).collect()
    };
    let month_chart = charts::vertical(
        "months",
        "New enrolments per month, last 12 months",
        &figures
            .enrolments
            .iter()
            .enumerate()
            .map(|(i, (m, n))| (month_label(*m, i == 0), *n))
            .collect::<Vec<_>>(),
    );
    let recent = figures.recent.iter().cloned().map(change_of).collect();
    let dr_line = if ctx.is_admin() {
        Some(dr_line(&state).await)
    } else {
        None
    };
    Ok(render(&OverviewPage {
        ctx,
        total: figures.total,
        status_chart: charts::horizontal("statuses", "Students by status", &pairs(&statuses)),
        department_chart: charts::horizontal(
            "departments",
            "Students by department",
            &pairs(&departments),
        ),
        statuses,
        departments,
        enrolled_in_year: figures.enrolments.iter().map(|(_, n)| n).sum(),
        months: figures
            .enrolments
            .iter()
            .map(|(m, n)| (month_name(*m), *n))
            .collect(),
        month_chart,
        recent,
        dr_line,
    }))
}
