//! The import page: upload a CSV, check it or import it, see every bad row.

use crate::auth::Registrar;
use crate::error::ApiError;
use crate::page::{render, PageCtx, PageResult};
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
    Router::new().route(
        "/import",
        get(form)
            .post(upload)
            .layer(DefaultBodyLimit::max(state.settings.max_import_bytes)),
    )
}

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
            n => format!("{n} problems"),
        }
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

async fn upload(
    Registrar(auth): Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    mut multipart: Multipart,
) -> PageResult {
    let mut token = String::new();
    let mut file: Option<Vec<u8>> = None;
    let mut options = ImportOptions::default();
    let mut skip_invalid = false;
    let page = |ctx: PageCtx,
                status: StatusCode,
                summary: Option<ImportSummary>,
                row_errors: Vec<RowError>,
                error: Option<String>,
                options: ImportOptions,
                skip_invalid: bool| {
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
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let status = e.status();
                return Ok(page(
                    ctx,
                    status,
                    None,
                    Vec::new(),
                    Some(format!("The upload could not be read: {}", e.body_text())),
                    options,
                    skip_invalid,
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) => {
                let status = e.status();
                return Ok(page(
                    ctx,
                    status,
                    None,
                    Vec::new(),
                    Some(format!("The upload could not be read: {}", e.body_text())),
                    options,
                    skip_invalid,
                ));
            }
        };
        match name.as_str() {
            "csrf_token" => token = String::from_utf8_lossy(&data).into_owned(),
            "file" => file = Some(data.to_vec()),
            "dry_run" => options.dry_run = data.as_ref() == b"true",
            "allow_duplicates" => options.allow_duplicates = data.as_ref() == b"true",
            "skip_invalid" => skip_invalid = data.as_ref() == b"true",
            _ => {}
        }
    }
    ctx.check_csrf(&token)?;
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return Ok(page(
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Vec::new(),
            Some("Choose a CSV file to upload.".into()),
            options,
            skip_invalid,
        ));
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
