use crate::ParseError;
use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

/// Youngest age, in whole years on the day of entry, a student may have.
pub const MIN_AGE: u32 = 16;
/// Oldest age, in whole years on the day of entry, a student may have.
pub const MAX_AGE: u32 = 100;

/// Whole years between `born` and `on`; `None` when `on` is before `born`.
pub fn age_on(born: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < born {
        return None;
    }
    let mut years = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Parses an ISO 8601 calendar date (`YYYY-MM-DD`), naming the field in the error.
fn parse_iso(raw: &str, what: &str) -> Result<NaiveDate, ParseError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ParseError::new(format!("{what} is required")));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        let shown = s
            .chars()
            .take(40)
            .collect::<String>()
            .escape_default()
            .to_string();
        match well_formed_but_impossible(s) {
            Some((year, month)) if (1..=12).contains(&month) => ParseError::new(format!(
                "{what} {shown} does not exist: {} {year} has {} days",
                MONTHS[month as usize - 1],
                days_in_month(year, month)
            )),
            Some((_, month)) => ParseError::new(format!(
                "{what} {shown} does not exist: there is no month {month}"
            )),
            None => ParseError::new(format!(
                "{what} must be a date written YYYY-MM-DD (got '{shown}')"
            )),
        }
    })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The year and month of text in the form `YYYY-MM-DD` (four, two and
/// two digits), whatever the values.
fn well_formed_but_impossible(s: &str) -> Option<(i32, u32)> {
    let shape = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape {
        return None;
    }
    Some((s.get(0..4)?.parse().ok()?, s.get(5..7)?.parse().ok()?))
}

/// How many days `month` of `year` has.
fn days_in_month(year: i32, month: u32) -> u32 {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    match (first, next) {
        (Some(a), Some(b)) => u32::try_from((b - a).num_days()).unwrap_or(31),
        _ => 31,
    }
}

/// A date of birth that made the student 16 to 100 years old on the day the
/// record was entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DateOfBirth(NaiveDate);

impl DateOfBirth {
    /// Checks a date of birth against the age rule on `today`, the day of entry.
    pub fn new(date: NaiveDate, today: NaiveDate) -> Result<Self, ParseError> {
        match age_on(date, today) {
            None => Err(ParseError::new(
                "This date of birth is in the future; check the year.",
            )),
            Some(age) if age < MIN_AGE => Err(ParseError::new(format!(
                "The student must be at least {MIN_AGE}; this date of birth makes them {age}."
            ))),
            Some(age) if age > MAX_AGE => Err(ParseError::new(format!(
                "The student must be at most {MAX_AGE}; this date of birth makes them {age}."
            ))),
            Some(_) => Ok(Self(date)),
        }
    }

    /// Parses `YYYY-MM-DD` and checks the age rule on `today`.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, ParseError> {
        Self::new(parse_iso(raw, "date of birth")?, today)
    }

    /// A date of birth read back from storage: it was checked on its day of
    /// entry, and the age rule is not re-applied as years pass.
    pub fn from_stored(date: NaiveDate) -> Self {
        Self(date)
    }

    /// The date itself.
    pub fn date(self) -> NaiveDate {
        self.0
    }
}

/// The day a student enrolled: not before 1900, not more than a year ahead,
/// and never before the student was born.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EnrolledOn(NaiveDate);

impl EnrolledOn {
    /// Checks an enrolment date against `today`.
    pub fn new(date: NaiveDate, today: NaiveDate) -> Result<Self, ParseError> {
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
        let latest = today
            .checked_add_months(Months::new(12))
            .unwrap_or(NaiveDate::MAX);
        if date < earliest {
            return Err(ParseError::new("enrolment date must be in 1900 or later"));
        }
        if date > latest {
            return Err(ParseError::new(
                "enrolment date must be at most one year from today",
            ));
        }
        Ok(Self(date))
    }

    /// Parses `YYYY-MM-DD`; an empty value means today.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, ParseError> {
        if raw.trim().is_empty() {
            return Ok(Self(today));
        }
        Self::new(parse_iso(raw, "enrolment date")?, today)
    }

    /// An enrolment date read back from storage.
    pub fn from_stored(date: NaiveDate) -> Self {
        Self(date)
    }

    /// The date itself.
    pub fn date(self) -> NaiveDate {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    #[test]
    fn age_counts_whole_years() {
        assert_eq!(age_on(d(2000, 6, 15), d(2016, 6, 14)), Some(15));
        assert_eq!(age_on(d(2000, 6, 15), d(2016, 6, 15)), Some(16));
        assert_eq!(age_on(d(2000, 2, 29), d(2016, 2, 28)), Some(15));
        assert_eq!(age_on(d(2000, 2, 29), d(2016, 2, 29)), Some(16));
        assert_eq!(age_on(d(2000, 1, 2), d(2000, 1, 1)), None);
    }

    #[test]
    fn an_age_error_is_a_sentence_with_the_rule_and_the_age() {
        let young = DateOfBirth::parse("2015-01-01", d(2026, 11, 25)).expect_err("too young");
        assert_eq!(
            young.to_string(),
            "The student must be at least 16; this date of birth makes them 11."
        );
        let old = DateOfBirth::parse("1900-01-01", d(2026, 11, 25)).expect_err("too old");
        assert!(old
            .to_string()
            .ends_with("this date of birth makes them 126."));
    }

    #[test]
    fn date_of_birth_enforces_the_age_bounds_on_the_day_of_entry() {
        let today = d(2026, 11, 25);
        let cases = [
            ("2010-11-25", true, "exactly 16 today"),
            ("2010-11-26", false, "16 tomorrow"),
            ("1926-11-25", true, "exactly 100 today"),
            ("1925-11-25", false, "101"),
            ("1926-11-24", true, "turned 100 yesterday, still 100"),
            ("2030-01-01", false, "in the future"),
            ("25/11/2000", false, "wrong format"),
            ("2000-02-30", false, "not a date"),
            ("", false, "empty"),
        ];
        for (input, ok, why) in cases {
            assert_eq!(
                DateOfBirth::parse(input, today).is_ok(),
                ok,
                "{input}: {why}"
            );
        }
    }

    #[test]
    fn enrolment_defaults_to_today_and_is_bounded() {
        let today = d(2026, 11, 25);
        assert_eq!(EnrolledOn::parse("", today).expect("default").date(), today);
        assert!(EnrolledOn::parse("2027-11-25", today).is_ok());
        assert!(EnrolledOn::parse("2027-11-26", today).is_err());
        assert!(EnrolledOn::parse("1899-12-31", today).is_err());
    }

    proptest! {
        #[test]
        fn every_age_in_bounds_is_accepted_and_outside_rejected(days in 0i64..(120 * 366)) {
            let today = d(2026, 11, 25);
            let born = today - chrono::Duration::days(days);
            let age = age_on(born, today).expect("born before today");
            let accepted = DateOfBirth::new(born, today).is_ok();
            prop_assert_eq!(accepted, (MIN_AGE..=MAX_AGE).contains(&age));
        }
    }

    #[test]
    fn an_impossible_date_is_named_as_such() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).expect("day");
        let err = DateOfBirth::parse("2001-02-30", today).expect_err("no such day");
        assert!(
            err.0
                .contains("2001-02-30 does not exist: February 2001 has 28 days"),
            "{}",
            err.0
        );
        let err = DateOfBirth::parse("2000-02-30", today).expect_err("no such day");
        assert!(err.0.contains("February 2000 has 29 days"), "{}", err.0);
        let err = DateOfBirth::parse("2001-13-01", today).expect_err("no such month");
        assert!(err.0.contains("there is no month 13"), "{}", err.0);
        let err = DateOfBirth::parse("1.2.2001", today).expect_err("not the format");
        assert!(err.0.contains("YYYY-MM-DD"), "{}", err.0);
    }
}
