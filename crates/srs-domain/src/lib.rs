//! srs domain: the student record's types and the rules that make them valid.
//!
//! Every value type here has a private field and is built only through a
//! fallible `parse`, so a value that exists is valid. No I/O lives here.

mod account;
mod audit_action;
mod contact;
mod dates;
mod department;
mod email;
mod error;
mod fields;
mod fold;
mod ids;
mod name;
mod note;
mod site;
mod status;
mod student;
mod student_number;

pub use account::{NewPassword, Role, Username};
pub use audit_action::AuditAction;
pub use contact::{EmergencyContact, EmergencyContacts, Phone, PostalAddress};
pub use dates::{age_on, DateOfBirth, EnrolledOn, MAX_AGE, MIN_AGE};
pub use department::{Department, DepartmentName};
pub use email::Email;
pub use error::{FieldError, ParseError, ValidationErrors};
pub use fields::{StudentField, Widget};
pub use fold::{fold, fold_for_search, search_matches, search_words};
pub use ids::{DepartmentId, StudentId, TokenId, UserId};
pub use name::FullName;
pub use note::NoteText;
pub use site::{SiteName, SiteRole};
pub use status::Status;
pub use student::{NewStudent, RawStudent, Student, StudentPatch};
pub use student_number::StudentNumber;

/// `text` with every run of white space (line breaks included) made one
/// space, and none at either end.
pub(crate) fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
