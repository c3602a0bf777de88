use crate::helpers::{expect_problem, spawn_app_configured, valid_student, Engine};
use serde_json::Value;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_write_not_admitted_in_time_is_refused_and_changes_nothing() {
    // The timeout bounds the sign-in too (a write), whose password check
    // takes over a second in a debug build on a busy 2-core machine.
    let app = spawn_app_configured(Engine::Sqlite, |s| {
        s.write_timeout = Duration::from_secs(3);
    })
    .await;
    app.write_gate.set_limit(1);
    let held = app.write_gate.enter().await;

    let began = Instant::now();
    let refused = app
        .post_json("/api/v1/students", &valid_student("Held Back"))
        .await;
    assert!(began.elapsed() >= Duration::from_millis(2_900));
    assert_eq!(refused.headers()["retry-after"], "1");
    let problem = expect_problem(refused, 503, "not admitted").await;
    assert_eq!(problem["type"], "/problems/write-throttled");
    assert!(problem["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("nothing was changed"));
    let listed: Value = app.get_json("/api/v1/students").await;
    assert_eq!(listed["total"], 0, "reads are never held back");

    // Once the place is free, the same write goes through.
    drop(held);
    let created = app
        .post_json("/api/v1/students", &valid_student("Held Back"))
        .await;
    assert_eq!(created.status(), 201);
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("srs_write_admission_refused_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("srs_write_admission_limit 1"), "{metrics}");
}
