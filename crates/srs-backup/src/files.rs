//! Writing and reading a backup's compressed data files, with the size and
//! SHA-256 the manifest records, and checking them against it.

use crate::manifest::{FileEntry, Manifest};
use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// zstd level: 3 is zstd's default, fast enough to keep up with a dump.
const LEVEL: i32 = 3;

/// Counts and hashes what passes through to the file.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A compressed data file being written.
pub struct DataWriter {
    name: String,
    path: PathBuf,
    encoder: zstd::Encoder<'static, Hashing<BufWriter<File>>>,
}

impl DataWriter {
    /// Creates `dir/name` (name relative to the backup's folder).
    pub fn create(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let path = dir.join(name);
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let sink = Hashing {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let encoder = zstd::Encoder::new(sink, LEVEL)
            .with_context(|| format!("cannot start compressing {}", path.display()))?;
        Ok(Self {
            name: name.to_owned(),
            path,
            encoder,
        })
    }

    /// Appends bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.encoder
            .write_all(bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Finishes the file, syncs it to disk and returns its manifest entry.
    pub fn finish(self) -> anyhow::Result<FileEntry> {
        let what = || format!("cannot finish {}", self.path.display());
        let mut sink = self.encoder.finish().with_context(what)?;
        sink.flush().with_context(what)?;
        let file = sink
            .inner
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(what)?;
        file.sync_all().with_context(what)?;
        Ok(FileEntry {
            name: self.name,
            bytes: sink.bytes,
            sha256: hex::encode(sink.hasher.finalize()),
        })
    }
}

/// Opens a compressed data file of a backup for reading, as lines.
pub fn lines(dir: &Path, name: &str) -> anyhow::Result<impl BufRead> {
    let path = dir.join(name);
    let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let decoder = zstd::Decoder::new(file)
        .with_context(|| format!("cannot start decompressing {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, decoder))
}

/// Decompresses a data file into `to`.
pub fn decompress_to(dir: &Path, name: &str, to: &Path) -> anyhow::Result<u64> {
    let mut reader = lines(dir, name)?;
    let out = File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut out = BufWriter::new(out);
    let n = std::io::copy(&mut reader, &mut out)
        .with_context(|| format!("cannot decompress {} (damaged?)", dir.join(name).display()))?;
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", to.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", to.display()))?;
    Ok(n)
}

/// Checks every data file's size and SHA-256 against the manifest; the
/// first difference is the error, naming the file.
pub fn check(dir: &Path, manifest: &Manifest) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in &manifest.files {
        let path = dir.join(&entry.name);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!(
                    "backup {}: data file {} is missing",
                    manifest.id,
                    entry.name
                )
            }
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
        };
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader
                .read(&mut buf)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
        }
        if bytes != entry.bytes {
            bail!(
                "backup {}: data file {} is {} bytes, the manifest says {}: it was truncated or changed",
                manifest.id,
                entry.name,
                bytes,
                entry.bytes
            );
        }
        let sha = hex::encode(hasher.finalize());
        if sha != entry.sha256 {
            bail!(
                "backup {}: data file {} is corrupt: its SHA-256 is {}, the manifest says {}",
                manifest.id,
                entry.name,
                &sha[..12],
                entry.sha256.get(..12).unwrap_or(&entry.sha256)
            );
        }
        total += bytes;
    }
    Ok(total)
}

/// Makes a directory's entries durable (a rename is only as safe as this).
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))
}
