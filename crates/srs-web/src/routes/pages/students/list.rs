//! The student list: one page of records with its filters, order, page
//! links and export links (built by `list_view`), rows rendered once per
//! cached page.

use super::list_view::{page_count, past_the_end, ListLinks, SortHeader};
use crate::auth::Viewer;
use crate::error::ApiError;
use crate::extract::AppQuery;
use crate::page::{render, PageCtx, PageError, PageResult};
use crate::routes::api::students::ListQuery;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use srs_domain::{Status, Student, StudentId};
use srs_store::{Listing, PageRequest, Rendering, StudentFilter};

#[derive(Template)]
#[template(path = "students/list.html")]
struct ListPage<'a> {
    ctx: PageCtx,
    students: &'a [Student],
    /// The rows, rendered by `students/rows.html` (kept with the cached
    /// page for the live list).
    rows: KeptHtml,
    total: i64,
    page: u32,
    pages: i64,
    q: String,
    department: String,
    status: String,
    sort: String,
    deleted: bool,
    departments: Vec<String>,
    statuses: [Status; 4],
    prev_url: String,
    next_url: String,
    /// The column headers, each a link that sorts by it.
    headers: Vec<SortHeader>,
    /// Links to nearby pages (None: a gap, shown as an ellipsis).
    page_links: Vec<Option<(u32, String)>>,
    per_page: u32,
    per_page_choices: [u32; 4],
    /// Why the list is not exactly what the address asked for.
    notice: Option<String>,
    export_url: String,
    /// The same export with a byte-order mark, for Excel.
    export_excel_url: String,
}

impl ListPage<'_> {
    /// Whether rows can be ticked for a bulk change: editors, live list.
    fn bulk(&self) -> bool {
        self.ctx.can_edit() && !self.deleted
    }
}

pub(super) async fn list(
    _: Viewer,
    ctx: PageCtx,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> PageResult {
    let (filter, page_req, notice) = parse_or_fall_back(query)?;
    let (result, departments) = state
        .store
        .list_students_and_departments(&filter, page_req)
        .await?;
    let links = ListLinks::of(&filter, page_req);
    let pages = page_count(result.total, result.per_page);
    let page = result.page;
    let rows = rows_of(&state, &ctx, &filter, &result).await?;
    let page_view = ListPage {
        prev_url: links.prev(page),
        next_url: links.next(page, pages),
        headers: links.headers(),
        page_links: links.page_links(page, pages),
        per_page: page_req.per_page,
        per_page_choices: [25, 50, 100, 200],
        notice: notice.or_else(|| past_the_end(page, pages)),
        export_url: links.export(false),
        export_excel_url: links.export(true),
        ctx,
        students: &result.items,
        rows,
        total: result.total,
        page,
        pages,
        sort: links.sort.as_str().to_owned(),
        q: links.q,
        department: links.department,
        status: links.status,
        deleted: filter.deleted,
        departments,
        statuses: Status::ALL,
    };
    Ok(render(&page_view))
}

/// The filter and page the address asks for. A hand-edited or stale
/// address gets the list with a note, not an error page: only the order
/// and the page fall back to defaults.
fn parse_or_fall_back(
    query: ListQuery,
) -> Result<(StudentFilter, PageRequest, Option<String>), PageError> {
    match query.parse() {
        Ok((filter, page_req)) => Ok((filter, page_req, None)),
        Err(ApiError::BadRequest(why)) => {
            let fallback = ListQuery {
                sort: None,
                page: None,
                per_page: None,
                ..query
            };
            let (filter, page_req) = fallback.parse()?;
            let notice = format!(
                "The address asked for something this list cannot show ({why}); it is shown in its usual order from the first page instead."
            );
            Ok((filter, page_req, Some(notice)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The rows of the page. The live list's depend only on the page of
/// records and on whether the reader may edit: made once per cached page.
/// The deleted list's carry the session's CSRF token and who deleted each,
/// so they are made each time.
async fn rows_of(
    state: &AppState,
    ctx: &PageCtx,
    filter: &StudentFilter,
    result: &Listing,
) -> Result<KeptHtml, PageError> {
    let can_edit = ctx.can_edit();
    let deleted_by = if filter.deleted {
        let ids: Vec<StudentId> = result.items.iter().map(|s| s.id).collect();
        state.store.deleted_by(&ids).await?
    } else {
        Default::default()
    };
    let render_rows = |students: &[Student], restore_csrf: Option<&str>| {
        RowsView {
            students,
            can_edit,
            restore_csrf,
            deleted_by: &deleted_by,
        }
        .render()
        .map(bytes::Bytes::from)
    };
    let rows = if filter.deleted {
        render_rows(&result.items, Some(&ctx.csrf))
    } else {
        let which = if can_edit {
            Rendering::RowsForEditors
        } else {
            Rendering::RowsForReaders
        };
        result.rendered(which, |p| render_rows(&p.items, None))
    };
    rows.map(KeptHtml)
        .map_err(|e| PageError::from(ApiError::Internal(anyhow::Error::new(e))))
}

/// HTML rendered (and escaped) earlier, written as it is.
struct KeptHtml(bytes::Bytes);

impl std::fmt::Display for KeptHtml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Made by an askama template, so UTF-8; anything else is left out.
        f.write_str(std::str::from_utf8(&self.0).unwrap_or_default())
    }
}

#[derive(Template)]
#[template(path = "students/rows.html")]
struct RowsView<'a> {
    students: &'a [Student],
    can_edit: bool,
    /// The deleted list's: its Restore forms' token.
    restore_csrf: Option<&'a str>,
    /// The deleted list's: who deleted each, by id.
    deleted_by: &'a std::collections::HashMap<i64, String>,
}

impl RowsView<'_> {
    fn deleter(&self, s: &Student) -> &str {
        self.deleted_by
            .get(&s.id.get())
            .map(String::as_str)
            .unwrap_or_default()
    }
}
