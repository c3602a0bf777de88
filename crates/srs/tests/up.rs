//! `srs up` end to end: two real MariaDB servers, app instances and the
//! edge as child processes, driven the way an operator would.

mod common;
use common::cluster::{cli, get_json, running, sigterm_and_wait, start, wait_ready, Cluster};

use serde_json::{json, Value};
use sqlx::Connection;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A student's name as the edge serves it.
async fn full_name(client: &reqwest::Client, edge: &str, id: i64) -> String {
    let student = get_json(client, &format!("{edge}/api/v1/students/{id}")).await;
    student["full_name"].as_str().unwrap_or_default().to_owned()
}

/// Whether a process has exited (gone, or a zombie nobody reaped yet).
fn gone(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s == "Z"))
        })
        .unwrap_or(true)
}

fn app_password(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("secrets.toml")).expect("secrets");
    let secrets: toml::Value = toml::from_str(&text).expect("toml");
    secrets["app"]["password"]
        .as_str()
        .expect("password")
        .to_owned()
}

#[tokio::test]
async fn srs_up_runs_two_sites_that_replicate_and_survive_a_restart() {
    let mut cluster = Cluster::up().await;
    let path = cluster.path().to_owned();
    assert!(path.join("secrets.toml").exists());
    let client = cluster.admin_client();

    // A student created through the edge is readable on the DR server within a second.
    let created = client
        .post(format!("{}/api/v1/students", cluster.edge))
        .json(&json!({"full_name": "Ada Lovelace", "date_of_birth": "2000-01-01", "department": "Arts"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["x-srs-site"], "primary");
    let student: Value = created.json().await.expect("json");
    let id = student["id"].as_i64().expect("id");
    let url = format!(
        "mysql://srs_app:{}@127.0.0.1:{}/srs",
        app_password(&path),
        cluster.dr_db_port
    );
    let mut dr = sqlx::MySqlConnection::connect(&url)
        .await
        .expect("app account reaches the DR server");
    let began = Instant::now();
    let mut found = None;
    while began.elapsed() < Duration::from_secs(1) && found.is_none() {
        found = sqlx::query_scalar::<_, String>("SELECT full_name FROM students WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut dr)
            .await
            .expect("query");
    }
    assert_eq!(
        found.as_deref(),
        Some("Ada Lovelace"),
        "replicated within a second"
    );

    // The DR server refuses the application's writes.
    let refused = sqlx::query("UPDATE students SET full_name = 'Tampered' WHERE id = ?")
        .bind(id)
        .execute(&mut dr)
        .await;
    let message = refused.expect_err("read-only").to_string();
    assert!(
        message.contains("read-only") || message.contains("1290"),
        "{message}"
    );

    // srs status shows the topology.
    let status: Value =
        serde_json::from_str(&cli(&["status", "--json"], &path, "")).expect("status JSON");
    assert_eq!(status["edge_active"], "primary");
    assert_eq!(status["controller"]["epoch"], 1);
    assert_eq!(status["controller"]["primary"], "primary");
    assert_eq!(status["controller"]["running"], true);
    let events: Vec<String> = status["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["what"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        events.iter().any(|e| e.contains("promote site 'primary'"))
            && events.iter().any(|e| e.contains("replicate from")),
        "every DR action is an event: {events:?}"
    );
    let dr_site = status["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .find(|s| s["name"] == "dr")
        .expect("dr")
        .clone();
    assert_eq!(dr_site["database"]["replica"]["io_running"], true);
    assert_eq!(dr_site["database"]["replica"]["sql_running"], true);
    assert_eq!(dr_site["database"]["read_only"], true);
    // The app instances follow the controller's write admission advice
    // (unthrottled while the replica keeps up).
    let metrics = reqwest::get(format!("{}/metrics", cluster.edge))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("srs_write_admission_limit 64"),
        "{metrics}"
    );
    let table = cli(&["status"], &path, "");
    assert!(
        table.contains("primary")
            && table.contains("on (1)")
            && table.contains("epoch 1")
            && table.contains("writes unthrottled"),
        "{table}"
    );

    // Admins see the same view at /admin/dr.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let login = browser
        .get(format!("{}/login", cluster.edge))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    let marker = "name=\"csrf_token\" value=\"";
    let at = login.find(marker).expect("csrf field") + marker.len();
    let csrf = login[at..at + 64].to_owned();
    let signed_in = browser
        .post(format!("{}/login", cluster.edge))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "admin"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await
        .expect("sent");
    assert!(
        signed_in.status().is_success(),
        "signed in: {}",
        signed_in.status()
    );
    // Signing in lands on the overview, whose DR line says in words what
    // the cluster is doing.
    let overview = signed_in.text().await.expect("html");
    let line = overview
        .split("id=\"overview-dr\"")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("the overview has a DR line: {overview}"));
    assert!(
        line.contains("is primary") && line.contains("replication yes/yes"),
        "{line}"
    );
    let page = browser
        .get(format!("{}/admin/dr", cluster.edge))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("id=\"dr-sites\"")
            && page.contains("routing to primary")
            && page.contains("yes/yes"),
        "{page}"
    );

    // Killing one primary app instance: the edge keeps serving every GET.
    let children = running(&path);
    let app = children
        .iter()
        .find(|c| c["kind"] == "app")
        .expect("an app instance");
    Command::new("kill")
        .args(["-9", &app["pid"].to_string()])
        .status()
        .expect("kill");
    let mut failures = 0;
    for _ in 0..60 {
        let r = client
            .get(format!("{}/api/v1/students/{id}", cluster.edge))
            .send()
            .await
            .expect("sent");
        if r.status() != 200 {
            failures += 1;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(failures, 0, "no failed GET after an instance died");

    // Strict mode: with the DR server silent, a write waits and gets a clear
    // 503 instead of succeeding unreplicated; once it is back, writes pass.
    let dr_db = children
        .iter()
        .find(|c| c["kind"] == "database" && c["site"] == "dr")
        .expect("dr database");
    let dr_pid = dr_db["pid"].to_string();
    Command::new("kill")
        .args(["-STOP", &dr_pid])
        .status()
        .expect("kill");
    let write = || {
        client
            .post(format!("{}/api/v1/students", cluster.edge))
            .header("idempotency-key", "during-outage-1")
            .json(&json!({"full_name": "Grace Hopper", "date_of_birth": "2000-01-01", "department": "Arts"}))
            .send()
    };
    let began = Instant::now();
    let blocked = write().await.expect("sent");
    assert_eq!(blocked.status(), 503, "not confirmed without the replica");
    let problem: Value = blocked.json().await.expect("problem");
    assert_eq!(problem["type"], "/problems/write-not-confirmed");
    assert!(began.elapsed() >= Duration::from_secs(2) && began.elapsed() < Duration::from_secs(15));
    Command::new("kill")
        .args(["-CONT", &dr_pid])
        .status()
        .expect("kill");
    let retried = write().await.expect("sent");
    assert_eq!(
        retried.status(),
        201,
        "the same write, retried with its key, goes through"
    );
    let listed = get_json(
        &client,
        &format!("{}/api/v1/students?q=grace", cluster.edge),
    )
    .await;
    assert_eq!(
        listed["total"], 1,
        "exactly once, whether the first attempt landed or not"
    );

    // The DR server killed: srs up starts it again, and nobody restarts
    // replication by hand: the controller sees the replica back with
    // replication stopped (skip-slave-start) and restarts it.
    Command::new("kill")
        .args(["-9", &dr_pid])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let restarted = running(&path)
            .iter()
            .any(|c| c["kind"] == "database" && c["site"] == "dr" && c["pid"] != dr_db["pid"]);
        let status: Value =
            serde_json::from_str(&cli(&["status", "--json"], &path, "")).expect("status JSON");
        let io = status["sites"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == "dr"))
            .map(|s| s["database"]["replica"]["io_running"] == true)
            .unwrap_or(false);
        if restarted && io {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the DR server was not restarted and rejoined: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        full_name(&client, &cluster.edge, id).await,
        "Ada Lovelace",
        "served by the primary throughout"
    );
    // Each unexpected exit is counted on the controller's /metrics.
    let topology: toml::Value =
        toml::from_str(&std::fs::read_to_string(path.join("srs-topology.toml")).expect("topology"))
            .expect("toml");
    let controller = topology["controller"]["listen"].as_str().expect("listen");
    let wanted = [
        format!(
            "srs_up_child_exits_total{{kind=\"database\",site=\"dr\",port=\"{}\"}} 1",
            dr_db["port"]
        ),
        format!(
            "srs_up_child_exits_total{{kind=\"app\",site=\"primary\",port=\"{}\"}} 1",
            app["port"]
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = reqwest::get(format!("http://{controller}/metrics"))
            .await
            .expect("controller metrics")
            .text()
            .await
            .expect("text");
        if wanted.iter().all(|w| metrics.contains(w.as_str())) {
            break;
        }
        assert!(Instant::now() < deadline, "{wanted:?} in {metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Stop (in order, exit 0) and start again: the records are still there.
    let status = sigterm_and_wait(
        cluster.child.as_mut().expect("child"),
        Duration::from_secs(90),
    );
    assert!(status.success(), "srs up exits 0 on SIGTERM: {status:?}");
    cluster.child = Some(start(&path));
    wait_ready(&cluster.edge, cluster.child.as_mut().expect("child")).await;
    assert_eq!(
        full_name(&client, &cluster.edge, id).await,
        "Ada Lovelace",
        "records survive a restart"
    );

    // srs up killed outright: its own children stop themselves, the next
    // srs up stops the databases it left behind and starts cleanly.
    let children = running(&path);
    let mut up = cluster.child.take().expect("child");
    up.kill().expect("SIGKILL");
    up.wait().expect("reaped");
    let deadline = Instant::now() + Duration::from_secs(15);
    for c in children.iter().filter(|c| c["kind"] != "database") {
        let pid = c["pid"].as_u64().expect("pid");
        while !gone(pid) {
            assert!(Instant::now() < deadline, "{c} outlived srs up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    cluster.child = Some(start(&path));
    wait_ready(&cluster.edge, cluster.child.as_mut().expect("child")).await;
    assert_eq!(
        full_name(&client, &cluster.edge, id).await,
        "Ada Lovelace",
        "records survive srs up being killed"
    );

    // After a failover the DR site serves on its standby instances: a
    // restart of srs up must start them again before its edge can be
    // ready (it waited for the edge first, and timed out).
    let primary_db = running(&path)
        .into_iter()
        .find(|c| c["kind"] == "database" && c["site"] == "primary")
        .expect("primary database");
    Command::new("kill")
        .args(["-9", &primary_db["pid"].to_string()])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = client
            .get(format!("{}/api/v1/students/{id}", cluster.edge))
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200 && r.headers()["x-srs-site"] == "dr") {
            break;
        }
        assert!(Instant::now() < deadline, "no failover to dr");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = sigterm_and_wait(
        cluster.child.as_mut().expect("child"),
        Duration::from_secs(90),
    );
    assert!(status.success());
    cluster.child = Some(start(&path));
    wait_ready(&cluster.edge, cluster.child.as_mut().expect("child")).await;
    let served = client
        .get(format!("{}/api/v1/students/{id}", cluster.edge))
        .send()
        .await
        .expect("sent");
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["x-srs-site"], "dr", "still the primary");
    let status = sigterm_and_wait(
        cluster.child.as_mut().expect("child"),
        Duration::from_secs(90),
    );
    assert!(status.success());
    cluster.child = None;
}
