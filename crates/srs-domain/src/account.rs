use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an account may do. Each role includes the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads records.
    Viewer,
    /// Reads and changes records, imports and exports.
    Registrar,
    /// Everything, plus departments, accounts, tokens and purging.
    Admin,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Registrar, Role::Admin];

    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Registrar => "registrar",
            Role::Admin => "admin",
        }
    }

    /// Parses the wire form.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ParseError::new("role must be viewer, registrar or admin"))
    }

    /// True when this role includes everything `needed` may do.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An account's login name: 3-64 characters of lower-case ASCII letters,
/// digits, `.`, `_` and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Parses a name, lower-casing it.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim().to_ascii_lowercase();
        if !(3..=64).contains(&s.len()) {
            return Err(ParseError::new("user name must be 3-64 characters"));
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(ParseError::new("user name must start with a letter"));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(*c)))
        {
            return Err(ParseError::new(format!(
                "user name may contain only letters, digits, '.', '_' and '-' (not '{}')",
                bad.escape_default()
            )));
        }
        Ok(Self(s))
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password: 12 to 1024 characters. Its text never appears in
/// `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    /// Fewest characters accepted.
    pub const MIN_CHARS: usize = 12;

    /// Checks the length rules.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let count = raw.chars().count();
        if count < Self::MIN_CHARS {
            return Err(ParseError::new(format!(
                "password must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if count > 1024 {
            return Err(ParseError::new("password must be at most 1024 characters"));
        }
        if raw.chars().any(char::is_control) {
            return Err(ParseError::new(
                "password may not contain control characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The text, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin.allows(Role::Registrar));
        assert!(Role::Registrar.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Registrar));
        assert!(!Role::Registrar.allows(Role::Admin));
        assert_eq!(Role::parse(" Admin "), Ok(Role::Admin));
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn user_names_are_checked_and_lower_cased() {
        assert_eq!(
            Username::parse("Ada.King-2").expect("valid").as_str(),
            "ada.king-2"
        );
        for bad in [
            "ab",
            "2ada",
            "ada king",
            "ada@x",
            "<script>",
            &"a".repeat(65),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_need_twelve_characters_and_never_print() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("eleven char").is_err());
        let p = NewPassword::parse("twelve chars").expect("valid");
        assert_eq!(format!("{p:?}"), "NewPassword(***)");
    }

    proptest! {
        #[test]
        fn any_password_of_twelve_printable_chars_is_accepted(s in "[!-~]{12,64}") {
            prop_assert!(NewPassword::parse(&s).is_ok());
        }
    }
}
