//! The OpenAPI description, generated from the handlers and types.

use crate::error::Problem;
use crate::routes::api::{audit, departments, notes, students, transfer};
use utoipa::OpenApi;

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    info(
        title = "srs — student records",
        description = "Student records with disaster recovery built in. Every error is application/problem+json (RFC 9457)."
    ),
    paths(
        students::list_students,
        students::create_student,
        students::get_student,
        students::update_student,
        students::delete_student,
        students::restore_student,
        notes::list_notes,
        notes::add_note,
        transfer::export_students,
        transfer::import_students,
        transfer::import_template,
        departments::list_departments,
        departments::get_department,
        departments::create_department,
        departments::update_department,
        departments::delete_department,
        audit::student_history,
        audit::audit,
    ),
    components(schemas(
        Problem,
        srs_domain::Student,
        srs_domain::Department,
        srs_domain::Status,
        srs_domain::FieldError,
        students::StudentList,
        students::CreateStudentRequest,
        students::UpdateStudentRequest,
        notes::NewNoteRequest,
        srs_store::Note,
        departments::CreateDepartmentRequest,
        departments::UpdateDepartmentRequest,
        transfer::ImportSummary,
        audit::AuditPage,
        crate::history::HistoryEntry,
        crate::history::FieldChange,
    )),
    tags(
        (name = "students", description = "Student records"),
        (name = "departments", description = "The managed list of departments"),
        (name = "audit", description = "Who changed what, when, from where"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme every API route uses.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
