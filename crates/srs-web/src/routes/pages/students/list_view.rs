//! The list page's links, built from what the list shows: every link
//! keeps the filters and the order, the sort headers reverse or change the
//! order, the page links keep the page size. Pure, so each is tested
//! without a server.

use srs_store::{PageRequest, Sort, SortKey, StudentFilter};

/// The columns, in order, with the order each sorts by.
const COLUMNS: [(SortKey, &str); 7] = [
    (SortKey::StudentNumber, "Student number"),
    (SortKey::Name, "Name"),
    (SortKey::DateOfBirth, "Born"),
    (SortKey::Email, "Email"),
    (SortKey::Department, "Department"),
    (SortKey::Status, "Status"),
    (SortKey::CreatedAt, "Added"),
];

/// A sortable column header.
pub(super) struct SortHeader {
    pub(super) label: &'static str,
    pub(super) url: String,
    /// "ascending", "descending" or "none", for aria-sort and the arrow.
    pub(super) state: &'static str,
    /// A second way to sort the same column (the name by surname).
    pub(super) also: Option<Box<SortHeader>>,
}

impl SortHeader {
    /// The column's aria-sort: either of its two ways.
    pub(super) fn column_state(&self) -> &'static str {
        match &self.also {
            Some(also) if self.state == "none" => also.state,
            _ => self.state,
        }
    }

    /// The arrow after the label.
    pub(super) fn arrow(&self) -> &'static str {
        match self.state {
            "ascending" => " ▲",
            "descending" => " ▼",
            _ => "",
        }
    }
}

/// What the list's links carry, as the address spells it.
pub(super) struct ListLinks {
    pub(super) q: String,
    pub(super) department: String,
    pub(super) status: String,
    pub(super) sort: Sort,
    deleted: bool,
    /// Empty for the default page size.
    per_page: String,
}

impl ListLinks {
    /// The links of a list showing `filter` at `page`'s size.
    pub(super) fn of(filter: &StudentFilter, page: PageRequest) -> Self {
        Self {
            q: filter.q.clone().unwrap_or_default(),
            department: filter
                .department
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            status: filter
                .status
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            sort: filter.sort,
            deleted: filter.deleted,
            per_page: if page.per_page == PageRequest::DEFAULT_PER_PAGE {
                String::new()
            } else {
                page.per_page.to_string()
            },
        }
    }

    /// `path` with the list's filters, `sort`, then `extra`.
    fn with_filters(&self, path: &str, sort: Sort, extra: &[(&'static str, String)]) -> String {
        let mut params = vec![
            ("q", self.q.clone()),
            ("department", self.department.clone()),
            ("status", self.status.clone()),
            ("sort", sort.as_str().to_owned()),
            ("deleted", if self.deleted { "true" } else { "" }.to_owned()),
        ];
        params.extend_from_slice(extra);
        url(path, &params)
    }

    /// Page `page` of this list in order `sort`.
    fn page_in(&self, page: u32, sort: Sort) -> String {
        let page = if page > 1 {
            page.to_string()
        } else {
            String::new()
        };
        self.with_filters(
            "/students",
            sort,
            &[("per_page", self.per_page.clone()), ("page", page)],
        )
    }

    /// Page `page` of this list in its order.
    pub(super) fn page(&self, page: u32) -> String {
        self.page_in(page, self.sort)
    }

    /// The previous page's link, empty on the first.
    pub(super) fn prev(&self, page: u32) -> String {
        if page > 1 {
            self.page(page - 1)
        } else {
            String::new()
        }
    }

    /// The next page's link, empty on the last.
    pub(super) fn next(&self, page: u32, pages: i64) -> String {
        if i64::from(page) < pages {
            self.page(page + 1)
        } else {
            String::new()
        }
    }

    /// The export of what the list shows (`bom`: with a byte-order mark,
    /// for Excel).
    pub(super) fn export(&self, bom: bool) -> String {
        let bom = if bom { "true" } else { "" }.to_owned();
        self.with_filters("/api/v1/students/export.csv", self.sort, &[("bom", bom)])
    }

    /// Links to nearby pages (None: a gap, shown as an ellipsis).
    pub(super) fn page_links(&self, page: u32, pages: i64) -> Vec<Option<(u32, String)>> {
        page_numbers(page, u32::try_from(pages).unwrap_or(u32::MAX))
            .into_iter()
            .map(|n| n.map(|n| (n, self.page(n))))
            .collect()
    }

    /// The column headers: the sorted one reverses its order, the others
    /// sort by themselves from the first page.
    pub(super) fn headers(&self) -> Vec<SortHeader> {
        COLUMNS
            .into_iter()
            .map(|(key, label)| {
                let mut h = self.header(key, label);
                if key == SortKey::Name {
                    // Registrars file by surname: the name sorts either way.
                    h.also = Some(Box::new(self.header(SortKey::Surname, "by surname")));
                }
                h
            })
            .collect()
    }

    fn header(&self, key: SortKey, label: &'static str) -> SortHeader {
        let current = self.sort;
        let (next, state) = if current.key == key {
            let state = if current.descending {
                "descending"
            } else {
                "ascending"
            };
            (current.reversed(), state)
        } else {
            // Newest first is what people want of "Added".
            let descending = key == SortKey::CreatedAt;
            (Sort { key, descending }, "none")
        };
        SortHeader {
            label,
            url: self.page_in(1, next),
            state,
            also: None,
        }
    }
}

/// How many pages `total` records fill (at least one, for the empty list).
pub(in crate::routes::pages) fn page_count(total: i64, per_page: u32) -> i64 {
    ((total + i64::from(per_page) - 1) / i64::from(per_page.max(1))).max(1)
}

/// The note for an address past the last page.
pub(super) fn past_the_end(page: u32, pages: i64) -> Option<String> {
    (i64::from(page) > pages).then(|| {
        format!(
            "There is no page {page}: this list has {pages} page{}.",
            if pages == 1 { "" } else { "s" }
        )
    })
}

/// The page numbers to link: the first, the last, and two either side of
/// the current one, with gaps between.
pub(in crate::routes::pages) fn page_numbers(page: u32, pages: u32) -> Vec<Option<u32>> {
    let mut out: Vec<Option<u32>> = Vec::new();
    for n in 1..=pages {
        if n == 1 || n == pages || n.abs_diff(page) <= 2 {
            if let Some(Some(last)) = out.last() {
                if n > last + 1 {
                    out.push(None);
                }
            }
            out.push(Some(n));
        }
    }
    out
}

/// Builds a URL from a path and the non-empty parameters.
pub(in crate::routes::pages) fn url(path: &str, params: &[(&str, String)]) -> String {
    let kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    match serde_urlencoded::to_string(&kept) {
        Ok(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(sort: &str, per_page: u32) -> ListLinks {
        let filter = StudentFilter {
            q: Some("ada".into()),
            status: Some(srs_domain::Status::Active),
            sort: Sort::parse(sort).expect("a sort"),
            ..StudentFilter::default()
        };
        ListLinks::of(&filter, PageRequest { page: 3, per_page })
    }

    #[test]
    fn every_link_keeps_the_filters_and_the_page_size() {
        let l = links("name", 100);
        assert_eq!(
            l.page(2),
            "/students?q=ada&status=active&sort=name&per_page=100&page=2"
        );
        assert_eq!(l.prev(1), "", "no previous page on the first");
        assert_eq!(l.next(4, 4), "", "no next page on the last");
        assert_eq!(
            l.export(true),
            "/api/v1/students/export.csv?q=ada&status=active&sort=name&bom=true"
        );
        // The default size is not spelt out; page 1 is the bare list.
        assert_eq!(
            links("name", PageRequest::DEFAULT_PER_PAGE).page(1),
            "/students?q=ada&status=active&sort=name"
        );
    }

    #[test]
    fn the_sorted_column_reverses_and_the_others_start_on_page_one() {
        let headers = links("name", 50).headers();
        let name = headers.iter().find(|h| h.label == "Name").expect("name");
        assert_eq!(name.state, "ascending");
        assert!(name.url.contains("sort=-name"), "{}", name.url);
        let added = headers.iter().find(|h| h.label == "Added").expect("added");
        assert_eq!(added.state, "none");
        assert!(added.url.contains("sort=-created_at"), "{}", added.url);
        assert!(!added.url.contains("page=3"), "{}", added.url);
        let surname = name.also.as_ref().expect("by surname");
        assert_eq!(name.column_state(), "ascending");
        assert_eq!(surname.state, "none");
    }

    #[test]
    fn pages_are_counted_and_linked_with_gaps() {
        assert_eq!(page_count(0, 50), 1);
        assert_eq!(page_count(101, 50), 3);
        assert_eq!(
            past_the_end(4, 3).as_deref(),
            Some("There is no page 4: this list has 3 pages.")
        );
        assert_eq!(past_the_end(3, 3), None);
        assert_eq!(
            page_numbers(6, 12),
            [
                Some(1),
                None,
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                Some(8),
                None,
                Some(12)
            ]
        );
        let linked = links("name", 50).page_links(1, 2);
        assert_eq!(linked.len(), 2);
    }
}
