//! What operators see of the quorum: each etcd member as it answers for
//! itself, and each site's lease as the quorum holds it. A controller
//! candidate takes a survey in the background (a member that does not
//! answer costs a timeout, which must never delay a failover) and
//! publishes the last one for `srs status`, `/admin/dr` and `/metrics`.
//!
//! The leading candidate also keeps etcd's raft leader on the witness
//! while every member is healthy. A raft leader lost with a site's host
//! costs an election, and etcd's new leader extends every lease by its
//! TTL, so the lost site's lease (which the failover waits for) would end
//! a whole lease later than it must: measured, about 1 s more RTO in the
//! runs where etcd's leader sat on the failed host.

use super::elected::Keys;
use super::etcd::{Etcd, Op};
use super::PrimaryRecord;
use crate::cluster_dir::{ClusterDir, ClusterFile};
use serde::{Deserialize, Serialize};
use srs_domain::SiteName;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the leader waits between attempts to move etcd's raft leader.
const STEER_PAUSE: Duration = Duration::from_secs(30);

/// One etcd member, as it answered for itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberState {
    /// Its client URL.
    pub endpoint: String,
    /// Its id in etcd (0: it did not answer).
    #[serde(default)]
    pub id: u64,
    /// It runs on no site's host: the witness.
    #[serde(default)]
    pub witness: bool,
    /// It answered.
    pub up: bool,
    /// It is the raft leader of the members.
    pub raft_leader: bool,
    /// It follows a raft leader (false: it is cut off, or no leader is
    /// elected).
    pub has_leader: bool,
}

/// One site's standing in the quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteLeaseState {
    /// The site.
    pub site: SiteName,
    /// Its agent's lease lives in etcd (it reaches the quorum).
    pub holds_lease: bool,
    /// The primary record grants writes to that lease.
    pub may_write: bool,
}

/// The quorum at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    /// When (RFC 3339).
    pub at: String,
    /// Every member, in the topology's order.
    pub members: Vec<MemberState>,
    /// Every site; empty when the keys could not be read (no quorum
    /// reachable from here).
    pub sites: Vec<SiteLeaseState>,
    /// The primary record, as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<PrimaryRecord>,
}

impl Survey {
    /// The last survey written in `data_dir`, if any.
    pub fn read(data_dir: &ClusterDir) -> Option<Self> {
        let text = std::fs::read_to_string(data_dir.file(ClusterFile::QuorumSurvey)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes it whole or not at all (a reader never sees half a file).
    pub fn write(&self, data_dir: &ClusterDir) -> anyhow::Result<()> {
        let tmp = data_dir.temporary(ClusterFile::QuorumSurvey);
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(&tmp, data_dir.file(ClusterFile::QuorumSurvey))?;
        Ok(())
    }

    /// Seconds since it was taken (None: its time is unreadable).
    pub fn age_secs(&self) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(&self.at)
            .ok()
            .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
    }

    /// Members that answered and follow a leader, of all members.
    pub fn members_up(&self) -> (usize, usize) {
        let up = self.members.iter().filter(|m| m.up && m.has_leader).count();
        (up, self.members.len())
    }

    /// The survey in one line for people.
    pub fn summary(&self) -> String {
        let (up, all) = self.members_up();
        let members: Vec<String> = self
            .members
            .iter()
            .map(|m| {
                let state = match (m.up, m.has_leader, m.raft_leader) {
                    (false, _, _) => "DOWN or unreachable",
                    (true, false, _) => "up, NO LEADER",
                    (true, true, true) => "up, raft leader",
                    (true, true, false) => "up",
                };
                let witness = if m.witness { " (witness)" } else { "" };
                format!("{}{witness} {state}", m.endpoint)
            })
            .collect();
        let sites = if self.sites.is_empty() {
            "site leases unknown (the quorum could not be read from here)".to_owned()
        } else {
            self.sites
                .iter()
                .map(|s| format!("site '{}' {}", s.site, s.words()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("{up}/{all} members up ({}); {sites}", members.join(", "))
    }
}

impl SiteLeaseState {
    /// Its standing in words.
    pub fn words(&self) -> &'static str {
        match (self.holds_lease, self.may_write) {
            (true, true) => "holds its lease and may write",
            (true, false) => "holds its lease",
            (false, _) => "holds NO LEASE",
        }
    }
}

/// Takes surveys of one cluster's quorum.
#[derive(Debug, Clone)]
pub struct Surveyor {
    etcd: Arc<Etcd>,
    keys: Keys,
    sites: Vec<SiteName>,
    /// Whether each endpoint, in order, is a witness's.
    witnesses: Vec<bool>,
}

/// The last survey, shared with whoever publishes it.
pub type LastSurvey = Arc<Mutex<Option<Survey>>>;

impl Surveyor {
    /// A surveyor of the cluster whose keys are `keys`, with `sites`
    /// whose hosts are `site_hosts` (every other member is a witness).
    pub fn new(etcd: Arc<Etcd>, keys: Keys, sites: Vec<SiteName>, site_hosts: &[String]) -> Self {
        let witnesses = etcd
            .endpoints()
            .iter()
            .map(|e| {
                e.host_str()
                    .is_some_and(|h| !site_hosts.iter().any(|s| s == h))
            })
            .collect();
        Self {
            etcd,
            keys,
            sites,
            witnesses,
        }
    }

    /// Asks every member at once, then reads the site keys and the
    /// primary record in one transaction.
    pub async fn survey(&self) -> Survey {
        let asks = (0..self.etcd.endpoints().len()).map(|at| self.etcd.member_status(at));
        let answers = futures::future::join_all(asks).await;
        let ids: Vec<u64> = answers.iter().flatten().map(|s| s.id).collect();
        let members = self
            .etcd
            .endpoints()
            .iter()
            .zip(&answers)
            .zip(&self.witnesses)
            .map(|((endpoint, answer), witness)| {
                let status = answer.as_ref().ok();
                MemberState {
                    endpoint: endpoint.as_str().trim_end_matches('/').to_owned(),
                    id: status.map_or(0, |s| s.id),
                    witness: *witness,
                    up: status.is_some(),
                    raft_leader: status.is_some_and(|s| s.leader != 0 && s.leader == s.id),
                    // A member cut off keeps naming its old leader for a
                    // while; it counts only when that leader names itself.
                    has_leader: status.is_some_and(|s| s.leader != 0 && ids.contains(&s.leader)),
                }
            })
            .collect();
        let (sites, primary) = self.leases().await.unwrap_or_default();
        Survey {
            at: crate::controller::published::now_text(),
            members,
            sites,
            primary,
        }
    }

    async fn leases(&self) -> Option<(Vec<SiteLeaseState>, Option<PrimaryRecord>)> {
        let mut reads = vec![Op::Get(self.keys.primary())];
        reads.extend(self.sites.iter().map(|s| Op::Get(self.keys.site(s))));
        let outcome = self.etcd.txn(&[], &reads, &[]).await.ok()?;
        let mut found = outcome.reads.into_iter();
        let primary = found
            .next()
            .flatten()
            .and_then(|kv| serde_json::from_slice::<PrimaryRecord>(&kv.value).ok());
        let sites = self
            .sites
            .iter()
            .zip(found)
            .map(|(site, kv)| {
                let lease = kv.and_then(|kv| kv.lease);
                SiteLeaseState {
                    site: site.clone(),
                    holds_lease: lease.is_some(),
                    may_write: lease.is_some()
                        && primary
                            .as_ref()
                            .is_some_and(|p| p.site == *site && p.lease == lease),
                }
            })
            .collect();
        Some((sites, primary))
    }

    /// Moves etcd's raft leader to the witness when every member is up
    /// and follows a leader on a site's host; says what it did (None:
    /// nothing to do).
    pub async fn steer(&self, survey: &Survey) -> Option<Result<String, String>> {
        let all_up = survey.members.iter().all(|m| m.up && m.has_leader);
        let at = survey.members.iter().position(|m| m.raft_leader)?;
        let leader = &survey.members[at];
        let witness = survey.members.iter().find(|m| m.witness)?;
        if !all_up || leader.witness {
            return None;
        }
        let what = format!(
            "etcd's raft leader moved from {} to the witness {}: losing a site's host then costs no etcd election",
            leader.endpoint, witness.endpoint
        );
        Some(match self.etcd.move_leader(at, witness.id).await {
            Ok(()) => Ok(what),
            Err(e) => Err(format!("{what}: {e}")),
        })
    }

    /// Surveys every `every` in a task of its own, writing each survey to
    /// `data_dir` and keeping the last in memory, until the returned handle
    /// is dropped or aborted; while `leading` holds, keeps etcd's raft
    /// leader on the witness, each move an event.
    pub fn spawn(
        self,
        every: Duration,
        leading: Arc<std::sync::atomic::AtomicBool>,
        data_dir: ClusterDir,
    ) -> (LastSurvey, tokio::task::JoinHandle<()>) {
        let last = LastSurvey::default();
        let into = last.clone();
        let events = crate::controller::published::EventLog::new(&data_dir);
        let task = tokio::spawn(async move {
            let mut steered: Option<std::time::Instant> = None;
            loop {
                let survey = self.survey().await;
                let may_steer = leading.load(std::sync::atomic::Ordering::Relaxed)
                    && steered.is_none_or(|at| at.elapsed() >= STEER_PAUSE);
                if may_steer {
                    if let Some(outcome) = self.steer(&survey).await {
                        steered = Some(std::time::Instant::now());
                        let epoch = survey.primary.as_ref().map_or(0, |p| p.epoch);
                        match outcome {
                            Ok(what) => events.record(
                                epoch,
                                crate::controller::published::EventKind::QuorumSteered,
                                &what,
                                None,
                            ),
                            Err(failed) => tracing::warn!("{failed}"),
                        }
                    }
                }
                if let Err(e) = survey.write(&data_dir) {
                    tracing::warn!(error = %format!("{e:#}"), "could not write the quorum survey");
                }
                *into.lock().unwrap_or_else(|e| e.into_inner()) = Some(survey);
                tokio::time::sleep(every).await;
            }
        });
        (last, task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::member::LocalEtcd;
    use crate::quorum::site_lease::SiteLease;
    use crate::quorum::{EtcdQuorum, Leadership};
    use crate::topology::QuorumSection;

    fn name(n: &str) -> SiteName {
        SiteName::parse(n).expect("valid")
    }

    #[tokio::test]
    async fn a_survey_names_dead_members_and_each_sites_lease() {
        let etcd = LocalEtcd::start().await.expect("etcd starts");
        // The second member is a port nothing listens on: a member down.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            format!("http://{}", l.local_addr().expect("addr"))
        };
        let section = QuorumSection {
            etcd: vec![etcd.url().to_owned(), dead.clone()],
            cluster: "survey".into(),
            leader_ttl_secs: 2,
            write_lease_secs: 1,
        };
        let surveyor = Surveyor::new(
            Arc::new(Etcd::new(&section.etcd, section.request_timeout()).expect("client")),
            Keys::new(&section.cluster),
            vec![name("a"), name("b")],
            &["127.0.0.1".to_owned()],
        );

        let before = surveyor.survey().await;
        assert_eq!(before.members_up(), (1, 2), "{before:?}");
        assert!(before.members[0].raft_leader && before.members[0].has_leader);
        assert!(before.members[0].id != 0 && !before.members[0].witness);
        assert!(
            surveyor.steer(&before).await.is_none(),
            "no move while a member is down"
        );
        assert_eq!(before.members[1].endpoint, dead);
        assert!(!before.members[1].up);
        assert!(before.sites.iter().all(|s| !s.holds_lease && !s.may_write));
        assert!(
            before.summary().contains("DOWN or unreachable"),
            "{}",
            before.summary()
        );

        // Site a's agent takes its lease; the leader grants it writes.
        let mut agent = SiteLease::new(&section, &name("a")).expect("lease");
        agent.check().await;
        let mut leader = EtcdQuorum::new(&section, "leader").expect("quorum");
        assert_eq!(leader.lead().await, Leadership::Leading { newly: true });
        leader
            .record_primary(&PrimaryRecord::new(name("a"), 1))
            .await
            .expect("recorded");
        leader.regrant(&name("a")).await.expect("granted");

        let after = surveyor.survey().await;
        let a = &after.sites[0];
        assert!(a.holds_lease && a.may_write, "{after:?}");
        let b = &after.sites[1];
        assert!(!b.holds_lease && !b.may_write, "{after:?}");
        assert_eq!(after.primary.as_ref().map(|p| p.epoch), Some(1));
        assert!(
            after
                .summary()
                .contains("site 'a' holds its lease and may write, site 'b' holds NO LEASE"),
            "{}",
            after.summary()
        );
    }
}
