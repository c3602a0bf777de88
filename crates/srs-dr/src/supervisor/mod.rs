//! The processes that run a cluster: `srs site` and `srs site-agent` on
//! hosts of their own (modules here), and, in this file, `srs up`: runs a whole two-site topology on this machine as separate
//! child processes (MariaDB servers, the controller, app instances, the
//! edge), so a drill can kill any of them. A child that dies is reported
//! once and restarted after a back-off; a database only once the
//! controller no longer needs it to stay down (it failed over, or says it
//! will not). Standby app instances run while the controller says their
//! site is primary. Replication and routing are the controller's job.

pub mod front_door;
pub mod haproxy;
pub mod site_agent;
pub mod site_host;

use crate::cluster_dir::{ClusterDir, ClusterFile};
use crate::controller::published::{primary_site, Published};
use crate::link_delay::LinkDelay;
use crate::reach::server_config;
use crate::secrets::{write_private, Secrets};
use crate::topology::{Site, Topology};
use anyhow::Context;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;
use srs_domain::{SiteName, SiteRole};
use srs_mariadb::LocalServer;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::{Child, Command};

/// What `srs up` needs to know.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Where everything lives: topology, secrets, servers, logs.
    pub data_dir: ClusterDir,
    /// The `srs` executable to start children with.
    pub exe: PathBuf,
}

/// What a child process of `srs up` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// A site's MariaDB server.
    Database,
    /// The DR controller.
    Controller,
    /// An app instance (`srs serve`).
    App,
    /// The edge (`srs edge`).
    Edge,
    /// The backup agent (`srs backup run`): scheduled backups, their
    /// verification, retention and the binlog archive.
    Backup,
    /// A site's agent in a cluster across hosts (`srs site-agent`).
    Agent,
}

impl std::fmt::Display for ChildKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChildKind::Database => "database",
            ChildKind::Controller => "controller",
            ChildKind::App => "app",
            ChildKind::Edge => "edge",
            ChildKind::Backup => "backup",
            ChildKind::Agent => "site agent",
        })
    }
}

/// A child process srs started, for `srs status` and drills.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ChildInfo {
    /// What it is.
    pub kind: ChildKind,
    /// Its site (none for the controller and the edge).
    #[serde(default)]
    pub site: Option<SiteName>,
    /// Its port (0: it listens on none).
    pub port: u16,
    /// Its process id.
    pub pid: u32,
    /// How often it exited unexpectedly since `srs up` started.
    #[serde(default)]
    pub exits: u32,
}

/// A child that ran this long before it died was not in a crash loop.
const HEALTHY_RUN: Duration = Duration::from_secs(3);

/// How a child is started again.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(&'static str, String)>,
    pub(crate) log: String,
}

pub(crate) struct Running {
    info: ChildInfo,
    spec: Spec,
    child: Option<Child>,
    /// Runs only while its site is primary.
    standby: bool,
    restart: Restart,
}

/// Back-off between restarts of one child: doubles from 1 s to 30 s while
/// it keeps dying within seconds of its start (a crash loop), and starts
/// over once it has run for a while (a server killed after running well,
/// as in a failover, comes back at once).
#[derive(Debug)]
pub(crate) struct Restart {
    delay: Duration,
    at: Option<std::time::Instant>,
    started: std::time::Instant,
    count: u32,
}

impl Restart {
    pub(crate) fn new() -> Self {
        Self {
            delay: Duration::from_secs(1),
            at: None,
            started: std::time::Instant::now(),
            count: 0,
        }
    }

    /// Notes an exit; when to start again.
    fn exited(&mut self) -> Duration {
        if self.started.elapsed() > HEALTHY_RUN {
            self.delay = Duration::from_secs(1);
        }
        let delay = self.delay;
        self.at = Some(std::time::Instant::now() + delay);
        self.delay = (self.delay * 2).min(Duration::from_secs(30));
        delay
    }

    fn due(&self) -> bool {
        self.at.is_some_and(|at| std::time::Instant::now() >= at)
    }

    fn started(&mut self) {
        self.at = None;
        self.started = std::time::Instant::now();
        self.count += 1;
    }
}

/// Everything started so far, recorded in the run file after each start so
/// drills and operators see every process as soon as it exists.
pub(crate) struct Started {
    pub(crate) file: PathBuf,
    pub(crate) databases: Vec<ChildInfo>,
    pub(crate) children: Vec<Running>,
}

impl Started {
    /// Records a child just started; returns it to wait on.
    /// Starts `spec` as a child of `kind` and records it.
    pub(crate) fn spawn(
        &mut self,
        options: &UpOptions,
        kind: ChildKind,
        site: Option<&SiteName>,
        port: u16,
        spec: Spec,
    ) -> anyhow::Result<&mut Child> {
        let child = spawn_spec(&options.exe, &spec, &options.data_dir)?;
        let info = ChildInfo {
            kind,
            site: site.cloned(),
            port,
            pid: child.id().unwrap_or(0),
            exits: 0,
        };
        Ok(self.push(info, spec, child))
    }

    pub(crate) fn push(&mut self, info: ChildInfo, spec: Spec, child: Child) -> &mut Child {
        let at = self.children.len();
        self.children.push(Running {
            info,
            spec,
            child: Some(child),
            standby: false,
            restart: Restart::new(),
        });
        self.record();
        match self.children[at].child.as_mut() {
            Some(child) => child,
            None => unreachable!("pushed with a child just above"),
        }
    }

    fn record(&self) {
        let all: Vec<&ChildInfo> = self
            .databases
            .iter()
            .chain(
                self.children
                    .iter()
                    .filter(|c| c.child.is_some())
                    .map(|c| &c.info),
            )
            .collect();
        let written = serde_json::to_string_pretty(&all)
            .map_err(anyhow::Error::from)
            .and_then(|text| write_private(&self.file, &text));
        if let Err(e) = written {
            tracing::error!(error = %e, file = %self.file.display(), "could not record the running processes");
        }
    }
}

fn log_file(data_dir: &ClusterDir, name: &str) -> anyhow::Result<std::fs::File> {
    let dir = data_dir.file(ClusterFile::Logs);
    std::fs::create_dir_all(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.log(name))
        .with_context(|| format!("Failed to open the log of {name}"))
}

/// Runs the topology until `shutdown`, then stops everything in order:
/// the edge first, then the controller and the app instances, the
/// databases last.
pub async fn up(mut options: UpOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    // Children and config files get absolute paths: the default is relative.
    options.data_dir = options
        .data_dir
        .absolute()
        .with_context(|| format!("Failed to resolve the data directory {}", options.data_dir))?;
    let data_dir = &options.data_dir;
    let (topology, path, created) = Topology::load_or_create(data_dir)?;
    if created {
        tracing::info!(file = %path.display(), "wrote the default topology; edit it to change ports, instance counts or sync mode");
    }
    if topology.quorum.is_some() {
        anyhow::bail!("this topology has a [quorum]: its sites run on their own hosts; split it with `srs topology split` and run `srs site` on each");
    }
    if topology.sites.iter().any(|s| !s.is_local()) {
        anyhow::bail!("srs up runs local sites only (db_host = \"127.0.0.1\", not managed = false); for sites run elsewhere use `srs controller` and `srs edge`");
    }
    let secrets = Secrets::load_or_create(data_dir)?;
    let primary_site = primary_site(&topology, data_dir);
    tracing::info!(primary = %primary_site.name, sync_mode = %topology.sync_mode(), "starting the topology");

    // Held until srs up stops: dropping one stops its proxy.
    let _links = start_links(&topology).await?;
    let mut servers = Vec::new();
    for site in &topology.sites {
        servers.push(Server::start(&topology, &secrets, data_dir, site).await?);
    }
    let mut started = Started {
        file: data_dir.file(ClusterFile::RunFile),
        databases: Vec::new(),
        children: Vec::new(),
    };
    record_databases(&mut started, &topology, &servers);
    let result = start_children(&options, &topology, &secrets, &primary_site, &mut started).await;
    if let Err(e) = result {
        stop_all(&mut started.children, &mut servers).await;
        return Err(e);
    }
    tracing::info!(edge = %topology.edge.listen, "topology running; Ctrl-C stops it");

    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {
                let published = Published::read(data_dir);
                follow_standby(&options, &topology, &secrets, published.as_ref(), &mut started);
                watch_children(&options, &mut started);
                if watch_databases(data_dir, &topology, published.as_ref(), &mut servers).await {
                    record_databases(&mut started, &topology, &servers);
                }
            }
        }
    }
    tracing::info!("stopping: edge first, then the controller, app instances, databases last");
    stop_all(&mut started.children, &mut servers).await;
    let _ = std::fs::remove_file(data_dir.file(ClusterFile::RunFile));
    tracing::info!("stopped");
    Ok(())
}

/// The delay proxies a `[link]` asks for, one in front of each site's
/// database (see [`crate::topology::LinkSection`]).
async fn start_links(topology: &Topology) -> anyhow::Result<Vec<LinkDelay>> {
    let Some(link) = topology.link else {
        return Ok(Vec::new());
    };
    let mut links = Vec::new();
    for site in &topology.sites {
        let Some(port) = site.link_port else {
            continue;
        };
        let proxy = LinkDelay::start(
            SocketAddr::from(([127, 0, 0, 1], port)),
            SocketAddr::from(([127, 0, 0, 1], site.db_port)),
            Duration::from_millis(link.delay_ms),
        )
        .await?;
        tracing::info!(site = %site.name, listen = %proxy.listen, delay_ms = link.delay_ms,
            "link delay in front of the site's database: its replica and the controller reach it here");
        links.push(proxy);
    }
    Ok(links)
}

impl ChildInfo {
    /// The processes `srs up` on `data_dir` runs now.
    pub fn read_all(data_dir: &ClusterDir) -> anyhow::Result<Vec<ChildInfo>> {
        let path = data_dir.file(ClusterFile::RunFile);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "{} cannot be read ({e}): is `srs up` running on this directory?",
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a list of processes", path.display()))
    }
}

/// A database server `srs up` runs.
pub(crate) struct Server {
    pub(crate) site: SiteName,
    pub(crate) server: LocalServer,
    pub(crate) restart: Restart,
    pub(crate) exits: u32,
}

impl Server {
    /// Prepares and starts `site`'s server, waiting until it answers.
    pub(crate) async fn start(
        topology: &Topology,
        secrets: &Secrets,
        data_dir: &ClusterDir,
        site: &Site,
    ) -> anyhow::Result<Self> {
        let mut server = LocalServer::new(server_config(topology, secrets, data_dir, site))?;
        server.prepare().await?;
        server.start().await?;
        Ok(Self {
            site: site.name.clone(),
            server,
            restart: Restart::new(),
            exits: 0,
        })
    }
}

pub(crate) fn record_databases(started: &mut Started, topology: &Topology, servers: &[Server]) {
    started.databases = servers
        .iter()
        .map(|s| ChildInfo {
            kind: ChildKind::Database,
            site: Some(s.site.clone()),
            port: topology.site(&s.site).map_or(0, |t| t.db_port),
            pid: s.server.pid().unwrap_or(0),
            exits: s.exits,
        })
        .collect();
    started.record();
}

/// Starts the standby app instances of the site the controller made
/// primary and stops those of a site it no longer is.
fn follow_standby(
    options: &UpOptions,
    topology: &Topology,
    secrets: &Secrets,
    published: Option<&Published>,
    started: &mut Started,
) {
    let Some(published) = published else {
        return;
    };
    let wanted = &published.memory.standby_running;
    for site in &topology.sites {
        for port in &site.standby_app_ports {
            let at = started
                .children
                .iter()
                .position(|c| c.standby && c.info.port == *port);
            let want = wanted.contains(&site.name);
            match (want, at) {
                (true, None) => {
                    let spec = app_spec(options, topology, secrets, site, *port, SiteRole::Primary);
                    match spawn_spec(&options.exe, &spec, &options.data_dir) {
                        Ok(child) => {
                            let info = ChildInfo {
                                kind: ChildKind::App,
                                site: Some(site.name.clone()),
                                port: *port,
                                pid: child.id().unwrap_or(0),
                                exits: 0,
                            };
                            tracing::info!(site = %site.name, port, pid = info.pid, "standby app instance started");
                            started.push(info, spec, child);
                            if let Some(last) = started.children.last_mut() {
                                last.standby = true;
                            }
                        }
                        Err(e) => {
                            tracing::error!(site = %site.name, port, error = %e, "could not start a standby app instance")
                        }
                    }
                }
                (false, Some(i)) => {
                    let mut c = started.children.remove(i);
                    tracing::info!(site = %site.name, port, "stopping a standby app instance: its site is no longer primary");
                    if let Some(pid) = c.child.as_ref().and_then(Child::id) {
                        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
                    }
                    // It finishes its requests on its own; reap it in the background.
                    if let Some(mut child) = c.child.take() {
                        tokio::spawn(async move {
                            if tokio::time::timeout(Duration::from_secs(15), child.wait())
                                .await
                                .is_err()
                            {
                                let _ = child.kill().await;
                            }
                        });
                    }
                    started.record();
                }
                _ => {}
            }
        }
    }
}

/// Reports a child that exited (once) and restarts it after its back-off.
pub(crate) fn watch_children(options: &UpOptions, started: &mut Started) {
    let mut changed = false;
    for c in &mut started.children {
        if let Some(child) = c.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                c.child = None;
                let delay = c.restart.exited();
                c.info.exits += 1;
                changed = true;
                tracing::error!(kind = %c.info.kind, site = ?c.info.site, port = c.info.port, pid = c.info.pid, %status,
                    restart_in_ms = delay.as_millis() as u64, "a child process exited unexpectedly; restarting it");
            }
        } else if c.restart.due() {
            match spawn_spec(&options.exe, &c.spec, &options.data_dir) {
                Ok(child) => {
                    c.info.pid = child.id().unwrap_or(0);
                    c.child = Some(child);
                    c.restart.started();
                    changed = true;
                    tracing::info!(kind = %c.info.kind, site = ?c.info.site, port = c.info.port, pid = c.info.pid,
                        restarts = c.restart.count, "child process restarted");
                }
                Err(e) => {
                    let delay = c.restart.exited();
                    tracing::error!(kind = %c.info.kind, error = %e, retry_in_ms = delay.as_millis() as u64, "could not restart a child process");
                }
            }
        }
    }
    if changed {
        started.record();
    }
}

/// Whether a database that stopped may be started again now: not while
/// the controller still counts on failing its site over.
pub(crate) fn may_restart(
    topology: &Topology,
    published: Option<&Published>,
    data_dir: &ClusterDir,
    site: &SiteName,
) -> bool {
    if crate::operator::reseeding::phase(data_dir, site)
        == Some(crate::operator::reseeding::Phase::Stopped)
    {
        // `srs failback` is replacing its data directory.
        return false;
    }
    let Some(p) = published else {
        return true;
    };
    let held = p
        .memory
        .alerts
        .values()
        .any(|a| matches!(a, crate::controller::decide::Alert::FailoverHeld { site: s, .. } if s == site));
    p.memory.primary != *site || !topology.controller.automatic || held
}

/// Reports a database server that exited (once) and restarts it when
/// allowed; whether a pid changed.
pub(crate) async fn watch_databases(
    data_dir: &ClusterDir,
    topology: &Topology,
    published: Option<&Published>,
    servers: &mut [Server],
) -> bool {
    let mut changed = false;
    for s in servers {
        if s.restart.at.is_none() {
            if let Some(status) = s.server.exited() {
                let delay = s.restart.exited();
                s.exits += 1;
                changed = true;
                tracing::error!(site = %s.site, %status, log = %s.server.log_tail(5), restart_in_ms = delay.as_millis() as u64,
                    "a MariaDB server exited unexpectedly; it restarts read-only once the controller no longer needs it down");
            }
        } else if s.restart.due() && may_restart(topology, published, data_dir, &s.site) {
            match s.server.launch().await {
                Ok(()) => {
                    s.restart.started();
                    changed = true;
                    tracing::info!(site = %s.site, pid = s.server.pid().unwrap_or(0), restarts = s.restart.count,
                        "MariaDB server restarted (read-only; the controller decides its role)");
                }
                Err(e) => {
                    let delay = s.restart.exited();
                    tracing::error!(site = %s.site, error = %e, retry_in_ms = delay.as_millis() as u64, "could not restart a MariaDB server");
                }
            }
        }
    }
    changed
}

pub(crate) fn spawn_spec(exe: &Path, spec: &Spec, data_dir: &ClusterDir) -> anyhow::Result<Child> {
    let env: Vec<(&str, String)> = spec.env.iter().map(|(k, v)| (*k, v.clone())).collect();
    spawn(exe, &spec.args, &env, log_file(data_dir, &spec.log)?)
}

fn spawn(
    exe: &Path,
    args: &[String],
    env: &[(&str, String)],
    log: std::fs::File,
) -> anyhow::Result<Child> {
    let err = log.try_clone().context("Failed to share a log file")?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        // Children stop themselves if this process dies without stopping them.
        .env("SRS_EXIT_WITH_PARENT", "1")
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn()
        .with_context(|| format!("Failed to start {}", exe.display()))
}

async fn wait_ready(addr: SocketAddr, child: &mut Child, what: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    for _ in 0..300 {
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("{what} exited at start ({status}); see its log under logs/");
        }
        if let Ok(r) = client.get(format!("http://{addr}/readyz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{what} did not become ready within 30 s")
}

/// Starts the controller and waits until it has made the primary ready
/// for the application (replication wired, account created).
async fn start_controller(options: &UpOptions, children: &mut Started) -> anyhow::Result<()> {
    let data_dir = &options.data_dir;
    let spec = Spec {
        args: vec![
            "controller".into(),
            "--data-dir".into(),
            data_dir.to_string(),
        ],
        env: Vec::new(),
        log: "controller".into(),
    };
    let child = children.spawn(options, ChildKind::Controller, None, 0, spec)?;
    let pid = child.id().unwrap_or(0);
    let mut ready = Err(anyhow::anyhow!(
        "the controller did not make the primary ready within 60 s; see logs/controller.log and `srs status`"
    ));
    for _ in 0..600 {
        if let Ok(Some(status)) = child.try_wait() {
            ready = Err(anyhow::anyhow!(
                "the controller exited at start ({status}); see logs/controller.log"
            ));
            break;
        }
        if Published::read(data_dir).is_some_and(|p| p.pid == pid && p.ready) {
            ready = Ok(());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ready?;
    tracing::info!(pid, "controller running; the primary is ready");
    Ok(())
}

/// How an app instance of `site` on `port` is started.
fn app_spec(
    options: &UpOptions,
    topology: &Topology,
    secrets: &Secrets,
    site: &Site,
    port: u16,
    role: SiteRole,
) -> Spec {
    let data_dir = &options.data_dir;
    let mut args = vec![
        "serve".into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--site-name".into(),
        site.name.to_string(),
        "--site-role".into(),
        role.as_str().into(),
        "--log-format".into(),
        "json".into(),
        "--write-timeout-secs".into(),
        topology.write_timeout_secs.to_string(),
        // The edge is on this machine: believe its X-Forwarded-For.
        "--trusted-proxy".into(),
        "127.0.0.1".into(),
        "--cluster-dir".into(),
        data_dir.to_string(),
    ];
    // Every instance follows the controller: for the write limit (when
    // admission is on) and for which site holds the primary epoch.
    if let Some(controller) = topology.controller.listen {
        args.extend([
            "--admission-url".into(),
            format!("http://{controller}/admission"),
        ]);
    }
    Spec {
        args,
        // The URL holds a password: environment, not the command line.
        env: vec![
            (
                "SRS_DATABASE_URL",
                secrets.app_url("127.0.0.1", site.db_port),
            ),
            // glibc keeps an allocator arena per busy thread; two serve an
            // instance as fast and held 78 -> 55 MiB in bench/http.sh.
            ("MALLOC_ARENA_MAX", "2".into()),
        ],
        log: format!("app-{}-{port}", site.name),
    }
}

async fn start_children(
    options: &UpOptions,
    topology: &Topology,
    secrets: &Secrets,
    primary: &Site,
    children: &mut Started,
) -> anyhow::Result<()> {
    start_controller(options, children).await?;
    start_apps(options, topology, secrets, primary, children).await?;
    // A site made primary before this start (a failover) serves on its
    // standby instances, which the loop below starts as the controller
    // asks; the edge is ready only once the active site's instances
    // answer, so they are started before it is waited for.
    let published = Published::read(&options.data_dir);
    follow_standby(options, topology, secrets, published.as_ref(), children);
    if topology.backup.enabled() {
        start_backup_agent(options, topology, children)?;
    }
    start_edge(options, topology, secrets, children).await
}

/// Every site's app instances; the primary's are waited for.
async fn start_apps(
    options: &UpOptions,
    topology: &Topology,
    secrets: &Secrets,
    primary: &Site,
    children: &mut Started,
) -> anyhow::Result<()> {
    for site in &topology.sites {
        let role = if site.name == primary.name {
            SiteRole::Primary
        } else {
            SiteRole::Replica
        };
        for port in &site.app_ports {
            let spec = app_spec(options, topology, secrets, site, *port, role);
            let name = spec.log.clone();
            let child = children.spawn(options, ChildKind::App, Some(&site.name), *port, spec)?;
            let pid = child.id().unwrap_or(0);
            if site.name == primary.name {
                let addr = SocketAddr::from(([127, 0, 0, 1], *port));
                wait_ready(addr, child, &name).await?;
            }
            tracing::info!(site = %site.name, port, pid, "app instance running");
        }
    }
    Ok(())
}

/// The backup agent (`srs backup run`), for a topology that backs up.
fn start_backup_agent(
    options: &UpOptions,
    topology: &Topology,
    children: &mut Started,
) -> anyhow::Result<()> {
    let spec = Spec {
        args: vec![
            "backup".into(),
            "run".into(),
            "--data-dir".into(),
            options.data_dir.to_string(),
        ],
        env: Vec::new(),
        log: "backup".into(),
    };
    let child = children.spawn(options, ChildKind::Backup, None, 0, spec)?;
    let pid = child.id().unwrap_or(0);
    tracing::info!(pid, schedule = %topology.backup.schedule, archive = topology.backup.archive, "backup agent running");
    Ok(())
}

/// The edge's settings, written into the cluster directory, and the
/// command that runs it on them.
pub(crate) fn edge_spec(
    topology: &Topology,
    secrets: &Secrets,
    data_dir: &ClusterDir,
) -> anyhow::Result<Spec> {
    let edge = front_door::edge_config(topology, secrets, data_dir)?;
    let edge_file = data_dir.file(ClusterFile::EdgeConfig);
    write_private(&edge_file, &serde_json::to_string_pretty(&edge)?)?;
    Ok(Spec {
        args: vec![
            "edge".into(),
            "--config".into(),
            edge_file.display().to_string(),
            "--worker-threads".into(),
            topology.edge.worker_threads.to_string(),
        ],
        env: Vec::new(),
        log: "edge".into(),
    })
}

/// The edge, with its settings written for it; waited for.
async fn start_edge(
    options: &UpOptions,
    topology: &Topology,
    secrets: &Secrets,
    children: &mut Started,
) -> anyhow::Result<()> {
    let data_dir = &options.data_dir;
    let spec = edge_spec(topology, secrets, data_dir)?;
    let port = topology.edge.listen.port();
    let child = children.spawn(options, ChildKind::Edge, None, port, spec)?;
    let pid = child.id().unwrap_or(0);
    wait_ready(topology.edge.listen, child, "the edge").await?;
    tracing::info!(listen = %topology.edge.listen, pid, "edge running");
    Ok(())
}

async fn stop_child(c: &mut Running) {
    let Some(child) = c.child.as_mut() else {
        return;
    };
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    if tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .is_err()
    {
        tracing::warn!(kind = %c.info.kind, pid = c.info.pid, "did not stop within 15 s; killing");
        let _ = child.kill().await;
    }
}

pub(crate) async fn stop_all(children: &mut [Running], servers: &mut [Server]) {
    for kind in [
        ChildKind::Edge,
        ChildKind::Backup,
        ChildKind::Controller,
        ChildKind::Agent,
    ] {
        for c in children.iter_mut().filter(|c| c.info.kind == kind) {
            stop_child(c).await;
        }
    }
    for c in children
        .iter_mut()
        .filter(|c| c.info.kind == ChildKind::App)
    {
        stop_child(c).await;
    }
    for s in servers {
        if let Err(e) = s.server.stop().await {
            tracing::error!(site = %s.site, error = %e, "stopping a database");
        }
    }
}
