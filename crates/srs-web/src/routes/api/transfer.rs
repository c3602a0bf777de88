//! CSV in and out: `GET /students/export.csv`, `POST /students/import`.

use super::students::ListQuery;
use crate::auth::{Registrar, Viewer};
use crate::csv_io;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_flag, read_body, AppQuery};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use srs_store::{ImportOptions, Store, StudentFilter};
use utoipa::{IntoParams, ToSchema};

/// Rows fetched a query while exporting.
const EXPORT_BATCH: i64 = 500;

/// Routes for CSV export and import.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/students/export.csv", get(export_students))
        .route(
            "/students/import",
            post(import_students).layer(DefaultBodyLimit::max(state.settings.max_import_bytes)),
        )
        .route("/students/import-template.csv", get(import_template))
}

/// Streams the students a list filter selects as CSV, every page of them.
pub(crate) fn export_response(store: Store, filter: StudentFilter, bom: bool) -> Response {
    let header_row = stream::once(async move {
        let header = csv_io::header_row();
        Ok::<Bytes, std::io::Error>(if bom {
            Bytes::from([b"\xEF\xBB\xBF".as_slice(), &header].concat())
        } else {
            header
        })
    });
    let rows = stream::unfold(Some(0i64), move |offset| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let offset = offset?;
            match store.students_batch(&filter, offset, EXPORT_BATCH).await {
                Ok(batch) if batch.is_empty() => None,
                Ok(batch) => {
                    let next = if (batch.len() as i64) < EXPORT_BATCH {
                        None
                    } else {
                        Some(offset + EXPORT_BATCH)
                    };
                    let mut chunk = Vec::new();
                    for s in &batch {
                        chunk.extend_from_slice(&csv_io::student_row(s));
                    }
                    Some((Ok(Bytes::from(chunk)), next))
                }
                Err(e) => {
                    // Headers are gone already: end the body with an error so
                    // the client sees a broken download, not a short file.
                    tracing::error!(error = %e, "export failed mid-stream");
                    Some((Err(std::io::Error::other("export failed")), None))
                }
            }
        }
    });
    let filename = format!(
        "students-{}.csv",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(header_row.chain(rows)),
    )
        .into_response()
}

/// Exports students as CSV, with the same filters as the list.
#[utoipa::path(get, path = "/api/v1/students/export.csv", params(ListQuery), tag = "students",
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = Problem)))]
pub async fn export_students(
    _: Registrar,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    let (filter, _) = query.parse()?;
    let bom = crate::extract::parse_flag("bom", query.bom.as_deref())?;
    Ok(export_response(state.store.clone(), filter, bom))
}

/// How an import runs.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true` checks every row and writes nothing.
    pub dry_run: Option<String>,
    /// `true` accepts rows whose name and date of birth match a live record.
    pub allow_duplicates: Option<String>,
    /// `true` imports the rows without problems and reports the others as
    /// skipped (a broken header still refuses the whole file).
    pub skip_invalid: Option<String>,
}

/// The outcome of an accepted import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportSummary {
    /// Rows imported, or that would be on a dry run.
    pub imported: usize,
    /// Whether this was only a check.
    pub dry_run: bool,
    /// Rows left out (with `skip_invalid=true`), each problem with its line.
    pub skipped: Vec<srs_store::RowError>,
}

/// Checks a CSV and imports every row or none; with `skip_invalid`, the
/// rows without problems and a report of the others.
pub(crate) async fn run_import(
    state: &AppState,
    data: &[u8],
    options: ImportOptions,
    skip_invalid: bool,
    actor: &srs_store::Actor,
) -> ApiResult<ImportSummary> {
    let (rows, mut problems) = csv_io::parse_import(data, state.today());
    if !problems.is_empty() || skip_invalid {
        // Check the rows that parsed against the database and each other
        // too, so one round trip shows every problem in the file.
        problems.extend(state.store.check_import(&rows, options).await?);
        problems.sort_by_key(|p| p.line);
    }
    if problems.is_empty() {
        let imported = state.store.import_students(&rows, options, actor).await?;
        return Ok(ImportSummary {
            imported,
            dry_run: options.dry_run,
            skipped: Vec::new(),
        });
    }
    // A problem on the header line (or the file as a whole) leaves no row
    // to trust: nothing is imported then, whatever was asked.
    let file_broken = problems.iter().any(|p| p.line <= 1);
    let bad_lines: std::collections::HashSet<u64> = problems.iter().map(|p| p.line).collect();
    let good: Vec<srs_store::ImportRow> = rows
        .into_iter()
        .filter(|r| !bad_lines.contains(&r.line))
        .collect();
    if !skip_invalid || file_broken || good.is_empty() {
        return Err(ApiError::ImportRejected(problems));
    }
    let imported = state.store.import_students(&good, options, actor).await?;
    Ok(ImportSummary {
        imported,
        dry_run: options.dry_run,
        skipped: problems,
    })
}

/// Imports students from CSV (header row first): all rows or none, or
/// with `skip_invalid=true` the good rows, reporting the others.
#[utoipa::path(post, path = "/api/v1/students/import", params(ImportQuery), tag = "students",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportSummary),
        (status = 422, body = Problem, description = "Every bad row with its line number; nothing imported"),
        (status = 413, body = Problem), (status = 415, body = Problem)))]
pub async fn import_students(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ImportQuery>,
    request: Request,
) -> ApiResult<Json<ImportSummary>> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(content_type.starts_with("text/csv")
        || content_type.starts_with("text/plain")
        || content_type.starts_with("application/octet-stream"))
    {
        return Err(ApiError::UnsupportedMediaType(
            "send the CSV file as the body with Content-Type: text/csv".into(),
        ));
    }
    let options = ImportOptions {
        dry_run: parse_flag("dry_run", query.dry_run.as_deref())?,
        allow_duplicates: parse_flag("allow_duplicates", query.allow_duplicates.as_deref())?,
    };
    let skip_invalid = parse_flag("skip_invalid", query.skip_invalid.as_deref())?;
    let body = read_body(request, &state).await?;
    Ok(Json(
        run_import(&state, &body, options, skip_invalid, &auth.actor).await?,
    ))
}

/// The CSV template: the header and one example row.
#[utoipa::path(get, path = "/api/v1/students/import-template.csv", tag = "students",
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn import_template(_: Viewer) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"students-template.csv\"",
            ),
        ],
        csv_io::template(),
    )
        .into_response()
}
