//! Login throttling: after too many failures for one account within a
//! window, that account's sign-ins are refused until the window passes or
//! an admin unlocks it (or resets its password). One address is refused
//! only at a much higher bound: an office behind one NAT shares an
//! address, and one person's typos must not lock out the others.
//! Failures are kept in the database, so every app instance on it counts
//! the same tries (N instances do not allow N times as many).

use super::Clock;
use chrono::Duration;
use srs_store::{Store, StoreResult};
use std::sync::Arc;

/// Failures allowed per account within the window.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 10;
/// Failures allowed from one client address within the window (many
/// people may sit behind it).
pub const MAX_FAILURES_PER_ADDRESS: i64 = 100;

/// An account the throttle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// Failed sign-ins in the window.
    pub failures: i64,
    /// When sign-ins are allowed again without an admin.
    pub until: chrono::DateTime<chrono::Utc>,
}

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

/// What an account's key starts with.
const USER_PREFIX: &str = "user:";

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

    /// The key an account's failures are counted under.
    pub fn user_key(username: &str) -> String {
        let mut key = format!("{USER_PREFIX}{}", username.trim().to_lowercase());
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

    /// Refuses when the account has `MAX_FAILURES_PER_ACCOUNT` failures
    /// in the window, or the address `MAX_FAILURES_PER_ADDRESS`.
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
            .filter(|c| {
                let limit = if c.key.starts_with(USER_PREFIX) {
                    MAX_FAILURES_PER_ACCOUNT
                } else {
                    MAX_FAILURES_PER_ADDRESS
                };
                c.count >= limit
            })
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

    /// The accounts locked now, by their lower-cased user name.
    pub async fn locked(
        &self,
        store: &Store,
    ) -> StoreResult<std::collections::HashMap<String, Locked>> {
        let now = self.clock.now();
        let over = store
            .login_failures_over(USER_PREFIX, now - self.window, MAX_FAILURES_PER_ACCOUNT)
            .await?;
        Ok(over
            .into_iter()
            .filter_map(|c| {
                let name = c.key.strip_prefix(USER_PREFIX)?.to_owned();
                Some((
                    name,
                    Locked {
                        failures: c.count,
                        until: c.oldest + self.window,
                    },
                ))
            })
            .collect())
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
