//! Follows the DR controller's `/admission` answer (or, in a cluster across
//! hosts, the site agent's): keeps an app instance's write gate at the limit
//! advised, and tells the instance which site holds the primary epoch
//! (writes elsewhere are refused). If the controller stops answering, writes
//! are let through unlimited (availability first) and that is logged; the
//! last known primary stands, since nothing newer is known. A site agent's
//! answer also carries the write lease left (`write_lease_ms`): it counts
//! from when the question was *sent*, so the instance never believes in a
//! lease longer than the agent did; unanswered, it simply runs out.

use crate::admission::{WriteGate, UNLIMITED};
use crate::standing::{PrimaryEpoch, Standing};
use crate::SiteName;
use std::sync::Arc;
use std::time::Duration;

/// How often the controller is asked: a site that lost the primary learns
/// it within this, and the new primary's instances take writes after it.
const POLL: Duration = Duration::from_millis(100);
/// Unanswered polls before the gate opens fully (about 2 s).
const GIVE_UP_AFTER: u32 = 20;

/// One answer, as far as it could be read.
#[derive(Debug, PartialEq)]
struct Answer {
    limit: Option<u32>,
    primary: Option<PrimaryEpoch>,
    /// Write lease left, when the answer speaks of one (0: none).
    lease: Option<Duration>,
}

/// Follows the controller at `url` for ever.
pub async fn follow(url: reqwest::Url, gate: Arc<WriteGate>, standing: Arc<Standing>) {
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
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let sent = std::time::Instant::now();
        match ask(&client, &url).await {
            Some(answer) => {
                if let Some(left) = answer.lease {
                    standing.grant_writes_until((!left.is_zero()).then(|| sent + left));
                }
                if missed >= GIVE_UP_AFTER {
                    tracing::info!(%url, "write admission: the controller answers again");
                }
                missed = 0;
                if let Some(primary) = answer.primary {
                    standing.learn(primary);
                }
                gate.set_limit(answer.limit.unwrap_or(UNLIMITED));
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

async fn ask(client: &reqwest::Client, url: &reqwest::Url) -> Option<Answer> {
    let answer = client.get(url.clone()).send().await.ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let body: serde_json::Value = answer.json().await.ok()?;
    Some(read(&body))
}

/// Reads an answer; fields it lacks or cannot read are left unknown.
fn read(body: &serde_json::Value) -> Answer {
    let limit = body["write_concurrency"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1);
    let primary = body["primary_site"]
        .as_str()
        .and_then(|s| SiteName::parse(s).ok())
        .zip(body["epoch"].as_u64())
        .map(|(site, epoch)| PrimaryEpoch { site, epoch });
    let lease = body["write_lease_ms"].as_u64().map(Duration::from_millis);
    Answer {
        limit,
        primary,
        lease,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_give_the_limit_and_the_primary_and_tolerate_gaps() {
        let full = read(&json!({"write_concurrency": 4, "primary_site": "dr", "epoch": 2}));
        assert_eq!(full.limit, Some(4));
        assert_eq!(
            full.primary,
            Some(PrimaryEpoch {
                site: SiteName::parse("dr").expect("valid"),
                epoch: 2
            })
        );
        assert_eq!(full.lease, None, "a controller's answer has no lease");
        let old = read(&json!({"write_concurrency": 0}));
        assert_eq!(
            old,
            Answer {
                limit: None,
                primary: None,
                lease: None,
            }
        );
        let agent = read(&json!({"primary_site": "dr", "epoch": 2, "write_lease_ms": 1500}));
        assert_eq!(agent.lease, Some(Duration::from_millis(1500)));
        let cut_off = read(&json!({"primary_site": "dr", "epoch": 2, "write_lease_ms": 0}));
        assert_eq!(cut_off.lease, Some(Duration::ZERO));
        let bad = read(&json!({"primary_site": "no spaces allowed", "epoch": 1}));
        assert_eq!(bad.primary, None);
    }
}
