//! The controller against two real MariaDB servers it does not run itself
//! (`managed = false`), reached over TCP with an admin account the way it
//! reaches sites on other hosts.

use srs_dr::controller::decide::Alert;
use srs_dr::controller::published::{EventLog, Published};
use srs_dr::ClusterDir;
use srs_mariadb::{Admin, LocalServer, ServerConfig, SyncMode};
use std::path::Path;
use std::time::{Duration, Instant};

const ADMIN_PASSWORD: &str = "admin password for tests";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn server(dir: &Path, name: &str, id: u32, sync_mode: SyncMode) -> LocalServer {
    LocalServer::new(ServerConfig {
        name: name.into(),
        dir: dir.join("servers").join(name),
        port: free_port(),
        server_id: id,
        buffer_pool_mb: 64,
        parallel_threads: 2,
        sync_mode,
        root_password: "root password for tests".into(),
        network: None,
    })
    .expect("mariadbd installed")
}

/// An account like an operator's on a remote host: all privileges over TCP.
async fn create_admin(server: &LocalServer) {
    let mut root = Admin::connect_socket(server.config()).await.expect("root");
    root.exec(
        "creating the admin account",
        &format!(
            "SET SESSION sql_log_bin = 0;\n\
             CREATE USER 'srs_admin'@'127.0.0.1' IDENTIFIED BY '{ADMIN_PASSWORD}';\n\
             GRANT ALL PRIVILEGES ON *.* TO 'srs_admin'@'127.0.0.1' WITH GRANT OPTION;"
        ),
    )
    .await
    .expect("admin account");
}

fn write_topology(
    dir: &Path,
    sync_mode: &str,
    primary_port: u16,
    dr_port: u16,
    controller_port: u16,
) {
    let topology = format!(
        "sync_mode = \"{sync_mode}\"\nbounded_timeout_ms = 300\n\
         [edge]\nlisten = \"127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{}\"\n\
         [controller]\nprobe_interval_ms = 100\nfailure_threshold = 3\nlisten = \"127.0.0.1:{controller_port}\"\n\
         [[sites]]\nname = \"east\"\nrole = \"primary\"\ndb_host = \"127.0.0.1\"\ndb_port = {primary_port}\n\
         managed = false\nadmin_user = \"srs_admin\"\napp_ports = [{}]\n\
         [[sites]]\nname = \"west\"\nrole = \"dr\"\ndb_host = \"127.0.0.1\"\ndb_port = {dr_port}\n\
         managed = false\nadmin_user = \"srs_admin\"\n",
        free_port(),
        free_port(),
        free_port(),
    );
    std::fs::write(dir.join("srs-topology.toml"), topology).expect("topology");
    let secrets = format!(
        "root_password = \"{ADMIN_PASSWORD}\"\nedge_secret = \"edge secret\"\n\
         [app]\nuser = \"srs_app\"\npassword = \"app password\"\n\
         [repl]\nuser = \"srs_repl\"\npassword = \"repl password\"\n"
    );
    std::fs::write(dir.join("secrets.toml"), secrets).expect("secrets");
}

async fn text(url: &str) -> String {
    reqwest::get(url)
        .await
        .expect("answered")
        .text()
        .await
        .expect("text")
}

/// Two running servers with the operator's admin account.
async fn two_servers(path: &Path, mode: SyncMode) -> (LocalServer, LocalServer) {
    let mut east = server(path, "east", 1, mode);
    let mut west = server(path, "west", 2, mode);
    for s in [&mut east, &mut west] {
        s.prepare().await.expect("prepare");
        s.start().await.expect("start");
        create_admin(s).await;
    }
    (east, west)
}

async fn wait_for(what: &str, dir: &ClusterDir, check: impl Fn(&Published) -> bool) -> Published {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(p) = Published::read(dir).filter(|p| check(p)) {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: controller state {:?}; events {:?}",
            Published::read(dir),
            EventLog::tail(dir, 10)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_wires_sites_it_does_not_run_and_reports_an_outage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_owned();
    let cluster = ClusterDir::new(&path);
    let (mut east, mut west) = two_servers(&path, SyncMode::Strict).await;
    let controller_port = free_port();
    write_topology(
        &path,
        "strict",
        east.config().port,
        west.config().port,
        controller_port,
    );
    let endpoint = format!("http://127.0.0.1:{controller_port}");

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    // The controller runs beside the checks in this task (its future is
    // not Send, so not spawned).
    let controller = srs_dr::controller::run(&cluster, "test", shutdown);
    let checks = async {
        let ready = wait_for("primary ready", &cluster, |p| p.ready).await;
        assert_eq!(
            (ready.memory.primary.as_str(), ready.memory.epoch),
            ("east", 1)
        );
        let mut w = Admin::connect_socket(west.config()).await.expect("root");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = w.replica_status().await.expect("status");
            if status
                .as_ref()
                .is_some_and(|s| s.io_running && s.sql_running)
            {
                let s = status.expect("status");
                assert_eq!(s.source, format!("127.0.0.1:{}", east.config().port));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "west does not replicate: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (_, _, west_read_only) = w.gtid_and_read_only().await.expect("gtid");
        assert!(west_read_only, "the DR site stays read-only");
        drop(w);

        let status = srs_dr::operator::status::collect(&cluster)
            .await
            .expect("status");
        let roles: Vec<(&str, &str)> = status
            .sites
            .iter()
            .map(|s| (s.name.as_str(), s.role.as_str()))
            .collect();
        assert_eq!(roles, [("east", "primary"), ("west", "replica")]);
        assert!(
            srs_dr::operator::status::render(&status).contains("epoch 1, primary 'east', ready")
        );

        let ready_probe = reqwest::get(format!("{endpoint}/readyz"))
            .await
            .expect("controller endpoint");
        assert_eq!(ready_probe.status(), 200);
        let metrics = text(&format!("{endpoint}/metrics")).await;
        for line in [
            "srs_controller_epoch 1",
            "srs_controller_ready 1",
            "srs_site_database_up{site=\"west\"} 1",
            "srs_controller_steps_total{decision=\"promote\"} 1",
            "srs_replica_lag_transactions{site=\"west\"}",
        ] {
            assert!(metrics.contains(line), "{line} in {metrics}");
        }

        // The replica goes away: an alert after three failed probes, cleared
        // once it is back and replicating again.
        west.stop().await.expect("stop west");
        wait_for("replica alert", &cluster, |p| {
            p.memory.alerts.values().any(
                |a| matches!(a, Alert::ReplicaUnreachable { site, strict: true } if site == "west"),
            )
        })
        .await;
        let metrics = text(&format!("{endpoint}/metrics")).await;
        assert!(
            metrics.contains("srs_controller_alert{kind=\"replica-unreachable\",site=\"west\"} 1"),
            "{metrics}"
        );
        west.start().await.expect("start west");
        wait_for("alert cleared", &cluster, |p| p.memory.alerts.is_empty()).await;
        let events: Vec<String> = EventLog::tail(&cluster, 20)
            .into_iter()
            .map(|e| e.what)
            .collect();
        let restarts = events
            .iter()
            .filter(|e| e.contains("make site 'west' replicate"))
            .count();
        assert_eq!(restarts, 2, "wired once, restarted once: {events:?}");
        assert!(events
            .iter()
            .any(|e| e.starts_with("alert: the replica database")));
        assert!(events
            .iter()
            .any(|e| e.starts_with("cleared: the replica database")));

        let _ = stop.send(());
    };
    let (ran, ()) = tokio::join!(controller, checks);
    ran.expect("controller ran");
    assert!(EventLog::tail(&cluster, 1)[0].what.contains("stopped"));
    west.stop().await.expect("stop");
    east.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_mode_falling_back_to_async_is_an_alert_until_the_replica_is_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_owned();
    let cluster = ClusterDir::new(&path);
    let mode = SyncMode::Bounded { timeout_ms: 300 };
    let (mut east, mut west) = two_servers(&path, mode).await;
    write_topology(
        &path,
        "bounded",
        east.config().port,
        west.config().port,
        free_port(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = srs_dr::controller::run(&cluster, "test", async {
        let _ = stopped.await;
    });
    let checks = async {
        wait_for("primary ready", &cluster, |p| p.ready).await;
        west.stop().await.expect("stop west");
        // A commit now waits 300 ms for an acknowledgement nobody sends,
        // then the primary falls back to asynchronous.
        let mut root = Admin::connect_socket(east.config()).await.expect("root");
        root.exec("a write without a replica", "CREATE DATABASE written_alone")
            .await
            .expect("commits after the timeout");
        let semi = root.semi_sync().await.expect("semi-sync");
        assert!(semi.enabled && !semi.active, "fell back: {semi:?}");
        drop(root);
        wait_for("fallback alert", &cluster, |p| {
            p.memory
                .alerts
                .values()
                .any(|a| matches!(a, Alert::SemiSyncFallback { site } if site == "east"))
        })
        .await;
        let table = srs_dr::operator::status::render(
            &srs_dr::operator::status::collect(&cluster)
                .await
                .expect("status"),
        );
        assert!(
            table.contains("ALERT: SEMI-SYNC FELL BACK TO ASYNCHRONOUS")
                && table.contains("FELL BACK"),
            "{table}"
        );
        // The replica returns, catches up, semi-sync resumes: cleared.
        west.start().await.expect("start west");
        wait_for("fallback cleared", &cluster, |p| {
            !p.memory
                .alerts
                .values()
                .any(|a| matches!(a, Alert::SemiSyncFallback { .. }))
        })
        .await;
        let _ = stop.send(());
    };
    let (ran, ()) = tokio::join!(controller, checks);
    ran.expect("controller ran");
    let events: Vec<String> = EventLog::tail(&cluster, 30)
        .into_iter()
        .map(|e| e.what)
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("cleared: SEMI-SYNC FELL BACK")),
        "{events:?}"
    );
    west.stop().await.expect("stop");
    east.stop().await.expect("stop");
}

/// A strict topology of `east` and a west reached at `west_port`, read
/// back as the controller reads it.
fn strict_topology(
    cluster: &ClusterDir,
    east: &LocalServer,
    west_port: u16,
) -> (srs_dr::Topology, srs_dr::Secrets) {
    write_topology(
        cluster.path(),
        "strict",
        east.config().port,
        west_port,
        free_port(),
    );
    let srs_dr::Cluster {
        topology, secrets, ..
    } = srs_dr::Cluster::open(cluster).expect("cluster");
    (topology, secrets)
}

/// A server that goes silent while the controller holds a connection to it
/// (paused here; a host cut off looks the same): TCP keeps the connection
/// open, so without a bound a step on it would hold the loop for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_on_a_database_gone_silent_fails_within_the_step_timeout() {
    use srs_dr::controller::decide::Decision;
    use srs_dr::controller::{LiveTopology, Plant};

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_owned();
    let cluster = ClusterDir::new(&path);
    let (mut east, mut west) = two_servers(&path, SyncMode::Strict).await;
    let (topology, secrets) = strict_topology(&cluster, &east, west.config().port);
    let limit = topology.step_timeout();
    let mut plant = LiveTopology::new(topology, secrets, &cluster).expect("plant");
    let west_name = srs_domain::SiteName::parse("west").expect("name");
    let step = Decision::RestoreSync {
        site: west_name.clone(),
    };

    // The observation keeps a connection to each site; the step borrows it.
    let seen = plant.observe(&Default::default()).await;
    assert!(
        seen.sites.iter().all(|s| s.database.up),
        "both up: {:?}",
        seen.sites
    );
    plant.act(&step).await.expect("a step on a live server");

    let pid = west.pid().expect("west runs").to_string();
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {sig} {pid}");
    };
    plant.observe(&Default::default()).await;
    signal("-STOP");
    // kill returns before every thread of the server has stopped.
    let stopped = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("threads")
            .filter_map(Result::ok)
            .all(|t| {
                std::fs::read_to_string(t.path().join("stat"))
                    .ok()
                    .and_then(|stat| stat.rsplit(") ").next().map(|r| r.starts_with('T')))
                    .unwrap_or(true)
            })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !stopped() {
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let began = Instant::now();
    let outcome = plant.act(&step).await;
    let took = began.elapsed();
    signal("-CONT");
    let error = format!(
        "{:#}",
        outcome.expect_err("the paused server cannot answer")
    );
    assert!(error.contains("site 'west'"), "{error}");
    assert!(error.contains("stopped answering"), "{error}");
    assert!(
        took >= limit && took < limit + Duration::from_secs(5),
        "gave up after {took:?}, the limit being {limit:?}"
    );

    // Back: the next observation connects anew and the step goes through.
    plant.observe(&Default::default()).await;
    plant
        .act(&step)
        .await
        .expect("the step once it answers again");
    west.stop().await.expect("stop");
    east.stop().await.expect("stop");
}

/// Sites really 35 ms apart, with no `[link]` in the topology to tell the
/// controller so: a new connection's handshakes take about five round
/// trips (350 ms), more than the default probe timeout (300 ms), while a
/// probe on an open connection takes one. The controller must still see
/// the far site, at first and after its server restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_whose_handshakes_outlast_the_probe_timeout_is_still_seen() {
    use srs_dr::controller::observe::Observer;
    use srs_dr::link_delay::LinkDelay;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_owned();
    let cluster = ClusterDir::new(&path);
    let (mut east, mut west) = two_servers(&path, SyncMode::Strict).await;
    let far = LinkDelay::start(
        "127.0.0.1:0".parse().expect("addr"),
        format!("127.0.0.1:{}", west.config().port)
            .parse()
            .expect("addr"),
        Duration::from_millis(35),
    )
    .await
    .expect("delay");
    let (topology, secrets) = strict_topology(&cluster, &east, far.listen.port());
    assert_eq!(topology.probe_timeout(), Duration::from_millis(300));
    let observer = Observer::new(topology, secrets, &cluster).expect("observer");
    let west_name = srs_domain::SiteName::parse("west").expect("name");

    let seen_within = |down: bool| {
        let observer = &observer;
        let west_name = west_name.clone();
        async move {
            let down = if down {
                [west_name].into_iter().collect()
            } else {
                Default::default()
            };
            let mut errors = Vec::new();
            for n in 1..=10 {
                let seen = observer.observe_with(&down).await;
                let west = seen.site("west").expect("west observed");
                if west.database.up {
                    return (n, errors);
                }
                errors.push(west.database.error.clone());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("west never seen up: {errors:?}");
        }
    };
    let (first, errors) = seen_within(false).await;
    assert!(first <= 3, "seen up at observation {first}: {errors:?}");
    // Once connected, every probe answers.
    for _ in 0..5 {
        let seen = observer.observe().await;
        assert!(seen.site("west").expect("west").database.up, "{seen:?}");
    }
    // Restarted: counted down meanwhile, it is seen again.
    west.stop().await.expect("stop west");
    let seen = observer.observe().await;
    assert!(!seen.site("west").expect("west").database.up);
    west.start().await.expect("start west");
    let (again, errors) = seen_within(true).await;
    assert!(
        again <= 4,
        "seen up again at observation {again}: {errors:?}"
    );
    observer.close().await;
    west.stop().await.expect("stop");
    east.stop().await.expect("stop");
}

/// East primary, west its replica whose applier stopped (as a take_over
/// batch leaves it that failed after stopping it, or a restart leaves a
/// promoted server whose replication was not yet cleared), then a write on
/// east that west received but did not apply: the plant, both servers and
/// a root connection to each (west, east).
async fn west_receiving_but_not_applying(
    path: &Path,
) -> (
    srs_dr::controller::LiveTopology,
    LocalServer,
    LocalServer,
    Admin,
    Admin,
) {
    use srs_dr::controller::decide::Decision;
    use srs_dr::controller::{LiveTopology, Plant};
    let cluster = ClusterDir::new(path);
    let (east, west) = two_servers(path, SyncMode::Strict).await;
    let (topology, secrets) = strict_topology(&cluster, &east, west.config().port);
    let mut plant = LiveTopology::new(topology, secrets, &cluster).expect("plant");
    plant
        .act(&Decision::Promote {
            site: site("east"),
            epoch: 1,
            alone: false,
        })
        .await
        .expect("east primary");
    plant
        .act(&Decision::Replicate {
            replica: site("west"),
            primary: site("east"),
            at_ms: 0,
        })
        .await
        .expect("west replicates");
    let mut w = Admin::connect_socket(west.config()).await.expect("root");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !w
        .replica_status()
        .await
        .expect("status")
        .is_some_and(|s| s.io_running && s.sql_running)
    {
        assert!(Instant::now() < deadline, "west does not replicate");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.exec("stopping the applier", "STOP SLAVE SQL_THREAD;")
        .await
        .expect("stop applying");
    let mut e = Admin::connect_socket(east.config()).await.expect("root");
    e.exec(
        "writing on the primary",
        "CREATE DATABASE late; CREATE TABLE late.t (v INT PRIMARY KEY); INSERT INTO late.t VALUES (1);",
    )
    .await
    .expect("received by west (strict), not applied");
    (plant, east, west, w, e)
}

/// West promoted, alone, in epoch 2; what the step said.
async fn promote_west_in_epoch_2(
    plant: &mut srs_dr::controller::LiveTopology,
) -> anyhow::Result<Option<String>> {
    use srs_dr::controller::decide::Decision;
    use srs_dr::controller::Plant;
    plant
        .act(&Decision::Promote {
            site: site("west"),
            epoch: 2,
            alone: true,
        })
        .await
}

fn site(name: &str) -> srs_domain::SiteName {
    srs_domain::SiteName::parse(name).expect("name")
}

/// A promotion cut short after its batch stopped the applier leaves a
/// replica that receives but does not apply; the retried promotion applies
/// what it received first, instead of waiting for it for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_retried_on_a_replica_whose_applier_stopped_applies_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut plant, mut east, mut west, mut w, mut e) =
        west_receiving_but_not_applying(dir.path()).await;
    let done = promote_west_in_epoch_2(&mut plant)
        .await
        .expect("the retried promotion applies, then takes writes");
    assert!(done.is_some_and(|d| d.contains("applied everything received")));
    let (_, applied, read_only) = w.gtid_and_read_only().await.expect("state");
    assert!(!read_only, "west writable");
    let (written, _, _) = e.gtid_and_read_only().await.expect("state");
    assert_eq!(
        applied, written,
        "everything east wrote was applied before the promotion"
    );
    drop((w, e));
    west.stop().await.expect("stop");
    east.stop().await.expect("stop");
}

/// A promoted server restarted before its replication settings were
/// cleared comes back read-only with the applier stopped and, in its relay
/// log, what the old primary sent after the promotion. Promoted again in
/// its own epoch it must not apply that on top of the writes it took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_promoted_again_in_its_epoch_forgets_what_it_received_unapplied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut plant, mut east, mut west, mut w, e) =
        west_receiving_but_not_applying(dir.path()).await;
    // West was made primary in epoch 2 before it restarted.
    w.record_epoch(2, "west")
        .await
        .expect("epoch 2 recorded at west");
    let done = promote_west_in_epoch_2(&mut plant)
        .await
        .expect("promoted again");
    assert!(
        done.as_deref().is_some_and(|d| d.contains("not applied")),
        "{done:?}"
    );
    let (_, _, read_only) = w.gtid_and_read_only().await.expect("state");
    assert!(!read_only, "west writable");
    assert!(
        w.replica_status().await.expect("status").is_none(),
        "replication from east forgotten"
    );
    let read = w
        .exec("reading east's late write", "SELECT v FROM late.t")
        .await;
    assert!(
        read.as_ref().is_err_and(|e| e.to_string().contains("late")),
        "east's write after the promotion was applied: {read:?}"
    );
    drop((w, e));
    west.stop().await.expect("stop");
    east.stop().await.expect("stop");
}
