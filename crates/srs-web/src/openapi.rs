//! The OpenAPI description, generated from the handlers and types.

use crate::error::Problem;
use crate::routes::api::{departments, students, transfer};
use utoipa::OpenApi;

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
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
        transfer::export_students,
        transfer::import_students,
        transfer::import_template,
        departments::list_departments,
        departments::get_department,
        departments::create_department,
        departments::update_department,
        departments::delete_department,
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
        departments::CreateDepartmentRequest,
        departments::UpdateDepartmentRequest,
        transfer::ImportSummary,
    )),
    tags(
        (name = "students", description = "Student records"),
        (name = "departments", description = "The managed list of departments"),
    )
)]
pub struct ApiDoc;
