//! How to reach a student: a phone number, a postal address, and the
//! people to call in an emergency.

use crate::{collapse_spaces, FullName, ParseError};
use serde::Serialize;
use std::fmt;

/// A phone number as people write it: digits with spaces, hyphens,
/// periods or parentheses, an optional leading `+`; 7-15 digits (the
/// international maximum).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Fewest digits accepted.
    pub const MIN_DIGITS: usize = 7;
    /// Most digits accepted.
    pub const MAX_DIGITS: usize = 15;

    /// Parses a number, collapsing runs of spaces.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let text = collapse_spaces(raw);
        if text.is_empty() {
            return Err(ParseError::new("The phone number is empty."));
        }
        if let Some(bad) = text
            .chars()
            .enumerate()
            .find(|(i, c)| !(c.is_ascii_digit() || " -.()".contains(*c) || (*c == '+' && *i == 0)))
            .map(|(_, c)| c)
        {
            return Err(ParseError::new(format!(
                "A phone number holds digits, spaces, hyphens, periods, parentheses and a leading +; '{bad}' is not one of them."
            )));
        }
        let digits = text.chars().filter(char::is_ascii_digit).count();
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits) {
            return Err(ParseError::new(format!(
                "A phone number has {} to {} digits; this one has {digits}.",
                Self::MIN_DIGITS,
                Self::MAX_DIGITS
            )));
        }
        Ok(Self(text))
    }

    /// A number read back from storage.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its digits only: what search matches, however it was written.
    pub fn digits(&self) -> String {
        self.0.chars().filter(char::is_ascii_digit).collect()
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A postal address: up to 6 lines, 300 characters in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PostalAddress(String);

impl PostalAddress {
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 300;
    /// Most lines accepted.
    pub const MAX_LINES: usize = 6;

    /// Parses an address: trims each line and drops empty ones.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let lines: Vec<String> = raw
            .lines()
            .map(collapse_spaces)
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() {
            return Err(ParseError::new("The address is empty."));
        }
        if lines.len() > Self::MAX_LINES {
            return Err(ParseError::new(format!(
                "An address has at most {} lines; this one has {}.",
                Self::MAX_LINES,
                lines.len()
            )));
        }
        let text = lines.join("\n");
        let count = text.chars().count();
        if count > Self::MAX_CHARS {
            return Err(ParseError::new(format!(
                "An address holds at most {} characters; this one has {count}.",
                Self::MAX_CHARS
            )));
        }
        if let Some(bad) = text.chars().find(|c| c.is_control() && *c != '\n') {
            return Err(ParseError::new(format!(
                "The address contains the control character U+{:04X}; remove it.",
                bad as u32
            )));
        }
        Ok(Self(text))
    }

    /// An address read back from storage.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The address, lines separated by `\n`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PostalAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Someone to call in an emergency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EmergencyContact {
    /// Their name.
    #[schema(value_type = String, example = "Maria Núñez")]
    pub name: FullName,
    /// Who they are to the student, e.g. mother, guardian, partner.
    #[schema(example = "mother")]
    pub relationship: String,
    /// How to reach them.
    #[schema(value_type = String, example = "+34 600 123 456")]
    pub phone: Phone,
}

/// A student's emergency contacts, at most three, in order of who to
/// call first. Written as text (CSV, forms) as
/// `Name (relationship): phone; Name (relationship): phone`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EmergencyContacts(Vec<EmergencyContact>);

impl EmergencyContacts {
    /// Most contacts a student has.
    pub const MAX: usize = 3;
    /// Longest relationship accepted, in characters.
    pub const MAX_RELATIONSHIP: usize = 40;

    /// Parses the text form; empty text is no contacts.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let entries: Vec<&str> = raw
            .split([';', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.len() > Self::MAX {
            return Err(Self::too_many(entries.len()));
        }
        let contacts = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                Self::parse_one(e)
                    .map_err(|why| ParseError::new(format!("Contact {}: {why}", i + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(contacts))
    }

    /// One `Name (relationship): phone`.
    fn parse_one(entry: &str) -> Result<EmergencyContact, String> {
        let form = "write it as Name (relationship): phone";
        let (name, rest) = entry
            .split_once('(')
            .ok_or_else(|| format!("no relationship in brackets; {form}."))?;
        let (relationship, phone) = rest
            .split_once(')')
            .ok_or_else(|| format!("the bracket after the relationship is missing; {form}."))?;
        let phone = phone
            .trim_start()
            .strip_prefix(':')
            .ok_or_else(|| format!("no ':' before the phone number; {form}."))?;
        Self::contact(name, relationship, phone)
    }

    /// A contact from its three parts; the first problem found.
    pub fn contact(
        name: &str,
        relationship: &str,
        phone: &str,
    ) -> Result<EmergencyContact, String> {
        let name = FullName::parse(name).map_err(|e| format!("name: {e}"))?;
        let relationship = Self::relationship(relationship)?;
        let phone = Phone::parse(phone).map_err(|e| format!("phone: {e}"))?;
        Ok(EmergencyContact {
            name,
            relationship,
            phone,
        })
    }

    /// Every problem of a contact's three parts at once (name,
    /// relationship, phone; None where the part is fine), so a form can
    /// mark only the inputs at fault and name them all together.
    pub fn part_problems(name: &str, relationship: &str, phone: &str) -> [Option<String>; 3] {
        [
            FullName::parse(name).err().map(|e| e.0),
            Self::relationship(relationship).err(),
            Phone::parse(phone).err().map(|e| e.0),
        ]
    }

    fn relationship(raw: &str) -> Result<String, String> {
        let relationship = collapse_spaces(raw);
        if relationship.is_empty() {
            return Err("the relationship is empty (mother, guardian, partner…).".into());
        }
        if relationship.chars().count() > Self::MAX_RELATIONSHIP {
            return Err(format!(
                "the relationship holds at most {} characters.",
                Self::MAX_RELATIONSHIP
            ));
        }
        if relationship
            .chars()
            .any(|c| !(c.is_alphabetic() || c == ' ' || c == '-' || c == '\''))
        {
            return Err(
                "the relationship holds letters, spaces, hyphens and apostrophes only.".into(),
            );
        }
        Ok(relationship)
    }

    fn too_many(given: usize) -> ParseError {
        ParseError::new(format!(
            "A student has at most {} emergency contacts; {given} were given.",
            Self::MAX
        ))
    }

    /// The contacts as a list.
    pub fn from_list(contacts: Vec<EmergencyContact>) -> Result<Self, ParseError> {
        if contacts.len() > Self::MAX {
            return Err(Self::too_many(contacts.len()));
        }
        Ok(Self(contacts))
    }

    /// The contacts, first to call first.
    pub fn list(&self) -> &[EmergencyContact] {
        &self.0
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl EmergencyContacts {
    /// One contact in the text form [`EmergencyContacts::parse`] reads:
    /// `Name (relationship): phone`.
    pub fn entry(name: &str, relationship: &str, phone: &str) -> String {
        format!("{name} ({relationship}): {phone}")
    }

    /// Entries in the text form, first to call first.
    pub fn joined(entries: impl IntoIterator<Item = String>) -> String {
        entries.into_iter().collect::<Vec<_>>().join("; ")
    }
}

impl fmt::Display for EmergencyContacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Self::joined(self.0.iter().map(|c| {
            Self::entry(c.name.as_str(), &c.relationship, c.phone.as_str())
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_their_form_and_search_by_digits() {
        let p = Phone::parse(" +1 (555)  123-4567 ").expect("valid");
        assert_eq!(p.as_str(), "+1 (555) 123-4567");
        assert_eq!(p.digits(), "15551234567");
        assert!(Phone::parse("12345").is_err(), "too short");
        assert!(Phone::parse("1234567890123456").is_err(), "too long");
        let letters = Phone::parse("555-CALL-NOW").expect_err("letters");
        assert!(letters.to_string().contains("'C'"), "{letters}");
        assert!(Phone::parse("555+1234567").is_err(), "+ only leads");
    }

    #[test]
    fn addresses_keep_lines_within_bounds() {
        let a = PostalAddress::parse("  12 Rue de la Paix \n\n 75002  Paris ").expect("valid");
        assert_eq!(a.as_str(), "12 Rue de la Paix\n75002 Paris");
        assert!(PostalAddress::parse(" \n ").is_err());
        assert!(PostalAddress::parse(&"a\n".repeat(7)).is_err());
        assert!(PostalAddress::parse(&"a".repeat(301)).is_err());
    }

    #[test]
    fn emergency_contacts_round_trip_through_text() {
        let text = "Maria Núñez (mother): +34 600 123 456; John Smith (uncle): (555) 123-4567";
        let c = EmergencyContacts::parse(text).expect("valid");
        assert_eq!(c.list().len(), 2);
        assert_eq!(c.list()[1].phone.as_str(), "(555) 123-4567");
        assert_eq!(c.to_string(), text);
        assert_eq!(EmergencyContacts::parse(&c.to_string()).expect("again"), c);
        assert!(EmergencyContacts::parse("").expect("none").is_empty());
        let missing = EmergencyContacts::parse("Maria: 555 1234567").expect_err("no relationship");
        assert!(missing.to_string().starts_with("Contact 1:"), "{missing}");
        assert!(EmergencyContacts::parse(
            "A Bc (x): 5551234; B Cd (y): 5551234; C De (z): 5551234; D Ef (w): 5551234"
        )
        .is_err());
    }
}
