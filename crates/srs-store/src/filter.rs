use srs_domain::{DepartmentName, Status};

/// The orders a student list can be sorted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sort {
    /// By name, A to Z (the default).
    #[default]
    Name,
    /// By name, Z to A.
    NameDesc,
    /// By student number.
    StudentNumber,
    /// Oldest record first.
    CreatedAt,
    /// Newest record first.
    CreatedAtDesc,
}

impl Sort {
    /// Every sort key as the API spells it.
    pub const ALL: [&'static str; 5] = [
        "name",
        "-name",
        "student_number",
        "created_at",
        "-created_at",
    ];

    /// Parses the API spelling (`name`, `-name`, `student_number`, `created_at`, `-created_at`).
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "name" => Sort::Name,
            "-name" => Sort::NameDesc,
            "student_number" => Sort::StudentNumber,
            "created_at" => Sort::CreatedAt,
            "-created_at" => Sort::CreatedAtDesc,
            _ => return None,
        })
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::NameDesc => "-name",
            Sort::StudentNumber => "student_number",
            Sort::CreatedAt => "created_at",
            Sort::CreatedAtDesc => "-created_at",
        }
    }

    pub(crate) fn order_by(self) -> &'static str {
        match self {
            Sort::Name => "s.name_key ASC, s.id ASC",
            Sort::NameDesc => "s.name_key DESC, s.id DESC",
            Sort::StudentNumber => "s.student_number ASC",
            Sort::CreatedAt => "s.created_at ASC, s.id ASC",
            Sort::CreatedAtDesc => "s.created_at DESC, s.id DESC",
        }
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
