//! The restorable window: the spans of time any second of which
//! `srs restore --at` can reach. Each MariaDB backup opens a span at its
//! snapshot; the span runs as far as the archive holds every transaction
//! after it without a gap. Spans that touch are merged, so a gap in the
//! archive shows as two spans rather than one that lies.

use crate::archive::Archive;
use crate::binlog::parse_position;
use crate::manifest::Manifest;
use chrono::{DateTime, Utc};

/// A span of restorable time, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    /// The earliest restorable point.
    pub from: DateTime<Utc>,
    /// The latest.
    pub to: DateTime<Utc>,
}

/// Where a backup's span ends: at the last transaction reached from its
/// snapshot without a gap, or at the snapshot itself.
fn span_of(manifest: &Manifest, archive: &Archive) -> Span {
    let from = manifest.taken_at;
    let start = manifest
        .gtid
        .as_deref()
        .and_then(|g| parse_position(g).ok())
        .unwrap_or_default();
    let mut to = from;
    for domain in archive.domains() {
        let after = start
            .iter()
            .find(|g| g.domain == domain)
            .map_or(0, |g| g.seq);
        let transactions = archive.transactions(domain);
        let unbroken = (after + 1..)
            .zip(transactions.range(after + 1..))
            .take_while(|(expected, (&seq, _))| seq == *expected);
        for (_, (_, located)) in unbroken {
            if let Some(at) = DateTime::from_timestamp(located.transaction.at, 0) {
                to = to.max(at);
            }
        }
    }
    Span { from, to }
}

/// The restorable spans, oldest first, from the store's backups and archive.
pub fn window(manifests: &[Manifest], archive: &Archive) -> Vec<Span> {
    let mut spans: Vec<Span> = manifests.iter().map(|m| span_of(m, archive)).collect();
    spans.sort_by_key(|s| s.from);
    let mut merged: Vec<Span> = Vec::new();
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.from <= last.to => last.to = last.to.max(span.to),
            _ => merged.push(span),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{archive, manifest};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("time")
    }

    #[test]
    fn a_continuous_archive_makes_one_span_from_the_oldest_backup() {
        let spans = window(
            &[manifest(1015, 1), manifest(1045, 4)],
            &archive(&[2, 3, 4, 5, 6]),
        );
        assert_eq!(
            spans,
            vec![Span {
                from: t(1015),
                to: t(1060)
            }]
        );
    }

    #[test]
    fn a_gap_splits_the_window_and_a_backup_after_it_reopens_it() {
        // Transactions 4 and 5 are missing: the first backup reaches 3; the
        // second (taken at 5) reaches 7.
        let spans = window(
            &[manifest(1015, 1), manifest(1055, 5)],
            &archive(&[2, 3, 6, 7]),
        );
        assert_eq!(
            spans,
            vec![
                Span {
                    from: t(1015),
                    to: t(1030)
                },
                Span {
                    from: t(1055),
                    to: t(1070)
                }
            ]
        );
    }

    #[test]
    fn without_an_archive_each_backup_is_its_own_point() {
        let spans = window(&[manifest(1015, 1)], &Archive::default());
        assert_eq!(
            spans,
            vec![Span {
                from: t(1015),
                to: t(1015)
            }]
        );
    }
}
