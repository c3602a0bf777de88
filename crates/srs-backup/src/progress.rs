//! Progress of long runs: a bar with an ETA on a terminal, JSON lines for
//! scripts, nothing otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on stderr when it is a terminal, nothing otherwise.
    Terminal,
    /// One JSON object per line on stdout.
    Json,
    /// Nothing.
    Quiet,
}

/// One long operation's progress, in units of work (rows, bytes…).
pub struct Progress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    stage: String,
    total: u64,
    done: u64,
    started: Instant,
    last_json: Option<Instant>,
}

impl Progress {
    /// Starts showing progress in `mode`.
    pub fn new(mode: ProgressMode) -> Self {
        Self {
            mode,
            bar: None,
            stage: String::new(),
            total: 0,
            done: 0,
            started: Instant::now(),
            last_json: None,
        }
    }

    /// Begins a stage of `total` units (0: unknown).
    pub fn stage(&mut self, name: &str, total: u64) {
        self.finish_bar();
        self.stage = name.to_owned();
        self.total = total;
        self.done = 0;
        self.started = Instant::now();
        self.last_json = None;
        match self.mode {
            ProgressMode::Terminal if std::io::stderr().is_terminal() => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{msg:>12} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_message(name.to_owned());
                self.bar = Some(bar);
            }
            ProgressMode::Json => self.json(true),
            _ => {}
        }
    }

    /// Records `n` more units done.
    pub fn advance(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if self.mode == ProgressMode::Json {
            self.json(false);
        }
    }

    /// Seconds left at the rate so far, when it can be told.
    fn eta_secs(&self) -> Option<f64> {
        let elapsed = self.started.elapsed().as_secs_f64();
        (self.done > 0 && self.total >= self.done)
            .then(|| elapsed / self.done as f64 * (self.total - self.done) as f64)
    }

    fn json(&mut self, force: bool) {
        // At most twice a second, plus the stage's first and last line.
        let due = self
            .last_json
            .is_none_or(|t| t.elapsed().as_millis() >= 500);
        if !(force || due || self.done == self.total) {
            return;
        }
        self.last_json = Some(Instant::now());
        let line = serde_json::json!({
            "event": "progress",
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "eta_secs": self.eta_secs().map(|s| (s * 10.0).round() / 10.0),
        });
        println!("{line}");
    }

    fn finish_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Ends the display (the caller prints the result).
    pub fn finish(mut self) {
        self.finish_bar();
    }
}
