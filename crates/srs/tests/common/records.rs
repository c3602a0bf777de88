//! Student records and `srs` runs for the backup and restore tests: real
//! stores, real processes.

use super::srs;
use srs_domain::{NewStudent, RawStudent, StudentField, StudentId};
use srs_store::{Actor, CreateOptions, Created, PageRequest, Store, StoreOptions};

pub fn student(name: &str) -> NewStudent {
    let raw = RawStudent::default()
        .with(StudentField::FullName, name)
        .with(StudentField::DateOfBirth, "2000-01-01")
        .with(StudentField::Department, "Arts");
    NewStudent::parse(&raw, chrono::Utc::now().date_naive()).expect("valid")
}

pub async fn open(url: &str) -> Store {
    let store = Store::connect(url, &StoreOptions::default())
        .await
        .expect("database opens");
    store.migrate().await.expect("migrations run");
    store
}

pub async fn add(store: &Store, name: &str) -> StudentId {
    let options = CreateOptions {
        confirm_duplicate: true,
        idempotency: None,
    };
    match store
        .create_student(&student(name), &options, &Actor::system("tests"))
        .await
        .expect("created")
    {
        Created::New(s) => s.id,
        Created::Replayed { student_id, .. } => student_id,
    }
}

/// Every live student's name, sorted.
pub async fn names(url: &str) -> Vec<String> {
    let store = open(url).await;
    let mut names = Vec::new();
    for page in 1.. {
        let request = PageRequest {
            page,
            per_page: PageRequest::MAX_PER_PAGE,
        };
        let found = store
            .list_students(&Default::default(), request)
            .await
            .expect("list");
        names.extend(found.items.iter().map(|s| s.full_name.to_string()));
        if found.items.is_empty() || names.len() as i64 >= found.total {
            break;
        }
    }
    names.sort();
    store.close().await;
    names
}

/// Runs srs; returns (success, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, String, String) {
    let out = srs().args(args).output().expect("srs runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn ok(args: &[&str]) -> String {
    let (success, stdout, stderr) = run(args);
    assert!(success, "srs {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

pub fn fails(args: &[&str]) -> String {
    let (success, stdout, stderr) = run(args);
    assert!(!success, "srs {args:?} should have failed:\n{stdout}");
    stderr
}
