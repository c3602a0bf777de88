//! The faults a drill injects, with real signals to real processes.

use crate::supervisor::{ChildInfo, RUN_FILE};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL the primary's MariaDB server.
    KillPrimaryDb,
    /// SIGKILL the primary's MariaDB server and its app instances.
    KillPrimarySite,
    /// SIGSTOP them (a silent failure); SIGCONT after the failover wakes a
    /// zombie that still believes it is primary.
    PausePrimarySite,
    /// SIGKILL the primary's database, then the controller in the middle
    /// of the failover; it is restarted and must finish the job.
    KillController,
    /// A planned switchover, no fault.
    Switchover,
}

impl Fault {
    /// Every fault, by name.
    pub const ALL: [Fault; 5] = [
        Fault::KillPrimaryDb,
        Fault::KillPrimarySite,
        Fault::PausePrimarySite,
        Fault::KillController,
        Fault::Switchover,
    ];

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillPrimaryDb => "kill-primary-db",
            Fault::KillPrimarySite => "kill-primary-site",
            Fault::PausePrimarySite => "pause-primary-site",
            Fault::KillController => "kill-controller",
            Fault::Switchover => "switchover",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault '{s}'; one of: {}", names.join(", "))
            })
    }
}

/// The processes `srs up` runs now.
pub fn processes(data_dir: &Path) -> anyhow::Result<Vec<ChildInfo>> {
    let path = data_dir.join(RUN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "{} cannot be read ({e}): is `srs up` running on this directory?",
            path.display()
        )
    })?;
    Ok(serde_json::from_str(&text)?)
}

/// Sends `signal` to every process of `site` whose kind is in `kinds`;
/// the processes it reached.
pub fn signal_site(
    data_dir: &Path,
    site: &str,
    kinds: &[&str],
    signal: Signal,
) -> anyhow::Result<Vec<ChildInfo>> {
    let targets: Vec<ChildInfo> = processes(data_dir)?
        .into_iter()
        .filter(|c| c.site == site && kinds.contains(&c.kind.as_str()) && c.pid > 0)
        .collect();
    anyhow::ensure!(
        !targets.is_empty(),
        "no {} process of site '{site}' is running",
        kinds.join("/")
    );
    for t in &targets {
        send(t.pid, signal)?;
    }
    Ok(targets)
}

/// Sends a signal to one process.
pub fn send(pid: u32, signal: Signal) -> anyhow::Result<()> {
    let raw = i32::try_from(pid).map_err(|_| anyhow::anyhow!("pid {pid} out of range"))?;
    kill(Pid::from_raw(raw), signal)
        .map_err(|e| anyhow::anyhow!("could not send {signal} to pid {pid}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_by_name_and_unknown_ones_are_listed() {
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>(), Ok(f));
        }
        let err = "unplug".parse::<Fault>().expect_err("unknown");
        assert!(err.contains("kill-primary-site"), "{err}");
    }
}
