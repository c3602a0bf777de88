//! The etcd quorum: an election on a lease, and the primary epoch as a key
//! only the leader may change.
//!
//! The leader key lives on the candidate's lease: when the leader dies or
//! is cut off, its keep-alives stop, etcd drops the key after the TTL and
//! the next candidate's create-if-absent succeeds. A leader stops acting
//! `margin` before its own lease could have run out (counted from its last
//! keep-alive's *sending*), so by the time anyone else leads it has stopped.
//! Even a leader that overran would be refused by etcd: every change of the
//! primary key compares the leader key's lease with its own.

use super::etcd::{Compare, Etcd, Op};
use super::lease::KeptLease;
use super::{Leadership, PrimaryRecord};
use crate::topology::QuorumSection;
use anyhow::Context;
use srs_domain::SiteName;
use std::sync::Arc;
use std::time::Duration;

/// The keys of one cluster under its prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The keys of cluster `name`.
    pub fn new(name: &str) -> Self {
        Self {
            prefix: format!("/srs/{name}/"),
        }
    }

    /// The leading controller (on its lease).
    pub fn leader(&self) -> String {
        format!("{}leader", self.prefix)
    }

    /// The primary epoch (kept for good).
    pub fn primary(&self) -> String {
        format!("{}primary", self.prefix)
    }

    /// A site's agent (on the site's lease).
    pub fn site(&self, site: &SiteName) -> String {
        format!("{}sites/{site}", self.prefix)
    }
}

/// A controller candidate of a cluster kept in etcd.
#[derive(Debug)]
pub struct EtcdQuorum {
    etcd: Arc<Etcd>,
    keys: Keys,
    candidate: String,
    ttl: Duration,
    margin: Duration,
    lease: Option<KeptLease>,
    leading: bool,
    /// The primary record last read or written, with its revision (0:
    /// known to be absent).
    recorded: Option<(Option<PrimaryRecord>, i64)>,
    /// How long after its last renewal a site's write lease surely ended,
    /// counted by the leader: the sites' lease TTL and a margin.
    site_wait: Duration,
    /// A site being replaced whose database is known fenced: its lease need
    /// not have ended before the epoch moves.
    fenced: Option<SiteName>,
}

impl EtcdQuorum {
    /// A candidate named `candidate` of the cluster `section` describes.
    pub fn new(section: &QuorumSection, candidate: &str) -> anyhow::Result<Self> {
        let ttl = Duration::from_secs(section.leader_ttl_secs);
        let etcd = Etcd::new(&section.etcd, section.request_timeout())?;
        Ok(Self {
            etcd: Arc::new(etcd),
            keys: Keys::new(&section.cluster),
            candidate: candidate.to_owned(),
            ttl,
            margin: section.leader_margin(),
            lease: None,
            leading: false,
            recorded: None,
            site_wait: Duration::from_secs(section.write_lease_secs) + section.leader_margin(),
            fenced: None,
        })
    }

    /// The etcd client (shared with whatever else this process asks).
    pub fn etcd(&self) -> Arc<Etcd> {
        self.etcd.clone()
    }

    /// The cluster's keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn stop_leading(&mut self, why: &str) {
        if self.leading {
            tracing::warn!(candidate = %self.candidate, "stopped leading: {why}");
        }
        self.leading = false;
        self.recorded = None;
    }

    /// Takes or keeps the lead.
    pub async fn lead(&mut self) -> Leadership {
        if self.lease.as_ref().is_none_or(KeptLease::lost) {
            self.stop_leading("its lease was lost");
            self.lease = None;
            match KeptLease::grant(self.etcd.clone(), self.ttl).await {
                Ok(lease) => self.lease = Some(lease),
                Err(e) => {
                    tracing::debug!(error = %e, "no etcd lease: following");
                    return Leadership::Following { leader: None };
                }
            }
        }
        let Some(lease) = &self.lease else {
            return Leadership::Following { leader: None };
        };
        if !lease.holds_for(self.margin) {
            self.stop_leading("its lease could not be renewed in time");
            return Leadership::Following { leader: None };
        }
        if self.leading {
            return Leadership::Leading { newly: false };
        }
        let id = lease.id();
        let leader = self.keys.leader();
        let outcome = self
            .etcd
            .txn(
                &[Compare::Absent(leader.clone())],
                &[Op::Put {
                    key: leader.clone(),
                    value: self.candidate.as_bytes().to_vec(),
                    lease: Some(id),
                }],
                &[Op::Get(leader)],
            )
            .await;
        match outcome {
            Ok(t) if t.succeeded => {
                tracing::info!(candidate = %self.candidate, lease = %id, "took the lead");
                self.leading = true;
                Leadership::Leading { newly: true }
            }
            Ok(t) => {
                let holder = t.reads.into_iter().flatten().next();
                if holder.as_ref().and_then(|kv| kv.lease) == Some(id) {
                    // Ours already (an answer lost on the way back).
                    self.leading = true;
                    return Leadership::Leading { newly: true };
                }
                Leadership::Following {
                    leader: holder.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()),
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "campaign failed: following");
                Leadership::Following { leader: None }
            }
        }
    }

    /// Reads the primary record.
    pub async fn primary(&mut self) -> anyhow::Result<Option<PrimaryRecord>> {
        let kv = self
            .etcd
            .get(&self.keys.primary())
            .await
            .context("Failed to read the primary epoch from etcd")?;
        let record = match &kv {
            Some(kv) => Some(
                serde_json::from_slice::<PrimaryRecord>(&kv.value)
                    .context("the primary epoch in etcd is not readable")?,
            ),
            None => None,
        };
        self.recorded = Some((record.clone(), kv.map_or(0, |kv| kv.mod_revision)));
        Ok(record)
    }

    /// Moves the primary record to `to`, if it is still as last read and
    /// this candidate still leads. A new primary site is granted the lease
    /// its agent holds now; moving away from a site requires its granted
    /// lease to have ended (or its database to be fenced, see `release`).
    pub async fn record_primary(&mut self, to: &PrimaryRecord) -> anyhow::Result<()> {
        let Some(lease) = self
            .lease
            .as_ref()
            .filter(|l| self.leading && l.holds_for(self.margin))
        else {
            anyhow::bail!("this controller no longer leads; the epoch was not changed");
        };
        let id = lease.id();
        if self.recorded.is_none() {
            self.primary().await?;
        }
        let (current, revision) = self.recorded.clone().unwrap_or((None, 0));
        let primary = self.keys.primary();
        let mut conditions = vec![
            Compare::Lease(self.keys.leader(), id),
            if revision == 0 {
                Compare::Absent(primary.clone())
            } else {
                Compare::ModRevision(primary.clone(), revision)
            },
        ];
        let fenced = self.fenced.take();
        if let Some(old) = current.as_ref().filter(|c| c.site != to.site) {
            if let (Some(granted), false) = (old.lease, fenced.as_ref() == Some(&old.site)) {
                conditions.push(Compare::NotLease(self.keys.site(&old.site), granted));
            }
        }
        let mut to = to.clone();
        if to.lease.is_none() {
            to.lease = self
                .etcd
                .get(&self.keys.site(&to.site))
                .await
                .context("Failed to read the new primary site's lease from etcd")?
                .and_then(|kv| kv.lease);
        }
        let value = serde_json::to_vec(&to)?;
        let outcome = self
            .etcd
            .txn(
                &conditions,
                &[
                    Op::Put {
                        key: primary.clone(),
                        value,
                        lease: None,
                    },
                    Op::Get(primary.clone()),
                ],
                &[Op::Get(primary), Op::Get(self.keys.leader())],
            )
            .await
            .context("Failed to record the primary epoch in etcd")?;
        let mut reads = outcome.reads.into_iter();
        let now = reads.next().flatten();
        let still_leads =
            outcome.succeeded || reads.next().flatten().and_then(|kv| kv.lease) == Some(id);
        let found = now
            .as_ref()
            .and_then(|kv| serde_json::from_slice::<PrimaryRecord>(&kv.value).ok());
        self.recorded = Some((found.clone(), now.map_or(0, |kv| kv.mod_revision)));
        if outcome.succeeded || found.as_ref() == Some(&to) {
            return Ok(());
        }
        if still_leads && found.as_ref() == current.as_ref() {
            anyhow::bail!(
                "the epoch was not moved: site '{}' may still hold a write lease",
                current.map_or_else(String::new, |c| c.site.to_string())
            );
        }
        self.stop_leading("the primary epoch moved under it");
        match found {
            Some(found) => anyhow::bail!(
                "the primary epoch in etcd is {found}, not what this controller last read; it no longer leads"
            ),
            None => anyhow::bail!("this controller no longer leads; the epoch was not changed"),
        }
    }

    /// Makes sure `site`'s app instances can no longer write under the
    /// lease they were granted: nothing to do when its database is known
    /// fenced or the lease already ended; else the lease is revoked and the
    /// leader waits until every write lease handed out under it has run out.
    pub async fn release(&mut self, site: &SiteName, fenced: bool) -> anyhow::Result<String> {
        let record = self.primary().await?;
        let Some(granted) = record.filter(|r| r.site == *site).and_then(|r| r.lease) else {
            return Ok(format!("site '{site}' held no write lease"));
        };
        if fenced {
            self.fenced = Some(site.clone());
            return Ok(format!(
                "site '{site}''s database is fenced, so its write lease does not matter"
            ));
        }
        // A site cut off or gone stops renewing: its lease ends in etcd
        // within a TTL of the cut, which is sooner than a revoke-and-wait.
        let started = tokio::time::Instant::now();
        loop {
            let held = self
                .etcd
                .get(&self.keys.site(site))
                .await
                .context("Failed to read the old primary site's lease from etcd")?
                .and_then(|kv| kv.lease);
            if held != Some(granted) {
                return Ok(format!(
                    "site '{site}''s write lease ran out {:.2} s after the failover was decided",
                    started.elapsed().as_secs_f64()
                ));
            }
            if started.elapsed() >= self.site_wait {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Still renewed: its agent reaches the quorum (only its database
        // failed). The lease is ended here, and every write lease handed
        // out under it runs out a TTL later at the latest.
        self.etcd
            .revoke(granted)
            .await
            .context("Failed to revoke the old primary site's lease")?;
        tokio::time::sleep(self.site_wait).await;
        Ok(format!(
            "site '{site}''s agent still renewed its lease: revoked, then waited {:.2} s for its write leases to run out",
            self.site_wait.as_secs_f64()
        ))
    }

    /// Grants writes to the primary site's agent's current lease when it
    /// differs from the granted one (it lost the old lease and took a new
    /// one: it waits for the leader's word under the current epoch).
    pub async fn regrant(&mut self, primary: &SiteName) -> anyhow::Result<Option<String>> {
        let read = self
            .etcd
            .txn(
                &[],
                &[
                    Op::Get(self.keys.primary()),
                    Op::Get(self.keys.site(primary)),
                ],
                &[],
            )
            .await
            .context("Failed to read the primary site's lease from etcd")?;
        let mut reads = read.reads.into_iter();
        let (record_kv, site_kv) = (reads.next().flatten(), reads.next().flatten());
        let record = match &record_kv {
            Some(kv) => serde_json::from_slice::<PrimaryRecord>(&kv.value)
                .context("the primary epoch in etcd is not readable")?,
            None => return Ok(None),
        };
        self.recorded = Some((
            Some(record.clone()),
            record_kv.map_or(0, |kv| kv.mod_revision),
        ));
        let held = site_kv.and_then(|kv| kv.lease);
        if record.site != *primary || held.is_none() || held == record.lease {
            return Ok(None);
        }
        let granted = PrimaryRecord {
            lease: held,
            ..record.clone()
        };
        self.record_primary(&granted).await?;
        Ok(Some(format!(
            "site '{primary}''s agent holds a new lease: writes granted to it again in epoch {}",
            record.epoch
        )))
    }
}
