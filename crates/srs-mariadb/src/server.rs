//! A MariaDB server that srs initialises and runs as a child process: its
//! own config file, port, socket and data directory, never a system server.

use crate::admin::SyncMode;
use crate::{MariaDbError, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long a server may take to start or stop.
const START_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the server programs are.
#[derive(Debug, Clone)]
pub struct Binaries {
    mariadbd: PathBuf,
    install_db: PathBuf,
}

pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/sbin"),
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/local/sbin"),
        ])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Finds `mariadbd` and `mariadb-install-db`, or says how to install them.
pub fn find_binaries() -> Result<Binaries> {
    Ok(Binaries {
        mariadbd: which("mariadbd").ok_or_else(|| MariaDbError::NotInstalled("mariadbd".into()))?,
        install_db: which("mariadb-install-db")
            .ok_or_else(|| MariaDbError::NotInstalled("mariadb-install-db".into()))?,
    })
}

/// One server's settings. Everything that must survive a restart goes into
/// its config file: `SET GLOBAL` is lost when a server restarts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Site name, for logs and errors.
    pub name: String,
    /// The server's own folder: config, socket, logs and `data/`.
    pub dir: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Unique per server in a topology.
    pub server_id: u32,
    /// InnoDB buffer pool, MiB.
    pub buffer_pool_mb: u32,
    /// Replica apply threads (0: single-threaded apply).
    pub parallel_threads: u32,
    /// How commits wait for the replica.
    pub sync_mode: SyncMode,
    /// Root password, set before the server accepts network connections.
    pub root_password: String,
    /// Reached from other hosts (a cluster across hosts); None: loopback only.
    pub network: Option<Network>,
}

/// How a server of a cluster across hosts is reached from the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The address it listens on (its host's).
    pub bind_address: String,
    /// The account other hosts' controllers administer it with, from any
    /// host, with the root password.
    pub admin_user: String,
}

impl ServerConfig {
    /// The config file srs writes for this server.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("my.cnf")
    }

    /// The server's unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("mysqld.sock")
    }

    /// Its data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Its error log.
    pub fn error_log(&self) -> PathBuf {
        self.dir.join("error.log")
    }

    /// The process id of a server running with this config file (found
    /// through its pid file and confirmed by its command line).
    fn running_pid(&self) -> Option<Pid> {
        let text = std::fs::read_to_string(self.dir.join("mariadbd.pid")).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let ours = format!("--defaults-file={}", self.config_file().display());
        String::from_utf8_lossy(&cmdline)
            .split('\0')
            .any(|arg| arg == ours)
            .then(|| Pid::from_raw(pid))
    }

    /// Whether a server runs with this config now.
    pub fn is_running(&self) -> bool {
        self.running_pid().is_some()
    }

    /// Stops the server running with this config at once (SIGKILL), as a
    /// crash would: the way to fence a server whose sessions wait for a
    /// semi-sync acknowledgement. Whether there was one to stop.
    pub fn kill_running(&self) -> bool {
        self.running_pid()
            .is_some_and(|pid| kill(pid, Signal::SIGKILL).is_ok())
    }

    fn init_file(&self) -> PathBuf {
        self.dir.join("init.sql")
    }

    /// The config file's text. Every server starts as a read-only replica
    /// (semi-sync replica side on, primary side off, no replication
    /// running): a primary killed mid-commit then truncates the
    /// transactions its replica never received, and srs makes exactly one
    /// server primary afterwards, turning the primary side on there only.
    /// On a replica it must stay off: with log-slave-updates, applied
    /// transactions would wait for acknowledgements nobody sends.
    fn render(&self) -> String {
        let timeout_ms = match self.sync_mode {
            SyncMode::Strict => u64::from(u32::MAX),
            SyncMode::Bounded { timeout_ms } => timeout_ms,
            SyncMode::Async => 10_000,
        };
        format!(
            "# Written by srs for site '{name}'; srs rewrites it at every start.\n\
             [mariadbd]\n\
             datadir = {data}\n\
             port = {port}\n\
             bind-address = {bind}\n\
             socket = {socket}\n\
             pid-file = {dir}/mariadbd.pid\n\
             tmpdir = {dir}/tmp\n\
             log-error = {log}\n\
             skip-name-resolve\n\
             innodb-buffer-pool-size = {pool}M\n\
             max-connections = 500\n\
             server-id = {server_id}\n\
             log-bin = {dir}/binlog/mariadb-bin\n\
             relay-log = {dir}/binlog/relay-bin\n\
             binlog-format = ROW\n\
             log-slave-updates = ON\n\
             gtid-strict-mode = ON\n\
             sync-binlog = 1\n\
             init-rpl-role = SLAVE\n\
             read-only = ON\n\
             skip-slave-start\n\
             slave-net-timeout = 4\n\
             rpl-semi-sync-slave-enabled = ON\n\
             rpl-semi-sync-master-enabled = OFF\n\
             rpl-semi-sync-master-wait-point = AFTER_SYNC\n\
             rpl-semi-sync-master-wait-no-slave = ON\n\
             rpl-semi-sync-master-timeout = {timeout_ms}\n\
             slave-parallel-threads = {threads}\n\
             slave-parallel-mode = optimistic\n\
             init-file = {init}\n",
            name = self.name,
            bind = self
                .network
                .as_ref()
                .map_or("127.0.0.1", |n| n.bind_address.as_str()),
            data = self.data_dir().display(),
            port = self.port,
            socket = self.socket().display(),
            dir = self.dir.display(),
            log = self.error_log().display(),
            pool = self.buffer_pool_mb,
            server_id = self.server_id,
            threads = self.parallel_threads,
            init = self.init_file().display(),
        )
    }

    /// Runs before the server accepts connections: sets the root password,
    /// removes the password-less accounts the installer made, and lets root
    /// in over TCP on loopback too (the controller probes over the network,
    /// so a network partition looks like one to it). Not binlogged, so it
    /// never becomes a transaction the other site lacks.
    fn init_sql(&self) -> String {
        let pw = self
            .root_password
            .replace('\\', "\\\\")
            .replace('\'', "\\'");
        let mut sql = format!(
            "SET sql_log_bin = 0;\n\
             ALTER USER 'root'@'localhost' IDENTIFIED BY '{pw}';\n\
             DELETE FROM mysql.global_priv WHERE User = 'root' AND Host NOT IN ('localhost', '127.0.0.1');\n\
             DELETE FROM mysql.global_priv WHERE User = '';\n\
             FLUSH PRIVILEGES;\n\
             CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{pw}';\n\
             ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{pw}';\n\
             GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
        );
        if let Some(network) = &self.network {
            // The other site's controller fences, promotes and rewires this
            // server from its own host.
            let user = network
                .admin_user
                .replace('\\', "\\\\")
                .replace('\'', "\\'");
            sql.push_str(&format!(
                "CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{pw}';\n\
                 ALTER USER '{user}'@'%' IDENTIFIED BY '{pw}';\n\
                 GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION;\n"
            ));
        }
        sql
    }
}

/// A server srs runs: initialised on first use, started and stopped here.
pub struct LocalServer {
    config: ServerConfig,
    binaries: Binaries,
    child: Option<Child>,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> MariaDbError {
    let what = what.into();
    move |source| MariaDbError::Io { what, source }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    crate::private_file::write(path, text).map_err(io(format!("writing {}", path.display())))
}

/// The version of the `mariadbd` binary, e.g. "10.11.19".
async fn binary_version(mariadbd: &Path) -> Result<String> {
    let out = Command::new(mariadbd)
        .arg("--version")
        .output()
        .await
        .map_err(io(format!("running {} --version", mariadbd.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .find_map(|w| {
            let v = w.split('-').next()?;
            (v.split('.').count() == 3 && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .then(|| v.to_owned())
        })
        .unwrap_or_default())
}

fn major_minor(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

impl LocalServer {
    /// A server with these settings, not yet started.
    pub fn new(mut config: ServerConfig) -> Result<Self> {
        // mariadbd runs in its data directory: every path in its config
        // file must be absolute.
        config.dir = std::path::absolute(&config.dir)
            .map_err(io(format!("resolving {}", config.dir.display())))?;
        Ok(Self {
            config,
            binaries: find_binaries()?,
            child: None,
        })
    }

    /// Its settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Writes the config and, on first use, creates the data directory;
    /// refuses a data directory made by another MariaDB major version.
    pub async fn prepare(&self) -> Result<bool> {
        let c = &self.config;
        // A temporary directory of its own: servers sharing /tmp were seen
        // to lose each other's temporary tables while initialising.
        for dir in [c.dir.clone(), c.dir.join("binlog"), c.dir.join("tmp")] {
            std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        }
        write_private(&c.config_file(), &c.render())?;
        write_private(&c.init_file(), &c.init_sql())?;
        let data = c.data_dir();
        let version = binary_version(&self.binaries.mariadbd).await?;
        if data.join("mysql").is_dir() {
            let info = std::fs::read_to_string(data.join("mysql_upgrade_info")).unwrap_or_default();
            let made_by = info.trim().split('-').next().unwrap_or_default().to_owned();
            if !made_by.is_empty()
                && !version.is_empty()
                && major_minor(&made_by) != major_minor(&version)
            {
                return Err(MariaDbError::DataDir {
                    path: data.display().to_string(),
                    reason: format!(
                        "made by MariaDB {made_by}, but this machine has {version}; upgrade it with that version or start from an empty folder"
                    ),
                });
            }
            return Ok(false);
        }
        if data.exists()
            && std::fs::read_dir(&data)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
        {
            return Err(MariaDbError::DataDir {
                path: data.display().to_string(),
                reason: "is not empty but holds no MariaDB system tables".into(),
            });
        }
        tracing::info!(site = %c.name, dir = %c.dir.display(), "initialising a new MariaDB data directory");
        let out = Command::new(&self.binaries.install_db)
            .arg(format!("--defaults-file={}", c.config_file().display()))
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--user={}", current_user()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .output()
            .await
            .map_err(io("running mariadb-install-db"))?;
        if !out.status.success() {
            return Err(MariaDbError::DataDir {
                path: data.display().to_string(),
                reason: format!(
                    "mariadb-install-db failed: {}{}\nits server log ends:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    tail(&c.error_log(), 15)
                ),
            });
        }
        Ok(true)
    }

    /// A server of this data directory still running without us: left by
    /// an earlier srs that was killed before it could stop it.
    fn leftover(&self) -> Option<Pid> {
        self.config.running_pid()
    }

    /// Stops a leftover server of this data directory cleanly, so this
    /// start finds its port and files free.
    async fn stop_leftover(&self) -> Result<()> {
        let Some(pid) = self.leftover() else {
            return Ok(());
        };
        tracing::warn!(site = %self.config.name, pid = pid.as_raw(), "a server of this data directory is still running from an earlier run; stopping it first");
        let _ = kill(pid, Signal::SIGTERM);
        let began = Instant::now();
        while running(pid) {
            if began.elapsed() > STOP_TIMEOUT {
                let _ = kill(pid, Signal::SIGKILL);
                return Err(MariaDbError::Server {
                    port: self.config.port,
                    reason: format!(
                        "a leftover server (pid {pid}) did not stop within {} s and was killed",
                        STOP_TIMEOUT.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Starts the server and waits until it answers.
    pub async fn start(&mut self) -> Result<()> {
        let log_len = std::fs::metadata(self.config.error_log())
            .map(|m| m.len())
            .unwrap_or(0);
        self.launch().await?;
        self.wait_answering(log_len).await
    }

    /// Starts the server without waiting for it to answer (a supervisor
    /// restarting it goes on watching its other children meanwhile).
    pub async fn launch(&mut self) -> Result<()> {
        let c = self.config.clone();
        self.stop_leftover().await?;
        if std::net::TcpListener::bind(("127.0.0.1", c.port)).is_err() {
            return Err(MariaDbError::PortInUse(c.port));
        }
        let mut command = Command::new(&self.binaries.mariadbd);
        command
            .arg(format!("--defaults-file={}", c.config_file().display()))
            .arg(format!("--user={}", current_user()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(io(format!("starting {}", self.binaries.mariadbd.display())))?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_answering(&mut self, log_len: u64) -> Result<()> {
        let c = self.config.clone();
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    let log = std::fs::read_to_string(c.error_log()).unwrap_or_default();
                    let new_lines: String = log
                        .get(log_len as usize..)
                        .unwrap_or(&log)
                        .lines()
                        .rev()
                        .take(15)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n");
                    return Err(MariaDbError::Server {
                        port: c.port,
                        reason: format!("exited at start ({status}); its log says:\n{new_lines}"),
                    });
                }
            }
            if crate::Admin::connect_socket(&c).await.is_ok() {
                tracing::info!(site = %c.name, port = c.port, "MariaDB server ready");
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                self.kill().await;
                return Err(MariaDbError::Server {
                    port: c.port,
                    reason: format!(
                        "did not answer within {} s; see {}",
                        START_TIMEOUT.as_secs(),
                        c.error_log().display()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Asks the server to shut down cleanly (SIGTERM) and waits; kills it
    /// if it does not stop in time.
    pub async fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(_) => {
                tracing::info!(site = %self.config.name, "MariaDB server stopped");
                Ok(())
            }
            Err(_) => {
                let _ = child.kill().await;
                Err(MariaDbError::Server {
                    port: self.config.port,
                    reason: format!(
                        "did not stop within {} s and was killed",
                        STOP_TIMEOUT.as_secs()
                    ),
                })
            }
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Whether the child process has exited (and how), if it was started.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The end of its error log, for reports.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.config.error_log(), lines)
    }
}

/// Whether a process exists and has not exited (a zombie has).
fn running(pid: Pid) -> bool {
    kill(pid, None).is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                // The state follows the command name in parentheses.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s != "Z"))
            })
            .unwrap_or(false)
}

/// The operating-system user srs runs as; mariadbd needs it when root.
fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into())
}
