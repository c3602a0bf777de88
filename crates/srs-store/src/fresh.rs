//! Reads of the generations shared between concurrent requests, without
//! ever serving one older than the request.
//!
//! A request may use a read only if the read *started after the request
//! arrived*: then every change committed before the request is in it, which
//! is what lets a cache checked against it be exact (a revoked token fails
//! on the very next request). Under load many requests arrive while one
//! read is in flight; they all wait for the next read, which starts as soon
//! as the current one ends, so one round trip serves them all instead of
//! one each.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;

/// The counters caches are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generations {
    /// Grows with every committed write to the records.
    pub data: i64,
    /// Grows with every change that can end a credential.
    pub auth: i64,
    /// Grows with every change to the departments.
    pub departments: i64,
}

#[derive(Debug, Default)]
struct State {
    /// Reads started so far; the running one, if any, is number `started`.
    started: u64,
    running: bool,
    /// The last read that ended: its number and outcome.
    last: Option<(u64, Result<Generations, String>)>,
}

/// One read in flight at a time, shared by every request that may use it.
#[derive(Debug, Default)]
pub(crate) struct SharedReads {
    state: Mutex<State>,
    ended: Notify,
}

impl SharedReads {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The outcome of a read that started after this call; `read` starts
    /// one when none runs. The read runs in its own task, so a request that
    /// goes away never leaves the others waiting.
    pub(crate) async fn get<F, Fut>(self: &Arc<Self>, read: F) -> Result<Generations, String>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Generations, String>> + Send + 'static,
    {
        let need = self.lock().started + 1;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Registered before the state is checked: an end in between wakes us.
            ended.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some((number, outcome)) = &state.last {
                    if *number >= need {
                        return outcome.clone();
                    }
                }
                if !state.running {
                    state.running = true;
                    state.started += 1;
                    let number = state.started;
                    let this = self.clone();
                    let future = read();
                    tokio::spawn(async move {
                        let outcome = future.await;
                        {
                            let mut state = this.lock();
                            state.running = false;
                            state.last = Some((number, outcome));
                        }
                        this.ended.notify_waiters();
                    });
                }
            }
            ended.await;
        }
    }
}

tokio::task_local! {
    /// The counters as read for the request this task is serving.
    static REQUEST_READ: std::cell::Cell<Option<Generations>>;
}

/// Runs `request` (one HTTP request's work) with one counter read for all
/// its cached reads: the first read in it starts after the request
/// arrived, so every change committed before the request is in it, which
/// is all exactness asks. A write in the request forgets it (see
/// [`forget_request_read`]), so the request reads its own writes.
pub async fn one_read_per_request<F: Future>(request: F) -> F::Output {
    REQUEST_READ
        .scope(std::cell::Cell::new(None), request)
        .await
}

/// The read this request already made, if it is inside
/// [`one_read_per_request`] and has read since its last write.
pub(crate) fn request_read() -> Option<Generations> {
    REQUEST_READ.try_with(std::cell::Cell::get).ok().flatten()
}

/// Keeps `read` for the rest of the request (outside one: nothing).
pub(crate) fn keep_request_read(read: Generations) {
    let _ = REQUEST_READ.try_with(|slot| slot.set(Some(read)));
}

/// A write began or committed: the next read of this request reads again.
pub(crate) fn forget_request_read() {
    let _ = REQUEST_READ.try_with(|slot| slot.set(None));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_requests_share_reads_and_none_gets_one_older_than_itself() {
        let shared = Arc::new(SharedReads::default());
        let value = Arc::new(AtomicI64::new(0));
        let reads = Arc::new(AtomicUsize::new(0));
        let read = {
            let value = value.clone();
            let reads = reads.clone();
            move || {
                let value = value.clone();
                let reads = reads.clone();
                async move {
                    reads.fetch_add(1, Ordering::SeqCst);
                    let seen = value.load(Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(Generations {
                        data: seen,
                        auth: 0,
                        departments: 0,
                    })
                }
            }
        };
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let shared = shared.clone();
            let read = read.clone();
            tasks.push(tokio::spawn(async move { shared.get(read).await }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("task"), Ok(Generations::default()));
        }
        assert!(
            reads.load(Ordering::SeqCst) <= 3,
            "50 requests shared a few reads, not one each: {}",
            reads.load(Ordering::SeqCst)
        );
        // A change committed before a request is always seen by it.
        value.store(7, Ordering::SeqCst);
        assert_eq!(shared.get(read.clone()).await.map(|g| g.data), Ok(7));
    }

    #[tokio::test]
    async fn a_request_arriving_during_a_read_waits_for_the_next_one() {
        let shared = Arc::new(SharedReads::default());
        let value = Arc::new(AtomicI64::new(1));
        let read = {
            let value = value.clone();
            move || {
                let seen = value.load(Ordering::SeqCst);
                async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(Generations {
                        data: seen,
                        ..Generations::default()
                    })
                }
            }
        };
        let first = tokio::spawn({
            let shared = shared.clone();
            let read = read.clone();
            async move { shared.get(read).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Committed while the first read is in flight (it saw 1).
        value.store(2, Ordering::SeqCst);
        let second = shared.get(read).await;
        assert_eq!(first.await.expect("task").map(|g| g.data), Ok(1));
        assert_eq!(
            second.map(|g| g.data),
            Ok(2),
            "not the read that began before it"
        );
    }

    #[tokio::test]
    async fn a_failed_read_is_reported_to_those_waiting_for_it() {
        let shared = Arc::new(SharedReads::default());
        let outcome = shared
            .get(|| async { Err::<Generations, _>("database down".to_owned()) })
            .await;
        assert_eq!(outcome, Err("database down".to_owned()));
        let again = shared
            .get(|| async {
                Ok(Generations {
                    data: 3,
                    auth: 4,
                    departments: 5,
                })
            })
            .await;
        assert_eq!(
            again,
            Ok(Generations {
                data: 3,
                auth: 4,
                departments: 5,
            })
        );
    }
}
