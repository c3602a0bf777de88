//! `srs drill`: its flags, and the drill on one machine or on three hosts.

use crate::drill_fault;
use anyhow::Context;
use clap::{Args, ValueEnum};
use srs_dr::topology::SyncModeName;
use srs_web::{telemetry, LogFormat};

/// A sync mode a drill's fresh topology runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DrillSyncMode {
    /// Every commit waits for the replica.
    Strict,
    /// Commits wait for the replica up to the topology's timeout.
    Bounded,
    /// Commits never wait.
    Async,
}

impl DrillSyncMode {
    /// The topology's sync mode it stands for.
    fn name(self) -> SyncModeName {
        match self {
            DrillSyncMode::Strict => SyncModeName::Strict,
            DrillSyncMode::Bounded => SyncModeName::Bounded,
            DrillSyncMode::Async => SyncModeName::Async,
        }
    }
}

/// `srs drill`'s flags.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The fault to inject [default: kill-primary-site on one machine,
    /// all on three hosts]; three hosts take a comma-separated list.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub fault: Vec<crate::drill_fault::DrillFault>,
    /// 1: both sites on this machine (srs up). 3: site a, site b and an
    /// etcd witness, each in a network namespace of its own (needs root
    /// and etcd).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub hosts: u8,
    /// How many runs (each with its own failback).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Concurrent clients writing and reading through the edge.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub clients: u16,
    /// Sync mode of the fresh topology (three hosts: a comma-separated
    /// list runs each fault in each).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "strict")]
    pub sync_mode: Vec<DrillSyncMode>,
    /// Act on this running topology (`srs up`) instead of a fresh one; needs --yes.
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Confirm a drill on an existing topology: it kills its processes.
    #[arg(long)]
    pub yes: bool,
    /// Where report.json, report.md and the timelines go.
    #[arg(long, default_value = "./drill-report")]
    pub report_dir: std::path::PathBuf,
    /// How long a pause or partition lasts after the failover before it
    /// is undone, seconds (the site is then failed back under load).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub outage_secs: u64,
    /// One machine: the distance between the sites, ms each way (a round
    /// trip takes twice this), on the replication connection and the
    /// controller's connections to the databases (the topology's [link]).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub link_delay_ms: Option<u64>,
}

/// Runs the drill the flags ask for and prints its report's summary.
pub async fn drill(args: DrillArgs) -> anyhow::Result<()> {
    match args.hosts {
        3 => three_hosts(args).await,
        2 => anyhow::bail!(
            "--hosts 2: two hosts cannot outvote a cut between them; use 1 (one machine) or 3 (two sites and a witness)"
        ),
        _ => one_machine(args).await,
    }
}

async fn three_hosts(args: DrillArgs) -> anyhow::Result<()> {
    use srs_dr::drill::three_hosts::HostDrillOptions;
    anyhow::ensure!(
        args.data_dir.is_none(),
        "--hosts 3 builds its own three hosts; --data-dir is for a drill on a running srs up"
    );
    anyhow::ensure!(
        args.link_delay_ms.is_none(),
        "--link-delay-ms is for a drill on one machine (--hosts 1)"
    );
    telemetry::init(LogFormat::Text, "warn")?;
    let faults = drill_fault::three_hosts(&args.fault)?;
    let exe = std::env::current_exe().context("Failed to find the srs executable")?;
    let report = srs_dr::drill::three_hosts::run(HostDrillOptions {
        faults,
        sync_modes: args.sync_mode.iter().map(|m| m.name()).collect(),
        repeat: args.repeat,
        clients: usize::from(args.clients).min(8),
        // Longer than a write lease, so a paused or cut-off host is
        // replaced before it returns.
        outage: std::time::Duration::from_secs(args.outage_secs.max(5)),
        report_dir: args.report_dir.clone(),
        exe,
    })
    .await?;
    let file = args.report_dir.join("three-hosts.md");
    println!("{}", report.markdown());
    println!("report: {}", file.display());
    anyhow::ensure!(
        report.passed,
        "the three-host drill failed; see {}",
        file.display()
    );
    Ok(())
}

async fn one_machine(args: DrillArgs) -> anyhow::Result<()> {
    let fault = drill_fault::one_machine(&args.fault)?;
    let [sync_mode] = args.sync_mode[..] else {
        anyhow::bail!("--sync-mode: a drill on one machine runs in one mode; give one of strict, bounded or async");
    };
    anyhow::ensure!(
        args.data_dir.is_none() || args.link_delay_ms.is_none(),
        "--link-delay-ms sets up a fresh topology's link; for a running srs up, give its topology a [link] section"
    );
    anyhow::ensure!(
        args.data_dir.is_none() || args.yes,
        "a drill on an existing topology kills and pauses its processes; run again with --yes to go ahead"
    );
    telemetry::init(LogFormat::Text, "warn")?;
    let exe = std::env::current_exe().context("Failed to find the srs executable")?;
    let report = srs_dr::drill::run(srs_dr::drill::DrillOptions {
        fault,
        repeat: args.repeat,
        clients: usize::from(args.clients),
        sync_mode: sync_mode.name(),
        data_dir: args.data_dir,
        report_dir: args.report_dir.clone(),
        exe,
        outage: std::time::Duration::from_secs(args.outage_secs),
        link_delay_ms: args.link_delay_ms,
    })
    .await?;
    let markdown = report.markdown();
    let summary: Vec<&str> = markdown.lines().take(5 + report.runs.len()).collect();
    let file = args.report_dir.join("report.md");
    println!("{}", summary.join("\n"));
    println!("\nreport: {}", file.display());
    anyhow::ensure!(report.passed, "the drill failed; see {}", file.display());
    Ok(())
}
