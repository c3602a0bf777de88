//! Switchover and failback end to end under `srs up`: a planned switchover
//! keeps every record, a former primary that wrote behind the cluster's back
//! is caught (errant transactions), `srs failback` saves what it wrote and
//! re-seeds it, and a switchover back restores the original roles.

mod common;
use common::cluster::{cli, get_json, secret, site_entry, topology_port, wait_until, Cluster};

use serde_json::{json, Value};
use sqlx::Connection;
use std::time::{Duration, Instant};

/// The first port of a site's `app_ports` or `standby_app_ports`.
fn app_port(cluster: &Cluster, site: &str, key: &str) -> u16 {
    site_entry(cluster, site)[key]
        .as_array()
        .and_then(|ports| ports.first())
        .and_then(toml::Value::as_integer)
        .and_then(|p| u16::try_from(p).ok())
        .expect("an app port")
}

fn alert_kinds(status: &Value) -> Vec<String> {
    status["controller"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["kind"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn switchover_errant_transactions_failback_and_switch_back() {
    let cluster = Cluster::up().await;
    let client = cluster.admin_client();
    let created = client
        .post(format!("{}/api/v1/students", cluster.edge))
        .json(&json!({"full_name": "Ada Lovelace", "date_of_birth": "2000-01-01", "department": "Arts"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");

    // A planned switchover: the DR site is primary, nothing is lost.
    let out = cli(&["switchover", "--to", "dr", "--json"], cluster.path(), "");
    let outcome: Value = serde_json::from_str(&out).expect("outcome JSON");
    assert_eq!(outcome["primary"], "dr", "{out}");
    assert_eq!(outcome["epoch"], 2);
    let read = client
        .get(format!("{}/api/v1/students/{id}", cluster.edge))
        .send()
        .await
        .expect("sent");
    assert_eq!(read.headers()["x-srs-site"], "dr");
    assert_eq!(
        read.json::<Value>().await.expect("json")["full_name"],
        "Ada Lovelace"
    );
    // The backup agent took and proved a backup, and its binlog archive
    // followed the switch: a point-in-time restore after the switch holds
    // the write made on the new primary too.
    let after_switch = client
        .post(format!("{}/api/v1/students", cluster.edge))
        .json(&json!({"full_name": "Grace Hopper", "date_of_birth": "2000-01-01", "department": "Arts"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(after_switch.status(), 201);
    wait_until(
        "the archive follows the new primary and catches up; a backup is proven",
        Duration::from_secs(90),
        || {
            let status = cluster.status();
            let b = &status["backups"];
            b["proven_point"].is_string()
                && b["archive"]["source"] == "site dr"
                && b["archive"]["rpo_secs"].as_f64() == Some(0.0)
                && b["second_store"]["backups"].as_u64() >= Some(1)
        },
    )
    .await;
    let text = cli(&["status"], cluster.path(), "");
    assert!(text.contains("proven restorable to"), "{text}");
    assert!(text.contains("; second store "), "{text}");
    let sealed = std::fs::read_dir(cluster.path().join("second-store/backups"))
        .expect("the second store")
        .filter_map(|e| e.ok())
        .flat_map(|b| {
            std::fs::read_dir(b.path().join("data"))
                .into_iter()
                .flatten()
        })
        .filter_map(|f| f.ok())
        .all(|f| f.file_name().to_string_lossy().ends_with(".zst.age"));
    assert!(sealed, "every data file is encrypted");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let root = secret(&cluster, "root_password");
    let restored = format!(
        "mysql://root:{root}@127.0.0.1:{}/srs_after_switch",
        topology_port(&cluster, "dr")
    );
    // A bare database name goes to the cluster's primary.
    let out = cli(
        &["restore", "--at", &now, "--into", "srs_after_switch"],
        cluster.path(),
        "",
    );
    assert!(out.contains("replayed"), "{out}");
    let mut conn = sqlx::MySqlConnection::connect(&restored)
        .await
        .expect("restored database");
    let mut names: Vec<String> =
        sqlx::query_scalar("SELECT full_name FROM students WHERE deleted_at IS NULL")
            .fetch_all(&mut conn)
            .await
            .expect("names");
    names.sort();
    assert_eq!(names, ["Ada Lovelace", "Grace Hopper"]);
    conn.close().await.ok();
    // The restore and its replay were logged on the primary like any
    // write, so its replica holds the restored database too.
    let on_replica = format!(
        "mysql://root:{root}@127.0.0.1:{}/srs_after_switch",
        topology_port(&cluster, "primary")
    );
    let mut replicated: Vec<String> = Vec::new();
    for _ in 0..50 {
        if let Ok(mut conn) = sqlx::MySqlConnection::connect(&on_replica).await {
            replicated =
                sqlx::query_scalar("SELECT full_name FROM students WHERE deleted_at IS NULL")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
            conn.close().await.ok();
            replicated.sort();
            if replicated == names {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(replicated, names, "the replica holds the restore");

    // The former primary's instances know they lost the epoch: they refuse
    // writes themselves (before their database would), and only the new
    // primary's instances pass the load balancer's primary check.
    let old_app = format!(
        "http://127.0.0.1:{}",
        app_port(&cluster, "primary", "app_ports")
    );
    let new_app = format!(
        "http://127.0.0.1:{}",
        app_port(&cluster, "dr", "standby_app_ports")
    );
    let mut fenced = None;
    for _ in 0..50 {
        let answer = client
            .post(format!("{old_app}/api/v1/students"))
            .json(&json!({"full_name": "Zombie Write", "date_of_birth": "2000-01-01", "department": "Arts"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(answer.status(), 503, "the former primary refuses writes");
        assert_eq!(answer.headers()["x-srs-site-unavailable"], "1");
        let problem: Value = answer.json().await.expect("problem");
        if problem["type"] == "/problems/not-primary" {
            fenced = Some(problem);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fenced = fenced.expect("the instance refused as not the primary");
    assert!(
        fenced["detail"]
            .as_str()
            .is_some_and(|d| d.contains("site 'dr' holds it (epoch 2)")),
        "{fenced}"
    );
    // Reads too: its replica may lag the new primary.
    let read = client
        .get(format!("{old_app}/api/v1/students"))
        .send()
        .await
        .expect("sent");
    assert_eq!(read.status(), 503, "the former primary refuses reads");
    assert_eq!(read.headers()["x-srs-site-unavailable"], "1");
    let check = |base: String| {
        let client = client.clone();
        async move {
            client
                .get(format!("{base}/readyz/primary"))
                .send()
                .await
                .expect("sent")
                .status()
        }
    };
    assert_eq!(check(old_app.clone()).await, 503);
    assert_eq!(check(new_app.clone()).await, 200);

    let refused = common::run_with_input(
        &[
            "switchover".into(),
            "--to".into(),
            "dr".into(),
            "--data-dir".into(),
            cluster.path().into(),
        ],
        "",
    );
    assert!(
        !refused.0 && refused.2.contains("primary already"),
        "{}",
        refused.2
    );

    // Someone writes on the former primary behind the cluster's back (root
    // may, despite read_only): the controller sees it and leaves it fenced.
    let root = secret(&cluster, "root_password");
    let url = format!(
        "mysql://root:{root}@127.0.0.1:{}/srs",
        topology_port(&cluster, "primary")
    );
    let mut old = sqlx::MySqlConnection::connect(&url)
        .await
        .expect("root on the former primary");
    sqlx::query("UPDATE students SET full_name = 'Errant Write' WHERE id = ?")
        .bind(id)
        .execute(&mut old)
        .await
        .expect("an errant write");
    drop(old);
    wait_until(
        "the errant transaction raised an alert",
        Duration::from_secs(30),
        || alert_kinds(&cluster.status()).contains(&"errant_transactions".to_owned()),
    )
    .await;

    // srs failback saves what it wrote, re-seeds it and rejoins it.
    let out = cli(&["failback", "--json"], cluster.path(), "");
    let outcome: Value = serde_json::from_str(&out).expect("failback JSON");
    assert_eq!(outcome["site"], "primary", "{out}");
    assert_eq!(outcome["errant_transactions"], 1, "{out}");
    let saved = std::fs::read_to_string(outcome["saved_to"].as_str().expect("saved"))
        .expect("the errant transactions file");
    assert!(
        saved.contains("Errant Write"),
        "the file holds the errant row: {saved}"
    );
    wait_until("the alert cleared", Duration::from_secs(30), || {
        !alert_kinds(&cluster.status()).contains(&"errant_transactions".to_owned())
    })
    .await;

    // The switchover back restores the roles; the record is the primary's.
    let out = cli(
        &["switchover", "--to", "primary", "--json"],
        cluster.path(),
        "",
    );
    let outcome: Value = serde_json::from_str(&out).expect("outcome JSON");
    assert_eq!(outcome["primary"], "primary", "{out}");
    let student = get_json(&client, &format!("{}/api/v1/students/{id}", cluster.edge)).await;
    assert_eq!(
        student["full_name"], "Ada Lovelace",
        "the errant write is gone"
    );
    let status = cluster.status();
    let dr = status["sites"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "dr"))
        .expect("dr");
    assert_eq!(dr["database"]["replica"]["io_running"], true, "{status}");
    let began = Instant::now();
    while check(old_app.clone()).await != 200 {
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "the original primary's instance holds the epoch again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
