use crate::ParseError;
use serde::Serialize;
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// A student's full name: 2-100 characters of letters (any script), spaces,
/// apostrophes, hyphens and periods, with at least one letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FullName(String);

/// Characters allowed besides letters and combining marks.
const PUNCTUATION: &[char] = &[' ', '\'', '\u{2019}', '-', '\u{2010}', '.'];

impl FullName {
    /// Shortest name accepted, in characters after trimming.
    pub const MIN_CHARS: usize = 2;
    /// Longest name accepted, in characters after trimming.
    pub const MAX_CHARS: usize = 100;

    /// Parses a name, normalising it to NFC and collapsing runs of spaces.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let composed: String = raw.nfc().collect();
        let collapsed = crate::collapse_spaces(&composed);
        let count = collapsed.chars().count();
        if count == 0 {
            return Err(ParseError::new("full name is required"));
        }
        if count < Self::MIN_CHARS {
            return Err(ParseError::new(format!(
                "full name must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if count > Self::MAX_CHARS {
            return Err(ParseError::new(format!(
                "full name must be at most {} characters (got {count})",
                Self::MAX_CHARS
            )));
        }
        if let Some(bad) = collapsed
            .chars()
            .find(|c| !(c.is_alphabetic() || is_combining_mark(*c) || PUNCTUATION.contains(c)))
        {
            let shown = if bad.is_control() {
                format!("U+{:04X}", bad as u32)
            } else {
                format!("'{bad}'")
            };
            return Err(ParseError::new(format!(
                "full name may contain only letters, spaces, apostrophes, hyphens and periods; {shown} is not allowed"
            )));
        }
        if !collapsed.chars().any(char::is_alphabetic) {
            return Err(ParseError::new("full name must contain a letter"));
        }
        Ok(Self(collapsed))
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Combining marks survive NFC when no precomposed form exists (e.g. in
/// Devanagari or Vietnamese), and they belong to the letter before them.
fn is_combining_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x05BF | 0x05C1..=0x05C2
        | 0x05C4..=0x05C5 | 0x05C7 | 0x0610..=0x061A | 0x064B..=0x065F | 0x0670
        | 0x06D6..=0x06DC | 0x06DF..=0x06E4 | 0x06E7..=0x06E8 | 0x06EA..=0x06ED
        | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957 | 0x0962..=0x0963
        | 0x0981..=0x0983 | 0x09BC..=0x09D7 | 0x0A01..=0x0A51 | 0x0B01..=0x0B57
        | 0x0BBE..=0x0BCD | 0x0C00..=0x0C56 | 0x0D00..=0x0D57 | 0x0E31 | 0x0E34..=0x0E3A
        | 0x0E47..=0x0E4E | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF
        | 0x3099..=0x309A | 0xFE20..=0xFE2F)
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_names_from_many_scripts() {
        for name in [
            "José Núñez-O'Brien",
            "Zoë St. John",
            "Иван Петров",
            "李小龙",
            "محمد علي",
            "Ng",
            "D\u{2019}Angelo",
            "देवनागरी नाम",
        ] {
            assert!(FullName::parse(name).is_ok(), "{name} should be valid");
        }
    }

    #[test]
    fn rejects_markup_digits_and_symbols() {
        for (input, why) in [
            ("<script>alert(1)</script>", "markup"),
            ("Agent 007", "digits"),
            ("Robert'); DROP TABLE students;--", "SQL"),
            ("a@b", "at sign"),
            ("null\u{0}byte", "control character"),
        ] {
            assert!(
                FullName::parse(input).is_err(),
                "{input} ({why}) should be rejected"
            );
        }
    }

    #[test]
    fn trims_and_collapses_whitespace() {
        let name = FullName::parse("  Ada \t  Lovelace \n").expect("valid");
        assert_eq!(name.as_str(), "Ada Lovelace");
    }

    #[test]
    fn enforces_length_after_trimming() {
        assert!(FullName::parse(" A ").is_err(), "one letter is too short");
        assert!(FullName::parse("").is_err(), "empty is required");
        assert!(
            FullName::parse(&"a".repeat(100)).is_ok(),
            "100 is the limit"
        );
        assert!(
            FullName::parse(&"a".repeat(101)).is_err(),
            "101 is too long"
        );
        assert!(
            FullName::parse(&"é".repeat(100)).is_ok(),
            "counts characters, not bytes"
        );
    }

    #[test]
    fn rejects_names_of_punctuation_only() {
        assert!(FullName::parse("-- ..").is_err());
    }

    #[test]
    fn composes_decomposed_accents() {
        let name = FullName::parse("Jose\u{301}").expect("valid");
        assert_eq!(name.as_str(), "José");
    }

    proptest! {
        #[test]
        fn letters_and_spaces_within_bounds_are_valid(s in "[a-zA-Zà-öø-ÿ]{1,10}( [a-zA-Zà-öø-ÿ]{1,10}){0,5}") {
            prop_assume!(s.chars().count() >= 2);
            let name = FullName::parse(&s).expect("valid");
            prop_assert_eq!(name.as_str(), s.as_str());
        }

        #[test]
        fn any_digit_makes_a_name_invalid(prefix in "[a-z]{1,20}", digit in "[0-9]", suffix in "[a-z]{0,20}") {
            let input = format!("{prefix}{digit}{suffix}");
            prop_assert!(FullName::parse(&input).is_err());
        }

        #[test]
        fn parse_never_panics_and_valid_output_is_stable(s in "\\PC{0,120}") {
            if let Ok(name) = FullName::parse(&s) {
                let again = FullName::parse(name.as_str()).expect("a parsed name parses again");
                prop_assert_eq!(again, name);
            }
        }
    }
}
