//! `srs up`: runs a whole two-site topology on this machine as separate
//! child processes (MariaDB servers, the controller, app instances, the
//! edge), so a drill can kill any of them. Children that die are reported,
//! not restarted. Replication and routing are the controller's job.

use crate::published::{primary_site, Published};
use crate::reach::server_config;
use crate::secrets::{write_private, Secrets};
use crate::topology::{Site, Topology};
use anyhow::Context;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::Serialize;
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
    pub data_dir: PathBuf,
    /// The `srs` executable to start children with.
    pub exe: PathBuf,
}

/// A child process srs started, for `srs status` and drills.
#[derive(Debug, Clone, Serialize)]
pub struct ChildInfo {
    /// database, controller, app or edge.
    pub kind: String,
    /// Its site (empty for the edge).
    pub site: String,
    /// Its port (0: it listens on none).
    pub port: u16,
    /// Its process id.
    pub pid: u32,
}

/// The file `srs up` keeps its children in.
pub const RUN_FILE: &str = "up.json";

struct Running {
    info: ChildInfo,
    child: Child,
    reported: bool,
}

/// Everything started so far, recorded in the run file after each start so
/// drills and operators see every process as soon as it exists.
struct Started {
    file: PathBuf,
    databases: Vec<ChildInfo>,
    children: Vec<Running>,
}

impl Started {
    /// Records a child just started; returns it to wait on.
    fn push(&mut self, info: ChildInfo, child: Child) -> &mut Child {
        let at = self.children.len();
        self.children.push(Running {
            info,
            child,
            reported: false,
        });
        self.record();
        &mut self.children[at].child
    }

    fn record(&self) {
        let all: Vec<&ChildInfo> = self
            .databases
            .iter()
            .chain(self.children.iter().map(|c| &c.info))
            .collect();
        let written = serde_json::to_string_pretty(&all)
            .map_err(anyhow::Error::from)
            .and_then(|text| write_private(&self.file, &text));
        if let Err(e) = written {
            tracing::error!(error = %e, file = %self.file.display(), "could not record the running processes");
        }
    }
}

fn log_file(data_dir: &Path, name: &str) -> anyhow::Result<std::fs::File> {
    let dir = data_dir.join("logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .with_context(|| format!("Failed to open the log of {name}"))
}

/// Runs the topology until `shutdown`, then stops everything in order:
/// the edge first, then the controller and the app instances, the
/// databases last.
pub async fn up(mut options: UpOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    // Children and config files get absolute paths: the default is relative.
    options.data_dir = std::path::absolute(&options.data_dir).with_context(|| {
        format!(
            "Failed to resolve the data directory {}",
            options.data_dir.display()
        )
    })?;
    let data_dir = &options.data_dir;
    let (topology, path, created) = Topology::load_or_create(data_dir)?;
    if created {
        tracing::info!(file = %path.display(), "wrote the default topology; edit it to change ports, instance counts or sync mode");
    }
    if topology.sites.iter().any(|s| !s.is_local()) {
        anyhow::bail!("srs up runs local sites only (db_host = \"127.0.0.1\", not managed = false); for sites run elsewhere use `srs controller` and `srs edge`");
    }
    let secrets = Secrets::load_or_create(data_dir)?;
    let primary_site = primary_site(&topology, data_dir);
    let dr_site = topology
        .sites
        .iter()
        .find(|s| s.name != primary_site.name)
        .cloned()
        .context("a second site")?;
    tracing::info!(primary = %primary_site.name, dr = %dr_site.name, sync_mode = %topology.sync_mode(), "starting the topology");

    let mut primary =
        LocalServer::new(server_config(&topology, &secrets, data_dir, &primary_site))?;
    let mut dr = LocalServer::new(server_config(&topology, &secrets, data_dir, &dr_site))?;
    for server in [&mut primary, &mut dr] {
        server.prepare().await?;
        server.start().await?;
    }

    let mut started = Started {
        file: data_dir.join(RUN_FILE),
        databases: vec![
            ChildInfo {
                kind: "database".into(),
                site: primary_site.name.clone(),
                port: primary_site.db_port,
                pid: primary.pid().unwrap_or(0),
            },
            ChildInfo {
                kind: "database".into(),
                site: dr_site.name.clone(),
                port: dr_site.db_port,
                pid: dr.pid().unwrap_or(0),
            },
        ],
        children: Vec::new(),
    };
    started.record();
    let result = start_children(
        &options,
        &topology,
        &secrets,
        &primary_site,
        &dr_site,
        &mut started,
    )
    .await;
    let children = &mut started.children;
    if let Err(e) = result {
        stop_all(children, &mut primary, &mut dr).await;
        return Err(e);
    }
    tracing::info!(edge = %topology.edge.listen, "topology running; Ctrl-C stops it");

    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {
                for c in children.iter_mut().filter(|c| !c.reported) {
                    if let Ok(Some(status)) = c.child.try_wait() {
                        c.reported = true;
                        tracing::error!(kind = %c.info.kind, site = %c.info.site, port = c.info.port, pid = c.info.pid, %status,
                            "a child process exited unexpectedly; it is not restarted");
                    }
                }
                for (server, name) in [(&mut primary, &primary_site.name), (&mut dr, &dr_site.name)] {
                    if let Some(status) = server.exited() {
                        tracing::error!(site = %name, %status, log = %server.log_tail(5), "a MariaDB server exited unexpectedly; it is not restarted");
                    }
                }
            }
        }
    }
    tracing::info!("stopping: edge first, then the controller, app instances, databases last");
    stop_all(children, &mut primary, &mut dr).await;
    let _ = std::fs::remove_file(data_dir.join(RUN_FILE));
    tracing::info!("stopped");
    Ok(())
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
    let args = vec![
        "controller".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
    ];
    let child = spawn(&options.exe, &args, &[], log_file(data_dir, "controller")?)?;
    let pid = child.id().unwrap_or(0);
    let info = ChildInfo {
        kind: "controller".into(),
        site: String::new(),
        port: 0,
        pid,
    };
    let child = children.push(info, child);
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

async fn start_children(
    options: &UpOptions,
    topology: &Topology,
    secrets: &Secrets,
    primary: &Site,
    dr: &Site,
    children: &mut Started,
) -> anyhow::Result<()> {
    let data_dir = &options.data_dir;
    start_controller(options, children).await?;
    for (site, role) in [(primary, "primary"), (dr, "replica")] {
        for port in &site.app_ports {
            let name = format!("app-{}-{port}", site.name);
            let mut args = vec![
                "serve".into(),
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--site-name".into(),
                site.name.clone(),
                "--site-role".into(),
                role.into(),
                "--log-format".into(),
                "json".into(),
                "--write-timeout-secs".into(),
                topology.write_timeout_secs.to_string(),
                // The edge is on this machine: believe its X-Forwarded-For.
                "--trusted-proxy".into(),
                "127.0.0.1".into(),
                "--cluster-dir".into(),
                data_dir.display().to_string(),
            ];
            if let Some(controller) = topology
                .controller
                .listen
                .filter(|_| topology.controller.admission)
            {
                args.extend([
                    "--admission-url".into(),
                    format!("http://{controller}/admission"),
                ]);
            }
            // The URL holds a password: environment, not the command line.
            let env = [(
                "SRS_DATABASE_URL",
                secrets.app_url("127.0.0.1", site.db_port),
            )];
            let child = spawn(&options.exe, &args, &env, log_file(data_dir, &name)?)?;
            let pid = child.id().unwrap_or(0);
            let info = ChildInfo {
                kind: "app".into(),
                site: site.name.clone(),
                port: *port,
                pid,
            };
            let child = children.push(info, child);
            if role == "primary" {
                let addr = SocketAddr::from(([127, 0, 0, 1], *port));
                wait_ready(addr, child, &name).await?;
            }
            tracing::info!(site = %site.name, port, pid, "app instance running");
        }
    }
    let edge = crate::front_door::edge_config(topology, secrets, data_dir)?;
    let edge_file = data_dir.join("edge.json");
    write_private(&edge_file, &serde_json::to_string_pretty(&edge)?)?;
    let args = vec![
        "edge".into(),
        "--config".into(),
        edge_file.display().to_string(),
        "--worker-threads".into(),
        topology.edge.worker_threads.to_string(),
    ];
    let child = spawn(&options.exe, &args, &[], log_file(data_dir, "edge")?)?;
    let pid = child.id().unwrap_or(0);
    let info = ChildInfo {
        kind: "edge".into(),
        site: String::new(),
        port: topology.edge.listen.port(),
        pid,
    };
    let child = children.push(info, child);
    wait_ready(topology.edge.listen, child, "the edge").await?;
    tracing::info!(listen = %topology.edge.listen, pid, "edge running");
    Ok(())
}

async fn stop_child(c: &mut Running) {
    if let Some(pid) = c.child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    if tokio::time::timeout(Duration::from_secs(15), c.child.wait())
        .await
        .is_err()
    {
        tracing::warn!(kind = %c.info.kind, pid = c.info.pid, "did not stop within 15 s; killing");
        let _ = c.child.kill().await;
    }
}

async fn stop_all(children: &mut [Running], primary: &mut LocalServer, dr: &mut LocalServer) {
    for kind in ["edge", "controller"] {
        for c in children.iter_mut().filter(|c| c.info.kind == kind) {
            stop_child(c).await;
        }
    }
    for c in children.iter_mut().filter(|c| c.info.kind == "app") {
        stop_child(c).await;
    }
    if let Err(e) = primary.stop().await {
        tracing::error!(error = %e, "stopping the primary database");
    }
    if let Err(e) = dr.stop().await {
        tracing::error!(error = %e, "stopping the DR database");
    }
}
