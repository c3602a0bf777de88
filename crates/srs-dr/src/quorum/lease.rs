//! An etcd lease kept alive in the background, with the holder's own view
//! of how long it surely lasts.
//!
//! etcd starts a lease's countdown again when a keep-alive reaches it; the
//! keeper counts from when it *sent* the keep-alive, which is earlier. So
//! the keeper's `valid_until` is never later than the moment etcd lets the
//! lease expire, and whoever waits for the lease to vanish from etcd knows
//! the holder has stopped acting on it by then (clock rates differ by parts
//! per million; the margins below are tenths of a second).

use super::etcd::{Etcd, LeaseId};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How soon a failed keep-alive is tried again.
const RETRY: Duration = Duration::from_millis(100);

/// A lease and its keep-alive task; the task ends when this is dropped
/// (the lease then runs out in etcd on its own).
#[derive(Debug)]
pub struct KeptLease {
    id: LeaseId,
    valid_until: watch::Receiver<Option<Instant>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KeptLease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeptLease {
    /// Grants a lease of `ttl` (whole seconds, at least one) and keeps it
    /// alive, renewing eight times a TTL (see [`renewal_period`]).
    pub async fn grant(etcd: Arc<Etcd>, ttl: Duration) -> Result<Self, super::etcd::EtcdError> {
        let ttl_secs = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        let sent = Instant::now();
        let id = etcd.grant(ttl_secs).await?;
        let (tell, valid_until) =
            watch::channel(Some(sent + Duration::from_secs(ttl_secs.unsigned_abs())));
        let task = tokio::spawn(keep(etcd, id, ttl_secs, tell));
        Ok(Self {
            id,
            valid_until,
            task,
        })
    }

    /// The lease's id.
    pub fn id(&self) -> LeaseId {
        self.id
    }

    /// Until when the lease surely lives; None once etcd said it is gone.
    pub fn valid_until(&self) -> Option<Instant> {
        *self.valid_until.borrow()
    }

    /// A view of `valid_until` that follows every renewal, for whoever
    /// answers between rounds.
    pub fn watch(&self) -> watch::Receiver<Option<Instant>> {
        self.valid_until.clone()
    }

    /// Whether it surely lives for at least `margin` more.
    pub fn holds_for(&self, margin: Duration) -> bool {
        self.valid_until()
            .is_some_and(|until| Instant::now() + margin < until)
    }

    /// Whether etcd said the lease is gone (or the keeper stopped).
    pub fn lost(&self) -> bool {
        self.valid_until().is_none() || self.task.is_finished()
    }
}

/// How often a lease of `ttl` is renewed. Not the usual third of a TTL:
/// what a renewal costs is one small request, and what it buys is the
/// time a fault may last without ending the lease. When etcd loses its
/// raft leader every renewal fails until a new one is elected (0.5-1.5 s
/// with the drill's timing, longer on a loaded machine); renewed every
/// third of a 2 s lease, a fault just before a renewal left the site
/// 1.2 s of it and cost writes now and then. Renewed every eighth, it
/// leaves 1.65 s.
pub fn renewal_period(ttl: Duration) -> Duration {
    (ttl / 8).max(RETRY)
}

async fn keep(etcd: Arc<Etcd>, id: LeaseId, ttl_secs: i64, tell: watch::Sender<Option<Instant>>) {
    let ttl = Duration::from_secs(ttl_secs.unsigned_abs());
    let every = renewal_period(ttl);
    let mut pause = every;
    // When the first of a run of failed keep-alives was sent.
    let mut failing_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(pause).await;
        pause = every;
        let sent = Instant::now();
        match etcd.keep_alive(id).await {
            Ok(Some(left)) => {
                if let Some(since) = failing_since.take() {
                    // Worth a line: how close a fault came to ending the
                    // lease is what tells whether its length is right.
                    let kept_for = tell
                        .borrow()
                        .map(|until| until.saturating_duration_since(sent));
                    tracing::info!(
                        lease = %id,
                        failing_ms = u64::try_from(sent.duration_since(since).as_millis()).unwrap_or(u64::MAX),
                        left_ms = kept_for.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                        "etcd lease renewed again after failed keep-alives"
                    );
                }
                let left = Duration::from_secs(left.unsigned_abs()).min(ttl);
                tell.send_replace(Some(sent + left));
            }
            Ok(None) => {
                tracing::warn!(lease = %id, "etcd lease expired or was revoked");
                tell.send_replace(None);
                return;
            }
            Err(e) => {
                // Kept as it was: it lapses on its own unless a later
                // keep-alive gets through. Tried again soon: while etcd
                // elects a new leader (a member lost) every call fails for
                // up to a second or more.
                tracing::debug!(lease = %id, error = %e, "lease keep-alive failed");
                failing_since.get_or_insert(sent);
                pause = RETRY;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_renewed_often_enough_to_outlast_an_etcd_election() {
        // The site's 2 s write lease, less the 100 ms the agent keeps back:
        // a fault just before a renewal must leave more than an election's
        // 1.5 s.
        let ttl = Duration::from_secs(2);
        assert!(
            ttl - renewal_period(ttl) - Duration::from_millis(100) > Duration::from_millis(1_500)
        );
        assert_eq!(
            renewal_period(Duration::from_secs(1)),
            Duration::from_millis(125)
        );
        assert_eq!(renewal_period(Duration::from_millis(400)), RETRY);
    }
}
