//! `srs drill` end to end: a fresh two-site topology of real processes, a
//! client load through the edge, a real fault (SIGKILL, SIGSTOP), recovery,
//! verification of every acknowledged write, failback and the report.
//! The bounds here are generous; the figures go to docs/BENCHMARKS.md.

mod common;
use common::srs;

use serde_json::Value;
use std::path::Path;

/// Runs one drill and returns its report.json.
fn drill(fault: &str, report_dir: &Path) -> Value {
    let out = srs()
        .args(["drill", "--fault", fault, "--clients", "4", "--report-dir"])
        .arg(report_dir)
        .output()
        .expect("srs drill runs");
    let text = std::fs::read_to_string(report_dir.join("report.json")).unwrap_or_default();
    assert!(
        out.status.success(),
        "srs drill --fault {fault} failed:\n{}\n{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).expect("report.json")
}

/// The promises every fault must keep, with generous time bounds.
fn assert_kept_promises(report: &Value, fault: &str) {
    let run = &report["runs"][0];
    assert_eq!(report["passed"], true, "{fault}: {report}");
    assert_eq!(run["fault"], fault);
    assert_eq!(run["sync_mode"], "strict");
    assert!(
        run["acknowledged_writes"].as_u64().unwrap_or(0) > 0,
        "{fault}: the load acknowledged creates: {run}"
    );
    assert_eq!(
        run["acknowledged_lost"], 0,
        "{fault}: nothing acknowledged lost: {run}"
    );
    assert_eq!(
        run["split_brain_writes"], 0,
        "{fault}: no split-brain write: {run}"
    );
    let rto = run["rto_seconds"].as_f64().expect("an RTO");
    assert!(rto > 0.0 && rto < 30.0, "{fault}: RTO {rto} s");
    assert!(
        run["detection_seconds"].as_f64().is_some(),
        "{fault}: detection measured"
    );
    assert!(
        run["failback_seconds"].as_f64().is_some_and(|s| s < 120.0),
        "{fault}: failed back"
    );
}

#[test]
fn a_killed_primary_site_fails_over_without_losing_an_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = drill("kill-primary-site", dir.path());
    assert_kept_promises(&report, "kill-primary-site");
    // The report is complete: Markdown and a timeline with the moments marked.
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
    assert!(
        md.contains("PASSED") && md.contains("| rto_seconds |"),
        "{md}"
    );
    let svg = std::fs::read_to_string(dir.path().join("timeline-run-1.svg")).expect("timeline");
    for mark in [
        "fault: kill-primary-site",
        "failover decided",
        "promoted",
        "edge switched",
        "failed back",
    ] {
        assert!(svg.contains(mark), "timeline marks '{mark}'");
    }
}

#[test]
fn sites_35_ms_apart_fail_over_through_the_link_without_losing_an_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = srs()
        .args(["drill", "--fault", "kill-primary-site", "--clients", "4"])
        .args(["--link-delay-ms", "35", "--report-dir"])
        .arg(dir.path())
        .output()
        .expect("srs drill runs");
    let text = std::fs::read_to_string(dir.path().join("report.json")).unwrap_or_default();
    assert!(
        out.status.success(),
        "srs drill --link-delay-ms 35 failed:\n{}\n{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&text).expect("report.json");
    assert_kept_promises(&report, "kill-primary-site");
    assert_eq!(report["link_delay_ms"], 35, "{report}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
    assert!(md.contains("the sites 35 ms apart each way"), "{md}");
}

#[test]
fn a_paused_primary_site_fails_over_and_the_woken_zombie_gets_no_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = drill("pause-primary-site", dir.path());
    assert_kept_promises(&report, "pause-primary-site");
    let marks = report["runs"][0]["marks"].to_string();
    assert!(marks.contains("zombie resumed"), "{marks}");
}

#[test]
fn a_controller_killed_mid_failover_is_restarted_and_finishes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = drill("kill-controller", dir.path());
    assert_kept_promises(&report, "kill-controller");
}

#[test]
fn a_partitioned_primary_site_fails_over_and_after_healing_gets_no_write() {
    if !nix_is_root() {
        eprintln!("skipped: partition-primary needs root (nftables rules)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let report = drill("partition-primary", dir.path());
    assert_kept_promises(&report, "partition-primary");
    let marks = report["runs"][0]["marks"].to_string();
    assert!(marks.contains("partition healed"), "{marks}");
}

/// Whether the tests run as root (uid 0), as CI does.
fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn a_planned_switchover_loses_nothing_and_fails_no_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = drill("switchover", dir.path());
    assert_kept_promises(&report, "switchover");
    assert_eq!(report["runs"][0]["failed_requests"], 0, "{report}");
}

#[test]
fn drill_refuses_bad_options_with_a_clear_message() {
    let cases: [(&[&str], &str); 5] = [
        (&["drill", "--fault", "unplug"], "invalid value 'unplug'"),
        (&["drill", "--repeat", "0"], "repeat"),
        (&["drill", "--data-dir", "/nonexistent"], "--yes"),
        (&["drill", "--link-delay-ms", "0"], "link-delay-ms"),
        (
            &["drill", "--hosts", "3", "--link-delay-ms", "35"],
            "one machine",
        ),
    ];
    for (args, expected) in cases {
        let out = srs().args(args).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expected),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn drill_help_lists_every_fault_with_a_line_each() {
    let out = srs().args(["drill", "--help"]).output().expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for fault in [
        "kill-primary-db",
        "kill-primary-site",
        "pause-primary-site",
        "kill-controller",
        "partition-primary",
        "stop-replica",
        "switchover",
        "partition-host",
        "kill-host",
        "kill-leader",
        "witness-down",
        "pause-host",
        "etcd-down",
        "all",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("- {fault}:"))),
            "{fault} has no line of its own:\n{help}"
        );
    }
}
