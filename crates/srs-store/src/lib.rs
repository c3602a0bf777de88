//! srs persistence: student records on SQLite or MariaDB/MySQL behind one
//! interface. SQL lives here and nowhere else; dialect differences live in
//! [`dialect`].

mod accounts;
mod audit;
mod bulk;
mod changed_since;
mod constraints;
mod counter_slots;
mod departments;
mod dialect;
mod error;
mod filter;
mod folding;
mod fresh;
mod generation;
mod import;
mod login_failures;
mod mysql_counters;
mod notes;
mod overview;
mod rows;
mod sqlite_counters;
mod sqlite_writer;
mod student_values;
mod students;
mod write_marks;
mod write_tx;

pub use accounts::{ApiToken, User};
pub use audit::{Actor, AuditEntry, AuditFilter};
pub use bulk::{BulkChange, BulkOutcome, BulkTarget, MAX_BULK};
pub use departments::DepartmentChange;
pub use error::{DuplicateKind, StoreError, StoreResult, StudentRef};
pub use filter::{Listing, Page, PageRequest, Rendering, Sort, SortKey, StudentFilter};
pub use fresh::{one_read_per_request, Generations};
pub use import::{ImportOptions, ImportRow, RowError, RowRemedy};
pub use login_failures::FailureCount;
pub use notes::{Note, MAX_NOTES};
pub use overview::{Month, Overview, RECENT_CHANGES};
pub use students::{CreateOptions, Created, IdempotencyKey, IDEMPOTENCY_RETENTION};
pub use write_marks::OutsideWrite;

use sqlx::migrate::MigrateDatabase;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use std::str::FromStr;
use std::time::Duration;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file: single site, no DR.
    Sqlite,
    /// MariaDB 10.6+ or MySQL 8.
    MySql,
}

impl Backend {
    /// The engine's name, for logs and health reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::MySql => "mysql",
        }
    }
}

/// SQLite takes one writer at a time: its writes go through a pool of one
/// connection (they queue in the process, in order, instead of many
/// connections retrying on the lock), its reads through the others.
#[derive(Clone)]
struct SqlitePools {
    read: SqlitePool,
    /// The generation counters, read without the pool (see
    /// [`sqlite_counters`]).
    counters: std::sync::Arc<sqlite_counters::CounterReader>,
    writer: std::sync::Arc<sqlite_writer::Writer>,
    checkpoint: SqlitePool,
    /// Stops the checkpointer; `close` waits for it to end before closing
    /// its pool.
    checkpointer: std::sync::Arc<Checkpointer>,
}

/// The background checkpoint task and the signal that stops it.
struct Checkpointer {
    stop: tokio::sync::Notify,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePools),
    /// The pool, and the connection the change counters are read on.
    MySql(MySqlPool, std::sync::Arc<mysql_counters::MySqlCounters>),
}

/// Runs the same read-only body against whichever pool the store holds;
/// the body is compiled once per engine, so it may only use SQL both
/// engines accept.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite(pools) => {
                let $pool = &pools.read;
                $body
            }
            $crate::Pool::MySql($pool, _) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Settings for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Connection-pool occupancy, for metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
}

/// The student-record store: a pool on one engine, and a read cache that
/// the data generation keeps exact.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    cache: std::sync::Arc<generation::ReadCache>,
    reads: std::sync::Arc<fresh::SharedReads>,
    overview_cache: std::sync::Arc<overview::OverviewCache>,
    /// The `change_counters` rows this instance's MariaDB writes hold.
    slots: std::sync::Arc<counter_slots::CounterSlots>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Store {
    /// Opens the database `url` names (`sqlite:PATH` or `mysql://…`), creating
    /// it when missing. Migrations are not applied: call [`Store::migrate`].
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            Self::connect_sqlite(rest, options).await
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            let url = url.replacen("mariadb://", "mysql://", 1);
            Self::connect_mysql(&url, options).await
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StoreError::InvalidUrl(format!(
                "unsupported database URL scheme '{scheme}': use sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE"
            )))
        }
    }

    async fn connect_sqlite(rest: &str, options: &StoreOptions) -> StoreResult<Self> {
        let path = rest.trim_start_matches("//");
        if path.is_empty() {
            return Err(StoreError::InvalidUrl(
                "sqlite URL names no file: use sqlite:PATH, e.g. sqlite:./srs-data/srs.db".into(),
            ));
        }
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::InvalidUrl(format!(
                        "cannot create folder {} for the SQLite database: {e}",
                        parent.display()
                    ))
                })?;
            }
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // 1 MiB of page cache per connection (the default is 2 MiB):
            // the app's own caches answer most reads, and 17 connections
            // each caching the whole file was most of the server's memory.
            .pragma("cache_size", "-1024");
        // The writer first: it creates the file and turns WAL on. It never
        // checkpoints itself (copying the log into the file and syncing it
        // would stall the write that crossed the threshold): a checkpointer
        // of its own does that every second, beside the writes.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await?;
        // Every process on the file marks its writes there: one that could
        // not would leave the others' cached reads behind its writes.
        let marks = std::sync::Arc::new(
            write_marks::WriteMarks::open(std::path::Path::new(path))
                .map_err(StoreError::Unavailable)?,
        );
        let writer = sqlite_writer::Writer::new(write, marks.clone());
        let stopper = std::sync::Arc::new(Checkpointer {
            stop: tokio::sync::Notify::new(),
            task: std::sync::Mutex::new(None),
        });
        let task = tokio::spawn(checkpoint_every_second(
            checkpointer.clone(),
            writer.clone(),
            stopper.clone(),
        ));
        if let Ok(mut slot) = stopper.task.lock() {
            *slot = Some(task);
        }
        let read = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.read_only(true))
            .await?;
        Ok(Self {
            pool: Pool::Sqlite(SqlitePools {
                read,
                counters: std::sync::Arc::new(sqlite_counters::CounterReader::new(
                    path.into(),
                    marks,
                )),
                writer,
                checkpoint: checkpointer,
                checkpointer: stopper,
            }),
            cache: Default::default(),
            reads: Default::default(),
            overview_cache: Default::default(),
            slots: Default::default(),
        })
    }

    async fn connect_mysql(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let connect = MySqlConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(format!("invalid MySQL URL: {e}")))?;
        if connect.get_database().is_none() {
            return Err(StoreError::InvalidUrl(
                "MySQL URL names no database: add /DATABASE at its end".into(),
            ));
        }
        let exists =
            tokio_timeout(options.acquire_timeout, sqlx::MySql::database_exists(url)).await?;
        if !exists {
            tracing::info!("creating the database named in the URL");
            tokio_timeout(options.acquire_timeout, sqlx::MySql::create_database(url)).await?;
        }
        let pool = MySqlPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await?;
        let counters = mysql_counters::MySqlCounters::new(connect, options.acquire_timeout);
        Ok(Self {
            pool: Pool::MySql(pool, std::sync::Arc::new(counters)),
            cache: Default::default(),
            reads: Default::default(),
            overview_cache: Default::default(),
            slots: Default::default(),
        })
    }

    /// The engine this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::MySql(..) => Backend::MySql,
        }
    }

    /// Applies the versioned migrations that have not run yet.
    pub async fn migrate(&self) -> StoreResult<()> {
        self.migrate_up_to(None).await
    }

    /// Applies the migrations not run yet, up to and including `version`
    /// (all of them when None): a restore rebuilds the schema a backup was
    /// taken with, loads it, then brings it up to date.
    pub async fn migrate_up_to(&self, version: Option<i64>) -> StoreResult<()> {
        let mut migrator = match self.backend() {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::MySql => sqlx::migrate!("./migrations/mysql"),
        };
        if version.is_none() && self.applied_all(&migrator).await {
            // Nothing to write: a read-only replica whose schema arrived by
            // replication starts without touching it.
            return self.refold_if_needed().await;
        }
        if let Some(version) = version {
            let kept: Vec<_> = migrator
                .migrations
                .iter()
                .filter(|m| m.version <= version)
                .cloned()
                .collect();
            migrator.migrations = kept.into();
        }
        match &self.pool {
            Pool::Sqlite(p) => {
                // A migration may change rows the caches hold.
                let _marked = p.writer.marks().marked();
                migrator.run(p.writer.pool()).await?
            }
            Pool::MySql(p, _) => migrator.run(p).await?,
        }
        // Only at the newest schema: a restore loads rows at the backup's
        // version first, and refolds when it brings the schema up to date.
        if version.is_none() {
            self.refold_if_needed().await?;
        }
        Ok(())
    }

    /// Whether every migration of `migrator` is recorded as applied.
    async fn applied_all(&self, migrator: &sqlx::migrate::Migrator) -> bool {
        let applied: Result<Vec<i64>, sqlx::Error> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(p)
                .await
        });
        let Ok(applied) = applied else {
            return false;
        };
        migrator.iter().all(|m| applied.contains(&m.version))
    }

    /// The newest schema version this build of srs knows.
    pub fn known_schema_version(backend: Backend) -> i64 {
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::MySql => sqlx::migrate!("./migrations/mysql"),
        };
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, p => {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    /// Connection-pool occupancy.
    pub fn pool_stats(&self) -> PoolStats {
        let stats = |size: u32, idle: usize| (size, u32::try_from(idle).unwrap_or(u32::MAX));
        let (size, idle) = match &self.pool {
            Pool::Sqlite(p) => {
                let (rs, ri) = stats(p.read.size(), p.read.num_idle());
                let (ws, wi) = stats(p.writer.pool().size(), p.writer.pool().num_idle());
                (rs + ws, ri + wi)
            }
            Pool::MySql(p, _) => stats(p.size(), p.num_idle()),
        };
        PoolStats { size, idle }
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => {
                p.checkpointer.stop.notify_one();
                let task = p.checkpointer.task.lock().ok().and_then(|mut t| t.take());
                if let Some(task) = task {
                    let _ = task.await;
                }
                p.counters.close();
                p.read.close().await;
                p.writer.close().await;
                p.checkpoint.close().await;
                // A connection the pool was still opening when it closed
                // is counted, and closed by closing again.
                for _ in 0..100 {
                    if p.read.size() + p.writer.pool().size() + p.checkpoint.size() == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    p.read.close().await;
                    p.writer.pool().close().await;
                    p.checkpoint.close().await;
                }
            }
            Pool::MySql(p, counters) => {
                counters.close().await;
                p.close().await;
            }
        }
    }
}

/// Log frames (4 KiB pages, so 64 MiB) past which the writer empties the log.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// Copies the SQLite log into the database file every second (PASSIVE: it
/// waits for no reader and blocks no writer), until the store is closed;
/// asks the writer to empty the log once it holds `WAL_RESTART_FRAMES`.
async fn checkpoint_every_second(
    pool: SqlitePool,
    writer: std::sync::Arc<sqlite_writer::Writer>,
    stopper: std::sync::Arc<Checkpointer>,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stopper.stop.notified() => return,
        }
        if pool.is_closed() {
            return;
        }
        writer.commit_stranded().await;
        let began = std::time::Instant::now();
        let done: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await;
        match done {
            Ok((_, log_frames, _)) => {
                if log_frames > WAL_RESTART_FRAMES {
                    writer.want_restart();
                }
                let took = began.elapsed();
                if took > Duration::from_millis(100) {
                    tracing::info!(
                        took_ms = took.as_millis() as u64,
                        "slow SQLite checkpoint (off the request path)"
                    );
                }
            }
            Err(e) if pool.is_closed() => {
                tracing::debug!(error = %e, "checkpointer stopped");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; retrying in 1 s"),
        }
    }
}

/// Bounds a connection attempt so an unreachable server fails start-up
/// with a message instead of hanging.
async fn tokio_timeout<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> StoreResult<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result.map_err(StoreError::from),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer from the database within {} s",
            limit.as_secs()
        ))),
    }
}

#[cfg(test)]
mod close_tests {
    /// Closing a SQLite store lets go of the file: a restore refuses to
    /// replace a file any process holds open.
    #[tokio::test(flavor = "multi_thread")]
    async fn closing_a_sqlite_store_closes_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("close.db");
        for _ in 0..20 {
            let store =
                crate::Store::connect(&format!("sqlite:{}", path.display()), &Default::default())
                    .await
                    .expect("connect");
            store.migrate().await.expect("migrate");
            // Reading the change counters opens a connection of its own.
            store.generations().await.expect("counters");
            store.close().await;
            let canon = path.canonicalize().expect("the file exists");
            let mut open = 0;
            for _ in 0..200 {
                open = std::fs::read_dir("/proc/self/fd")
                    .expect("/proc")
                    .flatten()
                    .filter(|f| std::fs::read_link(f.path()).is_ok_and(|t| t == canon))
                    .count();
                if open == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(open, 0, "descriptors still open after close");
        }
    }
}

#[cfg(test)]
mod request_read_tests {
    use crate::{one_read_per_request, Generations, Store};

    /// One request reads the counters once, however many cached reads it
    /// makes, and again after a write of its own (it reads its writes).
    #[tokio::test(flavor = "multi_thread")]
    async fn a_request_reads_the_counters_once_and_again_after_its_own_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite:{}", dir.path().join("request.db").display());
        let store = Store::connect(&url, &Default::default())
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        let other = Store::connect(&url, &Default::default())
            .await
            .expect("a second instance");
        let start = store.generations().await.expect("read");
        one_read_per_request(async {
            let first = store.generations().await.expect("read");
            assert_eq!(first, start);
            // Another instance's write after the request arrived (in a
            // task of its own, as in another process): the request may
            // be answered without it.
            let elsewhere = other.clone();
            tokio::spawn(async move {
                elsewhere
                    .advance_generations_past(Generations::default())
                    .await
            })
            .await
            .expect("task")
            .expect("write");
            assert_eq!(store.generations().await.expect("read"), first);
            store
                .advance_generations_past(Generations::default())
                .await
                .expect("own write");
            let after = store.generations().await.expect("read");
            assert_eq!(
                after.data,
                first.data + 2,
                "its own write and the one before it"
            );
        })
        .await;
        // Outside a request every call reads.
        other
            .advance_generations_past(Generations::default())
            .await
            .expect("write");
        assert_eq!(
            store.generations().await.expect("read").data,
            start.data + 3
        );
        store.close().await;
        other.close().await;
    }
}
