//! `srs drill`: proves failover on a real topology. It runs a client load
//! through the edge, injects a fault, waits for recovery, verifies every
//! acknowledged create on the new primary, fails back, verifies again and
//! writes a report with the figures and a timeline.

use crate::cluster_dir::{ClusterDir, ClusterFile};
pub mod fault;
pub mod hosts;
pub mod load;
pub mod progress;
pub mod report;
mod run;
pub mod three_hosts;
pub mod timeline;
mod topology_file;

use crate::controller::decide::{errant, Alert, DecisionKind};
use crate::controller::published::{Event, EventKind, EventLog, Published};
pub use crate::last_drill::LastDrill;
use crate::operator::request::OperatorRequest;
use crate::operator::status::{collect, Status};
use crate::supervisor::ChildKind;
use crate::topology::{SyncModeName, Topology};
use anyhow::Context;
use fault::Fault;
use load::{Acknowledged, Sample};
use nix::sys::signal::Signal;
use progress::Progress;
use report::{Report, Run};
use srs_domain::SiteName;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use tokio::process::Child;

/// How long recovery may take before the run counts as failed.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the topology may take to be whole again before and after a run.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(180);
/// Load before the fault.
const WARM_UP: Duration = Duration::from_secs(3);
/// Creates answered this soon after a replica stopped may have been
/// acknowledged by it just before, ms.
const STOP_GRACE_MS: u64 = 200;
/// Load after recovery, before failing back.
const AFTER_RECOVERY: Duration = Duration::from_secs(2);

/// What a drill does.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The fault to inject.
    pub fault: Fault,
    /// How many runs.
    pub repeat: u32,
    /// Clients in the load.
    pub clients: usize,
    /// Sync mode of a fresh topology.
    pub sync_mode: SyncModeName,
    /// Act on this running topology instead of a fresh one.
    pub data_dir: Option<PathBuf>,
    /// Where the report goes.
    pub report_dir: PathBuf,
    /// How long a pause or partition lasts after the failover before it is
    /// undone (a site down for a while, then failed back under load).
    pub outage: Duration,
    /// The `srs` executable (to start `srs up` and create the drill's account).
    pub exe: PathBuf,
    /// A delay each way between the sites of a fresh topology, ms (a
    /// `[link]`: on the replication connection and the controller's
    /// connections to the databases); None: none.
    pub link_delay_ms: Option<u64>,
}

/// The topology a drill acts on.
struct Target {
    dir: ClusterDir,
    edge: String,
    up: Option<Child>,
    token: String,
    department: String,
}

/// A department the drill's students can belong to.
async fn some_department(edge: &str, token: &str) -> anyhow::Result<String> {
    let answer: serde_json::Value = reqwest::Client::new()
        .get(format!("{edge}/api/v1/departments"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let list = answer.as_array().or_else(|| answer["items"].as_array());
    list.and_then(|l| l.iter().find_map(|d| d["name"].as_str()))
        .map(str::to_owned)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the drill needs a department to file its students under; create one first"
            )
        })
}

/// `n` different free ports: each listener stays open until all are
/// chosen, or the system may hand the same port out twice (it did, and the
/// topology was refused for a repeated port).
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// A two-site topology on free ports, so a drill never collides with a
/// running `srs up`.
fn fresh_topology(sync_mode: SyncModeName, link_delay_ms: Option<u64>) -> anyhow::Result<String> {
    use topology_file::{DrillSite, DrillTopology, EdgeListen, Link, Listen};
    let p = free_ports(11)?;
    let local = |port: u16| format!("127.0.0.1:{port}");
    let mut topology = DrillTopology::small(
        sync_mode,
        Listen {
            listen: local(p[0]),
        },
        EdgeListen {
            listen: local(p[1]),
            admin_listen: local(p[2]),
        },
    );
    topology.sites = vec![
        DrillSite {
            name: "primary".into(),
            role: "primary",
            db_port: p[3],
            app_ports: vec![p[4], p[5]],
            link_port: link_delay_ms.map(|_| p[9]),
            ..DrillSite::default()
        },
        DrillSite {
            name: "dr".into(),
            role: "dr",
            db_port: p[6],
            app_ports: Vec::new(),
            standby_app_ports: vec![p[7], p[8]],
            link_port: link_delay_ms.map(|_| p[10]),
            ..DrillSite::default()
        },
    ];
    topology.link = link_delay_ms.map(|delay_ms| Link { delay_ms });
    topology.to_toml()
}

async fn run_cli(
    exe: &Path,
    args: &[&str],
    dir: &ClusterDir,
    stdin: &str,
) -> anyhow::Result<String> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(exe)
        .args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("Failed to run {}", exe.display()))?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).await?;
    }
    let out = child.wait_with_output().await?;
    anyhow::ensure!(
        out.status.success(),
        "srs {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A registrar account and token for the drill's clients; every create is
/// audited under this name.
async fn drill_token(exe: &Path, dir: &ClusterDir) -> anyhow::Result<String> {
    use rand::Rng;
    let suffix: u32 = rand::thread_rng().gen_range(100_000..1_000_000);
    let user = format!("drill-{suffix}");
    let password: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    run_cli(
        exe,
        &[
            "user",
            "add",
            &user,
            "--role",
            "registrar",
            "--password-stdin",
        ],
        dir,
        &format!("{password}\n"),
    )
    .await?;
    run_cli(
        exe,
        &[
            "token",
            "create",
            "--user",
            &user,
            "--name",
            "srs drill",
            "--expires",
            "1d",
        ],
        dir,
        "",
    )
    .await
}

async fn edge_ready(edge: &str, up: &mut Option<Child>, within: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let began = Instant::now();
    while began.elapsed() < within {
        if let Some(child) = up.as_mut() {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("srs up exited ({status}); see up.log in the drill's directory");
            }
        }
        if client
            .get(format!("{edge}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the edge did not answer within {} s", within.as_secs())
}

impl Target {
    async fn fresh(options: &DrillOptions, progress: &Progress) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "srs-drill-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&path)?;
        let dir = ClusterDir::new(path);
        std::fs::write(
            dir.file(ClusterFile::Topology),
            fresh_topology(options.sync_mode, options.link_delay_ms)?,
        )?;
        let topology = Topology::of(&dir)?;
        progress.say(&format!("starting a fresh two-site topology in {}", dir));
        let log = std::fs::File::create(dir.path().join("up.log"))?;
        let up = tokio::process::Command::new(&options.exe)
            .args(["up", "--data-dir"])
            .arg(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("Failed to start srs up")?;
        let mut up = Some(up);
        let edge = format!("http://{}", topology.edge.listen);
        edge_ready(&edge, &mut up, Duration::from_secs(180)).await?;
        let token = drill_token(&options.exe, &dir).await?;
        let department = some_department(&edge, &token).await?;
        Ok(Self {
            dir,
            edge,
            up,
            token,
            department,
        })
    }

    async fn existing(options: &DrillOptions, dir: &ClusterDir) -> anyhow::Result<Self> {
        let topology = Topology::of(dir)?;
        let edge = format!("http://{}", topology.edge.listen);
        edge_ready(&edge, &mut None, Duration::from_secs(10)).await?;
        let token = drill_token(&options.exe, dir).await?;
        let department = some_department(&edge, &token).await?;
        Ok(Self {
            dir: dir.clone(),
            edge,
            up: None,
            token,
            department,
        })
    }

    /// Stops what the drill started; the fresh topology's files go too
    /// unless something failed (then they stay for a look).
    async fn finish(mut self, keep: bool, progress: &Progress) {
        if let Some(mut up) = self.up.take() {
            if let Some(pid) = up.id() {
                let _ = fault::send(pid, Signal::SIGTERM);
            }
            if tokio::time::timeout(Duration::from_secs(120), up.wait())
                .await
                .is_err()
            {
                let _ = up.kill().await;
            }
            if keep {
                progress.say(&format!(
                    "kept the drill's topology for a look: {}",
                    self.dir
                ));
            } else {
                let _ = std::fs::remove_dir_all(self.dir.path());
            }
        }
    }
}

/// Ms since `clock` started of a wall-clock time.
fn offset_ms(wall0: SystemTime, at: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    let t: SystemTime = t.with_timezone(&chrono::Utc).into();
    t.duration_since(wall0)
        .ok()
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ms_since(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// The topology is whole: both databases up, the replica replicating and
/// caught up, commits waiting for it, the edge routing to the primary.
fn whole(status: &Status) -> Option<SiteName> {
    let controller = status.controller.as_ref()?;
    let primary = status.sites.iter().find(|s| s.name == controller.primary)?;
    let replica = status.sites.iter().find(|s| s.name != controller.primary)?;
    let replicating = replica
        .database
        .replica
        .as_ref()
        .is_some_and(|r| r.io_running && r.sql_running);
    let degraded = controller.alerts.iter().any(|a| {
        matches!(
            a,
            Alert::RunningWithoutReplica { .. } | Alert::ErrantTransactions { .. }
        )
    });
    (controller.ready
        && primary.database.up
        && replica.database.up
        && replicating
        && replica.lag_transactions.unwrap_or(u64::MAX) < 100
        && !degraded
        && status.edge_active.as_deref() == Some(controller.primary.as_str()))
    .then(|| controller.primary.clone())
}

async fn wait_whole(dir: &ClusterDir, within: Duration) -> anyhow::Result<SiteName> {
    let began = Instant::now();
    let mut last = String::new();
    while began.elapsed() < within {
        match collect(dir).await {
            Ok(status) => {
                if let Some(primary) = whole(&status) {
                    return Ok(primary);
                }
                last = format!(
                    "controller {:?}, edge {:?}",
                    status
                        .controller
                        .map(|c| (c.primary, c.ready, c.alerts.len())),
                    status.edge_active
                );
            }
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::bail!(
        "the topology was not whole again within {} s ({last})",
        within.as_secs()
    )
}

/// Acknowledged creates missing or changed on the primary now.
async fn verify(
    edge: &str,
    token: &str,
    acknowledged: &[Acknowledged],
) -> anyhow::Result<Vec<Acknowledged>> {
    use futures::StreamExt;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    let checks = futures::stream::iter(acknowledged.iter().cloned().map(|a| {
        let client = client.clone();
        async move {
            let found = client
                .get(format!("{edge}/api/v1/students/{}", a.id))
                .bearer_auth(token)
                .send()
                .await;
            let present = match found {
                Ok(r) if r.status().is_success() => r
                    .json::<serde_json::Value>()
                    .await
                    .is_ok_and(|v| v["full_name"] == a.name.as_str()),
                Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => false,
                Ok(r) => {
                    return Err(anyhow::anyhow!(
                        "verifying student {}: the edge answered {}",
                        a.id,
                        r.status()
                    ))
                }
                Err(e) => return Err(anyhow::anyhow!("verifying student {}: {e}", a.id)),
            };
            Ok((!present).then_some(a))
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await;
    let mut lost = Vec::new();
    for c in checks {
        lost.extend(c?);
    }
    Ok(lost)
}

/// The longest stretch without an acknowledged create within a window.
fn longest_pause(samples: &[Sample], from_ms: u64, to_ms: u64) -> u64 {
    let mut last = from_ms;
    let mut longest = 0;
    for s in samples
        .iter()
        .filter(|s| s.ok && s.kind == load::Kind::Create)
    {
        if s.at_ms < from_ms || s.at_ms > to_ms {
            continue;
        }
        longest = longest.max(s.at_ms - last);
        last = s.at_ms;
    }
    longest.max(to_ms.saturating_sub(last))
}

fn failed_run(options: &DrillOptions, problems: Vec<String>) -> Run {
    Run {
        fault: options.fault.to_string(),
        sync_mode: options.sync_mode,
        detection_seconds: None,
        rto_seconds: None,
        write_pause_seconds: 0.0,
        failed_requests: 0,
        requests: 0,
        failures: Default::default(),
        acknowledged_writes: 0,
        acknowledged_lost: 0,
        lost_oldest_age_seconds: None,
        split_brain_writes: 0,
        failback_seconds: None,
        passed: false,
        problems,
        marks: Vec::new(),
    }
}

/// What an injected fault left to undo after recovery.
enum Injected {
    /// Nothing (killed processes come back by themselves).
    Nothing,
    /// These processes are stopped.
    Paused(Vec<u32>),
    /// These ports are cut off.
    Partitioned(fault::Partition),
    /// The replica's database is stopped (these pids).
    ReplicaStopped(Vec<u32>),
}

/// Injects `fault` on the primary `site`.
async fn inject(
    fault: Fault,
    dir: &ClusterDir,
    topology: &Topology,
    site: &SiteName,
    other: &SiteName,
) -> anyhow::Result<Injected> {
    match fault {
        Fault::KillPrimaryDb => {
            fault::signal_site(dir, Some(site), &[ChildKind::Database], Signal::SIGKILL)?;
        }
        Fault::KillPrimarySite => {
            fault::signal_site(
                dir,
                Some(site),
                &[ChildKind::Database, ChildKind::App],
                Signal::SIGKILL,
            )?;
        }
        Fault::PausePrimarySite => {
            let stopped = fault::signal_site(
                dir,
                Some(site),
                &[ChildKind::Database, ChildKind::App],
                Signal::SIGSTOP,
            )?;
            return Ok(Injected::Paused(stopped.iter().map(|c| c.pid).collect()));
        }
        Fault::PartitionPrimary => {
            let s = topology
                .site(site)
                .ok_or_else(|| anyhow::anyhow!("no site '{site}'"))?;
            let ports: Vec<u16> = std::iter::once(s.db_port)
                .chain(s.app_ports.iter().copied())
                .chain(s.standby_app_ports.iter().copied())
                .collect();
            return Ok(Injected::Partitioned(fault::Partition::cut(&ports)?));
        }
        Fault::KillController => {
            fault::signal_site(dir, Some(site), &[ChildKind::Database], Signal::SIGKILL)?;
            // Kill it the moment it has decided, mid-way through its steps.
            let began = Instant::now();
            let seen = EventLog::tail(dir, 1_000).len();
            while began.elapsed() < RECOVERY_TIMEOUT {
                let events = EventLog::tail(dir, 1_000);
                if events
                    .iter()
                    .skip(seen)
                    .any(|e| e.is_step(DecisionKind::Failover))
                {
                    fault::signal_site(dir, None, &[ChildKind::Controller], Signal::SIGKILL)?;
                    return Ok(Injected::Nothing);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            anyhow::bail!("the controller never decided to fail over");
        }
        Fault::StopReplica => {
            let stopped =
                fault::signal_site(dir, Some(other), &[ChildKind::Database], Signal::SIGSTOP)?;
            return Ok(Injected::ReplicaStopped(
                stopped.iter().map(|c| c.pid).collect(),
            ));
        }
        Fault::Switchover => {
            OperatorRequest::Switchover { to: other.clone() }.submit(dir)?;
        }
    }
    Ok(Injected::Nothing)
}

/// Creates sent straight to the fenced site's app instances that were
/// acknowledged (each one a split-brain write).
async fn zombie_writes(topology: &Topology, site: &str, token: &str) -> u64 {
    let Some(site) = topology.site(site) else {
        return 0;
    };
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
    else {
        return 0;
    };
    let mut acknowledged = 0;
    for addr in site.app_addrs() {
        let answer = client
            .post(format!("http://{addr}/api/v1/students"))
            .bearer_auth(token)
            .json(&serde_json::json!({"full_name": "Zombie Write", "date_of_birth": "2000-01-01", "department": "Drills"}))
            .send()
            .await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            acknowledged += 1;
        }
    }
    acknowledged
}

/// Waits until `original` has rejoined as a caught-up replica of `now`,
/// counts what it holds that `now` lacks, then switches back to it.
async fn failback(dir: &ClusterDir, original: &SiteName, now: &SiteName) -> anyhow::Result<u64> {
    let primary = wait_whole(dir, HEALTHY_TIMEOUT).await?;
    anyhow::ensure!(primary == *now, "site '{primary}' is primary, not '{now}'");
    let status = collect(dir).await?;
    let (Some(old), Some(new)) = (
        status.sites.iter().find(|s| s.name == *original),
        status.sites.iter().find(|s| s.name == *now),
    ) else {
        anyhow::bail!("a site is missing from the status");
    };
    let errant_count = errant(&observation_of(old), &observation_of(new));
    OperatorRequest::Switchover {
        to: original.clone(),
    }
    .submit(dir)?;
    let began = Instant::now();
    while began.elapsed() < RECOVERY_TIMEOUT {
        if OperatorRequest::pending(dir).is_none() {
            if let Ok(primary) = wait_whole(dir, Duration::from_millis(1)).await {
                if primary == *original {
                    return Ok(errant_count);
                }
            }
            if let Some(p) = Published::read(dir) {
                if p.last_decision_kind == Some(DecisionKind::Refuse) {
                    anyhow::bail!("{}", p.last_decision);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!(
        "the switchover back to site '{original}' did not finish within {} s",
        RECOVERY_TIMEOUT.as_secs()
    )
}

fn observation_of(
    s: &crate::operator::status::SiteStatus,
) -> crate::controller::observe::SiteObservation {
    crate::controller::observe::SiteObservation {
        name: s.name.clone(),
        database: s.database.clone(),
        apps_healthy: s.apps_healthy,
        apps_total: s.apps_total,
        standby_total: s.standby_total,
        reseeding: false,
    }
}

/// Runs a drill; the report, also written to `options.report_dir`.
pub async fn run(options: DrillOptions) -> anyhow::Result<Report> {
    anyhow::ensure!(
        (1..=100).contains(&options.repeat),
        "--repeat must be 1-100"
    );
    anyhow::ensure!(
        (1..=64).contains(&options.clients),
        "--clients must be 1-64"
    );
    if options.fault == Fault::PartitionPrimary {
        fault::Partition::possible()
            .map_err(|e| anyhow::anyhow!("{e}; the other faults run without it"))?;
    }
    let progress = Progress::new();
    let started_at = crate::controller::published::now_text();
    let target = match &options.data_dir {
        Some(dir) => Target::existing(&options, &ClusterDir::new(dir)).await?,
        None => Target::fresh(&options, &progress).await?,
    };
    let mut runs = Vec::new();
    let mut samples = Vec::new();
    for i in 0..options.repeat {
        let (run, s) = run::run_once(&target, &options, i, &progress).await;
        progress.say(&format!(
            "run {}: {} - RTO {}, {} acknowledged, {} lost, {} split-brain, failback {}",
            i + 1,
            if run.passed { "passed" } else { "FAILED" },
            run.rto_seconds.map_or("-".into(), |v| format!("{v:.2} s")),
            run.acknowledged_writes,
            run.acknowledged_lost,
            run.split_brain_writes,
            run.failback_seconds
                .map_or("-".into(), |v| format!("{v:.1} s")),
        ));
        for p in &run.problems {
            progress.say(&format!("run {}: problem: {p}", i + 1));
        }
        let stop = !run.passed && run.failback_seconds.is_none();
        runs.push(run);
        samples.push(s);
        if stop {
            // The topology is not whole; later runs would measure nothing.
            break;
        }
    }
    let sync_mode = runs.first().map_or(options.sync_mode, |r| r.sync_mode);
    let mut report = Report::new(
        started_at,
        options.fault.name(),
        sync_mode,
        options.clients,
        runs,
    );
    report.link_delay_ms = options.link_delay_ms;
    report.write(&options.report_dir, &samples)?;
    let summary = last_drill_of(&report, &options.report_dir);
    summary.save(&target.dir);
    if options.data_dir.is_none() {
        // A user's own cluster in the default place shows it in srs status too.
        let default = ClusterDir::new("srs-data/cluster");
        if default.file(ClusterFile::Topology).exists() {
            summary.save(&default);
        }
    }
    progress.finish();
    target.finish(!report.passed, &progress).await;
    Ok(report)
}

/// The verdict `srs status` shows of a drill's report in `dir`.
fn last_drill_of(report: &Report, dir: &Path) -> LastDrill {
    LastDrill {
        at: report.started_at.clone(),
        fault: report.fault.clone(),
        runs: report.runs.len(),
        passed: report.passed,
        rto_p95_seconds: report.summary.get("rto_seconds").map(|s| s.p95),
        acknowledged_lost: report.runs.iter().map(|r| r.acknowledged_lost).sum(),
        report: std::path::absolute(dir)
            .unwrap_or_else(|_| dir.to_owned())
            .display()
            .to_string(),
    }
}

/// A controller step the drill's timeline marks.
#[derive(Debug, PartialEq, Eq)]
struct StepMark {
    /// Its label on the timeline.
    what: &'static str,
    /// It is the controller's first reaction to the fault.
    detects: bool,
}

/// The timeline's mark for a successful controller step, if it gets one;
/// `failing_back`: the step came after the drill asked to fail back.
fn step_mark(e: &Event, failing_back: bool) -> Option<StepMark> {
    let EventKind::Step(kind) = e.kind else {
        return None;
    };
    if !e.ok {
        return None;
    }
    let (what, detects) = match kind {
        DecisionKind::Failover => ("failover decided (fence)", true),
        DecisionKind::Switchover if failing_back => ("failback switchover", false),
        DecisionKind::Switchover => ("switchover (fence)", true),
        DecisionKind::Promote => ("promoted", false),
        DecisionKind::SwitchEdge => ("edge switched", false),
        DecisionKind::Fence => ("zombie fenced", false),
        _ => return None,
    };
    Some(StepMark { what, detects })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, ok: bool, what: &str) -> Event {
        Event {
            at: "2026-12-05T10:00:00.000Z".into(),
            epoch: 2,
            kind,
            site: Some(SiteName::parse("b").expect("site name")),
            from: None,
            what: what.into(),
            ok,
            error: None,
        }
    }

    #[test]
    fn the_timeline_follows_the_step_kind_not_its_wording() {
        let reworded = event(
            EventKind::Step(DecisionKind::Failover),
            true,
            "site 'b' takes over from site 'a'",
        );
        assert_eq!(
            step_mark(&reworded, false),
            Some(StepMark {
                what: "failover decided (fence)",
                detects: true
            })
        );
        let switchover = event(EventKind::Step(DecisionKind::Switchover), true, "");
        assert!(step_mark(&switchover, false).is_some_and(|m| m.detects));
        assert_eq!(
            step_mark(&switchover, true),
            Some(StepMark {
                what: "failback switchover",
                detects: false
            })
        );
    }

    #[test]
    fn failed_steps_and_other_events_get_no_mark() {
        let failed = event(EventKind::Step(DecisionKind::Promote), false, "promote");
        assert_eq!(step_mark(&failed, false), None);
        // Worded like a failover, but the controller started: no mark.
        let started = event(EventKind::ControllerStarted, true, "fail over soon");
        assert_eq!(step_mark(&started, false), None);
        let old = event(EventKind::Unrecorded, true, "fail over from site 'a'");
        assert_eq!(step_mark(&old, false), None);
    }
}
