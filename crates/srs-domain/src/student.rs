use crate::{
    DateOfBirth, DepartmentName, Email, EnrolledOn, FullName, Status, StudentId, StudentNumber,
    ValidationErrors,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// A student record as stored: every field valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Student {
    /// Server-assigned id.
    #[schema(value_type = i64, example = 42)]
    pub id: StudentId,
    /// Unique, human-facing, never changes.
    #[schema(value_type = String, example = "S2026-000042")]
    pub student_number: StudentNumber,
    /// Letters of any script, spaces, apostrophes, hyphens and periods.
    #[schema(value_type = String, example = "José Núñez-O'Brien")]
    pub full_name: FullName,
    /// Unique among live records when present.
    #[schema(value_type = Option<String>, example = "jose@example.edu")]
    pub email: Option<Email>,
    /// The student was 16-100 on the day of entry.
    #[schema(value_type = NaiveDate)]
    pub date_of_birth: DateOfBirth,
    /// The department's name.
    #[schema(value_type = String, example = "Computer Science")]
    pub department: DepartmentName,
    /// Where the student stands.
    pub status: Status,
    /// The day the student enrolled.
    #[schema(value_type = NaiveDate)]
    pub enrolled_on: EnrolledOn,
    /// Set by the server.
    pub created_at: DateTime<Utc>,
    /// Set by the server on every change.
    pub updated_at: DateTime<Utc>,
    /// Set when the record was deleted; deleted records can be restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version: send it back with every change.
    #[schema(example = 1)]
    pub version: i64,
}

impl Student {
    /// The record `new` becomes when stored at `at` under `id` and
    /// `number`, in the department as the store names it (first version).
    pub fn created(
        new: &NewStudent,
        id: StudentId,
        number: StudentNumber,
        department: DepartmentName,
        at: DateTime<Utc>,
    ) -> Self {
        Student {
            id,
            student_number: number,
            full_name: new.full_name.clone(),
            email: new.email.clone(),
            date_of_birth: new.date_of_birth,
            department,
            status: new.status,
            enrolled_on: new.enrolled_on,
            created_at: at,
            updated_at: at,
            deleted_at: None,
            version: 1,
        }
    }
}

/// A student as a client typed it: every field a string, none checked yet.
/// The API body, the page form and a CSV row all become one of these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawStudent {
    /// Optional; generated when absent.
    pub student_number: Option<String>,
    /// Required.
    pub full_name: Option<String>,
    /// Optional.
    pub email: Option<String>,
    /// Required, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// Required, a department's name.
    pub department: Option<String>,
    /// Optional, default `active`.
    pub status: Option<String>,
    /// Optional, default today.
    pub enrolled_on: Option<String>,
}

/// A valid student not yet stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStudent {
    /// Given by the client, or `None` to have one generated.
    pub student_number: Option<StudentNumber>,
    /// The name.
    pub full_name: FullName,
    /// The address, if any.
    pub email: Option<Email>,
    /// The date of birth.
    pub date_of_birth: DateOfBirth,
    /// The department, by name.
    pub department: DepartmentName,
    /// The status.
    pub status: Status,
    /// The enrolment date.
    pub enrolled_on: EnrolledOn,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.trim().is_empty())
}

fn check_enrolment_after_birth(
    errors: &mut ValidationErrors,
    born: Option<DateOfBirth>,
    enrolled: Option<EnrolledOn>,
) {
    if let (Some(born), Some(enrolled)) = (born, enrolled) {
        if enrolled.date() < born.date() {
            errors.push("enrolled_on", "enrolment date is before the date of birth");
        }
    }
}

impl NewStudent {
    /// Checks every field of `raw`, reporting all that are wrong; `today`
    /// is the day of entry the age rule is measured on.
    pub fn parse(raw: &RawStudent, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let student_number = match present(&raw.student_number) {
            Some(s) => errors
                .check("student_number", StudentNumber::parse(s))
                .map(Some),
            None => Some(None),
        };
        let full_name = errors.check(
            "full_name",
            FullName::parse(raw.full_name.as_deref().unwrap_or_default()),
        );
        let email = match present(&raw.email) {
            Some(s) => errors.check("email", Email::parse(s)).map(Some),
            None => Some(None),
        };
        let date_of_birth = errors.check(
            "date_of_birth",
            DateOfBirth::parse(raw.date_of_birth.as_deref().unwrap_or_default(), today),
        );
        let department = errors.check(
            "department",
            DepartmentName::parse(raw.department.as_deref().unwrap_or_default()),
        );
        let status = match present(&raw.status) {
            Some(s) => errors.check("status", Status::parse(s)),
            None => Some(Status::default()),
        };
        let enrolled_on = errors.check(
            "enrolled_on",
            EnrolledOn::parse(raw.enrolled_on.as_deref().unwrap_or_default(), today),
        );
        check_enrolment_after_birth(&mut errors, date_of_birth, enrolled_on);
        match (
            student_number,
            full_name,
            email,
            date_of_birth,
            department,
            status,
            enrolled_on,
        ) {
            (Some(sn), Some(n), Some(e), Some(d), Some(dep), Some(st), Some(en))
                if errors.is_empty() =>
            {
                Ok(Self {
                    student_number: sn,
                    full_name: n,
                    email: e,
                    date_of_birth: d,
                    department: dep,
                    status: st,
                    enrolled_on: en,
                })
            }
            _ => Err(errors),
        }
    }
}

/// A change to a student as a client typed it. `None` leaves a field as it
/// is; for `email`, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawStudentPatch {
    /// Accepted only when equal to the current number: numbers never change.
    pub student_number: Option<String>,
    /// New name.
    pub full_name: Option<String>,
    /// New address, or `Some(None)` to clear it.
    pub email: Option<Option<String>>,
    /// New date of birth.
    pub date_of_birth: Option<String>,
    /// New department, by name.
    pub department: Option<String>,
    /// New status.
    pub status: Option<String>,
    /// New enrolment date.
    pub enrolled_on: Option<String>,
}

/// A valid change to a stored student, made against `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudentPatch {
    /// The version the client last saw; a stale one is refused.
    pub version: i64,
    /// New name.
    pub full_name: Option<FullName>,
    /// New address; `Some(None)` clears it.
    pub email: Option<Option<Email>>,
    /// New date of birth.
    pub date_of_birth: Option<DateOfBirth>,
    /// New department, by name.
    pub department: Option<DepartmentName>,
    /// New status.
    pub status: Option<Status>,
    /// New enrolment date.
    pub enrolled_on: Option<EnrolledOn>,
}

impl StudentPatch {
    /// Checks a change against the record it applies to; `today` is the
    /// day of entry for a changed date of birth.
    pub fn parse(
        raw: &RawStudentPatch,
        version: i64,
        current: &Student,
        today: NaiveDate,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(number) = &raw.student_number {
            let same = StudentNumber::parse(number)
                .map(|n| n == current.student_number)
                .unwrap_or(false);
            if !same {
                errors.push("student_number", "student number cannot be changed");
            }
        }
        let full_name = raw
            .full_name
            .as_deref()
            .and_then(|s| errors.check("full_name", FullName::parse(s)).map(Some))
            .flatten();
        let email = match &raw.email {
            None => None,
            Some(None) => Some(None),
            Some(Some(s)) if s.trim().is_empty() => Some(None),
            Some(Some(s)) => errors.check("email", Email::parse(s)).map(Some),
        };
        let date_of_birth = match raw.date_of_birth.as_deref() {
            None => None,
            // An unchanged date of birth is not re-checked: the student has aged.
            Some(s) if s.trim() == current.date_of_birth.date().to_string() => None,
            Some(s) => errors.check("date_of_birth", DateOfBirth::parse(s, today)),
        };
        let department = raw
            .department
            .as_deref()
            .and_then(|s| errors.check("department", DepartmentName::parse(s)));
        let status = raw
            .status
            .as_deref()
            .and_then(|s| errors.check("status", Status::parse(s)));
        let enrolled_on = match raw.enrolled_on.as_deref() {
            None => None,
            Some(s) if s.trim().is_empty() => {
                errors.push("enrolled_on", "enrolment date cannot be empty");
                None
            }
            Some(s) => errors.check("enrolled_on", EnrolledOn::parse(s, today)),
        };
        check_enrolment_after_birth(
            &mut errors,
            Some(date_of_birth.unwrap_or(current.date_of_birth)),
            Some(enrolled_on.unwrap_or(current.enrolled_on)),
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            version,
            full_name,
            email,
            date_of_birth,
            department,
            status,
            enrolled_on,
        })
    }

    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.full_name.is_none()
            && self.email.is_none()
            && self.date_of_birth.is_none()
            && self.department.is_none()
            && self.status.is_none()
            && self.enrolled_on.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StudentId;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("valid")
    }

    fn raw() -> RawStudent {
        RawStudent {
            student_number: None,
            full_name: Some("Ada Lovelace".into()),
            email: Some("ada@example.edu".into()),
            date_of_birth: Some("2000-12-10".into()),
            department: Some("Computer Science".into()),
            status: None,
            enrolled_on: None,
        }
    }

    fn stored() -> Student {
        let new = NewStudent::parse(&raw(), today()).expect("valid");
        Student::created(
            &new,
            StudentId::new(1),
            StudentNumber::generated(2026, 1),
            new.department.clone(),
            Utc::now(),
        )
    }

    #[test]
    fn a_complete_student_parses_with_defaults() {
        let s = NewStudent::parse(&raw(), today()).expect("valid");
        assert_eq!(s.status, Status::Active);
        assert_eq!(s.enrolled_on.date(), today());
        assert_eq!(s.student_number, None);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = RawStudent {
            student_number: Some("1".into()),
            full_name: Some("<script>".into()),
            email: Some("nope".into()),
            date_of_birth: Some("2020-01-01".into()),
            department: Some("".into()),
            status: Some("expelled".into()),
            enrolled_on: Some("yesterday".into()),
        };
        let errors = NewStudent::parse(&bad, today()).expect_err("invalid");
        for field in [
            "student_number",
            "full_name",
            "email",
            "date_of_birth",
            "department",
            "status",
            "enrolled_on",
        ] {
            assert!(
                errors.message_for(field).is_some(),
                "{field} should be reported: {errors}"
            );
        }
    }

    #[test]
    fn enrolment_before_birth_is_rejected() {
        let mut r = raw();
        r.enrolled_on = Some("1999-01-01".into());
        let errors = NewStudent::parse(&r, today()).expect_err("invalid");
        assert!(errors.message_for("enrolled_on").is_some());
    }

    #[test]
    fn patch_refuses_to_change_the_student_number() {
        let current = stored();
        let patch = RawStudentPatch {
            student_number: Some("S1999-000001".into()),
            ..Default::default()
        };
        let errors = StudentPatch::parse(&patch, 1, &current, today()).expect_err("refused");
        assert!(errors.message_for("student_number").is_some());
        let same = RawStudentPatch {
            student_number: Some(current.student_number.to_string()),
            ..Default::default()
        };
        assert!(StudentPatch::parse(&same, 1, &current, today())
            .expect("ok")
            .is_empty());
    }

    #[test]
    fn patch_clears_email_with_null_or_empty() {
        let current = stored();
        for email in [None, Some(String::new())] {
            let patch = RawStudentPatch {
                email: Some(email),
                ..Default::default()
            };
            let p = StudentPatch::parse(&patch, 1, &current, today()).expect("valid");
            assert_eq!(p.email, Some(None));
        }
    }

    #[test]
    fn patch_does_not_recheck_an_unchanged_date_of_birth() {
        let current = stored();
        let later = NaiveDate::from_ymd_opt(2110, 1, 1).expect("valid");
        let patch = RawStudentPatch {
            date_of_birth: Some("2000-12-10".into()),
            full_name: Some("Ada King".into()),
            ..Default::default()
        };
        let p = StudentPatch::parse(&patch, 1, &current, later).expect("valid");
        assert_eq!(p.date_of_birth, None);
    }
}
