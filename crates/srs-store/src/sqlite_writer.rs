//! SQLite's single writer, with group commit.
//!
//! SQLite takes one writer at a time. Every write of the process goes
//! through one connection; writes that queue up while one runs share its
//! transaction, each inside its own savepoint (a write that fails rolls
//! back only itself), and the group commits once: when no write is
//! waiting, or after `MAX_GROUP` writes or `MAX_GROUP_AGE`. A write is
//! answered only after its group committed, so an acknowledged write is
//! always durable; if the commit fails, every write of the group gets the
//! error and none of them happened.

use crate::write_marks::WriteMarks;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use sqlx::{Executor, Transaction};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Most writes one commit carries.
const MAX_GROUP: u32 = 64;
/// Longest a group stays open while writes keep coming.
const MAX_GROUP_AGE: Duration = Duration::from_millis(10);
/// Outcomes of finished groups kept for writes still to read theirs.
const KEPT_OUTCOMES: usize = 256;

/// How SQLite says a savepoint is not open (released already, or never
/// opened because the write was cancelled first).
const NO_SUCH_SAVEPOINT: &str = "no such savepoint";

/// The open group transaction.
struct Open {
    tx: Option<Transaction<'static, Sqlite>>,
    group: u64,
    writes: u32,
    since: Instant,
    /// The savepoint of the write that has the turn, named before it is
    /// opened and forgotten once it is released: a write that ended
    /// without releasing it (dropped early, or cancelled mid-statement) is
    /// rolled back to it before the connection's next use.
    savepoint: Option<String>,
    /// Names each write's savepoint apart from the others'.
    writes_ever: u64,
}

impl Open {
    /// Rolls back the savepoint a dropped write left open, if any. A
    /// savepoint that is not open (its RELEASE ran although the write was
    /// cancelled before hearing so, or it was never opened) has nothing
    /// to undo.
    async fn undo_dropped_write(&mut self) -> Result<(), sqlx::Error> {
        let Some(name) = self.savepoint.take() else {
            return Ok(());
        };
        let Some(tx) = self.tx.as_mut() else {
            return Ok(());
        };
        let conn: &mut SqliteConnection = tx;
        let undo = format!("ROLLBACK TO {name}; RELEASE {name}");
        match conn.execute(undo.as_str()).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains(NO_SUCH_SAVEPOINT) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The writer: one connection, one open group at a time.
pub(crate) struct Writer {
    pool: SqlitePool,
    /// Told when a group opens and when it ends (see `write_marks.rs`).
    marks: Arc<WriteMarks>,
    open: tokio::sync::Mutex<Open>,
    waiting: AtomicUsize,
    outcomes: Mutex<BTreeMap<u64, Result<(), String>>>,
    committed: Notify,
    restart_wanted: AtomicBool,
}

/// Counts a write waiting for its turn, until dropped (also when the
/// waiting write is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A write's turn on the connection; `finish` (or drop, for a write that
/// returned early) hands it on.
pub(crate) struct Turn<'a> {
    writer: &'a Arc<Writer>,
    open: Option<tokio::sync::MutexGuard<'a, Open>>,
}

impl Writer {
    /// A writer over `pool` (one connection) that marks its groups in
    /// `marks`.
    pub(crate) fn new(pool: SqlitePool, marks: Arc<WriteMarks>) -> Arc<Self> {
        Arc::new(Self {
            pool,
            marks,
            open: tokio::sync::Mutex::new(Open {
                tx: None,
                group: 0,
                writes: 0,
                since: Instant::now(),
                savepoint: None,
                writes_ever: 0,
            }),
            waiting: AtomicUsize::new(0),
            outcomes: Mutex::new(BTreeMap::new()),
            committed: Notify::new(),
            restart_wanted: AtomicBool::new(false),
        })
    }

    /// Asks for the log to be emptied after the next commit: background
    /// checkpoints copy it into the file, but under a steady stream of
    /// writes and reads the log is never started over and grows.
    pub(crate) fn want_restart(&self) {
        self.restart_wanted.store(true, Ordering::SeqCst);
    }

    /// Commits a group no write is left to close (its last writes were
    /// cancelled while waiting): called every second, so a group never
    /// holds the connection, nor its writes' callers, for long.
    pub(crate) async fn commit_stranded(self: &Arc<Self>) {
        let Ok(mut open) = self.open.try_lock() else {
            return; // a write holds it and will close the group
        };
        if open.tx.is_some() && open.since.elapsed() >= MAX_GROUP_AGE * 10 {
            tracing::debug!(
                group = open.group,
                "committing a group its writes left open"
            );
            let _ = self.commit(&mut open).await;
        }
    }

    /// Commits the open group, if any, and closes the connection.
    pub(crate) async fn close(self: &Arc<Self>) {
        {
            let mut open = self.open.lock().await;
            let _ = self.commit(&mut open).await;
        }
        self.pool.close().await;
    }

    /// Where its writes are marked (migrations mark theirs there too).
    pub(crate) fn marks(&self) -> &WriteMarks {
        &self.marks
    }

    /// The pool it writes through (for migrations and closing).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Waits for the connection; the group transaction is open when this
    /// returns.
    pub(crate) async fn turn(self: &Arc<Self>) -> Result<Turn<'_>, sqlx::Error> {
        let waiting = Waiting::new(&self.waiting);
        let mut open = self.open.lock().await;
        drop(waiting);
        if open.undo_dropped_write().await.is_err() {
            // The group's state is unknown: it ends here, failed for the
            // writes in it (commit records that), and this write starts a
            // new one.
            let _ = self.commit(&mut open).await;
        }
        if open.tx.is_none() {
            // Ended here if the transaction does not open, also when this
            // write is dropped while it opens: nothing of it can commit.
            let opening = self.marks.marked();
            open.tx = Some(self.pool.begin().await?);
            // Open: ended with the group's commit.
            opening.carry_on();
            open.group += 1;
            open.writes = 0;
            open.since = Instant::now();
        }
        open.writes += 1;
        Ok(Turn {
            writer: self,
            open: Some(open),
        })
    }

    fn record(&self, group: u64, outcome: Result<(), String>) {
        {
            let mut outcomes = self.outcomes.lock().unwrap_or_else(PoisonError::into_inner);
            outcomes.insert(group, outcome);
            while outcomes.len() > KEPT_OUTCOMES {
                outcomes.pop_first();
            }
        }
        self.committed.notify_waiters();
    }

    /// Commits the open group, if any; its outcome goes to every write in it.
    async fn commit(self: &Arc<Self>, open: &mut Open) -> Result<(), String> {
        let undone = open.undo_dropped_write().await;
        let Some(tx) = open.tx.take() else {
            return Ok(());
        };
        let group = open.group;
        let writer = self.clone();
        // In a task of its own, awaited here: a caller dropped while the
        // group commits (a write timeout, a client gone, shutdown) must
        // not leave the group's outcome unrecorded, for its other writes
        // wait for it, nor its end unmarked, which would send every
        // cached read of every process to the file for good. Marked ended
        // only once the commit returned: ended earlier, a read could take
        // the counters from before it for current.
        let finished = tokio::spawn(async move {
            let outcome = match undone {
                // The group's state is unknown: none of its writes happened.
                Err(e) => {
                    drop(tx);
                    Err(format!("a failed write could not be undone: {e}"))
                }
                Ok(()) => tx.commit().await.map_err(|e| e.to_string()),
            };
            // Committed or rolled back: either way nothing of it is in flight.
            writer.marks.end();
            writer.record(group, outcome.clone());
            outcome
        });
        let outcome = finished
            .await
            .unwrap_or_else(|e| Err(format!("the commit stopped: {e}")));
        if self.restart_wanted.swap(false, Ordering::SeqCst) {
            // Between groups, while no write runs: waits for readers still
            // in the log (milliseconds), copies what the background
            // checkpoints have not, and truncates the log.
            let began = Instant::now();
            match sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await
            {
                Ok(_) => tracing::info!(
                    took_ms = began.elapsed().as_millis() as u64,
                    "SQLite log emptied"
                ),
                Err(e) => tracing::warn!(error = %e, "SQLite log not emptied; asking again later"),
            }
        }
        outcome
    }

    async fn outcome_of(self: &Arc<Self>, group: u64) -> Result<(), String> {
        loop {
            let committed = self.committed.notified();
            tokio::pin!(committed);
            committed.as_mut().enable();
            {
                let outcomes = self.outcomes.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(outcome) = outcomes.get(&group) {
                    return outcome.clone();
                }
                if outcomes.keys().next().is_some_and(|first| *first > group) {
                    return Err("the outcome of the write's commit was lost".into());
                }
            }
            if tokio::time::timeout(MAX_GROUP_AGE * 2, committed)
                .await
                .is_err()
            {
                // The write expected to close the group went away before
                // its turn: close it here.
                let mut open = self.open.lock().await;
                if open.group == group && open.tx.is_some() {
                    let _ = self.commit(&mut open).await;
                }
            }
        }
    }
}

impl Turn<'_> {
    /// Opens the write's savepoint: what the write does until
    /// `release_savepoint` is undone if the turn is dropped first.
    pub(crate) async fn open_savepoint(&mut self) -> Result<(), sqlx::Error> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        open.writes_ever += 1;
        let name = format!("srs_write_{}", open.writes_ever);
        // Named before it is opened: a write cancelled while SQLite opens
        // it is still undone.
        open.savepoint = Some(name.clone());
        let sql = format!("SAVEPOINT {name}");
        self.conn().execute(sql.as_str()).await?;
        Ok(())
    }

    /// Keeps what the write did, as part of the group.
    pub(crate) async fn release_savepoint(&mut self) -> Result<(), sqlx::Error> {
        let Some(name) = self.open.as_ref().and_then(|o| o.savepoint.clone()) else {
            return Ok(());
        };
        let sql = format!("RELEASE {name}");
        self.conn().execute(sql.as_str()).await?;
        if let Some(open) = self.open.as_mut() {
            open.savepoint = None;
        }
        Ok(())
    }

    /// The connection, inside the group transaction (and the write's
    /// savepoint, once `open_savepoint` opened it).
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        match self.open.as_mut().and_then(|o| o.tx.as_mut()) {
            Some(tx) => tx,
            None => unreachable!("a turn always holds the open transaction"),
        }
    }

    /// Ends the write: commits the group when it should, else leaves that to
    /// a later write; returns once the write's group committed.
    pub(crate) async fn finish(mut self) -> Result<(), sqlx::Error> {
        let writer = self.writer;
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let group = open.group;
        let close_now = writer.waiting.load(Ordering::SeqCst) == 0
            || open.writes >= MAX_GROUP
            || open.since.elapsed() >= MAX_GROUP_AGE;
        let outcome = if close_now {
            writer.commit(&mut open).await
        } else {
            drop(open);
            writer.outcome_of(group).await
        };
        outcome.map_err(|e| sqlx::Error::Protocol(format!("the transaction did not commit: {e}")))
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // A write that returned early (its savepoint is rolled back): the
        // group must still commit for the others in it.
        if let Some(open) = self.open.take() {
            let nobody_next = self.writer.waiting.load(Ordering::SeqCst) == 0;
            drop(open);
            if nobody_next {
                let writer = self.writer.clone();
                tokio::spawn(async move {
                    let mut open = writer.open.lock().await;
                    let _ = writer.commit(&mut open).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqliteConnectOptions;

    async fn writer(dir: &tempfile::TempDir) -> (Arc<Writer>, SqlitePool) {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("w.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .expect("writer");
        sqlx::query("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .expect("table");
        let reader = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("reader");
        let marks = WriteMarks::open(&dir.path().join("w.db")).expect("marks");
        (Writer::new(pool, Arc::new(marks)), reader)
    }

    /// One write as the store does it (`write_tx.rs`): a savepoint, the
    /// statement, its release, then the group's commit.
    async fn insert(writer: &Arc<Writer>, v: i64) -> Result<(), sqlx::Error> {
        let mut turn = writer.turn().await?;
        turn.open_savepoint().await?;
        sqlx::query("INSERT INTO t (v) VALUES (?)")
            .bind(v)
            .execute(turn.conn())
            .await?;
        turn.release_savepoint().await?;
        turn.finish().await
    }

    async fn count(reader: &SqlitePool) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(reader)
            .await
            .expect("count")
    }

    #[tokio::test]
    async fn concurrent_writes_share_commits_and_a_failed_one_loses_only_itself() {
        let dir = tempfile::tempdir().expect("dir");
        let (writer, reader) = writer(&dir).await;
        let mut tasks = Vec::new();
        for v in 0..200 {
            let writer = writer.clone();
            // 7 is written twice: the second fails on the key, alone.
            let v = if v == 100 { 7 } else { v };
            tasks.push(tokio::spawn(async move { insert(&writer, v).await }));
        }
        let mut failed = 0;
        for t in tasks {
            if t.await.expect("task").is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 1, "only the duplicate failed");
        assert_eq!(
            count(&reader).await,
            199,
            "every acknowledged write is committed"
        );
        let groups = writer.open.lock().await.group;
        assert!(groups < 199, "writes shared commits: {groups} groups");
        assert!(
            writer.marks().quiet().is_some(),
            "every group that began, the failed one's too, was marked ended"
        );
    }

    #[tokio::test]
    async fn a_dropped_write_is_undone_before_its_group_commits_and_a_released_one_is_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let (writer, reader) = writer(&dir).await;
        let write = |v: i64| {
            let writer = &writer;
            async move {
                let mut turn = writer.turn().await?;
                turn.open_savepoint().await?;
                sqlx::query("INSERT INTO t (v) VALUES (?)")
                    .bind(v)
                    .execute(turn.conn())
                    .await?;
                Ok::<_, sqlx::Error>(turn)
            }
        };
        // Kept: released, then the turn ends.
        let mut kept = write(1).await.expect("write");
        kept.release_savepoint().await.expect("release");
        kept.finish().await.expect("committed");
        // Dropped before its release, as an early `?` return does.
        drop(write(2).await.expect("write"));
        // Released, then dropped before finishing, as a request cancelled
        // after its RELEASE ran: what it did stays, and the undo that finds
        // no open savepoint harms nothing.
        let mut released = write(3).await.expect("write");
        released.release_savepoint().await.expect("release");
        if let Some(open) = released.open.as_mut() {
            open.savepoint = Some("srs_write_3".into());
        }
        drop(released);
        insert(&writer, 4)
            .await
            .expect("the next write goes through");
        let values: Vec<i64> = sqlx::query_scalar("SELECT v FROM t ORDER BY v")
            .fetch_all(&reader)
            .await
            .expect("rows");
        assert_eq!(values, vec![1, 3, 4]);
    }

    #[tokio::test]
    async fn a_write_that_gives_up_midway_neither_lands_nor_blocks_the_others() {
        let dir = tempfile::tempdir().expect("dir");
        let (writer, reader) = writer(&dir).await;
        {
            let mut turn = writer.turn().await.expect("turn");
            turn.open_savepoint().await.expect("savepoint");
            sqlx::query("INSERT INTO t (v) VALUES (1)")
                .execute(turn.conn())
                .await
                .expect("insert");
            // Dropped without its release or finish, as an early `?`
            // return does.
        }
        insert(&writer, 2)
            .await
            .expect("the next write goes through");
        let values: Vec<i64> = sqlx::query_scalar("SELECT v FROM t")
            .fetch_all(&reader)
            .await
            .expect("rows");
        assert_eq!(values, vec![2]);
        // A lone write that gives up still lets its group close.
        {
            let _turn = writer.turn().await.expect("turn");
        }
        insert(&writer, 3).await.expect("and the next");
        assert_eq!(count(&reader).await, 2);
    }

    #[tokio::test]
    async fn writes_dropped_anywhere_on_their_way_leave_the_marks_level() {
        let dir = tempfile::tempdir().expect("dir");
        let (writer, reader) = writer(&dir).await;
        // Writes cut off at every point of their way (waiting for the
        // turn, opening, inserting, committing), as a write timeout or a
        // client going away does.
        for round in 0..40u64 {
            let mut tasks = Vec::new();
            for v in 0..8 {
                let writer = writer.clone();
                tasks.push(tokio::spawn(async move {
                    let _ = insert(&writer, i64::try_from(round * 8 + v).unwrap_or(0)).await;
                }));
            }
            tokio::time::sleep(Duration::from_micros(round * 50)).await;
            for t in &tasks {
                t.abort();
            }
            for t in tasks {
                let _ = t.await;
            }
        }
        // Groups cut off mid-commit finish in their own task; a group
        // whose every write was cut off before closing it (while waiting
        // for the turn, or while undoing a dropped write's savepoint) is
        // committed by the store's checkpointer, every second, as here.
        let deadline = Instant::now() + Duration::from_secs(5);
        while writer.marks().quiet().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            writer.commit_stranded().await;
        }
        assert!(
            writer.marks().quiet().is_some(),
            "every group that began was marked ended"
        );
        insert(&writer, 1_000_000).await.expect("and writes go on");
        assert!(count(&reader).await >= 1);
    }
}
