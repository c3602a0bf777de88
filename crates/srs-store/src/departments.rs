//! Departments: listed, added, renamed, retired; deleted only when unused.

use crate::audit::{to_json, write_audit, Actor};
use crate::constraints::UniqueKey;
use crate::rows::DepartmentRow;
use crate::write_tx::Counter;
use crate::{on_pool, Store, StoreError, StoreResult};
use chrono::Utc;
use srs_domain::{AuditAction, Department, DepartmentId, DepartmentName};

/// A change to a department; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DepartmentChange {
    /// New name.
    pub name: Option<DepartmentName>,
    /// `Some(true)` retires, `Some(false)` brings back.
    pub retired: Option<bool>,
}

const DEPARTMENT_SELECT: &str = "SELECT d.id, d.name, d.retired_at, d.created_at, d.updated_at, \
    (SELECT COUNT(*) FROM students s WHERE s.department_id = d.id) AS student_count \
    FROM departments d";

impl Store {
    /// Every department, retired ones included, by name.
    pub async fn list_departments(&self) -> StoreResult<Vec<Department>> {
        let sql = format!("{DEPARTMENT_SELECT} ORDER BY d.name_key");
        let rows: Vec<DepartmentRow> = on_pool!(self, p => {
            sqlx::query_as(&sql).fetch_all(p).await?
        });
        rows.into_iter().map(Department::try_from).collect()
    }

    /// Department names by name, for pick lists; retired ones only if asked.
    pub async fn department_names(&self, include_retired: bool) -> StoreResult<Vec<String>> {
        let generation = self.generation().await?;
        self.department_names_at(generation, include_retired).await
    }

    pub(crate) async fn department_names_at(
        &self,
        generation: i64,
        include_retired: bool,
    ) -> StoreResult<Vec<String>> {
        if let Some(hit) = self.cache.department_names(include_retired, generation) {
            return Ok(hit);
        }
        let sql = if include_retired {
            "SELECT name FROM departments ORDER BY name_key"
        } else {
            "SELECT name FROM departments WHERE retired_at IS NULL ORDER BY name_key"
        };
        let names: Vec<String> = on_pool!(self, p => sqlx::query_scalar(sql).fetch_all(p).await?);
        self.cache
            .remember_department_names(include_retired, generation, names.clone());
        Ok(names)
    }

    /// One department by id.
    pub async fn get_department(&self, id: DepartmentId) -> StoreResult<Department> {
        let sql = format!("{DEPARTMENT_SELECT} WHERE d.id = ?");
        let row: Option<DepartmentRow> = on_pool!(self, p => {
            sqlx::query_as(&sql).bind(id.get()).fetch_optional(p).await?
        });
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// Adds a department; names are unique regardless of case.
    #[tracing::instrument(skip_all)]
    pub async fn create_department(
        &self,
        name: &DepartmentName,
        actor: &Actor,
    ) -> StoreResult<Department> {
        let now = Utc::now();
        let key = name.unique_key();
        let mut tx = self.begin_write().await?;
        let inserted = tx
            .execute(
                "INSERT INTO departments (name, name_key, retired_at, created_at, updated_at) \
                 VALUES (?, ?, NULL, ?, ?)",
                &[
                    name.as_str().into(),
                    key.as_str().into(),
                    now.into(),
                    now.into(),
                ],
            )
            .await
            .map_err(|e| name_taken(e, name))?;
        let id = inserted.inserted_id;
        let after = serde_json::json!({"id": id, "name": name, "retired": false}).to_string();
        write_audit(
            &mut tx,
            actor,
            AuditAction::DepartmentCreate,
            "department",
            Some(id),
            None,
            Some(&after),
        )
        .await?;
        // Students show the department's name, and the list's department
        // choices are read at the data generation: both are read again.
        tx.bump(Counter::Data).await?;
        tx.bump(Counter::Departments).await?;
        tx.commit().await?;
        tracing::info!(department_id = id, "department created");
        self.get_department(DepartmentId::new(id)).await
    }

    /// Renames, retires or brings back a department.
    #[tracing::instrument(skip_all, fields(department_id = %id))]
    pub async fn update_department(
        &self,
        id: DepartmentId,
        change: &DepartmentChange,
        actor: &Actor,
    ) -> StoreResult<Department> {
        let current = self.get_department(id).await?;
        let before_json = to_json(&current)?;
        let name = change.name.as_ref().unwrap_or(&current.name);
        let retired = change.retired.unwrap_or(current.retired);
        let now = Utc::now();
        let retired_at = if retired {
            Some(if current.retired {
                // Keep the original retirement time.
                current.updated_at
            } else {
                now
            })
        } else {
            None
        };
        let key = name.unique_key();
        let mut tx = self.begin_write().await?;
        tx.execute(
            "UPDATE departments SET name = ?, name_key = ?, retired_at = ?, updated_at = ? WHERE id = ?",
            &[
                name.as_str().into(),
                key.as_str().into(),
                retired_at.into(),
                now.into(),
                id.get().into(),
            ],
        )
        .await
        .map_err(|e| name_taken(e, name))?;
        let after = serde_json::json!({"id": id, "name": name, "retired": retired}).to_string();
        write_audit(
            &mut tx,
            actor,
            AuditAction::DepartmentUpdate,
            "department",
            Some(id.get()),
            Some(&before_json),
            Some(&after),
        )
        .await?;
        // Students show the department's name, and the list's department
        // choices are read at the data generation: both are read again.
        tx.bump(Counter::Data).await?;
        tx.bump(Counter::Departments).await?;
        tx.commit().await?;
        tracing::info!("department updated");
        self.get_department(id).await
    }

    /// Deletes a department no record names, live or deleted.
    #[tracing::instrument(skip_all, fields(department_id = %id))]
    pub async fn delete_department(&self, id: DepartmentId, actor: &Actor) -> StoreResult<()> {
        let before_json = to_json(&self.get_department(id).await?)?;
        let mut tx = self.begin_write().await?;
        let (in_use,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM students WHERE department_id = ?",
                &[id.get().into()],
            )
            .await?;
        if in_use > 0 {
            return Err(StoreError::Conflict(format!(
                "the department is used by {in_use} record(s) and cannot be deleted; retire it instead"
            )));
        }
        let deleted = tx
            .execute("DELETE FROM departments WHERE id = ?", &[id.get().into()])
            .await?
            .rows;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            actor,
            AuditAction::DepartmentDelete,
            "department",
            Some(id.get()),
            Some(&before_json),
            None,
        )
        .await?;
        tx.bump(Counter::Data).await?;
        tx.bump(Counter::Departments).await?;
        tx.commit().await?;
        tracing::info!("department deleted");
        Ok(())
    }
}

/// A department name another department holds, as the caller says it.
fn name_taken(e: sqlx::Error, name: &DepartmentName) -> StoreError {
    if UniqueKey::violated_by(&e) == Some(UniqueKey::DepartmentName) {
        UniqueKey::DepartmentName.taken(name.as_str())
    } else {
        e.into()
    }
}
