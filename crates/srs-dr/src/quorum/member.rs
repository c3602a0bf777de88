//! An etcd member's command line: what the witness host runs, what the
//! three-host drill starts in each host, and what the tests start.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One member of the etcd cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its name (a site's name, or `witness`).
    pub name: String,
    /// The address it listens on and the others reach it at.
    pub host: String,
    /// Clients' port (2379 by convention).
    pub client_port: u16,
    /// Other members' port (2380 by convention).
    pub peer_port: u16,
}

impl Member {
    /// Where clients reach it.
    pub fn client_url(&self) -> String {
        format!("http://{}:{}", self.host, self.client_port)
    }

    /// Where the other members reach it.
    pub fn peer_url(&self) -> String {
        format!("http://{}:{}", self.host, self.peer_port)
    }
}

/// How fast members notice a lost leader. etcd's defaults (100 ms, 1 s) suit
/// sites up to ~50 ms apart; the lease TTLs srs uses must stay above
/// the election timeout, or a leader change alone could expire them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Heartbeat interval, ms.
    pub heartbeat_ms: u64,
    /// Election timeout, ms.
    pub election_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            heartbeat_ms: 100,
            election_ms: 1_000,
        }
    }
}

/// The etcd server program: `SRS_ETCD`, else `etcd` on the PATH or where
/// Debian's `etcd-server` puts it.
pub fn etcd_program() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("SRS_ETCD") {
        return Ok(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("etcd"))
        .chain([PathBuf::from("/usr/bin/etcd")])
        .find(|p| p.is_file());
    on_path.ok_or_else(|| {
        anyhow::anyhow!(
            "etcd is not installed: install it (Debian: apt-get install etcd-server) or set SRS_ETCD to its path"
        )
    })
}

/// The arguments that run `member` of `cluster`, keeping its data in
/// `data_dir`. A new cluster starts from the full member list.
pub fn args(member: &Member, cluster: &[Member], data_dir: &Path, timing: Timing) -> Vec<String> {
    let initial = cluster
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url()))
        .collect::<Vec<_>>()
        .join(",");
    [
        ("--name", member.name.clone()),
        ("--data-dir", data_dir.display().to_string()),
        ("--listen-client-urls", member.client_url()),
        ("--advertise-client-urls", member.client_url()),
        ("--listen-peer-urls", member.peer_url()),
        ("--initial-advertise-peer-urls", member.peer_url()),
        ("--initial-cluster", initial),
        ("--initial-cluster-state", "new".into()),
        ("--heartbeat-interval", timing.heartbeat_ms.to_string()),
        ("--election-timeout", timing.election_ms.to_string()),
        ("--logger", "zap".into()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_owned(), value])
    // A member cut off and back would otherwise force an election with its
    // raised term, and every lease renewal fails meanwhile. (A boolean
    // flag takes its value after `=`.)
    .chain(["--pre-vote=true".to_owned()])
    .collect()
}

/// The command that runs `member` of `cluster` (see `args`).
pub fn command(
    program: &Path,
    member: &Member,
    cluster: &[Member],
    data_dir: &Path,
    timing: Timing,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.args(args(member, cluster, data_dir, timing));
    cmd
}

/// Waits until the member at `client_url` says it is healthy (it has a
/// leader), for at most `timeout`.
pub async fn wait_healthy(client_url: &str, timeout: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()?;
    let deadline = Instant::now() + timeout;
    loop {
        let healthy = match http.get(format!("{client_url}/health")).send().await {
            Ok(r) => r
                .json::<serde_json::Value>()
                .await
                .is_ok_and(|v| v["health"].as_str() == Some("true")),
            Err(_) => false,
        };
        if healthy {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "etcd at {client_url} was not healthy within {} s",
            timeout.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A one-member etcd on loopback, in a directory of its own, stopped when
/// dropped: for tests, and for trying the etcd quorum on one machine.
#[derive(Debug)]
pub struct LocalEtcd {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl LocalEtcd {
    /// Starts one and waits until it serves.
    pub async fn start() -> anyhow::Result<Self> {
        let program = etcd_program()?;
        let dir = tempfile::tempdir()?;
        let ports = {
            let a = std::net::TcpListener::bind("127.0.0.1:0")?;
            let b = std::net::TcpListener::bind("127.0.0.1:0")?;
            (a.local_addr()?.port(), b.local_addr()?.port())
        };
        let member = Member {
            name: "solo".into(),
            host: "127.0.0.1".into(),
            client_port: ports.0,
            peer_port: ports.1,
        };
        let log = std::fs::File::create(dir.path().join("etcd.log"))?;
        let timing = Timing {
            heartbeat_ms: 50,
            election_ms: 500,
        };
        let child = command(
            &program,
            &member,
            std::slice::from_ref(&member),
            &dir.path().join("data"),
            timing,
        )
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|e| anyhow::anyhow!("Failed to start {}: {e}", program.display()))?;
        let etcd = Self {
            child,
            url: member.client_url(),
            _dir: dir,
        };
        wait_healthy(&etcd.url, Duration::from_secs(20)).await?;
        Ok(etcd)
    }

    /// Its client URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its process id (tests pause it to take the quorum away).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
