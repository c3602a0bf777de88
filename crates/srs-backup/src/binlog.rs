//! Reads MariaDB binary log files far enough to index them: which
//! transactions (GTIDs) each holds, and when each was logged. Replay itself
//! is left to `mariadb-binlog`; srs only needs to know which files cover
//! which part of history, where the gaps are, and which GTID a point in
//! time falls on.
//!
//! File layout (MariaDB's binlog format v4): a 4-byte magic, then events,
//! each with a 19-byte header (timestamp u32, type u8, server id u32,
//! size u32, next position u32, flags u16), all little-endian. A trailing
//! CRC32 may follow each event; only the start of a body is read here.

use anyhow::{bail, Context};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

const MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];
const HEADER: usize = 19;
const GTID_EVENT: u8 = 162;
const GTID_LIST_EVENT: u8 = 163;

/// One transaction's global ID: domain, originating server, sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gtid {
    /// Replication domain.
    pub domain: u32,
    /// Server that first committed it.
    pub server: u32,
    /// Sequence number within the domain.
    pub seq: u64,
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

impl FromStr for Gtid {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("'{s}' is not a GTID: they look like 0-1-12345 (domain-server-sequence)");
        let mut parts = s.trim().split('-');
        let (Some(d), Some(sv), Some(q), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Self {
            domain: d.parse().map_err(|_| bad())?,
            server: sv.parse().map_err(|_| bad())?,
            seq: q.parse().map_err(|_| bad())?,
        })
    }
}

/// A GTID position (one GTID per domain), as MariaDB prints it:
/// `0-1-100,1-2-7`; empty for "nothing yet".
pub fn parse_position(text: &str) -> Result<Vec<Gtid>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(Gtid::from_str)
        .collect()
}

/// One transaction as the index sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction {
    /// Its GTID.
    pub gtid: Gtid,
    /// When it was logged (seconds since the epoch; the binlog keeps
    /// whole seconds).
    pub at: i64,
}

/// What one binlog file holds.
#[derive(Debug, Clone, Default)]
pub struct FileIndex {
    /// The GTID state before the file's first transaction.
    pub starts_after: Vec<Gtid>,
    /// Its transactions in order.
    pub transactions: Vec<Transaction>,
    /// Bytes that form complete events (a file still being written may end
    /// in a partial one).
    pub complete_bytes: u64,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Indexes the bytes of a binlog file.
pub fn index_bytes(bytes: &[u8]) -> anyhow::Result<FileIndex> {
    if bytes.get(..4) != Some(&MAGIC[..]) {
        bail!("not a MariaDB binary log (bad magic number)");
    }
    let mut index = FileIndex {
        complete_bytes: 4,
        ..FileIndex::default()
    };
    let mut at = 4usize;
    while at + HEADER <= bytes.len() {
        let header = &bytes[at..at + HEADER];
        let timestamp = u32_at(header, 0).unwrap_or(0);
        let kind = header[4];
        let server = u32_at(header, 5).unwrap_or(0);
        let size = u32_at(header, 9).unwrap_or(0) as usize;
        if size < HEADER {
            bail!("damaged binary log: an event at byte {at} claims {size} bytes");
        }
        let Some(event) = bytes.get(at..at + size) else {
            break; // the tail of a file still being written
        };
        let body = &event[HEADER..];
        match kind {
            GTID_EVENT => {
                let (Some(seq), Some(domain)) = (u64_at(body, 0), u32_at(body, 8)) else {
                    bail!("damaged binary log: a short GTID event at byte {at}");
                };
                index.transactions.push(Transaction {
                    gtid: Gtid {
                        domain,
                        server,
                        seq,
                    },
                    at: i64::from(timestamp),
                });
            }
            GTID_LIST_EVENT if index.transactions.is_empty() => {
                let count = u32_at(body, 0).unwrap_or(0) & 0x0fff_ffff;
                let mut list = Vec::new();
                for i in 0..count as usize {
                    let base = 4 + i * 16;
                    let (Some(domain), Some(server), Some(seq)) = (
                        u32_at(body, base),
                        u32_at(body, base + 4),
                        u64_at(body, base + 8),
                    ) else {
                        bail!("damaged binary log: a short GTID list at byte {at}");
                    };
                    list.push(Gtid {
                        domain,
                        server,
                        seq,
                    });
                }
                index.starts_after = list;
            }
            _ => {}
        }
        at += size;
        index.complete_bytes = at as u64;
    }
    Ok(index)
}

/// Indexes a binlog file on disk.
pub fn index_file(path: &Path) -> anyhow::Result<FileIndex> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    index_bytes(&bytes).with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: u8, server: u32, timestamp: u32, body: &[u8]) -> Vec<u8> {
        let size = (HEADER + body.len() + 4) as u32;
        let mut e = Vec::new();
        e.extend(timestamp.to_le_bytes());
        e.push(kind);
        e.extend(server.to_le_bytes());
        e.extend(size.to_le_bytes());
        e.extend(0u32.to_le_bytes());
        e.extend(0u16.to_le_bytes());
        e.extend(body);
        e.extend([0u8; 4]); // checksum, not read
        e
    }

    fn gtid_body(seq: u64, domain: u32) -> Vec<u8> {
        let mut b = seq.to_le_bytes().to_vec();
        b.extend(domain.to_le_bytes());
        b.push(0);
        b
    }

    #[test]
    fn gtids_times_and_the_starting_state_are_read() {
        let mut file = MAGIC.to_vec();
        file.extend(event(15, 1, 100, &[0u8; 40])); // format description
        let mut list = 1u32.to_le_bytes().to_vec();
        list.extend(0u32.to_le_bytes());
        list.extend(1u32.to_le_bytes());
        list.extend(41u64.to_le_bytes());
        file.extend(event(GTID_LIST_EVENT, 1, 100, &list));
        file.extend(event(GTID_EVENT, 1, 101, &gtid_body(42, 0)));
        file.extend(event(30, 1, 101, &[0u8; 30])); // a row event
        file.extend(event(GTID_EVENT, 2, 105, &gtid_body(43, 0)));
        let complete = file.len() as u64;
        file.extend(&event(GTID_EVENT, 2, 106, &gtid_body(44, 0))[..10]);
        let index = index_bytes(&file).expect("indexed");
        assert_eq!(
            index.starts_after,
            vec![Gtid {
                domain: 0,
                server: 1,
                seq: 41
            }]
        );
        let seqs: Vec<(u64, u32, i64)> = index
            .transactions
            .iter()
            .map(|t| (t.gtid.seq, t.gtid.server, t.at))
            .collect();
        assert_eq!(seqs, vec![(42, 1, 101), (43, 2, 105)]);
        assert_eq!(
            index.complete_bytes, complete,
            "a partial last event is left out"
        );
    }

    #[test]
    fn other_files_and_bad_gtids_are_refused() {
        assert!(index_bytes(b"PK\x03\x04").is_err());
        assert_eq!(
            "0-1-12".parse::<Gtid>(),
            Ok(Gtid {
                domain: 0,
                server: 1,
                seq: 12
            })
        );
        assert!("0-1".parse::<Gtid>().is_err());
        assert!("a-b-c".parse::<Gtid>().is_err());
        assert_eq!(parse_position("").map(|p| p.len()), Ok(0));
        assert_eq!(parse_position("0-1-5, 1-2-7").map(|p| p.len()), Ok(2));
    }
}
