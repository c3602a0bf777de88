//! A site's hold on the quorum, as its agent keeps it: an etcd lease with
//! the site's key on it, and the primary record read back each round.
//!
//! The site may take writes while the record names it *and* the lease the
//! leader granted is the one its agent still holds, and only until that
//! lease surely lives (`KeptLease::valid_until`, counted from the sending
//! of the last renewal). The leader moves the epoch away from a site only
//! once that lease has ended in etcd (it expired, or the leader revoked it
//! and waited a full TTL), so a site's writes have stopped before another
//! site's start, whatever the network did in between.

use super::elected::Keys;
use super::etcd::{Compare, Etcd, Op};
use super::lease::KeptLease;
use super::PrimaryRecord;
use crate::topology::QuorumSection;
use srs_domain::SiteName;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Taken off the end of a write lease handed to app instances: they stop a
/// little before the lease could end in etcd.
const GRANT_MARGIN: Duration = Duration::from_millis(100);

/// What one round found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteStanding {
    /// The primary as last read (None: nothing recorded, or never read).
    pub primary: Option<PrimaryRecord>,
    /// Until when this site's app instances may take writes (None: not).
    pub writes_until: Option<Instant>,
    /// Until when the site's lease surely lives (None: it holds none).
    pub lease_until: Option<Instant>,
    /// Whether this round reached the quorum at all.
    pub reached: bool,
    /// This round found the lease it held ran out (the site went a whole
    /// lease without renewing it: paused, or cut off and back) and took a
    /// new one.
    pub lost_a_lease: bool,
}

impl SiteStanding {
    /// Whether the site's lease lives now (it reaches the quorum).
    pub fn holds_lease(&self) -> bool {
        self.lease_until.is_some_and(|until| Instant::now() < until)
    }

    /// Whether its app instances may take writes now.
    pub fn may_write(&self) -> bool {
        self.writes_until
            .is_some_and(|until| Instant::now() < until)
    }
}

/// Writes granted to a site, kept current by its lease's renewals between
/// the agent's rounds: an app instance asking just after a renewal gets the
/// whole lease, not what was left at the last round. A grant never
/// outlives its lease, and the leader moves the epoch away only after the
/// lease ended in etcd, so following renewals is as safe as the round.
#[derive(Debug, Clone)]
pub struct LiveGrant(tokio::sync::watch::Receiver<Option<Instant>>);

impl LiveGrant {
    /// Until when the site's app instances may take writes (None: not now).
    pub fn writes_until(&self) -> Option<Instant> {
        let until = (*self.0.borrow())?;
        Some(until.checked_sub(GRANT_MARGIN).unwrap_or(until)).filter(|u| *u > Instant::now())
    }
}

/// One site's lease.
#[derive(Debug)]
pub struct SiteLease {
    etcd: Arc<Etcd>,
    keys: Keys,
    site: SiteName,
    ttl: Duration,
    lease: Option<KeptLease>,
    /// The site's key is on `lease` (not on an earlier lease of a previous
    /// agent's, which must run out first).
    keyed: bool,
    primary: Option<PrimaryRecord>,
}

impl SiteLease {
    /// The lease of `site` in the cluster `section` describes (not taken
    /// until the first `check`).
    pub fn new(section: &QuorumSection, site: &SiteName) -> anyhow::Result<Self> {
        Ok(Self {
            etcd: Arc::new(Etcd::new(&section.etcd, section.request_timeout())?),
            keys: Keys::new(&section.cluster),
            site: site.clone(),
            ttl: Duration::from_secs(section.write_lease_secs),
            lease: None,
            keyed: false,
            primary: None,
        })
    }

    /// The site.
    pub fn site(&self) -> &SiteName {
        &self.site
    }

    /// Takes the lease if it has none (or lost it), reads the primary
    /// record, and says what the site may do until the next round.
    pub async fn check(&mut self) -> SiteStanding {
        let mut reached = true;
        let lost_a_lease = self.lease.as_ref().is_some_and(KeptLease::lost);
        if self.lease.as_ref().is_none_or(KeptLease::lost) {
            self.lease = None;
            self.keyed = false;
            match KeptLease::grant(self.etcd.clone(), self.ttl).await {
                Ok(lease) => self.lease = Some(lease),
                Err(e) => {
                    tracing::debug!(site = %self.site, error = %e, "no site lease");
                    reached = false;
                }
            }
        }
        if !self.keyed {
            if let Some(lease) = &self.lease {
                match self.key(lease).await {
                    Ok(keyed) => self.keyed = keyed,
                    Err(e) => {
                        tracing::debug!(site = %self.site, error = %e, "site key not written");
                        reached = false;
                    }
                }
            }
        }
        match self.etcd.get(&self.keys.primary()).await {
            Ok(kv) => {
                self.primary =
                    kv.and_then(|kv| serde_json::from_slice::<PrimaryRecord>(&kv.value).ok());
            }
            Err(e) => {
                tracing::debug!(site = %self.site, error = %e, "primary record not read");
                reached = false;
            }
        }
        SiteStanding {
            lost_a_lease,
            ..self.standing(reached)
        }
    }

    /// The writes the last record read grants this site, following its
    /// lease from now on; None when the record grants it none.
    pub fn grant(&self) -> Option<LiveGrant> {
        self.granted_lease().map(|l| LiveGrant(l.watch()))
    }

    fn granted_lease(&self) -> Option<&KeptLease> {
        let lease = self.lease.as_ref().filter(|l| self.keyed && !l.lost())?;
        self.primary
            .as_ref()
            .is_some_and(|p| p.site == self.site && p.lease == Some(lease.id()))
            .then_some(lease)
    }

    fn standing(&self, reached: bool) -> SiteStanding {
        let lease = self.lease.as_ref().filter(|l| self.keyed && !l.lost());
        let granted = self.granted_lease().is_some();
        let writes_until = lease
            .and_then(KeptLease::valid_until)
            .filter(|_| granted)
            .map(|until| until.checked_sub(GRANT_MARGIN).unwrap_or(until))
            .filter(|until| *until > Instant::now());
        SiteStanding {
            primary: self.primary.clone(),
            writes_until,
            lease_until: lease.and_then(KeptLease::valid_until),
            reached,
            lost_a_lease: false,
        }
    }

    /// Puts the site's key on `lease`; false while an earlier agent's
    /// lease still holds it (its app instances may still write under it,
    /// so it must run out, not be replaced).
    async fn key(&self, lease: &KeptLease) -> Result<bool, super::etcd::EtcdError> {
        let key = self.keys.site(&self.site);
        let value = serde_json::json!({"site": self.site, "pid": std::process::id()}).to_string();
        let outcome = self
            .etcd
            .txn(
                &[Compare::Absent(key.clone())],
                &[Op::Put {
                    key,
                    value: value.into_bytes(),
                    lease: Some(lease.id()),
                }],
                &[],
            )
            .await?;
        if outcome.succeeded {
            tracing::info!(site = %self.site, lease = %lease.id(), "took the site's lease");
        } else {
            tracing::info!(site = %self.site, "the site's key is still on an earlier lease; waiting for it to run out");
        }
        Ok(outcome.succeeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::member::LocalEtcd;
    use crate::quorum::{EtcdQuorum, Leadership};

    fn name(n: &str) -> SiteName {
        SiteName::parse(n).expect("valid")
    }

    fn section(url: &str) -> QuorumSection {
        QuorumSection {
            etcd: vec![url.to_owned()],
            cluster: "leases".into(),
            leader_ttl_secs: 2,
            write_lease_secs: 1,
        }
    }

    async fn leader(section: &QuorumSection) -> EtcdQuorum {
        let mut q = EtcdQuorum::new(section, "leader").expect("quorum");
        assert_eq!(q.lead().await, Leadership::Leading { newly: true });
        q
    }

    #[tokio::test]
    async fn a_site_takes_writes_only_under_the_lease_the_leader_granted() {
        let etcd = LocalEtcd::start().await.expect("etcd starts");
        let section = section(etcd.url());
        let mut a = SiteLease::new(&section, &name("a")).expect("lease");
        let first = a.check().await;
        assert!(first.reached && first.holds_lease(), "{first:?}");
        assert_eq!(first.writes_until, None, "nothing recorded: no writes");
        let mut q = leader(&section).await;
        q.record_primary(&PrimaryRecord::new(name("a"), 1))
            .await
            .expect("recorded");
        let granted = a.check().await;
        let until = granted.writes_until.expect("writes granted");
        assert!(
            until > Instant::now() + Duration::from_millis(300),
            "most of a TTL ahead"
        );
        assert_eq!(granted.primary.as_ref().map(|p| p.epoch), Some(1));
        // Between rounds the grant follows the lease's renewals (three a
        // TTL): an instance asking later is not handed what was left then.
        let live = a.grant().expect("a live grant");
        tokio::time::sleep(Duration::from_millis(600)).await;
        let later = live.writes_until().expect("still granted");
        assert!(later > until, "renewed: {later:?} after {until:?}");
        let mut b = SiteLease::new(&section, &name("b")).expect("lease");
        assert_eq!(
            b.check().await.writes_until,
            None,
            "the other site is not primary"
        );
        assert!(b.grant().is_none());
    }

    #[tokio::test]
    async fn the_epoch_moves_away_only_once_the_old_sites_write_lease_ended() {
        let etcd = LocalEtcd::start().await.expect("etcd starts");
        let section = section(etcd.url());
        let mut a = SiteLease::new(&section, &name("a")).expect("lease");
        let mut b = SiteLease::new(&section, &name("b")).expect("lease");
        a.check().await;
        b.check().await;
        let mut q = leader(&section).await;
        q.record_primary(&PrimaryRecord::new(name("a"), 1))
            .await
            .expect("recorded");
        let a_until = a.check().await.writes_until.expect("a writes");

        let err = q
            .record_primary(&PrimaryRecord::new(name("b"), 2))
            .await
            .expect_err("a still holds its lease");
        assert!(
            err.to_string().contains("may still hold a write lease"),
            "{err}"
        );

        let started = Instant::now();
        let note = q.release(&name("a"), false).await.expect("released");
        assert!(note.contains("revoked"), "{note}");
        assert!(
            Instant::now() >= a_until,
            "released only after every write lease handed out ran out"
        );
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "a full TTL waited"
        );
        q.record_primary(&PrimaryRecord::new(name("b"), 2))
            .await
            .expect("the epoch moves once a's lease ended");
        let a_now = a.check().await;
        assert_eq!(a_now.writes_until, None, "a may not write: {a_now:?}");
        assert_eq!(a_now.primary.map(|p| p.site), Some(name("b")));
        assert!(
            b.check().await.writes_until.is_some(),
            "b was granted its lease"
        );
    }

    #[tokio::test]
    async fn a_site_that_stopped_renewing_is_released_as_soon_as_its_lease_ends() {
        let etcd = LocalEtcd::start().await.expect("etcd starts");
        let section = section(etcd.url());
        let mut a = SiteLease::new(&section, &name("a")).expect("lease");
        a.check().await;
        let mut q = leader(&section).await;
        q.record_primary(&PrimaryRecord::new(name("a"), 1))
            .await
            .expect("recorded");
        let a_until = a.check().await.writes_until.expect("a writes");
        // The agent dies (or its host is cut off): nothing renews the lease.
        drop(a);
        let started = Instant::now();
        let note = q.release(&name("a"), false).await.expect("released");
        assert!(note.contains("ran out"), "not revoked: {note}");
        assert!(
            Instant::now() >= a_until,
            "not before the last write lease ended"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        q.record_primary(&PrimaryRecord::new(name("b"), 2))
            .await
            .expect("the epoch moves");
    }

    #[tokio::test]
    async fn a_site_that_lost_its_lease_writes_again_only_when_the_leader_grants_the_new_one() {
        let etcd = LocalEtcd::start().await.expect("etcd starts");
        let section = section(etcd.url());
        let mut a = SiteLease::new(&section, &name("a")).expect("lease");
        a.check().await;
        let mut q = leader(&section).await;
        q.record_primary(&PrimaryRecord::new(name("a"), 1))
            .await
            .expect("recorded");
        assert!(a.check().await.writes_until.is_some());
        // The lease ends behind the agent's back (as after a long pause).
        let old = a.lease.as_ref().map(KeptLease::id).expect("a lease");
        q.etcd().revoke(old).await.expect("revoked");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut standing = a.check().await;
        let mut replaced = standing.lost_a_lease;
        while standing.writes_until.is_some() || a.lease.as_ref().is_some_and(|l| l.id() == old) {
            assert!(Instant::now() < deadline, "a never noticed: {standing:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            standing = a.check().await;
            replaced |= standing.lost_a_lease;
        }
        assert!(standing.holds_lease(), "a new lease is taken: {standing:?}");
        assert!(
            replaced,
            "the round that took the new lease says the old one ran out"
        );
        assert_eq!(standing.writes_until, None, "but not yet granted");
        let said = q.regrant(&name("a")).await.expect("regrant");
        assert!(said.is_some_and(|s| s.contains("writes granted to it again in epoch 1")));
        let again = a.check().await;
        assert!(again.writes_until.is_some(), "granted again");
        assert!(!again.lost_a_lease, "said once");
        assert_eq!(q.regrant(&name("a")).await.expect("regrant"), None, "once");
    }
}
