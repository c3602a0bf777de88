//! `srs restore --student ID --at …`: the common accident, undone for one
//! record. The past is rebuilt in a scratch database (the backup before
//! the point plus the archived binlogs up to it), the student is shown as
//! it was next to how it is now, and, once confirmed, put back through the
//! store as a normal, audited change.

use anyhow::{bail, Context};
use srs_backup::{BackupStore, Manifest, Progress};
use srs_domain::{Student, StudentField, StudentId, StudentPatch};
use srs_store::{Actor, Store, StoreError, StoreOptions};
use std::io::{BufRead, IsTerminal, Write};

/// One field, then and now.
struct Row {
    field: &'static str,
    then: String,
    now: String,
}

fn rows(then: &Student, now: &Student) -> Vec<Row> {
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
        .map(|f| Row {
            field: f.label(),
            then: shown(then, f),
            now: shown(now, f),
        })
        .chain(std::iter::once(Row {
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

/// Shows one student then and now, and puts it back when confirmed.
pub async fn run(
    backups: &BackupStore,
    plan: &srs_backup::pitr::Plan,
    live_url: &str,
    id: StudentId,
    yes: bool,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let dir = backups.existing(&plan.backup)?;
    let manifest = Manifest::read(&dir)?;
    srs_backup::check_files(&dir, &manifest)?;
    srs_backup::key::key_for(&manifest.id, manifest.encryption.as_ref(), backups.key())?;
    progress.stage("scratch server", 0);
    let scratch = srs_backup::scratch::Scratch::start().await?;
    let then = async {
        srs_backup::restore(
            &dir,
            &manifest,
            backups.key(),
            &scratch.url(),
            srs_backup::Overwrite::Refuse,
            progress,
        )
        .await?;
        srs_backup::pitr::replay(plan, &scratch.url(), progress).await?;
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
    let now = match live.get_student_any(id).await {
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
    println!(
        "Student {id} ({}), then ({point}) and now:",
        now.student_number
    );
    let table = rows(&then, &now);
    let width = table
        .iter()
        .map(|r| r.then.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("  {:<14} {:<width$}  NOW", "", "THEN");
    let mut differs = false;
    for r in &table {
        let mark = if r.then == r.now { ' ' } else { '*' };
        differs |= r.then != r.now;
        println!("{mark} {:<14} {:<width$}  {}", r.field, r.then, r.now);
    }
    if !differs {
        println!("Nothing to put back: the record is as it was.");
        live.close().await;
        return Ok(());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            println!("Nothing changed. Run again with --yes to put the record back as it was.");
            live.close().await;
            return Ok(());
        }
        print!("Put student {id} back as it was? [y/N] ");
        std::io::stdout().flush().ok();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("reading the answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing changed.");
            live.close().await;
            return Ok(());
        }
    }
    let actor = Actor::system(&format!("srs restore --student, as of {point}"));
    let mut current = now;
    if current.deleted_at.is_some() && then.deleted_at.is_none() {
        current = live
            .restore_student(id, &actor)
            .await
            .context("restoring the record")?;
    }
    let change = patch(&then, &current);
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
    live.close().await;
    println!(
        "Student {id} is back as it was ({point}); the change is in the audit trail as \"{}\".",
        actor.label
    );
    Ok(())
}
