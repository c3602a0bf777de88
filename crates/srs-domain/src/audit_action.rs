//! What an audit entry records: one type for the store that writes the
//! trail, the audit page that filters it and the history that words it.

use std::fmt;

/// An audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A student added (by hand or the API).
    StudentCreate,
    /// A student added by a CSV import.
    StudentImport,
    /// A student changed (one record, or one of a bulk change).
    StudentUpdate,
    /// A note added to a student.
    StudentNote,
    /// A student deleted (softly: restorable).
    StudentDelete,
    /// A deleted student restored.
    StudentRestore,
    /// A deleted student removed for good.
    StudentPurge,
    /// A department added.
    DepartmentCreate,
    /// A department renamed, retired or reinstated.
    DepartmentUpdate,
    /// An unused department deleted.
    DepartmentDelete,
    /// An account added.
    UserCreate,
    /// An account's role changed.
    UserUpdate,
    /// An account disabled.
    UserDisable,
    /// An account enabled again.
    UserEnable,
    /// An account's password reset.
    UserResetPassword,
    /// An account unlocked after too many failed sign-ins.
    UserUnlock,
    /// An API token issued.
    TokenCreate,
    /// An API token revoked.
    TokenRevoke,
}

impl AuditAction {
    /// Every action, in the order the audit page offers them.
    pub const ALL: [AuditAction; 18] = [
        AuditAction::StudentCreate,
        AuditAction::StudentImport,
        AuditAction::StudentUpdate,
        AuditAction::StudentNote,
        AuditAction::StudentDelete,
        AuditAction::StudentRestore,
        AuditAction::StudentPurge,
        AuditAction::DepartmentCreate,
        AuditAction::DepartmentUpdate,
        AuditAction::DepartmentDelete,
        AuditAction::UserCreate,
        AuditAction::UserUpdate,
        AuditAction::UserDisable,
        AuditAction::UserEnable,
        AuditAction::UserResetPassword,
        AuditAction::UserUnlock,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
    ];

    /// The name stored in the trail and used by the API, e.g. `student.update`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::StudentCreate => "student.create",
            AuditAction::StudentImport => "student.import",
            AuditAction::StudentUpdate => "student.update",
            AuditAction::StudentNote => "student.note",
            AuditAction::StudentDelete => "student.delete",
            AuditAction::StudentRestore => "student.restore",
            AuditAction::StudentPurge => "student.purge",
            AuditAction::DepartmentCreate => "department.create",
            AuditAction::DepartmentUpdate => "department.update",
            AuditAction::DepartmentDelete => "department.delete",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserUpdate => "user.update",
            AuditAction::UserDisable => "user.disable",
            AuditAction::UserEnable => "user.enable",
            AuditAction::UserResetPassword => "user.reset_password",
            AuditAction::UserUnlock => "user.unlock",
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
        }
    }

    /// The action stored as `name`, if it is one.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The kind of record it acts on: student, department, user, token.
    pub fn entity(self) -> &'static str {
        self.as_str()
            .split_once('.')
            .map_or("", |(entity, _)| entity)
    }

    /// What happened, as pages say it ("Student changed").
    pub fn label(self) -> &'static str {
        match self {
            AuditAction::StudentCreate => "Student added",
            AuditAction::StudentImport => "Student imported",
            AuditAction::StudentUpdate => "Student changed",
            AuditAction::StudentNote => "Note added",
            AuditAction::StudentDelete => "Student deleted",
            AuditAction::StudentRestore => "Student restored",
            AuditAction::StudentPurge => "Student purged for good",
            AuditAction::DepartmentCreate => "Department added",
            AuditAction::DepartmentUpdate => "Department changed",
            AuditAction::DepartmentDelete => "Department deleted",
            AuditAction::UserCreate => "Account added",
            AuditAction::UserUpdate => "Account changed",
            AuditAction::UserDisable => "Account disabled",
            AuditAction::UserEnable => "Account enabled",
            AuditAction::UserResetPassword => "Account password reset",
            AuditAction::UserUnlock => "Account unlocked",
            AuditAction::TokenCreate => "API token added",
            AuditAction::TokenRevoke => "API token revoked",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_name_and_has_words() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::named(a.as_str()), Some(a));
            assert!(!a.label().is_empty() && !a.entity().is_empty(), "{a}");
        }
        assert_eq!(AuditAction::named("student.explode"), None);
        assert_eq!(AuditAction::UserUnlock.entity(), "user");
    }
}
