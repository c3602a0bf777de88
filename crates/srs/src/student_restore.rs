//! `srs restore --student ID --at …`: prints a student then and now and
//! asks before putting it back (the work is srs_backup::student_restore).

use anyhow::Context;
use srs_backup::student_restore::{self, Comparison};
use srs_backup::{pitr, BackupStore, Progress};
use srs_domain::StudentId;
use std::io::{BufRead, IsTerminal, Write};

/// Shows one student then and now, and puts it back when confirmed.
pub async fn run(
    backups: &BackupStore,
    plan: &pitr::Plan,
    live_url: &str,
    id: StudentId,
    yes: bool,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let seen = student_restore::compare(backups, plan, live_url, id, progress).await?;
    print_comparison(&seen);
    if !seen.differs() {
        println!("Nothing to put back: the record is as it was.");
        return Ok(());
    }
    if !yes && !confirmed(id)? {
        return Ok(());
    }
    student_restore::put_back(live_url, &seen).await?;
    println!(
        "Student {id} is back as it was ({}); the change is in the audit trail as \"{}\".",
        seen.point,
        seen.actor().label
    );
    Ok(())
}

fn print_comparison(seen: &Comparison) {
    println!(
        "Student {} ({}), then ({}) and now:",
        seen.id, seen.now.student_number, seen.point
    );
    let rows = seen.rows();
    let width = rows
        .iter()
        .map(|r| r.then.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("  {:<14} {:<width$}  NOW", "", "THEN");
    for r in &rows {
        let mark = if r.differs() { '*' } else { ' ' };
        println!("{mark} {:<14} {:<width$}  {}", r.field, r.then, r.now);
    }
}

/// Asks on the terminal; without one, says how to confirm and declines.
fn confirmed(id: StudentId) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        println!("Nothing changed. Run again with --yes to put the record back as it was.");
        return Ok(false);
    }
    print!("Put student {id} back as it was? [y/N] ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    let yes = matches!(answer.trim(), "y" | "Y" | "yes");
    if !yes {
        println!("Nothing changed.");
    }
    Ok(yes)
}
