//! `srs restore --student ID --at …`: the common accident, undone for one
//! record. The past is rebuilt in a scratch database (the backup before
//! the point plus the archived binlogs up to it), the student is compared
//! as it was with how it is now, and, once the operator confirms, put back
//! through the store as a normal, audited change.

use crate::{pitr, BackupStore, Manifest, Progress};
use anyhow::{bail, Context};
use srs_domain::{Student, StudentField, StudentId, StudentPatch};
use srs_store::{Actor, Store, StoreError, StoreOptions};

/// One field, then and now, as shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRow {
    /// The field's label ("Record" for live or deleted).
    pub field: &'static str,
    /// Its value at the point.
    pub then: String,
    /// Its value now.
    pub now: String,
}

impl FieldRow {
    /// The value changed since the point.
    pub fn differs(&self) -> bool {
        self.then != self.now
    }
}

/// One student at a past point and now.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The student.
    pub id: StudentId,
    /// The point, in words ("GTID 0-1-42" or "backup ID").
    pub point: String,
    /// As it was.
    pub then: Student,
    /// As it is.
    pub now: Student,
}

impl Comparison {
    /// Every field and the record's state, then and now.
    pub fn rows(&self) -> Vec<FieldRow> {
        rows(&self.then, &self.now)
    }

    /// Something differs: there is something to put back.
    pub fn differs(&self) -> bool {
        self.rows().iter().any(FieldRow::differs)
    }

    /// Who the audit trail names for the change that puts it back.
    pub fn actor(&self) -> Actor {
        Actor::system(&format!("srs restore --student, as of {}", self.point))
    }
}

fn rows(then: &Student, now: &Student) -> Vec<FieldRow> {
    let shown = |s: &Student, f: StudentField| {
        let text = s.shown(f).replace('\n', ", ");
        if text.is_empty() {
            "-".to_owned()
        } else {
            text
        }
    };
    let state = |s: &Student| {
        s.deleted_at.map_or("live".to_owned(), |t| {
            format!("deleted {}", t.format("%Y-%m-%d %H:%M:%S UTC"))
        })
    };
    StudentField::ALL
        .into_iter()
        .filter(|f| *f != StudentField::StudentNumber)
        .map(|f| FieldRow {
            field: f.label(),
            then: shown(then, f),
            now: shown(now, f),
        })
        .chain(std::iter::once(FieldRow {
            field: "Record",
            then: state(then),
            now: state(now),
        }))
        .collect()
}

/// The change that makes `now` what `then` was (fields only).
fn patch(then: &Student, now: &Student) -> StudentPatch {
    StudentPatch {
        version: now.version,
        full_name: (then.full_name != now.full_name).then(|| then.full_name.clone()),
        email: (then.email != now.email).then(|| then.email.clone()),
        phone: (then.phone != now.phone).then(|| then.phone.clone()),
        address: (then.address != now.address).then(|| then.address.clone()),
        emergency_contacts: (then.emergency_contacts != now.emergency_contacts)
            .then(|| then.emergency_contacts.clone()),
        date_of_birth: (then.date_of_birth != now.date_of_birth).then_some(then.date_of_birth),
        department: (then.department != now.department).then(|| then.department.clone()),
        status: (then.status != now.status).then_some(then.status),
        enrolled_on: (then.enrolled_on != now.enrolled_on).then_some(then.enrolled_on),
    }
}

async fn open(url: &str) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: 2,
        ..StoreOptions::default()
    };
    Store::connect(url, &options)
        .await
        .context("cannot open the database")
}

/// Rebuilds the past `plan` names in a scratch server and reads student
/// `id` there and in the live database at `live_url`.
pub async fn compare(
    backups: &BackupStore,
    plan: &pitr::Plan,
    live_url: &str,
    id: StudentId,
    progress: &mut Progress,
) -> anyhow::Result<Comparison> {
    let dir = backups.existing(&plan.backup)?;
    let manifest = Manifest::read(&dir)?;
    crate::check_files(&dir, &manifest)?;
    crate::key::key_for(&manifest.id, manifest.encryption.as_ref(), backups.key())?;
    progress.stage("scratch server", 0);
    let scratch = crate::scratch::Scratch::start().await?;
    let then = async {
        crate::restore(
            &dir,
            &manifest,
            backups.key(),
            &scratch.url(),
            crate::Overwrite::Refuse,
            progress,
        )
        .await?;
        pitr::replay(plan, &scratch.url(), progress).await?;
        let past = open(&scratch.url()).await?;
        let found = past.get_student_any(id).await;
        past.close().await;
        found.map_err(|e| match e {
            StoreError::NotFound => anyhow::anyhow!("student {id} did not exist at that point"),
            other => anyhow::Error::from(other),
        })
    }
    .await;
    scratch.stop().await;
    let then = then?;
    let live = open(live_url).await?;
    let now = live.get_student_any(id).await;
    live.close().await;
    let now = match now {
        Ok(s) => s,
        Err(StoreError::NotFound) => {
            bail!("student {id} is no longer in the database (purged); add it again from the values above")
        }
        Err(e) => return Err(e.into()),
    };
    let point = plan.to.map_or_else(
        || format!("backup {}", plan.backup),
        |t| format!("GTID {}", t.transaction.gtid),
    );
    Ok(Comparison {
        id,
        point,
        then,
        now,
    })
}

/// Puts the student back as it was: restores a deleted record, sets the
/// fields that changed, deletes it again if it was deleted then; each an
/// audited change by [`Comparison::actor`]. A record changed since the
/// comparison was read is refused by its version, and nothing is written.
pub async fn put_back(live_url: &str, seen: &Comparison) -> anyhow::Result<()> {
    let live = open(live_url).await?;
    let done = put_back_on(&live, seen).await;
    live.close().await;
    done
}

async fn put_back_on(live: &Store, seen: &Comparison) -> anyhow::Result<()> {
    let actor = seen.actor();
    let (id, then) = (seen.id, &seen.then);
    let mut current = seen.now.clone();
    if current.deleted_at.is_some() && then.deleted_at.is_none() {
        current = live
            .restore_student(id, &actor)
            .await
            .context("restoring the record")?;
    }
    let change = patch(then, &current);
    if !change.is_empty() {
        current = live
            .update_student(&current, &change, &actor)
            .await
            .context("putting the values back")?;
    }
    if then.deleted_at.is_some() && current.deleted_at.is_none() {
        live.delete_student(id, &actor)
            .await
            .context("deleting the record again")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};
    use srs_domain::{NewStudent, RawStudent, Status, StudentNumber};

    fn student(name: &str, email: &str) -> Student {
        let raw = RawStudent::default()
            .with(StudentField::FullName, name)
            .with(StudentField::Email, email)
            .with(StudentField::DateOfBirth, "2000-12-10")
            .with(StudentField::Department, "Computer Science");
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        let new = NewStudent::parse(&raw, today).expect("valid");
        Student::created(
            &new,
            StudentId::new(7),
            StudentNumber::generated(2026, 7),
            new.department.clone(),
            Utc::now(),
        )
    }

    #[test]
    fn the_patch_puts_back_exactly_the_fields_that_changed() {
        let then = student("Ada Lovelace", "ada@example.edu");
        let mut now = student("Ada King", "ada@example.edu");
        now.status = Status::Withdrawn;
        now.version = 4;
        let change = patch(&then, &now);
        assert_eq!(change.version, 4, "written against the version read now");
        assert!(change.email.is_none(), "an unchanged field is left alone");
        let restored = change.applied_to(&now);
        assert_eq!(restored.full_name, then.full_name);
        assert_eq!(restored.status, then.status);
        assert!(patch(&then, &then).is_empty());
    }

    #[test]
    fn the_rows_mark_what_differs_including_a_deletion() {
        let then = student("Ada Lovelace", "ada@example.edu");
        let mut now = student("Ada Lovelace", "king@example.edu");
        now.deleted_at = Some(Utc::now());
        let seen = Comparison {
            id: now.id,
            point: "GTID 0-1-42".into(),
            then,
            now,
        };
        let differing: Vec<&str> = seen
            .rows()
            .into_iter()
            .filter(FieldRow::differs)
            .map(|r| r.field)
            .collect();
        assert_eq!(differing, ["Email", "Record"]);
        assert!(seen.differs());
        assert!(seen.actor().label.contains("GTID 0-1-42"));
    }
}
