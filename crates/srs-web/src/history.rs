//! Audit entries as people read them: which fields changed, from what to what.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use srs_store::AuditEntry;

/// Fields every change touches, or that the action itself names (a
/// delete or restore sets or clears `deleted_at`); listing them would hide
/// the real change.
const NOISE: [&str; 5] = ["updated_at", "version", "created_at", "id", "deleted_at"];

/// One field's change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// The field.
    pub field: String,
    /// Its value before (null when new).
    #[schema(value_type = Object)]
    pub before: Value,
    /// Its value after (null when removed).
    #[schema(value_type = Object)]
    pub after: Value,
}

/// One entry of a record's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// Position in the audit trail.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What, e.g. `student.update`.
    pub action: String,
    /// The kind of record: student, department, user, token.
    pub entity: String,
    /// Which one.
    pub entity_id: Option<i64>,
    /// From where.
    pub client_addr: Option<String>,
    /// The request id, to find the log lines.
    pub request_id: Option<String>,
    /// The fields that changed.
    pub changes: Vec<FieldChange>,
    /// The record before, if it existed.
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// The record after, if it still exists.
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

fn parse(json: Option<&str>) -> Option<Value> {
    json.and_then(|s| serde_json::from_str(s).ok())
}

/// The fields whose values differ between `before` and `after`; none for
/// a deletion (the record is kept whole to restore; every field going to
/// nothing would say otherwise).
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    if before.is_some() && after.is_none() {
        return Vec::new();
    }
    let empty = serde_json::Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut fields: Vec<&String> = b.keys().chain(a.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| !NOISE.contains(&f.as_str()))
        .filter_map(|f| {
            let (old, new) = (
                b.get(f).cloned().unwrap_or(Value::Null),
                a.get(f).cloned().unwrap_or(Value::Null),
            );
            (old != new).then(|| FieldChange {
                field: f.clone(),
                before: old,
                after: new,
            })
        })
        .collect()
}

impl From<AuditEntry> for HistoryEntry {
    fn from(e: AuditEntry) -> Self {
        let before = parse(e.before_json.as_deref());
        let after = parse(e.after_json.as_deref());
        Self {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            client_addr: e.client_addr,
            request_id: e.request_id,
            changes: changes(before.as_ref(), after.as_ref()),
            before,
            after,
        }
    }
}

impl FieldChange {
    /// The field as pages name it ("Status", "Date of birth").
    pub fn label(&self) -> String {
        field_label(&self.field)
    }

    /// The old value as shown on pages.
    pub fn before_text(&self) -> String {
        display_field(&self.field, &self.before)
    }

    /// The new value as shown on pages.
    pub fn after_text(&self) -> String {
        display_field(&self.field, &self.after)
    }
}

impl HistoryEntry {
    /// What happened, in words ("Student updated").
    pub fn what(&self) -> String {
        action_label(&self.action)
    }

    /// The record as people name it: a student's number and name, an
    /// account's or a department's name; the kind and id otherwise.
    pub fn record_name(&self) -> String {
        let record = self.after.as_ref().or(self.before.as_ref());
        let text = |key: &str| {
            record
                .and_then(|r| r.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let named = match self.entity.as_str() {
            "student" => match (text("student_number"), text("full_name")) {
                (Some(number), Some(name)) => Some(format!("{number} {name}")),
                (None, Some(name)) => Some(name),
                _ => None,
            },
            "user" => text("username").map(|u| format!("account {u}")),
            "department" => text("name").map(|d| format!("department {d}")),
            "token" => text("name").map(|t| format!("token {t}")),
            _ => None,
        };
        named.unwrap_or_else(|| match self.entity_id {
            Some(id) => format!("{} {id}", self.entity),
            None => self.entity.clone(),
        })
    }

    /// Whether the entry made a record (its changes are initial values,
    /// not from-to pairs).
    pub fn made(&self) -> bool {
        self.before.is_none() && self.after.is_some()
    }
}

/// A field name as pages show it.
pub fn field_label(field: &str) -> String {
    if let Some(f) = srs_domain::StudentField::named(field) {
        return f.label().to_owned();
    }
    match field {
        "deleted_at" => "Deleted on".into(),
        other => crate::page::capitalised(&other.replace('_', " ")),
    }
}

/// An audit action as pages show it: `student.update` is "Student
/// changed"; a name the trail does not know (from an older srs) as it is.
pub fn action_label(action: &str) -> String {
    srs_domain::AuditAction::named(action)
        .map_or_else(|| action.to_owned(), |a| a.label().to_owned())
}

/// A field's value as pages show it: statuses by their label.
pub fn display_field(field: &str, v: &Value) -> String {
    if field == "emergency_contacts" {
        if let Some(list) = v.as_array() {
            if list.is_empty() {
                return "—".into();
            }
            let text = |c: &Value, k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            return srs_domain::EmergencyContacts::joined(list.iter().map(|c| {
                srs_domain::EmergencyContacts::entry(
                    &text(c, "name"),
                    &text(c, "relationship"),
                    &text(c, "phone"),
                )
            }));
        }
    }
    if field == "status" {
        if let Some(status) = v.as_str().and_then(|s| srs_domain::Status::parse(s).ok()) {
            return status.label().to_owned();
        }
    }
    display(v)
}

/// A value as a short text for pages: strings bare, null as a dash.
pub fn display(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_only_the_fields_that_changed() {
        let before = json!({"full_name": "Ada", "status": "active", "version": 1, "email": null});
        let after =
            json!({"full_name": "Ada King", "status": "active", "version": 2, "email": "a@x.org"});
        let c = changes(Some(&before), Some(&after));
        let fields: Vec<&str> = c.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["email", "full_name"]);
        assert_eq!(
            changes(None, Some(&after)).len(),
            3,
            "a creation lists every field"
        );
    }

    #[test]
    fn changes_read_as_sentences_with_labels() {
        let c = changes(
            Some(&json!({"status": "on_leave", "date_of_birth": "2001-02-03"})),
            Some(&json!({"status": "active", "date_of_birth": "2001-02-04"})),
        );
        let shown: Vec<String> = c
            .iter()
            .map(|c| format!("{}: {} → {}", c.label(), c.before_text(), c.after_text()))
            .collect();
        assert_eq!(
            shown,
            vec![
                "Date of birth: 2001-02-03 → 2001-02-04",
                "Status: On leave → Active"
            ]
        );
        assert_eq!(action_label("student.update"), "Student changed");
        assert_eq!(
            action_label("user.reset_password"),
            "Account password reset"
        );
        assert_eq!(field_label("last_used_at"), "Last used at");
    }

    #[test]
    fn a_delete_and_a_restore_list_no_field_going_to_nothing() {
        let record =
            json!({"full_name": "Ada", "status": "active", "deleted_at": null, "version": 3});
        assert!(changes(Some(&record), None).is_empty(), "a delete");
        let deleted = json!({"full_name": "Ada", "status": "active", "deleted_at": "2026-12-05T10:00:00Z", "version": 4});
        let restored =
            json!({"full_name": "Ada", "status": "active", "deleted_at": null, "version": 5});
        assert!(
            changes(Some(&deleted), Some(&restored)).is_empty(),
            "a restore"
        );
        assert_eq!(action_label("student.delete"), "Student deleted");
        assert_eq!(action_label("student.restore"), "Student restored");
    }

    #[test]
    fn a_record_is_named_by_its_number_and_name() {
        let entry = |entity: &str, after: Value| HistoryEntry {
            id: 1,
            at: chrono::Utc::now(),
            actor: "admin".into(),
            action: format!("{entity}.update"),
            entity: entity.into(),
            entity_id: Some(52),
            client_addr: None,
            request_id: None,
            changes: Vec::new(),
            before: None,
            after: Some(after),
        };
        assert_eq!(
            entry(
                "student",
                json!({"student_number": "S2026-000052", "full_name": "Ada King"})
            )
            .record_name(),
            "S2026-000052 Ada King"
        );
        assert_eq!(
            entry("user", json!({"username": "vera"})).record_name(),
            "account vera"
        );
        assert_eq!(entry("student", json!({})).record_name(), "student 52");
    }
}
