//! The student form: add and edit, the duplicate warning, an edit that
//! meets a newer version or a record deleted meanwhile.

use super::super::forms::{CsrfForm, FormView};
use super::record::load;
use crate::auth::Registrar;
use crate::extract::PageId;
use crate::page::{redirect_with_flash, render, Flash, PageCtx, PageError, PageResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use srs_domain::{
    EmergencyContacts, NewStudent, RawStudent, Status, Student, StudentField, StudentId,
    StudentPatch, Widget,
};
use srs_store::{CreateOptions, Created, DuplicateKind, StoreError, StudentRef};

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
pub(super) struct StudentInput {
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

pub(super) async fn new_form(
    _: Registrar,
    ctx: PageCtx,
    State(state): State<AppState>,
) -> PageResult {
    let mut form = FormView::default();
    form.set("status", "active");
    form_page(&state, ctx, None, 0, form, StatusCode::OK).await
}

pub(super) async fn create(
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

pub(super) async fn edit_form(
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

pub(super) async fn update(
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
