//! A small run of every scenario, so that the benchmark cannot rot. The
//! bench checks after each run that the table holds exactly the
//! emulator's users and fails otherwise; this asserts that the run
//! completed, that every scenario reported at both distances, and the
//! shape of the JSON. Never timings.

use std::collections::BTreeSet;
use std::process::Command;

const KEYS: [&str; 12] = [
    "scenario",
    "db_rtt_ms",
    "api_latency_ms",
    "concurrency",
    "count",
    "seconds",
    "rate",
    "p50_ms",
    "p99_ms",
    "per_commit",
    "peak_rss_mib",
    "cpu_us_per_item",
];

#[test]
fn every_scenario_runs_and_verifies_at_two_distances() {
    let output = Command::new(env!("CARGO_BIN_EXE_idsync-bench"))
        .args([
            "--json",
            "--db-rtt",
            "0,2ms",
            "--events",
            "300",
            "--concurrency",
            "8",
            "--latency-events",
            "50",
            "--users",
            "1000",
            "--api-latency",
            "1ms",
        ])
        .output()
        .expect("the bench starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the bench failed:\n{stderr}");

    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut seen = BTreeSet::new();
    for line in stdout.lines() {
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        let object = record.as_object().unwrap();
        let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(KEYS), "exactly the keys: {line}");
        assert!(record["count"].as_u64().unwrap() > 0, "{line}");
        assert!(record["peak_rss_mib"].as_f64().unwrap() > 0.0, "{line}");
        seen.insert((
            record["scenario"].as_str().unwrap().to_owned(),
            record["db_rtt_ms"].as_f64().unwrap().to_string(),
        ));
    }
    let scenarios = [
        "webhooks",
        "handwritten",
        "latency",
        "backfill_stack_auth",
        "reconcile_stack_auth",
        "backfill_clerk",
        "reconcile_clerk",
    ];
    let expected: BTreeSet<(String, String)> = ["0", "2"]
        .iter()
        .flat_map(|rtt| scenarios.map(|s| (s.to_owned(), (*rtt).to_owned())))
        .collect();
    assert_eq!(seen, expected);
    // Each table was checked against the emulator after each run.
    assert_eq!(
        stderr.matches("verified").count(),
        expected.len(),
        "{stderr}"
    );
}
