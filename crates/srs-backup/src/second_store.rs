//! A second store: the backups and the binlog archive copied to another
//! directory (a disk in another room, a mounted share), so that losing the
//! first store's disk loses no restorable point. Copies only add: a backup
//! is copied whole into a hidden folder, checked against its manifest and
//! then published; archived binlogs only grow, so each copy appends what
//! the second store lacks. No backup or binlog is ever deleted there by a
//! copy (a damaged or emptied first store must not empty the second); each
//! store has its own retention (`srs backup prune --store`). The markers
//! beside a manifest follow the first store: its last verification, and
//! whether an operator keeps it by hand (kept, or released).

use crate::files::{check, sync_dir};
use crate::layout::{BackupId, BackupStore};
use crate::manifest::{Manifest, MANIFEST};
use anyhow::Context;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// What one copy did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Copied {
    /// Backups copied (new in the second store).
    pub backups: Vec<String>,
    /// Archived binlog files that grew or appeared there.
    pub binlog_files: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Brings `to` up to date with `from`.
pub fn copy(from: &BackupStore, to: &BackupStore) -> anyhow::Result<Copied> {
    if from.root() == to.root() {
        anyhow::bail!(
            "the second store is the first one ({}): name another directory",
            from.root().display()
        );
    }
    // Prune in either store waits for this copy, and this copy for it.
    let _reading = crate::lock::shared(from.root())?;
    let _writing = crate::lock::shared(to.root())?;
    let mut copied = Copied::default();
    for id in from.ids()? {
        let source = from.backup_dir(&id);
        let target = to.backup_dir(&id);
        if target.exists() {
            copied.bytes += copy_marker(&source, &target, crate::verify::VERIFIED)?;
            copied.bytes += copy_marker(&source, &target, crate::hand_kept::KEPT)?;
            release_marker(&source, &target, crate::hand_kept::KEPT)?;
            continue;
        }
        copied.bytes += copy_backup(&id, &source, to)?;
        copied.backups.push(id.to_string());
    }
    let binlogs = from.root().join("binlogs");
    let servers = match std::fs::read_dir(&binlogs) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(copied),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", binlogs.display())),
    };
    for server in servers {
        let server = server.with_context(|| format!("cannot read {}", binlogs.display()))?;
        if !server.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let into = to.root().join("binlogs").join(server.file_name());
        std::fs::create_dir_all(&into)
            .with_context(|| format!("cannot create {}", into.display()))?;
        let files = std::fs::read_dir(server.path())
            .with_context(|| format!("cannot read {}", server.path().display()))?;
        for file in files {
            let file = file.with_context(|| format!("cannot read {}", server.path().display()))?;
            let name = file.file_name();
            // Hidden files are the archiver's scratch (its option file).
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let grown = append_missing(&file.path(), &into.join(&name))?;
            if grown > 0 {
                copied.binlog_files += 1;
                copied.bytes += grown;
            }
        }
    }
    Ok(copied)
}

/// Copies one backup into `to` and publishes it once its files match the
/// manifest. Returns the bytes copied.
fn copy_backup(id: &BackupId, source: &Path, to: &BackupStore) -> anyhow::Result<u64> {
    let manifest = Manifest::read(source)?;
    let partial = to.partial_dir(id)?;
    let result = (|| {
        let mut bytes = 0;
        for entry in &manifest.files {
            bytes += copy_file(&source.join(&entry.name), &partial.join(&entry.name))?;
        }
        check(&partial, &manifest).with_context(|| {
            format!("backup {id} changed while it was copied to the second store")
        })?;
        sync_dir(&partial.join("data"))?;
        bytes += copy_file(&source.join(MANIFEST), &partial.join(MANIFEST))?;
        bytes += copy_marker(source, &partial, crate::verify::VERIFIED)?;
        bytes += copy_marker(source, &partial, crate::hand_kept::KEPT)?;
        let published = to.publish(id, &partial)?;
        sync_dir(published.parent().unwrap_or(&published))?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    result
}

/// Copies a marker beside the manifest (the last verification, kept by
/// hand) when the second store's differs.
fn copy_marker(source: &Path, target: &Path, name: &str) -> anyhow::Result<u64> {
    let Ok(theirs) = std::fs::read(source.join(name)) else {
        return Ok(0);
    };
    if std::fs::read(target.join(name)).is_ok_and(|ours| ours == theirs) {
        return Ok(0);
    }
    let tmp = target.join(format!("{name}.tmp"));
    std::fs::write(&tmp, &theirs).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, target.join(name))
        .with_context(|| format!("cannot write {}", target.join(name).display()))?;
    Ok(theirs.len() as u64)
}

/// Removes a marker the source no longer has (a backup released from
/// being kept by hand is released in both stores).
fn release_marker(source: &Path, target: &Path, name: &str) -> anyhow::Result<()> {
    if source.join(name).exists() {
        return Ok(());
    }
    match std::fs::remove_file(target.join(name)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", target.join(name).display())),
    }
}

fn copy_file(from: &Path, to: &Path) -> anyhow::Result<u64> {
    let mut src = File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    let mut dst = File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let n = std::io::copy(&mut src, &mut dst)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    dst.sync_all()
        .with_context(|| format!("cannot write {}", to.display()))?;
    Ok(n)
}

/// Appends to `to` the bytes of `from` past its length; a binlog file only
/// grows (a restarted archiver writes the same bytes again). Returns the
/// bytes appended; none when `to` is as long, or longer (the archiver is
/// rewriting `from` and has not caught up yet).
fn append_missing(from: &Path, to: &Path) -> anyhow::Result<u64> {
    let have = match std::fs::metadata(to) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", to.display())),
    };
    let mut src = File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    let len = src
        .metadata()
        .with_context(|| format!("cannot read {}", from.display()))?
        .len();
    if len <= have {
        return Ok(0);
    }
    src.seek(SeekFrom::Start(have))
        .with_context(|| format!("cannot read {}", from.display()))?;
    let mut dst = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(to)
        .with_context(|| format!("cannot write {}", to.display()))?;
    let n = std::io::copy(&mut src.take(len - have), &mut dst)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    dst.flush()
        .and_then(|()| dst.sync_data())
        .with_context(|| format!("cannot write {}", to.display()))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binlogs_grow_by_appending_and_a_shorter_source_waits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"0123").expect("write");
        assert_eq!(append_missing(&a, &b).expect("copy"), 4);
        std::fs::write(&a, b"0123456").expect("write");
        assert_eq!(append_missing(&a, &b).expect("copy"), 3);
        assert_eq!(std::fs::read(&b).expect("read"), b"0123456");
        std::fs::write(&a, b"01").expect("rewriting");
        assert_eq!(append_missing(&a, &b).expect("copy"), 0);
        assert_eq!(std::fs::read(&b).expect("read"), b"0123456");
    }

    #[test]
    fn the_first_store_cannot_be_its_own_second() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BackupStore::new(dir.path());
        let err = copy(&store, &store).expect_err("same");
        assert!(err.to_string().contains("name another directory"), "{err}");
    }
}
