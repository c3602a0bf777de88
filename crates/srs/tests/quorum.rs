//! A site of a cluster across hosts, as its users meet it: the site agent
//! and an app instance run as real processes against a real etcd. Writes
//! are taken only under the write lease the leader granted; a paused agent
//! (a site cut off from the quorum) makes its app instance refuse writes
//! within a lease, reads go on marked as possibly stale, and writes resume
//! only once the leader grants the agent's new lease.

mod common;

use common::{free_ports, srs};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use srs_dr::quorum::member::LocalEtcd;
use srs_dr::quorum::{EtcdQuorum, Leadership, PrimaryRecord};
use srs_dr::topology::QuorumSection;
use srs_dr::{ClusterDir, SiteName};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when the test ends, whatever happened.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let pid = Pid::from_raw(i32::try_from(self.0.id()).expect("pid"));
        let _ = kill(pid, Signal::SIGCONT);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.0.id()).expect("pid"));
        kill(pid, signal).expect("signal sent");
    }
}

fn site(name: &str) -> SiteName {
    SiteName::parse(name).expect("valid")
}

fn section(url: &str) -> QuorumSection {
    QuorumSection {
        etcd: vec![url.to_owned()],
        cluster: "site-test".into(),
        leader_ttl_secs: 2,
        write_lease_secs: 1,
    }
}

/// Polls `check` every 50 ms until it holds; how long that took.
async fn within(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn a_site_takes_writes_only_under_its_lease_and_stops_within_one_when_cut_off() {
    let etcd = LocalEtcd::start()
        .await
        .expect("etcd starts (apt-get install etcd-server)");
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = ClusterDir::new(tmp.path());
    let [agent_a, agent_b, db_a, db_b, app, edge, edge_admin] = free_ports();
    std::fs::write(
        dir.file(srs_dr::ClusterFile::Topology),
        format!(
            "sync_mode = \"async\"\n\
             [edge]\nlisten = \"127.0.0.1:{edge}\"\nadmin_listen = \"127.0.0.1:{edge_admin}\"\n\
             [quorum]\netcd = [\"{}\"]\ncluster = \"site-test\"\nwrite_lease_secs = 1\n\
             [[sites]]\nname = \"a\"\nrole = \"primary\"\ndb_port = {db_a}\napp_ports = [{app}]\nagent_port = {agent_a}\n\
             [[sites]]\nname = \"b\"\nrole = \"dr\"\ndb_port = {db_b}\nagent_port = {agent_b}\n",
            etcd.url()
        ),
    )
    .expect("topology written");
    srs_dr::Secrets::load_or_create(&dir).expect("secrets");
    let logs = |name: &str| std::fs::File::create(tmp.path().join(name)).expect("log file");
    let agent = Running(
        srs()
            .args(["site-agent", "--site", "a", "--data-dir"])
            .arg(tmp.path())
            .stdout(logs("agent.log"))
            .stderr(logs("agent.err"))
            .spawn()
            .expect("agent starts"),
    );
    let db = format!("sqlite:{}", tmp.path().join("a.db").display());
    let token = {
        let run = |args: &[&str], stdin: &str| {
            let mut full: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
            full.extend(["--database-url".into(), db.clone().into()]);
            let (ok, out, err) = common::run_with_input(&full, stdin);
            assert!(ok, "{args:?}: {err}");
            out
        };
        run(
            &[
                "user",
                "add",
                "admin",
                "--role",
                "admin",
                "--password-stdin",
            ],
            "correct horse battery staple\n",
        );
        run(
            &["token", "create", "--user", "admin", "--name", "tests"],
            "",
        )
        .trim()
        .to_owned()
    };
    let _app = Running(
        srs()
            .args([
                "serve",
                "--site-name",
                "a",
                "--site-role",
                "primary",
                "--write-lease",
            ])
            .args(["--listen", &format!("127.0.0.1:{app}")])
            .args([
                "--admission-url",
                &format!("http://127.0.0.1:{agent_a}/admission"),
            ])
            .args(["--database-url", &db])
            .stdout(logs("app.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("app starts"),
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{app}");
    // Every create is a different student (a repeated one is a 409).
    let created = std::sync::atomic::AtomicUsize::new(0);
    let create = |name: &'static str| {
        let n = created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Names hold letters only: the count spelt in letters.
        let n: String = n
            .to_string()
            .chars()
            .map(|d| char::from(b'a' + d as u8 - b'0'))
            .collect();
        http.post(format!("{base}/api/v1/students"))
            .bearer_auth(&token)
            .json(
                &json!({"full_name": format!("{name} {n}"), "date_of_birth": "2000-01-01",
                "department": "Arts", "confirm_duplicate": true}),
            )
            .send()
    };
    let list = || {
        http.get(format!("{base}/api/v1/students"))
            .bearer_auth(&token)
            .send()
    };
    within("the app answers", Duration::from_secs(30), async || {
        http.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;

    // Nothing recorded yet: the site holds no lease, so it refuses writes
    // (a retryable not-primary) and marks its reads.
    let refused = create("Ada Lovelace").await.expect("sent");
    assert_eq!(refused.status(), 503);
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["type"], "/problems/not-primary", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("write lease"),
        "{problem}"
    );
    let read = list().await.expect("sent");
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["x-srs-possibly-stale"], "true");

    // The leader records site a as primary: its agent's lease is granted.
    let mut leader = EtcdQuorum::new(&section(etcd.url()), "test leader").expect("quorum");
    assert_eq!(leader.lead().await, Leadership::Leading { newly: true });
    within(
        "the agent holds its lease",
        Duration::from_secs(10),
        async || {
            leader
                .etcd()
                .get("/srs/site-test/sites/a")
                .await
                .is_ok_and(|kv| kv.is_some())
        },
    )
    .await;
    leader
        .record_primary(&PrimaryRecord::new(site("a"), 1))
        .await
        .expect("recorded");
    within("writes are taken", Duration::from_secs(5), async || {
        create("Ada Lovelace")
            .await
            .is_ok_and(|r| r.status() == 201)
    })
    .await;
    let read = list().await.expect("sent");
    assert!(read.headers().get("x-srs-possibly-stale").is_none());
    let metrics = agent_metrics(agent_a).await;
    assert!(
        metrics.contains("srs_site_agent_quorum_reached{site=\"a\"} 1")
            && metrics.contains("srs_site_agent_refuses_writes_without_quorum{site=\"a\"} 0")
            && !metrics.contains("srs_site_agent_write_lease_seconds{site=\"a\"} 0\n"),
        "{metrics}"
    );

    // The agent stops (as a site cut off from the quorum would): within
    // one write lease, the app refuses writes on its own.
    agent.signal(Signal::SIGSTOP);
    let refusing = within("writes are refused", Duration::from_secs(3), async || {
        create("Grace Hopper")
            .await
            .is_ok_and(|r| r.status() == 503)
    })
    .await;
    assert!(
        refusing <= Duration::from_millis(1_500),
        "refused {refusing:?} after the agent stopped; the lease is 1 s"
    );
    let read = list().await.expect("sent");
    assert_eq!(read.status(), 200, "reads go on");
    assert_eq!(read.headers()["x-srs-possibly-stale"], "true");

    // Back after its lease ran out in etcd: the agent takes a new one, but
    // writes wait for the leader to grant it under the current epoch.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    agent.signal(Signal::SIGCONT);
    let granted = leader.primary().await.expect("read").and_then(|p| p.lease);
    within(
        "the agent holds a new lease",
        Duration::from_secs(10),
        async || {
            let key = leader.etcd().get("/srs/site-test/sites/a").await;
            key.is_ok_and(|kv| kv.is_some_and(|kv| kv.lease.is_some() && kv.lease != granted))
        },
    )
    .await;
    let answer: Value = http
        .get(format!("http://127.0.0.1:{agent_a}/admission"))
        .send()
        .await
        .expect("the agent answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["write_lease_ms"], 0, "{answer}");
    assert_eq!(
        create("Grace Hopper").await.expect("sent").status(),
        503,
        "not yet granted"
    );
    let said = leader.regrant(&site("a")).await.expect("regrant");
    assert!(said.is_some(), "the leader grants the new lease");
    within(
        "writes are taken again",
        Duration::from_secs(5),
        async || {
            create("Grace Hopper")
                .await
                .is_ok_and(|r| r.status() == 201)
        },
    )
    .await;
    // The event is written once the fence was tried (up to 5 s when the
    // database does not answer), which may be after writes resumed.
    within(
        "the agent's fence is an event",
        Duration::from_secs(10),
        async || {
            srs_dr::controller::published::EventLog::tail(&dir, 50)
                .iter()
                .any(|e| {
                    e.kind == srs_dr::controller::published::EventKind::SiteSelfFenced
                        && e.what.starts_with(
                            "site agent of 'a': lost the quorum for a whole write lease",
                        )
                })
        },
    )
    .await;

    // The quorum itself stops answering (etcd paused): the agent, still
    // up, tells monitoring its primary site refuses writes for want of it.
    let etcd_pid = Pid::from_raw(i32::try_from(etcd.pid()).expect("pid"));
    kill(etcd_pid, Signal::SIGSTOP).expect("etcd paused");
    within(
        "the agent reports writes refused without the quorum",
        Duration::from_secs(5),
        async || {
            agent_metrics(agent_a)
                .await
                .contains("srs_site_agent_refuses_writes_without_quorum{site=\"a\"} 1")
        },
    )
    .await;
    assert_eq!(create("Alan Turing").await.expect("sent").status(), 503);
    kill(etcd_pid, Signal::SIGCONT).expect("etcd resumed");
}

/// The site agent's Prometheus text.
async fn agent_metrics(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("the agent answers /metrics")
        .text()
        .await
        .expect("text")
}

/// An operator lays out three hosts from one topology, as the runbook says:
/// split makes the secrets once and gives each host its folder; srs up
/// refuses a topology meant for three hosts; a drill on two hosts is refused.
#[test]
fn an_operator_splits_a_three_host_topology_and_is_told_what_does_not_fit() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).expect("dir");
    std::fs::write(
        src.join("srs-topology.toml"),
        "sync_mode = \"strict\"\n[edge]\nlisten = \"0.0.0.0:8080\"\nadmin_listen = \"127.0.0.1:8079\"\n\
         [quorum]\netcd = [\"http://10.0.0.1:2379\", \"http://10.0.0.2:2379\", \"http://10.0.0.3:2379\"]\n\
         [[sites]]\nname = \"a\"\nrole = \"primary\"\ndb_host = \"10.0.0.1\"\napp_host = \"10.0.0.1\"\nmanaged = true\ndb_port = 3306\napp_ports = [8101]\nagent_port = 8090\n\
         [[sites]]\nname = \"b\"\nrole = \"dr\"\ndb_host = \"10.0.0.2\"\napp_host = \"10.0.0.2\"\nmanaged = true\ndb_port = 3307\napp_ports = [8102]\nagent_port = 8091\n",
    )
    .expect("topology");
    let out = tmp.path().join("hosts");
    let split = srs()
        .args(["topology", "split", "--data-dir"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("srs runs");
    assert!(
        split.status.success(),
        "{}",
        String::from_utf8_lossy(&split.stderr)
    );
    let listed = String::from_utf8_lossy(&split.stdout);
    for host in ["a", "b", "witness"] {
        assert!(listed.contains(&format!("hosts/{host}")), "{listed}");
        assert!(out.join(host).join("etcd.sh").exists(), "{host}");
    }
    assert!(
        src.join("secrets.toml").exists(),
        "made once, at the source"
    );
    assert_eq!(
        std::fs::read(src.join("secrets.toml")).expect("source"),
        std::fs::read(out.join("a").join("secrets.toml")).expect("copy"),
        "every site host gets the same secrets"
    );

    let up = srs()
        .args(["up", "--data-dir"])
        .arg(out.join("a"))
        .output()
        .expect("srs runs");
    assert!(!up.status.success());
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(said.contains("srs site"), "{said}");

    let two = srs()
        .args(["drill", "--hosts", "2"])
        .output()
        .expect("srs runs");
    assert!(!two.status.success());
    assert!(String::from_utf8_lossy(&two.stderr).contains("cannot outvote"));

    let unknown = srs()
        .args(["drill", "--hosts", "3", "--fault", "kill-primary-db"])
        .output()
        .expect("srs runs");
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("a one-machine fault"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}
