//! A student as the `students` table stores it: the columns a create and
//! an update write, in one order, and the insert that gives a new record
//! its number.

use crate::constraints::UniqueKey;
use crate::rows::{name_key, phone_digits, search_text};
use crate::students::{contacts_column, PENDING_NUMBER_PREFIX};
use crate::write_tx::{Arg, WriteTx};
use crate::{StoreError, StoreResult};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use srs_domain::{
    fold_for_search, DepartmentId, Email, NewStudent, Phone, PostalAddress, Student, StudentNumber,
};
use std::sync::LazyLock;

/// The columns a create and an update write, in the order of
/// [`StudentValues::args`]. The student number, the times and the version
/// are written by each statement itself.
pub(crate) const VALUE_COLUMNS: [&str; 12] = [
    "full_name",
    "name_key",
    "email",
    "live_email_key",
    "phone",
    "address",
    "emergency_contacts",
    "date_of_birth",
    "department_id",
    "status",
    "enrolled_on",
    "search_text",
];

/// Inserts a new record: its number, its values, its times.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO students (student_number, {}, created_at, updated_at, deleted_at, version) \
         VALUES (?, {}, ?, ?, NULL, 1)",
        VALUE_COLUMNS.join(", "),
        vec!["?"; VALUE_COLUMNS.len()].join(", ")
    )
});

/// Writes the values over a live record at the version the writer read.
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = VALUE_COLUMNS.iter().map(|c| format!("{c} = ?")).collect();
    format!(
        "UPDATE students SET {}, updated_at = ?, version = version + 1 \
         WHERE id = ? AND version = ? AND deleted_at IS NULL",
        sets.join(", ")
    )
});

/// A row about to be written, with the keys derived from its values.
pub(crate) struct StudentValues<'a> {
    pub full_name: &'a str,
    pub name_key: String,
    pub email: Option<&'a str>,
    pub live_email_key: Option<String>,
    pub phone: Option<&'a str>,
    pub address: Option<&'a str>,
    /// The emergency contacts' text form; `None` when there are none.
    pub emergency_contacts: Option<String>,
    pub date_of_birth: NaiveDate,
    pub department_id: i64,
    pub status: &'static str,
    pub enrolled_on: NaiveDate,
    /// The folded search text; a new student's lacks the number, which
    /// the insert adds once it is known.
    pub search_text: String,
}

impl<'a> StudentValues<'a> {
    /// The values of a new student.
    pub(crate) fn of_new(new: &'a NewStudent, department: DepartmentId) -> Self {
        Self {
            full_name: new.full_name.as_str(),
            name_key: name_key(&new.full_name),
            email: new.email.as_ref().map(Email::as_str),
            live_email_key: new.email.as_ref().map(Email::unique_key),
            phone: new.phone.as_ref().map(Phone::as_str),
            address: new.address.as_ref().map(PostalAddress::as_str),
            emergency_contacts: contacts_column(&new.emergency_contacts),
            date_of_birth: new.date_of_birth.date(),
            department_id: department.get(),
            status: new.status.as_str(),
            enrolled_on: new.enrolled_on.date(),
            search_text: search_text(
                &new.full_name,
                None,
                new.email.as_ref(),
                &phone_digits(new.phone.as_ref(), &new.emergency_contacts),
            ),
        }
    }

    /// The values of a stored record as it is to become.
    pub(crate) fn of_student(after: &'a Student, department: DepartmentId) -> Self {
        Self {
            full_name: after.full_name.as_str(),
            name_key: name_key(&after.full_name),
            email: after.email.as_ref().map(Email::as_str),
            live_email_key: after.email.as_ref().map(Email::unique_key),
            phone: after.phone.as_ref().map(Phone::as_str),
            address: after.address.as_ref().map(PostalAddress::as_str),
            emergency_contacts: contacts_column(&after.emergency_contacts),
            date_of_birth: after.date_of_birth.date(),
            department_id: department.get(),
            status: after.status.as_str(),
            enrolled_on: after.enrolled_on.date(),
            search_text: search_text(
                &after.full_name,
                Some(&after.student_number),
                after.email.as_ref(),
                &phone_digits(after.phone.as_ref(), &after.emergency_contacts),
            ),
        }
    }

    /// The values in [`VALUE_COLUMNS`] order, with `search` as the search
    /// text.
    fn args<'b>(&'b self, search: &'b str) -> [Arg<'b>; 12] {
        [
            self.full_name.into(),
            self.name_key.as_str().into(),
            self.email.into(),
            self.live_email_key.as_deref().into(),
            self.phone.into(),
            self.address.into(),
            self.emergency_contacts.as_deref().into(),
            self.date_of_birth.into(),
            self.department_id.into(),
            self.status.into(),
            self.enrolled_on.into(),
            search.into(),
        ]
    }
}

/// Inserts one student inside `tx` and gives it its number: `given`, or
/// one generated from the row id (so concurrent creates never wait on a
/// shared counter). Returns the id and the number.
pub(crate) async fn insert_student(
    tx: &mut WriteTx<'_>,
    values: &StudentValues<'_>,
    given: Option<&StudentNumber>,
    now: DateTime<Utc>,
) -> StoreResult<(i64, String)> {
    let (number, first_search) = match given {
        Some(n) => (
            n.as_str().to_owned(),
            fold_for_search(&format!("{} {}", values.search_text, n.as_str())),
        ),
        None => (
            format!(
                "{PENDING_NUMBER_PREFIX}{}",
                &uuid::Uuid::new_v4().simple().to_string()[..20]
            ),
            values.search_text.clone(),
        ),
    };
    let mut args = vec![Arg::from(number.as_str())];
    args.extend(values.args(&first_search));
    args.extend([Arg::from(now), Arg::from(now)]);
    let id = match tx.execute(&INSERT, &args).await {
        Ok(done) => done.inserted_id,
        Err(e) => {
            return Err(match (UniqueKey::violated_by(&e), given) {
                (Some(key @ UniqueKey::LiveEmail), _) => key.taken(""),
                (Some(key @ UniqueKey::StudentNumber), Some(n)) => key.taken(n.as_str()),
                _ => StoreError::from(e),
            })
        }
    };
    match given {
        Some(_) => Ok((id, number)),
        None => Ok((id, assign_number(tx, values, id, now).await?)),
    }
}

/// Gives a new record the number generated from its id; adds a suffix
/// when someone gave that number by hand earlier.
async fn assign_number(
    tx: &mut WriteTx<'_>,
    values: &StudentValues<'_>,
    id: i64,
    now: DateTime<Utc>,
) -> StoreResult<String> {
    let generated = StudentNumber::generated(now.year(), u64::try_from(id).unwrap_or_default());
    for attempt in 0..10u32 {
        let candidate = if attempt == 0 {
            generated.clone()
        } else {
            StudentNumber::parse(&format!("{generated}-{attempt}"))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
        };
        let search = fold_for_search(&format!("{} {}", values.search_text, candidate.as_str()));
        let updated = tx
            .execute(
                "UPDATE students SET student_number = ?, search_text = ? WHERE id = ?",
                &[candidate.as_str().into(), search.as_str().into(), id.into()],
            )
            .await;
        match updated {
            Ok(_) => return Ok(candidate.as_str().to_owned()),
            Err(e) if UniqueKey::violated_by(&e) == Some(UniqueKey::StudentNumber) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict(format!(
        "student numbers {generated} to {generated}-9 are all taken by hand"
    )))
}

/// Writes `values` over live record `id` if it is still at `version`;
/// returns how many rows changed (0: changed or deleted meanwhile).
pub(crate) async fn update_student(
    tx: &mut WriteTx<'_>,
    values: &StudentValues<'_>,
    id: i64,
    version: i64,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let mut args = values.args(&values.search_text).to_vec();
    args.extend([Arg::from(now), Arg::from(id), Arg::from(version)]);
    Ok(tx.execute(&UPDATE, &args).await?.rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::STUDENT_COLUMNS;
    use srs_domain::StudentField;

    /// The column a field is stored in.
    fn column(field: StudentField) -> &'static str {
        match field {
            StudentField::Department => "department_id",
            other => other.name(),
        }
    }

    #[test]
    fn every_field_is_written_and_read_and_every_written_column_is_a_field_or_derived() {
        let derived = ["name_key", "live_email_key", "search_text"];
        for field in StudentField::ALL {
            if field != StudentField::StudentNumber {
                assert!(
                    VALUE_COLUMNS.contains(&column(field)),
                    "{field:?} is not written by a create or an update"
                );
            }
            assert!(
                STUDENT_COLUMNS.contains(&format!("s.{}", column(field)))
                    || (field == StudentField::Department
                        && STUDENT_COLUMNS.contains("AS department")),
                "{field:?} is not read back"
            );
        }
        for written in VALUE_COLUMNS {
            let is_field = StudentField::ALL.into_iter().any(|f| column(f) == written);
            assert!(
                is_field || derived.contains(&written),
                "{written} is written but is neither a field nor derived from them"
            );
        }
    }

    #[test]
    fn the_statements_bind_one_value_per_placeholder() {
        let placeholders = |sql: &str| sql.matches('?').count();
        // Number, values, created_at, updated_at.
        assert_eq!(placeholders(&INSERT), 1 + VALUE_COLUMNS.len() + 2);
        // Values, updated_at, id, version.
        assert_eq!(placeholders(&UPDATE), VALUE_COLUMNS.len() + 3);
    }
}
