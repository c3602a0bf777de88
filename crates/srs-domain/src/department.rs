use crate::{DepartmentId, ParseError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;

/// A department's name: 2-80 characters of letters, digits, spaces and
/// `& ' - . , ( ) /`, unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct DepartmentName(String);

impl DepartmentName {
    /// Parses a name, trimming it and collapsing runs of spaces.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = crate::collapse_spaces(raw);
        let count = s.chars().count();
        if count == 0 {
            return Err(ParseError::new("department is required"));
        }
        if !(2..=80).contains(&count) {
            return Err(ParseError::new("department name must be 2-80 characters"));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_alphanumeric() || " &'-.,()/".contains(*c)))
        {
            return Err(ParseError::new(format!(
                "department name may not contain '{}'",
                bad.escape_default()
            )));
        }
        if !s.chars().any(char::is_alphabetic) {
            return Err(ParseError::new("department name must contain a letter"));
        }
        Ok(Self(s))
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key names are compared by for uniqueness: case-insensitive.
    pub fn unique_key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for DepartmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A department students belong to. Retired ones keep their students but
/// take no new ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Department {
    /// Server-assigned id.
    #[schema(value_type = i64)]
    pub id: DepartmentId,
    /// Unique name.
    #[schema(value_type = String)]
    pub name: DepartmentName,
    /// True once retired: kept for its students, not offered for new ones.
    pub retired: bool,
    /// How many records (live or deleted) name this department.
    pub student_count: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_department_names() {
        for ok in [
            "Computer Science",
            "Arts & Humanities",
            "Business (MBA)",
            "Médecine",
        ] {
            assert!(DepartmentName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_empty_short_and_markup() {
        for bad in ["", " ", "X", "<b>Arts</b>", "Arts; DROP TABLE", "123"] {
            assert!(DepartmentName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn compares_case_insensitively() {
        let a = DepartmentName::parse("computer  science").expect("valid");
        let b = DepartmentName::parse("Computer Science").expect("valid");
        assert_eq!(a.unique_key(), b.unique_key());
        assert_eq!(a.as_str(), "computer science");
    }
}
