//! Student pages: list, add, view, edit, delete, restore.

use super::forms::{CsrfForm, FormView, TokenOnly};
use crate::auth::{Registrar, Viewer};
use crate::error::ApiError;
use crate::extract::{AppQuery, PageId};
use crate::page::{redirect_with_flash, render, Flash, PageCtx, PageError, PageResult};
use crate::routes::api::students::ListQuery;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use srs_domain::{
    EmergencyContacts, NewStudent, RawStudent, Status, Student, StudentField, StudentId,
    StudentPatch, Widget,
};
use srs_store::{CreateOptions, Created, DuplicateKind, Sort, SortKey, StoreError, StudentRef};

/// Student page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/students", get(list).post(create))
        .route("/students/new", get(new_form))
        .route("/students/{id}", get(show))
        .route("/students/{id}/edit", get(edit_form).post(update))
        .route("/students/{id}/delete", get(confirm_delete).post(delete))
        .route("/students/{id}/restore", post(restore))
        .route("/students/{id}/notes", post(add_note))
}

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

/// A sortable column header.
struct SortHeader {
    label: &'static str,
    url: String,
    /// "ascending", "descending" or "none", for aria-sort and the arrow.
    state: &'static str,
    /// A second way to sort the same column (the name by surname).
    also: Option<Box<SortHeader>>,
}

impl SortHeader {
    /// The column's aria-sort: either of its two ways.
    fn column_state(&self) -> &'static str {
        match &self.also {
            Some(also) if self.state == "none" => also.state,
            _ => self.state,
        }
    }

    fn arrow(&self) -> &'static str {
        match self.state {
            "ascending" => " ▲",
            "descending" => " ▼",
            _ => "",
        }
    }
}

/// The page numbers to link: the first, the last, and two either side of
/// the current one, with gaps between.
pub(super) fn page_numbers(page: u32, pages: u32) -> Vec<Option<u32>> {
    let mut out: Vec<Option<u32>> = Vec::new();
    for n in 1..=pages {
        if n == 1 || n == pages || n.abs_diff(page) <= 2 {
            if let Some(Some(last)) = out.last() {
                if n > last + 1 {
                    out.push(None);
                }
            }
            out.push(Some(n));
        }
    }
    out
}

/// Builds a URL from a path and the non-empty parameters.
pub(super) fn url(path: &str, params: &[(&str, String)]) -> String {
    let kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    match serde_urlencoded::to_string(&kept) {
        Ok(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

async fn list(
    _: Viewer,
    ctx: PageCtx,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> PageResult {
    // A hand-edited or stale address gets the list with a note, not an
    // error page: only the order and the page fall back to defaults.
    let (filter, page_req, mut notice) = match query.parse() {
        Ok((filter, page_req)) => (filter, page_req, None),
        Err(ApiError::BadRequest(why)) => {
            let fallback = ListQuery {
                sort: None,
                page: None,
                per_page: None,
                ..query
            };
            let (filter, page_req) = fallback.parse()?;
            (
                filter,
                page_req,
                Some(format!(
                    "The address asked for something this list cannot show ({why}); it is shown in its usual order from the first page instead."
                )),
            )
        }
        Err(e) => return Err(e.into()),
    };
    let (result, departments) = state
        .store
        .list_students_and_departments(&filter, page_req)
        .await?;
    let q = filter.q.clone().unwrap_or_default();
    let department = filter
        .department
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let status = filter
        .status
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let sort = filter.sort.as_str().to_owned();
    let deleted = if filter.deleted {
        "true".to_owned()
    } else {
        String::new()
    };
    let per_page = if page_req.per_page == srs_store::PageRequest::DEFAULT_PER_PAGE {
        String::new()
    } else {
        page_req.per_page.to_string()
    };
    // The list's filters and order, which its own links and the export
    // links both carry, followed by what each adds.
    let with_filters = |path: &str, sort: &str, extra: &[(&'static str, String)]| {
        let mut params = vec![
            ("q", q.clone()),
            ("department", department.clone()),
            ("status", status.clone()),
            ("sort", sort.to_owned()),
            ("deleted", deleted.clone()),
        ];
        params.extend_from_slice(extra);
        url(path, &params)
    };
    let base = |page: u32, sort: &str| {
        let page = if page > 1 {
            page.to_string()
        } else {
            String::new()
        };
        with_filters(
            "/students",
            sort,
            &[("per_page", per_page.clone()), ("page", page)],
        )
    };
    let pages =
        ((result.total + i64::from(result.per_page) - 1) / i64::from(result.per_page)).max(1);
    let page = result.page;
    if i64::from(page) > pages {
        notice = Some(format!(
            "There is no page {page}: this list has {pages} page{}.",
            if pages == 1 { "" } else { "s" }
        ));
    }
    let current = filter.sort;
    let header = |key: SortKey, label: &'static str| {
        let (next, state) = if current.key == key {
            (
                current.reversed(),
                if current.descending {
                    "descending"
                } else {
                    "ascending"
                },
            )
        } else {
            (
                Sort {
                    key,
                    // Newest first is what people want of "Added".
                    descending: key == SortKey::CreatedAt,
                },
                "none",
            )
        };
        SortHeader {
            label,
            url: base(1, next.as_str()),
            state,
            also: None,
        }
    };
    let headers = [
        (SortKey::StudentNumber, "Student number"),
        (SortKey::Name, "Name"),
        (SortKey::DateOfBirth, "Born"),
        (SortKey::Email, "Email"),
        (SortKey::Department, "Department"),
        (SortKey::Status, "Status"),
        (SortKey::CreatedAt, "Added"),
    ]
    .into_iter()
    .map(|(key, label)| {
        let mut h = header(key, label);
        if key == SortKey::Name {
            // Registrars file by surname: the name column sorts either way.
            h.also = Some(Box::new(header(SortKey::Surname, "by surname")));
        }
        h
    })
    .collect();
    let page_links = page_numbers(page, u32::try_from(pages).unwrap_or(u32::MAX))
        .into_iter()
        .map(|n| n.map(|n| (n, base(n, &sort))))
        .collect();
    let export = |bom: bool| {
        let bom = if bom { "true" } else { "" }.to_owned();
        with_filters("/api/v1/students/export.csv", &sort, &[("bom", bom)])
    };
    // The live list's rows depend only on the page of records and on
    // whether the reader may edit: made once per cached page. The deleted
    // list's carry the session's CSRF token, so they are made each time.
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
        let slot = if can_edit {
            crate::page::LISTING_ROWS_EDITABLE
        } else {
            crate::page::LISTING_ROWS_READ_ONLY
        };
        result.rendered(slot, |p| render_rows(&p.items, None))
    }
    .map(KeptHtml)
    .map_err(|e| PageError::from(ApiError::Internal(anyhow::Error::new(e))))?;
    let page_view = ListPage {
        prev_url: if page > 1 {
            base(page - 1, &sort)
        } else {
            String::new()
        },
        next_url: if i64::from(page) < pages {
            base(page + 1, &sort)
        } else {
            String::new()
        },
        headers,
        page_links,
        per_page: page_req.per_page,
        per_page_choices: [25, 50, 100, 200],
        notice,
        export_url: export(false),
        export_excel_url: export(true),
        ctx,
        students: &result.items,
        rows,
        total: result.total,
        page,
        pages,
        q,
        department,
        status,
        sort,
        deleted: filter.deleted,
        departments,
        statuses: Status::ALL,
    };
    Ok(render(&page_view))
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

/// A duplicate warning as the form shows it.
struct DuplicateView {
    id: StudentId,
    student_number: String,
    message: String,
    confirmable: bool,
}

#[derive(Template)]
#[template(path = "students/form.html")]
struct FormPage {
    ctx: PageCtx,
    action: String,
    student: Option<Student>,
    version: i64,
    form: FormView,
    departments: Vec<String>,
    statuses: [Status; 4],
    duplicate: Option<DuplicateView>,
    conflict: Option<Conflict>,
    /// Deleted while the user edited: by whom and when.
    deleted: Option<Deleted>,
    fields: Vec<FormField>,
}

/// The contacts' problems after they were refused, input by input.
struct ContactProblems {
    /// Whether the contacts were refused at all.
    refused: bool,
    /// Each input at fault, with its problem.
    inputs: Vec<(&'static str, String)>,
}

impl ContactProblems {
    /// Whether `input` is at fault (all of them when the problem is not
    /// one input's, such as too many contacts).
    fn marks(&self, input: &str) -> bool {
        self.refused && (self.inputs.is_empty() || self.inputs.iter().any(|(n, _)| *n == input))
    }
}

/// Who deleted the record being edited, and when.
struct Deleted {
    by: String,
    at: chrono::DateTime<chrono::Utc>,
}

/// An edit that met a newer version changing the same fields.
struct Conflict {
    /// The record as saved now.
    saved: Student,
    /// The fields both changed, with the saved value and the user's.
    clashes: Vec<(StudentField, String, String)>,
}

impl FormPage {
    /// The clashing fields (label, saved value, yours), when the edit met
    /// a newer version that changed them too.
    fn conflict_rows(&self) -> Vec<(&'static str, String, String)> {
        let Some(conflict) = &self.conflict else {
            return Vec::new();
        };
        conflict
            .clashes
            .iter()
            .map(|(f, saved, yours)| (f.label(), saved.clone(), yours.clone()))
            .collect()
    }

    /// After the contacts were refused: each contact input at fault with
    /// its problem, every one at once (only those inputs are marked).
    fn contact_problems(&self) -> ContactProblems {
        let mut found = ContactProblems {
            refused: self
                .form
                .error(StudentField::EmergencyContacts.name())
                .is_some(),
            inputs: Vec::new(),
        };
        if !found.refused {
            return found;
        }
        for (row, names) in CONTACT_INPUTS.iter().enumerate() {
            let [name, relationship, phone] = names.map(|n| self.form.value(n).trim());
            if name.is_empty() && relationship.is_empty() && phone.is_empty() {
                continue;
            }
            let problems = EmergencyContacts::part_problems(name, relationship, phone);
            for ((input, part), problem) in names
                .iter()
                .zip(["name", "relationship", "phone"])
                .zip(problems)
            {
                if let Some(problem) = problem {
                    found.inputs.push((
                        *input,
                        format!(
                            "Contact {}, {part}: {}",
                            row + 1,
                            crate::page::sentence(&problem)
                        ),
                    ));
                }
            }
        }
        found
    }

    /// The contact rows' input names with their values, for the template.
    fn contact_rows(&self) -> Vec<[(&'static str, &str); 3]> {
        CONTACT_INPUTS
            .iter()
            .map(|names| names.map(|n| (n, self.form.value(n))))
            .collect()
    }
}

/// The inputs of the emergency-contact rows: name, relationship, phone.
const CONTACT_INPUTS: [[&str; 3]; EmergencyContacts::MAX] = [
    [
        "emergency_name_1",
        "emergency_relationship_1",
        "emergency_phone_1",
    ],
    [
        "emergency_name_2",
        "emergency_relationship_2",
        "emergency_phone_2",
    ],
    [
        "emergency_name_3",
        "emergency_relationship_3",
        "emergency_phone_3",
    ],
];

/// The student form as posted: the record's fields by their names, the
/// contact rows, and the form's own `version` and `confirm_duplicate`.
#[derive(Debug, Default)]
struct StudentInput {
    raw: RawStudent,
    /// Everything typed, to show again.
    view: FormView,
    version: Option<String>,
    confirm_duplicate: bool,
    /// Restore the record first (it was deleted while being edited).
    restore_first: bool,
}

impl<'de> Deserialize<'de> for StudentInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(String, String)>::deserialize(d)?;
        let mut input = StudentInput::default();
        let mut rows = [[""; 3]; EmergencyContacts::MAX].map(|r| r.map(String::from));
        for (key, value) in &pairs {
            if let Some(field) = StudentField::named(key) {
                input.raw.set(field, value.clone());
                input.view.set(field.name(), value.clone());
            } else if let Some(field) = key.strip_prefix("orig_").and_then(StudentField::named) {
                input.view.orig.insert(field.name(), value.clone());
            } else if key == "version" {
                input.version = Some(value.clone());
            } else if key == "confirm_duplicate" {
                input.confirm_duplicate = value == "true";
            } else if key == "restore_first" {
                input.restore_first = value == "true";
            } else {
                for (row, names) in CONTACT_INPUTS.iter().enumerate() {
                    if let Some(part) = names.iter().position(|n| n == key) {
                        rows[row][part] = value.trim().to_owned();
                        input.view.set(names[part], value.clone());
                    }
                }
            }
        }
        // The rows in their text form; a row left blank is no contact.
        let contacts =
            EmergencyContacts::joined(rows.iter().filter(|r| r.iter().any(|p| !p.is_empty())).map(
                |[name, relationship, phone]| EmergencyContacts::entry(name, relationship, phone),
            ));
        input.raw.set(StudentField::EmergencyContacts, contacts);
        Ok(input)
    }
}

fn view_of(s: &Student) -> FormView {
    let mut form = FormView::default();
    for field in StudentField::ALL {
        form.set(field.name(), s.text(field));
        form.orig.insert(field.name(), s.text(field));
    }
    for (contact, names) in s.emergency_contacts.list().iter().zip(CONTACT_INPUTS) {
        form.set(names[0], contact.name.to_string());
        form.set(names[1], contact.relationship.clone());
        form.set(names[2], contact.phone.to_string());
    }
    form
}

/// One field of the student form, as the template lays it out.
struct FormField {
    name: &'static str,
    label: String,
    help: &'static str,
    /// `input`, `lines`, `department`, `status` or `contacts`.
    widget: &'static str,
    /// The input's type, for `input`.
    kind: &'static str,
}

/// The form's fields, in order; the number only when adding.
fn form_fields(editing: bool) -> Vec<FormField> {
    StudentField::ALL
        .into_iter()
        .filter(|f| !(editing && *f == StudentField::StudentNumber))
        .map(|f| {
            let optional =
                !f.required() && !matches!(f, StudentField::Status | StudentField::EnrolledOn);
            let (widget, kind) = match f.widget() {
                Widget::Text => ("input", "text"),
                Widget::Email => ("input", "email"),
                Widget::Tel => ("input", "tel"),
                Widget::Date => ("input", "date"),
                Widget::Lines => ("lines", ""),
                Widget::Department => ("department", ""),
                Widget::Status => ("status", ""),
                Widget::Contacts => ("contacts", ""),
            };
            let help = match f {
                StudentField::StudentNumber => {
                    "Leave empty to have one assigned, e.g. S2026-000123."
                }
                StudentField::EnrolledOn if editing => {
                    "The day the student enrolled; not before the date of birth."
                }
                StudentField::EnrolledOn => "Leave empty for today.",
                StudentField::DateOfBirth => "The student must be 16 to 100 years old.",
                StudentField::Phone => {
                    "Digits, with spaces, hyphens or brackets; a leading + for abroad."
                }
                StudentField::Address => "Up to 6 lines.",
                StudentField::EmergencyContacts => "Up to 3 people, in the order to call them.",
                _ => "",
            };
            FormField {
                name: f.name(),
                label: if optional {
                    format!("{} (optional)", f.label())
                } else {
                    f.label().to_owned()
                },
                help,
                widget,
                kind,
            }
        })
        .collect()
}

/// Names offered in the department list: active ones, plus `keep` (a
/// student's current department, even if retired).
async fn department_choices(
    state: &AppState,
    keep: Option<&str>,
) -> Result<Vec<String>, PageError> {
    Ok(state
        .store
        .list_departments()
        .await?
        .into_iter()
        .filter(|d| !d.retired || keep.is_some_and(|k| k == d.name.as_str()))
        .map(|d| d.name.to_string())
        .collect())
}

async fn form_page(
    state: &AppState,
    ctx: PageCtx,
    student: Option<Student>,
    version: i64,
    form: FormView,
    status: StatusCode,
) -> PageResult {
    let keep = student.as_ref().map(|s| s.department.to_string());
    let page = FormPage {
        ctx,
        action: match &student {
            Some(s) => format!("/students/{}/edit", s.id),
            None => "/students".into(),
        },
        fields: form_fields(student.is_some()),
        student,
        version,
        form,
        departments: department_choices(state, keep.as_deref()).await?,
        statuses: Status::ALL,
        duplicate: None,
        conflict: None,
        deleted: None,
    };
    Ok((status, render(&page)).into_response())
}

async fn new_form(_: Registrar, ctx: PageCtx, State(state): State<AppState>) -> PageResult {
    let mut form = FormView::default();
    form.set("status", "active");
    form_page(&state, ctx, None, 0, form, StatusCode::OK).await
}

async fn create(
    Registrar(auth): Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    CsrfForm(input): CsrfForm<StudentInput>,
) -> PageResult {
    let mut view = input.view;
    let new = match NewStudent::parse(&input.raw, state.today()) {
        Ok(n) => n,
        Err(errors) => {
            view.errors = errors;
            return form_page(&state, ctx, None, 0, view, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let options = CreateOptions {
        confirm_duplicate: input.confirm_duplicate,
        idempotency: None,
    };
    match state
        .store
        .create_student(&new, &options, &auth.actor)
        .await
    {
        Ok(Created::New(s)) => Ok(redirect_with_flash(
            &format!("/students/{}", s.id),
            Flash::success(format!(
                "Student {} ({}) added.",
                s.student_number, s.full_name
            )),
        )),
        Ok(Created::Replayed { student_id, .. }) => {
            Ok(Redirect::to(&format!("/students/{student_id}")).into_response())
        }
        Err(StoreError::Duplicate { kind, existing }) => {
            duplicate_page(&state, ctx, view, kind, existing).await
        }
        Err(StoreError::Invalid(errors)) => {
            view.errors = errors;
            form_page(&state, ctx, None, 0, view, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn duplicate_page(
    state: &AppState,
    ctx: PageCtx,
    mut view: FormView,
    kind: DuplicateKind,
    existing: StudentRef,
) -> PageResult {
    let (message, confirmable) = match kind {
        DuplicateKind::NameAndBirthDate => (
            format!(
                "{} ({}) has the same name and date of birth.",
                existing.full_name, existing.student_number
            ),
            true,
        ),
        DuplicateKind::Email => {
            view.errors.push(
                "email",
                format!("already used by student {}", existing.student_number),
            );
            (
                format!(
                    "{} ({}) already uses this email; emails must be unique.",
                    existing.full_name, existing.student_number
                ),
                false,
            )
        }
    };
    let page = FormPage {
        ctx,
        action: "/students".into(),
        student: None,
        version: 0,
        form: view,
        departments: department_choices(state, None).await?,
        statuses: Status::ALL,
        duplicate: Some(DuplicateView {
            id: existing.id,
            student_number: existing.student_number.to_string(),
            message,
            confirmable,
        }),
        conflict: None,
        deleted: None,
        fields: form_fields(false),
    };
    Ok((StatusCode::CONFLICT, render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "students/show.html")]
struct ShowPage {
    ctx: PageCtx,
    s: Student,
    history: Vec<crate::history::HistoryEntry>,
    /// Who deleted it, when it is deleted (from its history).
    deleted_by: Option<String>,
    /// Its notes, newest first.
    notes: Vec<srs_store::Note>,
    /// The note being written (kept when refused).
    note: String,
    /// Why the note was refused.
    note_error: Option<String>,
}

async fn load(state: &AppState, id: StudentId) -> Result<Student, PageError> {
    Ok(state.store.get_student(id).await?)
}

async fn show(
    _: Viewer,
    ctx: PageCtx,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
) -> PageResult {
    show_page(&state, ctx, id, NoteInput::default(), None).await
}

/// A student's page, with the note form holding `note` and its error.
async fn show_page(
    state: &AppState,
    ctx: PageCtx,
    id: StudentId,
    note: NoteInput,
    note_error: Option<String>,
) -> PageResult {
    // A deleted student is shown as deleted (with Restore), not as a
    // dead end: its number and history are still what people look for.
    let s = state.store.get_student_any(id).await?;
    let history = crate::routes::api::audit::history_of(state, s.id).await?;
    let notes = state.store.notes(s.id).await?;
    let deleted_by = s.deleted_at.and(
        history
            .iter()
            .filter(|h| h.action == srs_domain::AuditAction::StudentDelete.as_str())
            .max_by_key(|h| h.at)
            .map(|h| h.actor.clone()),
    );
    let status = if note_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ShowPage {
        ctx,
        s,
        history,
        deleted_by,
        notes,
        note: note.body,
        note_error,
    };
    Ok((status, render(&page)).into_response())
}

/// The note form.
#[derive(Debug, Default, Deserialize)]
struct NoteInput {
    #[serde(default)]
    body: String,
}

async fn add_note(
    Registrar(auth): Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
    CsrfForm(input): CsrfForm<NoteInput>,
) -> PageResult {
    let text = match srs_domain::NoteText::parse(&input.body) {
        Ok(t) => t,
        Err(e) => return show_page(&state, ctx, id, input, Some(e.to_string())).await,
    };
    state.store.add_note(id, &text, &auth.actor).await?;
    Ok(redirect_with_flash(
        &format!("/students/{}#notes", id),
        Flash::success("Note added."),
    ))
}

async fn edit_form(
    _: Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
) -> PageResult {
    let s = load(&state, id).await?;
    let form = view_of(&s);
    let version = s.version;
    form_page(&state, ctx, Some(s), version, form, StatusCode::OK).await
}

/// The form again after an edit met a newer version changing the same
/// fields: the saved record, with the user's changes (`changed`) kept on
/// top and the clashes named; saving it again applies the user's values.
async fn conflict_page(
    state: &AppState,
    ctx: PageCtx,
    current: Student,
    clashes: Vec<StudentField>,
    typed: FormView,
    changed: &RawStudent,
    patch: &StudentPatch,
) -> PageResult {
    let keep = current.department.to_string();
    let mut view = view_of(&current);
    for (field, value) in changed.fields() {
        view.set(field.name(), value.to_owned());
    }
    if changed.get(StudentField::EmergencyContacts).is_some() {
        for name in CONTACT_INPUTS.iter().flatten() {
            view.set(name, typed.value(name).to_owned());
        }
    }
    let mine = patch.applied_to(&current);
    let clashes = clashes
        .into_iter()
        .map(|f| (f, current.shown(f), mine.shown(f)))
        .collect();
    let page = FormPage {
        ctx,
        action: format!("/students/{}/edit", current.id),
        version: current.version,
        student: Some(current.clone()),
        form: view,
        departments: department_choices(state, Some(&keep)).await?,
        statuses: Status::ALL,
        duplicate: None,
        conflict: Some(Conflict {
            saved: current,
            clashes,
        }),
        deleted: None,
        fields: form_fields(true),
    };
    Ok((StatusCode::CONFLICT, render(&page)).into_response())
}

/// The form again, as typed, for a record deleted while it was edited.
async fn deleted_page(
    state: &AppState,
    ctx: PageCtx,
    gone: Student,
    typed: FormView,
    version: i64,
) -> PageResult {
    // Who, from the trail (as the deleted list and the record's page say
    // it); when, from the record itself.
    let by = state
        .store
        .deleted_by(&[gone.id])
        .await?
        .remove(&gone.id.get())
        .unwrap_or_else(|| "someone".into());
    let at = gone.deleted_at.unwrap_or(gone.updated_at);
    let keep = gone.department.to_string();
    let page = FormPage {
        ctx,
        action: format!("/students/{}/edit", gone.id),
        version,
        student: Some(gone.clone()),
        form: typed,
        departments: department_choices(state, Some(&keep)).await?,
        statuses: Status::ALL,
        duplicate: None,
        conflict: None,
        deleted: Some(Deleted { by, at }),
        fields: form_fields(true),
    };
    Ok((StatusCode::CONFLICT, render(&page)).into_response())
}

/// Leaves out of `raw` the fields the form sent back as they were loaded:
/// an edit changes only what its user changed.
fn only_changed(
    raw: &RawStudent,
    orig: &std::collections::BTreeMap<&'static str, String>,
) -> RawStudent {
    let mut changed = raw.clone();
    for (field, value) in raw.fields() {
        if orig
            .get(field.name())
            .is_some_and(|was| was.trim() == value.trim())
        {
            changed.remove(field);
        }
    }
    changed
}

async fn update(
    Registrar(auth): Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
    CsrfForm(input): CsrfForm<StudentInput>,
) -> PageResult {
    let current = match state.store.get_student(id).await {
        Ok(s) => s,
        // Deleted while this form was open: say by whom and keep what was
        // typed; "Restore and save" restores it, then saves the changes.
        Err(StoreError::NotFound) => {
            let gone = state.store.get_student_any(id).await?;
            if !input.restore_first {
                let version = input
                    .version
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(gone.version);
                return deleted_page(&state, ctx, gone, input.view, version).await;
            }
            state.store.restore_student(id, &auth.actor).await?
        }
        Err(e) => return Err(e.into()),
    };
    let mut view = input.view;
    let Some(version) = input.version.as_deref().and_then(|v| v.parse::<i64>().ok()) else {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "The form lacks the record's version; reload the page.",
        ));
    };
    let changed = only_changed(&input.raw, &view.orig);
    let patch = match StudentPatch::parse(&changed, version, &current, state.today()) {
        Ok(p) => p,
        Err(errors) => {
            view.errors = errors;
            return form_page(
                &state,
                ctx,
                Some(current),
                version,
                view,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match state
        .store
        .update_student(&current, &patch, &auth.actor)
        .await
    {
        Ok(s) if version < current.version => Ok(redirect_with_flash(
            &format!("/students/{}", s.id),
            Flash::success(format!(
                "Changes to {} saved; someone else's changes to other fields meanwhile are kept.",
                s.student_number
            )),
        )),
        Ok(s) => Ok(redirect_with_flash(
            &format!("/students/{}", s.id),
            Flash::success(format!("Changes to {} saved.", s.student_number)),
        )),
        Err(StoreError::VersionConflict { current, clashes }) => {
            conflict_page(&state, ctx, *current, clashes, view, &changed, &patch).await
        }
        Err(StoreError::Invalid(errors)) => {
            view.errors = errors;
            form_page(
                &state,
                ctx,
                Some(current),
                version,
                view,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "students/delete.html")]
struct DeletePage {
    ctx: PageCtx,
    s: Student,
}

async fn confirm_delete(
    _: Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
) -> PageResult {
    let s = load(&state, id).await?;
    Ok(render(&DeletePage { ctx, s }))
}

async fn delete(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
    _: CsrfForm<TokenOnly>,
) -> PageResult {
    let s = load(&state, id).await?;
    state.store.delete_student(s.id, &auth.actor).await?;
    let mut flash = Flash::success(format!(
        "Student {} ({}) deleted.",
        s.student_number, s.full_name
    ));
    flash.restore_id = Some(s.id.get());
    Ok(redirect_with_flash("/students", flash))
}

async fn restore(
    Registrar(auth): Registrar,
    State(state): State<AppState>,
    PageId(id): PageId<StudentId>,
    _: CsrfForm<TokenOnly>,
) -> PageResult {
    match state.store.restore_student(id, &auth.actor).await {
        Ok(s) => Ok(redirect_with_flash(
            &format!("/students/{}", s.id),
            Flash::success(format!(
                "Student {} ({}) restored.",
                s.student_number, s.full_name
            )),
        )),
        Err(StoreError::Conflict(message)) => Ok(redirect_with_flash(
            "/students?deleted=true",
            Flash::danger(message),
        )),
        Err(e) => Err(ApiError::from(e).into()),
    }
}
