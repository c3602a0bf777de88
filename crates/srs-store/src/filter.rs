use srs_domain::{DepartmentName, Status};

/// The column a student list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortKey {
    /// Name, ignoring case and accents (the default).
    #[default]
    Name,
    /// The name's last word (the surname, in most names), then the name.
    Surname,
    /// Student number.
    StudentNumber,
    /// Date of birth (oldest first).
    DateOfBirth,
    /// E-mail address (those without one first).
    Email,
    /// Department name.
    Department,
    /// Status.
    Status,
    /// When the record was added.
    CreatedAt,
}

impl SortKey {
    /// Every key, in the order the list shows its columns.
    pub const ALL: [SortKey; 8] = [
        SortKey::StudentNumber,
        SortKey::Name,
        SortKey::Surname,
        SortKey::DateOfBirth,
        SortKey::Email,
        SortKey::Department,
        SortKey::Status,
        SortKey::CreatedAt,
    ];

    /// The API spelling (ascending).
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Surname => "surname",
            SortKey::StudentNumber => "student_number",
            SortKey::DateOfBirth => "date_of_birth",
            SortKey::Email => "email",
            SortKey::Department => "department",
            SortKey::Status => "status",
            SortKey::CreatedAt => "created_at",
        }
    }

    /// The column (or expression) sorted on; `sqlite` picks the dialect.
    fn column(self, sqlite: bool) -> &'static str {
        match self {
            SortKey::Name => "s.name_key",
            // The folded name after its last space. SQLite has no
            // SUBSTRING_INDEX: trimming every character but spaces from
            // the right leaves the name up to its last space.
            SortKey::Surname if sqlite => {
                "substr(s.name_key, length(rtrim(s.name_key, replace(s.name_key, ' ', ''))) + 1)"
            }
            SortKey::Surname => "SUBSTRING_INDEX(s.name_key, ' ', -1)",
            SortKey::StudentNumber => "s.student_number",
            SortKey::DateOfBirth => "s.date_of_birth",
            SortKey::Email => "s.email",
            SortKey::Department => "department",
            SortKey::Status => "s.status",
            SortKey::CreatedAt => "s.created_at",
        }
    }
}

/// The order a student list is sorted in: a column, either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sort {
    /// The column.
    pub key: SortKey,
    /// Z to A, newest first, and so on.
    pub descending: bool,
}

impl Sort {
    /// Every sort as the API spells it: each key, and `-key` for descending.
    pub const ALL: [&'static str; 16] = [
        "name",
        "-name",
        "surname",
        "-surname",
        "student_number",
        "-student_number",
        "date_of_birth",
        "-date_of_birth",
        "email",
        "-email",
        "department",
        "-department",
        "status",
        "-status",
        "created_at",
        "-created_at",
    ];

    /// Parses the API spelling: `name`, `-name`, `department`, ...
    pub fn parse(raw: &str) -> Option<Self> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let key = SortKey::ALL.into_iter().find(|k| k.as_str() == name)?;
        Some(Self { key, descending })
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match (self.key, self.descending) {
            (SortKey::Name, false) => "name",
            (SortKey::Name, true) => "-name",
            (SortKey::Surname, false) => "surname",
            (SortKey::Surname, true) => "-surname",
            (SortKey::StudentNumber, false) => "student_number",
            (SortKey::StudentNumber, true) => "-student_number",
            (SortKey::DateOfBirth, false) => "date_of_birth",
            (SortKey::DateOfBirth, true) => "-date_of_birth",
            (SortKey::Email, false) => "email",
            (SortKey::Email, true) => "-email",
            (SortKey::Department, false) => "department",
            (SortKey::Department, true) => "-department",
            (SortKey::Status, false) => "status",
            (SortKey::Status, true) => "-status",
            (SortKey::CreatedAt, false) => "created_at",
            (SortKey::CreatedAt, true) => "-created_at",
        }
    }

    /// The same column the other way round.
    pub fn reversed(self) -> Self {
        Self {
            descending: !self.descending,
            ..self
        }
    }

    pub(crate) fn order_by(self, sqlite: bool) -> String {
        let dir = if self.descending { "DESC" } else { "ASC" };
        // The id breaks ties, so pages never repeat or skip a row; by
        // surname, the whole name first.
        let then = if self.key == SortKey::Surname {
            format!("s.name_key {dir}, ")
        } else {
            String::new()
        };
        format!("{} {dir}, {then}s.id {dir}", self.key.column(sqlite))
    }
}

/// Which students a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct StudentFilter {
    /// Text matched against name, student number and e-mail, ignoring case.
    pub q: Option<String>,
    /// Only this department.
    pub department: Option<DepartmentName>,
    /// Only this status.
    pub status: Option<Status>,
    /// Deleted records instead of live ones.
    pub deleted: bool,
    /// The order.
    pub sort: Sort,
}

/// One page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Rows a page, at most [`PageRequest::MAX_PER_PAGE`].
    pub per_page: u32,
}

impl PageRequest {
    /// The largest page a client may ask for.
    pub const MAX_PER_PAGE: u32 = 200;
    /// The page size when none is given.
    pub const DEFAULT_PER_PAGE: u32 = 50;

    pub(crate) fn offset(self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
        }
    }
}

/// One page of results and the total the filter matches.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows on this page.
    pub items: Vec<T>,
    /// Rows matching the filter on all pages.
    pub total: i64,
    /// This page's number.
    pub page: u32,
    /// The page size.
    pub per_page: u32,
}

/// A rendering of a listing the caller makes and the listing keeps, named
/// by what it is for (the store does not know how each is made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    /// The API's JSON body.
    ApiJson,
    /// The list page's rows with Edit and Delete buttons.
    RowsForEditors,
    /// The list page's rows for readers.
    RowsForReaders,
}

impl Rendering {
    /// Every rendering a listing may keep.
    const ALL: [Rendering; 3] = [
        Rendering::ApiJson,
        Rendering::RowsForEditors,
        Rendering::RowsForReaders,
    ];

    fn slot(self) -> usize {
        self as usize
    }
}

/// A page of students as the store caches it: shared by every request
/// that reads it at the same data generation, with its renderings (the
/// API's JSON, the page's rows) made once and reused until the data
/// changes.
#[derive(Debug)]
pub struct Listing {
    page: Page<srs_domain::Student>,
    renderings: [std::sync::OnceLock<bytes::Bytes>; Rendering::ALL.len()],
}

impl Listing {
    /// Renderings are kept for pages of at most this many rows (the
    /// default page size); larger pages, rarer, are rendered each time so
    /// that the cache's memory stays bounded.
    pub const KEEP_RENDERINGS_UP_TO: usize = 50;

    /// A listing of `page`, not rendered yet.
    pub fn new(page: Page<srs_domain::Student>) -> Self {
        Self {
            page,
            renderings: Default::default(),
        }
    }

    /// Its rendering `which`: made by `render` the first time it
    /// succeeds, shared afterwards (exact: a listing belongs to one data
    /// generation). A page longer than [`Listing::KEEP_RENDERINGS_UP_TO`]
    /// is rendered every time.
    pub fn rendered<E>(
        &self,
        which: Rendering,
        render: impl FnOnce(&Page<srs_domain::Student>) -> Result<bytes::Bytes, E>,
    ) -> Result<bytes::Bytes, E> {
        let kept = match self.renderings.get(which.slot()) {
            Some(kept) if self.page.items.len() <= Self::KEEP_RENDERINGS_UP_TO => kept,
            _ => return render(&self.page),
        };
        if let Some(done) = kept.get() {
            return Ok(done.clone());
        }
        let made = render(&self.page)?;
        // Two requests may render at once; either result is the same.
        let _ = kept.set(made.clone());
        Ok(made)
    }
}

impl std::ops::Deref for Listing {
    type Target = Page<srs_domain::Student>;

    fn deref(&self) -> &Self::Target {
        &self.page
    }
}

#[cfg(test)]
mod sort_tests {
    use super::*;

    #[test]
    fn every_spelling_parses_and_prints_back() {
        for spelled in Sort::ALL {
            let sort = Sort::parse(spelled).expect(spelled);
            assert_eq!(sort.as_str(), spelled);
            assert_ne!(sort.reversed().as_str(), spelled);
            assert_eq!(sort.reversed().reversed(), sort);
        }
        assert_eq!(Sort::parse("age"), None);
        assert_eq!(Sort::parse("--name"), None);
        assert_eq!(Sort::default().as_str(), "name");
    }
}
