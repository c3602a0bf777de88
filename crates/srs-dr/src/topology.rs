//! The topology file: sites, ports, instance counts and the sync mode.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use srs_mariadb::SyncMode;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use srs_domain::{SiteName, SiteRole};

/// One site: its database and its app instances.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Name, shown on every page and in `X-Srs-Site`.
    pub name: SiteName,
    /// Its role at start: primary, or dr (a replica).
    pub role: SiteRole,
    /// Database host; `127.0.0.1` means srs starts the server itself.
    #[serde(default = "localhost")]
    pub db_host: String,
    /// Database port.
    pub db_port: u16,
    /// App instance ports; their count is the site's instance count.
    #[serde(default)]
    pub app_ports: Vec<u16>,
    /// App instance ports started only while this site is primary (the
    /// pilot light: none run before a failover).
    #[serde(default)]
    pub standby_app_ports: Vec<u16>,
    /// For sites srs does not run: the command that starts the standby
    /// app instances (run with `sh -c`, with a timeout; output logged).
    #[serde(default)]
    pub scale_up: Option<String>,
    /// For sites srs does not run: the command that stops them again.
    #[serde(default)]
    pub scale_down: Option<String>,
    /// Host of the app instances (remote sites).
    #[serde(default = "localhost")]
    pub app_host: String,
    /// Whether `srs up` runs this site's processes itself; by default when
    /// `db_host` is this machine. `false` for servers run by someone else,
    /// even on this host.
    #[serde(default)]
    pub managed: Option<bool>,
    /// The account srs administers a remote database with (its password is
    /// `root_password` in the secrets file); local servers use root.
    #[serde(default = "root")]
    pub admin_user: String,
    /// Where the site's agent answers its app instances (on `app_host`);
    /// needed in a cluster with a `[quorum]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_port: Option<u16>,
    /// With a `[link]`: where the other site's replica and the controller
    /// reach this site's database; `srs up` runs the delay proxy there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_port: Option<u16>,
}

fn localhost() -> String {
    "127.0.0.1".into()
}

fn root() -> String {
    "root".into()
}

impl Site {
    /// Whether srs runs this site's processes itself.
    pub fn is_local(&self) -> bool {
        self.managed
            .unwrap_or(self.db_host == "127.0.0.1" || self.db_host == "localhost")
    }

    /// Where its app instances listen, standby ones included.
    pub fn app_addrs(&self) -> Vec<String> {
        self.app_ports
            .iter()
            .chain(&self.standby_app_ports)
            .map(|p| format!("{}:{p}", self.app_host))
            .collect()
    }
}

/// How the controller watches the sites.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerSection {
    /// Time between two observations, ms.
    #[serde(default = "probe_interval_default")]
    pub probe_interval_ms: u64,
    /// Consecutive failed probes before a component counts as down.
    #[serde(default = "failure_threshold_default")]
    pub failure_threshold: u32,
    /// Where it serves /healthz, /readyz, /admission and /metrics (none
    /// when absent).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Whether the controller limits app instances' writes while the
    /// replica's apply backlog is over budget (needs `listen`).
    #[serde(default = "yes")]
    pub admission: bool,
    /// How long one probe may take before it counts as failed, ms.
    #[serde(default = "probe_timeout_default")]
    pub probe_timeout_ms: u64,
    /// Time between probes while something failed its last probe, ms: a
    /// refused connection is confirmed in a few of these.
    #[serde(default = "recheck_interval_default")]
    pub recheck_interval_ms: u64,
    /// Whether the controller fails over on its own when the primary is
    /// down (false: it raises an alert and `srs failover --yes` acts).
    #[serde(default = "yes")]
    pub automatic: bool,
    /// After a failover, no automatic failover for this long, seconds
    /// (an operator's switchover or failover is always allowed).
    #[serde(default = "cooldown_default")]
    pub failover_cooldown_secs: u64,
}

fn probe_timeout_default() -> u64 {
    300
}
fn recheck_interval_default() -> u64 {
    100
}
fn cooldown_default() -> u64 {
    300
}

fn yes() -> bool {
    true
}

impl Default for ControllerSection {
    fn default() -> Self {
        Self {
            probe_interval_ms: probe_interval_default(),
            failure_threshold: failure_threshold_default(),
            listen: None,
            admission: true,
            probe_timeout_ms: probe_timeout_default(),
            recheck_interval_ms: recheck_interval_default(),
            automatic: true,
            failover_cooldown_secs: cooldown_default(),
        }
    }
}

fn probe_interval_default() -> u64 {
    200
}
fn failure_threshold_default() -> u32 {
    3
}

/// The front door's addresses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSection {
    /// Public address.
    pub listen: SocketAddr,
    /// Admin address (loopback only).
    pub admin_listen: SocketAddr,
    /// How long requests wait during a switch, in ms.
    #[serde(default = "hold_default")]
    pub hold_timeout_ms: u64,
    /// Threads the edge serves connections with.
    #[serde(default = "one")]
    pub worker_threads: u16,
}

fn one() -> u16 {
    1
}

fn hold_default() -> u64 {
    10_000
}

/// How commits wait for the replica, as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncModeName {
    /// No async fallback.
    Strict,
    /// Fall back to async after `bounded_timeout_ms`.
    Bounded,
    /// Asynchronous.
    Async,
}

impl SyncModeName {
    /// How the topology file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Bounded => "bounded",
            Self::Async => "async",
        }
    }
}

impl std::fmt::Display for SyncModeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The whole topology.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// strict, bounded or async.
    pub sync_mode: SyncModeName,
    /// The fallback timeout in bounded mode, ms.
    #[serde(default = "bounded_default")]
    pub bounded_timeout_ms: u64,
    /// Replica apply threads.
    #[serde(default = "threads_default")]
    pub parallel_apply_threads: u32,
    /// InnoDB buffer pool per local server, MiB.
    #[serde(default = "pool_default")]
    pub buffer_pool_mb: u32,
    /// Longest an app instance lets a write wait for the replica, seconds.
    #[serde(default = "write_timeout_default")]
    pub write_timeout_secs: u64,
    /// Apply lag the replica may build up before writes are admitted more
    /// slowly, ms (failover waits for the backlog to be applied).
    #[serde(default = "lag_budget_default")]
    pub apply_lag_budget_ms: u64,
    /// The front door.
    pub edge: EdgeSection,
    /// The controller.
    #[serde(default)]
    pub controller: ControllerSection,
    /// Backups, the binlog archive and retention under `srs up`.
    #[serde(default)]
    pub backup: BackupSection,
    /// The quorum across hosts (etcd); absent: one machine, one controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<QuorumSection>,
    /// A distance between the sites on one machine; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkSection>,
    /// Exactly two sites: one primary, one dr.
    pub sites: Vec<Site>,
}

/// The distance between two sites run on one machine, for drills and
/// benchmarks: `srs up` puts a delay proxy (`srs link-delay`) in front of
/// each site's database at its `link_port`, and everything that crosses
/// between sites goes through it: the replica's connection to the primary
/// (so a strict commit waits one round trip) and the controller's
/// connections to every database (it stands apart from both sites, as the
/// leader across hosts may). App instances reach their own site's database
/// directly.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSection {
    /// The delay each way, ms (a round trip takes twice this), 1-10000.
    pub delay_ms: u64,
}

/// Round trips a probe of a database crosses the link: its one batch of
/// queries (two while no epoch is recorded), and a reconnection's TCP and
/// MariaDB handshakes and session set-up, with room to spare.
const PROBE_ROUND_TRIPS: u64 = 10;

/// How often `srs up` takes a backup: `daily`, `hourly`, `off`, or a
/// number of hours or minutes such as `6h` or `30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BackupSchedule {
    /// Seconds between backups; None: no scheduled backups.
    pub every_secs: Option<u64>,
}

impl TryFrom<String> for BackupSchedule {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let t = text.trim().to_ascii_lowercase();
        let every_secs = match t.as_str() {
            "off" | "never" => None,
            "daily" => Some(86_400),
            "hourly" => Some(3_600),
            _ => {
                let bad = || {
                    format!("backup schedule '{text}': use daily, hourly, off, or a number of hours or minutes such as 6h or 30m")
                };
                let (digits, unit) = t.split_at(t.len().saturating_sub(1));
                let n: u64 = digits.parse().map_err(|_| bad())?;
                let secs = match unit {
                    "h" => n * 3_600,
                    "m" => n * 60,
                    _ => return Err(bad()),
                };
                if !(60..=31 * 86_400).contains(&secs) {
                    return Err(format!("backup schedule '{text}': between 1m and 744h"));
                }
                Some(secs)
            }
        };
        Ok(Self { every_secs })
    }
}

impl From<BackupSchedule> for String {
    fn from(s: BackupSchedule) -> Self {
        match s.every_secs {
            None => "off".into(),
            Some(86_400) => "daily".into(),
            Some(3_600) => "hourly".into(),
            Some(secs) if secs % 3_600 == 0 => format!("{}h", secs / 3_600),
            Some(secs) => format!("{}m", secs / 60),
        }
    }
}

impl std::fmt::Display for BackupSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from(*self))
    }
}

/// How far back every point stays restorable: a number of days, hours or
/// weeks such as `7d`, `36h` or `2w` (`0d`: only the newest backup's point
/// and after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecoveryWindow {
    /// The window's length in seconds.
    pub secs: u64,
}

impl RecoveryWindow {
    /// The window as a duration.
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.secs)
    }
}

impl std::str::FromStr for RecoveryWindow {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim().to_ascii_lowercase();
        let bad = || {
            format!(
                "recovery window '{text}': use a number of days, hours or weeks such as 7d, 36h or 2w"
            )
        };
        let (digits, unit) = t.split_at(t.len().saturating_sub(1));
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let secs = match unit {
            "h" => n.checked_mul(3_600),
            "d" => n.checked_mul(86_400),
            "w" => n.checked_mul(7 * 86_400),
            _ => return Err(bad()),
        }
        .ok_or_else(bad)?;
        if secs > 3_660 * 86_400 {
            return Err(format!(
                "recovery window '{text}': at most 3660d (ten years)"
            ));
        }
        Ok(Self { secs })
    }
}

impl TryFrom<String> for RecoveryWindow {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<RecoveryWindow> for String {
    fn from(w: RecoveryWindow) -> Self {
        if w.secs.is_multiple_of(86_400) {
            format!("{}d", w.secs / 86_400)
        } else {
            format!("{}h", w.secs / 3_600)
        }
    }
}

impl std::fmt::Display for RecoveryWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from(*self))
    }
}

/// The `[backup]` section.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSection {
    /// How often to take (and verify) a backup.
    #[serde(default = "schedule_default")]
    pub schedule: BackupSchedule,
    /// Copy the primary's binlogs continuously (point-in-time restore).
    #[serde(default = "archive_default")]
    pub archive: bool,
    /// Prove each new backup by a trial restore.
    #[serde(default = "archive_default")]
    pub verify: bool,
    /// Retention: every point of this much recent time stays restorable.
    #[serde(default = "recovery_window_default")]
    pub recovery_window: RecoveryWindow,
    /// Beyond the window: the newest backup of each of this many days...
    #[serde(default = "keep_daily_default")]
    pub keep_daily: u32,
    /// ...and of this many weeks.
    #[serde(default = "keep_weekly_default")]
    pub keep_weekly: u32,
    /// Encrypt backups with this key file (relative to the data
    /// directory); None: not encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<std::path::PathBuf>,
    /// A second store (relative to the data directory) that each verified
    /// backup and the binlog archive are copied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_store: Option<std::path::PathBuf>,
}

fn schedule_default() -> BackupSchedule {
    BackupSchedule {
        every_secs: Some(86_400),
    }
}
fn archive_default() -> bool {
    true
}
fn recovery_window_default() -> RecoveryWindow {
    RecoveryWindow { secs: 7 * 86_400 }
}
fn keep_daily_default() -> u32 {
    7
}
fn keep_weekly_default() -> u32 {
    4
}

impl Default for BackupSection {
    fn default() -> Self {
        Self {
            schedule: schedule_default(),
            archive: archive_default(),
            verify: archive_default(),
            recovery_window: recovery_window_default(),
            keep_daily: keep_daily_default(),
            keep_weekly: keep_weekly_default(),
            key_file: None,
            second_store: None,
        }
    }
}

impl BackupSection {
    /// The retention this section asks for.
    pub fn retention(&self) -> srs_backup::retention::Retention {
        srs_backup::retention::Retention {
            window: chrono::Duration::seconds(
                i64::try_from(self.recovery_window.secs).unwrap_or(i64::MAX / 1_000),
            ),
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
        }
    }

    /// Whether `srs up` runs the backup agent at all.
    pub fn enabled(&self) -> bool {
        self.archive || self.schedule.every_secs.is_some()
    }

    /// The key file, resolved against the cluster's directory.
    pub fn key_file_in(&self, cluster: &crate::ClusterDir) -> Option<std::path::PathBuf> {
        self.key_file.as_ref().map(|p| cluster.path().join(p))
    }

    /// The second store, resolved against the cluster's directory.
    pub fn second_store_in(&self, cluster: &crate::ClusterDir) -> Option<std::path::PathBuf> {
        self.second_store.as_ref().map(|p| cluster.path().join(p))
    }
}

/// The `[quorum]` section: etcd as the cluster's source of truth for who
/// leads and which site holds the primary epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumSection {
    /// Client URLs of the etcd members: one per site and the witness.
    pub etcd: Vec<String>,
    /// Key prefix in etcd (`/srs/NAME/`): clusters sharing one etcd keep apart.
    #[serde(default = "cluster_default")]
    pub cluster: String,
    /// The leading controller's lease, seconds: a lost leader is replaced
    /// this long after its last renewal.
    #[serde(default = "leader_ttl_default")]
    pub leader_ttl_secs: u64,
    /// A site's write lease, seconds: its app instances take writes only
    /// while its agent renewed its etcd lease within this; a cut-off site
    /// stops writing, and the other is promoted, this long after the cut.
    #[serde(default = "write_lease_default")]
    pub write_lease_secs: u64,
}

fn cluster_default() -> String {
    "srs".into()
}
fn leader_ttl_default() -> u64 {
    // Only who leads the controllers rides on it: a lost leader is replaced
    // in about a second (etcd may hold it longer: its minimum TTL is 1.5
    // election timeouts), while writes ride on the sites' own leases.
    1
}
fn write_lease_default() -> u64 {
    2
}

impl QuorumSection {
    /// How long one request to one etcd member may take: a third of the
    /// leader's lease, so a dead member costs one try, not the lease.
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis((self.leader_ttl_secs * 1000 / 3).clamp(200, 2_000))
    }

    /// How long before its lease could run out a leader stops acting: a
    /// quarter of the lease.
    pub fn leader_margin(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.leader_ttl_secs * 1000 / 4)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.etcd.is_empty() {
            bail!("quorum.etcd: name the etcd members' client URLs (three: one per site and the witness)");
        }
        for url in &self.etcd {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| anyhow::anyhow!("quorum.etcd: '{url}' is not a URL ({e})"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                bail!("quorum.etcd: '{url}' must be http://HOST:PORT");
            }
        }
        if self.etcd.len().is_multiple_of(2) {
            bail!(
                "quorum.etcd: {} members cannot outvote a split evenly; use three (one per site and a witness)",
                self.etcd.len()
            );
        }
        if self.cluster.is_empty()
            || !self
                .cluster
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!(
                "quorum.cluster: '{}' must be letters, digits, - or _",
                self.cluster
            );
        }
        if !(1..=60).contains(&self.write_lease_secs) {
            bail!(
                "quorum.write_lease_secs: {} is out of range (1-60)",
                self.write_lease_secs
            );
        }
        if !(1..=60).contains(&self.leader_ttl_secs) {
            bail!(
                "quorum.leader_ttl_secs: {} is out of range (1-60)",
                self.leader_ttl_secs
            );
        }
        Ok(())
    }
}

fn bounded_default() -> u64 {
    1_000
}
fn threads_default() -> u32 {
    4
}
fn pool_default() -> u32 {
    128
}
fn write_timeout_default() -> u64 {
    10
}
fn lag_budget_default() -> u64 {
    1_000
}

/// The default file `srs up` writes on first run, with every key explained.
pub const DEFAULT: &str = r#"# srs topology: two sites. `srs up` starts every process of a site whose
# db_host is 127.0.0.1 on this machine; for remote sites it starts nothing
# and only connects to the addresses given.

# How commits on the primary wait for the DR replica:
#   strict  - semi-synchronous, never falls back: no acknowledged write can
#             exist only on the primary (a primary alone cannot commit)
#   bounded - semi-synchronous, falls back to asynchronous after
#             bounded_timeout_ms (reported loudly)
#   async   - fastest; a failover may lose the last writes
sync_mode = "strict"
bounded_timeout_ms = 1000
# Replica apply threads (keeps apply lag, and so failover time, low).
parallel_apply_threads = 4
# InnoDB buffer pool of each local MariaDB server, MiB.
buffer_pool_mb = 128
# In strict mode a primary whose replica is gone cannot commit: writes wait
# this many seconds, then get 503 "not confirmed" instead of hanging.
write_timeout_secs = 10
# A failover first waits for the replica to apply what it received. When the
# replica's apply backlog would take more than half this budget (ms), the
# primary's app instances admit fewer writes at once until it catches up.
apply_lag_budget_ms = 1000

[edge]
# Where clients connect.
listen = "127.0.0.1:8080"
# The controller's endpoint on the edge: keep it on loopback.
admin_listen = "127.0.0.1:8079"
# How long requests wait during a switch before getting 503, ms.
hold_timeout_ms = 10000
# Threads serving connections. A proxy mostly waits on sockets: on a small
# machine one thread costs less CPU per request than several.
worker_threads = 1

[controller]
# How often the controller probes every database, app instance and the edge, ms.
probe_interval_ms = 200
# Consecutive failed probes before a component counts as down (one slow
# probe never does).
failure_threshold = 3
# How long one probe may take before it counts as failed, ms (a probe is a
# few queries on an open connection: milliseconds when the server is well).
probe_timeout_ms = 300
# After a failed probe the next comes this soon, ms: a killed server is
# confirmed down in a few hundred ms, a silent one within the probe timeouts.
recheck_interval_ms = 100
# Fail over on its own when the primary is down for failure_threshold probes
# and a second opinion agrees (the replica lost it, or the edge sees none of
# its app instances). false: raise an alert; `srs failover --yes` acts.
automatic = true
# After a failover, no automatic failover for this long (s); an operator's
# switchover or failover is always allowed.
failover_cooldown_secs = 300
# Its /healthz, /readyz, /admission and Prometheus /metrics (epoch, alerts, lag).
listen = "127.0.0.1:8077"
# App instances admit fewer writes at once while the replica's apply backlog
# exceeds half of apply_lag_budget_ms (see above).
admission = true

[backup]
# How often to take a backup (from the DR replica when it answers): daily,
# hourly, off, or e.g. 6h / 30m. Each new backup is proven by a trial
# restore into a scratch server when verify = true.
schedule = "daily"
verify = true
# Copy the primary's binary logs continuously, for `srs restore --at`.
archive = true
# Retention: every point of the last recovery_window (e.g. 7d, 36h, 2w)
# stays restorable: each backup taken inside it stays, and the newest one
# before it. Beyond it, the newest backup of each of keep_daily days and
# keep_weekly weeks. Backups kept by hand (`srs backup keep`) always stay;
# archived binlogs go only when no kept backup needs them.
recovery_window = "7d"
keep_daily = 7
keep_weekly = 4
# The store is backup-store/ in this directory; sync it elsewhere with
# rsync or rclone, or name a second store (a mounted disk elsewhere) that
# every verified backup and the binlog archive are copied to:
# second_store = "/mnt/offsite/srs-backups"
# Encrypt backups at rest (age, X25519): create a key with
# `srs backup key --out backup.key` and keep a copy away from the backups.
# key_file = "backup.key"

# The sites' distance, for a drill or a trial on one machine: srs up puts a
# delay proxy in front of each site's database (at its link_port) and the
# replica and the controller reach it through that proxy, so a strict
# commit waits one round trip as between real regions. Uncomment both lines
# and each site's link_port below:
# [link]
# delay_ms = 35

# A site on other hosts: set db_host (and app_host) to their addresses and
# admin_user to an account with SUPER/REPLICATION privileges there; its
# password goes in secrets.toml as root_password. `managed = false` marks
# servers someone else runs, even on this host: srs only connects to them.

[[sites]]
name = "primary"
role = "primary"
db_host = "127.0.0.1"
db_port = 3407
# With [link]: where the delay proxy in front of this database listens.
# link_port = 3417
# One app instance per port.
app_ports = [8101, 8102]

[[sites]]
name = "dr"
role = "dr"
db_host = "127.0.0.1"
db_port = 3408
# link_port = 3418
# Pilot light: no app instances until a failover. The standby instances
# start when this site becomes primary and stop when it steps down.
app_ports = []
standby_app_ports = [8103, 8104]
"#;

impl Topology {
    /// Reads and checks a topology file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Failed to read {}", path.display()))?;
        let topology: Topology = toml::from_str(&text)
            .with_context(|| format!("Invalid topology file {}", path.display()))?;
        topology
            .check()
            .with_context(|| format!("Invalid topology file {}", path.display()))?;
        Ok(topology)
    }

    /// The topology of a cluster directory.
    pub fn of(dir: &ClusterDir) -> anyhow::Result<Self> {
        Self::load(&dir.file(ClusterFile::Topology))
    }

    /// The topology file in `data_dir`, written with the defaults if absent.
    pub fn load_or_create(data_dir: &ClusterDir) -> anyhow::Result<(Self, PathBuf, bool)> {
        let path = data_dir.file(ClusterFile::Topology);
        let created = !path.exists();
        if created {
            std::fs::create_dir_all(data_dir.path())
                .with_context(|| format!("Failed to create {data_dir}"))?;
            std::fs::write(&path, DEFAULT)
                .with_context(|| format!("Failed to write {}", path.display()))?;
        }
        Ok((Self::load(&path)?, path, created))
    }

    fn check(&self) -> anyhow::Result<()> {
        self.check_sites()?;
        self.check_ports()?;
        self.check_ranges()?;
        self.check_link()?;
        self.check_standbys()
    }

    /// A `[link]` is for sites srs runs on this machine, each with its
    /// `link_port`.
    fn check_link(&self) -> anyhow::Result<()> {
        let Some(link) = &self.link else {
            if let Some(s) = self.sites.iter().find(|s| s.link_port.is_some()) {
                bail!(
                    "sites '{}': link_port is used only with a [link] section (delay_ms = ...)",
                    s.name
                );
            }
            return Ok(());
        };
        if !(1..=10_000).contains(&link.delay_ms) {
            bail!(
                "link.delay_ms: {} is out of range (1-10000 ms each way)",
                link.delay_ms
            );
        }
        if self.quorum.is_some() {
            bail!("[link] puts a distance between sites on one machine; across hosts the network is the distance: remove [link] or [quorum]");
        }
        for s in &self.sites {
            if !s.is_local() {
                bail!(
                    "sites '{}': [link] needs both sites run by srs up on this machine",
                    s.name
                );
            }
            if s.link_port.is_none() {
                bail!(
                    "sites '{}': set link_port, where the delay proxy in front of its database listens ([link] is set)",
                    s.name
                );
            }
        }
        Ok(())
    }

    /// How long one probe of a database may take: `probe_timeout_ms`,
    /// plus, with a `[link]`, the round trips a probe may cross it (a new
    /// connection's handshakes when the last one broke, then the probe's
    /// one batch of queries): 0.7 s allowed at 35 ms each way.
    pub fn probe_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.controller.probe_timeout_ms) + self.link_allowance()
    }

    /// How long the statements of one controller step may take, beyond
    /// the waits the step itself is made of (catching up, `read_only`
    /// taking): ten probes' worth, 3 s by default. A site that goes silent
    /// in the middle of a step (its server paused, its host cut off: TCP
    /// keeps such a connection open for many minutes, a paused one for
    /// good) fails the step then, instead of holding the loop.
    pub fn step_timeout(&self) -> std::time::Duration {
        self.probe_timeout() * 10
    }

    /// What the link adds to any wait for a probe (zero without one).
    pub fn link_allowance(&self) -> std::time::Duration {
        std::time::Duration::from_millis(
            self.link.map_or(0, |l| PROBE_ROUND_TRIPS * 2 * l.delay_ms),
        )
    }

    /// Where whoever is not at `site` reaches its database: through the
    /// delay proxy with a `[link]`, else at the database itself.
    pub fn db_reach(&self, site: &Site) -> (String, u16) {
        let port = match (&self.link, site.link_port) {
            (Some(_), Some(port)) => port,
            _ => site.db_port,
        };
        (site.db_host.clone(), port)
    }

    /// Two sites, one primary, each named and addressed well.
    fn check_sites(&self) -> anyhow::Result<()> {
        if self.sites.len() != 2 {
            bail!(
                "sites: exactly two are needed, one primary and one dr (found {})",
                self.sites.len()
            );
        }
        let primaries = self
            .sites
            .iter()
            .filter(|s| s.role == SiteRole::Primary)
            .count();
        if primaries != 1 {
            bail!("sites: exactly one must have role = \"primary\" (found {primaries})");
        }
        if self.sites[0].name == self.sites[1].name {
            bail!("sites: the two sites need different names");
        }
        for s in &self.sites {
            if s.name.is_empty()
                || s.name.len() > 40
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!(
                    "sites.name '{}': use 1-40 letters, digits, '-' or '_'",
                    s.name
                );
            }
            if s.app_host.parse::<std::net::IpAddr>().is_err() {
                bail!(
                    "sites '{}': app_host '{}' must be an IP address",
                    s.name,
                    s.app_host
                );
            }
            if s.role == SiteRole::Standalone {
                bail!(
                    "sites '{}': role must be \"primary\" or \"dr\" in a two-site topology",
                    s.name
                );
            }
            if s.role == SiteRole::Primary && s.app_ports.is_empty() {
                bail!(
                    "sites '{}': the primary needs at least one app port",
                    s.name
                );
            }
        }
        Ok(())
    }

    /// No two listeners share a port.
    fn check_ports(&self) -> anyhow::Result<()> {
        let mut ports: Vec<u16> = self
            .sites
            .iter()
            .flat_map(|s| {
                std::iter::once(s.db_port)
                    .chain(s.agent_port)
                    .chain(s.link_port)
                    .chain(s.app_ports.iter().copied())
                    .chain(s.standby_app_ports.iter().copied())
            })
            .collect();
        ports.extend([self.edge.listen.port(), self.edge.admin_listen.port()]);
        ports.extend(self.controller.listen.map(|a| a.port()));
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != ports.len() {
            bail!("ports: every database, app and edge port must be different");
        }
        Ok(())
    }

    /// Every number within its range, the edge's admin address on loopback.
    fn check_ranges(&self) -> anyhow::Result<()> {
        if !self.edge.admin_listen.ip().is_loopback() {
            bail!("edge.admin_listen must be a loopback address");
        }
        if !(1..=64).contains(&self.parallel_apply_threads) && self.parallel_apply_threads != 0 {
            bail!("parallel_apply_threads must be 0-64");
        }
        if !(1..=64).contains(&self.edge.worker_threads) {
            bail!("edge.worker_threads must be 1-64");
        }
        if !(100..=3_600_000).contains(&self.apply_lag_budget_ms) {
            bail!("apply_lag_budget_ms must be 100-3600000");
        }
        if !(50..=60_000).contains(&self.controller.probe_interval_ms) {
            bail!("controller.probe_interval_ms must be 50-60000");
        }
        if !(1..=100).contains(&self.controller.failure_threshold) {
            bail!("controller.failure_threshold must be 1-100");
        }
        if !(50..=60_000).contains(&self.controller.probe_timeout_ms) {
            bail!("controller.probe_timeout_ms must be 50-60000");
        }
        if !(10..=60_000).contains(&self.controller.recheck_interval_ms) {
            bail!("controller.recheck_interval_ms must be 10-60000");
        }
        if self.controller.failover_cooldown_secs > 86_400 {
            bail!("controller.failover_cooldown_secs must be 0-86400");
        }
        Ok(())
    }

    /// Standby instances and site agents fit how the sites are run.
    fn check_standbys(&self) -> anyhow::Result<()> {
        if let Some(quorum) = &self.quorum {
            quorum.check()?;
            if let Some(s) = self.sites.iter().find(|s| !s.standby_app_ports.is_empty()) {
                bail!(
                    "sites '{}': standby_app_ports are not used across hosts; list every instance in app_ports (each takes writes only while its site holds the primary epoch)",
                    s.name
                );
            }
            if let Some(s) = self.sites.iter().find(|s| s.agent_port.is_none()) {
                bail!(
                    "sites '{}': agent_port is needed with a [quorum]: the site agent answers its app instances there",
                    s.name
                );
            }
        }
        for s in &self.sites {
            let runs_standby = s.is_local() || s.scale_up.is_some();
            if !s.standby_app_ports.is_empty() && !runs_standby {
                bail!(
                    "sites '{}': standby_app_ports on a site srs does not run need a scale_up command",
                    s.name
                );
            }
        }
        Ok(())
    }

    /// The sync mode with its timeout.
    pub fn sync_mode(&self) -> SyncMode {
        match self.sync_mode {
            SyncModeName::Strict => SyncMode::Strict,
            SyncModeName::Bounded => SyncMode::Bounded {
                timeout_ms: self.bounded_timeout_ms,
            },
            SyncModeName::Async => SyncMode::Async,
        }
    }

    /// Whether `site`'s server runs on this machine under srs, so a
    /// signal reaches it: never in a cluster across hosts, where the
    /// leader may run on another host than the server.
    pub fn runs_here(&self, site: &Site) -> bool {
        site.is_local() && self.quorum.is_none()
    }

    /// The site that starts as primary.
    pub fn primary(&self) -> &Site {
        self.sites
            .iter()
            .find(|s| s.role == SiteRole::Primary)
            .unwrap_or(&self.sites[0])
    }

    /// The site called `name`.
    pub fn site(&self, name: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.name == name)
    }

    /// The DR site.
    pub fn dr(&self) -> &Site {
        self.sites
            .iter()
            .find(|s| s.role == SiteRole::Replica)
            .unwrap_or(&self.sites[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_file_is_valid() {
        let t: Topology = toml::from_str(DEFAULT).expect("parses");
        t.check().expect("valid");
        assert_eq!(t.primary().name, "primary");
        assert!(t.dr().app_ports.is_empty(), "pilot light by default");
        assert_eq!(t.dr().standby_app_ports.len(), 2);
        assert!(t.controller.automatic);
        assert_eq!(t.sync_mode(), SyncMode::Strict);
        assert_eq!(t.backup.schedule.every_secs, Some(86_400));
        assert!(t.backup.archive && t.backup.verify);
    }

    #[test]
    fn backup_schedules_parse_and_print_back() {
        for (text, secs) in [
            ("daily", Some(86_400)),
            ("hourly", Some(3_600)),
            ("off", None),
            ("6h", Some(21_600)),
            ("30m", Some(1_800)),
        ] {
            let s = BackupSchedule::try_from(text.to_owned()).expect(text);
            assert_eq!(s.every_secs, secs);
            assert_eq!(String::from(s), text);
        }
        for bad in ["weekly", "0m", "5s", "h", "100000h"] {
            let err = BackupSchedule::try_from(bad.to_owned()).expect_err(bad);
            assert!(err.contains("backup schedule"), "{err}");
        }
        let t: Result<Topology, _> =
            toml::from_str(&DEFAULT.replace("schedule = \"daily\"", "schedule = \"sometimes\""));
        assert!(t.is_err());
    }

    #[test]
    fn recovery_windows_read_as_people_write_them() {
        for (text, secs, shown) in [
            ("7d", 7 * 86_400, "7d"),
            ("36h", 36 * 3_600, "36h"),
            ("2w", 14 * 86_400, "14d"),
            ("0d", 0, "0d"),
            (" 30D ", 30 * 86_400, "30d"),
        ] {
            let w: RecoveryWindow = text.parse().expect(text);
            assert_eq!(w.secs, secs);
            assert_eq!(w.to_string(), shown);
        }
        for bad in [
            "7",
            "d",
            "1y",
            "-1d",
            "99999d",
            "1.5d",
            "18446744073709551615w",
        ] {
            let err = bad.parse::<RecoveryWindow>().expect_err(bad);
            assert!(err.contains("recovery window"), "{err}");
        }
        let t: Result<Topology, _> = toml::from_str(
            &DEFAULT.replace("recovery_window = \"7d\"", "recovery_window = \"a week\""),
        );
        assert!(t.is_err());
    }

    #[test]
    fn a_link_puts_every_crossing_between_sites_through_its_proxy() {
        let linked = DEFAULT
            .replace("db_port = 3407", "db_port = 3407\nlink_port = 3417")
            .replace("db_port = 3408", "db_port = 3408\nlink_port = 3418");
        let plain: Topology = toml::from_str(DEFAULT).expect("parses");
        plain.check().expect("valid");
        let far: Topology =
            toml::from_str(&format!("{linked}\n[link]\ndelay_ms = 35\n")).expect("parses");
        far.check().expect("valid");
        assert_eq!(
            plain.db_reach(&plain.sites[1]),
            ("127.0.0.1".to_owned(), 3408)
        );
        assert_eq!(far.db_reach(&far.sites[1]), ("127.0.0.1".to_owned(), 3418));
        assert_eq!(plain.probe_timeout(), std::time::Duration::from_millis(300));
        // Ten round trips of 70 ms on top of the probe's own 300 ms.
        assert_eq!(far.probe_timeout(), std::time::Duration::from_millis(1_000));
        // The template's own commented lines, uncommented as it says.
        let uncommented = DEFAULT
            .replace("# [link]\n# delay_ms = 35", "[link]\ndelay_ms = 35")
            .replace("# link_port = ", "link_port = ");
        let from_template: Topology = toml::from_str(&uncommented).expect("parses");
        from_template.check().expect("valid");
        assert_eq!(
            from_template.db_reach(&from_template.sites[1]),
            ("127.0.0.1".to_owned(), 3418)
        );
        assert_eq!(from_template.link.map(|l| l.delay_ms), Some(35));
    }

    #[test]
    fn mistakes_are_named() {
        let mut cases = vec![
            (
                DEFAULT.replace("role = \"dr\"", "role = \"primary\""),
                "exactly one",
            ),
            (DEFAULT.replace("db_port = 3408", "db_port = 3407"), "ports"),
            (
                DEFAULT.replace("sync_mode = \"strict\"", "sync_mode = \"eventual\""),
                "sync_mode",
            ),
            (
                DEFAULT.replace("127.0.0.1:8079", "0.0.0.0:8079"),
                "loopback",
            ),
            (
                DEFAULT.replace("failure_threshold = 3", "failure_threshold = 0"),
                "failure_threshold",
            ),
            (
                DEFAULT.replace("buffer_pool_mb = 128", "buffer_pool_mb = 128\ncolour = 1"),
                "colour",
            ),
            (DEFAULT.replace("[8103, 8104]", "[8103, 8101]"), "ports"),
            (
                DEFAULT.replace("probe_timeout_ms = 300", "probe_timeout_ms = 5"),
                "probe_timeout_ms",
            ),
            (
                DEFAULT.replace("automatic = true", "automatic = \"yes\""),
                "automatic",
            ),
            (
                format!("{DEFAULT}\n[quorum]\netcd = []\n"),
                "quorum.etcd: name",
            ),
            (
                format!("{DEFAULT}\n[quorum]\netcd = [\"http://a:2379\", \"http://b:2379\"]\n"),
                "cannot outvote",
            ),
            (
                format!("{DEFAULT}\n[quorum]\netcd = [\"a:2379\"]\n"),
                "must be http://HOST:PORT",
            ),
            (
                format!("{DEFAULT}\n[quorum]\netcd = [\"http://a:2379\"]\nleader_ttl_secs = 0\n"),
                "leader_ttl_secs",
            ),
            (
                format!("{DEFAULT}\n[quorum]\netcd = [\"http://a:2379\"]\ncluster = \"a/b\"\n"),
                "quorum.cluster",
            ),
        ];
        let linked = DEFAULT
            .replace("db_port = 3407", "db_port = 3407\nlink_port = 3417")
            .replace("db_port = 3408", "db_port = 3408\nlink_port = 3418");
        cases.extend([
            (format!("{DEFAULT}\n[link]\ndelay_ms = 35\n"), "set link_port"),
            (linked.clone(), "only with a [link]"),
            (format!("{linked}\n[link]\ndelay_ms = 0\n"), "link.delay_ms: 0 is out of range"),
            (
                format!("{}\n[link]\ndelay_ms = 35\n", linked.replace("link_port = 3418", "link_port = 8101")),
                "ports",
            ),
            (
                format!("{linked}\n[link]\ndelay_ms = 35\n[quorum]\netcd = [\"http://a:2379\", \"http://b:2379\", \"http://c:2379\"]\n"),
                "remove [link] or [quorum]",
            ),
        ]);
        for (text, expected) in cases {
            let err = toml::from_str::<Topology>(&text)
                .map_err(|e| e.to_string())
                .and_then(|t| t.check().map_err(|e| e.to_string()))
                .expect_err(expected);
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
