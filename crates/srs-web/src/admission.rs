//! Write admission: at most `limit` writes of this instance run at once;
//! the rest wait their turn. The limit comes from the DR controller, which
//! lowers it while the replica's apply backlog exceeds its budget (so a
//! failover never waits long for the backlog) and raises it again after.

use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// No limit (a standalone instance, or the controller unreachable).
pub const UNLIMITED: u32 = u32::MAX;

#[derive(Debug)]
struct Counts {
    in_flight: u32,
    limit: u32,
}

/// The gate every write passes.
#[derive(Debug)]
pub struct WriteGate {
    counts: Mutex<Counts>,
    freed: Notify,
}

/// A write's place; dropping it lets the next write in.
#[derive(Debug)]
pub struct WritePermit {
    gate: Arc<WriteGate>,
}

impl Drop for WritePermit {
    fn drop(&mut self) {
        self.gate.lock().in_flight -= 1;
        self.gate.freed.notify_one();
    }
}

impl Default for WriteGate {
    fn default() -> Self {
        Self::new(UNLIMITED)
    }
}

impl WriteGate {
    /// A gate admitting `limit` writes at once.
    pub fn new(limit: u32) -> Self {
        Self {
            counts: Mutex::new(Counts {
                in_flight: 0,
                limit: limit.max(1),
            }),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Counts stay consistent even if a holder panicked.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes admitted at once now.
    pub fn limit(&self) -> u32 {
        self.lock().limit
    }

    /// Changes the limit; writes in flight finish, waiting ones are let in
    /// as far as the new limit allows.
    pub fn set_limit(&self, limit: u32) {
        let limit = limit.max(1);
        let raised = {
            let mut c = self.lock();
            let raised = limit > c.limit;
            c.limit = limit;
            raised
        };
        let shown = if limit == UNLIMITED {
            -1.0
        } else {
            f64::from(limit)
        };
        metrics::gauge!("srs_write_admission_limit").set(shown);
        if raised {
            self.freed.notify_waiters();
        }
    }

    /// Waits for a place.
    pub async fn enter(self: &Arc<Self>) -> WritePermit {
        let mut waited = false;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a place freed in between wakes us.
            freed.as_mut().enable();
            {
                let mut c = self.lock();
                if c.in_flight < c.limit {
                    c.in_flight += 1;
                    if waited {
                        metrics::counter!("srs_write_admission_waits_total").increment(1);
                    }
                    return WritePermit { gate: self.clone() };
                }
            }
            waited = true;
            freed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn admitted_within(gate: &Arc<WriteGate>, ms: u64) -> Option<WritePermit> {
        tokio::time::timeout(Duration::from_millis(ms), gate.enter())
            .await
            .ok()
    }

    #[tokio::test]
    async fn writes_past_the_limit_wait_for_a_place() {
        let gate = Arc::new(WriteGate::new(1));
        let first = admitted_within(&gate, 50).await.expect("first admitted");
        assert!(admitted_within(&gate, 50).await.is_none(), "second waits");
        drop(first);
        assert!(admitted_within(&gate, 50).await.is_some(), "then goes in");
    }

    #[tokio::test]
    async fn raising_the_limit_lets_waiting_writes_in_and_lowering_holds_new_ones() {
        let gate = Arc::new(WriteGate::new(1));
        let _first = gate.enter().await;
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        gate.set_limit(2);
        let second = tokio::time::timeout(Duration::from_millis(200), waiting)
            .await
            .expect("woken by the raise")
            .expect("task");
        gate.set_limit(1);
        assert!(
            admitted_within(&gate, 50).await.is_none(),
            "two in flight, limit one"
        );
        drop(second);
        assert!(
            admitted_within(&gate, 50).await.is_none(),
            "one in flight, limit one"
        );
        assert_eq!(gate.limit(), 1);
    }
}
