use crate::ParseError;
use serde::Serialize;
use std::fmt;

/// The text of a note on a student: 1-2,000 characters, line breaks kept,
/// no other control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct NoteText(String);

impl NoteText {
    /// Longest note accepted, in characters after trimming.
    pub const MAX_CHARS: usize = 2000;

    /// Parses a note: trims it and writes every line break as `\n`.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let text = raw.replace("\r\n", "\n").replace('\r', "\n");
        let text = text.trim();
        if text.is_empty() {
            return Err(ParseError::new("The note is empty; write something."));
        }
        let count = text.chars().count();
        if count > Self::MAX_CHARS {
            return Err(ParseError::new(format!(
                "The note is {count} characters long; a note holds at most {}.",
                Self::MAX_CHARS
            )));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t')
        {
            return Err(ParseError::new(format!(
                "The note contains the control character U+{:04X}; remove it.",
                bad as u32
            )));
        }
        Ok(Self(text.to_owned()))
    }

    /// A note read back from storage, checked when it was written.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NoteText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::NoteText;

    #[test]
    fn a_note_keeps_its_lines_and_refuses_empty_long_or_control_text() {
        let n = NoteText::parse("  Called home.\r\nWill return in May.  ").expect("valid");
        assert_eq!(n.as_str(), "Called home.\nWill return in May.");
        assert!(NoteText::parse(" \n ").is_err());
        assert!(NoteText::parse(&"x".repeat(2001)).is_err());
        assert!(NoteText::parse(&"x".repeat(2000)).is_ok());
        let bell = NoteText::parse("ring\u{7}").expect_err("control");
        assert!(bell.to_string().contains("U+0007"), "{bell}");
    }
}
