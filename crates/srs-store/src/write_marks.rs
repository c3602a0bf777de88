//! Whether anything was written to a SQLite database since a moment,
//! known without reading the database.
//!
//! Every process on the database maps one small file beside it (the
//! database's name and `-writes`) holding two counters: writes begun and
//! writes ended. A write adds to the first before its transaction opens
//! and to the second after it committed or rolled back. When the two are
//! equal no write is in flight, and if the second has not moved since a
//! counter read that started after it was seen, nothing committed since:
//! the generations of that read are still the current ones. A cached
//! read then costs two loads from shared memory instead of a read
//! transaction, whose file locks were a sixth of a cached read's CPU
//! (bench/floor.sh). Whenever the two differ, readers read the counters
//! from the database as before: exactness never rests on the marks alone.
//!
//! A process that dies inside a write leaves "begun" ahead for good:
//! reads are then as slow as without the marks, and still exact. The
//! first process to open the file while no other has it open (a lock
//! taken on the file says so) sets the two level again.

use crate::fresh::Generations;
use mmap_io::{MemoryMappedFile, MmapMode};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

const BEGUN: u64 = 0;
const ENDED: u64 = 8;
const SIZE: u64 = 16;

/// The mapped counters of one database, and the last counter read known
/// to be current while nothing is written.
pub(crate) struct WriteMarks {
    map: MemoryMappedFile,
    /// Held shared while the process has the file: another process's
    /// exclusive attempt fails, which tells it it is not alone.
    _lock: File,
    /// "Ended" as seen quiet before a counter read began, and that read.
    known: Mutex<Option<(u64, Generations)>>,
}

impl std::fmt::Debug for WriteMarks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteMarks")
            .field("path", &self.map.path())
            .finish()
    }
}

impl WriteMarks {
    /// The file beside the database at `database`, named from the
    /// database's real path: two processes that name one database
    /// differently (a relative path, a symbolic link to it or to its
    /// folder) must share the marks.
    pub(crate) fn path_for(database: &Path) -> PathBuf {
        let real = match (database.parent(), database.file_name()) {
            (Some(folder), Some(name)) => {
                let folder = if folder.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    folder
                };
                let file = std::fs::canonicalize(folder)
                    .map_or_else(|_| database.to_path_buf(), |folder| folder.join(name));
                // The file itself may be a link too.
                std::fs::canonicalize(&file).unwrap_or(file)
            }
            _ => database.to_path_buf(),
        };
        let mut name = real.into_os_string();
        name.push("-writes");
        PathBuf::from(name)
    }

    /// Maps (creating if need be) the marks of the database at `database`.
    pub(crate) fn open(database: &Path) -> Result<Self, String> {
        let path = Self::path_for(database);
        let describe = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| describe(&e))?;
        // Only ever grown from empty: a file another process already uses
        // keeps its counters.
        if file.metadata().map_err(|e| describe(&e))?.len() < SIZE {
            file.set_len(SIZE).map_err(|e| describe(&e))?;
        }
        let alone = file.try_lock().is_ok();
        let map = MemoryMappedFile::from_file(
            file.try_clone().map_err(|e| describe(&e))?,
            MmapMode::ReadWrite,
            &path,
        )
        .map_err(|e| describe(&e))?;
        let marks = Self {
            map,
            _lock: file,
            known: Mutex::new(None),
        };
        if alone {
            // No other process has the file, so none is inside a write: a
            // difference left by one that died is levelled.
            let begun = marks.load(BEGUN)?;
            marks.store(ENDED, begun)?;
            marks._lock.unlock().map_err(|e| describe(&e))?;
        }
        marks._lock.lock_shared().map_err(|e| describe(&e))?;
        Ok(marks)
    }

    fn load(&self, at: u64) -> Result<u64, String> {
        let view = self.map.atomic_u64(at).map_err(|e| e.to_string())?;
        Ok(view.load(Ordering::SeqCst))
    }

    fn store(&self, at: u64, value: u64) -> Result<(), String> {
        let view = self.map.atomic_u64(at).map_err(|e| e.to_string())?;
        view.store(value, Ordering::SeqCst);
        Ok(())
    }

    fn add(&self, at: u64) {
        match self.map.atomic_u64(at) {
            Ok(view) => {
                view.fetch_add(1, Ordering::SeqCst);
            }
            // Not reachable with the file mapped as opened; if it were,
            // "begun" and "ended" part ways and reads go to the database.
            Err(e) => tracing::warn!(error = %e, "cannot mark a SQLite write"),
        }
    }

    /// A write is about to open its transaction.
    pub(crate) fn begin(&self) {
        self.add(BEGUN);
    }

    /// A write's transaction committed or rolled back.
    pub(crate) fn end(&self) {
        self.add(ENDED);
    }

    /// Marks a write begun; ended when the returned guard is dropped,
    /// unless it is told to carry on.
    pub(crate) fn marked(&self) -> MarkedWrite<'_> {
        self.begin();
        MarkedWrite {
            marks: self,
            armed: true,
        }
    }

    /// "Ended", if no write is in flight now. "Ended" first: a write that
    /// begins in between makes "begun" differ.
    pub(crate) fn quiet(&self) -> Option<u64> {
        let ended = self.load(ENDED).ok()?;
        let begun = self.load(BEGUN).ok()?;
        (begun == ended).then_some(ended)
    }

    /// The generations, from the last counter read if nothing was written
    /// since it, else from `read` (a read of the database).
    pub(crate) fn current(
        &self,
        read: impl FnOnce() -> Result<Generations, String>,
    ) -> Result<Generations, String> {
        let quiet = self.quiet();
        if let Some(ended) = quiet {
            let known = *self.known.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, generations)) = known {
                if at == ended {
                    return Ok(generations);
                }
            }
        }
        let generations = read()?;
        if let Some(ended) = quiet {
            // The read began after "ended" was seen quiet: it holds every
            // write counted there.
            *self.known.lock().unwrap_or_else(PoisonError::into_inner) = Some((ended, generations));
        }
        Ok(generations)
    }
}

/// A write in flight; ended when dropped, also if its future is dropped.
pub(crate) struct MarkedWrite<'a> {
    marks: &'a WriteMarks,
    armed: bool,
}

impl MarkedWrite<'_> {
    /// The write goes on past this guard: whoever finishes it calls
    /// [`WriteMarks::end`].
    pub(crate) fn carry_on(mut self) {
        self.armed = false;
    }
}

impl Drop for MarkedWrite<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.marks.end();
        }
    }
}

/// A write to a SQLite database made by other means than srs (a repair
/// by hand, a test ageing rows behind srs's back), marked as srs marks its
/// own so that running instances' caches see it; ended when dropped. The
/// write must also bump the generation counters, as srs's writes do.
pub struct OutsideWrite(WriteMarks);

impl OutsideWrite {
    /// Marks a write to the database at `database` as begun.
    pub fn begin(database: &Path) -> Result<Self, String> {
        let marks = WriteMarks::open(database)?;
        marks.begin();
        Ok(Self(marks))
    }
}

impl Drop for OutsideWrite {
    fn drop(&mut self) {
        self.0.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn generations(data: i64) -> Generations {
        Generations {
            data,
            ..Generations::default()
        }
    }

    #[test]
    fn a_read_is_reused_until_a_write_begins_and_again_once_it_ends() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("srs.db");
        let marks = WriteMarks::open(&db).expect("marks");
        let reads = Cell::new(0);
        let read = |data| {
            reads.set(reads.get() + 1);
            Ok(generations(data))
        };
        assert_eq!(marks.current(|| read(1)), Ok(generations(1)));
        assert_eq!(marks.current(|| read(99)), Ok(generations(1)));
        assert_eq!(reads.get(), 1, "nothing written: the first read stands");
        marks.begin();
        assert_eq!(marks.current(|| read(2)), Ok(generations(2)));
        assert_eq!(marks.current(|| read(3)), Ok(generations(3)));
        assert_eq!(
            reads.get(),
            3,
            "a write in flight: every read goes to the file"
        );
        marks.end();
        assert_eq!(marks.current(|| read(4)), Ok(generations(4)));
        assert_eq!(marks.current(|| read(99)), Ok(generations(4)));
        assert_eq!(reads.get(), 4);
    }

    #[test]
    fn another_process_writes_are_seen_through_the_shared_file() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("srs.db");
        let reader = WriteMarks::open(&db).expect("reader");
        // A second mapping of the same file, as another process has.
        let writer = WriteMarks::open(&db).expect("writer");
        assert_eq!(reader.current(|| Ok(generations(1))), Ok(generations(1)));
        writer.begin();
        writer.end();
        assert_eq!(
            reader.current(|| Ok(generations(2))),
            Ok(generations(2)),
            "a write ended elsewhere: read again"
        );
    }

    #[test]
    fn a_database_named_through_a_link_shares_the_marks() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("srs.db");
        std::fs::write(&db, b"").expect("db");
        let link = dir.path().join("other-name.db");
        std::os::unix::fs::symlink(&db, &link).expect("link");
        assert_eq!(WriteMarks::path_for(&db), WriteMarks::path_for(&link));
        let reader = WriteMarks::open(&db).expect("reader");
        let writer = WriteMarks::open(&link).expect("writer");
        assert_eq!(reader.current(|| Ok(generations(1))), Ok(generations(1)));
        writer.begin();
        assert_eq!(reader.quiet(), None, "the write is seen through the link");
        writer.end();
    }

    #[test]
    fn a_write_left_unended_slows_reads_until_a_process_opens_the_file_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("srs.db");
        {
            let died = WriteMarks::open(&db).expect("marks");
            died.begin();
        }
        let other = WriteMarks::open(&db).expect("levelled: nobody had the file");
        assert!(other.quiet().is_some());
        other.begin();
        // Not levelled while another has the file open: `other` may be
        // inside its write.
        let second = WriteMarks::open(&db).expect("second");
        assert_eq!(second.quiet(), None);
        other.end();
        assert!(second.quiet().is_some());
    }
}
