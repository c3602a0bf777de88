//! A table's content digest: SHA-256 over its rows in primary-key order,
//! each value as text with a length prefix (so `("ab","c")` and
//! `("a","bc")` differ, and NULL differs from the empty string).

use sha2::{Digest, Sha256};

/// Accumulates one table's rows.
#[derive(Default)]
pub struct TableDigest {
    hasher: Sha256,
    rows: u64,
}

impl TableDigest {
    /// Adds the next row.
    pub fn add(&mut self, row: &[Option<String>]) {
        for value in row {
            match value {
                None => self.hasher.update([0u8]),
                Some(text) => {
                    self.hasher.update([1u8]);
                    self.hasher.update((text.len() as u64).to_le_bytes());
                    self.hasher.update(text.as_bytes());
                }
            }
        }
        self.hasher.update([0xffu8]);
        self.rows += 1;
    }

    /// Rows added and the hex digest.
    pub fn finish(self) -> (u64, String) {
        (self.rows, hex::encode(self.hasher.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(rows: &[&[Option<&str>]]) -> (u64, String) {
        let mut d = TableDigest::default();
        for row in rows {
            let row: Vec<Option<String>> = row.iter().map(|v| v.map(str::to_owned)).collect();
            d.add(&row);
        }
        d.finish()
    }

    #[test]
    fn value_boundaries_and_nulls_change_the_digest() {
        let a = digest(&[&[Some("ab"), Some("c")]]);
        let b = digest(&[&[Some("a"), Some("bc")]]);
        let c = digest(&[&[Some(""), None]]);
        let d = digest(&[&[None, Some("")]]);
        assert_ne!(a.1, b.1);
        assert_ne!(c.1, d.1);
        assert_eq!(a, digest(&[&[Some("ab"), Some("c")]]));
        assert_eq!(a.0, 1);
    }

    #[test]
    fn row_boundaries_change_the_digest() {
        let one = digest(&[&[Some("a"), Some("b")]]);
        let two = digest(&[&[Some("a")], &[Some("b")]]);
        assert_ne!(one.1, two.1);
        assert_eq!(digest(&[]).0, 0);
    }
}
