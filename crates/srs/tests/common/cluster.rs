//! A two-site cluster under `srs up`, as the binary's tests drive it.

use super::{free_ports, srs};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running `srs up` in a temporary directory; stopped when dropped.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub edge: String,
    pub dr_db_port: u16,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Children of a killed `srs up` die with it (kill_on_drop cannot run);
        // make sure no server outlives the test.
        if let Ok(text) = std::fs::read_to_string(self.dir.path().join("up.json")) {
            if let Ok(children) = serde_json::from_str::<Vec<Value>>(&text) {
                for c in children {
                    if let Some(pid) = c["pid"].as_u64() {
                        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                    }
                }
            }
        }
    }
}

/// Writes a strict two-site topology on free ports (the DR site with two
/// standby app instances) with `backup` added to its `[backup]` section;
/// returns the edge's and the DR database's ports.
pub fn write_topology(dir: &Path, backup: &str) -> (u16, u16) {
    let [standby1, standby2, controller, edge, admin, db1, db2, app1, app2] = free_ports::<9>();
    let text = format!(
        "sync_mode = \"strict\"\nparallel_apply_threads = 2\nbuffer_pool_mb = 64\nwrite_timeout_secs = 2\n\
         [controller]\nlisten = \"127.0.0.1:{controller}\"\n\
         [edge]\nlisten = \"127.0.0.1:{edge}\"\nadmin_listen = \"127.0.0.1:{admin}\"\nhold_timeout_ms = 5000\n\
         [[sites]]\nname = \"primary\"\nrole = \"primary\"\ndb_port = {db1}\napp_ports = [{app1}, {app2}]\n\
         [[sites]]\nname = \"dr\"\nrole = \"dr\"\ndb_port = {db2}\napp_ports = []\n\
         standby_app_ports = [{standby1}, {standby2}]\n\
         [backup]\nkey_file = \"backup.key\"\nsecond_store = \"second-store\"\n{backup}\n"
    );
    std::fs::write(dir.join("srs-topology.toml"), text).expect("topology");
    // Backups encrypted at rest and copied to a second store, as an
    // operator who asks for both runs them.
    let (ok, _, err) = super::run_with_input(
        &[
            "backup".into(),
            "key".into(),
            "--out".into(),
            dir.join("backup.key").into_os_string(),
        ],
        "",
    );
    assert!(ok, "backup key: {err}");
    (edge, db2)
}

pub fn start(dir: &Path) -> Child {
    let log =
        std::fs::File::create(dir.join(format!("up-{}.log", Instant::now().elapsed().as_nanos())))
            .expect("log");
    // A relative --data-dir, as the README's default is: every path srs
    // writes for its children must still work from their own directories.
    let (parent, name) = (
        dir.parent().expect("a parent"),
        dir.file_name().expect("a name"),
    );
    srs()
        .current_dir(parent)
        .args(["up", "--data-dir"])
        .arg(name)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("srs up starts")
}

pub async fn wait_ready(edge: &str, child: &mut Child) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "srs up exited early"
        );
        if let Ok(r) = client.get(format!("{edge}/readyz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the edge did not answer within 120 s");
}

pub fn cli(args: &[&str], dir: &Path, stdin: &str) -> String {
    let mut all: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    all.extend(["--data-dir".into(), dir.as_os_str().to_owned()]);
    let (ok, out, err) = super::run_with_input(&all, stdin);
    assert!(ok, "{args:?}: {err}");
    out
}

pub fn sigterm_and_wait(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "srs up did not stop in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The processes `srs up` recorded in its run file.
pub fn running(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("up.json")).expect("up.json");
    serde_json::from_str(&text).expect("json")
}

/// A JSON answer to a GET.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

/// A generated secret from `secrets.toml`.
pub fn secret(cluster: &Cluster, key: &str) -> String {
    let text = std::fs::read_to_string(cluster.path().join("secrets.toml")).expect("secrets");
    let secrets: toml::Value = toml::from_str(&text).expect("toml");
    secrets[key].as_str().expect("a secret").to_owned()
}

/// A site's entry in the topology.
pub fn site_entry(cluster: &Cluster, site: &str) -> toml::Value {
    let text = std::fs::read_to_string(cluster.path().join("srs-topology.toml")).expect("topology");
    let topology: toml::Value = toml::from_str(&text).expect("toml");
    topology["sites"]
        .as_array()
        .and_then(|sites| sites.iter().find(|s| s["name"].as_str() == Some(site)))
        .cloned()
        .expect("the site")
}

/// A site's database port.
pub fn topology_port(cluster: &Cluster, site: &str) -> u16 {
    site_entry(cluster, site)["db_port"]
        .as_integer()
        .and_then(|p| u16::try_from(p).ok())
        .expect("the site's port")
}

/// Polls `check` until it holds, failing after `within`.
pub async fn wait_until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let began = Instant::now();
    while !check() {
        assert!(
            began.elapsed() < within,
            "{what} within {} s",
            within.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl Cluster {
    /// A fresh cluster in a temporary directory, started and ready.
    pub async fn up() -> Self {
        Self::up_with_backup("").await
    }

    /// The same, with `backup` added to the topology's `[backup]` section.
    pub async fn up_with_backup(backup: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (edge_port, dr_db_port) = write_topology(dir.path(), backup);
        let mut cluster = Cluster {
            child: Some(start(dir.path())),
            edge: format!("http://127.0.0.1:{edge_port}"),
            dr_db_port,
            dir,
        };
        let edge = cluster.edge.clone();
        wait_ready(&edge, cluster.child.as_mut().expect("child")).await;
        cluster
    }

    /// Stops `srs up` with SIGTERM and starts it again, ready.
    pub async fn restart(&mut self) {
        let mut child = self.child.take().expect("running");
        let status = sigterm_and_wait(&mut child, Duration::from_secs(60));
        assert!(status.success(), "srs up stopped with {status}");
        let mut child = start(self.path());
        wait_ready(&self.edge, &mut child).await;
        self.child = Some(child);
    }

    /// Its data directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// An API client holding the token of a new admin account.
    pub fn admin_client(&self) -> reqwest::Client {
        cli(
            &[
                "user",
                "add",
                "admin",
                "--role",
                "admin",
                "--password-stdin",
            ],
            self.path(),
            "correct horse battery staple\n",
        );
        let token = cli(
            &["token", "create", "--user", "admin", "--name", "tests"],
            self.path(),
            "",
        )
        .trim()
        .to_owned();
        reqwest::Client::builder()
            .default_headers(
                [(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {token}").parse().expect("header"),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .expect("client")
    }

    /// `srs status --json`.
    pub fn status(&self) -> Value {
        serde_json::from_str(&cli(&["status", "--json"], self.path(), "")).expect("status JSON")
    }
}
