//! The faults a drill injects, with real signals to real processes.

use crate::cluster_dir::ClusterDir;
use crate::supervisor::{ChildInfo, ChildKind};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use srs_domain::SiteName;
use std::fmt;
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
    /// Drop all traffic to and from the primary site's ports (nftables;
    /// needs root); the cut is healed after the failover.
    PartitionPrimary,
    /// SIGSTOP the replica's database for the outage (at least 3 s): the
    /// primary must keep its sync mode's promise (strict: acknowledge
    /// nothing meanwhile), and nothing fails over.
    StopReplica,
    /// A planned switchover, no fault.
    Switchover,
}

impl Fault {
    /// Every fault, by name.
    pub const ALL: [Fault; 7] = [
        Fault::KillPrimaryDb,
        Fault::KillPrimarySite,
        Fault::PausePrimarySite,
        Fault::KillController,
        Fault::PartitionPrimary,
        Fault::StopReplica,
        Fault::Switchover,
    ];

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillPrimaryDb => "kill-primary-db",
            Fault::KillPrimarySite => "kill-primary-site",
            Fault::PausePrimarySite => "pause-primary-site",
            Fault::KillController => "kill-controller",
            Fault::PartitionPrimary => "partition-primary",
            Fault::StopReplica => "stop-replica",
            Fault::Switchover => "switchover",
        }
    }
}

impl Fault {
    /// What it does, in one line (the command line's help).
    pub fn summary(self) -> &'static str {
        match self {
            Fault::KillPrimaryDb => "one machine: SIGKILL the primary's MariaDB server",
            Fault::KillPrimarySite => {
                "one machine: SIGKILL the primary's MariaDB server and its app instances"
            }
            Fault::PausePrimarySite => {
                "one machine: SIGSTOP the primary site, SIGCONT it after the failover"
            }
            Fault::KillController => {
                "one machine: SIGKILL the primary's database, then the controller mid-failover"
            }
            Fault::PartitionPrimary => {
                "one machine: drop all traffic to and from the primary site (nftables, root)"
            }
            Fault::StopReplica => {
                "one machine: SIGSTOP the replica; the sync mode's promise must hold"
            }
            Fault::Switchover => "one machine: a planned switchover, no fault",
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

/// Sends `signal` to every process of `site` whose kind is in `kinds`;
/// the processes it reached.
pub fn signal_site(
    data_dir: &ClusterDir,
    site: Option<&SiteName>,
    kinds: &[ChildKind],
    signal: Signal,
) -> anyhow::Result<Vec<ChildInfo>> {
    let targets: Vec<ChildInfo> = ChildInfo::read_all(data_dir)?
        .into_iter()
        .filter(|c| c.site.as_ref() == site && kinds.contains(&c.kind) && c.pid > 0)
        .collect();
    anyhow::ensure!(
        !targets.is_empty(),
        "no {} process of site '{}' is running",
        kinds
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        site.map_or("", |s| s.as_str())
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

/// Loopback ports cut off with nftables; healed when dropped.
pub struct Partition {
    table: String,
}

impl Partition {
    /// Whether a partition can be made here (root and `nft`), or why not.
    pub fn possible() -> Result<(), String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("partition-primary needs root (it changes nftables rules)".into());
        }
        let nft = std::process::Command::new("nft").arg("--version").output();
        match nft {
            Ok(out) if out.status.success() => Ok(()),
            _ => Err("partition-primary needs nftables: apt-get install nftables".into()),
        }
    }

    /// Drops every TCP packet to or from `ports` on this machine.
    pub fn cut(ports: &[u16]) -> anyhow::Result<Self> {
        Self::possible().map_err(|e| anyhow::anyhow!(e))?;
        anyhow::ensure!(!ports.is_empty(), "no ports to cut off");
        let table = format!("srs_drill_{}", std::process::id());
        let set = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let rules = format!(
            "table inet {table} {{\n\
             chain output {{ type filter hook output priority -10; policy accept;\n\
             tcp dport {{ {set} }} drop\n tcp sport {{ {set} }} drop\n }}\n\
             chain input {{ type filter hook input priority -10; policy accept;\n\
             tcp dport {{ {set} }} drop\n tcp sport {{ {set} }} drop\n }}\n}}\n"
        );
        nft(&["-f", "-"], Some(&rules))?;
        Ok(Self { table })
    }

    /// Removes the rules.
    pub fn heal(self) {
        // Drop does the work.
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        if let Err(e) = nft(&["delete", "table", "inet", &self.table], None) {
            tracing::error!(table = %self.table, error = %e, "could not heal the partition; remove the nftables table by hand");
        }
    }
}

fn nft(args: &[&str], input: Option<&str>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new("nft")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("could not run nft: {e}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "nft {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
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
