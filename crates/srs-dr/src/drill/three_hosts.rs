//! `srs drill --hosts 3`: proves the quorum across real hosts. It builds
//! three hosts as network namespaces (site a, site b, a witness), runs an
//! etcd member in each and `srs site` in the two site hosts, puts load
//! clients inside each site's host (a cut-off location keeps its local
//! users) and outside, injects one fault, undoes it after the outage, and
//! checks every acknowledged create and the one rule that matters: no site
//! takes a write after the other site has acknowledged one of its own as
//! primary (`split_brain_writes`: the old side's answers after the new
//! side's first that the new primary lacks; one it holds was committed
//! before the switch and only answered late, `answered_late`).

use super::hosts::{Host, Hosts};
use super::load::{Load, Recorded};
use crate::cluster_dir::{ClusterDir, ClusterFile};
use crate::quorum::member::{self, Member, Timing};
use crate::supervisor::{ChildInfo, ChildKind};
use crate::topology::SyncModeName;
use anyhow::Context;
use nix::sys::signal::Signal;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::Child;

/// The old side's answers after the new side's first (`new_side_first`),
/// as (split-brain writes, writes answered late). One the new primary
/// holds (not in `missing`) was committed and replicated before the
/// switch, for a new primary stops replicating from the old one when
/// promoted: its answer only arrived late (a paused host answers on
/// waking). One it lacks was taken by a second primary.
fn late_on_old_side(
    acknowledged: &[super::load::Acknowledged],
    missing: &std::collections::HashSet<i64>,
    old_site: &str,
    new_side_first: Option<u64>,
) -> (usize, usize) {
    let Some(first) = new_side_first else {
        return (0, 0);
    };
    let late: Vec<_> = acknowledged
        .iter()
        .filter(|a| a.site == old_site && a.at_ms > first)
        .collect();
    let split_brain = late.iter().filter(|a| missing.contains(&a.id)).count();
    (split_brain, late.len() - split_brain)
}

/// What goes wrong in a three-host run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostFault {
    /// The primary's host is cut off from the other two; its own clients
    /// keep writing to it.
    PartitionHost,
    /// Every process of the primary's host is SIGKILLed and its link goes down.
    KillHost,
    /// The leading controller is SIGKILLed.
    KillLeader,
    /// The witness's etcd member is SIGKILLed.
    WitnessDown,
    /// Every process of the primary's host is stopped (SIGSTOP) for longer
    /// than the lease, then continued.
    PauseHost,
    /// Every etcd member is SIGKILLed.
    EtcdDown,
}

impl HostFault {
    /// Every fault, in the order CI runs them.
    pub const ALL: [HostFault; 6] = [
        HostFault::PartitionHost,
        HostFault::KillHost,
        HostFault::KillLeader,
        HostFault::WitnessDown,
        HostFault::PauseHost,
        HostFault::EtcdDown,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            HostFault::PartitionHost => "partition-host",
            HostFault::KillHost => "kill-host",
            HostFault::KillLeader => "kill-leader",
            HostFault::WitnessDown => "witness-down",
            HostFault::PauseHost => "pause-host",
            HostFault::EtcdDown => "etcd-down",
        }
    }

    /// What it does, in one line (the command line's help).
    pub fn summary(self) -> &'static str {
        match self {
            HostFault::PartitionHost => {
                "three hosts: cut the primary's host off; its own clients keep writing"
            }
            HostFault::KillHost => {
                "three hosts: SIGKILL every process of the primary's host, link down"
            }
            HostFault::KillLeader => "three hosts: SIGKILL the leading controller",
            HostFault::WitnessDown => "three hosts: SIGKILL the witness's etcd member",
            HostFault::PauseHost => {
                "three hosts: SIGSTOP the primary's host for longer than its lease"
            }
            HostFault::EtcdDown => "three hosts: SIGKILL every etcd member",
        }
    }

    /// Whether the other site must take over.
    fn fails_over(self) -> bool {
        matches!(
            self,
            HostFault::PartitionHost | HostFault::KillHost | HostFault::PauseHost
        )
    }

    /// The host whose etcd member the fault takes away (`target`: the
    /// primary's host), and so which member the survivors must see down.
    fn lost_member(self, target: &str) -> Option<&str> {
        match self {
            HostFault::PartitionHost | HostFault::KillHost | HostFault::PauseHost => Some(target),
            HostFault::WitnessDown => Some("witness"),
            HostFault::KillLeader | HostFault::EtcdDown => None,
        }
    }

    /// Whether writes must go on throughout.
    fn no_failed_write(self) -> bool {
        matches!(self, HostFault::KillLeader | HostFault::WitnessDown)
    }
}

impl std::fmt::Display for HostFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for HostFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HostFault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a three-host fault: use {}",
                    HostFault::ALL.map(HostFault::name).join(", ")
                )
            })
    }
}

/// What a three-host drill does.
#[derive(Debug, Clone)]
pub struct HostDrillOptions {
    /// The faults, one run each (times `repeat`).
    pub faults: Vec<HostFault>,
    /// The sync modes, each fault in each.
    pub sync_modes: Vec<SyncModeName>,
    /// Runs of each fault in each mode.
    pub repeat: u32,
    /// Clients at each of the three locations.
    pub clients: usize,
    /// How long a fault lasts before it is undone.
    pub outage: Duration,
    /// Where the report goes.
    pub report_dir: PathBuf,
    /// The `srs` executable.
    pub exe: PathBuf,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct HostRun {
    /// The fault.
    pub fault: HostFault,
    /// The sync mode.
    pub sync_mode: SyncModeName,
    /// Acknowledged creates, all locations.
    pub acknowledged: usize,
    /// Acknowledged creates not found, as written, on the final primary.
    pub acknowledged_lost: usize,
    /// Writes the old primary acknowledged after the new one's first that
    /// the new primary lacks: taken by a second primary.
    pub split_brain_writes: usize,
    /// Writes the old primary answered after the new one's first that the
    /// new primary holds: committed before the switch, answered late (a
    /// paused host answers on waking).
    pub answered_late: usize,
    /// Creates that failed (refused, not confirmed, or unanswered).
    pub failed_creates: usize,
    /// From the fault to the first create the new primary acknowledged to
    /// a client outside the old primary's host, seconds.
    pub rto_seconds: Option<f64>,
    /// From the fault to the old primary's last acknowledged create, seconds
    /// (how long a cut-off site went on taking writes).
    pub old_side_last_write_seconds: Option<f64>,
    /// The primary before and after.
    pub primary_before: String,
    /// The primary at the end.
    pub primary_after: String,
    /// Whether the run met its rules.
    pub passed: bool,
    /// Why not, or what was seen.
    pub notes: Vec<String>,
}

/// The whole drill.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    /// Every run.
    pub runs: Vec<HostRun>,
    /// Every run passed.
    pub passed: bool,
}

impl HostReport {
    /// The report as a Markdown table.
    pub fn markdown(&self) -> String {
        let secs = |s: Option<f64>| s.map_or("-".to_owned(), |s| format!("{s:.2}"));
        let mut out = String::from(
            "# Three-host drill\n\n| fault | mode | verdict | RTO s | old side's last write s | acknowledged | lost | split-brain writes | failed creates | primary |\n|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.runs {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} -> {} |\n",
                r.fault,
                r.sync_mode,
                if r.passed { "passed" } else { "FAILED" },
                secs(r.rto_seconds),
                secs(r.old_side_last_write_seconds),
                r.acknowledged,
                r.acknowledged_lost,
                r.split_brain_writes,
                r.failed_creates,
                r.primary_before,
                r.primary_after,
            ));
        }
        for r in self.runs.iter().filter(|r| !r.notes.is_empty()) {
            out.push_str(&format!(
                "\n{} ({}): {}\n",
                r.fault,
                r.sync_mode,
                r.notes.join("; ")
            ));
        }
        out
    }
}

/// Runs every fault in every mode; writes `three-hosts.json` and
/// `three-hosts.md` into the report folder as it goes.
pub async fn run(options: HostDrillOptions) -> anyhow::Result<HostReport> {
    std::fs::create_dir_all(&options.report_dir)
        .with_context(|| format!("Failed to create {}", options.report_dir.display()))?;
    let mut report = HostReport {
        runs: Vec::new(),
        passed: true,
    };
    for mode in &options.sync_modes {
        for fault in &options.faults {
            for n in 0..options.repeat {
                let logs = options.report_dir.join(format!("{fault}-{mode}-{}", n + 1));
                eprintln!("three-host drill: {fault} in {mode} mode (run {})", n + 1);
                let run = match run_once(&options, *fault, *mode, &logs).await {
                    Ok(run) => run,
                    Err(e) => HostRun {
                        fault: *fault,
                        sync_mode: *mode,
                        acknowledged: 0,
                        acknowledged_lost: 0,
                        split_brain_writes: 0,
                        answered_late: 0,
                        failed_creates: 0,
                        rto_seconds: None,
                        old_side_last_write_seconds: None,
                        primary_before: String::new(),
                        primary_after: String::new(),
                        passed: false,
                        notes: vec![format!("the run could not be carried out: {e:#}")],
                    },
                };
                eprintln!(
                    "  {}: rto {:?} s, split-brain {}, lost {}, failed {} {}",
                    if run.passed { "passed" } else { "FAILED" },
                    run.rto_seconds,
                    run.split_brain_writes,
                    run.acknowledged_lost,
                    run.failed_creates,
                    run.notes.join("; ")
                );
                if run.passed {
                    // The logs and events stay; the databases and etcd's
                    // data (hundreds of MB) only for a failed run.
                    for data in ["hosts/a/a", "hosts/b/b", "etcd-a", "etcd-b", "etcd-witness"] {
                        let _ = std::fs::remove_dir_all(logs.join(data));
                    }
                }
                report.passed &= run.passed;
                report.runs.push(run);
                std::fs::write(
                    options.report_dir.join("three-hosts.json"),
                    serde_json::to_string_pretty(&report)?,
                )?;
                std::fs::write(options.report_dir.join("three-hosts.md"), report.markdown())?;
            }
        }
    }
    Ok(report)
}

/// The ports every host uses (each host has its own addresses).
const EDGE: u16 = 8080;
const EDGE_ADMIN: u16 = 8079;
const CONTROLLER: u16 = 8077;
const ETCD: u16 = 2379;

fn topology(mode: SyncModeName, a: &Host, b: &Host, witness: &Host) -> anyhow::Result<String> {
    use super::topology_file::{BackupOff, DrillSite, DrillTopology, EdgeListen, Listen, Quorum};
    let mut topology = DrillTopology::small(
        mode,
        Listen {
            listen: format!("127.0.0.1:{CONTROLLER}"),
        },
        EdgeListen {
            listen: format!("0.0.0.0:{EDGE}"),
            admin_listen: format!("127.0.0.1:{EDGE_ADMIN}"),
        },
    );
    topology.backup = Some(BackupOff::new());
    topology.quorum = Some(Quorum {
        etcd: [a, b, witness]
            .iter()
            .map(|h| format!("http://{}:{ETCD}", h.ip))
            .collect(),
        cluster: "drill".into(),
    });
    let site = |name: &str, role, host: &Host, db_port, app_port, agent_port| DrillSite {
        name: name.into(),
        role,
        db_host: Some(host.ip.to_string()),
        app_host: Some(host.ip.to_string()),
        managed: Some(true),
        db_port,
        app_ports: vec![app_port],
        agent_port: Some(agent_port),
        ..DrillSite::default()
    };
    topology.sites = vec![
        site("a", "primary", a, 3306, 8101, 8090),
        site("b", "dr", b, 3307, 8102, 8091),
    ];
    topology.to_toml()
}

/// The processes of one run, by host.
struct Cluster {
    hosts: Hosts,
    work: PathBuf,
    exe: PathBuf,
    members: Vec<Member>,
    etcd: Vec<(String, Child)>,
    sites: Vec<(String, Child)>,
}

/// The etcd timing the drill's hosts use: they are microseconds apart.
const DRILL_TIMING: Timing = Timing {
    heartbeat_ms: 50,
    election_ms: 500,
};

impl Cluster {
    fn host(&self, name: &str) -> anyhow::Result<&Host> {
        self.hosts.host(name)
    }

    fn site_dir(&self, site: &str) -> ClusterDir {
        ClusterDir::new(self.work.join("hosts").join(site))
    }

    fn log(&self, name: &str) -> anyhow::Result<std::fs::File> {
        std::fs::File::create(self.work.join(format!("{name}.log")))
            .with_context(|| format!("Failed to create the log of {name}"))
    }

    fn start_etcd(&mut self, name: &str) -> anyhow::Result<()> {
        let program = member::etcd_program()?;
        let m = self
            .members
            .iter()
            .find(|m| m.name == name)
            .with_context(|| format!("no etcd member {name}"))?
            .clone();
        let log = self.log(&format!("etcd-{name}"))?;
        let child = self
            .host(name)?
            .command(&program)
            .args(member::args(
                &m,
                &self.members,
                &self.work.join(format!("etcd-{name}")),
                DRILL_TIMING,
            ))
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("Failed to start etcd")?;
        self.etcd.retain(|(n, _)| n != name);
        self.etcd.push((name.to_owned(), child));
        Ok(())
    }

    fn start_site(&mut self, name: &str) -> anyhow::Result<()> {
        let log = self.log(&format!("site-{name}"))?;
        let dir = self.site_dir(name);
        let child = self
            .host(name)?
            .command(&self.exe)
            .args(["site", "--site", name, "--data-dir"])
            .arg(dir.path())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("Failed to start srs site")?;
        self.sites.retain(|(n, _)| n != name);
        self.sites.push((name.to_owned(), child));
        Ok(())
    }

    /// The edge of site `name`, as its clients reach it.
    fn edge(&self, name: &str) -> anyhow::Result<String> {
        Ok(format!("http://{}:{EDGE}", self.host(name)?.ip))
    }

    /// The site the quorum names primary, read from outside.
    async fn primary(&self) -> Option<String> {
        let etcd = crate::quorum::etcd::Etcd::new(
            &self
                .members
                .iter()
                .map(Member::client_url)
                .collect::<Vec<_>>(),
            Duration::from_millis(500),
        )
        .ok()?;
        let kv = etcd.get("/srs/drill/primary").await.ok()??;
        let v: serde_json::Value = serde_json::from_slice(&kv.value).ok()?;
        v["site"].as_str().map(str::to_owned)
    }

    /// The process id of the leading controller.
    async fn leader_pid(&self) -> Option<(String, u32)> {
        for site in ["a", "b"] {
            let dir = self.site_dir(site);
            let leads = crate::controller::published::Published::read(&dir)
                .and_then(|p| p.quorum)
                .is_some_and(|q| q.leading);
            if leads {
                let pid = ChildInfo::read_all(&dir)
                    .ok()?
                    .into_iter()
                    .find(|c| c.kind == ChildKind::Controller)?
                    .pid;
                return Some((site.to_owned(), pid));
            }
        }
        None
    }
}

/// Waits until `check` holds, for at most `limit`.
async fn until(
    what: &str,
    limit: Duration,
    mut check: impl AsyncFnMut() -> bool,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while !check().await {
        anyhow::ensure!(
            started.elapsed() < limit,
            "{what}: not within {} s",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(started.elapsed())
}

/// Watches `srs status` on a surviving site host for at most `limit` (the
/// outage): it must show the etcd member of host `lost` down and, when that
/// host held the primary `before`, its site's lease gone: what an operator
/// and the alerts rely on. Says when each was first seen.
async fn survivors_see(
    cluster: &Cluster,
    lost: &str,
    before: &str,
    limit: Duration,
) -> anyhow::Result<String> {
    let survivor = if lost == "a" { "b" } else { "a" };
    let dir = cluster.site_dir(survivor);
    let url = cluster
        .members
        .iter()
        .find(|m| m.name == lost)
        .map(Member::client_url)
        .unwrap_or_default();
    let started = Instant::now();
    let (mut member_down, mut lease_gone) = (None, (lost != before).then_some(Duration::ZERO));
    while started.elapsed() < limit && (member_down.is_none() || lease_gone.is_none()) {
        let survey = crate::quorum::survey::Survey::read(&dir);
        if let Some(s) = survey {
            if s.members.iter().any(|m| m.endpoint == url && !m.up) {
                member_down.get_or_insert(started.elapsed());
            }
            if s.sites
                .iter()
                .any(|l| l.site.as_str() == lost && !l.holds_lease)
            {
                lease_gone.get_or_insert(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let at = |seen: Option<Duration>| {
        seen.map_or("never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()))
    };
    let what = format!(
        "srs status at site {survivor}: etcd member {lost} down at {}{}",
        at(member_down),
        if lost == before {
            format!(", site {lost}'s lease gone at {}", at(lease_gone))
        } else {
            String::new()
        }
    );
    anyhow::ensure!(
        member_down.is_some() && lease_gone.is_some(),
        "{what} (within the {} s outage)",
        limit.as_secs()
    );
    Ok(what)
}

/// A load running inside a host, stopped by dropping the sender.
struct Located {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<anyhow::Result<Recorded>>,
}

fn load_inside(
    host: &Host,
    edge: String,
    token: String,
    department: String,
    clients: usize,
    tag: String,
    clock: Instant,
) -> anyhow::Result<Located> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = host.spawn_inside(move || {
        Box::pin(async move {
            let load = Load::start(&edge, &token, &department, clients, &tag, clock)?;
            let _ = stopped.await;
            Ok(load.stop().await)
        })
    })?;
    Ok(Located { stop, thread })
}

impl Located {
    fn finish(self) -> anyhow::Result<Recorded> {
        let _ = self.stop.send(());
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))?
    }
}

fn ms_to_s(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

async fn run_once(
    options: &HostDrillOptions,
    fault: HostFault,
    mode: SyncModeName,
    logs: &Path,
) -> anyhow::Result<HostRun> {
    let whole = bring_up(options, mode, logs).await?;
    let Whole {
        mut cluster,
        a,
        b,
        http,
        token,
        department,
        edge_a,
        edge_b,
        before,
    } = whole;
    let clock = Instant::now();
    let (inside_a, inside_b, outside) = start_loads(
        options,
        (&a, &b),
        (&edge_a, &edge_b),
        &token,
        &department,
        clock,
    )
    .await?;

    let fault_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(0);
    let mut notes = vec![raft_leader_note(&cluster)];
    let target = if fault.fails_over() {
        before.clone()
    } else {
        String::new()
    };
    let shown = hold_fault(
        &mut cluster,
        fault,
        &target,
        &before,
        options.outage,
        &mut notes,
    )
    .await?;

    // Undo, then let the load run on.
    let (after, resumed) = recover(&mut cluster, fault, &target, &before, &outside, clock).await?;
    if let Err(e) = &resumed {
        notes.push(format!("{e}"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut recorded = vec![inside_a.finish()?, inside_b.finish()?, outside.stop().await];

    // Every acknowledged create, as written, on the final primary.
    let mut acknowledged = Vec::new();
    for r in &mut recorded {
        acknowledged.append(&mut r.acknowledged);
    }
    acknowledged.sort_by_key(|a| a.at_ms);
    let final_edge = cluster.edge(if after.is_empty() { "b" } else { &after })?;
    let missing = missing_on(&http, &final_edge, &token, &acknowledged).await;
    drop(cluster);
    Ok(verdict(Observed {
        fault,
        mode,
        recorded,
        acknowledged,
        missing,
        fault_ms,
        before,
        after,
        resumed: resumed.is_ok(),
        shown,
        notes,
    }))
}

/// Which etcd member led raft at the fault: it decides whether the fault
/// costs an etcd election (the leader keeps it on the witness when it can).
fn raft_leader_note(cluster: &Cluster) -> String {
    let raft_leader = crate::quorum::survey::Survey::read(&cluster.site_dir("a"))
        .and_then(|s| s.members.into_iter().find(|m| m.raft_leader))
        .and_then(|m| {
            cluster
                .members
                .iter()
                .find(|member| member.client_url() == m.endpoint)
                .map(|member| member.name.clone())
        });
    format!(
        "etcd's raft leader at the fault: {}",
        raft_leader.as_deref().unwrap_or("unknown")
    )
}

/// Injects the fault and holds it for the outage; returns whether the
/// survivors showed the lost member meanwhile.
async fn hold_fault(
    cluster: &mut Cluster,
    fault: HostFault,
    target: &str,
    before: &str,
    outage: Duration,
    notes: &mut Vec<String>,
) -> anyhow::Result<bool> {
    inject(cluster, fault, target, notes).await?;
    let outage_ends = Instant::now() + outage;
    let mut shown = true;
    if let Some(lost) = fault.lost_member(target) {
        match survivors_see(cluster, lost, before, outage).await {
            Ok(note) => notes.push(note),
            Err(e) => {
                shown = false;
                notes.push(format!("{e:#}"));
            }
        }
    }
    tokio::time::sleep(outage_ends.saturating_duration_since(Instant::now())).await;
    Ok(shown)
}

/// Undoes the fault, waits for a primary (a new one after a failover) and
/// for writes to resume there; returns that primary and whether they did.
async fn recover(
    cluster: &mut Cluster,
    fault: HostFault,
    target: &str,
    before: &str,
    outside: &Load,
    clock: Instant,
) -> anyhow::Result<(String, anyhow::Result<Duration>)> {
    undo(cluster, fault, target)?;
    let after_deadline = Instant::now() + Duration::from_secs(60);
    let mut after = cluster.primary().await.unwrap_or_default();
    while Instant::now() < after_deadline
        && (after.is_empty() || (fault.fails_over() && after == before))
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = cluster.primary().await.unwrap_or_default();
    }
    // Writes resume at the primary before the load stops.
    let resume_from = u64::try_from(clock.elapsed().as_millis()).unwrap_or(0);
    let resumed = until(
        "writes resume after the fault is undone",
        Duration::from_secs(60),
        async || outside.first_create_by(&after, resume_from).is_some(),
    )
    .await;
    Ok((after, resumed))
}

/// The three hosts, whole: both sites up, the drill's account made, both
/// edges routing to the primary.
struct Whole {
    cluster: Cluster,
    a: Host,
    b: Host,
    http: reqwest::Client,
    token: String,
    department: String,
    edge_a: String,
    edge_b: String,
    /// The primary site before the fault.
    before: String,
}

/// Builds the three hosts, writes and splits the topology (in `mode`)
/// into `logs`, and starts etcd on each and both sites.
async fn start_cluster(
    options: &HostDrillOptions,
    mode: SyncModeName,
    logs: &Path,
) -> anyhow::Result<(Cluster, Host, Host)> {
    // A failed run keeps its folder for reading; the next run into the same
    // report directory starts clean (an old etcd data dir would not join).
    if logs.exists() {
        std::fs::remove_dir_all(logs)?;
    }
    std::fs::create_dir_all(logs)?;
    let hosts = Hosts::build(&["a", "b", "witness"])?;
    let (a, b, w) = (
        hosts.host("a")?.clone(),
        hosts.host("b")?.clone(),
        hosts.host("witness")?.clone(),
    );
    let work = logs.to_path_buf();
    let src = ClusterDir::new(work.join("src"));
    std::fs::create_dir_all(src.path())?;
    std::fs::write(src.file(ClusterFile::Topology), topology(mode, &a, &b, &w)?)?;
    crate::Secrets::load_or_create(&src)?;
    crate::operator::split::split(&src, &work.join("hosts"))?;
    let members = crate::operator::split::members(&crate::Topology::of(&src)?)?;
    let mut cluster = Cluster {
        hosts,
        work: work.clone(),
        exe: options.exe.clone(),
        members,
        etcd: Vec::new(),
        sites: Vec::new(),
    };
    for name in ["a", "b", "witness"] {
        cluster.start_etcd(name)?;
    }
    for m in &cluster.members {
        member::wait_healthy(&m.client_url(), Duration::from_secs(30)).await?;
    }
    cluster.start_site("a")?;
    cluster.start_site("b")?;
    Ok((cluster, a, b))
}

/// Starts the cluster and waits until it is whole: the primary ready,
/// both sites' apps up, the drill's account made, both edges routing.
async fn bring_up(
    options: &HostDrillOptions,
    mode: SyncModeName,
    logs: &Path,
) -> anyhow::Result<Whole> {
    let (cluster, a, b) = start_cluster(options, mode, logs).await?;
    // Whole: the primary takes writes and the other site's app answers.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    sites_answer(&cluster, &http, &a, &b).await?;
    let token = drill_account(options, &cluster).await?;
    let edge_a = cluster.edge("a")?;
    let edge_b = cluster.edge("b")?;
    let department = edges_route(&http, &edge_a, &edge_b, &token).await?;
    let before = cluster.primary().await.unwrap_or_default();
    Ok(Whole {
        cluster,
        a,
        b,
        http,
        token,
        department,
        edge_a,
        edge_b,
        before,
    })
}

/// Waits until the primary's database is ready and both sites' app
/// instances answer (the primary's made the schema).
async fn sites_answer(
    cluster: &Cluster,
    http: &reqwest::Client,
    a: &Host,
    b: &Host,
) -> anyhow::Result<()> {
    let dir_a = cluster.site_dir("a");
    until(
        "the primary's database is ready",
        Duration::from_secs(120),
        async || {
            crate::controller::published::Published::read(&dir_a).is_some_and(|p| p.ready)
                || crate::controller::published::Published::read(&cluster.site_dir("b"))
                    .is_some_and(|p| p.ready)
        },
    )
    .await?;
    for (host, port) in [(a, 8101), (b, 8102)] {
        until(
            "the sites' app instances answer",
            Duration::from_secs(120),
            async || {
                http.get(format!("http://{}:{port}/healthz", host.ip))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            },
        )
        .await?;
    }
    Ok(())
}

/// Makes the drill's account and token on the primary the quorum names.
async fn drill_account(options: &HostDrillOptions, cluster: &Cluster) -> anyhow::Result<String> {
    let primary_dir = cluster.site_dir(&cluster.primary().await.unwrap_or_else(|| "a".into()));
    super::run_cli(
        &options.exe,
        &[
            "user",
            "add",
            "drill",
            "--role",
            "admin",
            "--password-stdin",
        ],
        &primary_dir,
        "drill password that is long enough\n",
    )
    .await?;
    super::run_cli(
        &options.exe,
        &["token", "create", "--user", "drill", "--name", "drill"],
        &primary_dir,
        "",
    )
    .await
}

/// Waits until both edges route to the primary; returns a department the
/// load's creates can name.
async fn edges_route(
    http: &reqwest::Client,
    edge_a: &str,
    edge_b: &str,
    token: &str,
) -> anyhow::Result<String> {
    let mut department = None;
    until(
        "the primary's edge answers",
        Duration::from_secs(60),
        async || {
            department = super::some_department(edge_a, token).await.ok();
            department.is_some()
        },
    )
    .await?;
    until(
        "both edges route to the primary",
        Duration::from_secs(60),
        async || {
            let mut ok = true;
            for edge in [edge_a, edge_b] {
                ok &= http
                    .get(format!("{edge}/api/v1/students?limit=1"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
            }
            ok
        },
    )
    .await?;
    Ok(department.unwrap_or_default())
}

/// The load: clients inside a, inside b, and outside through b's front
/// door, after a few seconds of warm-up.
async fn start_loads(
    options: &HostDrillOptions,
    (a, b): (&Host, &Host),
    (edge_a, edge_b): (&str, &str),
    token: &str,
    department: &str,
    clock: Instant,
) -> anyhow::Result<(Located, Located, Load)> {
    let clients = options.clients.max(1);
    // Letters only: names may hold no digits, keys no spaces.
    let tag = super::load::letters(
        u64::from(std::process::id()) * 100
            + u64::try_from(clock.elapsed().as_nanos() % 100).unwrap_or(0),
    );
    let inside_a = load_inside(
        a,
        edge_a.to_owned(),
        token.to_owned(),
        department.to_owned(),
        clients,
        format!("{tag}A"),
        clock,
    )?;
    let inside_b = load_inside(
        b,
        edge_b.to_owned(),
        token.to_owned(),
        department.to_owned(),
        clients,
        format!("{tag}B"),
        clock,
    )?;
    let outside = Load::start(
        edge_b,
        token,
        department,
        clients,
        &format!("{tag}O"),
        clock,
    )?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok((inside_a, inside_b, outside))
}

/// Injects `fault` on `target` (the primary's site, for faults that fail
/// over).
async fn inject(
    cluster: &mut Cluster,
    fault: HostFault,
    target: &str,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    match fault {
        HostFault::PartitionHost => cluster.hosts.set_link(cluster.host(target)?, false)?,
        HostFault::KillHost => {
            let host = cluster.host(target)?.clone();
            cluster.hosts.set_link(&host, false)?;
            host.signal_all(Signal::SIGKILL);
        }
        HostFault::PauseHost => {
            cluster.host(target)?.signal_all(Signal::SIGSTOP);
        }
        HostFault::KillLeader => match cluster.leader_pid().await {
            Some((site, pid)) => {
                notes.push(format!("killed the leading controller at site {site}"));
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(0)),
                    Signal::SIGKILL,
                );
            }
            None => notes.push("no leading controller was found to kill".into()),
        },
        HostFault::WitnessDown => {
            cluster.host("witness")?.signal_all(Signal::SIGKILL);
        }
        HostFault::EtcdDown => {
            for (_, child) in &mut cluster.etcd {
                let _ = child.start_kill();
            }
        }
    }
    Ok(())
}

/// Undoes `fault`: the link back, the killed host's processes restarted,
/// the paused ones resumed, etcd started again.
fn undo(cluster: &mut Cluster, fault: HostFault, target: &str) -> anyhow::Result<()> {
    match fault {
        HostFault::PartitionHost => cluster.hosts.set_link(cluster.host(target)?, true)?,
        HostFault::KillHost => {
            let host = cluster.host(target)?.clone();
            cluster.hosts.set_link(&host, true)?;
            cluster.start_etcd(target)?;
            cluster.start_site(target)?;
        }
        HostFault::PauseHost => {
            cluster.host(target)?.signal_all(Signal::SIGCONT);
        }
        HostFault::KillLeader => {}
        HostFault::WitnessDown => cluster.start_etcd("witness")?,
        HostFault::EtcdDown => {
            for name in ["a", "b", "witness"] {
                cluster.start_etcd(name)?;
            }
        }
    }
    Ok(())
}

/// The acknowledged creates that the final primary (through `edge`) does
/// not hold as written, by id.
async fn missing_on(
    http: &reqwest::Client,
    edge: &str,
    token: &str,
    acknowledged: &[super::load::Acknowledged],
) -> std::collections::HashSet<i64> {
    // The acknowledged creates missing on the final primary, by id.
    let mut missing = std::collections::HashSet::new();
    for ack in acknowledged {
        let found = http
            .get(format!("{edge}/api/v1/students/{}", ack.id))
            .bearer_auth(token)
            .send()
            .await;
        let same = match found {
            Ok(r) if r.status().is_success() => r
                .json::<serde_json::Value>()
                .await
                .is_ok_and(|v| v["full_name"].as_str() == Some(ack.name.as_str())),
            _ => false,
        };
        if !same {
            missing.insert(ack.id);
        }
    }
    missing
}

/// What a run saw, for its verdict.
struct Observed {
    fault: HostFault,
    mode: SyncModeName,
    recorded: Vec<Recorded>,
    /// Every acknowledged create, oldest first.
    acknowledged: Vec<super::load::Acknowledged>,
    /// The acknowledged creates the final primary lacks, by id.
    missing: std::collections::HashSet<i64>,
    fault_ms: u64,
    /// The primary site before the fault and after it was undone.
    before: String,
    after: String,
    /// Writes resumed at the final primary.
    resumed: bool,
    /// The survivors saw the lost member as lost.
    shown: bool,
    notes: Vec<String>,
}

/// What a run's samples add up to.
struct Measured {
    /// Creates that failed after the fault.
    failed_creates: usize,
    split_brain_writes: usize,
    answered_late: usize,
    rto_seconds: Option<f64>,
    old_side_last_write_seconds: Option<f64>,
}

impl Measured {
    fn of(o: &Observed) -> Self {
        let fault_ms = o.fault_ms;
        let failed_creates = o
            .recorded
            .iter()
            .flat_map(|r| r.samples.iter())
            .filter(|s| s.kind == super::load::Kind::Create && !s.ok && s.at_ms >= fault_ms)
            .count();
        let new_side_first = o
            .acknowledged
            .iter()
            .filter(|a| a.at_ms >= fault_ms && !o.before.is_empty() && a.site != o.before)
            .map(|a| a.at_ms)
            .min();
        let (split_brain_writes, answered_late) =
            late_on_old_side(&o.acknowledged, &o.missing, &o.before, new_side_first);
        // Clients outside the old primary's host: inside b's and outside.
        let survivors_first = o.recorded[1..]
            .iter()
            .flat_map(|r| r.samples.iter())
            .filter(|s| {
                s.kind == super::load::Kind::Create
                    && s.ok
                    && s.at_ms >= fault_ms
                    && s.site == o.after
            })
            .map(|s| s.at_ms)
            .min();
        let rto_seconds = o
            .fault
            .fails_over()
            .then(|| survivors_first.map(|t| ms_to_s(t - fault_ms)))
            .flatten();
        let old_side_last_write_seconds = o
            .acknowledged
            .iter()
            .filter(|a| a.at_ms >= fault_ms && a.site == o.before)
            .map(|a| a.at_ms)
            .max()
            .filter(|_| o.fault.fails_over())
            .map(|t| ms_to_s(t - fault_ms));
        Self {
            failed_creates,
            split_brain_writes,
            answered_late,
            rto_seconds,
            old_side_last_write_seconds,
        }
    }

    /// Notes on what happened that is not in itself a failure.
    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.answered_late > 0 {
            notes.push(format!(
                "{} write(s) committed before the failover were answered after the new primary's first (the new primary holds them)",
                self.answered_late
            ));
        }
        if self.split_brain_writes > 0 {
            notes.push(format!(
                "{} write(s) acknowledged by the old primary after the new one's first",
                self.split_brain_writes
            ));
        }
        notes
    }
}

/// Why a run failed, beyond split-brain writes, a stuck recovery or an
/// unseen loss; empty when nothing else went wrong.
fn problems(o: &Observed, m: &Measured) -> Vec<String> {
    let mut problems = Vec::new();
    if o.mode == SyncModeName::Strict && !o.missing.is_empty() {
        problems.push(format!(
            "{} acknowledged create(s) lost in strict mode",
            o.missing.len()
        ));
    }
    if o.fault.fails_over() && (o.after == o.before || o.after.is_empty()) {
        problems.push(format!("no failover: the quorum still names '{}'", o.after));
    }
    if o.fault.fails_over() && m.rto_seconds.is_none() {
        problems.push(
            "the surviving side's clients never had a create acknowledged by the new primary"
                .into(),
        );
    }
    if o.fault.no_failed_write() && m.failed_creates > 0 {
        problems.push(format!(
            "{} create(s) failed during a fault that should not fail any",
            m.failed_creates
        ));
    }
    if o.acknowledged.is_empty() {
        let refusal = o.recorded.iter().find_map(|r| r.first_refusal.clone());
        problems.push(format!(
            "no create was acknowledged at all (first refusal: {})",
            refusal.as_deref().unwrap_or("none")
        ));
    }
    problems
}

/// Judges a run: lost writes, split brain, failover time, failed creates.
fn verdict(observed: Observed) -> HostRun {
    let measured = Measured::of(&observed);
    let problems = problems(&observed, &measured);
    let passed = measured.split_brain_writes == 0
        && observed.resumed
        && observed.shown
        && problems.is_empty();
    let mut notes = observed.notes;
    notes.extend(measured.notes());
    notes.extend(problems);
    HostRun {
        fault: observed.fault,
        sync_mode: observed.mode,
        acknowledged: observed.acknowledged.len(),
        acknowledged_lost: observed.missing.len(),
        split_brain_writes: measured.split_brain_writes,
        answered_late: measured.answered_late,
        failed_creates: measured.failed_creates,
        rto_seconds: measured.rto_seconds,
        old_side_last_write_seconds: measured.old_side_last_write_seconds,
        primary_before: observed.before,
        primary_after: observed.after,
        passed,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::late_on_old_side;
    use crate::drill::load::Acknowledged;
    use std::collections::HashSet;

    fn ack(id: i64, at_ms: u64, site: &str) -> Acknowledged {
        Acknowledged {
            id,
            name: format!("s{id}"),
            at_ms,
            site: site.into(),
        }
    }

    #[test]
    fn a_late_answer_is_split_brain_only_when_the_new_primary_lacks_it() {
        let acks = [
            ack(1, 900, "a"),
            ack(2, 1_000, "b"),
            ack(3, 5_040, "a"),
            ack(4, 5_041, "a"),
        ];
        // 3 was committed before the switch (b holds it); 4 was not.
        let missing: HashSet<i64> = [4].into();
        assert_eq!(late_on_old_side(&acks, &missing, "a", Some(1_000)), (1, 1));
        assert_eq!(
            late_on_old_side(&acks, &HashSet::new(), "a", Some(1_000)),
            (0, 2)
        );
        assert_eq!(late_on_old_side(&acks, &missing, "a", None), (0, 0));
    }
}
