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
        })
    }

    /// The etcd client (shared with whatever else this process asks).
    pub fn etcd(&self) -> Arc<Etcd> {
        self.etcd.clone()
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
    /// this candidate still leads.
    pub async fn record_primary(&mut self, to: &PrimaryRecord) -> anyhow::Result<()> {
        let Some(lease) = self.lease.as_ref().filter(|l| l.holds_for(self.margin)) else {
            anyhow::bail!("this controller no longer leads; the epoch was not changed");
        };
        let id = lease.id();
        if self.recorded.is_none() {
            self.primary().await?;
        }
        let revision = self.recorded.as_ref().map_or(0, |(_, rev)| *rev);
        let primary = self.keys.primary();
        let unchanged = if revision == 0 {
            Compare::Absent(primary.clone())
        } else {
            Compare::ModRevision(primary.clone(), revision)
        };
        let value = serde_json::to_vec(to)?;
        let outcome = self
            .etcd
            .txn(
                &[Compare::Lease(self.keys.leader(), id), unchanged],
                &[
                    Op::Put {
                        key: primary.clone(),
                        value,
                        lease: None,
                    },
                    Op::Get(primary.clone()),
                ],
                &[Op::Get(primary)],
            )
            .await
            .context("Failed to record the primary epoch in etcd")?;
        let now = outcome.reads.into_iter().flatten().next();
        let found = now
            .as_ref()
            .and_then(|kv| serde_json::from_slice::<PrimaryRecord>(&kv.value).ok());
        self.recorded = Some((found.clone(), now.map_or(0, |kv| kv.mod_revision)));
        if outcome.succeeded || found.as_ref() == Some(to) {
            return Ok(());
        }
        self.stop_leading("the primary epoch moved under it");
        match found {
            Some(found) => anyhow::bail!(
                "the primary epoch in etcd is {found}, not what this controller last read; it no longer leads"
            ),
            None => anyhow::bail!("this controller no longer leads; the epoch was not changed"),
        }
    }
}
