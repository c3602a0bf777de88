//! Changing the status or department of many students at once: one
//! transaction, one audit entry per student changed, all or nothing.

use crate::audit::{to_json, write_audit};
use crate::dialect::placeholders;
use crate::filter::StudentFilter;
use crate::rows::{StudentRow, STUDENT_COLUMNS};
use crate::write_tx::Counter;
use crate::{Actor, Store, StoreError, StoreResult};
use chrono::Utc;
use srs_domain::{AuditAction, DepartmentName, Status, Student, StudentId};

/// Most students one bulk change may touch: a transaction holding more
/// locks than this would stall every other writer for seconds.
pub const MAX_BULK: usize = 10_000;

/// Which students a bulk change applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkTarget {
    /// These live students, as picked on the list.
    Picked(Vec<StudentId>),
    /// Every live student the filter matches, which the user was told
    /// numbered `expected`: a different number now means the list changed
    /// under them, and nothing is done.
    Matching {
        /// The list's filter (`deleted` must be false).
        filter: StudentFilter,
        /// How many matched when the change was confirmed.
        expected: i64,
    },
}

/// What a bulk change sets; at least one part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkChange {
    /// The new status.
    pub status: Option<Status>,
    /// The new department (must exist and not be retired).
    pub department: Option<DepartmentName>,
}

/// What a bulk change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Students changed (each with its audit entry).
    pub changed: usize,
    /// Students that already had the new values: left as they were.
    pub unchanged: usize,
}

/// Why the targets could not all be changed (found inside the transaction).
enum Refusal {
    Missing { wanted: usize, found: usize },
    Drifted { expected: i64, found: usize },
    TooMany,
}

/// A value bound to a target's query.
enum Arg {
    Id(i64),
    Text(String),
}

impl Arg {
    fn as_arg(&self) -> crate::write_tx::Arg<'_> {
        match self {
            Arg::Id(id) => (*id).into(),
            Arg::Text(text) => text.as_str().into(),
        }
    }
}

/// Binds `args` in order.
macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Id(i) => q.bind(*i),
                Arg::Text(t) => q.bind(t.as_str()),
            };
        }
        q
    }};
}

impl Store {
    /// The live students a target names, for showing before confirming.
    pub async fn bulk_preview(&self, target: &BulkTarget) -> StoreResult<Vec<Student>> {
        let (sql, args) = target_query(target)?;
        let rows: Vec<StudentRow> = crate::on_pool!(self, p => {
            bind_all!(sqlx::query_as(&sql), &args).fetch_all(p).await?
        });
        if rows.len() > MAX_BULK {
            return Err(too_many());
        }
        rows.into_iter().map(Student::try_from).collect()
    }

    /// Applies `change` to every student of `target` in one transaction,
    /// or to none of them.
    #[tracing::instrument(skip_all)]
    pub async fn bulk_change(
        &self,
        target: &BulkTarget,
        change: &BulkChange,
        actor: &Actor,
    ) -> StoreResult<BulkOutcome> {
        if change.status.is_none() && change.department.is_none() {
            return Err(StoreError::Conflict(
                "choose a new status or a new department".into(),
            ));
        }
        let department = match &change.department {
            Some(name) => Some(self.department_for_new_student(name).await?),
            None => None,
        };
        let (sql, args) = target_query(target)?;
        let sql = match &self.pool {
            // Locks the rows it reads: nothing changes them between the
            // check and the update.
            crate::Pool::MySql(..) => format!("{sql} FOR UPDATE"),
            // SQLite has no FOR UPDATE: its writer is alone anyway.
            crate::Pool::Sqlite(_) => sql,
        };
        let now = Utc::now();
        let args: Vec<crate::write_tx::Arg<'_>> = args.iter().map(Arg::as_arg).collect();
        let mut tx = self.begin_write().await?;
        let rows: Vec<StudentRow> = tx.fetch_all(&sql, &args).await?;
        if let Some(refusal) = refusal(target, rows.len()) {
            return Err(refusal.into());
        }
        let mut outcome = BulkOutcome {
            changed: 0,
            unchanged: 0,
        };
        for row in rows {
            let before = Student::try_from(row)?;
            let after = Student {
                status: change.status.unwrap_or(before.status),
                department: department
                    .as_ref()
                    .map_or_else(|| before.department.clone(), |(_, name)| name.clone()),
                updated_at: now,
                version: before.version + 1,
                ..before.clone()
            };
            if after.status == before.status
                && after.department.unique_key() == before.department.unique_key()
            {
                outcome.unchanged += 1;
                continue;
            }
            tx.execute(
                "UPDATE students SET status = ?, \
                 department_id = COALESCE(?, department_id), updated_at = ?, \
                 version = version + 1 WHERE id = ?",
                &[
                    after.status.as_str().into(),
                    department.as_ref().map(|(id, _)| id.get()).into(),
                    now.into(),
                    before.id.get().into(),
                ],
            )
            .await?;
            write_audit(
                &mut tx,
                actor,
                AuditAction::StudentUpdate,
                "student",
                Some(before.id.get()),
                Some(&to_json(&before)?),
                Some(&to_json(&after)?),
            )
            .await?;
            outcome.changed += 1;
        }
        tx.bump(Counter::Data).await?;
        tx.commit().await?;
        tracing::info!(
            changed = outcome.changed,
            unchanged = outcome.unchanged,
            "bulk change applied"
        );
        Ok(outcome)
    }
}

/// Why the rows read inside the write cannot all be changed, if so.
fn refusal(target: &BulkTarget, found: usize) -> Option<Refusal> {
    match target {
        _ if found > MAX_BULK => Some(Refusal::TooMany),
        BulkTarget::Picked(ids) if found != ids.len() => Some(Refusal::Missing {
            wanted: ids.len(),
            found,
        }),
        BulkTarget::Matching { expected, .. } if found as i64 != *expected => {
            Some(Refusal::Drifted {
                expected: *expected,
                found,
            })
        }
        _ => None,
    }
}

impl From<Refusal> for StoreError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Missing { wanted, found } => StoreError::Conflict(format!(
                "{} of the {wanted} chosen students were deleted or changed since they were chosen; nothing was changed",
                wanted - found
            )),
            Refusal::Drifted { expected, found } => StoreError::Conflict(format!(
                "the list changed since it was shown: {expected} students matched then, {found} match now; nothing was changed"
            )),
            Refusal::TooMany => too_many(),
        }
    }
}

fn too_many() -> StoreError {
    StoreError::Conflict(format!(
        "more than {MAX_BULK} students match; narrow the list (by department or status) and change them in parts"
    ))
}

/// The SELECT of a target's live students, and its arguments.
fn target_query(target: &BulkTarget) -> StoreResult<(String, Vec<Arg>)> {
    match target {
        BulkTarget::Picked(ids) => {
            if ids.is_empty() {
                return Err(StoreError::Conflict("no student was chosen".into()));
            }
            if ids.len() > MAX_BULK {
                return Err(StoreError::Conflict(format!(
                    "{} students were chosen; one change takes at most {MAX_BULK}",
                    ids.len()
                )));
            }
            let mut unique = ids.clone();
            unique.sort_unstable();
            unique.dedup();
            if unique.len() != ids.len() {
                return Err(StoreError::Conflict("a student was chosen twice".into()));
            }
            let marks = placeholders(ids.len());
            Ok((
                format!(
                    "SELECT {STUDENT_COLUMNS} FROM students s \
                     WHERE s.deleted_at IS NULL AND s.id IN ({marks}) ORDER BY s.id"
                ),
                ids.iter().map(|id| Arg::Id(id.get())).collect(),
            ))
        }
        BulkTarget::Matching { filter, .. } => {
            if filter.deleted {
                return Err(StoreError::Conflict(
                    "deleted students cannot be changed; restore them first".into(),
                ));
            }
            let (where_sql, args) = crate::students::where_clause(filter);
            Ok((
                format!(
                    "SELECT {STUDENT_COLUMNS} FROM students s {where_sql} ORDER BY s.id LIMIT {}",
                    MAX_BULK + 1
                ),
                args.into_iter().map(Arg::Text).collect(),
            ))
        }
    }
}
