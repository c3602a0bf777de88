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

/// Waits until this process holds no file descriptor on `path`: a closed
/// store's connections close on their own threads, and restoring over a
/// SQLite file is refused while any process has it open.
async fn until_closed(path: &Path) {
    let path = path.canonicalize().expect("the database exists");
    for _ in 0..100 {
        let open = std::fs::read_dir("/proc/self/fd")
            .expect("/proc")
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == path));
        if !open {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{} is still open in the test process", path.display());
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
    // A process that has the file open (a running srs serve) would go on
    // writing to the replaced file: refused.
    until_closed(&dir.path().join("srs.db")).await;
    let mut holder = std::process::Command::new("sh")
        .args(["-c", "exec 3<\"$0\"; echo open; exec sleep 60"])
        .arg(dir.path().join("srs.db"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("a process holding the file");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("the holder has the file open");
    let err = fails(&[
        "restore", "--into", &db, "--store", store_arg, "--backup", &id, "--force",
    ]);
    assert!(
        err.contains(&format!("is open in process [{}]", holder.id())),
        "{err}"
    );
    let _ = holder.kill();
    let _ = holder.wait();
    let refused = fails(&["restore", "--into", &db, "--store", store_arg]);
    assert!(refused.contains("--force"), "{refused}");
    ok(&[
        "restore", "--into", &db, "--store", store_arg, "--backup", &id, "--force",
    ]);
    assert_eq!(names(&db).await.len(), 3);
    let listed = ok(&["backup", "list", "--store", store_arg, "--json"]);
    let items: serde_json::Value = serde_json::from_str(&listed).expect("JSON list");
    assert_eq!(
        items["backups"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );

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

#[tokio::test]
async fn encrypted_backups_open_only_with_their_key_and_copy_to_a_second_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite:{}", dir.path().join("srs.db").display());
    let store_dir = dir.path().join("store");
    let store_arg = store_dir.to_str().expect("utf-8");
    let live = open(&db).await;
    add(&live, "Ada Lovelace").await;
    add(&live, "Grace Hopper").await;
    live.close().await;

    let key = dir.path().join("backup.key");
    let key_arg = key.to_str().expect("utf-8");
    let made = ok(&["backup", "key", "--out", key_arg]);
    assert!(made.contains("public key age1"), "{made}");
    let again = fails(&["backup", "key", "--out", key_arg]);
    assert!(again.contains("never overwrites"), "{again}");
    let other = dir.path().join("other.key");
    let other_arg = other.to_str().expect("utf-8");
    ok(&["backup", "key", "--out", other_arg]);

    let out = ok(&[
        "backup",
        "create",
        "--database-url",
        &db,
        "--store",
        store_arg,
        "--key-file",
        key_arg,
        "--json",
    ]);
    let id = created_id(&out);
    let data = store_dir
        .join("backups")
        .join(&id)
        .join("data/srs.db.zst.age");
    let bytes = std::fs::read(&data).expect("an encrypted data file");
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    assert!(!bytes.windows(8).any(|w| w == b"Lovelace"));
    let listed = ok(&["backup", "list", "--store", store_arg]);
    assert!(
        listed.contains("encrypted at rest (age) to age1"),
        "{listed}"
    );

    // Checksums need no key; reading rows does, and only the right one.
    let err = fails(&["backup", "verify", "--store", store_arg]);
    assert!(
        err.contains("is encrypted") && err.contains("--key-file"),
        "{err}"
    );
    let err = fails(&[
        "backup",
        "verify",
        "--store",
        store_arg,
        "--key-file",
        other_arg,
    ]);
    assert!(err.contains("use the key file"), "{err}");
    let copy = format!("sqlite:{}", dir.path().join("copy.db").display());
    let err = fails(&["restore", "--into", &copy, "--store", store_arg]);
    assert!(err.contains("is encrypted"), "{err}");
    assert!(!dir.path().join("copy.db").exists());
    let out = ok(&[
        "backup",
        "verify",
        "--store",
        store_arg,
        "--key-file",
        key_arg,
    ]);
    assert!(out.contains("is restorable"), "{out}");

    // A second store gets the backup (with its verification) and serves a
    // restore when the first is gone.
    let second = dir.path().join("second");
    let second_arg = second.to_str().expect("utf-8");
    let copied = ok(&["backup", "copy", "--to", second_arg, "--store", store_arg]);
    assert!(copied.contains("copied 1 backup(s)"), "{copied}");
    std::fs::remove_dir_all(&store_dir).expect("the first store is lost");
    let listed = ok(&["backup", "list", "--store", second_arg]);
    assert!(listed.contains(&id) && listed.contains("yes,"), "{listed}");
    ok(&[
        "restore",
        "--into",
        &copy,
        "--store",
        second_arg,
        "--key-file",
        key_arg,
    ]);
    assert_eq!(names(&copy).await, ["Ada Lovelace", "Grace Hopper"]);

    // A key file others can read is refused.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = fails(&[
        "backup",
        "list",
        "--store",
        second_arg,
        "--key-file",
        key_arg,
    ]);
    assert!(err.contains("chmod 600"), "{err}");
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

    // Encrypted at rest: the trial restore and a restore read it with the key.
    let key = dir.path().join("backup.key");
    ok(&["backup", "key", "--out", key.to_str().expect("utf-8")]);
    let sealed_store = dir.path().join("sealed");
    let sealed_arg = sealed_store.to_str().expect("utf-8");
    let key_arg = key.to_str().expect("utf-8");
    let out = ok(&[
        "backup",
        "create",
        "--database-url",
        &db,
        "--store",
        sealed_arg,
        "--key-file",
        key_arg,
        "--verify",
        "--json",
    ]);
    let sealed_id = created_id(&out);
    let students = sealed_store
        .join("backups")
        .join(&sealed_id)
        .join("data/students.jsonl.zst.age");
    let head = std::fs::read(&students).expect("an encrypted data file");
    assert!(head.starts_with(b"age-encryption.org/v1"));
    let sealed_copy = format!("{}/{name}_sealed", mariadb_base_url());
    ok(&[
        "restore",
        "--into",
        &sealed_copy,
        "--store",
        sealed_arg,
        "--key-file",
        key_arg,
    ]);
    assert_eq!(names(&sealed_copy).await, restored);

    // Over the live database while an app instance serves it: restored
    // beside it and swapped in; the instance's cache does not outlive the
    // swap, and what the swap replaced is kept.
    let serving = open(&db).await;
    add(&serving, "Written Later").await;
    let before = serving
        .list_students(&Default::default(), Default::default())
        .await
        .expect("list");
    assert_eq!(before.total, 1201);
    let out = ok(&[
        "restore", "--into", &db, "--store", store_arg, "--backup", &id, "--force",
    ]);
    assert!(out.contains("swapped in"), "{out}");
    let after = serving
        .list_students(&Default::default(), Default::default())
        .await
        .expect("list");
    assert_eq!(after.total, 1200, "the serving instance sees the restore");
    serving.close().await;
    let kept = out
        .split("kept in database ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the kept database is named");
    let kept_names = names(&format!("{}/{kept}", mariadb_base_url())).await;
    assert!(kept_names.contains(&"Written Later".to_owned()));
    assert_eq!(kept_names.len(), 1201);

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
    let err = fails(&[
        "restore", "--into", &half, "--store", store_arg, "--backup", &id,
    ]);
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
        "--backup",
        &id,
    ]);
    assert!(
        err.contains("data/departments.jsonl.zst is missing"),
        "{err}"
    );
}
