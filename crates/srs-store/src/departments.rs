//! Departments: listed, added, renamed, retired; deleted only when unused.

use crate::audit::{to_json, write_audit, Actor};
use crate::constraints::UniqueKey;
use crate::dialect::InsertedId;
use crate::generation::in_write_tx;
use crate::rows::DepartmentRow;
use crate::{on_pool, on_writer, Store, StoreError, StoreResult};
use chrono::Utc;
use srs_domain::{Department, DepartmentId, DepartmentName};

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
        let result = on_writer!(self, p => in_write_tx!(p, tx => {
            let id = sqlx::query(
                "INSERT INTO departments (name, name_key, retired_at, created_at, updated_at) \
                 VALUES (?, ?, NULL, ?, ?)",
            )
            .bind(name.as_str())
            .bind(name.unique_key())
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .inserted_id();
            let after = serde_json::json!({"id": id, "name": name, "retired": false}).to_string();
            write_audit!(tx, actor, srs_domain::AuditAction::DepartmentCreate, "department", Some(id), None::<String>, Some(after)).await?;
            crate::generation::bump_department_generation!(tx).await?;
            id
        }));
        match result {
            Ok(id) => {
                tracing::info!(department_id = id, "department created");
                self.get_department(DepartmentId::new(id)).await
            }
            Err(e) if UniqueKey::violated_by(&e) == Some(UniqueKey::DepartmentName) => {
                Err(UniqueKey::DepartmentName.taken(name.as_str()))
            }
            Err(e) => Err(e.into()),
        }
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
        let result = on_writer!(self, p => in_write_tx!(p, tx => {
            sqlx::query(
                "UPDATE departments SET name = ?, name_key = ?, retired_at = ?, updated_at = ? WHERE id = ?",
            )
            .bind(name.as_str())
            .bind(name.unique_key())
            .bind(retired_at)
            .bind(now)
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
            let after = serde_json::json!({"id": id, "name": name, "retired": retired}).to_string();
            write_audit!(tx, actor, srs_domain::AuditAction::DepartmentUpdate, "department", Some(id.get()), Some(before_json.clone()), Some(after)).await?;
            crate::generation::bump_department_generation!(tx).await?;
        }));
        match result {
            Ok(_) => {
                tracing::info!("department updated");
                self.get_department(id).await
            }
            Err(e) if UniqueKey::violated_by(&e) == Some(UniqueKey::DepartmentName) => {
                Err(UniqueKey::DepartmentName.taken(name.as_str()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a department no record names, live or deleted.
    #[tracing::instrument(skip_all, fields(department_id = %id))]
    pub async fn delete_department(&self, id: DepartmentId, actor: &Actor) -> StoreResult<()> {
        let before_json = to_json(&self.get_department(id).await?)?;
        let result: StoreResult<()> = on_writer!(self, p => {
            let mut tx = p.begin().await?;
            let in_use: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM students WHERE department_id = ?")
                .bind(id.get())
                .fetch_one(&mut *tx)
                .await?;
            if in_use > 0 {
                return Err(StoreError::Conflict(format!(
                    "the department is used by {in_use} record(s) and cannot be deleted; retire it instead"
                )));
            }
            let deleted = sqlx::query("DELETE FROM departments WHERE id = ?")
                .bind(id.get())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                return Err(StoreError::NotFound);
            }
            write_audit!(tx, actor, srs_domain::AuditAction::DepartmentDelete, "department", Some(id.get()), Some(before_json.clone()), None::<String>).await?;
            crate::generation::bump_generation!(tx).await?;
            crate::generation::bump_department_generation!(tx).await?;
            tx.commit().await?;
            Ok(())
        });
        result?;
        tracing::info!("department deleted");
        Ok(())
    }
}
