//! The disaster-recovery vocabulary every crate shares: a site's name and
//! the role it plays.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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
}
