//! Rows as the database returns them, and their conversion to domain types.

use crate::{StoreError, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};
use srs_domain::{
    DateOfBirth, Department, DepartmentId, DepartmentName, Email, EmergencyContacts, EnrolledOn,
    FullName, Phone, PostalAddress, Status, Student, StudentId, StudentNumber,
};

/// The columns every student query selects. The department's name comes
/// from a correlated subquery rather than a join: with a join, MariaDB
/// starts from the small departments table and sorts every student before
/// LIMIT, instead of walking the name index for one page.
pub(crate) const STUDENT_COLUMNS: &str = "s.id, s.student_number, s.full_name, s.email, \
    s.phone, s.address, s.emergency_contacts, s.date_of_birth, (SELECT d.name FROM departments d WHERE d.id = s.department_id) AS department, \
    s.status, s.enrolled_on, s.created_at, s.updated_at, s.deleted_at, s.version";

/// One student row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StudentRow {
    id: i64,
    student_number: String,
    full_name: String,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    emergency_contacts: Option<String>,
    date_of_birth: NaiveDate,
    department: String,
    status: String,
    enrolled_on: NaiveDate,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    version: i64,
}

fn corrupt(id: i64, field: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("student {id}: {field}: {e}"))
}

impl TryFrom<StudentRow> for Student {
    type Error = StoreError;

    fn try_from(r: StudentRow) -> StoreResult<Self> {
        let id = r.id;
        Ok(Student {
            id: StudentId::new(id),
            student_number: StudentNumber::parse(&r.student_number)
                .map_err(|e| corrupt(id, "student_number", e))?,
            full_name: FullName::parse(&r.full_name).map_err(|e| corrupt(id, "full_name", e))?,
            email: r
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(|e| corrupt(id, "email", e))?,
            phone: r.phone.map(Phone::from_stored),
            address: r.address.map(PostalAddress::from_stored),
            emergency_contacts: EmergencyContacts::parse(
                r.emergency_contacts.as_deref().unwrap_or_default(),
            )
            .map_err(|e| corrupt(id, "emergency_contacts", e))?,
            date_of_birth: DateOfBirth::from_stored(r.date_of_birth),
            department: DepartmentName::parse(&r.department)
                .map_err(|e| corrupt(id, "department", e))?,
            status: Status::parse(&r.status).map_err(|e| corrupt(id, "status", e))?,
            enrolled_on: EnrolledOn::from_stored(r.enrolled_on),
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
            version: r.version,
        })
    }
}

/// One department row with its number of students.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DepartmentRow {
    id: i64,
    name: String,
    retired_at: Option<DateTime<Utc>>,
    student_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DepartmentRow> for Department {
    type Error = StoreError;

    fn try_from(r: DepartmentRow) -> StoreResult<Self> {
        Ok(Department {
            id: DepartmentId::new(r.id),
            name: DepartmentName::parse(&r.name)
                .map_err(|e| StoreError::Corrupt(format!("department {}: {e}", r.id)))?,
            retired: r.retired_at.is_some(),
            student_count: r.student_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The folded text `q` searches (see `srs_domain::fold_for_search`): name, number
/// (a new student's is added once assigned), e-mail, and the digits of the
/// student's and their emergency contacts' phone numbers (`phones`, from
/// [`phone_digits`]).
pub(crate) fn search_text(
    name: &FullName,
    number: Option<&StudentNumber>,
    email: Option<&Email>,
    phones: &str,
) -> String {
    let mut s = name.as_str().to_owned();
    if let Some(n) = number {
        s.push(' ');
        s.push_str(n.as_str());
    }
    if let Some(e) = email {
        s.push(' ');
        s.push_str(e.as_str());
    }
    if !phones.is_empty() {
        s.push(' ');
        s.push_str(phones);
    }
    srs_domain::fold_for_search(&s)
}

/// The digits of every phone number on a record, space-separated: what a
/// search for a number matches, however it was written.
pub(crate) fn phone_digits(phone: Option<&Phone>, contacts: &EmergencyContacts) -> String {
    phone
        .into_iter()
        .chain(contacts.list().iter().map(|c| &c.phone))
        .map(Phone::digits)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The key names sort and match duplicates by: without case or accents.
pub(crate) fn name_key(name: &FullName) -> String {
    srs_domain::fold(name.as_str())
}
