//! What a drill shows while it runs: a spinner with the latest step on a
//! terminal, plain timestamped lines otherwise (logs, CI).

use std::io::IsTerminal;

/// The drill's progress display.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A spinner when standard error is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Self { bar }
    }

    /// Reports one step.
    pub fn say(&self, line: &str) {
        let stamped = format!("{} {line}", chrono::Utc::now().format("%H:%M:%S%.3f"));
        match &self.bar {
            Some(bar) => {
                bar.println(&stamped);
                bar.set_message(line.to_owned());
            }
            None => eprintln!("srs drill: {stamped}"),
        }
    }

    /// Clears the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}
