//! Keeps the students' stored folded text (`search_text`, `name_key`) in
//! step with `srs_domain::fold`: every write stores it folded, and when
//! the folding rules change, the rows written under the old rules are
//! rebuilt once at start-up (the `text_folding` table says which rules
//! the stored text follows).

use crate::rows::{name_key, phone_digits, search_text};
use crate::write_tx::Counter;
use crate::{on_pool, Store, StoreResult};
use srs_domain::{Email, FullName, StudentNumber};

/// A student's columns that its folded text is made of.
type FoldedRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The folding rules' version; raise it whenever `fold` or
/// `fold_for_search` changes. 2: apostrophes dropped, dashes made spaces.
pub(crate) const FOLD_VERSION: i64 = 2;

/// Rows rebuilt per transaction.
const BATCH: i64 = 500;

impl Store {
    /// Rebuilds the folded text of every student when it was written under
    /// older rules. Idempotent: two instances starting at once do the same
    /// work twice, nothing worse.
    pub(crate) async fn refold_if_needed(&self) -> StoreResult<()> {
        let version: i64 = on_pool!(self, p => {
            sqlx::query_scalar("SELECT version FROM text_folding WHERE id = 1")
                .fetch_optional(p)
                .await?
                .unwrap_or(0)
        });
        if version >= FOLD_VERSION {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let mut after = 0i64;
        let mut rebuilt = 0u64;
        loop {
            let rows: Vec<FoldedRow> = on_pool!(self, p => {
                sqlx::query_as(
                    "SELECT id, full_name, student_number, email, phone, emergency_contacts \
                     FROM students WHERE id > ? ORDER BY id LIMIT ?",
                )
                .bind(after)
                .bind(BATCH)
                .fetch_all(p)
                .await?
            });
            let Some(last) = rows.last().map(|r| r.0) else {
                break;
            };
            let folded: Vec<(i64, String, String)> = rows
                .iter()
                .filter_map(|(id, name, number, email, phone, contacts)| {
                    // A row that no longer parses keeps its old text: the
                    // pages report it as corrupt on their own.
                    let name = FullName::parse(name).ok()?;
                    let number = StudentNumber::parse(number).ok()?;
                    let email = email.as_deref().and_then(|e| Email::parse(e).ok());
                    let phone = phone.clone().map(srs_domain::Phone::from_stored);
                    let contacts = srs_domain::EmergencyContacts::parse(
                        contacts.as_deref().unwrap_or_default(),
                    )
                    .ok()?;
                    Some((
                        *id,
                        name_key(&name),
                        search_text(
                            &name,
                            Some(&number),
                            email.as_ref(),
                            &phone_digits(phone.as_ref(), &contacts),
                        ),
                    ))
                })
                .collect();
            let mut tx = self.begin_write().await?;
            for (id, key, text) in &folded {
                tx.execute(
                    "UPDATE students SET name_key = ?, search_text = ? WHERE id = ?",
                    &[key.into(), text.into(), (*id).into()],
                )
                .await?;
            }
            tx.bump(Counter::Data).await?;
            tx.commit().await?;
            rebuilt += folded.len() as u64;
            after = last;
        }
        self.write_one(
            "UPDATE text_folding SET version = ? WHERE id = 1",
            &[FOLD_VERSION.into()],
        )
        .await?;
        tracing::info!(
            rebuilt,
            secs = started.elapsed().as_secs_f64(),
            version = FOLD_VERSION,
            "students' search text rebuilt for new folding rules"
        );
        Ok(())
    }
}
