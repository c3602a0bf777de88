//! The edge against real HTTP backends on loopback.

use axum::routing::get;
use axum::Router;
use srs_edge::{Edge, EdgeConfig, SiteBackends};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SECRET: &str = "edge admin secret";

/// A stand-in app instance: answers with its name; `/readyz` is 200.
async fn backend(name: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new()
        .route("/readyz", get(|| async { "ready" }))
        .fallback(move || async move { name });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

async fn edge(
    sites: Vec<SiteBackends>,
    state_file: std::path::PathBuf,
    hold: Duration,
) -> (String, String) {
    let config = EdgeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        admin_listen: "127.0.0.1:0".parse().expect("addr"),
        admin_secret: SECRET.into(),
        sites,
        initial_site: Some("primary".into()),
        state_file,
        hold_timeout: hold,
        health_interval: Duration::from_millis(200),
        max_body_bytes: 1 << 20,
    };
    let edge = Edge::bind(config).await.expect("edge binds");
    let urls = (
        format!("http://127.0.0.1:{}", edge.port()),
        format!("http://127.0.0.1:{}", edge.admin_port()),
    );
    tokio::spawn(edge.run_until_stopped(std::future::pending()));
    urls
}

async fn switch(admin: &str, site: &str, secret: &str) -> u16 {
    reqwest::Client::new()
        .put(format!("{admin}/admin/active-site"))
        .bearer_auth(secret)
        .json(&serde_json::json!({ "site": site }))
        .send()
        .await
        .expect("admin call")
        .status()
        .as_u16()
}

#[tokio::test]
async fn routes_round_robin_to_the_active_site_and_survives_a_dead_instance() {
    let (a, task_a) = backend("a").await;
    let (b, _task_b) = backend("b").await;
    let (dr, _task_dr) = backend("dr-1").await;
    let dir = tempfile_dir();
    let (public, admin) = edge(
        vec![
            SiteBackends {
                name: "primary".into(),
                instances: vec![a, b],
            },
            SiteBackends {
                name: "dr".into(),
                instances: vec![dr],
            },
        ],
        dir.join("edge-state.json"),
        Duration::from_secs(2),
    )
    .await;
    let client = reqwest::Client::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..6 {
        let r = client
            .get(format!("{public}/students"))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.headers()["x-srs-site"], "primary");
        seen.insert(r.text().await.expect("body"));
    }
    assert_eq!(seen.len(), 2, "both primary instances served: {seen:?}");

    task_a.abort();
    let _ = task_a.await;
    let mut failures = 0;
    for _ in 0..40 {
        let r = client
            .get(format!("{public}/students"))
            .send()
            .await
            .expect("sent");
        if r.status() != 200 || r.text().await.unwrap_or_default() != "b" {
            failures += 1;
        }
    }
    assert_eq!(failures, 0, "no failed GET after an instance died");
    let metrics = client
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("srs_edge_requests_total{site=\"primary\",outcome=\"ok\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn switches_sites_only_with_the_secret_and_remembers_across_restarts() {
    let (p, _tp) = backend("primary-1").await;
    let (d, _td) = backend("dr-1").await;
    let dir = tempfile_dir();
    let sites = vec![
        SiteBackends {
            name: "primary".into(),
            instances: vec![p],
        },
        SiteBackends {
            name: "dr".into(),
            instances: vec![d],
        },
    ];
    let state_file = dir.join("edge-state.json");
    let (public, admin) = edge(sites.clone(), state_file.clone(), Duration::from_secs(2)).await;
    let client = reqwest::Client::new();
    assert_eq!(switch(&admin, "dr", "wrong").await, 401);
    assert_eq!(switch(&admin, "nowhere", SECRET).await, 422);
    assert_eq!(
        client
            .get(&public)
            .send()
            .await
            .expect("sent")
            .text()
            .await
            .expect("body"),
        "primary-1"
    );
    assert_eq!(switch(&admin, "dr", SECRET).await, 200);
    let r = client.get(&public).send().await.expect("sent");
    assert_eq!(r.headers()["x-srs-site"], "dr");
    assert_eq!(r.text().await.expect("body"), "dr-1");

    let (public2, _) = edge(sites, state_file, Duration::from_secs(2)).await;
    let r = client.get(&public2).send().await.expect("sent");
    assert_eq!(
        r.headers()["x-srs-site"],
        "dr",
        "a restarted edge remembers the active site"
    );
}

#[tokio::test]
async fn requests_wait_during_a_switch_and_fail_cleanly_when_it_never_ends() {
    let (p, _tp) = backend("primary-1").await;
    let (d, _td) = backend("dr-1").await;
    let dir = tempfile_dir();
    let (public, admin) = edge(
        vec![
            SiteBackends {
                name: "primary".into(),
                instances: vec![p],
            },
            SiteBackends {
                name: "dr".into(),
                instances: vec![d],
            },
        ],
        dir.join("edge-state.json"),
        Duration::from_millis(1500),
    )
    .await;
    let client = reqwest::Client::new();
    let held = client
        .put(format!("{admin}/admin/hold"))
        .bearer_auth(SECRET)
        .send()
        .await
        .expect("hold");
    assert_eq!(held.status(), 200);
    let start = Instant::now();
    let waiting = tokio::spawn({
        let client = client.clone();
        let public = public.clone();
        async move {
            client
                .get(&public)
                .send()
                .await
                .expect("sent")
                .text()
                .await
                .expect("body")
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(switch(&admin, "dr", SECRET).await, 200);
    assert_eq!(
        waiting.await.expect("task"),
        "dr-1",
        "the held request flowed to the new site"
    );
    assert!(start.elapsed() >= Duration::from_millis(400));

    client
        .put(format!("{admin}/admin/hold"))
        .bearer_auth(SECRET)
        .send()
        .await
        .expect("hold");
    let start = Instant::now();
    let r = client.get(&public).send().await.expect("sent");
    assert_eq!(r.status(), 503, "bounded wait, then a clear 503");
    assert!(
        start.elapsed() >= Duration::from_millis(1400) && start.elapsed() < Duration::from_secs(5)
    );
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

fn tempfile_dir() -> std::path::PathBuf {
    // Kept for the test's lifetime; the OS temp dir is cleaned by the system.
    tempfile::tempdir().expect("temp dir").keep()
}
