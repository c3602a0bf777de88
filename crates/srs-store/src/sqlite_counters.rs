//! The generation counters of a SQLite database, read on the caller's
//! own thread.
//!
//! Every cached read checks these counters, so their read is on the path
//! of every request. Through the read pool it cost two thread hand-offs
//! (to sqlx's connection thread and back) for a query that takes
//! microseconds: most of a cached read's time when requests come one at a
//! time (measured: a request alone 360 us with it, see docs/BENCHMARKS.md).
//! Read here it is one prepared statement under a mutex. It is as exact as
//! before: a read that starts after a request arrived sees every change
//! committed before it, by this process's writer or by any other.

use crate::fresh::Generations;
use crate::generation::COUNTERS_SQL;
use crate::write_marks::WriteMarks;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A reading readers in WAL mode wait for only while the log is being
/// recovered or reset; a wait longer than this is an error to report, not
/// a reason to hold a worker thread.
const BUSY_TIMEOUT: Duration = Duration::from_millis(500);

/// How many connections read the counters: one per runtime thread busy
/// at once, so that a read rarely waits for another's lock.
const CONNECTIONS: usize = 4;

/// A few read-only connections, each opened at its first read and again
/// after an error.
#[derive(Debug)]
pub(crate) struct CounterReader {
    path: PathBuf,
    connections: [Mutex<Option<Connection>>; CONNECTIONS],
    /// Set by `close`: the file is let go of and not opened again.
    closed: std::sync::atomic::AtomicBool,
    /// Says when the last read still holds, so the file is not read.
    marks: Arc<WriteMarks>,
}

impl CounterReader {
    /// A reader of the database file at `path` (opened when first read),
    /// whose writers mark their writes in `marks`.
    pub(crate) fn new(path: PathBuf, marks: Arc<WriteMarks>) -> Self {
        Self {
            path,
            connections: Default::default(),
            closed: Default::default(),
            marks,
        }
    }

    /// Closes every connection (a restore refuses to replace a file any
    /// process holds open); later reads fail.
    pub(crate) fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        for slot in &self.connections {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }

    /// The counters as committed now: the last read's while the write
    /// marks say nothing was written since it (see `write_marks.rs`), else
    /// read from the file.
    pub(crate) fn read(&self) -> Result<Generations, String> {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            // Not even the last read: the file may be replaced by now.
            return Err(format!("{}: the store is closed", self.path.display()));
        }
        self.marks.current(|| self.read_file())
    }

    /// The counters as the file holds them now.
    fn read_file(&self) -> Result<Generations, String> {
        let mut slot = self
            .connections
            .iter()
            .find_map(|c| c.try_lock().ok())
            .unwrap_or_else(|| {
                self.connections[0]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
            });
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            *slot = None;
            return Err(format!("{}: the store is closed", self.path.display()));
        }
        if slot.is_none() {
            *slot = Some(self.open().map_err(|e| self.describe(&e))?);
        }
        let outcome = slot.as_ref().map(read_counters);
        match outcome {
            Some(Ok(g)) => Ok(g),
            Some(Err(e)) => {
                // Opened again next time: a connection in an unknown state
                // is not worth keeping.
                *slot = None;
                Err(self.describe(&e))
            }
            None => Err(format!("{}: no connection", self.path.display())),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        Ok(connection)
    }

    fn describe(&self, e: &rusqlite::Error) -> String {
        format!(
            "reading the change counters of {}: {e}",
            self.path.display()
        )
    }
}

fn read_counters(connection: &Connection) -> rusqlite::Result<Generations> {
    let mut statement = connection.prepare_cached(COUNTERS_SQL)?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader_of(path: PathBuf) -> CounterReader {
        let marks = Arc::new(WriteMarks::open(&path).expect("marks"));
        CounterReader::new(path, marks)
    }

    fn database(dir: &tempfile::TempDir) -> (PathBuf, Connection) {
        let path = dir.path().join("counters.db");
        let writer = Connection::open(&path).expect("open");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE change_counters (slot INTEGER PRIMARY KEY, n INTEGER NOT NULL);
                 CREATE TABLE auth_changes (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
                 CREATE TABLE department_changes (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
                 INSERT INTO change_counters VALUES (0, 1), (1, 2);
                 INSERT INTO auth_changes VALUES (1, 5);
                 INSERT INTO department_changes VALUES (1, 7);",
            )
            .expect("schema");
        (path, writer)
    }

    #[test]
    fn a_read_sees_every_change_committed_before_it_by_another_connection() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, writer) = database(&dir);
        let reader = reader_of(path);
        let first = reader.read_file().expect("read");
        assert_eq!(
            first,
            Generations {
                data: 3,
                auth: 5,
                departments: 7
            }
        );
        writer
            .execute("UPDATE change_counters SET n = n + 1 WHERE slot = 1", [])
            .expect("bump");
        writer
            .execute("UPDATE auth_changes SET n = n + 1", [])
            .expect("bump");
        let second = reader.read_file().expect("read");
        assert_eq!((second.data, second.auth, second.departments), (4, 6, 7));
    }

    #[test]
    fn a_missing_table_is_an_error_that_names_the_file_and_the_next_read_tries_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("empty.db");
        let writer = Connection::open(&path).expect("open");
        writer
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE other (x INTEGER);")
            .expect("schema");
        let reader = reader_of(path);
        let e = reader.read_file().expect_err("no counters yet");
        assert!(e.contains("empty.db") && e.contains("no such table"), "{e}");
        writer
            .execute_batch(
                "CREATE TABLE change_counters (slot INTEGER PRIMARY KEY, n INTEGER NOT NULL);
                 CREATE TABLE auth_changes (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
                 CREATE TABLE department_changes (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
                 INSERT INTO change_counters VALUES (0, 4);",
            )
            .expect("schema");
        assert_eq!(reader.read_file().expect("read").data, 4);
    }
}
