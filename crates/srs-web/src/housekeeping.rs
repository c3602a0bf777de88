//! Work off the request path: forgetting idempotency keys past their
//! retention.

use srs_store::{Store, StoreError};
use std::time::Duration;

/// How often expired idempotency keys are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Runs for ever; spawned by the server.
pub async fn run(store: Store) {
    let mut ticker = tokio::time::interval(PURGE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match store.purge_idempotency_keys().await {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!("srs_idempotency_keys_purged_total").increment(n);
                tracing::info!(
                    purged = n,
                    "idempotency keys past their retention forgotten"
                );
            }
            // A replica's database refuses writes: its primary purges.
            Err(StoreError::ReadOnly) => {}
            Err(e) => tracing::warn!(error = %e, "could not purge expired idempotency keys"),
        }
    }
}
