//! `srs topology split`: lays out, from one topology with a `[quorum]`, the
//! files each of the three hosts needs: a site host gets its copy of the
//! topology (its own edge address) and the shared secrets; every host with
//! an etcd member gets the member's command line. Secrets travel as files,
//! never on a command line (made here, in the source directory, if it has
//! none yet).

use crate::cluster_dir::{ClusterDir, ClusterFile};
use crate::quorum::member::{self, Member, Timing};
use crate::secrets::write_private;
use crate::topology::Topology;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The etcd members the topology's `[quorum]` names: each named after the
/// site on its host, or `witness`. A member's peer port is its client port
/// plus one (2379 and 2380 by convention).
pub fn members(topology: &Topology) -> anyhow::Result<Vec<Member>> {
    let quorum = topology
        .quorum
        .as_ref()
        .context("the topology has no [quorum]: nothing to split")?;
    let mut witnesses = 0;
    quorum
        .etcd
        .iter()
        .map(|url| {
            let parsed = reqwest::Url::parse(url)
                .with_context(|| format!("quorum.etcd: '{url}' is not a URL"))?;
            let host = parsed
                .host_str()
                .with_context(|| format!("quorum.etcd: '{url}' names no host"))?
                .to_owned();
            let client_port = parsed.port_or_known_default().unwrap_or(2379);
            let name = match topology.sites.iter().find(|s| s.app_host == host) {
                Some(site) => site.name.to_string(),
                None => {
                    witnesses += 1;
                    if witnesses == 1 {
                        "witness".to_owned()
                    } else {
                        format!("witness-{witnesses}")
                    }
                }
            };
            Ok(Member {
                name,
                host,
                client_port,
                peer_port: client_port.checked_add(1).with_context(|| {
                    format!("quorum.etcd: '{url}': no port after {client_port} for its peers")
                })?,
            })
        })
        .collect()
}

/// The topology as site `site`'s host runs it: its edge on its own address.
pub fn host_topology(topology: &Topology, site: &crate::Site) -> anyhow::Result<Topology> {
    let mut own = topology.clone();
    let ip = site
        .app_host
        .parse()
        .with_context(|| format!("sites '{}': app_host must be an IP address", site.name))?;
    own.edge.listen.set_ip(ip);
    Ok(own)
}

/// The shell line that runs `member` with its data in `data_dir`.
pub fn etcd_line(member: &Member, all: &[Member], data_dir: &Path, timing: Timing) -> String {
    let cmd = member::command(Path::new("etcd"), member, all, data_dir, timing);
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes each host's files under `out/HOST/`; the folders written.
pub fn split(data_dir: &ClusterDir, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let topology = Topology::of(data_dir)?;
    let members = members(&topology)?;
    // Generated here on first use: every site host gets the same file.
    crate::Secrets::load_or_create(data_dir)?;
    let secrets_file = data_dir.file(ClusterFile::Secrets);
    let secrets = std::fs::read_to_string(&secrets_file)
        .with_context(|| format!("Failed to read {}", secrets_file.display()))?;
    let mut written = Vec::new();
    for site in &topology.sites {
        let dir = ClusterDir::new(out.join(site.name.as_str()));
        std::fs::create_dir_all(dir.path()).with_context(|| format!("Failed to create {dir}"))?;
        let own = host_topology(&topology, site)?;
        std::fs::write(
            dir.file(ClusterFile::Topology),
            format!(
                "# Site '{}' of a cluster across hosts, written by `srs topology split`.\n\
                 # Run on this site's host: srs site --data-dir DIR --site {}\n{}",
                site.name,
                site.name,
                toml::to_string(&own)?
            ),
        )?;
        write_private(&dir.file(ClusterFile::Secrets), &secrets)?;
        written.push(dir.path().to_owned());
    }
    for m in &members {
        let dir = out.join(&m.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("Failed to create {}", dir.display()))?;
        let line = etcd_line(
            m,
            &members,
            Path::new("/var/lib/srs-etcd"),
            Timing::default(),
        );
        std::fs::write(
            dir.join("etcd.sh"),
            format!(
                "#!/bin/sh\n# etcd member '{}' of the srs quorum (Debian: apt-get install etcd-server).\n\
                 # Open {} (clients) and {} (peers) to the other two hosts.\nexec {line}\n",
                m.name, m.client_port, m.peer_port
            ),
        )?;
        if !written.contains(&dir) {
            written.push(dir);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three hosts: site a, site b, and a witness.
    pub(crate) const THREE_HOSTS: &str = r#"
sync_mode = "strict"
[edge]
listen = "0.0.0.0:8080"
admin_listen = "127.0.0.1:8079"
[quorum]
etcd = ["http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.3:2379"]
[[sites]]
name = "a"
role = "primary"
db_host = "10.0.0.1"
app_host = "10.0.0.1"
managed = true
db_port = 3306
app_ports = [8101]
agent_port = 8090
[[sites]]
name = "b"
role = "dr"
db_host = "10.0.0.2"
app_host = "10.0.0.2"
managed = true
db_port = 3307
app_ports = [8102]
agent_port = 8091
"#;

    #[test]
    fn each_host_gets_its_own_files_and_the_witness_its_etcd_line() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let src = ClusterDir::new(tmp.path().join("src"));
        std::fs::create_dir_all(src.path()).expect("dir");
        std::fs::write(src.file(ClusterFile::Topology), THREE_HOSTS).expect("topology");
        crate::Secrets::load_or_create(&src).expect("secrets");
        let out = tmp.path().join("out");
        let written = split(&src, &out).expect("split");
        let names: Vec<String> = written
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(names, ["a", "b", "witness"]);
        for (site, ip) in [("a", "10.0.0.1"), ("b", "10.0.0.2")] {
            let dir = ClusterDir::new(out.join(site));
            let own = Topology::of(&dir).expect("a host's topology loads");
            assert_eq!(own.edge.listen.ip().to_string(), ip, "{site}");
            assert_eq!(own.sites.len(), 2);
            assert!(own.quorum.is_some());
            crate::Secrets::load(&dir).expect("secrets shared by file");
            let etcd = std::fs::read_to_string(out.join(site).join("etcd.sh")).expect("etcd.sh");
            assert!(etcd.contains(&format!("--name {site}")), "{etcd}");
        }
        let witness =
            std::fs::read_to_string(out.join("witness").join("etcd.sh")).expect("etcd.sh");
        assert!(
            witness.contains("--listen-peer-urls http://10.0.0.3:2380"),
            "{witness}"
        );
        assert!(
            witness.contains(
                "a=http://10.0.0.1:2380,b=http://10.0.0.2:2380,witness=http://10.0.0.3:2380"
            ),
            "{witness}"
        );
        assert!(
            !out.join("witness").join("secrets.toml").exists(),
            "the witness holds no secret"
        );
    }

    #[test]
    fn a_topology_without_a_quorum_is_not_split() {
        let t: Topology = toml::from_str(crate::topology::DEFAULT).expect("default");
        let err = members(&t).expect_err("no quorum").to_string();
        assert!(err.contains("no [quorum]"), "{err}");
    }
}
