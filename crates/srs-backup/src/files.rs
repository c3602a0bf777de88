//! Writing and reading a backup's compressed (and, with a key, encrypted)
//! data files, with the size and SHA-256 the manifest records, and
//! checking them against it. Checksums cover the bytes as stored, so they
//! are checked without the key.

use crate::key::BackupKey;
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

type Stored = Hashing<BufWriter<File>>;

/// Where compressed bytes go: straight to the file, or through age.
enum Sink {
    Plain(Stored),
    Sealed(age::stream::StreamWriter<Stored>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Sealed(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Sealed(w) => w.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> std::io::Result<Stored> {
        match self {
            Sink::Plain(w) => Ok(w),
            Sink::Sealed(w) => w.finish(),
        }
    }
}

/// A compressed data file being written.
pub struct DataWriter {
    name: String,
    path: PathBuf,
    encoder: zstd::Encoder<'static, Sink>,
}

impl DataWriter {
    /// Creates `dir/name` (name relative to the backup's folder), or
    /// `dir/name.age` encrypted with `key`.
    pub fn create(dir: &Path, name: &str, key: Option<&BackupKey>) -> anyhow::Result<Self> {
        let name = match key {
            Some(_) => format!("{name}{}", crate::key::SUFFIX),
            None => name.to_owned(),
        };
        let path = dir.join(&name);
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let stored = Hashing {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let sink = match key {
            Some(key) => Sink::Sealed(
                key.seal(stored)
                    .with_context(|| format!("cannot start encrypting {}", path.display()))?,
            ),
            None => Sink::Plain(stored),
        };
        let encoder = zstd::Encoder::new(sink, LEVEL)
            .with_context(|| format!("cannot start compressing {}", path.display()))?;
        Ok(Self {
            name,
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
        let mut sink = self
            .encoder
            .finish()
            .and_then(Sink::finish)
            .with_context(what)?;
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

/// Opens a data file of a backup for reading, as lines: decrypted with
/// `key` when its name says it was encrypted (the caller has checked with
/// [`crate::key::key_for`] that the key is the backup's).
pub fn lines(dir: &Path, name: &str, key: Option<&BackupKey>) -> anyhow::Result<impl BufRead> {
    let path = dir.join(name);
    let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let file = BufReader::with_capacity(1 << 20, file);
    let stored: Box<dyn Read + Send> = if name.ends_with(crate::key::SUFFIX) {
        let Some(key) = key else {
            bail!("{} is encrypted and no key was given", path.display());
        };
        Box::new(
            key.open(file)
                .with_context(|| format!("cannot decrypt {}", path.display()))?,
        )
    } else {
        Box::new(file)
    };
    let decoder = zstd::Decoder::new(stored)
        .with_context(|| format!("cannot start decompressing {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, decoder))
}

/// Decompresses (and decrypts) a data file into `to`.
pub fn decompress_to(
    dir: &Path,
    name: &str,
    key: Option<&BackupKey>,
    to: &Path,
) -> anyhow::Result<u64> {
    let mut reader = lines(dir, name, key)?;
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
