use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a student stands with the institution.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Studying now; the default.
    #[default]
    Active,
    /// Temporarily away.
    OnLeave,
    /// Finished.
    Graduated,
    /// Left without finishing.
    Withdrawn,
}

impl Status {
    /// Every status, in the order pages list them.
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::OnLeave,
        Status::Graduated,
        Status::Withdrawn,
    ];

    /// The stored and wire form, e.g. `on_leave`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::OnLeave => "on_leave",
            Status::Graduated => "graduated",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// The form shown to people, e.g. `On leave`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::OnLeave => "On leave",
            Status::Graduated => "Graduated",
            Status::Withdrawn => "Withdrawn",
        }
    }

    /// Parses the wire form or the label as the pages show it ("On leave"),
    /// accepting any case and surrounding spaces.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim().to_ascii_lowercase();
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s || st.label().to_ascii_lowercase() == s)
            .ok_or_else(|| {
                ParseError::new(format!(
                    "status must be one of active, on_leave, graduated, withdrawn (got '{}')",
                    raw.trim().escape_default()
                ))
            })
    }
}

impl FromStr for Status {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_status() {
        for st in Status::ALL {
            assert_eq!(Status::parse(st.as_str()), Ok(st));
        }
        assert_eq!(Status::parse(" ON_LEAVE "), Ok(Status::OnLeave));
        assert!(Status::parse("expelled").is_err());
    }
}
