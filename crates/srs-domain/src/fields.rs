//! A student's fields, named once: the API's JSON keys, the CSV columns,
//! the form's inputs, the labels pages show and the help beside them all
//! come from here.

/// One field of a student record that a client can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StudentField {
    /// Given at creation or generated; never changes.
    StudentNumber,
    /// The name.
    FullName,
    /// Optional e-mail address.
    Email,
    /// Optional phone number.
    Phone,
    /// Optional postal address.
    Address,
    /// Up to three people to call.
    EmergencyContacts,
    /// The date of birth.
    DateOfBirth,
    /// The department's name.
    Department,
    /// Where the student stands.
    Status,
    /// The day the student enrolled.
    EnrolledOn,
}

/// How a field is typed in on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widget {
    /// One line of text.
    Text,
    /// An e-mail address.
    Email,
    /// A phone number.
    Tel,
    /// Several lines of text.
    Lines,
    /// A date.
    Date,
    /// One of the departments.
    Department,
    /// One of the statuses.
    Status,
    /// Rows of name, relationship and phone.
    Contacts,
}

impl StudentField {
    /// Every field, in the order forms, CSV files and the API list them.
    pub const ALL: [StudentField; 10] = [
        StudentField::StudentNumber,
        StudentField::FullName,
        StudentField::Email,
        StudentField::Phone,
        StudentField::Address,
        StudentField::EmergencyContacts,
        StudentField::DateOfBirth,
        StudentField::Department,
        StudentField::Status,
        StudentField::EnrolledOn,
    ];

    /// The name in JSON, CSV headers, forms and error reports.
    pub fn name(self) -> &'static str {
        match self {
            StudentField::StudentNumber => "student_number",
            StudentField::FullName => "full_name",
            StudentField::Email => "email",
            StudentField::Phone => "phone",
            StudentField::Address => "address",
            StudentField::EmergencyContacts => "emergency_contacts",
            StudentField::DateOfBirth => "date_of_birth",
            StudentField::Department => "department",
            StudentField::Status => "status",
            StudentField::EnrolledOn => "enrolled_on",
        }
    }

    /// The field a name names.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The label pages show.
    pub fn label(self) -> &'static str {
        match self {
            StudentField::StudentNumber => "Student number",
            StudentField::FullName => "Name",
            StudentField::Email => "Email",
            StudentField::Phone => "Phone",
            StudentField::Address => "Postal address",
            StudentField::EmergencyContacts => "Emergency contacts",
            StudentField::DateOfBirth => "Date of birth",
            StudentField::Department => "Department",
            StudentField::Status => "Status",
            StudentField::EnrolledOn => "Enrolled on",
        }
    }

    /// What a client may send, for the API's documentation and the forms.
    pub fn help(self) -> &'static str {
        match self {
            StudentField::StudentNumber => {
                "Optional when adding; assigned when absent (e.g. S2026-000123). Never changes."
            }
            StudentField::FullName => "2-100 letters of any script, spaces, apostrophes, hyphens, periods.",
            StudentField::Email => "Optional; unique among live students.",
            StudentField::Phone => "Optional; 7-15 digits, with spaces, hyphens, periods, parentheses and a leading +.",
            StudentField::Address => "Optional; up to 6 lines, 300 characters.",
            StudentField::EmergencyContacts => {
                "Optional; up to 3, each a name, a relationship and a phone number (in CSV: Name (relationship): phone; …)."
            }
            StudentField::DateOfBirth => "YYYY-MM-DD; the student must be 16 to 100 years old.",
            StudentField::Department => "The name of a department that is not retired.",
            StudentField::Status => "active (the default), on_leave, graduated or withdrawn.",
            StudentField::EnrolledOn => "YYYY-MM-DD; today when absent; not before the date of birth.",
        }
    }

    /// An example value, for the documentation and the CSV template.
    pub fn example(self) -> &'static str {
        match self {
            StudentField::StudentNumber => "",
            StudentField::FullName => "Ada Lovelace",
            StudentField::Email => "ada@example.edu",
            StudentField::Phone => "+44 20 7946 0958",
            StudentField::Address => "12 St James's Square, London SW1Y 4JH",
            StudentField::EmergencyContacts => "Anne Byron (mother): +44 20 7946 0000",
            StudentField::DateOfBirth => "2004-12-10",
            StudentField::Department => "Computer Science",
            StudentField::Status => "active",
            StudentField::EnrolledOn => "2026-09-01",
        }
    }

    /// Whether its value may span lines (an address's lines, one
    /// emergency contact a line); every other field is one line.
    pub fn keeps_lines(self) -> bool {
        matches!(
            self,
            StudentField::Address | StudentField::EmergencyContacts
        )
    }

    /// Whether a new student needs it.
    pub fn required(self) -> bool {
        matches!(
            self,
            StudentField::FullName | StudentField::DateOfBirth | StudentField::Department
        )
    }

    /// Whether an empty value clears it (the optional fields).
    pub fn clearable(self) -> bool {
        matches!(
            self,
            StudentField::Email
                | StudentField::Phone
                | StudentField::Address
                | StudentField::EmergencyContacts
        )
    }

    /// How pages let people type it.
    pub fn widget(self) -> Widget {
        match self {
            StudentField::Email => Widget::Email,
            StudentField::Phone => Widget::Tel,
            StudentField::Address => Widget::Lines,
            StudentField::EmergencyContacts => Widget::Contacts,
            StudentField::DateOfBirth | StudentField::EnrolledOn => Widget::Date,
            StudentField::Department => Widget::Department,
            StudentField::Status => Widget::Status,
            StudentField::StudentNumber | StudentField::FullName => Widget::Text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StudentField;

    #[test]
    fn every_field_has_a_distinct_name_that_names_it_back() {
        let mut names: Vec<&str> = StudentField::ALL.iter().map(|f| f.name()).collect();
        for f in StudentField::ALL {
            assert_eq!(StudentField::named(f.name()), Some(f));
            assert!(!f.label().is_empty() && !f.help().is_empty());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), StudentField::ALL.len());
        assert_eq!(StudentField::named("nickname"), None);
    }
}
