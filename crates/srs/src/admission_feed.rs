//! Keeps an app instance's write gate at the limit the DR controller
//! advises. If the controller stops answering, writes are let through
//! unlimited (availability first) and that is logged.

use srs_web::admission::{WriteGate, UNLIMITED};
use std::sync::Arc;
use std::time::Duration;

/// How often the advice is read.
const POLL: Duration = Duration::from_millis(250);
/// Unanswered polls before the gate opens fully.
const GIVE_UP_AFTER: u32 = 8;

/// Follows the advice at `url` for ever.
pub async fn follow(url: reqwest::Url, gate: Arc<WriteGate>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "write admission: no HTTP client; writes are not limited");
            return;
        }
    };
    let mut missed = 0;
    let mut ticker = tokio::time::interval(POLL);
    loop {
        ticker.tick().await;
        match advice(&client, &url).await {
            Some(limit) => {
                if missed >= GIVE_UP_AFTER {
                    tracing::info!(%url, "write admission: the controller answers again");
                }
                missed = 0;
                gate.set_limit(limit);
            }
            None => {
                missed += 1;
                if missed == GIVE_UP_AFTER {
                    tracing::warn!(%url, "write admission: the controller does not answer; writes are not limited until it does");
                    gate.set_limit(UNLIMITED);
                }
            }
        }
    }
}

async fn advice(client: &reqwest::Client, url: &reqwest::Url) -> Option<u32> {
    let answer = client.get(url.clone()).send().await.ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let body: serde_json::Value = answer.json().await.ok()?;
    body["write_concurrency"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1)
}
