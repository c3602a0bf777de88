//! One controller per topology: a lock file in the cluster directory,
//! held for the life of the process, naming who holds it.

use crate::cluster_dir::{ClusterDir, ClusterFile};
use anyhow::Context;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct ControllerLock {
    _file: File,
}

impl ControllerLock {
    /// Takes the lock of the topology in `data_dir`, or says which process
    /// holds it.
    pub fn acquire(data_dir: &ClusterDir) -> anyhow::Result<Self> {
        let path = data_dir.file(ClusterFile::ControllerLock);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("Failed to open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                anyhow::bail!(
                    "another controller already runs on this topology ({}); stop it first",
                    match holder.trim() {
                        "" => "its process id is not recorded".to_owned(),
                        pid => format!("pid {pid}, lock {}", path.display()),
                    }
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("Failed to lock {}", path.display()))
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_who_holds_it() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = ClusterDir::new(tmp.path());
        let first = ControllerLock::acquire(&dir).expect("first");
        let err = ControllerLock::acquire(&dir)
            .expect_err("second refused")
            .to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        // Other tests of this process start children: one forked before
        // the drop holds a copy of the descriptor, and so the lock, until
        // it execs (the copy is close-on-exec). Wait that moment out.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let again = loop {
            match ControllerLock::acquire(&dir) {
                Ok(lock) => break lock,
                Err(e) if std::time::Instant::now() > deadline => panic!("not free again: {e:#}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        drop(again);
    }
}
