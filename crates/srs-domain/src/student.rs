use crate::{
    DateOfBirth, DepartmentName, Email, EmergencyContact, EmergencyContacts, EnrolledOn, FullName,
    Phone, PostalAddress, Status, StudentField, StudentId, StudentNumber, ValidationErrors,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// A phone number, when known.
    #[schema(value_type = Option<String>, example = "+34 600 123 456")]
    pub phone: Option<Phone>,
    /// A postal address (lines separated by newlines), when known.
    #[schema(value_type = Option<String>, example = "Calle Mayor 1\n28013 Madrid")]
    pub address: Option<PostalAddress>,
    /// Who to call in an emergency, first first (at most 3).
    #[schema(value_type = Vec<EmergencyContact>)]
    pub emergency_contacts: EmergencyContacts,
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
            phone: new.phone.clone(),
            address: new.address.clone(),
            emergency_contacts: new.emergency_contacts.clone(),
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

/// A student as a client typed it: the fields given, as text, none
/// checked yet. The API body, the page form and a CSV row all become one
/// of these. For a new student an absent field takes its default (or is
/// missing, when required); for a change an absent field stays as it is
/// and an empty one clears an optional field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawStudent(BTreeMap<StudentField, String>);

impl RawStudent {
    /// Forgets the value given for `field` (a form field left as loaded).
    pub fn remove(&mut self, field: StudentField) {
        self.0.remove(&field);
    }

    /// The value given for `field`, if any.
    pub fn get(&self, field: StudentField) -> Option<&str> {
        self.0.get(&field).map(String::as_str)
    }

    /// Gives `field` the value `value`.
    pub fn set(&mut self, field: StudentField, value: impl Into<String>) {
        self.0.insert(field, value.into());
    }

    /// This, with `field` given `value`.
    pub fn with(mut self, field: StudentField, value: impl Into<String>) -> Self {
        self.set(field, value);
        self
    }

    /// The fields given, in [`StudentField::ALL`] order.
    pub fn fields(&self) -> impl Iterator<Item = (StudentField, &str)> {
        self.0.iter().map(|(f, v)| (*f, v.as_str()))
    }

    /// A non-blank value of `field`.
    fn present(&self, field: StudentField) -> Option<&str> {
        self.get(field).filter(|s| !s.trim().is_empty())
    }
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
    /// The phone number, if any.
    pub phone: Option<Phone>,
    /// The postal address, if any.
    pub address: Option<PostalAddress>,
    /// Who to call in an emergency.
    pub emergency_contacts: EmergencyContacts,
    /// The date of birth.
    pub date_of_birth: DateOfBirth,
    /// The department, by name.
    pub department: DepartmentName,
    /// The status.
    pub status: Status,
    /// The enrolment date.
    pub enrolled_on: EnrolledOn,
}

fn check_enrolment_after_birth(
    errors: &mut ValidationErrors,
    born: Option<DateOfBirth>,
    enrolled: Option<EnrolledOn>,
) {
    if let (Some(born), Some(enrolled)) = (born, enrolled) {
        if enrolled.date() < born.date() {
            errors.push(
                StudentField::EnrolledOn.name(),
                "The enrolment date is before the date of birth.",
            );
        }
    }
}

/// Parses an optional field: blank is none.
fn optional<T>(
    errors: &mut ValidationErrors,
    raw: &RawStudent,
    field: StudentField,
    parse: impl FnOnce(&str) -> Result<T, crate::ParseError>,
) -> Option<Option<T>> {
    match raw.present(field) {
        Some(s) => errors.check(field.name(), parse(s)).map(Some),
        None => Some(None),
    }
}

impl NewStudent {
    /// Checks every field of `raw`, reporting all that are wrong; `today`
    /// is the day of entry the age rule is measured on.
    pub fn parse(raw: &RawStudent, today: NaiveDate) -> Result<Self, ValidationErrors> {
        use StudentField as F;
        let mut errors = ValidationErrors::default();
        let text = |f: F| raw.get(f).unwrap_or_default();
        let student_number = optional(&mut errors, raw, F::StudentNumber, StudentNumber::parse);
        let full_name = errors.check(F::FullName.name(), FullName::parse(text(F::FullName)));
        let email = optional(&mut errors, raw, F::Email, Email::parse);
        let phone = optional(&mut errors, raw, F::Phone, Phone::parse);
        let address = optional(&mut errors, raw, F::Address, PostalAddress::parse);
        let emergency_contacts = errors.check(
            F::EmergencyContacts.name(),
            EmergencyContacts::parse(text(F::EmergencyContacts)),
        );
        let date_of_birth = errors.check(
            F::DateOfBirth.name(),
            DateOfBirth::parse(text(F::DateOfBirth), today),
        );
        let department = errors.check(
            F::Department.name(),
            DepartmentName::parse(text(F::Department)),
        );
        let status = match raw.present(F::Status) {
            Some(s) => errors.check(F::Status.name(), Status::parse(s)),
            None => Some(Status::default()),
        };
        let enrolled_on = errors.check(
            F::EnrolledOn.name(),
            EnrolledOn::parse(text(F::EnrolledOn), today),
        );
        check_enrolment_after_birth(&mut errors, date_of_birth, enrolled_on);
        match (
            student_number,
            full_name,
            email,
            phone,
            address,
            emergency_contacts,
            (date_of_birth, department, status, enrolled_on),
        ) {
            (
                Some(student_number),
                Some(full_name),
                Some(email),
                Some(phone),
                Some(address),
                Some(emergency_contacts),
                (Some(date_of_birth), Some(department), Some(status), Some(enrolled_on)),
            ) if errors.is_empty() => Ok(Self {
                student_number,
                full_name,
                email,
                phone,
                address,
                emergency_contacts,
                date_of_birth,
                department,
                status,
                enrolled_on,
            }),
            _ => Err(errors),
        }
    }
}

/// A valid change to a stored student, made against `version`. `None`
/// leaves a field as it is; for an optional field, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudentPatch {
    /// The version the client last saw; a stale one is refused.
    pub version: i64,
    /// New name.
    pub full_name: Option<FullName>,
    /// New address; `Some(None)` clears it.
    pub email: Option<Option<Email>>,
    /// New phone number; `Some(None)` clears it.
    pub phone: Option<Option<Phone>>,
    /// New postal address; `Some(None)` clears it.
    pub address: Option<Option<PostalAddress>>,
    /// New emergency contacts (empty: none).
    pub emergency_contacts: Option<EmergencyContacts>,
    /// New date of birth.
    pub date_of_birth: Option<DateOfBirth>,
    /// New department, by name.
    pub department: Option<DepartmentName>,
    /// New status.
    pub status: Option<Status>,
    /// New enrolment date.
    pub enrolled_on: Option<EnrolledOn>,
}

/// Parses a change to an optional field: absent leaves it, blank clears it.
fn change_of<T>(
    errors: &mut ValidationErrors,
    raw: &RawStudent,
    field: StudentField,
    parse: impl FnOnce(&str) -> Result<T, crate::ParseError>,
) -> Option<Option<T>> {
    match raw.get(field) {
        None => None,
        Some(s) if s.trim().is_empty() => Some(None),
        Some(s) => errors.check(field.name(), parse(s)).map(Some),
    }
}

impl StudentPatch {
    /// Checks a change against the record it applies to; `today` is the
    /// day of entry for a changed date of birth.
    pub fn parse(
        raw: &RawStudent,
        version: i64,
        current: &Student,
        today: NaiveDate,
    ) -> Result<Self, ValidationErrors> {
        use StudentField as F;
        let mut errors = ValidationErrors::default();
        if let Some(number) = raw.get(F::StudentNumber) {
            let same = StudentNumber::parse(number)
                .map(|n| n == current.student_number)
                .unwrap_or(false);
            if !same {
                errors.push(
                    F::StudentNumber.name(),
                    "A student number cannot be changed.",
                );
            }
        }
        let full_name = raw
            .get(F::FullName)
            .and_then(|s| errors.check(F::FullName.name(), FullName::parse(s)));
        let email = change_of(&mut errors, raw, F::Email, Email::parse);
        let phone = change_of(&mut errors, raw, F::Phone, Phone::parse);
        let address = change_of(&mut errors, raw, F::Address, PostalAddress::parse);
        let emergency_contacts = raw
            .get(F::EmergencyContacts)
            .and_then(|s| errors.check(F::EmergencyContacts.name(), EmergencyContacts::parse(s)));
        let date_of_birth = match raw.get(F::DateOfBirth) {
            None => None,
            // An unchanged date of birth is not re-checked: the student has aged.
            Some(s) if s.trim() == current.date_of_birth.date().to_string() => None,
            Some(s) => errors.check(F::DateOfBirth.name(), DateOfBirth::parse(s, today)),
        };
        let department = raw
            .get(F::Department)
            .and_then(|s| errors.check(F::Department.name(), DepartmentName::parse(s)));
        let status = raw
            .get(F::Status)
            .and_then(|s| errors.check(F::Status.name(), Status::parse(s)));
        let enrolled_on = match raw.get(F::EnrolledOn) {
            None => None,
            Some(s) if s.trim().is_empty() => {
                errors.push(F::EnrolledOn.name(), "The enrolment date cannot be empty.");
                None
            }
            Some(s) => errors.check(F::EnrolledOn.name(), EnrolledOn::parse(s, today)),
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
            phone,
            address,
            emergency_contacts,
            date_of_birth,
            department,
            status,
            enrolled_on,
        })
    }

    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self
            == Self {
                version: self.version,
                ..Self::default()
            }
    }

    /// Whether the patch sets `field`.
    pub fn sets(&self, field: StudentField) -> bool {
        match field {
            StudentField::StudentNumber => false,
            StudentField::FullName => self.full_name.is_some(),
            StudentField::Email => self.email.is_some(),
            StudentField::Phone => self.phone.is_some(),
            StudentField::Address => self.address.is_some(),
            StudentField::EmergencyContacts => self.emergency_contacts.is_some(),
            StudentField::DateOfBirth => self.date_of_birth.is_some(),
            StudentField::Department => self.department.is_some(),
            StudentField::Status => self.status.is_some(),
            StudentField::EnrolledOn => self.enrolled_on.is_some(),
        }
    }

    /// The real clashes of an edit made from an older version with the
    /// changes others made since (`changed_by_others`): the fields this
    /// patch sets to a value other than the one now saved. A field only
    /// one side changed is no clash, nor is one both set alike.
    pub fn clashes(
        &self,
        current: &Student,
        changed_by_others: &std::collections::BTreeSet<StudentField>,
    ) -> Vec<StudentField> {
        let after = self.applied_to(current);
        StudentField::ALL
            .into_iter()
            .filter(|f| {
                self.sets(*f) && changed_by_others.contains(f) && after.text(*f) != current.text(*f)
            })
            .collect()
    }

    /// `current` with this change applied (version and times untouched).
    pub fn applied_to(&self, current: &Student) -> Student {
        Student {
            full_name: self
                .full_name
                .clone()
                .unwrap_or_else(|| current.full_name.clone()),
            email: self.email.clone().unwrap_or_else(|| current.email.clone()),
            phone: self.phone.clone().unwrap_or_else(|| current.phone.clone()),
            address: self
                .address
                .clone()
                .unwrap_or_else(|| current.address.clone()),
            emergency_contacts: self
                .emergency_contacts
                .clone()
                .unwrap_or_else(|| current.emergency_contacts.clone()),
            date_of_birth: self.date_of_birth.unwrap_or(current.date_of_birth),
            department: self
                .department
                .clone()
                .unwrap_or_else(|| current.department.clone()),
            status: self.status.unwrap_or(current.status),
            enrolled_on: self.enrolled_on.unwrap_or(current.enrolled_on),
            ..current.clone()
        }
    }
}

impl NewStudent {
    /// A field's value as text, as [`Student::text`] writes it (the number
    /// is empty until one is given or assigned). For error reports: it
    /// builds the record to ask it.
    pub fn text(&self, field: StudentField) -> String {
        match (field, &self.student_number) {
            (StudentField::StudentNumber, None) => String::new(),
            (StudentField::StudentNumber, Some(n)) => n.to_string(),
            _ => Student::created(
                self,
                StudentId::new(0),
                StudentNumber::generated(0, 0),
                self.department.clone(),
                DateTime::<Utc>::UNIX_EPOCH,
            )
            .text(field),
        }
    }
}

impl Student {
    /// A field's value as text, as forms and CSV files write it (empty when
    /// an optional field has none). Reading it back gives the same value.
    pub fn text(&self, field: StudentField) -> String {
        match field {
            StudentField::StudentNumber => self.student_number.to_string(),
            StudentField::FullName => self.full_name.to_string(),
            StudentField::Email => self
                .email
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            StudentField::Phone => self
                .phone
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            StudentField::Address => self
                .address
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            StudentField::EmergencyContacts => self.emergency_contacts.to_string(),
            StudentField::DateOfBirth => self.date_of_birth.date().to_string(),
            StudentField::Department => self.department.to_string(),
            StudentField::Status => self.status.as_str().to_owned(),
            StudentField::EnrolledOn => self.enrolled_on.date().to_string(),
        }
    }

    /// A field's value as people read it on pages and in exports: as
    /// [`Student::text`], but a status by its label ("On leave").
    pub fn shown(&self, field: StudentField) -> String {
        match field {
            StudentField::Status => self.status.label().to_owned(),
            _ => self.text(field),
        }
    }

    /// Every field as text, as a change that would leave it as it is.
    pub fn raw(&self) -> RawStudent {
        let mut raw = RawStudent::default();
        for f in StudentField::ALL {
            raw.set(f, self.text(f));
        }
        raw
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
        RawStudent::default()
            .with(StudentField::FullName, "Ada Lovelace")
            .with(StudentField::Email, "ada@example.edu")
            .with(StudentField::DateOfBirth, "2000-12-10")
            .with(StudentField::Department, "Computer Science")
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
        let bad = RawStudent::default()
            .with(StudentField::StudentNumber, "1")
            .with(StudentField::FullName, "<script>")
            .with(StudentField::Email, "nope")
            .with(StudentField::Phone, "call me")
            .with(StudentField::Address, "a\nb\nc\nd\ne\nf\ng")
            .with(StudentField::EmergencyContacts, "Mum: 555")
            .with(StudentField::DateOfBirth, "2020-01-01")
            .with(StudentField::Department, "")
            .with(StudentField::Status, "expelled")
            .with(StudentField::EnrolledOn, "yesterday");
        let errors = NewStudent::parse(&bad, today()).expect_err("invalid");
        for field in StudentField::ALL.map(StudentField::name) {
            assert!(
                errors.message_for(field).is_some(),
                "{field} should be reported: {errors}"
            );
        }
    }

    #[test]
    fn enrolment_before_birth_is_rejected() {
        let r = raw().with(StudentField::EnrolledOn, "1999-01-01");
        let errors = NewStudent::parse(&r, today()).expect_err("invalid");
        assert!(errors.message_for("enrolled_on").is_some());
    }

    #[test]
    fn patch_refuses_to_change_the_student_number() {
        let current = stored();
        let patch = RawStudent::default().with(StudentField::StudentNumber, "S1999-000001");
        let errors = StudentPatch::parse(&patch, 1, &current, today()).expect_err("refused");
        assert!(errors.message_for("student_number").is_some());
        let same = RawStudent::default().with(
            StudentField::StudentNumber,
            current.student_number.to_string(),
        );
        assert!(StudentPatch::parse(&same, 1, &current, today())
            .expect("ok")
            .is_empty());
    }

    #[test]
    fn patch_clears_optional_fields_with_empty_text() {
        let current = stored();
        for blank in ["", "  "] {
            let patch = RawStudent::default()
                .with(StudentField::Email, blank)
                .with(StudentField::Phone, blank)
                .with(StudentField::EmergencyContacts, blank);
            let p = StudentPatch::parse(&patch, 1, &current, today()).expect("valid");
            assert_eq!(p.email, Some(None));
            assert_eq!(p.phone, Some(None));
            assert_eq!(p.emergency_contacts, Some(EmergencyContacts::default()));
            assert_eq!(p.address, None, "absent stays as it is");
        }
    }

    #[test]
    fn a_student_written_as_text_reads_back_the_same() {
        let full = raw()
            .with(StudentField::Phone, "+1 (555) 123-4567")
            .with(StudentField::Address, "1 Main St\nSpringfield")
            .with(
                StudentField::EmergencyContacts,
                "Anne Byron (mother): 555 1234567",
            );
        let s = {
            let new = NewStudent::parse(&full, today()).expect("valid");
            Student::created(
                &new,
                StudentId::new(1),
                StudentNumber::generated(2026, 1),
                new.department.clone(),
                Utc::now(),
            )
        };
        let p = StudentPatch::parse(&s.raw(), s.version, &s, today()).expect("valid");
        assert_eq!(
            p.applied_to(&s),
            s,
            "every field reads back as it was written"
        );
    }

    #[test]
    fn patch_does_not_recheck_an_unchanged_date_of_birth() {
        let current = stored();
        let later = NaiveDate::from_ymd_opt(2110, 1, 1).expect("valid");
        let patch = RawStudent::default()
            .with(StudentField::DateOfBirth, "2000-12-10")
            .with(StudentField::FullName, "Ada King");
        let p = StudentPatch::parse(&patch, 1, &current, later).expect("valid");
        assert_eq!(p.date_of_birth, None);
    }
}
