//! `srs site`: runs on one host what one site of a cluster across hosts
//! needs: its MariaDB server (unless someone else runs it), its site agent,
//! a controller candidate, its app instances (each taking writes only under
//! the agent's write lease) and its edge, which follows the primary the
//! agent reads from the quorum so a client at either site's front door is
//! served by the primary. Children that die are restarted as under `srs up`;
//! the database always (it starts read-only; the leader decides its role).

use crate::cluster_dir::ClusterFile;
use crate::controller::actuators::EdgeSwitch;
use crate::secrets::Secrets;
use crate::supervisor::{
    record_databases, stop_all, watch_children, watch_databases, ChildKind, Server, Spec, Started,
    UpOptions,
};
use crate::topology::{Site, Topology};
use anyhow::Context;
use srs_domain::{SiteName, SiteRole};
use std::future::Future;
use std::time::Duration;

/// How often the edge follower asks the site agent who is primary.
const FOLLOW_EVERY: Duration = Duration::from_millis(100);

/// Runs site `site` of the topology in `options.data_dir` until `shutdown`.
pub async fn run(
    mut options: UpOptions,
    site: &SiteName,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    options.data_dir = options
        .data_dir
        .absolute()
        .with_context(|| format!("Failed to resolve the data directory {}", options.data_dir))?;
    let data_dir = &options.data_dir;
    // Shared by file from the host that made them: never generated here,
    // or the sites would hold different passwords.
    anyhow::ensure!(
        !data_dir.file(ClusterFile::Topology).exists()
            || data_dir.file(ClusterFile::Secrets).exists(),
        "copy secrets.toml from where the topology was split into {data_dir}"
    );
    let cluster = crate::Cluster::open(data_dir)?;
    let own = cluster.site(site)?.clone();
    let crate::Cluster {
        topology, secrets, ..
    } = cluster;
    anyhow::ensure!(
        topology.quorum.is_some(),
        "srs site runs one site of a cluster across hosts, whose topology has a [quorum]; on one machine use srs up"
    );
    tracing::info!(site = %site, sync_mode = %topology.sync_mode(), "starting the site");

    // Unless someone else runs it (`managed = false`, or a remote host).
    let mut servers = Vec::new();
    if own.is_local() {
        servers.push(Server::start(&topology, &secrets, data_dir, &own).await?);
    }
    let mut started = Started {
        file: data_dir.file(ClusterFile::RunFile),
        databases: Vec::new(),
        children: Vec::new(),
    };
    record_databases(&mut started, &topology, &servers);
    if let Err(e) = start_services(&options, &topology, &secrets, &own, &mut started) {
        stop_all(&mut started.children, &mut servers).await;
        return Err(e);
    }
    let follower = tokio::spawn(follow_primary(
        topology.clone(),
        secrets.clone(),
        own.clone(),
    ));
    tracing::info!(site = %site, edge = %topology.edge.listen, "site running; Ctrl-C stops it");

    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let waiting_since = std::time::Instant::now();
    let mut apps_started = false;
    let mut told = 0;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {
                if !apps_started {
                    if app_account_ready(&secrets, &own).await {
                        start_apps(&options, &topology, &secrets, &own, &mut started)?;
                        apps_started = true;
                    } else if waiting_since.elapsed().as_secs() / 10 > told {
                        told = waiting_since.elapsed().as_secs() / 10;
                        tracing::info!(site = %site, waited_secs = told * 10,
                            "app instances wait for the leader to wire this site's database");
                    }
                }
                watch_children(&options, &mut started);
                if watch_databases(data_dir, &topology, None, &mut servers).await {
                    record_databases(&mut started, &topology, &servers);
                }
            }
        }
    }
    follower.abort();
    tracing::info!("stopping: edge first, then the controller, app instances, database last");
    stop_all(&mut started.children, &mut servers).await;
    let _ = std::fs::remove_file(data_dir.file(ClusterFile::RunFile));
    Ok(())
}

fn start(
    options: &UpOptions,
    started: &mut Started,
    kind: ChildKind,
    site: Option<&Site>,
    port: u16,
    spec: Spec,
) -> anyhow::Result<()> {
    let child = started.spawn(options, kind, site.map(|s| &s.name), port, spec)?;
    tracing::info!(%kind, port, pid = child.id().unwrap_or(0), "started");
    Ok(())
}

/// Whether the application's account works on the site's database: the
/// leader creates it on the primary, replication brings it here.
async fn app_account_ready(secrets: &Secrets, own: &Site) -> bool {
    let connect = srs_mariadb::Admin::connect_tcp(&own.db_host, own.db_port, &secrets.app);
    match tokio::time::timeout(Duration::from_secs(1), connect).await {
        Ok(Ok(admin)) => {
            admin.close().await;
            true
        }
        _ => false,
    }
}

/// The agent, the controller candidate and the edge: they need nothing of
/// the database to start.
fn start_services(
    options: &UpOptions,
    topology: &Topology,
    secrets: &Secrets,
    own: &Site,
    started: &mut Started,
) -> anyhow::Result<()> {
    let dir = options.data_dir.to_string();
    let agent_port = own.agent_port.unwrap_or(0);
    start(
        options,
        started,
        ChildKind::Agent,
        Some(own),
        agent_port,
        Spec {
            args: vec![
                "site-agent".into(),
                "--data-dir".into(),
                dir.clone(),
                "--site".into(),
                own.name.to_string(),
            ],
            env: Vec::new(),
            log: format!("agent-{}", own.name),
        },
    )?;
    start(
        options,
        started,
        ChildKind::Controller,
        Some(own),
        0,
        Spec {
            args: vec![
                "controller".into(),
                "--data-dir".into(),
                dir.clone(),
                "--name".into(),
                format!("controller of site {}", own.name),
            ],
            env: Vec::new(),
            log: "controller".into(),
        },
    )?;
    let spec = super::edge_spec(topology, secrets, &options.data_dir)?;
    start(
        options,
        started,
        ChildKind::Edge,
        None,
        topology.edge.listen.port(),
        spec,
    )
}

/// The site's app instances, each taking writes only under the agent's
/// write lease.
fn start_apps(
    options: &UpOptions,
    topology: &Topology,
    secrets: &Secrets,
    own: &Site,
    started: &mut Started,
) -> anyhow::Result<()> {
    let dir = options.data_dir.to_string();
    let agent_port = own.agent_port.unwrap_or(0);
    // Every edge may forward from any site's host.
    let proxies: Vec<String> = topology.sites.iter().map(|s| s.app_host.clone()).collect();
    for port in &own.app_ports {
        let mut args = vec![
            "serve".into(),
            "--listen".into(),
            format!("{}:{port}", own.app_host),
            "--site-name".into(),
            own.name.to_string(),
            "--site-role".into(),
            match own.role {
                SiteRole::Primary => "primary",
                _ => "dr",
            }
            .into(),
            "--log-format".into(),
            "json".into(),
            "--write-timeout-secs".into(),
            topology.write_timeout_secs.to_string(),
            "--admission-url".into(),
            format!("http://{}:{agent_port}/admission", own.app_host),
            "--write-lease".into(),
            "--cluster-dir".into(),
            dir.clone(),
        ];
        for proxy in &proxies {
            args.extend(["--trusted-proxy".into(), proxy.clone()]);
        }
        start(
            options,
            started,
            ChildKind::App,
            Some(own),
            *port,
            Spec {
                args,
                env: vec![
                    (
                        "SRS_DATABASE_URL",
                        secrets.app_url(&own.db_host, own.db_port),
                    ),
                    ("MALLOC_ARENA_MAX", "2".into()),
                ],
                log: format!("app-{}-{port}", own.name),
            },
        )?;
    }
    Ok(())
}

/// Routes this host's edge to the primary the site agent reads from the
/// quorum, whichever controller leads (it may be on another host).
async fn follow_primary(topology: Topology, secrets: Secrets, own: Site) {
    let url = format!(
        "http://{}:{}/admission",
        own.app_host,
        own.agent_port.unwrap_or(0)
    );
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "edge follower: no HTTP client");
            return;
        }
    };
    let edge = match EdgeSwitch::new(&topology, &secrets) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "edge follower: the edge cannot be told");
            return;
        }
    };
    let mut routed: Option<SiteName> = None;
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let answer: Option<serde_json::Value> = match client.get(&url).send().await {
            Ok(r) => r.json().await.ok(),
            Err(_) => None,
        };
        let primary = answer
            .as_ref()
            .and_then(|a| a["primary_site"].as_str())
            .and_then(|s| SiteName::parse(s).ok());
        let Some(primary) = primary else {
            continue;
        };
        if routed.as_ref() == Some(&primary) {
            continue;
        }
        match edge.switch(&primary).await {
            Ok(()) => {
                tracing::info!(primary = %primary, "edge routed to the primary the quorum names");
                routed = Some(primary);
            }
            Err(e) => tracing::debug!(error = %format!("{e:#}"), "edge follower: switch failed"),
        }
    }
}
