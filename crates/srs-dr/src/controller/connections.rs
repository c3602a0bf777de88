//! The controller's admin connections, one per site, kept open between
//! uses: the observer's probe and the step taken on what it saw take
//! turns on the same connection.
//!
//! A new connection costs the link's round trips several times over (TCP,
//! MariaDB's handshake, the session's set-up: about a quarter of a second
//! 35 ms apart), and a step is taken right after an observation that just
//! used the site's connection, so a step borrows that one instead of
//! opening its own. A step that fails drops what it borrowed (its session
//! may be half-way through a batch): the next probe connects anew.

use crate::topology::Topology;
use srs_domain::SiteName;
use srs_mariadb::Admin;

/// One slot per site of the topology, in its order.
pub struct AdminConnections {
    slots: Vec<(SiteName, tokio::sync::Mutex<Option<Admin>>)>,
}

impl AdminConnections {
    /// An empty slot for each site of `topology`.
    pub fn for_sites(topology: &Topology) -> Self {
        Self {
            slots: topology
                .sites
                .iter()
                .map(|s| (s.name.clone(), tokio::sync::Mutex::new(None)))
                .collect(),
        }
    }

    /// No slot: every step connects anew and closes its connection (for
    /// callers no probe keeps a connection fresh for).
    pub fn none() -> Self {
        Self { slots: Vec::new() }
    }

    /// Every site's slot, in the topology's order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = &tokio::sync::Mutex<Option<Admin>>> {
        self.slots.iter().map(|(_, slot)| slot)
    }

    fn of(&self, site: &str) -> Option<&tokio::sync::Mutex<Option<Admin>>> {
        self.slots
            .iter()
            .find(|(name, _)| name.as_str() == site)
            .map(|(_, slot)| slot)
    }

    /// The site's kept connection, if one is open; the slot stays empty
    /// until it is given back.
    pub async fn take(&self, site: &str) -> Option<Admin> {
        self.of(site)?.lock().await.take()
    }

    /// Keeps `admin` for the site's next use, or closes it when the slot
    /// was filled meanwhile.
    pub async fn give_back(&self, site: &str, admin: Admin) {
        let Some(slot) = self.of(site) else {
            return admin.close().await;
        };
        let mut slot = slot.lock().await;
        if slot.is_none() {
            *slot = Some(admin);
        } else {
            drop(slot);
            admin.close().await;
        }
    }

    /// Closes every kept connection.
    pub async fn close(&self) {
        for (_, slot) in &self.slots {
            if let Some(admin) = slot.lock().await.take() {
                admin.close().await;
            }
        }
    }
}
