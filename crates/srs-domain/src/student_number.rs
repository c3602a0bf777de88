use crate::ParseError;
use serde::Serialize;
use std::fmt;

/// A human-facing student number such as `S2026-000123`: 3-32 characters of
/// ASCII letters, digits and hyphens, stored upper-case. Never changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StudentNumber(String);

impl StudentNumber {
    /// Parses a number given by a client, upper-casing it.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim().to_ascii_uppercase();
        if s.len() < 3 || s.len() > 32 {
            return Err(ParseError::new("student number must be 3-32 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ParseError::new(
                "student number may contain only letters, digits and hyphens",
            ));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(ParseError::new("student number must start with a letter"));
        }
        Ok(Self(s))
    }

    /// The number the server assigns: `S<year>-<sequence, six digits or more>`.
    pub fn generated(year: i32, sequence: u64) -> Self {
        Self(format!("S{year:04}-{sequence:06}"))
    }

    /// The number as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StudentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_numbers_have_the_documented_shape() {
        assert_eq!(StudentNumber::generated(2026, 123).as_str(), "S2026-000123");
        assert_eq!(
            StudentNumber::generated(2026, 1_234_567).as_str(),
            "S2026-1234567"
        );
    }

    #[test]
    fn given_numbers_are_upper_cased_and_checked() {
        assert_eq!(
            StudentNumber::parse(" s2026-000001 ")
                .expect("valid")
                .as_str(),
            "S2026-000001"
        );
        for bad in [
            "",
            "S1",
            "2026-0001",
            "S2026 0001",
            "S'; DROP",
            &"S".repeat(33),
        ] {
            assert!(
                StudentNumber::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    proptest! {
        #[test]
        fn generated_numbers_parse_back(year in 1900i32..3000, seq in 0u64..100_000_000) {
            let n = StudentNumber::generated(year, seq);
            prop_assert_eq!(StudentNumber::parse(n.as_str()).expect("valid"), n);
        }
    }
}
