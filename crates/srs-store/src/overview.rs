//! The figures of the overview page: live students by status and by
//! department, enrolments per month, and the latest changes to students.
//! Counting every row per request would cost a scan each; the figures are
//! computed once per data and department generation and shared.

use crate::{on_pool, AuditEntry, Store, StoreResult};
use chrono::{Datelike, NaiveDate};
use srs_domain::Status;
use std::sync::{Arc, Mutex, PoisonError};

/// How many of the latest changes the overview lists.
pub const RECENT_CHANGES: i64 = 8;

/// A calendar month, the unit of the enrolment chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// The year, e.g. 2026.
    pub year: i32,
    /// 1-12.
    pub month: u32,
}

impl Month {
    /// The month `day` falls in.
    pub fn of(day: NaiveDate) -> Self {
        Self {
            year: day.year(),
            month: day.month(),
        }
    }

    /// The month before this one.
    pub fn previous(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The `n` months ending with this one, oldest first.
    pub fn last_n(self, n: usize) -> Vec<Month> {
        let mut out = Vec::with_capacity(n);
        let mut m = self;
        for _ in 0..n {
            out.push(m);
            m = m.previous();
        }
        out.reverse();
        out
    }
}

/// The overview's figures at one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// Live students.
    pub total: i64,
    /// Live students per status, every status listed (zero included).
    pub by_status: Vec<(Status, i64)>,
    /// Live students per department that has any or is not retired, by name.
    pub by_department: Vec<(String, i64)>,
    /// Live students enrolled in each of the last 12 months, oldest first.
    pub enrolments: Vec<(Month, i64)>,
    /// The latest changes to students, newest first, each with the
    /// student's name now (none once purged).
    pub recent: Vec<(AuditEntry, Option<String>)>,
}

/// The last overview computed and the generations it was computed at.
#[derive(Default)]
pub(crate) struct OverviewCache {
    last: Mutex<Option<(CacheKey, Arc<Overview>)>>,
    /// Held while counting: requests that miss together wait for one
    /// count instead of each scanning the students (measured: 16 at once
    /// on SQLite put the slowest at 610 ms).
    counting: tokio::sync::Mutex<()>,
}

/// Data generation, department generation, and the month the enrolment
/// chart ends with (a new month starts a new chart).
type CacheKey = (i64, i64, Month);

impl OverviewCache {
    fn get(&self, key: CacheKey) -> Option<Arc<Overview>> {
        let slot = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some((k, v)) if *k == key => Some(Arc::clone(v)),
            _ => None,
        }
    }

    /// The last overview if it was counted at `key`'s generations or
    /// later (counted after this request arrived, so still exact for it).
    fn get_at_least(&self, key: CacheKey) -> Option<Arc<Overview>> {
        let slot = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some((k, v)) if k.0 >= key.0 && k.1 >= key.1 && k.2 == key.2 => Some(Arc::clone(v)),
            _ => None,
        }
    }

    fn put(&self, key: CacheKey, value: Arc<Overview>) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some((key, value));
    }
}

/// What the overview's queries return: counts by stored status, by
/// department, by day of enrolment, and the latest changes.
type Counted = (
    Vec<(String, i64)>,
    Vec<(String, i64)>,
    Vec<(NaiveDate, i64)>,
    Vec<AuditEntry>,
);

impl Store {
    /// The overview's figures as of now, with enrolments for the 12 months
    /// ending with the month of `today`.
    pub async fn overview(&self, today: NaiveDate) -> StoreResult<Arc<Overview>> {
        let generations = self.generations().await?;
        let this_month = Month::of(today);
        let key = (generations.data, generations.departments, this_month);
        if let Some(hit) = self.overview_cache.get(key) {
            return Ok(hit);
        }
        let _counting = self.overview_cache.counting.lock().await;
        // Whoever counted while this request waited counted after it
        // arrived: that count serves it too.
        if let Some(hit) = self.overview_cache.get_at_least(key) {
            return Ok(hit);
        }
        let months = this_month.last_n(12);
        let (statuses, departments, days, recent) = self.count(months[0].first_day()).await?;
        let recent = self.with_current_names(recent).await?;
        let by_status = by_status(&statuses);
        let overview = Arc::new(Overview {
            total: by_status.iter().map(|(_, n)| n).sum(),
            by_status,
            by_department: departments,
            enrolments: by_month(&months, &days),
            recent,
        });
        self.overview_cache.put(key, Arc::clone(&overview));
        Ok(overview)
    }
}

impl Store {
    /// Students by status, by department, by day of enrolment since
    /// `since`, and the latest changes to students.
    async fn count(&self, since: NaiveDate) -> StoreResult<Counted> {
        Ok(on_pool!(self, p => {
            (
                sqlx::query_as(
                    "SELECT status, COUNT(*) FROM students WHERE deleted_at IS NULL GROUP BY status",
                )
                .fetch_all(p)
                .await?,
                // Departments with students, and every live department even
                // when empty: an empty department is worth seeing.
                sqlx::query_as(
                    "SELECT d.name, COUNT(s.id) FROM departments d \
                     LEFT JOIN students s ON s.department_id = d.id AND s.deleted_at IS NULL \
                     GROUP BY d.id, d.name, d.name_key, d.retired_at \
                     HAVING COUNT(s.id) > 0 OR d.retired_at IS NULL \
                     ORDER BY d.name_key",
                )
                .fetch_all(p)
                .await?,
                // At most 366 rows: summed into months here, which keeps the
                // SQL the same on both engines.
                sqlx::query_as(
                    "SELECT enrolled_on, COUNT(*) FROM students \
                     WHERE deleted_at IS NULL AND enrolled_on >= ? GROUP BY enrolled_on",
                )
                .bind(since)
                .fetch_all(p)
                .await?,
                sqlx::query_as(
                    "SELECT * FROM audit_log WHERE entity = 'student' ORDER BY id DESC LIMIT ?",
                )
                .bind(RECENT_CHANGES)
                .fetch_all(p)
                .await?,
            )
        }))
    }

    /// The latest changes, each with its student's name as it is now: an
    /// entry's own JSON may not hold one (a note) or hold an old one (a
    /// rename since).
    async fn with_current_names(
        &self,
        recent: Vec<AuditEntry>,
    ) -> StoreResult<Vec<(AuditEntry, Option<String>)>> {
        let ids: Vec<i64> = recent.iter().filter_map(|e| e.entity_id).collect();
        let names: Vec<(i64, String)> = if ids.is_empty() {
            Vec::new()
        } else {
            let sql = format!(
                "SELECT id, full_name FROM students WHERE id IN ({})",
                crate::dialect::placeholders(ids.len())
            );
            on_pool!(self, p => {
                let mut q = sqlx::query_as(&sql);
                for id in &ids {
                    q = q.bind(id);
                }
                q.fetch_all(p).await?
            })
        };
        Ok(recent
            .into_iter()
            .map(|e| {
                let name = names
                    .iter()
                    .find(|(id, _)| Some(*id) == e.entity_id)
                    .map(|(_, n)| n.clone());
                (e, name)
            })
            .collect())
    }
}

/// Every status with its count (0 when none).
fn by_status(counted: &[(String, i64)]) -> Vec<(Status, i64)> {
    Status::ALL
        .into_iter()
        .map(|s| {
            let n = counted
                .iter()
                .filter(|(stored, _)| stored == s.as_str())
                .map(|(_, n)| n)
                .sum();
            (s, n)
        })
        .collect()
}

/// Enrolments summed into `months`.
fn by_month(months: &[Month], days: &[(NaiveDate, i64)]) -> Vec<(Month, i64)> {
    months
        .iter()
        .map(|m| {
            let n = days
                .iter()
                .filter(|(day, _)| Month::of(*day) == *m)
                .map(|(_, n)| n)
                .sum();
            (*m, n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Month;
    use chrono::NaiveDate;

    #[test]
    fn twelve_months_cross_the_year() {
        let m = Month::of(NaiveDate::from_ymd_opt(2026, 3, 15).expect("a date"));
        let months = m.last_n(12);
        assert_eq!(months.len(), 12);
        assert_eq!(
            months[0],
            Month {
                year: 2025,
                month: 4
            }
        );
        assert_eq!(months[11], m);
        assert_eq!(
            months[9],
            Month {
                year: 2026,
                month: 1
            }
        );
        assert_eq!(
            months[8],
            Month {
                year: 2025,
                month: 12
            }
        );
    }
}
