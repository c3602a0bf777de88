//! The schema's unique keys, and what a violation of each means to a user.
//! Every place that turns a duplicate-key error into a field error goes
//! through here; no other code matches key names in error messages.

use crate::StoreError;
use srs_domain::ValidationErrors;

/// A unique key the application relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniqueKey {
    /// `students.student_number`.
    StudentNumber,
    /// `students.live_email_key`: e-mails are unique among live students.
    LiveEmail,
    /// `users.username`.
    Username,
    /// `departments.name_key`.
    DepartmentName,
    /// `idempotency_keys.idem_key` (the primary key).
    IdempotencyKey,
}

impl UniqueKey {
    const ALL: [UniqueKey; 5] = [
        UniqueKey::StudentNumber,
        UniqueKey::LiveEmail,
        UniqueKey::Username,
        UniqueKey::DepartmentName,
        UniqueKey::IdempotencyKey,
    ];

    /// The table, the key's name on MariaDB, its column on SQLite.
    fn location(self) -> (&'static str, &'static str, &'static str) {
        match self {
            UniqueKey::StudentNumber => ("students", "student_number", "student_number"),
            UniqueKey::LiveEmail => ("students", "live_email_key", "live_email_key"),
            UniqueKey::Username => ("users", "username", "username"),
            UniqueKey::DepartmentName => ("departments", "name_key", "name_key"),
            UniqueKey::IdempotencyKey => ("idempotency_keys", "PRIMARY", "idem_key"),
        }
    }

    /// Whether a duplicate-key `message` is about this key. SQLite says
    /// "UNIQUE constraint failed: students.live_email_key"; MariaDB ends
    /// "for key 'live_email_key'" (MySQL 8: 'students.live_email_key'). Only
    /// the end of MariaDB's message is read: the duplicated value, quoted
    /// before it, may hold any text.
    fn named_in(self, message: &str) -> bool {
        let (table, key, column) = self.location();
        message.contains(&format!("failed: {table}.{column}"))
            || message.ends_with(&format!("for key '{key}'"))
            || message.ends_with(&format!("for key '{table}.{key}'"))
    }

    /// The key `e` violates, when it is a duplicate on one of these keys.
    pub(crate) fn violated_by(e: &sqlx::Error) -> Option<UniqueKey> {
        match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let message = db.message();
                Self::ALL.into_iter().find(|k| k.named_in(message))
            }
            _ => None,
        }
    }

    /// The field error a user sees when `value` is already taken.
    pub(crate) fn taken(self, value: &str) -> StoreError {
        let (field, message) = match self {
            UniqueKey::StudentNumber => (
                "student_number",
                format!("student number {value} is already in use"),
            ),
            UniqueKey::LiveEmail => (
                "email",
                "this email is already used by another student".to_owned(),
            ),
            UniqueKey::Username => (
                "username",
                format!("an account named '{value}' already exists"),
            ),
            UniqueKey::DepartmentName => (
                "name",
                format!("a department named '{value}' already exists"),
            ),
            UniqueKey::IdempotencyKey => {
                return StoreError::Conflict(
                    "this Idempotency-Key is being used by another request".into(),
                )
            }
        };
        ValidationErrors::single(field, message).into()
    }
}

#[cfg(test)]
mod tests {
    use super::UniqueKey;

    #[test]
    fn each_engine_names_its_keys_and_a_value_cannot_pretend_to() {
        assert!(UniqueKey::LiveEmail.named_in("UNIQUE constraint failed: students.live_email_key"));
        assert!(UniqueKey::LiveEmail.named_in("Duplicate entry 'a@b.c' for key 'live_email_key'"));
        assert!(UniqueKey::LiveEmail
            .named_in("Duplicate entry 'a@b.c' for key 'students.live_email_key'"));
        assert!(UniqueKey::IdempotencyKey.named_in("Duplicate entry 'k' for key 'PRIMARY'"));
        assert!(UniqueKey::IdempotencyKey
            .named_in("UNIQUE constraint failed: idempotency_keys.idem_key"));
        // A department whose name contains another key's name.
        let message = "Duplicate entry 'username' for key 'name_key'";
        assert!(UniqueKey::DepartmentName.named_in(message));
        assert!(!UniqueKey::Username.named_in(message));
        assert!(!UniqueKey::StudentNumber.named_in("UNIQUE constraint failed: users.username"));
    }
}
