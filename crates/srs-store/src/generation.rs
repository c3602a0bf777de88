//! The data generation and the read cache it validates.
//!
//! Every write transaction adds one to a row of `change_counters` (on
//! MariaDB one per write in flight, see `counter_slots.rs`); their sum grows with every committed
//! write, on any app instance. A read first fetches the sum and serves a cached
//! result only if it was computed at that same generation, so cached
//! answers are exact, never stale: they reflect the data as of the read.

use crate::filter::{Listing, PageRequest, StudentFilter};
use crate::fresh::Generations;
use crate::{Store, StoreError, StoreResult};
use srs_domain::Student;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most cached list pages; beyond it the cache starts over. A page of 50
/// with its three renderings holds about 100 KB, so at most about 25 MB.
const MAX_CACHED_LISTS: usize = 256;

type ListKey = (StudentFilter, PageRequest);

/// Most students cached by id; beyond it the cache starts over.
const MAX_CACHED_STUDENTS: usize = 16_384;

/// Most cached credentials (sessions and tokens, each); beyond it the
/// cache starts over.
const MAX_CACHED_CREDENTIALS: usize = 4096;

/// A session as last read from the database.
#[derive(Debug, Clone)]
pub(crate) struct CachedSession {
    pub(crate) user: crate::User,
    pub(crate) last_seen_at: chrono::DateTime<chrono::Utc>,
    pub(crate) expires_at: chrono::DateTime<chrono::Utc>,
}

/// A token as last read from the database.
#[derive(Debug, Clone)]
pub(crate) struct CachedToken {
    pub(crate) user: crate::User,
    pub(crate) token: crate::ApiToken,
}

/// Results of recent reads, each with the generation it was computed at:
/// the data generation for records, the credential generation for
/// sessions and tokens.
#[derive(Default)]
pub(crate) struct ReadCache {
    lists: Mutex<HashMap<ListKey, (i64, Arc<Listing>)>>,
    students: Mutex<HashMap<i64, (i64, Student)>>,
    department_names: Mutex<HashMap<bool, (i64, Vec<String>)>>,
    sessions: Mutex<HashMap<String, (i64, CachedSession)>>,
    tokens: Mutex<HashMap<String, (i64, CachedToken)>>,
    /// By name key: the department's id, whether retired, its name.
    departments: Mutex<HashMap<String, (i64, Option<CachedDepartment>)>>,
}

/// A department as a new student's needs it.
#[derive(Debug, Clone)]
pub(crate) struct CachedDepartment {
    pub(crate) id: i64,
    pub(crate) retired: bool,
    pub(crate) name: String,
}

fn lookup<K, Q, V>(map: &Mutex<HashMap<K, (i64, V)>>, key: &Q, generation: i64) -> Option<V>
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
    V: Clone,
{
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
    remember_at_most(map, key, generation, value, MAX_CACHED_LISTS);
}

fn remember_at_most<K: std::hash::Hash + Eq, V>(
    map: &Mutex<HashMap<K, (i64, V)>>,
    key: K,
    generation: i64,
    value: V,
    most: usize,
) {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= most {
        map.clear();
    }
    map.insert(key, (generation, value));
}

impl ReadCache {
    /// `Some(None)`: known not to exist at that generation.
    pub(crate) fn department(
        &self,
        name_key: &str,
        generation: i64,
    ) -> Option<Option<CachedDepartment>> {
        lookup(&self.departments, name_key, generation)
    }

    pub(crate) fn remember_department(
        &self,
        name_key: &str,
        generation: i64,
        d: Option<CachedDepartment>,
    ) {
        remember(&self.departments, name_key.to_owned(), generation, d);
    }

    pub(crate) fn student(&self, id: i64, generation: i64) -> Option<Student> {
        lookup(&self.students, &id, generation)
    }

    pub(crate) fn remember_student(&self, id: i64, generation: i64, s: Student) {
        remember_at_most(&self.students, id, generation, s, MAX_CACHED_STUDENTS);
    }

    pub(crate) fn session(&self, id_hash: &str, generation: i64) -> Option<CachedSession> {
        lookup(&self.sessions, id_hash, generation)
    }

    pub(crate) fn remember_session(&self, id_hash: &str, generation: i64, s: CachedSession) {
        remember_at_most(
            &self.sessions,
            id_hash.to_owned(),
            generation,
            s,
            MAX_CACHED_CREDENTIALS,
        );
    }

    pub(crate) fn token(&self, token_hash: &str, generation: i64) -> Option<CachedToken> {
        lookup(&self.tokens, token_hash, generation)
    }

    pub(crate) fn remember_token(&self, token_hash: &str, generation: i64, t: CachedToken) {
        remember_at_most(
            &self.tokens,
            token_hash.to_owned(),
            generation,
            t,
            MAX_CACHED_CREDENTIALS,
        );
    }

    pub(crate) fn list(&self, key: &ListKey, generation: i64) -> Option<Arc<Listing>> {
        lookup(&self.lists, key, generation)
    }

    pub(crate) fn remember_list(&self, key: ListKey, generation: i64, listing: Arc<Listing>) {
        remember(&self.lists, key, generation, listing);
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
        Ok(self.generations().await?.data)
    }

    /// Moves every generation past `past` (read before the database was
    /// replaced by a restore): app instances still running compare their
    /// caches with these counters, and a restored database starts from the
    /// backup's older values, which they may have seen with other data.
    pub async fn advance_generations_past(&self, past: Generations) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        tx.execute(
            "UPDATE change_counters SET n = n + ? WHERE slot = 0",
            &[(past.data + 1).into()],
        )
        .await?;
        tx.execute(
            "UPDATE auth_changes SET n = n + ? WHERE id = 1",
            &[(past.auth + 1).into()],
        )
        .await?;
        tx.execute(
            "UPDATE department_changes SET n = n + ? WHERE id = 1",
            &[(past.departments + 1).into()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The data and credential generations, from a read that started after
    /// this call, or, inside [`crate::one_read_per_request`], after the
    /// request arrived and since its last write: on SQLite read in place
    /// (see [`crate::sqlite_counters`]), on MariaDB shared with concurrent
    /// callers (see [`crate::fresh`]).
    pub async fn generations(&self) -> StoreResult<Generations> {
        if let Some(read) = crate::fresh::request_read() {
            return Ok(read);
        }
        let read = self.read_generations().await?;
        crate::fresh::keep_request_read(read);
        Ok(read)
    }

    async fn read_generations(&self) -> StoreResult<Generations> {
        let counters = match &self.pool {
            crate::Pool::Sqlite(p) => return p.counters.read().map_err(StoreError::Unavailable),
            crate::Pool::MySql(_, counters) => counters.clone(),
        };
        self.reads
            .get(move || {
                let counters = counters.clone();
                async move { counters.read().await }
            })
            .await
            .map_err(StoreError::Unavailable)
    }
}

/// Every counter in one statement, as (kind, n) rows, on either engine;
/// `change_counters` has several slots (256 on MariaDB) so that concurrent
/// writers do not contend on one row, summed here (cast: MariaDB's SUM of
/// integers is a decimal).
pub(crate) const COUNTERS_SQL: &str =
    "SELECT 0 AS kind, CAST(SUM(n) AS SIGNED) FROM change_counters UNION ALL SELECT 1 AS kind, n FROM auth_changes \
     UNION ALL SELECT 2 AS kind, n FROM department_changes";

impl FromIterator<(i64, i64)> for Generations {
    /// Sums [`COUNTERS_SQL`]'s rows by kind.
    fn from_iter<I: IntoIterator<Item = (i64, i64)>>(rows: I) -> Self {
        let mut g = Generations::default();
        for (kind, n) in rows {
            match kind {
                0 => g.data += n,
                1 => g.auth += n,
                _ => g.departments += n,
            }
        }
        g
    }
}
