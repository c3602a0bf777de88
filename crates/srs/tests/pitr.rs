//! Point-in-time restore as an operator runs it: a real MariaDB server
//! with its binary log, `srs backup archive` copying it as a real process,
//! and `srs restore --at` / `--gtid` rebuilding the past into new databases.

mod common;

use common::records::{add, names, ok, open, run};
use common::srs;
use sqlx::Connection;
use srs_mariadb::{Admin, LocalServer, ServerConfig, SyncMode};
use srs_store::Actor;
use std::time::{Duration, Instant};

async fn gtid_pos(admin: &mut Admin) -> String {
    let (binlog_pos, _, _) = admin.gtid_and_read_only().await.expect("gtid");
    binlog_pos
}

/// Waits until the archive holds the server's newest transaction.
async fn archived_up_to(store: &std::path::Path, gtid: &str) {
    let backups = srs_backup::BackupStore::new(store);
    let started = Instant::now();
    loop {
        let state = srs_backup::archive::state(&backups).expect("archive state");
        if state.newest_gtid.as_deref() == Some(gtid) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the archive did not reach {gtid}: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops a process with SIGTERM (an archiver then stops its copy too) and
/// waits for it.
fn terminate(child: &mut std::process::Child) {
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let _ = child.wait();
}

/// The binlog copies (`mariadb-binlog` processes) writing into `dir`.
fn copies_into(dir: &std::path::Path) -> Vec<u32> {
    let needle = format!("--result-file={}/", dir.display());
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

async fn wait_for_copies(dir: &std::path::Path, want: impl Fn(&[u32]) -> bool, what: &str) {
    let started = Instant::now();
    loop {
        let copies = copies_into(dir);
        if want(&copies) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{what}: copies {copies:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn restore_at_a_time_or_gtid_brings_back_exactly_what_was_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let password = "pitr-test-root";
    let mut server = LocalServer::new(ServerConfig {
        name: "pitr".into(),
        dir: dir.path().join("server"),
        port: common::free_port(),
        server_id: 1,
        buffer_pool_mb: 64,
        parallel_threads: 0,
        sync_mode: SyncMode::Async,
        root_password: password.into(),
        network: None,
    })
    .expect("server");
    server.prepare().await.expect("prepared");
    server.start().await.expect("started");
    let port = server.config().port;
    let mut admin = Admin::connect_socket(server.config()).await.expect("admin");
    admin
        .exec("open", "SET GLOBAL read_only = 0")
        .await
        .expect("writable");
    let base = format!("mysql://root:{password}@127.0.0.1:{port}");
    let url = format!("{base}/srs");
    let store_dir = dir.path().join("store");
    let store_arg = store_dir.to_str().expect("utf-8");

    let live = open(&url).await;
    let first = add(&live, "Before Ann").await;
    for name in ["Before Bea", "Before Cy", "Before Di"] {
        add(&live, name).await;
    }
    ok(&[
        "backup",
        "create",
        "--database-url",
        &url,
        "--store",
        store_arg,
    ]);
    let mut archiver = srs()
        .args(["backup", "archive", "--server", &base, "--store", store_arg])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("archiver starts");

    for name in ["Kept Ed", "Kept Flo", "Kept Gus"] {
        add(&live, name).await;
    }
    let kept_gtid = gtid_pos(&mut admin).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let noted = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    admin
        .exec("rotate", "FLUSH BINARY LOGS")
        .await
        .expect("rotate");
    // The mistake, and work after it.
    live.delete_student(first, &Actor::system("tests"))
        .await
        .expect("deleted");
    add(&live, "Later Hal").await;
    admin
        .exec("rotate", "FLUSH BINARY LOGS")
        .await
        .expect("rotate");
    add(&live, "Last Ida").await;
    archived_up_to(&store_dir, &gtid_pos(&mut admin).await).await;
    // SIGKILL gives the archiver no chance to stop its copy; the next one
    // stops that orphan before it starts its own, and SIGTERM stops both
    // the archiver and its copy.
    let server_dir = store_dir.join("binlogs/server-1");
    let orphan = copies_into(&server_dir);
    assert_eq!(orphan.len(), 1, "one copy runs: {orphan:?}");
    let _ = archiver.kill();
    let _ = archiver.wait();
    assert_eq!(
        copies_into(&server_dir),
        orphan,
        "the copy outlives SIGKILL"
    );
    let mut archiver = srs()
        .args(["backup", "archive", "--server", &base, "--store", store_arg])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("archiver starts");
    wait_for_copies(
        &server_dir,
        |c| c.len() == 1 && c != orphan.as_slice(),
        "the new archiver replaces the orphaned copy",
    )
    .await;
    terminate(&mut archiver);
    wait_for_copies(&server_dir, <[u32]>::is_empty, "SIGTERM stops the copy").await;
    // Verification restores the backup and rolls it forward to a random
    // archived transaction.
    let verified = ok(&["backup", "verify", "--store", store_arg]);
    assert!(verified.contains("rolled forward"), "{verified}");

    let at = noted.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let plan = ok(&[
        "restore",
        "--at",
        &at,
        "--into",
        &format!("{base}/by_time"),
        "--store",
        store_arg,
        "--dry-run",
    ]);
    assert!(plan.contains("then replay"), "{plan}");
    ok(&[
        "restore",
        "--at",
        &at,
        "--into",
        &format!("{base}/by_time"),
        "--store",
        store_arg,
    ]);
    let expected = [
        "Before Ann",
        "Before Bea",
        "Before Cy",
        "Before Di",
        "Kept Ed",
        "Kept Flo",
        "Kept Gus",
    ];
    assert_eq!(names(&format!("{base}/by_time")).await, expected);

    ok(&[
        "restore",
        "--gtid",
        &kept_gtid,
        "--into",
        &format!("{base}/by_gtid"),
        "--store",
        store_arg,
    ]);
    assert_eq!(names(&format!("{base}/by_gtid")).await, expected);

    let listed = ok(&["backup", "list", "--store", store_arg]);
    assert!(listed.contains("restorable window (UTC)"), "{listed}");
    assert!(!listed.contains("gaps"), "{listed}");

    // Now: everything, the mistake included, from a second store that the
    // backup and the archive were copied to.
    let second = dir.path().join("second");
    let second_arg = second.to_str().expect("utf-8");
    let copied = ok(&["backup", "copy", "--to", second_arg, "--store", store_arg]);
    assert!(copied.contains("copied 1 backup(s)"), "{copied}");
    let again = ok(&["backup", "copy", "--to", second_arg, "--store", store_arg]);
    assert!(again.contains("copied 0 backup(s) and 0 binlog"), "{again}");
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    ok(&[
        "restore",
        "--at",
        &now,
        "--into",
        &format!("{base}/by_now"),
        "--store",
        second_arg,
    ]);
    assert_eq!(names(&format!("{base}/by_now")).await, names(&url).await);

    // A missing archived file: a point past it is refused with the gap
    // named; a point before it still restores.
    let archived = store_dir.join("binlogs/server-1");
    // The archived logs (not the copy's hidden pid file).
    let mut files: Vec<_> = std::fs::read_dir(&archived)
        .expect("archive")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    std::fs::remove_file(&files[files.len() - 2]).expect("remove");
    let (success, _, err) = run(&[
        "restore",
        "--at",
        &now,
        "--into",
        &format!("{base}/never"),
        "--store",
        store_arg,
    ]);
    assert!(!success && err.contains("gap"), "{err}");
    let (success, _, err) = run(&["backup", "verify", "--store", store_arg]);
    assert!(!success && err.contains("gap"), "{err}");
    ok(&[
        "restore",
        "--at",
        &at,
        "--into",
        &format!("{base}/before_gap"),
        "--store",
        store_arg,
    ]);
    assert_eq!(names(&format!("{base}/before_gap")).await, expected);

    // One student: the deleted one comes back, a renamed one gets its
    // name back, each as an audited change.
    let bea = add(&live, "Before Beatrix").await;
    // A backup after the archive's gap, for the rename below.
    ok(&[
        "backup",
        "create",
        "--database-url",
        &url,
        "--store",
        store_arg,
    ]);
    let current = live.get_student(bea).await.expect("read");
    let rename = srs_domain::StudentPatch {
        version: current.version,
        full_name: Some(srs_domain::FullName::parse("Renamed By Mistake").expect("name")),
        ..srs_domain::StudentPatch::default()
    };
    let bea_then = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    live.update_student(&current, &rename, &Actor::system("tests"))
        .await
        .expect("renamed");
    let bea_at = bea_then.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // The archive must hold the new transactions: copy them again.
    let mut archiver = srs()
        .args(["backup", "archive", "--server", &base, "--store", store_arg])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("archiver starts");
    archived_up_to(&store_dir, &gtid_pos(&mut admin).await).await;
    // SIGTERM: the archiver stops its copy too.
    terminate(&mut archiver);
    let first_id = first.get().to_string();
    let shown = ok(&[
        "restore",
        "--student",
        &first_id,
        "--at",
        &at,
        "--database-url",
        &url,
        "--store",
        store_arg,
    ]);
    assert!(
        shown.contains("* Record") && shown.contains("--yes"),
        "{shown}"
    );
    assert!(
        live.get_student(first).await.is_err(),
        "nothing changed without --yes"
    );
    ok(&[
        "restore",
        "--student",
        &first_id,
        "--at",
        &at,
        "--database-url",
        &url,
        "--store",
        store_arg,
        "--yes",
    ]);
    assert_eq!(
        live.get_student(first)
            .await
            .expect("live again")
            .full_name
            .to_string(),
        "Before Ann"
    );
    ok(&[
        "restore",
        "--student",
        &bea.get().to_string(),
        "--at",
        &bea_at,
        "--database-url",
        &url,
        "--store",
        store_arg,
        "--yes",
    ]);
    assert_eq!(
        live.get_student(bea)
            .await
            .expect("read")
            .full_name
            .to_string(),
        "Before Beatrix"
    );
    let mut conn = sqlx::MySqlConnection::connect(&url).await.expect("connect");
    let actor: String = sqlx::query_scalar(
        "SELECT actor FROM audit_log WHERE entity = 'student' AND entity_id = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(bea.get())
    .fetch_one(&mut conn)
    .await
    .expect("audit entry");
    assert!(actor.contains("srs restore --student"), "{actor}");
    conn.close().await.ok();

    // Retention: a newer backup makes the old one and the binlogs wholly
    // before it unnecessary; the growing last file stays.
    ok(&[
        "backup",
        "create",
        "--database-url",
        &url,
        "--store",
        store_arg,
    ]);
    {
        let _restoring = srs_backup::lock::shared(&store_dir).expect("lock");
        let (success, _, err) = run(&[
            "backup",
            "prune",
            "--recovery-window",
            "0d",
            "--keep-daily",
            "1",
            "--keep-weekly",
            "0",
            "--store",
            store_arg,
        ]);
        assert!(
            !success && err.contains("a restore or verification is using"),
            "{err}"
        );
    }
    let out = ok(&[
        "backup",
        "prune",
        "--recovery-window",
        "0d",
        "--keep-daily",
        "1",
        "--keep-weekly",
        "0",
        "--store",
        store_arg,
        "--json",
    ]);
    let pruned: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(
        pruned["pruned"]["backups"].as_array().map(Vec::len),
        Some(2),
        "{out}"
    );
    let removed: Vec<String> = pruned["pruned"]["binlogs"]
        .as_array()
        .expect("binlogs")
        .iter()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    let first = files[0].display().to_string();
    let last = files[files.len() - 1].display().to_string();
    assert!(
        removed.contains(&first) && !removed.contains(&last),
        "{removed:?}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    ok(&[
        "restore",
        "--at",
        &later,
        "--into",
        &format!("{base}/after_prune"),
        "--store",
        store_arg,
    ]);
    assert_eq!(
        names(&format!("{base}/after_prune")).await,
        names(&url).await
    );

    live.close().await;
    admin.close().await;
    server.stop().await.expect("stopped");
}
