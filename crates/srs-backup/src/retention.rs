//! Retention as a recovery window: which backups stay, and why (pure:
//! tested without a store). Every point of the last `window` stays
//! restorable: each backup taken inside it stays, and so does the newest
//! one taken before it (the window's first points roll forward from it).
//! Only backups older than that one can go, thinned to the newest of each
//! of the last `keep_daily` days and `keep_weekly` weeks that have one
//! before the window. The newest backup and every backup kept by hand
//! always stay.

use crate::layout::BackupId;
use crate::manifest::Engine;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::collections::BTreeSet;
use std::fmt;

/// The retention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Every point of this much recent time stays restorable.
    pub window: chrono::Duration,
    /// Beyond the window: the newest backup of each of this many days...
    pub keep_daily: u32,
    /// ...and of this many ISO weeks.
    pub keep_weekly: u32,
}

impl Retention {
    /// Where the recovery window starts at `now`.
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.window
    }
}

/// What retention needs to know of one backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The backup.
    pub id: BackupId,
    /// Its engine: each engine's backups form their own window.
    pub engine: Engine,
    /// Its snapshot time.
    pub taken_at: DateTime<Utc>,
    /// Kept by hand (`srs backup keep`), with the operator's label.
    pub kept_by_hand: Option<String>,
}

/// Why a backup stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeptBecause {
    /// An operator keeps it until released.
    ByHand(String),
    /// The newest backup always stays.
    Newest,
    /// Taken inside the recovery window.
    InWindow,
    /// The newest backup before the window's start: the window's first
    /// points roll forward from it.
    StartsWindow,
    /// Beyond the window: the newest of its day.
    Daily(NaiveDate),
    /// Beyond the window: the newest of its ISO week.
    Weekly {
        /// ISO year.
        year: i32,
        /// ISO week number.
        week: u32,
    },
}

impl fmt::Display for KeptBecause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeptBecause::ByHand(label) if label.is_empty() => {
                f.write_str("kept by hand until released")
            }
            KeptBecause::ByHand(label) => write!(f, "kept by hand until released: {label}"),
            KeptBecause::Newest => f.write_str("the newest backup"),
            KeptBecause::InWindow => f.write_str("inside the recovery window"),
            KeptBecause::StartsWindow => {
                f.write_str("starts the recovery window (its first points roll forward from it)")
            }
            KeptBecause::Daily(day) => write!(f, "the newest of {day} (keep_daily)"),
            KeptBecause::Weekly { year, week } => {
                write!(f, "the newest of week {year}-W{week:02} (keep_weekly)")
            }
        }
    }
}

/// What retention does with one backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It stays.
    Keep(KeptBecause),
    /// It goes: `starts_window`, a newer backup from before the window,
    /// already reaches every point it could.
    Remove {
        /// The backup that starts the window.
        starts_window: BackupId,
    },
}

impl Verdict {
    /// Whether the backup stays.
    pub fn keeps(&self) -> bool {
        matches!(self, Verdict::Keep(_))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Keep(why) => why.fmt(f),
            Verdict::Remove { starts_window } => write!(
                f,
                "older than the recovery window, and not the newest of a kept day or week \
                 ({starts_window} starts the window)"
            ),
        }
    }
}

/// Every candidate with its verdict, in the order given.
pub fn plan(
    candidates: &[Candidate],
    retention: Retention,
    now: DateTime<Utc>,
) -> Vec<(BackupId, Verdict)> {
    let start = retention.window_start(now);
    let mut verdicts: Vec<Option<Verdict>> = vec![None; candidates.len()];
    for engine in [Engine::Mariadb, Engine::Sqlite] {
        let mut newest_first: Vec<usize> = (0..candidates.len())
            .filter(|&i| candidates[i].engine == engine)
            .collect();
        newest_first.sort_by(|&a, &b| {
            let (a, b) = (&candidates[a], &candidates[b]);
            b.taken_at.cmp(&a.taken_at).then(b.id.cmp(&a.id))
        });
        let Some(&newest) = newest_first.first() else {
            continue;
        };
        let anchor = newest_first
            .iter()
            .copied()
            .find(|&i| candidates[i].taken_at <= start);
        let mut days = BTreeSet::new();
        let mut weeks = BTreeSet::new();
        for &i in &newest_first {
            let c = &candidates[i];
            let day = c.taken_at.date_naive();
            let iso = c.taken_at.iso_week();
            // Days and weeks count only beyond the window.
            let beyond = c.taken_at <= start;
            let newest_of_day =
                beyond && days.len() < retention.keep_daily as usize && days.insert(day);
            let newest_of_week = beyond
                && weeks.len() < retention.keep_weekly as usize
                && weeks.insert((iso.year(), iso.week()));
            let verdict = if let Some(label) = &c.kept_by_hand {
                Verdict::Keep(KeptBecause::ByHand(label.clone()))
            } else if i == newest {
                Verdict::Keep(KeptBecause::Newest)
            } else if c.taken_at > start {
                Verdict::Keep(KeptBecause::InWindow)
            } else if Some(i) == anchor {
                Verdict::Keep(KeptBecause::StartsWindow)
            } else if newest_of_day {
                Verdict::Keep(KeptBecause::Daily(day))
            } else if newest_of_week {
                Verdict::Keep(KeptBecause::Weekly {
                    year: iso.year(),
                    week: iso.week(),
                })
            } else {
                Verdict::Remove {
                    // A backup older than the window exists (this one), so
                    // the anchor does too.
                    starts_window: anchor
                        .map_or_else(|| c.id.clone(), |a| candidates[a].id.clone()),
                }
            };
            verdicts[i] = Some(verdict);
        }
    }
    candidates
        .iter()
        .zip(verdicts)
        .filter_map(|(c, v)| Some((c.id.clone(), v?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    fn id(n: u32) -> BackupId {
        format!("20260101T{:06}Z", n).parse().expect("id")
    }

    fn candidate(n: u32, taken_at: DateTime<Utc>) -> Candidate {
        Candidate {
            id: id(n),
            engine: Engine::Mariadb,
            taken_at,
            kept_by_hand: None,
        }
    }

    fn kept(plan: &[(BackupId, Verdict)]) -> BTreeSet<BackupId> {
        plan.iter()
            .filter(|(_, v)| v.keeps())
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn days(n: i64) -> chrono::Duration {
        chrono::Duration::days(n)
    }

    #[test]
    fn an_operator_s_backup_five_seconds_before_the_agent_s_stays() {
        // The reported sequence: the operator's backup, then the agent's
        // first scheduled one five seconds later, the same day.
        let operator = candidate(1, at("2026-12-05T10:00:00Z"));
        let agent = candidate(2, at("2026-12-05T10:00:05Z"));
        let retention = Retention {
            window: days(7),
            keep_daily: 7,
            keep_weekly: 4,
        };
        let plan = plan(&[operator, agent], retention, at("2026-12-05T10:00:10Z"));
        assert_eq!(kept(&plan), [id(1), id(2)].into_iter().collect());
        assert_eq!(plan[0].1, Verdict::Keep(KeptBecause::InWindow));
        assert_eq!(plan[1].1, Verdict::Keep(KeptBecause::Newest));
    }

    #[test]
    fn beyond_the_window_the_newest_of_each_day_and_week_stays() {
        // Two a day from 2026-11-01 to 11-30; a 7-day window at 12-01.
        let mut backups = Vec::new();
        for day in 1..=30u32 {
            for hour in [1u32, 13] {
                let n = day * 100 + hour;
                backups.push(candidate(
                    n,
                    at(&format!("2026-11-{day:02}T{hour:02}:00:00Z")),
                ));
            }
        }
        let retention = Retention {
            window: days(7),
            keep_daily: 3,
            keep_weekly: 6,
        };
        let plan = plan(&backups, retention, at("2026-12-01T00:00:00Z"));
        let reason = |n: u32| {
            plan.iter()
                .find(|(i, _)| *i == id(n))
                .map(|(_, v)| v.clone())
                .expect("planned")
        };
        // Everything after 11-24 00:00 is inside the window.
        assert_eq!(reason(2401), Verdict::Keep(KeptBecause::InWindow));
        assert_eq!(reason(3013), Verdict::Keep(KeptBecause::Newest));
        // 11-23 13:00 is the newest before the window.
        assert_eq!(reason(2313), Verdict::Keep(KeptBecause::StartsWindow));
        // Days count beyond the window: the 23rd (its newest starts the
        // window), the 22nd and the 21st.
        assert_eq!(
            reason(2113),
            Verdict::Keep(KeptBecause::Daily(
                NaiveDate::from_ymd_opt(2026, 11, 21).expect("day")
            ))
        );
        assert!(!reason(2013).keeps(), "week 47's newest is the 22nd's");
        assert_eq!(
            reason(2301),
            Verdict::Remove {
                starts_window: id(2313)
            }
        );
        // Weeks: 2026-11-15 is a Sunday, the newest of week 46.
        assert_eq!(
            reason(1513),
            Verdict::Keep(KeptBecause::Weekly {
                year: 2026,
                week: 46
            })
        );
        assert!(!reason(1413).keeps());
    }

    #[test]
    fn a_backup_kept_by_hand_stays_whatever_its_age() {
        let mut old = candidate(1, at("2025-01-01T00:00:00Z"));
        old.kept_by_hand = Some("before the 2025 migration".into());
        let newer = candidate(2, at("2026-11-01T00:00:00Z"));
        let retention = Retention {
            window: days(1),
            keep_daily: 0,
            keep_weekly: 0,
        };
        let plan = plan(&[old, newer], retention, at("2026-12-01T00:00:00Z"));
        assert_eq!(kept(&plan).len(), 2);
        assert_eq!(
            plan[0].1.to_string(),
            "kept by hand until released: before the 2025 migration"
        );
    }

    #[test]
    fn engines_form_their_own_windows() {
        let mut sqlite = candidate(1, at("2026-11-01T00:00:00Z"));
        sqlite.engine = Engine::Sqlite;
        let mariadb = candidate(2, at("2026-11-02T00:00:00Z"));
        let retention = Retention {
            window: days(0),
            keep_daily: 0,
            keep_weekly: 0,
        };
        let plan = plan(&[sqlite, mariadb], retention, at("2026-12-01T00:00:00Z"));
        assert_eq!(kept(&plan).len(), 2, "each is its engine's newest");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// With an unbroken archive a point is restorable when a backup
        /// was taken at or before it; after retention every point of the
        /// window that was restorable still is, and the newest backup and
        /// those kept by hand stay.
        #[test]
        fn every_point_of_the_window_stays_restorable(
            offsets in prop::collection::vec((0i64..60 * 86_400, any::<bool>()), 0..40),
            window_secs in 0i64..30 * 86_400,
            keep_daily in 0u32..10,
            keep_weekly in 0u32..6,
            probes in prop::collection::vec(0i64..=1_000, 20),
        ) {
            let now = at("2026-12-01T00:00:00Z");
            let backups: Vec<Candidate> = offsets
                .iter()
                .enumerate()
                .map(|(n, &(ago, by_hand))| Candidate {
                    id: id(n as u32),
                    engine: Engine::Mariadb,
                    taken_at: now - chrono::Duration::seconds(ago),
                    kept_by_hand: by_hand.then(String::new),
                })
                .collect();
            let retention = Retention {
                window: chrono::Duration::seconds(window_secs),
                keep_daily,
                keep_weekly,
            };
            let plan = plan(&backups, retention, now);
            prop_assert_eq!(plan.len(), backups.len());
            let kept = kept(&plan);
            let restorable = |set: &dyn Fn(&Candidate) -> bool, point: DateTime<Utc>| {
                backups.iter().any(|b| set(b) && b.taken_at <= point)
            };
            let start = retention.window_start(now);
            for p in probes {
                let point = start + (now - start) * (p as i32) / 1_000;
                if restorable(&|_| true, point) {
                    prop_assert!(
                        restorable(&|b| kept.contains(&b.id), point),
                        "{} no longer restorable", point
                    );
                }
            }
            for b in &backups {
                if b.kept_by_hand.is_some() || b.taken_at > start {
                    prop_assert!(kept.contains(&b.id), "{} dropped", b.id);
                }
            }
            if let Some(newest) = backups.iter().max_by_key(|b| (b.taken_at, b.id.clone())) {
                prop_assert!(kept.contains(&newest.id));
            }
        }
    }
}
