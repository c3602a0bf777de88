//! Whether this instance's site holds the primary epoch, as the DR
//! controller last said. A read-only database already refuses writes; this
//! is the second fence: an instance whose site lost the primary role (a
//! zombie woken after a failover, a site cut off and back) refuses writes
//! itself, even while its database would still take them.
//!
//! In a cluster across hosts the instance also needs a *write lease*: its
//! site agent's word, renewed every poll, that the site holds the epoch
//! under the quorum's lease, valid until a moment it names. Without a
//! current one (the agent lost the quorum, or cannot be asked) writes are
//! refused; reads go on, marked as possibly stale.

use srs_domain::{SiteName, SiteRole};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

/// Why a write may not start here now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteBlock {
    /// Another site holds the primary epoch.
    NotPrimary(PrimaryEpoch),
    /// This site cannot confirm it holds it: no current write lease.
    NoLease,
}

/// The primary as the controller announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryEpoch {
    /// The site holding it.
    pub site: SiteName,
    /// The epoch: it rises with every change of primary.
    pub epoch: u64,
}

/// This instance's site and what it knows of the current primary.
#[derive(Debug)]
pub struct Standing {
    own: SiteName,
    configured: SiteRole,
    known: RwLock<Option<PrimaryEpoch>>,
    /// Writes need a lease (a cluster across hosts): until when it holds.
    lease: Option<Mutex<Option<Instant>>>,
    /// When the controller last named this site primary after another:
    /// its database's promotion may still be landing.
    promoted_at: Mutex<Option<Instant>>,
}

impl Standing {
    /// An instance of site `own`, started in `configured` role; nothing is
    /// known of the controller yet (writes go as the database allows).
    pub fn new(own: SiteName, configured: SiteRole) -> Self {
        Self {
            own,
            configured,
            known: RwLock::new(None),
            lease: None,
            promoted_at: Mutex::new(None),
        }
    }

    /// The same, taking writes only under a write lease (none held yet).
    pub fn with_write_lease(mut self) -> Self {
        self.lease = Some(Mutex::new(None));
        self
    }

    /// Whether writes need a lease here.
    pub fn needs_write_lease(&self) -> bool {
        self.lease.is_some()
    }

    /// Takes in the site agent's grant: writes until `until` (None: none).
    /// A grant never shortens one already held, except to none: answers can
    /// arrive out of order, and an older one names an earlier end anyway.
    pub fn grant_writes_until(&self, until: Option<Instant>) {
        let Some(lease) = &self.lease else {
            return;
        };
        let mut held = lease.lock().unwrap_or_else(|e| e.into_inner());
        let was = held.is_some_and(|u| u > Instant::now());
        *held = match (until, *held) {
            (Some(new), Some(old)) => Some(new.max(old)),
            (new, _) => new,
        };
        let is = held.is_some_and(|u| u > Instant::now());
        if was != is {
            if is {
                tracing::info!(site = %self.own, "write lease granted: writes are taken");
            } else {
                tracing::warn!(site = %self.own, "write lease lost: writes are refused until the quorum confirms this site again");
            }
        }
        metrics::gauge!("srs_site_write_lease_held").set(if is { 1.0 } else { 0.0 });
    }

    /// Whether the write lease holds now (true where none is needed).
    pub fn lease_holds(&self) -> bool {
        self.lease.as_ref().is_none_or(|lease| {
            lease
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|until| Instant::now() < until)
        })
    }

    /// Why a write may not start now, if it may not.
    pub fn write_block(&self) -> Option<WriteBlock> {
        if let Some(primary) = self.fenced_by() {
            return Some(WriteBlock::NotPrimary(primary));
        }
        (!self.lease_holds()).then_some(WriteBlock::NoLease)
    }

    /// Takes in the controller's word. An epoch older than the one known
    /// is ignored (an answer that overtook a newer one); the change of
    /// standing is logged once.
    pub fn learn(&self, primary: PrimaryEpoch) {
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        if known.as_ref().is_some_and(|k| k.epoch > primary.epoch) {
            return;
        }
        let was_primary = known.as_ref().map(|k| k.site == self.own);
        let is_primary = primary.site == self.own;
        if was_primary == Some(false) && is_primary {
            *self.promoted_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
        if was_primary != Some(is_primary) {
            if is_primary {
                tracing::info!(site = %self.own, epoch = primary.epoch, "this site holds the primary epoch: writes are taken");
            } else {
                tracing::warn!(site = %self.own, primary = %primary.site, epoch = primary.epoch,
                    "this site is not the primary: writes are refused with 503");
            }
        }
        metrics::gauge!("srs_site_holds_primary_epoch").set(if is_primary { 1.0 } else { 0.0 });
        *known = Some(primary);
    }

    /// The primary, when another site holds it: writes here must be refused.
    pub fn fenced_by(&self) -> Option<PrimaryEpoch> {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        known.as_ref().filter(|k| k.site != self.own).cloned()
    }

    /// Whether this site was named primary, after another site, within
    /// `within`: a database refusing writes now is most likely still being
    /// promoted, not fenced.
    pub fn newly_promoted(&self, within: std::time::Duration) -> bool {
        self.holds_primary()
            && self
                .promoted_at
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|at| at.elapsed() < within)
    }

    /// Whether a DR controller has named the primary at least once.
    pub fn under_controller(&self) -> bool {
        self.known
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// The role to show: as the controller last said, else as started.
    pub fn role(&self) -> SiteRole {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        match known.as_ref() {
            Some(k) if k.site == self.own => SiteRole::Primary,
            Some(_) => SiteRole::Replica,
            None => self.configured,
        }
    }

    /// Whether this site holds the primary epoch: as the controller last
    /// said, else as started (a standalone instance always does).
    pub fn holds_primary(&self) -> bool {
        matches!(self.role(), SiteRole::Primary | SiteRole::Standalone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> SiteName {
        SiteName::parse(n).expect("valid")
    }

    fn primary(site: &str, epoch: u64) -> PrimaryEpoch {
        PrimaryEpoch {
            site: name(site),
            epoch,
        }
    }

    #[test]
    fn a_site_that_lost_the_epoch_refuses_writes_until_it_holds_it_again() {
        let s = Standing::new(name("main"), SiteRole::Primary);
        assert!(
            s.fenced_by().is_none(),
            "nothing known: the database decides"
        );
        assert!(s.holds_primary());
        s.learn(primary("main", 1));
        assert!(s.fenced_by().is_none());
        s.learn(primary("dr", 2));
        assert_eq!(s.fenced_by(), Some(primary("dr", 2)));
        assert_eq!(s.role(), SiteRole::Replica);
        assert!(!s.holds_primary());
        s.learn(primary("main", 1));
        assert_eq!(
            s.fenced_by(),
            Some(primary("dr", 2)),
            "an older epoch is ignored"
        );
        assert!(!s.newly_promoted(std::time::Duration::from_secs(5)));
        s.learn(primary("main", 3));
        assert!(s.fenced_by().is_none());
        assert_eq!(s.role(), SiteRole::Primary);
        assert!(
            s.newly_promoted(std::time::Duration::from_secs(5)),
            "named primary after another site"
        );
        assert!(!s.newly_promoted(std::time::Duration::ZERO));
    }

    #[test]
    fn a_site_primary_from_the_start_is_not_newly_promoted() {
        let s = Standing::new(name("main"), SiteRole::Primary);
        s.learn(primary("main", 1));
        s.learn(primary("main", 2));
        assert!(!s.newly_promoted(std::time::Duration::from_secs(5)));
    }

    #[test]
    fn writes_need_a_current_lease_where_one_is_required() {
        use std::time::Duration;
        let plain = Standing::new(name("main"), SiteRole::Primary);
        assert!(plain.lease_holds() && plain.write_block().is_none());

        let s = Standing::new(name("main"), SiteRole::Primary).with_write_lease();
        assert_eq!(
            s.write_block(),
            Some(WriteBlock::NoLease),
            "none granted yet"
        );
        s.grant_writes_until(Some(Instant::now() + Duration::from_secs(2)));
        assert_eq!(s.write_block(), None);
        s.grant_writes_until(Some(Instant::now() + Duration::from_millis(1)));
        assert!(
            s.lease_holds(),
            "an older answer does not shorten the lease"
        );
        s.grant_writes_until(None);
        assert_eq!(
            s.write_block(),
            Some(WriteBlock::NoLease),
            "the agent said none"
        );
        s.grant_writes_until(Some(Instant::now() + Duration::from_millis(30)));
        assert!(s.lease_holds());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(s.write_block(), Some(WriteBlock::NoLease), "it ran out");
        s.learn(primary("dr", 2));
        assert_eq!(
            s.write_block(),
            Some(WriteBlock::NotPrimary(primary("dr", 2))),
            "another site's epoch comes first"
        );
    }

    #[test]
    fn a_standalone_instance_holds_the_primary_until_told_otherwise() {
        let s = Standing::new(name("local"), SiteRole::Standalone);
        assert!(s.holds_primary());
        assert_eq!(s.role(), SiteRole::Standalone);
    }
}
