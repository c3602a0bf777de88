//! Retention as an operator lives it under `srs up`: a backup by hand,
//! writes, a moment T, a mistake, the agent's scheduled backup and prune,
//! a restart of `srs up`, and `srs restore --at T` still brings back every
//! student that existed at T.

mod common;
use common::cluster::{cli, secret, topology_port, wait_until, Cluster};
use common::records::names;

use serde_json::{json, Value};
use std::time::Duration;

/// `srs backup list --json`.
fn listed(cluster: &Cluster) -> Value {
    serde_json::from_str(&cli(&["backup", "list", "--json"], cluster.path(), "")).expect("JSON")
}

fn backup_ids(list: &Value) -> Vec<String> {
    list["backups"]
        .as_array()
        .expect("backups")
        .iter()
        .filter_map(|b| b["id"].as_str().map(str::to_owned))
        .collect()
}

/// Names take letters, not digits: A, B, C…
fn letter(n: u8) -> char {
    char::from(b'A' + n - 1)
}

async fn add(client: &reqwest::Client, edge: &str, name: &str) -> i64 {
    let created = client
        .post(format!("{edge}/api/v1/students"))
        .json(&json!({"full_name": name, "date_of_birth": "2001-02-03", "department": "Arts"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), 201, "{name}");
    created.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("an id")
}

/// The live students' names in a database restored on the primary.
async fn restored_names(cluster: &Cluster, database: &str) -> Vec<String> {
    names(&format!(
        "mysql://root:{}@127.0.0.1:{}/{database}",
        secret(cluster, "root_password"),
        topology_port(cluster, "primary")
    ))
    .await
}

#[tokio::test]
async fn a_mistake_stays_restorable_through_scheduled_backups_prunes_and_a_restart() {
    // The harshest thinning beyond the window: only the window protects.
    let mut cluster = Cluster::up_with_backup(
        "schedule = \"1m\"\nrecovery_window = \"7d\"\nkeep_daily = 0\nkeep_weekly = 0",
    )
    .await;
    let client = cluster.admin_client();
    let edge = cluster.edge.clone();

    let mut at_t = Vec::new();
    for n in 1..=10u8 {
        let name = format!("Before Mistake {}", letter(n));
        at_t.push((add(&client, &edge, &name).await, name));
    }
    let by_hand = cli(&["backup", "create"], cluster.path(), "");
    assert!(by_hand.contains("written to"), "{by_hand}");
    for n in 11..=15u8 {
        let name = format!("Before Mistake {}", letter(n));
        at_t.push((add(&client, &edge, &name).await, name));
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let t = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The mistake: fifteen students deleted, then work goes on.
    for (id, _) in &at_t {
        let deleted = client
            .delete(format!("{edge}/api/v1/students/{id}"))
            .send()
            .await
            .expect("sent");
        assert!(deleted.status().is_success(), "{}", deleted.status());
    }
    for n in 1..=3u8 {
        add(&client, &edge, &format!("After Mistake {}", letter(n))).await;
    }
    let before_schedule = backup_ids(&listed(&cluster));

    // The agent's next scheduled backup comes a minute after the newest in
    // the store (the one taken by hand), is proven, and retention runs.
    wait_until(
        "a scheduled backup after the one taken by hand, proven",
        Duration::from_secs(180),
        || {
            let list = listed(&cluster);
            let ids = backup_ids(&list);
            ids.len() > before_schedule.len()
                && list["backups"]
                    .as_array()
                    .and_then(|b| b.last())
                    .is_some_and(|b| b["verified"]["ok"] == true)
        },
    )
    .await;
    let events =
        std::fs::read_to_string(cluster.path().join("events.jsonl")).expect("the event log");
    assert!(
        !events.contains("retention in") || events.contains("removed 0 backup(s)"),
        "nothing inside the window was pruned:\n{events}"
    );
    let list = listed(&cluster);
    for id in &before_schedule {
        assert!(backup_ids(&list).contains(id), "{id} was pruned: {list}");
    }
    for b in list["backups"].as_array().expect("backups") {
        assert_eq!(b["retention"]["kept"], true, "{b}");
    }
    let text = cli(&["backup", "list"], cluster.path(), "");
    assert!(text.contains("kept: inside the recovery window"), "{text}");
    assert!(text.contains("kept: the newest backup"), "{text}");

    let mut expected: Vec<String> = at_t.iter().map(|(_, name)| name.clone()).collect();
    expected.sort();
    cli(
        &["restore", "--at", &t, "--into", "srs_at_t"],
        cluster.path(),
        "",
    );
    assert_eq!(restored_names(&cluster, "srs_at_t").await, expected);

    // A restart: the agent's memory is empty, the store is not. Nothing is
    // due at once and nothing is pruned; an operator's prune agrees.
    let backups_before_restart = backup_ids(&listed(&cluster));
    cluster.restart().await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let after_restart = backup_ids(&listed(&cluster));
    for id in &backups_before_restart {
        assert!(after_restart.contains(id), "{id} gone after a restart");
    }
    let dry = cli(&["backup", "prune", "--dry-run"], cluster.path(), "");
    assert!(dry.contains("would remove 0 backup(s)"), "{dry}");
    let pruned = cli(&["backup", "prune"], cluster.path(), "");
    assert!(pruned.contains("removed 0 backup(s)"), "{pruned}");
    cli(
        &["restore", "--at", &t, "--into", "srs_at_t_again"],
        cluster.path(),
        "",
    );
    assert_eq!(restored_names(&cluster, "srs_at_t_again").await, expected);

    // Kept by hand: a prune with no window at all still leaves it, names
    // why, and a release hands it back.
    let oldest = after_restart.first().expect("a backup").clone();
    let kept = cli(
        &[
            "backup",
            "keep",
            &oldest,
            "--label",
            "before the term's clean-up",
        ],
        cluster.path(),
        "",
    );
    assert!(kept.contains("kept by hand"), "{kept}");
    let dry = cli(
        &["backup", "prune", "--dry-run", "--recovery-window", "0d"],
        cluster.path(),
        "",
    );
    assert!(
        dry.contains(&format!(
            "keep   {oldest}: kept by hand until released: before the term's clean-up"
        )),
        "{dry}"
    );
    assert!(dry.contains("would remove"), "{dry}");
    let released = cli(
        &["backup", "keep", &oldest, "--release"],
        cluster.path(),
        "",
    );
    assert!(released.contains("released"), "{released}");
    let dry = cli(
        &[
            "backup",
            "prune",
            "--dry-run",
            "--recovery-window",
            "0d",
            "--json",
        ],
        cluster.path(),
        "",
    );
    let dry: Value = serde_json::from_str(dry.trim()).expect("JSON");
    assert!(
        dry["pruned"]["backups"]
            .as_array()
            .is_some_and(|b| b.iter().any(|id| id == oldest.as_str())),
        "{dry}"
    );
    // A dry run removed nothing.
    assert!(backup_ids(&listed(&cluster)).contains(&oldest));
}
