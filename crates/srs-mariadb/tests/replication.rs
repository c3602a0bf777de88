//! Two real MariaDB servers that srs initialises and wires itself.

use srs_domain::{DepartmentName, NewStudent, RawStudent, StudentField, StudentId};
use srs_mariadb::{Admin, Credentials, LocalServer, MariaDbError, ServerConfig, SyncMode};
use srs_store::{Actor, CreateOptions, Created, Store, StoreError, StoreOptions};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn config(dir: &std::path::Path, name: &str, id: u32, mode: SyncMode) -> ServerConfig {
    ServerConfig {
        name: name.into(),
        dir: dir.join(name),
        port: free_port(),
        server_id: id,
        buffer_pool_mb: 64,
        parallel_threads: 2,
        sync_mode: mode,
        root_password: "root password for tests".into(),
        network: None,
    }
}

struct Pair {
    _dir: tempfile::TempDir,
    primary: LocalServer,
    replica: LocalServer,
    app: Credentials,
    repl: Credentials,
}

async fn pair(mode: SyncMode) -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut primary =
        LocalServer::new(config(dir.path(), "primary", 1, mode)).expect("mariadbd installed");
    let mut replica =
        LocalServer::new(config(dir.path(), "dr", 2, mode)).expect("mariadbd installed");
    for server in [&mut primary, &mut replica] {
        assert!(
            server.prepare().await.expect("prepare"),
            "a new data directory"
        );
        server.start().await.expect("start");
    }
    let app = Credentials {
        user: "srs_app".into(),
        password: "app password".into(),
    };
    let repl = Credentials {
        user: "srs_repl".into(),
        password: "repl password".into(),
    };
    let mut a = Admin::connect_socket(primary.config())
        .await
        .expect("admin");
    let mut b = Admin::connect_socket(replica.config())
        .await
        .expect("admin");
    a.create_replication_account(&repl)
        .await
        .expect("repl account");
    b.create_replication_account(&repl)
        .await
        .expect("repl account");
    a.take_over(&repl, mode, false, srs_mariadb::EndReplication::Forget)
        .await
        .expect("primary");
    b.replicate_from("127.0.0.1", primary.config().port, &repl)
        .await
        .expect("replicate");
    a.create_app_account("srs", &app)
        .await
        .expect("app account");
    let (gtid, _, _) = a.gtid_and_read_only().await.expect("gtid");
    if !b
        .wait_for_gtid(&gtid, Duration::from_secs(10))
        .await
        .expect("wait")
    {
        let status = b.replica_status().await;
        let log = std::process::Command::new("mariadb")
            .args(["--no-defaults", "-uroot", "-proot password for tests"])
            .arg(format!("--socket={}", replica.config().socket().display()))
            .args(["-e", "SHOW PROCESSLIST; SHOW SLAVE STATUS\\G"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        panic!("replica did not reach {gtid}: {status:?}\n{log}");
    }
    Pair {
        _dir: dir,
        primary,
        replica,
        app,
        repl,
    }
}

async fn store_on(server: &LocalServer, app: &Credentials) -> Store {
    let url = format!(
        "mysql://{}:{}@127.0.0.1:{}/srs",
        app.user,
        app.password.replace(' ', "%20"),
        server.config().port
    );
    Store::connect(
        &url,
        &StoreOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        },
    )
    .await
    .expect("app connects")
}

fn student(name: &str) -> NewStudent {
    let raw = RawStudent::default()
        .with(StudentField::FullName, name)
        .with(StudentField::DateOfBirth, "2000-01-01")
        .with(StudentField::Department, "Arts");
    NewStudent::parse(&raw, chrono::Utc::now().date_naive()).expect("valid")
}

async fn create(store: &Store, name: &str) -> Result<StudentId, StoreError> {
    let options = CreateOptions {
        confirm_duplicate: true,
        idempotency: None,
    };
    match store
        .create_student(&student(name), &options, &Actor::system("tests"))
        .await?
    {
        Created::New(s) => Ok(s.id),
        Created::Replayed { student_id, .. } => Ok(student_id),
    }
}

async fn wait_for(store: &Store, id: StudentId, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if store.get_student(id).await.is_ok() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn writes_reach_the_replica_which_refuses_the_application_s_own_writes() {
    let p = pair(SyncMode::Strict).await;
    let primary = store_on(&p.primary, &p.app).await;
    primary.migrate().await.expect("migrations on the primary");
    let id = create(&primary, "Ada Lovelace")
        .await
        .expect("write on the primary");

    let replica = store_on(&p.replica, &p.app).await;
    let took = wait_for(&replica, id, Duration::from_secs(1)).await;
    assert!(took.is_some(), "readable on the replica within a second");

    let refused = replica
        .create_department(
            &DepartmentName::parse("Law").expect("name"),
            &Actor::system("tests"),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::ReadOnly)),
        "replica refuses: {refused:?}"
    );

    let mut a = Admin::connect_socket(p.primary.config())
        .await
        .expect("admin");
    let mut b = Admin::connect_socket(p.replica.config())
        .await
        .expect("admin");
    let semi = a.semi_sync().await.expect("semi-sync");
    assert!(
        semi.enabled && semi.active && semi.clients == 1,
        "semi-sync on with one replica ({semi:?})"
    );
    assert!(a.probe("srs_repl").await.expect("probe").has_account);
    assert!(!a.probe("nobody").await.expect("probe").has_account);
    let status = b
        .replica_status()
        .await
        .expect("status")
        .expect("replicating");
    assert!(status.io_running && status.sql_running, "{status:?}");
    let (primary_gtid, _, primary_ro) = a.gtid_and_read_only().await.expect("gtid");
    let (_, replica_slave_pos, replica_ro) = b.gtid_and_read_only().await.expect("gtid");
    assert!(!primary_ro && replica_ro);
    assert_eq!(
        replica_slave_pos, primary_gtid,
        "replica has every transaction"
    );

    // A probe says in one round trip what the reads above say one by one.
    let on_a = a.probe("srs_repl").await.expect("probe");
    assert_eq!(on_a.semi_sync, semi);
    assert!(on_a.has_account && !on_a.read_only && on_a.replica.is_none());
    assert_eq!(on_a.gtid_binlog_pos, primary_gtid);
    // The primary is server 1 (see `pair`) and wrote everything it holds.
    assert_eq!(on_a.server_id, 1);
    assert_eq!(on_a.gtid_binlog_state, primary_gtid);
    assert_eq!(on_a.epoch, 0, "no epoch recorded: the table does not exist");
    let on_b = b.probe("nobody").await.expect("probe");
    assert!(!on_b.has_account && on_b.read_only);
    assert_eq!(on_b.gtid_slave_pos, primary_gtid);
    let replicating = on_b.replica.expect("a replica");
    assert!(replicating.io_running && replicating.sql_running);
    assert_eq!(replicating.source, status.source);
    a.record_epoch(4, "a").await.expect("epoch");
    assert_eq!(a.probe("srs_repl").await.expect("probe").epoch, 4);
    let (written, _, _) = a.gtid_and_read_only().await.expect("gtid");
    assert!(b
        .wait_for_gtid(&written, Duration::from_secs(10))
        .await
        .expect("wait"));
    assert_eq!(
        b.probe("nobody").await.expect("probe").epoch,
        4,
        "the epoch is replicated"
    );
    drop(p.repl);
}

#[tokio::test]
async fn in_strict_mode_a_primary_without_its_replica_cannot_commit() {
    let mut p = pair(SyncMode::Strict).await;
    let primary = store_on(&p.primary, &p.app).await;
    primary.migrate().await.expect("migrations");
    create(&primary, "Before Outage").await.expect("write");

    p.replica.kill().await;
    let blocked =
        tokio::time::timeout(Duration::from_secs(3), create(&primary, "During Outage")).await;
    assert!(
        blocked.is_err(),
        "the commit waits for a replica instead of succeeding alone"
    );

    p.replica.start().await.expect("replica back");
    let mut b = Admin::connect_socket(p.replica.config())
        .await
        .expect("admin");
    b.replicate_from("127.0.0.1", p.primary.config().port, &p.repl)
        .await
        .expect("replicate");
    let after =
        tokio::time::timeout(Duration::from_secs(20), create(&primary, "After Outage")).await;
    assert!(
        matches!(after, Ok(Ok(_))),
        "writes go through once the replica is back: {after:?}"
    );
}

#[tokio::test]
async fn data_from_another_version_and_busy_ports_are_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = config(dir.path(), "old", 9, SyncMode::Async);
    std::fs::create_dir_all(cfg.data_dir().join("mysql")).expect("mkdir");
    std::fs::write(cfg.data_dir().join("mysql_upgrade_info"), "5.5.68-MariaDB").expect("write");
    let server = LocalServer::new(cfg.clone()).expect("mariadbd installed");
    match server.prepare().await {
        Err(MariaDbError::DataDir { reason, .. }) => assert!(reason.contains("5.5.68"), "{reason}"),
        other => panic!(
            "expected a data-directory error, got {:?}",
            other.map(|_| ())
        ),
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    cfg.dir = dir.path().join("busy");
    cfg.port = taken.local_addr().expect("addr").port();
    let mut busy = LocalServer::new(cfg).expect("mariadbd installed");
    busy.prepare().await.expect("prepare");
    match busy.start().await {
        Err(e @ MariaDbError::PortInUse(_)) => assert!(e.to_string().contains("already in use")),
        other => panic!("expected port in use, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn a_server_left_running_by_a_killed_srs_is_stopped_before_a_new_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path(), "left", 11, SyncMode::Async);
    let mut first = LocalServer::new(cfg.clone()).expect("mariadbd installed");
    first.prepare().await.expect("prepare");
    first.start().await.expect("start");
    let mut admin = Admin::connect_socket(first.config()).await.expect("admin");
    admin
        .exec("marking the data", "CREATE DATABASE kept_across_restarts")
        .await
        .expect("create");
    drop(admin);
    let old_pid = first.pid().expect("pid");
    // As if srs died without stopping it: nobody holds the server any more.
    std::mem::forget(first);

    let mut second = LocalServer::new(cfg).expect("mariadbd installed");
    second.prepare().await.expect("prepare");
    second
        .start()
        .await
        .expect("starts after stopping the leftover");
    assert_ne!(second.pid(), Some(old_pid));
    let mut admin = Admin::connect_socket(second.config()).await.expect("admin");
    admin
        .exec("reading the data", "USE kept_across_restarts")
        .await
        .expect("the data survived the clean stop");
    drop(admin);
    second.stop().await.expect("stop");
}

/// A promotion in one round trip: a replica whose receiver is left for
/// later stops applying and takes writes; one forgotten altogether has no
/// replication left. Either way replicas can connect to it.
#[tokio::test]
async fn a_replica_takes_over_in_one_batch_with_its_replication_ended_as_asked() {
    use srs_mariadb::EndReplication;
    let Pair {
        _dir,
        mut primary,
        mut replica,
        repl,
        ..
    } = pair(SyncMode::Strict).await;
    let mut dr = Admin::connect_socket(replica.config())
        .await
        .expect("admin");
    dr.take_over(&repl, SyncMode::Strict, true, EndReplication::StopApplying)
        .await
        .expect("take over, receiver kept");
    let (_, _, read_only) = dr.gtid_and_read_only().await.expect("state");
    assert!(!read_only, "writable");
    let status = dr.replica_status().await.expect("status").expect("kept");
    assert!(!status.sql_running, "applying stopped: {status:?}");
    assert!(
        status.io_running || status.io_connecting,
        "receiving left to a later detach: {status:?}"
    );
    assert!(
        !dr.semi_sync().await.expect("semi-sync").enabled,
        "alone: commits wait for nobody"
    );

    dr.take_over(&repl, SyncMode::Strict, false, EndReplication::Forget)
        .await
        .expect("take over, replication forgotten");
    assert_eq!(dr.replica_status().await.expect("status"), None);
    assert!(dr.semi_sync().await.expect("semi-sync").enabled);
    // The old primary can now replicate from it with the account it made.
    let mut old = Admin::connect_socket(primary.config())
        .await
        .expect("admin");
    old.replicate_from("127.0.0.1", replica.config().port, &repl)
        .await
        .expect("replicate from the new primary");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = old.replica_status().await.expect("status");
        if status.as_ref().is_some_and(|s| s.io_running) {
            break;
        }
        assert!(Instant::now() < deadline, "not connected: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    primary.stop().await.expect("stop");
    replica.stop().await.expect("stop");
}
