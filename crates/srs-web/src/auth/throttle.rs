//! Login throttling: after too many failures for one account or from one
//! address within a window, further attempts are refused until it passes.

use super::Clock;
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// Failures allowed per key within the window.
pub const MAX_FAILURES: usize = 10;

/// Remembers recent failed logins per account and per client address.
pub struct LoginThrottle {
    clock: Arc<dyn Clock>,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

/// Why an attempt is refused: which key is over its limit, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until another attempt is allowed.
    pub retry_after_secs: i64,
}

impl LoginThrottle {
    /// A throttle with a 15-minute window on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            window: Duration::minutes(15),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, addr: &str) -> [String; 2] {
        [
            format!("user:{}", username.to_ascii_lowercase()),
            format!("addr:{addr}"),
        ]
    }

    /// Refuses when either key has `MAX_FAILURES` failures in the window.
    pub fn check(&self, username: &str, addr: &str) -> Result<(), Throttled> {
        let now = self.clock.now();
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wait = None;
        for key in Self::keys(username, addr) {
            if let Some(times) = map.get_mut(&key) {
                while times.front().is_some_and(|t| now - *t >= self.window) {
                    times.pop_front();
                }
                if times.len() >= MAX_FAILURES {
                    let oldest = times.front().copied().unwrap_or(now);
                    let secs = (oldest + self.window - now).num_seconds().max(1);
                    wait = Some(wait.map_or(secs, |w: i64| w.max(secs)));
                }
            }
        }
        match wait {
            Some(retry_after_secs) => Err(Throttled { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against the account and the address.
    pub fn record_failure(&self, username: &str, addr: &str) {
        let now = self.clock.now();
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() > 100_000 {
            // Bound memory under a spray of made-up names.
            map.retain(|_, times| times.back().is_some_and(|t| now - *t < self.window));
        }
        for key in Self::keys(username, addr) {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// Forgets the account's failures after a successful login.
    pub fn record_success(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(&format!("user:{}", username.to_ascii_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    struct FakeClock(AtomicI64);
    impl Clock for FakeClock {
        fn now(&self) -> DateTime<Utc> {
            DateTime::from_timestamp(self.0.load(Ordering::SeqCst), 0).unwrap_or_default()
        }
    }

    #[test]
    fn ten_failures_block_the_account_until_the_window_passes() {
        let clock = Arc::new(FakeClock(AtomicI64::new(1_000_000)));
        let throttle = LoginThrottle::new(clock.clone());
        for i in 0..MAX_FAILURES {
            assert!(
                throttle.check("ada", &format!("10.0.0.{i}")).is_ok(),
                "attempt {i}"
            );
            throttle.record_failure("ada", &format!("10.0.0.{i}"));
        }
        let refused = throttle
            .check("ADA", "192.0.2.1")
            .expect_err("account locked");
        assert!(refused.retry_after_secs > 0 && refused.retry_after_secs <= 900);
        assert!(
            throttle.check("grace", "192.0.2.1").is_ok(),
            "other accounts unaffected"
        );
        clock.0.fetch_add(15 * 60, Ordering::SeqCst);
        assert!(throttle.check("ada", "192.0.2.1").is_ok(), "window passed");
    }

    #[test]
    fn ten_failures_from_one_address_block_that_address() {
        let clock = Arc::new(FakeClock(AtomicI64::new(0)));
        let throttle = LoginThrottle::new(clock);
        for i in 0..MAX_FAILURES {
            throttle.record_failure(&format!("user{i}"), "198.51.100.7");
        }
        assert!(throttle.check("someone", "198.51.100.7").is_err());
        assert!(throttle.check("someone", "198.51.100.8").is_ok());
    }
}
