//! `srs backup` and `srs restore` as an operator runs them: real processes,
//! real SQLite files and a real MariaDB server (scripts/test starts one;
//! trial restores start scratch servers of their own).

mod common;

use common::records::{add, fails, names, ok, open};
use srs_store::Actor;
use std::path::Path;

/// The backup ID from `srs backup create --json`'s last line.
fn created_id(stdout: &str) -> String {
    let last = stdout.lines().last().expect("a result line");
    let v: serde_json::Value = serde_json::from_str(last).expect("JSON result");
    assert_eq!(v["event"], "done", "{last}");
    v["backup"].as_str().expect("backup id").to_owned()
}

/// A name part for `n` made of letters only (names take no digits).
fn letters(mut n: usize) -> String {
    let mut out = String::new();
    loop {
        out.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            break;
        }
    }
    let mut name: String = out.chars().rev().collect();
    name[..1].make_ascii_uppercase();
    name
}

fn flip_a_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(path, bytes).expect("write");
}

#[tokio::test]
async fn sqlite_backup_verifies_and_restores_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite:{}", dir.path().join("srs.db").display());
    let store_dir = dir.path().join("store");
    let store_arg = store_dir.to_str().expect("utf-8");
    let live = open(&db).await;
    let ada = add(&live, "Ada Lovelace").await;
    add(&live, "Émile Zola").await;
    add(&live, "Grace Hopper").await;

    let out = ok(&[
        "backup",
        "create",
        "--database-url",
        &db,
        "--store",
        store_arg,
        "--verify",
        "--json",
    ]);
    let id = created_id(&out);
    assert!(
        out.contains("\"event\":\"progress\""),
        "progress lines: {out}"
    );
    let listed = ok(&["backup", "list", "--store", store_arg]);
    assert!(listed.contains(&id) && listed.contains("yes,"), "{listed}");

    // The mistake: a record deleted after the backup.
    live.delete_student(ada, &Actor::system("tests"))
        .await
        .expect("deleted");
    live.close().await;
    assert_eq!(names(&db).await.len(), 2);

    let copy = format!("sqlite:{}", dir.path().join("copy/srs.db").display());
    let plan = ok(&[
        "restore",
        "--into",
        &copy,
        "--store",
        store_arg,
        "--dry-run",
    ]);
    assert!(
        plan.contains(&format!("would restore backup {id}")),
        "{plan}"
    );
    assert!(
        !dir.path().join("copy/srs.db").exists(),
        "a dry run writes nothing"
    );
    ok(&["restore", "--into", &copy, "--store", store_arg]);
    assert_eq!(
        names(&copy).await,
        ["Ada Lovelace", "Grace Hopper", "Émile Zola"]
    );

    // Over the live database: refused without --force; with it, what it
    // replaces is backed up first.
    let refused = fails(&["restore", "--into", &db, "--store", store_arg]);
    assert!(refused.contains("--force"), "{refused}");
    ok(&[
        "restore", "--into", &db, "--store", store_arg, "--backup", &id, "--force",
    ]);
    assert_eq!(names(&db).await.len(), 3);
    let listed = ok(&["backup", "list", "--store", store_arg, "--json"]);
    let items: serde_json::Value = serde_json::from_str(&listed).expect("JSON list");
    assert_eq!(items.as_array().map(Vec::len), Some(2), "{listed}");

    // A damaged backup is found by verify and refused by restore.
    flip_a_byte(&store_dir.join("backups").join(&id).join("data/srs.db.zst"));
    let err = fails(&["backup", "verify", &id, "--store", store_arg]);
    assert!(err.contains("data/srs.db.zst is corrupt"), "{err}");
    let listed = ok(&["backup", "list", "--store", store_arg]);
    assert!(listed.contains("FAILED"), "{listed}");
    let other = format!("sqlite:{}", dir.path().join("other.db").display());
    let err = fails(&[
        "restore", "--into", &other, "--store", store_arg, "--backup", &id,
    ]);
    assert!(err.contains("corrupt"), "{err}");
    assert!(!dir.path().join("other.db").exists());

    let err = fails(&["backup", "verify", "../../etc", "--store", store_arg]);
    assert!(err.contains("is not a backup ID"), "{err}");
}

fn mariadb_base_url() -> String {
    match std::env::var("SRS_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
        _ => panic!("SRS_TEST_MYSQL_URL is not set: run the suite with scripts/test"),
    }
}

#[tokio::test]
async fn mariadb_backup_is_proven_by_a_trial_restore_and_damage_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("srs_backup_{}", std::process::id());
    let db = format!("{}/{name}", mariadb_base_url());
    let store_dir = dir.path().join("store");
    let store_arg = store_dir.to_str().expect("utf-8");
    let live = open(&db).await;
    for n in 0..1200 {
        add(&live, &format!("Student {}", letters(n))).await;
    }
    live.close().await;

    let out = ok(&[
        "backup",
        "create",
        "--database-url",
        &db,
        "--store",
        store_arg,
        "--json",
    ]);
    let id = created_id(&out);
    let out = ok(&["backup", "verify", "--store", store_arg]);
    assert!(out.contains(&format!("backup {id} is restorable")), "{out}");

    let copy = format!("{}/{name}_copy", mariadb_base_url());
    ok(&["restore", "--into", &copy, "--store", store_arg]);
    let restored = names(&copy).await;
    assert_eq!(restored, names(&db).await);
    // The restored database takes new records after the restored ones.
    let again = open(&copy).await;
    add(&again, "After Restore").await;
    again.close().await;

    let backup = store_dir.join("backups").join(&id);
    // A restore that fails after creating its database leaves none behind.
    let manifest_path = backup.join("manifest.json");
    let manifest = std::fs::read_to_string(&manifest_path).expect("manifest");
    let mut edited: serde_json::Value = serde_json::from_str(&manifest).expect("JSON");
    for table in edited["tables"].as_array_mut().expect("tables") {
        if table["name"] == "students" {
            table["digest"] = serde_json::json!("0".repeat(64));
        }
    }
    std::fs::write(&manifest_path, edited.to_string()).expect("write");
    let half = format!("{}/{name}_half", mariadb_base_url());
    let err = fails(&["restore", "--into", &half, "--store", store_arg]);
    assert!(err.contains("students") && err.contains("differ"), "{err}");
    let mut conn = <sqlx::MySqlConnection as sqlx::Connection>::connect(&format!(
        "{}/{name}",
        mariadb_base_url()
    ))
    .await
    .expect("connect");
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind(format!("{name}_half"))
    .fetch_one(&mut conn)
    .await
    .expect("count");
    assert_eq!(left, 0, "the half-restored database was removed");
    std::fs::write(&manifest_path, manifest).expect("write back");
    flip_a_byte(&backup.join("data/students.jsonl.zst"));
    let err = fails(&["backup", "verify", &id, "--store", store_arg]);
    assert!(err.contains("data/students.jsonl.zst is corrupt"), "{err}");
    std::fs::remove_file(backup.join("data/departments.jsonl.zst")).expect("remove");
    let err = fails(&[
        "restore",
        "--into",
        &format!("{}/{name}_never", mariadb_base_url()),
        "--store",
        store_arg,
    ]);
    assert!(
        err.contains("data/departments.jsonl.zst is missing"),
        "{err}"
    );
}
