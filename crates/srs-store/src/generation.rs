//! The data generation and the read cache it validates.
//!
//! Every write transaction adds one to a random row of `change_counters`;
//! their sum grows with every committed write, on any app instance. A read
//! first fetches the sum (16 rows by primary key) and serves a cached
//! result only if it was computed at that same generation, so cached
//! answers are exact, never stale: they reflect the data as of the read.

use crate::filter::{Page, PageRequest, StudentFilter};
use crate::{on_pool, Store, StoreResult};
use srs_domain::Student;
use std::collections::HashMap;
use std::sync::Mutex;

/// Most cached list pages; beyond it the cache starts over.
const MAX_CACHED_LISTS: usize = 1024;

/// Adds one to a random generation slot; evaluates to the statement's
/// future, to be awaited inside the caller's transaction.
macro_rules! bump_generation {
    ($tx:expr) => {
        sqlx::query("UPDATE change_counters SET n = n + 1 WHERE slot = ?")
            .bind(i32::from(rand::random::<u8>() % 16))
            .execute(&mut *$tx)
    };
}
pub(crate) use bump_generation;

/// Runs `$body` in a transaction on `$pool` that also bumps the generation;
/// evaluates to `Result<value of $body, sqlx::Error>`. `$body` may use `?`
/// on driver errors.
macro_rules! in_write_tx {
    ($pool:expr, $tx:ident => $body:expr) => {
        async {
            let mut $tx = $pool.begin().await?;
            let out = $body;
            $crate::generation::bump_generation!($tx).await?;
            $tx.commit().await?;
            Ok::<_, sqlx::Error>(out)
        }
        .await
    };
}
pub(crate) use in_write_tx;

type ListKey = (StudentFilter, PageRequest);

/// Results of recent reads, each with the generation it was computed at.
#[derive(Default)]
pub(crate) struct ReadCache {
    lists: Mutex<HashMap<ListKey, (i64, Page<Student>)>>,
    department_names: Mutex<HashMap<bool, (i64, Vec<String>)>>,
}

fn lookup<K: std::hash::Hash + Eq, V: Clone>(
    map: &Mutex<HashMap<K, (i64, V)>>,
    key: &K,
    generation: i64,
) -> Option<V> {
    let map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match map.get(key) {
        Some((g, v)) if *g == generation => Some(v.clone()),
        _ => None,
    }
}

fn remember<K: std::hash::Hash + Eq, V>(
    map: &Mutex<HashMap<K, (i64, V)>>,
    key: K,
    generation: i64,
    value: V,
) {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= MAX_CACHED_LISTS {
        map.clear();
    }
    map.insert(key, (generation, value));
}

impl ReadCache {
    pub(crate) fn list(&self, key: &ListKey, generation: i64) -> Option<Page<Student>> {
        lookup(&self.lists, key, generation)
    }

    pub(crate) fn remember_list(&self, key: ListKey, generation: i64, page: Page<Student>) {
        remember(&self.lists, key, generation, page);
    }

    pub(crate) fn department_names(
        &self,
        include_retired: bool,
        generation: i64,
    ) -> Option<Vec<String>> {
        lookup(&self.department_names, &include_retired, generation)
    }

    pub(crate) fn remember_department_names(
        &self,
        include_retired: bool,
        generation: i64,
        names: Vec<String>,
    ) {
        remember(&self.department_names, include_retired, generation, names);
    }
}

impl Store {
    /// The current data generation: it grows with every committed write.
    pub async fn generation(&self) -> StoreResult<i64> {
        let slots: Vec<i64> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT n FROM change_counters").fetch_all(p).await?
        });
        Ok(slots.iter().sum())
    }
}
