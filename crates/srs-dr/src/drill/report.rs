//! The drill's figures and how they are written: `report.json`,
//! `report.md` and an SVG timeline per run.

use super::load::{Kind, Sample};
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
    pub sync_mode: String,
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
    pub sync_mode: String,
    /// Client count.
    pub clients: usize,
    /// Every run.
    pub runs: Vec<Run>,
    /// Figure name -> spread over the runs.
    pub summary: std::collections::BTreeMap<String, Spread>,
    /// Every run passed.
    pub passed: bool,
}

impl Report {
    /// A report of `runs`, with its summary.
    pub fn new(
        started_at: String,
        fault: &str,
        sync_mode: &str,
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
            sync_mode: sync_mode.to_owned(),
            clients,
            passed: !runs.is_empty() && runs.iter().all(|r| r.passed),
            runs,
            summary,
        }
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let verdict = if self.passed { "PASSED" } else { "FAILED" };
        let _ = writeln!(
            md,
            "# srs drill: {} ({} mode) - {verdict}\n\nStarted {}, {} client(s), {} run(s).\n",
            self.fault,
            self.sync_mode,
            self.started_at,
            self.clients,
            self.runs.len()
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
                timeline(run, samples),
            )?;
        }
        Ok(())
    }
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Requests per 100 ms by outcome, with the run's moments marked. Written
/// by hand: a few rectangles and lines need no plotting library or fonts.
pub fn timeline(run: &Run, samples: &[Sample]) -> String {
    const BUCKET_MS: u64 = 100;
    const WIDTH: f64 = 1000.0;
    const HEIGHT: f64 = 300.0;
    const TOP: f64 = 40.0;
    let start = samples.first().map_or(0, |s| s.at_ms);
    let end = samples
        .last()
        .map_or(start + 1000, |s| s.at_ms)
        .max(start + 1000);
    let buckets = ((end - start) / BUCKET_MS + 1) as usize;
    let mut ok = vec![0u32; buckets];
    let mut failed = vec![0u32; buckets];
    for s in samples {
        let b = ((s.at_ms - start) / BUCKET_MS) as usize;
        if s.ok {
            ok[b] += 1;
        } else {
            failed[b] += 1;
        }
    }
    let peak = ok
        .iter()
        .zip(&failed)
        .map(|(a, b)| a + b)
        .max()
        .unwrap_or(1)
        .max(1);
    let bar = WIDTH / buckets as f64;
    let y = |n: u32| HEIGHT * f64::from(n) / f64::from(peak);
    let x = |ms: u64| (ms.saturating_sub(start)) as f64 / (end - start).max(1) as f64 * WIDTH;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"4\" y=\"14\" font-size=\"13\">{title}: requests per 100 ms (green ok, red failed); peak {peak}</text>\n",
        w = WIDTH + 20.0,
        h = HEIGHT + TOP + 60.0,
        title = escape(&format!("srs drill, {} ({})", run.fault, run.sync_mode)),
    );
    for (i, (o, f)) in ok.iter().zip(&failed).enumerate() {
        let left = 10.0 + i as f64 * bar;
        let base = TOP + HEIGHT;
        if *o > 0 {
            let _ = writeln!(svg, "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"#2e7d32\"/>", base - y(*o), bar.max(0.5), y(*o));
        }
        if *f > 0 {
            let _ = writeln!(svg, "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"#c62828\"/>", base - y(*o) - y(*f), bar.max(0.5), y(*f));
        }
    }
    for (i, m) in run.marks.iter().enumerate() {
        let mx = 10.0 + x(m.at_ms);
        let label_y = TOP + HEIGHT + 14.0 + (i % 4) as f64 * 12.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{mx:.1}\" y1=\"{TOP}\" x2=\"{mx:.1}\" y2=\"{:.1}\" stroke=\"#1565c0\" stroke-dasharray=\"4 2\"/>\n<text x=\"{:.1}\" y=\"{label_y:.1}\" fill=\"#1565c0\">{}</text>",
            label_y - 10.0,
            mx + 2.0,
            escape(&format!("{} ({:.2} s)", m.what, m.at_ms.saturating_sub(start) as f64 / 1000.0))
        );
    }
    let reads = samples.iter().filter(|s| s.kind == Kind::Read).count();
    let _ = writeln!(
        svg,
        "<text x=\"4\" y=\"{:.1}\">{} requests ({} reads); time axis {:.1} s</text>\n</svg>",
        TOP + HEIGHT + 58.0,
        samples.len(),
        reads,
        (end - start) as f64 / 1000.0
    );
    svg
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

    #[test]
    fn the_timeline_marks_moments_and_escapes_text() {
        let run = Run {
            fault: "kill<primary>".into(),
            sync_mode: "strict".into(),
            detection_seconds: Some(0.3),
            rto_seconds: Some(1.0),
            write_pause_seconds: 1.0,
            failed_requests: 1,
            requests: 3,
            failures: Default::default(),
            acknowledged_writes: 2,
            acknowledged_lost: 0,
            lost_oldest_age_seconds: None,
            split_brain_writes: 0,
            failback_seconds: None,
            passed: true,
            problems: Vec::new(),
            marks: vec![Mark {
                what: "fault".into(),
                at_ms: 150,
            }],
        };
        let samples = [(100, true), (150, false), (1_200, true)].map(|(at_ms, ok)| Sample {
            at_ms,
            took_ms: 1,
            kind: Kind::Create,
            ok,
            site: "a".into(),
            status: if ok { 201 } else { 503 },
        });
        let svg = timeline(&run, &samples);
        assert!(svg.contains("kill&lt;primary&gt;"));
        assert!(svg.contains("fault (0.05 s)"));
        assert_eq!(
            svg.matches("#c62828").count(),
            1,
            "one bucket with a failure"
        );
    }
}
