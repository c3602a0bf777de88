use crate::both_engines;
use serde_json::Value;

both_engines!(health_readiness_metrics_and_openapi_answer, |app| {
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    app.create_student("Counted Student", None).await;
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
    assert!(metrics.contains("srs_db_pool_connections"));
    assert!(metrics.contains("srs_students_live"));
    let spec: Value = app.get_json("/api/v1/openapi.json").await;
    for path in [
        "/api/v1/students",
        "/api/v1/students/{id}",
        "/api/v1/students/import",
        "/api/v1/departments",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} documented");
    }
});
