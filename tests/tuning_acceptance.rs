//! The SOC's first week, tuned (docs/tuning.md, "A first week, tuned"): the tuning scenario
//! has an authorised penetration test, a synthetic monitor and a nightly batch job beside real
//! attacks. Read untuned, each of the three raises alerts. Then the documented commands:
//! a suppression rule for the pen-test network, one for the monitor's user agent, and the
//! batch job's finding closed as expected behaviour. Read again: none of the three raises an
//! alert (their findings are kept, marked suppressed, or absorbed), every real attack is
//! still found with its kind, the summary counts what tuning took away, and the audit log of
//! the changes verifies, and stops verifying once a record is altered.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn apitap(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_apitap")).args(args).env("APITAP_HASH_KEY", common::tuning::KEY).output().unwrap();
    assert!(o.status.success(), "apitap {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}


#[test]
fn after_the_documented_tuning_the_known_traffic_is_quiet_and_the_attacks_are_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let truth = common::tuning::simulate(&sim);
    let pcap = sim.join("capture.pcap");
    let config = common::tuning::read_config(dir.path());
    let cfg = config.to_str().unwrap();

    let untuned = common::tuning::read(&pcap, &config, &dir.path().join("untuned"));
    let before = common::tuning::about_tuning(&truth, &common::tuning::alerts(&untuned));
    for kind in ["pen_test", "synthetic_monitor", "batch_job"] {
        assert!(!before[kind].is_empty(), "untuned, {kind} raises alerts: {before:?}");
    }
    assert_eq!(common::tuning::missed_attacks(&truth, &common::tuning::alerts(&untuned)), Vec::<String>::new());

    // The documented commands.
    let pen = common::tuning::injection(&truth, "pen_test");
    let monitor = common::tuning::injection(&truth, "synthetic_monitor");
    apitap(&[
        "suppress", "add", "--config", cfg, "--id", "pentest-2026-11", "--owner", "soc@bank.example",
        "--reason", "Authorised penetration test by RedTeam Ltd, CHG-1234", "--expires", "2026-11-30",
        "--network", pen["source_network"].as_str().unwrap(),
    ]);
    apitap(&[
        "suppress", "add", "--config", cfg, "--id", "synthetic-monitor", "--owner", "platform@bank.example",
        "--reason", "Uptime checks of the API platform", "--expires", "2027-11-30",
        "--user-agent", monitor["user_agent"].as_str().unwrap(),
    ]);
    // The batch job's finding, as the analyst finds it with `alerts list`, closed as expected.
    let anomalies = dir.path().join("untuned/anomalies.jsonl");
    let listed: Value = serde_json::from_slice(
        &apitap(&["alerts", "list", "--config", cfg, "--anomalies", anomalies.to_str().unwrap(), "--kind", "bulk_export", "--json"]).stdout,
    )
    .unwrap();
    let office = &common::accuracy::consumers_by_id(&truth)[common::tuning::injection(&truth, "batch_job")["consumer"].as_str().unwrap()];
    let batch: Vec<&Value> = listed.as_array().unwrap().iter().filter(|f| f["unmapped"]["consumer"]["label"] == office["label"]).collect();
    assert!(!batch.is_empty(), "the batch job's finding is listed: {listed}");
    for f in batch {
        apitap(&[
            "alerts", "close", f["unmapped"]["finding_id"].as_str().unwrap(), "--config", cfg, "--anomalies", anomalies.to_str().unwrap(),
            "--verdict", "expected", "--by", "analyst@bank.example", "--reason", "nightly reconciliation of the back office",
        ]);
    }

    let tuned = common::tuning::read(&pcap, &config, &dir.path().join("tuned"));
    let after = common::tuning::about_tuning(&truth, &common::tuning::alerts(&tuned));
    for kind in ["pen_test", "synthetic_monitor", "batch_job"] {
        assert!(after[kind].is_empty(), "tuned, {kind} still alerts: {after:?}");
    }
    assert_eq!(common::tuning::missed_attacks(&truth, &common::tuning::alerts(&tuned)), Vec::<String>::new(), "tuning hid a real attack");
    // The suppressed findings are kept, marked, and counted by rule.
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("tuned/summary.json")).unwrap()).unwrap();
    for rule in ["pentest-2026-11", "synthetic-monitor"] {
        assert!(summary["suppressed_by_rule"][rule].as_u64().unwrap() > 0, "{rule}: {}", summary["suppressed_by_rule"]);
        assert!(tuned.iter().any(|e| e["unmapped"]["suppressed"]["rule"] == rule && e["status_id"] == 3));
    }
    assert!(summary["stages"]["behaviour"]["detections_absorbed"].as_u64().unwrap() > 0);
    println!("untuned {before:?}\ntuned {after:?}\nsuppressed {}", summary["suppressed_by_rule"]);

    // The audit log: three changes, verified; an altered reason is caught, naming the line.
    let log = dir.path().join("audit.jsonl");
    let verify = |log: &Path| Command::new(env!("CARGO_BIN_EXE_apitap")).args(["audit", "verify", "--log"]).arg(log).output().unwrap();
    let ok = verify(&log);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    let altered = text.replacen("Uptime checks of the API platform", "Uptime checks of the API platforms", 1);
    assert_ne!(altered, text);
    std::fs::write(&log, altered).unwrap();
    let bad = verify(&log);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr).to_string() + &String::from_utf8_lossy(&bad.stdout);
    assert!(err.contains("line 2") && err.contains("altered"), "names the second line: {err}");
}
