//! The store's lock: verify and restore read backups and archived binlogs
//! under a shared lock; prune removes them only under an exclusive one, so
//! it never deletes what a running restore is reading.

use anyhow::Context;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// A held lock; released when dropped.
pub struct StoreLock {
    _file: File,
}

fn open(root: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(root)
        .with_context(|| format!("cannot create the backup store at {}", root.display()))?;
    let path = root.join("store.lock");
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Held while reading backups (verify, restore): many may read at once.
pub fn shared(root: &Path) -> anyhow::Result<StoreLock> {
    let file = open(root)?;
    file.lock_shared()
        .with_context(|| format!("cannot lock the backup store at {}", root.display()))?;
    Ok(StoreLock { _file: file })
}

/// Held while removing backups (prune): refused while anyone reads.
pub fn exclusive(root: &Path) -> anyhow::Result<StoreLock> {
    let file = open(root)?;
    match file.try_lock() {
        Ok(()) => Ok(StoreLock { _file: file }),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "a restore or verification is using the backup store at {}; prune again when it has finished",
            root.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock the backup store at {}", root.display()))
        }
    }
}
