//! MariaDB GTID positions ("domain-server-sequence", comma separated):
//! which of two servers holds more.

use std::collections::BTreeMap;

/// The highest sequence number per replication domain.
fn by_domain(position: &str) -> BTreeMap<u32, u64> {
    let mut highest = BTreeMap::new();
    for gtid in position.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let mut parts = gtid.split('-');
        let (Some(domain), Some(_server), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if let (Ok(domain), Ok(seq)) = (domain.parse::<u32>(), seq.parse::<u64>()) {
            let entry = highest.entry(domain).or_insert(seq);
            *entry = (*entry).max(seq);
        }
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

/// Transactions `behind` lacks compared with `ahead`, summed over domains.
pub fn distance(ahead: &str, behind: &str) -> u64 {
    let behind = by_domain(behind);
    by_domain(ahead)
        .iter()
        .map(|(domain, seq)| seq.saturating_sub(behind.get(domain).copied().unwrap_or(0)))
        .sum()
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
}
