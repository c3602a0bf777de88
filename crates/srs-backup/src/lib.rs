//! srs backups: consistent full backups of MariaDB or SQLite into a plain
//! directory store, each with a manifest of checksums and per-table
//! digests, and proven by trial restores into scratch databases.

mod binlog;
mod digest;
mod files;
pub mod scratch;
mod tables;
#[cfg(test)]
mod test_support;

pub mod archive;
pub mod create;
pub mod db_url;
pub mod due;
pub mod hand_kept;
pub mod key;
pub mod layout;
pub mod lock;
pub mod manifest;
pub mod pitr;
pub mod progress;
pub mod prune;
pub mod restore;
pub mod restore_job;
pub mod retention;
pub mod second_store;
pub mod student_restore;
pub mod swap;
pub mod verify;
pub mod window;

pub use binlog::Gtid;
pub use create::create;
pub use key::BackupKey;
pub use layout::{BackupId, BackupStore};
pub use manifest::{Engine, Manifest};
pub use progress::{Progress, ProgressMode};
pub use restore::{restore, target_holds_data, Overwrite, Restored};
pub use verify::{verify, Verification};

/// Checks a backup's data files against its manifest (size and SHA-256).
pub fn check_files(dir: &std::path::Path, manifest: &Manifest) -> anyhow::Result<u64> {
    files::check(dir, manifest)
}
