//! Which fields of a student others changed after a given version, read
//! from the audit trail: what an edit made from that version may clash
//! with. An edit from an older version then applies where nobody else
//! wrote, and only real clashes are refused.

use crate::{on_pool, Store, StoreResult};
use serde_json::Value;
use srs_domain::{StudentField, StudentId};
use std::collections::BTreeSet;

/// The field changes one audited write made: `before` and `after` as the
/// trail holds them (an absent `after`, a deletion, changes no field).
fn changed_fields(before: &Value, after: Option<&Value>) -> BTreeSet<StudentField> {
    let Some(after) = after else {
        return BTreeSet::new();
    };
    StudentField::ALL
        .into_iter()
        .filter(|f| before.get(f.name()) != after.get(f.name()))
        .collect()
}

/// The fields changed by the writes whose `before` versions run from
/// `from` up to (not including) `to`; None unless the entries account for
/// every one of those versions.
pub(crate) fn changed_between(
    entries: &[(Value, Option<Value>)],
    from: i64,
    to: i64,
) -> Option<BTreeSet<StudentField>> {
    let mut seen = BTreeSet::new();
    let mut changed = BTreeSet::new();
    for (before, after) in entries {
        let Some(version) = before.get("version").and_then(Value::as_i64) else {
            continue;
        };
        if (from..to).contains(&version) {
            seen.insert(version);
            changed.extend(changed_fields(before, after.as_ref()));
        }
    }
    (seen.len() as i64 == to - from).then_some(changed)
}

impl Store {
    /// The fields others changed between `from` and `to` (the versions),
    /// from the audit trail; every field when the trail cannot say (an
    /// entry missing or unreadable), so a doubt is a clash, not an
    /// overwrite.
    pub(crate) async fn fields_changed_between(
        &self,
        id: StudentId,
        from: i64,
        to: i64,
    ) -> StoreResult<BTreeSet<StudentField>> {
        let rows: Vec<(Option<String>, Option<String>)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT before_json, after_json FROM audit_log \
                 WHERE entity = 'student' AND entity_id = ? ORDER BY id DESC LIMIT 1000",
            )
            .bind(id.get())
            .fetch_all(p)
            .await?
        });
        let entries: Vec<(Value, Option<Value>)> = rows
            .into_iter()
            .filter_map(|(before, after)| {
                let before = serde_json::from_str(before.as_deref()?).ok()?;
                let after = after.and_then(|a| serde_json::from_str(&a).ok());
                Some((before, after))
            })
            .collect();
        Ok(changed_between(&entries, from, to)
            .unwrap_or_else(|| StudentField::ALL.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(version: i64, before: Value, after: Value) -> (Value, Option<Value>) {
        let mut b = before;
        b["version"] = json!(version);
        let mut a = after;
        a["version"] = json!(version + 1);
        (b, Some(a))
    }

    #[test]
    fn the_fields_changed_after_a_version_are_those_the_trail_shows() {
        let entries = vec![
            write(
                1,
                json!({"status": "active"}),
                json!({"status": "on_leave"}),
            ),
            write(2, json!({"full_name": "A"}), json!({"full_name": "B"})),
            // A deletion: no field changes, but it accounts for version 3.
            (json!({"version": 3, "status": "on_leave"}), None),
        ];
        let only_status: BTreeSet<_> = [StudentField::Status].into();
        assert_eq!(changed_between(&entries, 1, 2), Some(only_status));
        assert_eq!(
            changed_between(&entries, 2, 4),
            Some([StudentField::FullName].into())
        );
        assert_eq!(changed_between(&entries, 3, 3), Some(BTreeSet::new()));
    }

    #[test]
    fn a_gap_in_the_trail_is_a_doubt() {
        let entries = vec![write(1, json!({}), json!({"status": "x"}))];
        assert_eq!(changed_between(&entries, 1, 3), None);
    }
}
