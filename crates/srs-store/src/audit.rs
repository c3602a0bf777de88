//! The audit trail: who changed what, when and from where. Entries are
//! written in the same transaction as the change and never altered.

use crate::write_tx::WriteTx;
use crate::{on_pool, Page, PageRequest, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use serde::Serialize;
use srs_domain::{AuditAction, UserId};

/// Who is making a change, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The account acting, if any (the command line acts as `system`).
    pub user_id: Option<UserId>,
    /// How the actor is shown: `ada`, `ada (token "ci")`, `system (srs user add)`.
    pub label: String,
    /// The client's address.
    pub client_addr: Option<String>,
    /// The request id, also in the logs.
    pub request_id: Option<String>,
}

impl Actor {
    /// An operator at the command line.
    pub fn system(what: &str) -> Self {
        Self {
            user_id: None,
            label: format!("system ({what})"),
            client_addr: None,
            request_id: None,
        }
    }
}

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Position in the trail.
    pub id: i64,
    /// When the change was committed.
    pub at: DateTime<Utc>,
    /// Who made it.
    pub actor: String,
    /// The acting account's id.
    pub actor_user_id: Option<i64>,
    /// What happened, e.g. `student.update`.
    pub action: String,
    /// What kind of thing changed: student, department, user, token.
    pub entity: String,
    /// Which one.
    pub entity_id: Option<i64>,
    /// Its fields before, as JSON text.
    pub before_json: Option<String>,
    /// Its fields after, as JSON text.
    pub after_json: Option<String>,
    /// From where.
    pub client_addr: Option<String>,
    /// The request id, to find the matching log lines.
    pub request_id: Option<String>,
}

/// Which entries an audit query returns.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this account's changes.
    pub actor_user_id: Option<UserId>,
    /// Only this action, e.g. `student.delete`.
    pub action: Option<String>,
    /// Only this kind of thing.
    pub entity: Option<String>,
    /// Only this one.
    pub entity_id: Option<i64>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// JSON of a value for the trail; a value that cannot be serialised is a bug.
pub(crate) fn to_json<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("audit serialisation: {e}")))
}

/// Appends an entry inside the change's own write, so that the trail and
/// the data never disagree.
pub(crate) async fn write_audit(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    action: AuditAction,
    entity: &str,
    entity_id: Option<i64>,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<(), sqlx::Error> {
    tx.execute(
        "INSERT INTO audit_log (at, actor, actor_user_id, action, entity, entity_id, \
         before_json, after_json, client_addr, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            Utc::now().into(),
            actor.label.as_str().into(),
            actor.user_id.map(UserId::get).into(),
            action.as_str().into(),
            entity.into(),
            entity_id.into(),
            before.into(),
            after.into(),
            actor.client_addr.as_deref().into(),
            actor.request_id.as_deref().into(),
        ],
    )
    .await?;
    Ok(())
}

impl Store {
    /// Entries matching `filter`, newest first.
    pub async fn audit_entries(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEntry>> {
        let per_page = page.per_page.clamp(1, PageRequest::MAX_PER_PAGE);
        let page_no = page.page.max(1);
        let mut conditions = vec!["1 = 1".to_owned()];
        let mut ints: Vec<i64> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut times: Vec<DateTime<Utc>> = Vec::new();
        // Bind order must follow placeholder order: texts, ints, then times.
        if let Some(a) = &filter.action {
            conditions.push("action = ?".into());
            texts.push(a.clone());
        }
        if let Some(e) = &filter.entity {
            conditions.push("entity = ?".into());
            texts.push(e.clone());
        }
        if let Some(u) = filter.actor_user_id {
            conditions.push("actor_user_id = ?".into());
            ints.push(u.get());
        }
        if let Some(id) = filter.entity_id {
            conditions.push("entity_id = ?".into());
            ints.push(id);
        }
        if let Some(since) = filter.since {
            conditions.push("at >= ?".into());
            times.push(since);
        }
        if let Some(until) = filter.until {
            conditions.push("at < ?".into());
            times.push(until);
        }
        let where_sql = conditions.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) FROM audit_log WHERE {where_sql}");
        let select_sql =
            format!("SELECT * FROM audit_log WHERE {where_sql} ORDER BY id DESC LIMIT ? OFFSET ?");
        let offset = i64::from(page_no - 1) * i64::from(per_page);
        let (total, items): (i64, Vec<AuditEntry>) = on_pool!(self, p => {
            let mut count = sqlx::query_scalar(&count_sql);
            let mut select = sqlx::query_as(&select_sql);
            for t in &texts {
                count = count.bind(t);
                select = select.bind(t);
            }
            for i in &ints {
                count = count.bind(i);
                select = select.bind(i);
            }
            for t in &times {
                count = count.bind(t);
                select = select.bind(t);
            }
            (
                count.fetch_one(p).await?,
                select.bind(i64::from(per_page)).bind(offset).fetch_all(p).await?,
            )
        });
        Ok(Page {
            items,
            total,
            page: page_no,
            per_page,
        })
    }

    /// Every entry, oldest first, in batches after `after_id`: for exports.
    pub async fn audit_batch(&self, after_id: i64, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        Ok(on_pool!(self, p => {
            sqlx::query_as("SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after_id)
                .bind(limit)
                .fetch_all(p)
                .await?
        }))
    }
}

impl Store {
    /// Who last deleted each of these students, from the trail.
    pub async fn deleted_by(
        &self,
        ids: &[srs_domain::StudentId],
    ) -> StoreResult<std::collections::HashMap<i64, String>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!(
            "SELECT entity_id, actor FROM audit_log WHERE entity = 'student' \
             AND action = ? AND entity_id IN ({}) ORDER BY id",
            crate::dialect::placeholders(ids.len())
        );
        let rows: Vec<(i64, String)> = on_pool!(self, p => {
            let mut q = sqlx::query_as(&sql).bind(srs_domain::AuditAction::StudentDelete.as_str());
            for id in ids {
                q = q.bind(id.get());
            }
            q.fetch_all(p).await?
        });
        // Oldest first: a later delete (after a restore) wins.
        Ok(rows.into_iter().collect())
    }
}
