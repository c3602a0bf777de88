//! Write admission control: failover time is bounded by the replica's
//! apply backlog (the backlog over the replica's apply capacity, its best
//! rate of the last 30 s), so when that apply lag exceeds a quarter of its
//! budget the controller halves how many writes each primary app instance
//! may run at once (quarters it beyond half the budget), and raises it
//! again by a quarter once the lag is below an eighth of the budget. Pure:
//! the controller feeds it observations.

use serde::{Deserialize, Serialize};

/// Concurrent writes per instance when nothing holds them back.
pub const UNLIMITED: u32 = 64;

/// What the app instances are told.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    /// Writes an instance may run at once.
    pub write_concurrency: u32,
    /// Transactions the replica has not applied yet.
    pub lag_transactions: Option<u64>,
    /// Those transactions at the replica's apply capacity (its best
    /// recent rate), seconds: the wait a failover would have now.
    pub lag_seconds: Option<f64>,
    /// The apply lag budget, seconds.
    pub budget_seconds: f64,
}

/// The regulator's state between observations.
#[derive(Debug, Clone)]
pub struct Regulator {
    budget_ms: u64,
    limit: u32,
    /// Transactions applied per second over the recent window.
    rate: Option<f64>,
    /// (ms, applied) observations within the window, oldest first.
    history: std::collections::VecDeque<(u64, u64)>,
    /// (ms, rate) over the capacity window: the fastest the replica has
    /// applied recently is what it can do when it has a backlog.
    rates: std::collections::VecDeque<(u64, f64)>,
    advice: Advice,
}

/// How far back the replica's apply capacity is remembered.
const CAPACITY_WINDOW_MS: u64 = 30_000;

/// How far back the apply rate looks: long enough that one slow probe
/// interval does not make the backlog look endless, short enough to react.
const RATE_WINDOW_MS: u64 = 2_000;
/// Transactions a replica may be seen behind without that counting as a
/// backlog: the ones committed but not yet applied at the moment of a probe
/// (an idle replica has no apply rate to divide them by).
const IN_FLIGHT_TRANSACTIONS: u64 = 8;

impl Regulator {
    /// A regulator keeping apply lag under `budget_ms`.
    pub fn new(budget_ms: u64) -> Self {
        Self {
            budget_ms,
            limit: UNLIMITED,
            rate: None,
            history: std::collections::VecDeque::new(),
            rates: std::collections::VecDeque::new(),
            advice: Advice {
                write_concurrency: UNLIMITED,
                lag_transactions: None,
                lag_seconds: None,
                budget_seconds: budget_ms as f64 / 1000.0,
            },
        }
    }

    /// The current advice.
    pub fn advice(&self) -> Advice {
        self.advice
    }

    /// Takes one observation at `now_ms`: the replica's applied transaction
    /// count and its lag behind the primary (None: no replica to wait for).
    pub fn update(&mut self, now_ms: u64, applied: Option<u64>, lag: Option<u64>) -> Advice {
        match applied {
            Some(applied) => {
                self.history.push_back((now_ms, applied));
                // Keep one observation at or beyond the window's start.
                while self.history.len() > 2
                    && self
                        .history
                        .get(1)
                        .is_some_and(|(t, _)| now_ms.saturating_sub(*t) >= RATE_WINDOW_MS)
                {
                    self.history.pop_front();
                }
                if let Some(&(then, before)) = self.history.front() {
                    let elapsed = now_ms.saturating_sub(then);
                    if elapsed >= 100 {
                        let rate = applied.saturating_sub(before) as f64 * 1000.0 / elapsed as f64;
                        self.rate = Some(rate);
                        self.rates.push_back((now_ms, rate));
                        while self
                            .rates
                            .front()
                            .is_some_and(|(t, _)| now_ms.saturating_sub(*t) > CAPACITY_WINDOW_MS)
                        {
                            self.rates.pop_front();
                        }
                    }
                }
            }
            None => {
                self.history.clear();
                self.rates.clear();
                self.rate = None;
            }
        }
        // Failover time is the backlog at the rate the replica can apply
        // once nothing new arrives: its recent best, not its current rate,
        // which only follows the (perhaps throttled) writes when caught up.
        let capacity = self.rates.iter().map(|(_, r)| *r).fold(0.0, f64::max);
        let lag_seconds = lag.map(|txn| match (txn, self.rate) {
            (0, _) => 0.0,
            // A handful of transactions in flight on an idle replica (seen
            // between their commit and their apply) is not a backlog.
            (txn, _) if txn <= IN_FLIGHT_TRANSACTIONS => 0.0,
            (txn, Some(rate)) if rate >= 1.0 => txn as f64 / rate.max(capacity),
            // A backlog that is not being applied at all.
            _ => f64::INFINITY,
        });
        let budget = self.budget_ms as f64 / 1000.0;
        // The controller sees the lag only every probe interval and the
        // backlog keeps growing meanwhile: act well below the budget, and
        // harder the further over it is.
        self.limit = match lag_seconds {
            None => UNLIMITED,
            Some(s) if s > budget / 2.0 => (self.limit / 4).max(1),
            Some(s) if s > budget / 4.0 => (self.limit / 2).max(1),
            Some(s) if s < budget / 8.0 => (self.limit + (self.limit / 4).max(1)).min(UNLIMITED),
            Some(_) => self.limit,
        };
        self.advice = Advice {
            write_concurrency: self.limit,
            lag_transactions: lag,
            lag_seconds: lag_seconds.filter(|s| s.is_finite()),
            budget_seconds: budget,
        };
        self.advice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_replica_or_no_lag_means_no_limit() {
        let mut r = Regulator::new(1000);
        assert_eq!(r.update(0, None, None).write_concurrency, UNLIMITED);
        assert_eq!(
            r.update(500, Some(10), Some(0)).write_concurrency,
            UNLIMITED
        );
    }

    #[test]
    fn a_few_transactions_in_flight_on_an_idle_replica_do_not_throttle() {
        let mut r = Regulator::new(1000);
        assert_eq!(r.update(0, Some(10), Some(0)).write_concurrency, UNLIMITED);
        let a = r.update(500, Some(10), Some(3));
        assert_eq!(a.write_concurrency, UNLIMITED, "{a:?}");
        let a = r.update(1000, Some(10), Some(50));
        assert!(
            a.write_concurrency < UNLIMITED,
            "a real backlog not applied: {a:?}"
        );
    }

    #[test]
    fn a_growing_backlog_cuts_the_limit_down_to_one_then_it_recovers() {
        let mut r = Regulator::new(1000);
        // The replica applies 1,000/s; a backlog of 2,000 is 2 s: far over budget.
        let mut t = 0;
        let mut applied = 0;
        r.update(t, Some(applied), Some(0));
        let mut step = |backlog: u64| {
            t += 500;
            applied += 500;
            r.update(t, Some(applied), Some(backlog)).write_concurrency
        };
        let far_over: Vec<u32> = (0..4).map(|_| step(2_000)).collect();
        assert_eq!(far_over, [16, 4, 1, 1]);
        // 0.3 s: over a quarter of the budget, halve (from 2 after a raise).
        assert_eq!(step(50), 2, "0.05 s: raised by one");
        assert_eq!(step(300), 1, "0.3 s: halved");
        // Between an eighth and a quarter of the budget: hold.
        assert_eq!(step(200), 1);
        // Caught up: back up by a quarter (at least one) per observation.
        let up: Vec<u32> = (0..4).map(|_| step(10)).collect();
        assert_eq!(up, [2, 3, 4, 5]);
    }

    #[test]
    fn one_slow_interval_does_not_make_the_backlog_look_endless() {
        let mut r = Regulator::new(1000);
        let mut applied = 0;
        for t in (0..=2_000).step_by(500) {
            r.update(t, Some(applied), Some(100));
            applied += 500;
        }
        // The replica applied nothing for 500 ms: over the 2 s window it
        // still applies 750/s, so 100 behind is 0.13 s, not endless.
        let a = r.update(2_500, Some(applied - 500), Some(100));
        assert!(
            a.lag_seconds.is_some_and(|s| s < 0.2),
            "{:?}",
            a.lag_seconds
        );
    }

    #[test]
    fn a_caught_up_replica_is_judged_by_what_it_can_apply() {
        let mut r = Regulator::new(1000);
        let (mut t, mut applied) = (0, 0);
        // 2,000/s while writes were unthrottled...
        for _ in 0..6 {
            r.update(t, Some(applied), Some(100));
            t += 500;
            applied += 1_000;
        }
        // ...then writes held back to 200/s: 300 behind drains in 0.15 s.
        let mut last = None;
        for _ in 0..6 {
            last = r.update(t, Some(applied), Some(300)).lag_seconds;
            t += 500;
            applied += 100;
        }
        assert!(last.is_some_and(|s| (s - 0.15).abs() < 0.01), "{last:?}");
    }

    #[test]
    fn a_backlog_nobody_applies_is_over_any_budget() {
        let mut r = Regulator::new(60_000);
        r.update(0, Some(100), Some(0));
        let a = r.update(500, Some(100), Some(50));
        assert_eq!(a.write_concurrency, UNLIMITED / 4);
        assert_eq!(a.lag_seconds, None, "infinite is reported as unknown");
    }
}
