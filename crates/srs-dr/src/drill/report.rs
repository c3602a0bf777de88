//! The drill's figures and how they are written: `report.json`,
//! `report.md` and an SVG timeline per run.

use super::load::Sample;
use crate::topology::SyncModeName;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

/// A moment on the timeline worth marking.
#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    /// What happened.
    pub what: String,
    /// When, ms since the drill's clock started.
    pub at_ms: u64,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Which fault.
    pub fault: String,
    /// The sync mode the topology ran in.
    pub sync_mode: SyncModeName,
    /// Fault to the controller's decision to fail over, s.
    pub detection_seconds: Option<f64>,
    /// Fault to the first create that succeeded through the edge on the new primary, s.
    pub rto_seconds: Option<f64>,
    /// Longest time without an acknowledged create around the fault, s.
    pub write_pause_seconds: f64,
    /// Requests that got an error (any kind) from the fault on.
    pub failed_requests: u64,
    /// Requests made in all.
    pub requests: u64,
    /// The failed ones by kind and HTTP status ("create 503"; 0: no answer).
    pub failures: std::collections::BTreeMap<String, u64>,
    /// Creates acknowledged to clients.
    pub acknowledged_writes: u64,
    /// Acknowledged creates missing after recovery or after failback.
    pub acknowledged_lost: u64,
    /// How long before the fault the oldest lost create was acknowledged, s.
    pub lost_oldest_age_seconds: Option<f64>,
    /// Transactions the fenced site committed that the new primary lacks,
    /// plus writes acknowledged by the fenced site's own app instances.
    pub split_brain_writes: u64,
    /// Recovery to the original roles restored, s.
    pub failback_seconds: Option<f64>,
    /// Nothing acknowledged lost, no split-brain write, recovered and failed back.
    pub passed: bool,
    /// What went wrong, when something did.
    pub problems: Vec<String>,
    /// The moments marked on the timeline.
    pub marks: Vec<Mark>,
}

/// p50, p95 and max of one figure over the runs.
#[derive(Debug, Clone, Serialize)]
pub struct Spread {
    /// Median.
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`, or None when there are none.
    pub fn of(mut values: Vec<f64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let i = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
            values[i]
        };
        Some(Self {
            p50: rank(0.5),
            p95: rank(0.95),
            max: values[values.len() - 1],
        })
    }
}

/// Reads one figure off a run.
type Figure = fn(&Run) -> Option<f64>;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the drill started (RFC 3339).
    pub started_at: String,
    /// Which fault.
    pub fault: String,
    /// The sync mode.
    pub sync_mode: SyncModeName,
    /// Client count.
    pub clients: usize,
    /// Every run.
    pub runs: Vec<Run>,
    /// Figure name -> spread over the runs.
    pub summary: std::collections::BTreeMap<String, Spread>,
    /// Every run passed.
    pub passed: bool,
    /// The delay each way between the sites, ms (a `[link]`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_delay_ms: Option<u64>,
}

impl Report {
    /// A report of `runs`, with its summary.
    pub fn new(
        started_at: String,
        fault: &str,
        sync_mode: SyncModeName,
        clients: usize,
        runs: Vec<Run>,
    ) -> Self {
        let figures: [(&str, Figure); 7] = [
            ("detection_seconds", |r| r.detection_seconds),
            ("rto_seconds", |r| r.rto_seconds),
            ("write_pause_seconds", |r| Some(r.write_pause_seconds)),
            ("failed_requests", |r| Some(r.failed_requests as f64)),
            ("acknowledged_lost", |r| Some(r.acknowledged_lost as f64)),
            ("split_brain_writes", |r| Some(r.split_brain_writes as f64)),
            ("failback_seconds", |r| r.failback_seconds),
        ];
        let summary = figures
            .iter()
            .filter_map(|(name, get)| {
                Spread::of(runs.iter().filter_map(get).collect()).map(|s| ((*name).to_owned(), s))
            })
            .collect();
        Self {
            started_at,
            fault: fault.to_owned(),
            sync_mode,
            clients,
            passed: !runs.is_empty() && runs.iter().all(|r| r.passed),
            runs,
            summary,
            link_delay_ms: None,
        }
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let verdict = if self.passed { "PASSED" } else { "FAILED" };
        let _ = writeln!(
            md,
            "# srs drill: {} ({} mode) - {verdict}\n\nStarted {}, {} client(s), {} run(s){}.\n",
            self.fault,
            self.sync_mode,
            self.started_at,
            self.clients,
            self.runs.len(),
            self.link_delay_ms
                .map(|d| format!(", the sites {d} ms apart each way"))
                .unwrap_or_default()
        );
        let _ = writeln!(md, "| run | passed | detection s | RTO s | write pause s | failed requests | acknowledged | lost | split-brain | failback s |");
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
        let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
        for (i, r) in self.runs.iter().enumerate() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {:.2} | {} of {} | {} | {} | {} | {} |",
                i + 1,
                if r.passed { "yes" } else { "NO" },
                opt(r.detection_seconds),
                opt(r.rto_seconds),
                r.write_pause_seconds,
                r.failed_requests,
                r.requests,
                r.acknowledged_writes,
                r.acknowledged_lost,
                r.split_brain_writes,
                opt(r.failback_seconds),
            );
        }
        if !self.summary.is_empty() {
            let _ = writeln!(md, "\n| figure | p50 | p95 | max |\n|---|---|---|---|");
            for (name, s) in &self.summary {
                let _ = writeln!(
                    md,
                    "| {name} | {:.2} | {:.2} | {:.2} |",
                    s.p50, s.p95, s.max
                );
            }
        }
        for (i, r) in self.runs.iter().enumerate() {
            let _ = writeln!(
                md,
                "\n## Run {}\n\n![timeline](timeline-run-{}.svg)\n",
                i + 1,
                i + 1
            );
            for m in &r.marks {
                let _ = writeln!(md, "- {:.2} s: {}", m.at_ms as f64 / 1000.0, m.what);
            }
            if !r.failures.is_empty() {
                let list: Vec<String> = r
                    .failures
                    .iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect();
                let _ = writeln!(
                    md,
                    "- failed requests by kind and status: {}",
                    list.join(", ")
                );
            }
            for p in &r.problems {
                let _ = writeln!(md, "- PROBLEM: {p}");
            }
        }
        md
    }

    /// Writes report.json, report.md and the timelines into `dir`.
    pub fn write(&self, dir: &Path, samples: &[Vec<Sample>]) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(self)?)?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        for (i, (run, samples)) in self.runs.iter().zip(samples).enumerate() {
            std::fs::write(
                dir.join(format!("timeline-run-{}.svg", i + 1)),
                super::timeline::timeline(run, samples),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_nearest_ranks() {
        let s = Spread::of((1..=10).map(f64::from).collect()).expect("values");
        assert_eq!((s.p50, s.p95, s.max), (5.0, 10.0, 10.0));
        assert!(Spread::of(Vec::new()).is_none());
    }
}
