//! Settings from flags, `SRS_*` environment variables and an optional TOML
//! file, in that order of precedence, checked before anything starts.

use anyhow::{bail, Context};
use clap::Args;
use secrecy::SecretString;
use serde::Deserialize;
use srs_web::{LogFormat, Settings, SiteName, SiteRole, TlsFiles};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The default SQLite database, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:./srs-data/srs.db";

/// Where to find the database.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Database: sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE
    /// [default: sqlite:./srs-data/srs.db]
    #[arg(long, env = "SRS_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Optional TOML file with settings; flags and SRS_* variables win over it.
    #[arg(long, env = "SRS_CONFIG")]
    config: Option<PathBuf>,
    /// A cluster started by `srs up`: act on its active site's database
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// The database URL of the active site of the cluster in `dir`.
fn cluster_url(dir: &Path) -> anyhow::Result<String> {
    let cluster = srs_dr::Cluster::open(&srs_dr::ClusterDir::new(dir))?;
    Ok(cluster.app_url(&cluster.primary()))
}

/// `srs serve` settings. Each may also come from the config file under the
/// same name with underscores (e.g. `site_name = "primary"`).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "SRS_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    store: StoreArgs,
    /// Name of this site, shown on every page [default: local]
    #[arg(long, env = "SRS_SITE_NAME")]
    site_name: Option<String>,
    /// Role of this site: primary, replica or standalone [default: standalone]
    #[arg(long, env = "SRS_SITE_ROLE")]
    site_role: Option<SiteRole>,
    /// Log format: text or json [default: text]
    #[arg(long, env = "SRS_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Most database connections, 1-1000 [default: 16 on MariaDB/MySQL; 4 readers (plus the one writer) on SQLite]
    #[arg(long, env = "SRS_MAX_CONNECTIONS")]
    max_connections: Option<u32>,
    /// Largest JSON or form body in bytes, 1024 to 10485760 [default: 65536]
    #[arg(long, env = "SRS_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Largest CSV upload in bytes, 1024 to 268435456 [default: 16777216]
    #[arg(long, env = "SRS_MAX_IMPORT_BYTES")]
    max_import_bytes: Option<usize>,
    /// Seconds to let requests in flight finish at shutdown, 0-600 [default: 10]
    #[arg(long, env = "SRS_SHUTDOWN_GRACE_SECS")]
    shutdown_grace_secs: Option<u64>,
    /// PEM certificate chain; with --tls-key, serve HTTPS and mark cookies Secure
    #[arg(long, env = "SRS_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert
    #[arg(long, env = "SRS_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The data directory of the `srs up` cluster this instance belongs to, for /admin/dr
    #[arg(long, value_name = "DIR")]
    pub cluster_dir: Option<PathBuf>,
    /// Proxy addresses (e.g. the edge's) whose X-Forwarded-For is believed; comma-separated [default: none]
    #[arg(
        long = "trusted-proxy",
        env = "SRS_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Seconds a write may wait (e.g. for the DR replica) before 503, 1-600 [default: 10]
    #[arg(long, env = "SRS_WRITE_TIMEOUT_SECS")]
    write_timeout_secs: Option<u64>,
    /// The DR controller's /admission URL: how many writes to run at once while its replica catches up [default: none]
    #[arg(long, env = "SRS_ADMISSION_URL", value_name = "URL")]
    admission_url: Option<String>,
    /// Take writes only under a write lease from the admission URL (its site agent, in a cluster across hosts); without a current one writes are refused
    #[arg(long, env = "SRS_WRITE_LEASE")]
    write_lease: bool,
    /// Minutes of inactivity that end a session, 1-1440 [default: 30]
    #[arg(long, env = "SRS_SESSION_IDLE_MINUTES")]
    session_idle_minutes: Option<i64>,
    /// Hours after sign-in that end a session, 1-168 [default: 12]
    #[arg(long, env = "SRS_SESSION_LIFETIME_HOURS")]
    session_lifetime_hours: Option<i64>,
}

/// The config file's keys; an unknown key is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    site_name: Option<String>,
    site_role: Option<String>,
    log_format: Option<String>,
    max_connections: Option<u32>,
    max_body_bytes: Option<usize>,
    max_import_bytes: Option<usize>,
    shutdown_grace_secs: Option<u64>,
    session_idle_minutes: Option<i64>,
    session_lifetime_hours: Option<i64>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    write_timeout_secs: Option<u64>,
    admission_url: Option<String>,
    write_lease: Option<bool>,
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("Invalid config file {}", path.display()))
}

/// Parses a value from the config file, naming the key when it is wrong.
fn from_file<T: std::str::FromStr>(
    key: &str,
    value: Option<String>,
    path: Option<&Path>,
) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    value
        .map(|v| {
            v.parse::<T>().map_err(|e| {
                anyhow::anyhow!(
                    "config file {}: {key}: {e}",
                    path.map(|p| p.display().to_string()).unwrap_or_default()
                )
            })
        })
        .transpose()
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    value: T,
    min: T,
    max: T,
) -> anyhow::Result<T> {
    if value < min || value > max {
        bail!("{name} must be between {min} and {max} (got {value})");
    }
    Ok(value)
}

/// Settings `srs serve` runs with, plus how to log.
pub struct Resolved {
    pub settings: Settings,
    pub log_format: LogFormat,
    pub cluster_dir: Option<PathBuf>,
    /// Where the write admission limit comes from.
    pub admission_url: Option<reqwest::Url>,
}

/// Merges flags, environment, file and defaults, and checks every value.
pub fn resolve_serve(args: ServeArgs) -> anyhow::Result<Resolved> {
    let path = args.store.config.as_deref();
    let file = read_file(path)?;
    let listen = match args.listen {
        Some(l) => l,
        None => from_file::<SocketAddr>("listen", file.listen.clone(), path)?
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
    };
    let database_url = database_url(&args.store, file.database_url.clone())?;
    let numbers = Numbers::resolve(&args, &file, database_url.starts_with("sqlite:"))?;
    let site_name = SiteName::parse(
        &args
            .site_name
            .or(file.site_name)
            .unwrap_or_else(|| "local".into()),
    )
    .map_err(|e| anyhow::anyhow!("--site-name: {e}"))?;
    let site_role = match args.site_role {
        Some(r) => r,
        None => from_file::<SiteRole>("site_role", file.site_role, path)?
            .unwrap_or(SiteRole::Standalone),
    };
    let log_format = match args.log_format {
        Some(f) => f,
        None => from_file::<LogFormat>("log_format", file.log_format, path)?.unwrap_or_default(),
    };
    let tls = tls_files(
        args.tls_cert.or(file.tls_cert),
        args.tls_key.or(file.tls_key),
    )?;
    let admission_url = admission_url(args.admission_url.or(file.admission_url))?;
    let write_lease = args.write_lease || file.write_lease.unwrap_or(false);
    if write_lease && admission_url.is_none() {
        bail!("write_lease needs admission_url: the lease comes from the site agent's /admission");
    }
    Ok(Resolved {
        settings: Settings {
            listen,
            database_url: SecretString::from(database_url),
            max_connections: numbers.max_connections,
            site_name,
            site_role,
            max_body_bytes: numbers.max_body_bytes,
            max_import_bytes: numbers.max_import_bytes,
            shutdown_grace_secs: numbers.shutdown_grace_secs,
            session_idle: chrono::Duration::minutes(numbers.session_idle_minutes),
            session_lifetime: chrono::Duration::hours(numbers.session_lifetime_hours),
            secure_cookies: tls.is_some(),
            tls,
            write_timeout: std::time::Duration::from_secs(numbers.write_timeout_secs),
            trusted_proxies: args.trusted_proxies,
            write_lease,
        },
        log_format,
        cluster_dir: args.cluster_dir,
        admission_url,
    })
}

/// The numeric settings, each from the flags, the file or its default.
struct Numbers {
    max_connections: u32,
    max_body_bytes: usize,
    max_import_bytes: usize,
    shutdown_grace_secs: u64,
    session_idle_minutes: i64,
    session_lifetime_hours: i64,
    write_timeout_secs: u64,
}

impl Numbers {
    fn resolve(args: &ServeArgs, file: &FileConfig, sqlite: bool) -> anyhow::Result<Self> {
        // SQLite reads are in-process: a few readers keep 2 cores busy, and
        // each more is a thread with its own page cache.
        let default_connections = if sqlite { 4 } else { 16 };
        let max_connections = bounded(
            "max_connections",
            args.max_connections.or(file.max_connections),
            default_connections,
            1..=1000,
        )?;
        let max_body_bytes = bounded(
            "max_body_bytes",
            args.max_body_bytes.or(file.max_body_bytes),
            64 * 1024,
            1024..=10 * 1024 * 1024,
        )?;
        let max_import_bytes = bounded(
            "max_import_bytes",
            args.max_import_bytes.or(file.max_import_bytes),
            16 * 1024 * 1024,
            1024..=256 * 1024 * 1024,
        )?;
        let shutdown_grace_secs = bounded(
            "shutdown_grace_secs",
            args.shutdown_grace_secs.or(file.shutdown_grace_secs),
            10,
            0..=600,
        )?;
        let session_idle_minutes = bounded(
            "session_idle_minutes",
            args.session_idle_minutes.or(file.session_idle_minutes),
            30,
            1..=1440,
        )?;
        let session_lifetime_hours = bounded(
            "session_lifetime_hours",
            args.session_lifetime_hours.or(file.session_lifetime_hours),
            12,
            1..=168,
        )?;
        let write_timeout_secs = bounded(
            "write_timeout_secs",
            args.write_timeout_secs.or(file.write_timeout_secs),
            10,
            1..=600,
        )?;
        Ok(Self {
            max_connections,
            max_body_bytes,
            max_import_bytes,
            shutdown_grace_secs,
            session_idle_minutes,
            session_lifetime_hours,
            write_timeout_secs,
        })
    }
}

/// A number from the flags (or environment), else its default, checked
/// against its range.
fn bounded<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    given: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> anyhow::Result<T> {
    in_range(name, given.unwrap_or(default), *range.start(), *range.end())
}

/// The database URL: the flag's, the cluster's active site's, the file's,
/// or the default, in that order; checked for a known scheme.
fn database_url(args: &StoreArgs, from_file: Option<String>) -> anyhow::Result<String> {
    let url = match (&args.database_url, &args.data_dir) {
        (Some(url), _) => url.clone(),
        (None, Some(dir)) => cluster_url(dir)?,
        (None, None) => from_file.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
    };
    check_database_url(&url)?;
    Ok(url)
}

/// HTTPS files: both or neither, each a readable file.
fn tls_files(cert: Option<PathBuf>, key: Option<PathBuf>) -> anyhow::Result<Option<TlsFiles>> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            for (name, path) in [("tls_cert", &cert), ("tls_key", &key)] {
                if !path.is_file() {
                    bail!("{name}: {} is not a readable file", path.display());
                }
            }
            Ok(Some(TlsFiles { cert, key }))
        }
        _ => bail!("tls_cert and tls_key must be given together"),
    }
}

/// The admission URL, when given: http or https only.
fn admission_url(given: Option<String>) -> anyhow::Result<Option<reqwest::Url>> {
    given
        .map(|u| {
            reqwest::Url::parse(&u)
                .ok()
                .filter(|url| url.scheme() == "http" || url.scheme() == "https")
                .with_context(|| format!("admission_url '{u}' must be an http:// or https:// URL"))
        })
        .transpose()
}

/// The database URL for operator commands.
pub fn resolve_store(args: StoreArgs) -> anyhow::Result<SecretString> {
    let file = read_file(args.config.as_deref())?;
    Ok(SecretString::from(database_url(&args, file.database_url)?))
}

impl StoreArgs {
    /// A database named by a URL or a cluster directory (or the default).
    pub fn with(database_url: Option<String>, data_dir: Option<PathBuf>) -> Self {
        Self {
            database_url,
            config: None,
            data_dir,
        }
    }

    /// The cluster directory, when given.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }
}

pub use srs_backup::db_url::redacted;

/// The binlog archive's source for a server URL (no database needed).
pub fn archive_server(url: &str) -> anyhow::Result<srs_backup::archive::ArchiveSource> {
    let rest = url
        .strip_prefix("mysql://")
        .or_else(|| url.strip_prefix("mariadb://"))
        .context("--server: use mysql://USER:PASSWORD@HOST:PORT")?;
    let (userinfo, hostport) = rest
        .rsplit_once('@')
        .context("--server: name the account, mysql://USER:PASSWORD@HOST:PORT")?;
    let hostport = hostport.split('/').next().unwrap_or_default();
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "3306"));
    let port: u16 = port
        .parse()
        .map_err(|_| anyhow::anyhow!("--server: '{port}' is not a port"))?;
    let user = userinfo.split(':').next().unwrap_or_default().to_owned();
    Ok(srs_backup::archive::ArchiveSource {
        host: host.to_owned(),
        port,
        user,
        password: srs_backup::pitr::password_of(url),
        label: "server".into(),
    })
}

/// Where `srs restore --into` writes: a database URL as given, or, with
/// `--data-dir`, a bare database name on the cluster's current primary
/// (as root, so that it may create the database), e.g. `srs_restored`.
pub fn restore_target(into: &str, data_dir: Option<&Path>) -> anyhow::Result<String> {
    if into.contains(':') {
        return Ok(into.to_owned());
    }
    let well_formed = !into.is_empty()
        && into.len() <= 64
        && into.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        bail!("--into '{into}': give a database URL (sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE), or with --data-dir a database name of letters, digits and _");
    }
    let Some(dir) = data_dir else {
        bail!("--into {into}: a bare database name needs --data-dir (the cluster whose primary it goes to); otherwise give a URL such as sqlite:./restored.db");
    };
    let cluster = srs_dr::Cluster::open(&srs_dr::ClusterDir::new(dir))?;
    let primary = cluster.root_source(&cluster.primary());
    let encode = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    Ok(format!(
        "mysql://{}:{}@{}:{}/{into}",
        encode(&primary.user),
        encode(&primary.password),
        primary.host,
        primary.port
    ))
}

/// Where `srs backup create` reads from, and how to name it: in a
/// cluster, the DR site's replica when it answers (so the primary does no
/// extra work), else the primary; otherwise the database the flags name.
pub async fn resolve_backup_source(args: StoreArgs) -> anyhow::Result<(SecretString, String)> {
    let Some(dir) = args.data_dir.clone() else {
        let url = resolve_store(args)?;
        let label = redacted(secrecy::ExposeSecret::expose_secret(&url));
        return Ok((url, label));
    };
    if args.database_url.is_some() {
        bail!("give either --database-url or --data-dir, not both");
    }
    let source = srs_dr::Cluster::open(&srs_dr::ClusterDir::new(&dir))?
        .backup_source()
        .await;
    Ok((source.url, source.label))
}

/// Refuses unknown schemes before anything is created; never echoes the
/// URL itself, which may hold a password.
fn check_database_url(url: &str) -> anyhow::Result<()> {
    let ok =
        url.starts_with("sqlite:") || url.starts_with("mysql://") || url.starts_with("mariadb://");
    if !ok {
        let scheme = url.split(':').next().unwrap_or_default();
        bail!("--database-url: unsupported scheme '{scheme}'; use sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE");
    }
    Ok(())
}

/// Parses an age such as `30d`, `12h`, `90m` or `45s`.
pub fn parse_age(raw: &str) -> Result<chrono::Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: i64 = digits.parse().map_err(|_| {
        format!("'{raw}' is not an age: write a number and a unit, e.g. 30d, 12h, 90m")
    })?;
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("'{raw}' has an unknown unit: use d, h, m or s")),
    };
    if n > 100 * 365 {
        return Err(format!("'{raw}' is too long an age"));
    }
    Ok(chrono::Duration::seconds(n * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_targets_are_urls_or_plain_names_with_a_cluster() {
        assert_eq!(
            restore_target("sqlite:./r.db", None).expect("url"),
            "sqlite:./r.db"
        );
        let err = restore_target("srs_restored", None).expect_err("no cluster");
        assert!(err.to_string().contains("needs --data-dir"), "{err}");
        let err = restore_target("srs;drop", None).expect_err("bad name");
        assert!(err.to_string().contains("letters, digits and _"), "{err}");
        let err = restore_target("", None).expect_err("empty");
        assert!(err.to_string().contains("database URL"), "{err}");
    }

    #[test]
    fn ages_parse_with_units() {
        assert_eq!(parse_age("30d"), Ok(chrono::Duration::days(30)));
        assert_eq!(parse_age("12h"), Ok(chrono::Duration::hours(12)));
        assert_eq!(parse_age("0s"), Ok(chrono::Duration::zero()));
        for bad in ["", "d", "30", "30y", "-1d", "1.5d"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_database_schemes_are_refused() {
        assert!(check_database_url("postgres://x").is_err());
        assert!(check_database_url("./file.db").is_err());
        assert!(check_database_url("sqlite:./x.db").is_ok());
    }
}
