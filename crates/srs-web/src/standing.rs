//! Whether this instance's site holds the primary epoch, as the DR
//! controller last said. A read-only database already refuses writes; this
//! is the second fence: an instance whose site lost the primary role (a
//! zombie woken after a failover, a site cut off and back) refuses writes
//! itself, even while its database would still take them.

use srs_domain::{SiteName, SiteRole};
use std::sync::RwLock;

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
}

impl Standing {
    /// An instance of site `own`, started in `configured` role; nothing is
    /// known of the controller yet (writes go as the database allows).
    pub fn new(own: SiteName, configured: SiteRole) -> Self {
        Self {
            own,
            configured,
            known: RwLock::new(None),
        }
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
        s.learn(primary("main", 3));
        assert!(s.fenced_by().is_none());
        assert_eq!(s.role(), SiteRole::Primary);
    }

    #[test]
    fn a_standalone_instance_holds_the_primary_until_told_otherwise() {
        let s = Standing::new(name("local"), SiteRole::Standalone);
        assert!(s.holds_primary());
        assert_eq!(s.role(), SiteRole::Standalone);
    }
}
