//! Login throttling: after too many failures for one account or from one
//! address within a window, further attempts are refused until it passes.
//! Failures are kept in the database, so every app instance on it counts
//! the same tries (N instances do not allow N times as many).

use super::Clock;
use chrono::Duration;
use srs_store::{Store, StoreResult};
use std::sync::Arc;

/// Failures allowed per key within the window.
pub const MAX_FAILURES: usize = 10;

/// Counts failed logins per account and per client address.
pub struct LoginThrottle {
    clock: Arc<dyn Clock>,
    window: Duration,
}

/// Why an attempt is refused: which key is over its limit, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until another attempt is allowed.
    pub retry_after_secs: i64,
}

/// Longest key stored: a made-up user name cannot bloat the table.
const MAX_KEY: usize = 120;

impl LoginThrottle {
    /// A throttle with a 15-minute window on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            window: Duration::minutes(15),
        }
    }

    fn user_key(username: &str) -> String {
        let mut key = format!("user:{}", username.trim().to_lowercase());
        if key.len() > MAX_KEY {
            let mut cut = MAX_KEY;
            while !key.is_char_boundary(cut) {
                cut -= 1;
            }
            key.truncate(cut);
        }
        key
    }

    fn keys(username: &str, addr: &str) -> [String; 2] {
        [Self::user_key(username), format!("addr:{addr}")]
    }

    /// Refuses when either key has `MAX_FAILURES` failures in the window.
    pub async fn check(
        &self,
        store: &Store,
        username: &str,
        addr: &str,
    ) -> StoreResult<Result<(), Throttled>> {
        let now = self.clock.now();
        let counts = store
            .login_failures(&Self::keys(username, addr), now - self.window)
            .await?;
        let wait = counts
            .iter()
            .filter(|c| c.count >= MAX_FAILURES as i64)
            .map(|c| (c.oldest + self.window - now).num_seconds().max(1))
            .max();
        Ok(match wait {
            Some(retry_after_secs) => Err(Throttled { retry_after_secs }),
            None => Ok(()),
        })
    }

    /// Counts a failed attempt against the account and the address.
    pub async fn record_failure(
        &self,
        store: &Store,
        username: &str,
        addr: &str,
    ) -> StoreResult<()> {
        let now = self.clock.now();
        store
            .record_login_failure(&Self::keys(username, addr), now, now - self.window)
            .await
    }

    /// Forgets the account's failures after a successful login.
    pub async fn record_success(&self, store: &Store, username: &str) -> StoreResult<()> {
        store.clear_login_failures(&Self::user_key(username)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_blind_and_bounded() {
        assert_eq!(LoginThrottle::user_key(" ADA "), "user:ada");
        let long = "é".repeat(200);
        let key = LoginThrottle::user_key(&long);
        assert!(key.len() <= MAX_KEY && key.starts_with("user:é"));
    }
}
