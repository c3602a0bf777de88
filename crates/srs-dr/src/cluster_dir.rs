//! The cluster directory: where a topology keeps its files. One type names
//! them all, so no code joins a file name to a bare path.

use srs_domain::SiteName;
use std::fmt;
use std::path::{Path, PathBuf};

/// A file (or folder) of the cluster directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterFile {
    /// The topology, `srs-topology.toml`.
    Topology,
    /// Generated passwords, `secrets.toml` (owner-only).
    Secrets,
    /// The controller's published state, `controller.json`.
    ControllerState,
    /// The last survey of the etcd quorum, `quorum.json`.
    QuorumSurvey,
    /// The DR event log, `events.jsonl`.
    Events,
    /// The running controller's lock, `controller.lock`.
    ControllerLock,
    /// A pending operator request, `operator-request.json`.
    OperatorRequest,
    /// The site the edge routes to, remembered, `edge-state.json`.
    EdgeState,
    /// The edge's configuration as `srs up` writes it, `edge.json`.
    EdgeConfig,
    /// The processes `srs up` runs, `up.json`.
    RunFile,
    /// The last drill's verdict, `last-drill.json`.
    LastDrill,
    /// A re-seed in progress for a site, `reseed-SITE.json`.
    Reseed(SiteName),
    /// The children's logs, `logs/`.
    Logs,
    /// The backup agent's report, `backup-state.json`.
    BackupState,
    /// The backup store `srs up` keeps, `backup-store/`.
    BackupStore,
    /// Where `srs haproxy-config` writes by default, `haproxy/`.
    Haproxy,
}

impl ClusterFile {
    /// Its name in the directory.
    pub fn name(&self) -> String {
        match self {
            ClusterFile::Topology => "srs-topology.toml".into(),
            ClusterFile::Secrets => "secrets.toml".into(),
            ClusterFile::ControllerState => "controller.json".into(),
            ClusterFile::QuorumSurvey => "quorum.json".into(),
            ClusterFile::Events => "events.jsonl".into(),
            ClusterFile::ControllerLock => "controller.lock".into(),
            ClusterFile::OperatorRequest => "operator-request.json".into(),
            ClusterFile::EdgeState => "edge-state.json".into(),
            ClusterFile::EdgeConfig => "edge.json".into(),
            ClusterFile::RunFile => "up.json".into(),
            ClusterFile::LastDrill => "last-drill.json".into(),
            ClusterFile::Reseed(site) => format!("reseed-{site}.json"),
            ClusterFile::Logs => "logs".into(),
            ClusterFile::BackupState => "backup-state.json".into(),
            ClusterFile::BackupStore => "backup-store".into(),
            ClusterFile::Haproxy => "haproxy".into(),
        }
    }
}

/// A topology's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDir {
    path: PathBuf,
}

impl ClusterDir {
    /// The directory at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where one of its files is.
    pub fn file(&self, file: ClusterFile) -> PathBuf {
        self.path.join(file.name())
    }

    /// A sibling written first and renamed over `file`, so that readers
    /// never see half of it.
    pub fn temporary(&self, file: ClusterFile) -> PathBuf {
        self.path.join(format!("{}.tmp", file.name()))
    }

    /// A site's database folder: config, data, binlogs, logs.
    pub fn site_db(&self, site: &str) -> PathBuf {
        self.path.join(site).join("db")
    }

    /// A child process's log file.
    pub fn log(&self, child: &str) -> PathBuf {
        self.file(ClusterFile::Logs).join(format!("{child}.log"))
    }

    /// Where a failback writes a site's errant transactions.
    pub fn errant_file(&self, site: &str, stamp: &str) -> PathBuf {
        self.path
            .join(format!("failback-{site}-{stamp}-errant.sql"))
    }

    /// The same directory as an absolute path (children run elsewhere).
    pub fn absolute(&self) -> std::io::Result<Self> {
        std::path::absolute(&self.path).map(Self::new)
    }
}

impl std::str::FromStr for ClusterDir {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl fmt::Display for ClusterDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_its_own_name() {
        let dir = ClusterDir::new("/c");
        let files = [
            ClusterFile::Topology,
            ClusterFile::Secrets,
            ClusterFile::ControllerState,
            ClusterFile::QuorumSurvey,
            ClusterFile::Events,
            ClusterFile::ControllerLock,
            ClusterFile::OperatorRequest,
            ClusterFile::EdgeState,
            ClusterFile::EdgeConfig,
            ClusterFile::RunFile,
            ClusterFile::LastDrill,
            ClusterFile::Reseed(SiteName::parse("dr").expect("valid")),
            ClusterFile::Logs,
            ClusterFile::BackupState,
            ClusterFile::BackupStore,
            ClusterFile::Haproxy,
        ];
        let mut names: Vec<String> = files.iter().map(ClusterFile::name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), files.len());
        assert_eq!(
            dir.file(ClusterFile::Reseed(SiteName::parse("dr").expect("valid"))),
            PathBuf::from("/c/reseed-dr.json")
        );
        assert_eq!(dir.site_db("primary"), PathBuf::from("/c/primary/db"));
    }
}
