//! The import page: upload a CSV, check it or import it, see every bad row.

use crate::auth::Registrar;
use crate::error::ApiError;
use crate::page::{render, PageCtx, PageError, PageResult};
use crate::routes::api::transfer::{run_import, ImportSummary};
use crate::state::AppState;
use askama::Template;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use srs_store::{ImportOptions, RowError, RowRemedy};

/// Import page routes.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/import",
            get(form)
                .post(upload)
                .layer(DefaultBodyLimit::max(state.settings.max_import_bytes)),
        )
        .route(
            "/import/rows-with-problems.csv",
            axum::routing::post(rows_with_problems)
                .layer(DefaultBodyLimit::max(state.settings.max_import_bytes)),
        )
}

/// Problems listed on the page; the rest are counted by column and come
/// whole in the CSV download.
const SHOWN_PROBLEMS: usize = 100;

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    ctx: PageCtx,
    summary: Option<ImportSummary>,
    row_errors: Vec<RowError>,
    error: Option<String>,
    /// The options as chosen, kept for the next try.
    options: ImportOptions,
    /// Import the good rows and skip the others.
    skip_invalid: bool,
    /// The columns a file may have.
    fields: &'static [srs_domain::StudentField],
}

impl ImportPage {
    /// After an import that skipped rows: how many lines it skipped (a
    /// line may have several problems).
    fn skipped_rows(&self) -> usize {
        if self.summary.is_none() {
            return 0;
        }
        let mut lines: Vec<u64> = self.row_errors.iter().map(|e| e.line).collect();
        lines.dedup();
        lines.len()
    }

    /// "1 problem", "2 problems".
    fn problems(&self) -> String {
        match self.row_errors.len() {
            1 => "1 problem".to_owned(),
            n => format!("{} problems", crate::page::thousands(n as u64)),
        }
    }

    /// The problems listed on the page: the first ones.
    fn shown(&self) -> &[RowError] {
        &self.row_errors[..self.row_errors.len().min(SHOWN_PROBLEMS)]
    }

    /// How many problems are not listed.
    fn not_shown(&self) -> String {
        crate::page::thousands(self.row_errors.len().saturating_sub(SHOWN_PROBLEMS) as u64)
    }

    /// Problems counted by column, most first, when there are more than
    /// the page lists.
    fn by_column(&self) -> Vec<(String, String)> {
        if self.row_errors.len() <= SHOWN_PROBLEMS {
            return Vec::new();
        }
        let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
        for e in &self.row_errors {
            *counts.entry(e.field.as_str()).or_default() += 1;
        }
        let mut counts: Vec<(&str, u64)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        counts
            .into_iter()
            .map(|(field, n)| (field.to_owned(), crate::page::thousands(n)))
            .collect()
    }
}

/// A refused row's message, with what would let it in said in the
/// page's own words (the option's label).
fn with_page_remedy(mut row: RowError) -> RowError {
    if row.remedy == Some(RowRemedy::AllowDuplicates) {
        row.message.push_str(
            "; to import it anyway, tick \u{201c}Accept rows with the same name and date of birth as an existing student\u{201d}",
        );
    }
    row
}

async fn form(_: Registrar, ctx: PageCtx) -> PageResult {
    Ok(render(&ImportPage {
        ctx,
        summary: None,
        row_errors: Vec::new(),
        error: None,
        options: ImportOptions::default(),
        skip_invalid: false,
        fields: &srs_domain::StudentField::ALL,
    }))
}

/// What the import form sends.
#[derive(Default)]
struct Upload {
    token: String,
    file: Option<Vec<u8>>,
    options: ImportOptions,
    skip_invalid: bool,
}

/// Reads the import form; an unreadable upload is an error message.
async fn read_upload(mut multipart: Multipart) -> Result<Upload, (StatusCode, String, Upload)> {
    let mut upload = Upload::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let message = format!("The upload could not be read: {}", e.body_text());
                return Err((e.status(), message, upload));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) => {
                let message = format!("The upload could not be read: {}", e.body_text());
                return Err((e.status(), message, upload));
            }
        };
        match name.as_str() {
            "csrf_token" => upload.token = String::from_utf8_lossy(&data).into_owned(),
            "file" => upload.file = Some(data.to_vec()),
            "dry_run" => upload.options.dry_run = data.as_ref() == b"true",
            "allow_duplicates" => upload.options.allow_duplicates = data.as_ref() == b"true",
            "skip_invalid" => upload.skip_invalid = data.as_ref() == b"true",
            _ => {}
        }
    }
    Ok(upload)
}

fn page(
    ctx: PageCtx,
    status: StatusCode,
    summary: Option<ImportSummary>,
    row_errors: Vec<RowError>,
    error: Option<String>,
    options: ImportOptions,
    skip_invalid: bool,
) -> axum::response::Response {
    (
        status,
        render(&ImportPage {
            ctx,
            summary,
            row_errors: row_errors.into_iter().map(with_page_remedy).collect(),
            error,
            options,
            skip_invalid,
            fields: &srs_domain::StudentField::ALL,
        }),
    )
        .into_response()
}

/// The uploaded file and the options chosen, the CSRF token checked; or
/// the page saying what is missing.
async fn file_and_options(
    ctx: &PageCtx,
    multipart: Multipart,
) -> Result<Result<(Vec<u8>, ImportOptions, bool), axum::response::Response>, PageError> {
    let upload = match read_upload(multipart).await {
        Ok(u) => u,
        Err((status, message, u)) => {
            return Ok(Err(page(
                ctx.clone(),
                status,
                None,
                Vec::new(),
                Some(message),
                u.options,
                u.skip_invalid,
            )))
        }
    };
    ctx.check_csrf(&upload.token)?;
    Ok(match upload.file.filter(|f| !f.is_empty()) {
        Some(file) => Ok((file, upload.options, upload.skip_invalid)),
        None => Err(page(
            ctx.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Vec::new(),
            Some("Choose a CSV file to upload.".into()),
            upload.options,
            upload.skip_invalid,
        )),
    })
}

async fn upload(
    Registrar(auth): Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    multipart: Multipart,
) -> PageResult {
    let (file, options, skip_invalid) = match file_and_options(&ctx, multipart).await? {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    match run_import(&state, &file, options, skip_invalid, &auth.actor).await {
        Ok(mut summary) => {
            // The skipped rows are shown as the report's rows.
            let skipped = std::mem::take(&mut summary.skipped);
            Ok(page(
                ctx,
                StatusCode::OK,
                Some(summary),
                skipped,
                None,
                options,
                skip_invalid,
            ))
        }
        Err(ApiError::ImportRejected(rows)) => Ok(page(
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            rows,
            None,
            options,
            skip_invalid,
        )),
        Err(e) => Err(e.into()),
    }
}

/// Checks the file (imports nothing) and answers its rows with problems
/// as a CSV, each with a `problems` column, ready to fix in a spreadsheet
/// and import again.
async fn rows_with_problems(
    Registrar(auth): Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    multipart: Multipart,
) -> PageResult {
    let (file, options, skip_invalid) = match file_and_options(&ctx, multipart).await? {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    let check = ImportOptions {
        dry_run: true,
        ..options
    };
    let errors = match run_import(&state, &file, check, true, &auth.actor).await {
        Ok(summary) => summary.skipped,
        Err(ApiError::ImportRejected(rows)) => rows,
        Err(e) => return Err(e.into()),
    };
    match crate::csv_io::rejected_rows(&file, &errors) {
        Some(csv) => Ok((
            [
                (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"rows-with-problems.csv\"",
                ),
            ],
            csv,
        )
            .into_response()),
        // The header is at fault: the page says how.
        None => Ok(page(
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            errors,
            None,
            options,
            skip_invalid,
        )),
    }
}
