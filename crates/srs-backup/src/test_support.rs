//! Builders the unit tests share: manifests and archives without a store.

use crate::archive::{Archive, ArchivedFile};
use crate::binlog::{FileIndex, Gtid, Transaction};
use crate::manifest::{Engine, Manifest};
use chrono::DateTime;

/// A MariaDB backup's manifest taken at `at` (seconds) at GTID 0-1-`seq`.
pub fn manifest(at: i64, seq: u64) -> Manifest {
    let taken_at = DateTime::from_timestamp(at, 0).expect("time");
    Manifest {
        format: crate::manifest::FORMAT,
        id: String::new(),
        engine: Engine::Mariadb,
        taken_at,
        finished_at: taken_at,
        gtid: Some(format!("0-1-{seq}")),
        database: None,
        source: String::new(),
        srs_version: String::new(),
        server_version: String::new(),
        schema_version: 1,
        files: Vec::new(),
        tables: Vec::new(),
        encryption: None,
    }
}

/// An archive of one file holding transactions `seqs` of domain 0, the
/// one numbered n committed at 1000 + 10 n.
pub fn archive(seqs: &[u64]) -> Archive {
    let transactions = seqs
        .iter()
        .map(|&seq| Transaction {
            gtid: Gtid {
                domain: 0,
                server: 1,
                seq,
            },
            at: 1000 + seq as i64 * 10,
        })
        .collect();
    Archive {
        files: vec![ArchivedFile {
            path: "x.000001".into(),
            server_id: 1,
            index: FileIndex {
                transactions,
                ..FileIndex::default()
            },
        }],
    }
}
