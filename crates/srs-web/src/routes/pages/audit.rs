//! `/admin/audit`: the whole audit trail for admins, filtered by who, what,
//! which kind of record and when, with each change in words.

use super::students::{page_count, page_numbers, url};
use crate::auth::Admin;
use crate::extract::AppQuery;
use crate::history::HistoryEntry;
use crate::page::{render, PageCtx, PageError, PageResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use srs_domain::Username;
use srs_store::{AuditFilter, PageRequest};

/// The kinds of record, with their names on the page.
const ENTITIES: [(&str, &str); 4] = [
    ("student", "Students"),
    ("department", "Departments"),
    ("user", "Accounts"),
    ("token", "API tokens"),
];

/// Entries a page.
const PER_PAGE: u32 = 50;

/// The audit page's route.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit", get(audit))
}

/// The filters as typed: every one optional, each checked.
#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    who: Option<String>,
    action: Option<String>,
    entity: Option<String>,
    id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

/// One choice of a select.
struct Choice {
    value: &'static str,
    label: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    ctx: PageCtx,
    entries: Vec<HistoryEntry>,
    total: i64,
    page: u32,
    pages: u32,
    page_links: Vec<Option<(u32, String)>>,
    prev_url: String,
    next_url: String,
    who: String,
    action: String,
    entity: String,
    id: String,
    from: String,
    to: String,
    actions: Vec<Choice>,
    entities: Vec<Choice>,
    /// What was wrong with the filters, each in a sentence; those filters
    /// were left out.
    problems: Vec<String>,
}

impl AuditPage {
    /// Where an entry's record is shown, when it has a page.
    fn link(&self, h: &HistoryEntry) -> Option<String> {
        match (h.entity.as_str(), h.entity_id, h.action.as_str()) {
            (_, _, action) if action == srs_domain::AuditAction::StudentPurge.as_str() => None,
            ("student", Some(id), _) => Some(format!("/students/{id}")),
            _ => None,
        }
    }
}

fn trimmed(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or_default().to_owned()
}

fn day(name: &str, raw: &str, problems: &mut Vec<String>) -> Option<NaiveDate> {
    if raw.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            problems.push(format!(
                "The {name} date \u{201c}{raw}\u{201d} is not a date like 2026-11-25, so it was left out."
            ));
            None
        }
    }
}

/// The filters as the reader typed them (trimmed): kept in the form and
/// in every link.
struct Asked {
    who: String,
    action: String,
    entity: String,
    id: String,
    from: String,
    to: String,
}

impl Asked {
    fn of(q: &AuditQuery) -> Self {
        Self {
            who: trimmed(&q.who),
            action: trimmed(&q.action),
            entity: trimmed(&q.entity),
            id: trimmed(&q.id),
            from: trimmed(&q.from),
            to: trimmed(&q.to),
        }
    }

    /// Page `n` of the trail with these filters.
    fn link(&self, n: u32) -> String {
        let page = if n > 1 { n.to_string() } else { String::new() };
        url(
            "/admin/audit",
            &[
                ("who", self.who.clone()),
                ("action", self.action.clone()),
                ("entity", self.entity.clone()),
                ("id", self.id.clone()),
                ("from", self.from.clone()),
                ("to", self.to.clone()),
                ("page", page),
            ],
        )
    }
}

/// The filter the typed values make; each value that cannot be used is
/// left out with a sentence in `problems` saying why.
async fn filter_for(
    state: &AppState,
    asked: &Asked,
    problems: &mut Vec<String>,
) -> Result<AuditFilter, PageError> {
    let Asked {
        who,
        action,
        entity,
        id,
        ..
    } = asked;
    let mut filter = AuditFilter::default();
    if !who.is_empty() {
        match Username::parse(who) {
            Err(e) => problems.push(format!("\u{201c}{who}\u{201d} cannot be an account name ({e}), so that filter was left out.")),
            Ok(name) => match state.store.user_credentials(&name).await? {
                Some((user, _)) => filter.actor_user_id = Some(user.id),
                None => problems.push(format!("There is no account named \u{201c}{who}\u{201d}, so that filter was left out.")),
            },
        }
    }
    if !action.is_empty() {
        if srs_domain::AuditAction::named(action).is_some() {
            filter.action = Some(action.clone());
        } else {
            problems.push(format!("\u{201c}{action}\u{201d} is not an action the trail records, so that filter was left out."));
        }
    }
    if !entity.is_empty() {
        if ENTITIES.iter().any(|(e, _)| e == entity) {
            filter.entity = Some(entity.clone());
        } else {
            problems.push(format!(
                "\u{201c}{entity}\u{201d} is not a kind of record, so that filter was left out."
            ));
        }
    }
    if !id.is_empty() {
        match id.parse::<i64>() {
            Ok(n) if n > 0 => filter.entity_id = Some(n),
            _ => problems.push(format!("The record number \u{201c}{id}\u{201d} is not a whole number above 0, so it was left out.")),
        }
    }
    dates_into(&mut filter, asked, problems);
    Ok(filter)
}

/// The from and to days, both included; a range that ends before it
/// starts is left out.
fn dates_into(filter: &mut AuditFilter, asked: &Asked, problems: &mut Vec<String>) {
    let from_day = day("from", &asked.from, problems);
    let to_day = day("to", &asked.to, problems);
    if let (Some(f), Some(t)) = (from_day, to_day) {
        if f > t {
            problems.push(format!("The from date ({f}) is after the to date ({t}): nothing can match, so both were left out."));
            return;
        }
    }
    filter.since = from_day
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t));
    // "To" includes that whole day.
    filter.until = to_day
        .and_then(|d| d.succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t));
}

/// The page asked for, the first when it is not a page number.
fn page_number(raw: Option<&str>, problems: &mut Vec<String>) -> u32 {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => 1,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                problems.push(format!(
                    "\u{201c}{raw}\u{201d} is not a page number; the first page is shown."
                ));
                1
            }
        },
    }
}

async fn audit(
    _: Admin,
    ctx: PageCtx,
    State(state): State<AppState>,
    AppQuery(q): AppQuery<AuditQuery>,
) -> PageResult {
    let asked = Asked::of(&q);
    let mut problems = Vec::new();
    let filter = filter_for(&state, &asked, &mut problems).await?;
    let page_no = page_number(q.page.as_deref(), &mut problems);
    let result = state
        .store
        .audit_entries(
            &filter,
            PageRequest {
                page: page_no,
                per_page: PER_PAGE,
            },
        )
        .await?;
    let pages = u32::try_from(page_count(result.total, PER_PAGE)).unwrap_or(u32::MAX);
    if page_no > pages {
        problems.push(format!(
            "There is no page {page_no}: these entries fill {pages} page{}.",
            if pages == 1 { "" } else { "s" }
        ));
    }
    let view = AuditPage {
        ctx,
        entries: result.items.into_iter().map(HistoryEntry::from).collect(),
        total: result.total,
        page: page_no,
        pages,
        page_links: page_numbers(page_no, pages)
            .into_iter()
            .map(|n| n.map(|n| (n, asked.link(n))))
            .collect(),
        prev_url: if page_no > 1 {
            asked.link(page_no - 1)
        } else {
            String::new()
        },
        next_url: if page_no < pages {
            asked.link(page_no + 1)
        } else {
            String::new()
        },
        actions: srs_domain::AuditAction::ALL
            .iter()
            .map(|a| Choice {
                value: a.as_str(),
                label: a.label().to_owned(),
            })
            .collect(),
        entities: ENTITIES
            .iter()
            .map(|(value, label)| Choice {
                value,
                label: (*label).to_owned(),
            })
            .collect(),
        who: asked.who,
        action: asked.action,
        entity: asked.entity,
        id: asked.id,
        from: asked.from,
        to: asked.to,
        problems,
    };
    Ok(render(&view))
}
