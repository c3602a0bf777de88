//! HAProxy (the distribution's package) as the front door of an `srs up`
//! cluster, with the config `srs haproxy-config` writes: it follows a
//! switchover on its own and no request through it fails.

mod common;
use common::cluster::{cli, Cluster};
use common::free_ports;

use srs_dr::drill::load::Load;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's haproxy; `scripts/test` installs it.
fn haproxy() -> PathBuf {
    ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("haproxy is not installed: scripts/test installs it (apt-get install haproxy)")
}

/// HAProxy in the foreground; killed when dropped.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_haproxy(cfg: &Path, log: &Path) -> Haproxy {
    let log = std::fs::File::create(log).expect("log");
    let child = Command::new(haproxy())
        .args(["-db", "-f"])
        .arg(cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("haproxy starts");
    Haproxy(child)
}

async fn site_answering(client: &reqwest::Client, url: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return r.headers()["x-srs-site"]
                    .to_str()
                    .expect("site header")
                    .to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer 200 in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Metric names in a text: `srs_*` and `http_request*`, histogram series
/// named by their family.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("srs_") || word.starts_with("http_request"))
        .map(|name| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name)
        })
        // Job and dashboard names are not metrics.
        .filter(|family| !matches!(*family, "srs_apps" | "srs_runbook_base"))
        .map(str::to_owned)
        .collect()
}

/// Every metric the alert rules and the Grafana dashboard use is exported
/// by this running cluster: an app instance, the controller or the edge
/// (the quorum's, across hosts, by their own tests).
async fn metrics_named_by_rules_and_dashboard_are_exported(dir: &Path) {
    let topology: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.join("srs-topology.toml")).expect("topology"))
            .expect("toml");
    let app_port = topology["sites"][0]["app_ports"][0]
        .as_integer()
        .expect("port");
    let sources = [
        format!("http://127.0.0.1:{app_port}/metrics"),
        format!(
            "http://{}/metrics",
            topology["controller"]["listen"]
                .as_str()
                .expect("controller")
        ),
        format!(
            "http://{}/metrics",
            topology["edge"]["admin_listen"]
                .as_str()
                .expect("edge admin")
        ),
    ];
    let mut exported = String::new();
    for url in &sources {
        let text = reqwest::get(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .text()
            .await
            .expect("text");
        exported.push_str(&text);
    }
    let exported = metric_names(&exported);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for file in [
        "deploy/prometheus/srs-alerts.yml",
        "deploy/grafana/srs.json",
    ] {
        let text = std::fs::read_to_string(repo.join(file)).expect(file);
        let used = metric_names(&text);
        assert!(used.len() > 10, "{file} names only {used:?}");
        // Only a cluster across hosts has a quorum and site agents; their
        // metrics are checked where they run (tests/quorum.rs, and the
        // controller's exposition tests).
        let missing: Vec<_> = used
            .difference(&exported)
            .filter(|m| !m.starts_with("srs_quorum_") && !m.starts_with("srs_site_agent_"))
            .collect();
        assert!(
            missing.is_empty(),
            "{file} uses metrics no srs process exports: {missing:?}"
        );
    }
}

/// The ERROR lines of every log `srs up` keeps, to explain a failure.
fn logged_errors(dir: &Path) -> String {
    std::fs::read_dir(dir.join("logs"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|text| {
            text.lines()
                .filter(|l| l.contains("ERROR") && !l.contains("on_failure"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .take(20)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn haproxy_follows_a_drills_switchover_and_back_with_no_failed_request() {
    let cluster = Cluster::up().await;
    let client = cluster.admin_client();
    let token = cli(
        &["token", "create", "--user", "admin", "--name", "haproxy"],
        cluster.path(),
        "",
    )
    .trim()
    .to_owned();
    let [port, stats] = free_ports::<2>();
    let out = cli(
        &[
            "haproxy-config",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--stats-listen",
            &format!("127.0.0.1:{stats}"),
        ],
        cluster.path(),
        "",
    );
    let cfg = cluster.path().join("haproxy/haproxy.cfg");
    assert!(out.contains("haproxy.cfg"), "{out}");
    let checked = Command::new(haproxy())
        .args(["-c", "-f"])
        .arg(&cfg)
        .output()
        .expect("haproxy -c");
    assert!(
        checked.status.success(),
        "haproxy -c refuses the config: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let _haproxy = start_haproxy(&cfg, &cluster.path().join("haproxy/haproxy.log"));
    let front = format!("http://127.0.0.1:{port}");
    assert_eq!(
        site_answering(&client, &format!("{front}/readyz"), Duration::from_secs(20)).await,
        "primary"
    );

    // Clients write (with Idempotency-Key) and read through HAProxy while
    // a drill switches the primary to the DR site and back under its own
    // load through the edge.
    let clock = Instant::now();
    let load = Load::start(&front, &token, "Arts", 4, "Haproxy", clock).expect("load starts");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dir = cluster.path().to_owned();
    let switch_began = clock.elapsed();
    let drill = tokio::task::spawn_blocking(move || {
        let report = dir.join("drill-report");
        cli(
            &[
                "drill",
                "--fault",
                "switchover",
                "--clients",
                "2",
                "--yes",
                "--report-dir",
                report.to_str().expect("utf-8 path"),
            ],
            &dir,
            "",
        )
    })
    .await
    .expect("the drill ran");
    let switched = clock.elapsed();
    assert!(
        drill.contains("passed") || drill.contains("PASS"),
        "{drill}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let recorded = load.stop().await;

    let failed: Vec<_> = recorded.samples.iter().filter(|s| !s.ok).collect();
    if !failed.is_empty() {
        eprintln!("errors in the app logs:\n{}", logged_errors(cluster.path()));
    }
    assert!(
        failed.is_empty(),
        "{} of {} requests failed through HAProxy (switch from {} ms to {} ms): {:?}; first refusal {:?}",
        failed.len(),
        recorded.samples.len(),
        switch_began.as_millis(),
        switched.as_millis(),
        failed.iter().take(5).collect::<Vec<_>>(),
        recorded.first_refusal
    );
    let before = recorded
        .samples
        .iter()
        .filter(|s| s.site == "primary")
        .count();
    let after = recorded.samples.iter().filter(|s| s.site == "dr").count();
    assert!(
        before > 0 && after > 0,
        "served by primary {before}, by dr {after}"
    );
    let longest = recorded
        .samples
        .iter()
        .map(|s| s.took_ms)
        .max()
        .unwrap_or(0);
    assert!(longest < 10_000, "a request took {longest} ms");

    // Every acknowledged create is on the new primary, read through HAProxy.
    assert!(!recorded.acknowledged.is_empty());
    for ack in &recorded.acknowledged {
        let student: serde_json::Value = client
            .get(format!("{front}/api/v1/students/{}", ack.id))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(student["full_name"], ack.name.as_str());
    }

    metrics_named_by_rules_and_dashboard_are_exported(cluster.path()).await;

    // HAProxy's own metrics show the backend and its servers for Prometheus.
    let metrics = reqwest::get(format!("http://127.0.0.1:{stats}/metrics"))
        .await
        .expect("stats")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("haproxy_backend_active_servers{proxy=\"srs_apps\"}"),
        "HAProxy's Prometheus exporter"
    );
    println!(
        "through HAProxy: {} requests, {} creates acknowledged, longest {longest} ms, drill (switchover and back) {} ms",
        recorded.samples.len(),
        recorded.acknowledged.len(),
        (switched - switch_began).as_millis()
    );
}
