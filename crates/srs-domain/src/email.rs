use crate::ParseError;
use serde::Serialize;
use std::fmt;

/// An e-mail address in the practical subset registrars meet: `local@domain`
/// with an ASCII local part and a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";

impl Email {
    /// Longest address accepted (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Parses an address, trimming surrounding whitespace and lowercasing the domain.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ParseError::new("email is empty"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(ParseError::new(format!(
                "email must be at most {} characters",
                Self::MAX_LEN
            )));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(ParseError::new("email must contain an @"));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(ParseError::new(
                "email's part before @ must be 1-64 characters",
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(ParseError::new(
                "email's part before @ has a misplaced period",
            ));
        }
        if let Some(bad) = local
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(*c)))
        {
            return Err(ParseError::new(format!(
                "email may not contain '{}' before the @",
                bad.escape_default()
            )));
        }
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(ParseError::new(
                "email's domain must contain a period, e.g. example.edu",
            ));
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(ParseError::new(format!(
                    "email's domain '{}' is not a valid host name",
                    domain.escape_default()
                )));
            }
        }
        let tld = labels[labels.len() - 1];
        if tld.len() < 2 || tld.chars().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::new(
                "email's domain must end in a top-level domain such as .edu",
            ));
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    /// The address as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key two addresses are compared by for uniqueness: case-insensitive.
    pub fn unique_key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_common_addresses() {
        for ok in [
            "ada@example.edu",
            "first.last+tag@mail.uni-x.ac.uk",
            "o'brien@example.org",
            "  padded@example.com ",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        for (bad, why) in [
            ("", "empty"),
            ("no-at.example.com", "no @"),
            ("@example.com", "empty local part"),
            ("a@", "empty domain"),
            ("a@localhost", "no dot in domain"),
            ("a..b@example.com", "double dot"),
            ("a@exa_mple.com", "underscore in domain"),
            ("a b@example.com", "space"),
            ("<script>@x.com", "markup"),
            ("a@example.c", "one-letter TLD"),
            ("a@1.2.3.4", "numeric TLD"),
            ("a@-x.com", "label starts with hyphen"),
        ] {
            assert!(
                Email::parse(bad).is_err(),
                "{bad:?} ({why}) should be rejected"
            );
        }
    }

    #[test]
    fn lowercases_the_domain_and_keys_case_insensitively() {
        let email = Email::parse("Ada@Example.EDU").expect("valid");
        assert_eq!(email.as_str(), "Ada@example.edu");
        assert_eq!(email.unique_key(), "ada@example.edu");
    }

    proptest! {
        #[test]
        fn simple_addresses_parse(local in "[a-z0-9]{1,20}", host in "[a-z]{1,20}", tld in "[a-z]{2,6}") {
            let s = format!("{local}@{host}.{tld}");
            let email = Email::parse(&s).expect("valid");
            prop_assert_eq!(email.as_str(), s.as_str());
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let _ = Email::parse(&s);
        }
    }
}
