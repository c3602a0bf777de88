//! The disaster-recovery vocabulary every crate shares: a site's name and
//! the role it plays.

use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

/// A site's name: 1-40 ASCII letters, digits, `-` or `_`. It appears in
/// `X-Srs-Site`, log file names, alerts and on every page, so it is checked
/// once where it enters (topology file, flag, controller state).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteName(String);

impl SiteName {
    /// Parses a name (surrounding blanks are ignored).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let name = raw.trim();
        if name.is_empty() || name.len() > 40 {
            return Err(ParseError::new("a site name must be 1-40 characters"));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(ParseError::new(format!(
                "site name '{}' may contain only letters, digits, '-' and '_' (not '{}')",
                name.escape_default(),
                bad.escape_default()
            )));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SiteName {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SiteName> for String {
    fn from(name: SiteName) -> Self {
        name.0
    }
}

impl FromStr for SiteName {
    type Err = ParseError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl Deref for SiteName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SiteName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SiteName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for SiteName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SiteName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for SiteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // pad, not write_str: tables align names with width specifiers.
        f.pad(&self.0)
    }
}

/// The role a site plays: in the topology, in the controller's decisions,
/// in `srs status` and on every page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteRole {
    /// Serves reads and writes.
    Primary,
    /// Stand-by copy of the primary (the disaster-recovery site).
    #[serde(alias = "dr", alias = "standby")]
    Replica,
    /// A single site with no replication (what `srs serve` is unless told).
    #[default]
    Standalone,
}

impl SiteRole {
    /// The spelling used in flags, files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteRole::Primary => "primary",
            SiteRole::Replica => "replica",
            SiteRole::Standalone => "standalone",
        }
    }

    /// The form shown to people.
    pub fn label(self) -> &'static str {
        match self {
            SiteRole::Primary => "Primary",
            SiteRole::Replica => "Replica",
            SiteRole::Standalone => "Standalone",
        }
    }
}

impl FromStr for SiteRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "primary" => Ok(SiteRole::Primary),
            "replica" | "dr" | "standby" => Ok(SiteRole::Replica),
            "standalone" => Ok(SiteRole::Standalone),
            other => Err(format!(
                "'{other}' is not a site role: use primary, replica or standalone"
            )),
        }
    }
}

impl fmt::Display for SiteRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // pad, not write_str: tables align roles with width specifiers.
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_with_their_aliases_and_refuse_the_rest() {
        for (text, role) in [
            ("primary", SiteRole::Primary),
            ("DR", SiteRole::Replica),
            ("standby", SiteRole::Replica),
            ("standalone", SiteRole::Standalone),
        ] {
            assert_eq!(text.parse::<SiteRole>(), Ok(role), "{text}");
        }
        assert!("leader".parse::<SiteRole>().is_err());
    }

    #[test]
    fn site_names_are_short_plain_words() {
        assert_eq!(
            SiteName::parse(" dr-east_2 ").expect("valid").as_str(),
            "dr-east_2"
        );
        for bad in ["", "a b", "main/../x", "é", &"x".repeat(41)] {
            assert!(SiteName::parse(bad).is_err(), "{bad:?}");
        }
        let from_json: Result<SiteName, _> = serde_json::from_str("\"no spaces\"");
        assert!(from_json.is_err());
        let name: SiteName = serde_json::from_str("\"main\"").expect("valid");
        assert_eq!(serde_json::to_string(&name).expect("valid"), "\"main\"");
    }
}
