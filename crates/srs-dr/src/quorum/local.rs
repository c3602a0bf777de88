//! The one-machine quorum: the controller lock file. Whoever holds it leads
//! for as long as its process lives; the epoch is the controller's memory.

use super::Leadership;
use crate::cluster_dir::ClusterDir;
use crate::controller::lock::ControllerLock;

/// The held lock.
#[derive(Debug)]
pub struct LocalQuorum {
    _lock: ControllerLock,
    led: bool,
}

impl LocalQuorum {
    /// Takes the lock of `data_dir`, or says who holds it.
    pub fn acquire(data_dir: &ClusterDir) -> anyhow::Result<Self> {
        Ok(Self {
            _lock: ControllerLock::acquire(data_dir)?,
            led: false,
        })
    }

    /// Always leads: the lock is held until the process ends.
    pub fn lead(&mut self) -> Leadership {
        let newly = !self.led;
        self.led = true;
        Leadership::Leading { newly }
    }
}
