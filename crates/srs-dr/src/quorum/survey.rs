//! What operators see of the quorum: each etcd member as it answers for
//! itself, and each site's lease as the quorum holds it. A controller
//! candidate takes a survey in the background (a member that does not
//! answer costs a timeout, which must never delay a failover) and
//! publishes the last one for `srs status`, `/admin/dr` and `/metrics`.

use super::elected::Keys;
use super::etcd::{Etcd, Op};
use super::PrimaryRecord;
use serde::{Deserialize, Serialize};
use srs_domain::SiteName;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One etcd member, as it answered for itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberState {
    /// Its client URL.
    pub endpoint: String,
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
                format!("{} {state}", m.endpoint)
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
}

/// The last survey, shared with whoever publishes it.
pub type LastSurvey = Arc<Mutex<Option<Survey>>>;

impl Surveyor {
    /// A surveyor of the cluster whose keys are `keys`, with `sites`.
    pub fn new(etcd: Arc<Etcd>, keys: Keys, sites: Vec<SiteName>) -> Self {
        Self { etcd, keys, sites }
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
            .map(|(endpoint, answer)| {
                let status = answer.as_ref().ok();
                MemberState {
                    endpoint: endpoint.as_str().trim_end_matches('/').to_owned(),
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
            at: crate::published::now_text(),
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

    /// Surveys every `every` in a task of its own until the returned
    /// handle is dropped or aborted.
    pub fn spawn(self, every: Duration) -> (LastSurvey, tokio::task::JoinHandle<()>) {
        let last = LastSurvey::default();
        let into = last.clone();
        let task = tokio::spawn(async move {
            loop {
                let survey = self.survey().await;
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
        );

        let before = surveyor.survey().await;
        assert_eq!(before.members_up(), (1, 2), "{before:?}");
        assert!(before.members[0].raft_leader && before.members[0].has_leader);
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
