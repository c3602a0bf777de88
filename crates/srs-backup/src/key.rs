//! Encryption of backups at rest: each data file is compressed, then
//! encrypted with age (X25519 key agreement, ChaCha20-Poly1305 in 64 KiB
//! STREAM chunks) to the public half of a key file. The format is age's
//! published one, so `age -d -i KEYFILE` opens a file by hand when srs is
//! not at hand. Manifests stay readable, so listing, checksums and prune
//! work without the key; reading rows needs it.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// How a backup's data files are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncryptionScheme {
    /// age v1 with one X25519 recipient.
    #[serde(rename = "age-x25519")]
    AgeX25519,
}

/// What the manifest records about a backup's encryption: enough to say
/// which key opens it, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// The scheme.
    pub scheme: EncryptionScheme,
    /// The public key (`age1…`) the files were encrypted to.
    pub recipient: String,
}

/// A backup key: an age X25519 identity read from a key file.
pub struct BackupKey {
    identity: age::x25519::Identity,
    path: PathBuf,
}

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BackupKey({}, {})",
            self.path.display(),
            self.recipient()
        )
    }
}

/// The file name suffix of an encrypted data file.
pub const SUFFIX: &str = ".age";

impl BackupKey {
    /// Creates a new key file at `path` (readable by its owner only);
    /// refuses to replace an existing file, which may be the only key to
    /// older backups.
    pub fn generate(path: &Path) -> anyhow::Result<Self> {
        use age::secrecy::ExposeSecret;
        use std::os::unix::fs::OpenOptionsExt;
        let identity = age::x25519::Identity::generate();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                    "{} already exists: srs never overwrites a key file (older backups may need it); choose another path",
                    path.display()
                ),
                _ => anyhow::Error::new(e).context(format!("cannot create {}", path.display())),
            })?;
        let text = format!(
            "# srs backup key, created {}\n# public key: {}\n# Keep a copy away from the backups: without it they cannot be read.\n{}\n",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            identity.to_public(),
            identity.to_string().expose_secret()
        );
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self {
            identity,
            path: path.to_owned(),
        })
    }

    /// Reads a key file, refusing one that others can read.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read the backup key file {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the backup key file {} can be read by others (mode {mode:o}): run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the backup key file {}", path.display()))?;
        let identity = parse(&text).with_context(|| format!("{}", path.display()))?;
        Ok(Self {
            identity,
            path: path.to_owned(),
        })
    }

    /// The public key files are encrypted to (`age1…`).
    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    /// Where the key came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What a manifest records for files encrypted with this key.
    pub fn encryption(&self) -> Encryption {
        Encryption {
            scheme: EncryptionScheme::AgeX25519,
            recipient: self.recipient(),
        }
    }

    /// Wraps a writer so what passes through is encrypted.
    pub(crate) fn seal<W: Write>(&self, out: W) -> std::io::Result<age::stream::StreamWriter<W>> {
        let recipient = self.identity.to_public();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(std::io::Error::other)?;
        encryptor.wrap_output(out)
    }

    /// Wraps a reader of an encrypted file.
    pub(crate) fn open<R: std::io::Read>(
        &self,
        input: R,
    ) -> anyhow::Result<age::stream::StreamReader<R>> {
        let decryptor = age::Decryptor::new(input).map_err(|e| anyhow::anyhow!("{e}"))?;
        decryptor
            .decrypt(std::iter::once(&self.identity as &dyn age::Identity))
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// The one `AGE-SECRET-KEY-1…` line of a key file; `#` lines are comments.
fn parse(text: &str) -> anyhow::Result<age::x25519::Identity> {
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(line) = keys.next() else {
        bail!("holds no key: create one with `srs backup key --out FILE`");
    };
    if keys.next().is_some() {
        bail!("holds more than one key: an srs backup key file holds exactly one");
    }
    age::x25519::Identity::from_str(line).map_err(|e| {
        anyhow::anyhow!(
            "is not an age X25519 key file ({e}): create one with `srs backup key --out FILE`"
        )
    })
}

/// Checks that `key` opens a backup encrypted as `encryption` says,
/// before any file is read, so the error names the key, not a file.
pub fn key_for<'k>(
    backup: &str,
    encryption: Option<&Encryption>,
    key: Option<&'k BackupKey>,
) -> anyhow::Result<Option<&'k BackupKey>> {
    let Some(encryption) = encryption else {
        return Ok(None);
    };
    let Some(key) = key else {
        bail!(
            "backup {backup} is encrypted (to {}): give its key file with --key-file or SRS_BACKUP_KEY_FILE",
            encryption.recipient
        );
    };
    if key.recipient() != encryption.recipient {
        bail!(
            "backup {backup} was encrypted to {}, but the key file {} holds the key for {}: use the key file that was in use when it was taken",
            encryption.recipient,
            key.path().display(),
            key.recipient()
        );
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_reads_back_and_others_cannot_read_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("backup.key");
        let key = BackupKey::generate(&path).expect("generate");
        let again = BackupKey::load(&path).expect("load");
        assert_eq!(key.recipient(), again.recipient());
        assert!(key.recipient().starts_with("age1"));
        let err = BackupKey::generate(&path).expect_err("no overwrite");
        assert!(err.to_string().contains("never overwrites"), "{err}");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = BackupKey::load(&path).expect_err("too open");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    fn refused(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("{text:?} parsed as a key"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn key_files_that_are_not_one_key_are_named() {
        let empty = refused("# nothing\n");
        assert!(empty.contains("holds no key"), "{empty}");
        let junk = refused("hello\n");
        assert!(junk.contains("not an age X25519 key"), "{junk}");
        let one = age::x25519::Identity::generate();
        let two = age::x25519::Identity::generate();
        use age::secrecy::ExposeSecret;
        let text = format!(
            "{}\n{}\n",
            one.to_string().expose_secret(),
            two.to_string().expose_secret()
        );
        let err = refused(&text);
        assert!(err.contains("more than one"), "{err}");
    }

    #[test]
    fn sealed_bytes_open_only_with_their_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = BackupKey::generate(&dir.path().join("a.key")).expect("key a");
        let other = BackupKey::generate(&dir.path().join("b.key")).expect("key b");
        let mut sealed = Vec::new();
        let mut w = key.seal(&mut sealed).expect("seal");
        w.write_all(b"Ada Lovelace").expect("write");
        w.finish().expect("finish");
        assert!(sealed.starts_with(b"age-encryption.org/v1"));
        assert!(!sealed.windows(3).any(|w| w == b"Ada"));
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut key.open(&sealed[..]).expect("open"), &mut plain)
            .expect("read");
        assert_eq!(plain, "Ada Lovelace");
        assert!(other.open(&sealed[..]).is_err());
        let enc = key.encryption();
        let err = key_for("B1", Some(&enc), Some(&other)).expect_err("wrong key");
        assert!(err.to_string().contains("use the key file"), "{err}");
        let err = key_for("B1", Some(&enc), None).expect_err("no key");
        assert!(err.to_string().contains("--key-file"), "{err}");
        assert!(key_for("B1", Some(&enc), Some(&key)).expect("ok").is_some());
        assert!(key_for("B1", None, Some(&key)).expect("plain").is_none());
    }
}
