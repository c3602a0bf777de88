//! MariaDB GTID positions ("domain-server-sequence", comma separated):
//! which of two servers holds more.

use std::collections::BTreeMap;

/// The GTIDs of a position or state as (domain, server id, sequence);
/// anything that is not one is passed over.
fn parse(list: &str) -> impl Iterator<Item = (u32, u32, u64)> + '_ {
    list.split(',').filter_map(|gtid| {
        let mut parts = gtid.trim().split('-');
        let (Some(domain), Some(server), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some((
            domain.parse().ok()?,
            server.parse().ok()?,
            seq.parse().ok()?,
        ))
    })
}

/// The highest sequence number per replication domain.
fn by_domain(position: &str) -> BTreeMap<u32, u64> {
    let mut highest = BTreeMap::new();
    for (domain, _, seq) in parse(position) {
        let entry = highest.entry(domain).or_insert(seq);
        *entry = (*entry).max(seq);
    }
    highest
}

/// Whether a server at `have` lacks transactions a server at `other` holds.
pub fn lacks(have: &str, other: &str) -> bool {
    let have = by_domain(have);
    by_domain(other)
        .iter()
        .any(|(domain, seq)| have.get(domain).is_none_or(|mine| mine < seq))
}

/// The highest GTID sequence per domain, written as a position (which
/// server wrote it is kept as written: shown to people, not compared).
pub fn highest(position: &str) -> String {
    let mut best: BTreeMap<u32, (u64, u32)> = BTreeMap::new();
    for (domain, server, seq) in parse(position) {
        let entry = best.entry(domain).or_insert((seq, server));
        if seq > entry.0 {
            *entry = (seq, server);
        }
    }
    best.iter()
        .map(|(domain, (seq, server))| format!("{domain}-{server}-{seq}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Transactions `behind` lacks compared with `ahead`, summed over domains.
pub fn distance(ahead: &str, behind: &str) -> u64 {
    let behind = by_domain(behind);
    by_domain(ahead)
        .iter()
        .map(|(domain, seq)| seq.saturating_sub(behind.get(domain).copied().unwrap_or(0)))
        .sum()
}

/// The highest sequence number per (domain, server id) in a GTID state.
fn by_origin(state: &str) -> BTreeMap<(u32, u32), u64> {
    let mut highest = BTreeMap::new();
    for (domain, server, seq) in parse(state) {
        let entry = highest.entry((domain, server)).or_insert(seq);
        *entry = (*entry).max(seq);
    }
    highest
}

/// Transactions server `server_id` wrote (in its GTID state `mine`) that
/// a server with GTID state `other` never received: the errant, or
/// split-brain, transactions of a former primary.
pub fn originated_beyond(mine: &str, other: &str, server_id: u32) -> u64 {
    let other = by_origin(other);
    by_origin(mine)
        .iter()
        .filter(|((_, server), _)| *server == server_id)
        .map(|(key, seq)| seq.saturating_sub(other.get(key).copied().unwrap_or(0)))
        .sum()
}

/// Where to start reading server `server_id`'s binlog to see only what a
/// server with GTID state `other` lacks: per domain that `mine` holds for
/// that server, the last of its GTIDs `other` has (domains `other` has
/// none of are read from the start).
pub fn start_after(other: &str, server_id: u32, mine: &str) -> String {
    let other = by_origin(other);
    by_origin(mine)
        .keys()
        .filter(|(_, server)| *server == server_id)
        .filter_map(|key| {
            other
                .get(key)
                .map(|seq| format!("{}-{}-{seq}", key.0, key.1))
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_per_domain() {
        let cases = [
            ("", "", false, 0),
            ("0-1-10", "0-1-10", false, 0),
            ("0-1-10", "0-1-12", true, 2),
            ("0-1-12", "0-1-10", false, 0),
            ("0-1-10", "0-2-11", true, 1),
            ("0-1-10", "0-1-10,1-1-3", true, 3),
            ("0-1-10,1-1-3", "0-1-10", false, 0),
            ("", "0-1-5", true, 5),
            ("garbage", "0-1-5", true, 5),
        ];
        for (have, other, lacks_expected, distance_expected) in cases {
            assert_eq!(lacks(have, other), lacks_expected, "{have} vs {other}");
            assert_eq!(distance(other, have), distance_expected, "{other} - {have}");
        }
    }

    #[test]
    fn errant_reading_starts_after_what_the_other_has() {
        assert_eq!(start_after("0-1-100,0-2-150", 1, "0-1-105"), "0-1-100");
        assert_eq!(start_after("0-2-150", 1, "0-1-105"), "");
        assert_eq!(
            start_after("0-1-100,1-1-7", 1, "0-1-105,1-1-9"),
            "0-1-100,1-1-7"
        );
    }

    #[test]
    fn the_highest_per_domain_is_kept_for_display() {
        assert_eq!(highest("0-1-10,0-2-12,1-1-3"), "0-2-12,1-1-3");
        assert_eq!(highest(""), "");
    }

    #[test]
    fn counts_what_a_server_wrote_that_the_other_lacks() {
        let cases = [
            ("", "", 1, 0, "nothing written"),
            ("0-1-100", "0-1-100", 1, 0, "replica has it all"),
            ("0-1-105", "0-1-100,0-2-150", 1, 5, "five never received"),
            ("0-1-100,0-2-150", "0-1-100,0-2-150", 1, 0, "rejoined"),
            (
                "0-1-100,0-2-150",
                "0-1-100,0-2-150",
                2,
                0,
                "the other server",
            ),
            ("0-1-3,1-1-4", "0-1-3", 1, 4, "second domain"),
        ];
        for (mine, other, server, expected, name) in cases {
            assert_eq!(originated_beyond(mine, other, server), expected, "{name}");
        }
    }
}
