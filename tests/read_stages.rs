//! `apitap read --stop-after STAGE`, the benchmark's stage cut (scripts/bench.sh): each run
//! does its stages and none after, on the bundled demo capture.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::Command;

use serde_json::Value;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/open-banking-demo.pcap");

/// Runs `read DEMO --stop-after stage` (or a full read to standard output): the summary's
/// stages and the bytes written to standard output.
fn run(stage: Option<&str>) -> (Value, usize) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apitap"));
    cmd.args(["read", DEMO, "--no-progress", "--summary-json"]);
    if let Some(s) = stage {
        cmd.args(["--stop-after", s]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stderr).unwrap();
    (summary["stages"].clone(), out.stdout.len())
}

#[test]
fn each_stage_stops_where_it_says_and_writes_no_records() {
    let (full, written) = run(None);
    let packets = full["input"]["packets"].as_u64().unwrap();
    let segments = full["tcp"]["segments"].as_u64().unwrap();
    let transactions = full["app"]["transactions"].as_u64().unwrap();
    assert!(packets > 0 && segments > 0 && transactions > 0 && written > 0, "{full}");

    let (capture, written) = run(Some("capture"));
    assert_eq!(capture["input"]["packets"].as_u64(), Some(packets));
    assert_eq!(capture["decode"]["tcp"].as_u64().unwrap_or(0), 0, "nothing decoded: {}", capture["decode"]);
    assert_eq!(written, 0);

    let (decode, written) = run(Some("decode"));
    assert_eq!(decode["decode"], full["decode"], "decode runs in full");
    assert_eq!(decode["tcp"]["segments"].as_u64(), Some(0));
    assert_eq!(written, 0);

    let (tcp, written) = run(Some("tcp"));
    assert_eq!(tcp["tcp"]["segments"].as_u64(), Some(segments));
    assert_eq!(tcp["tcp"]["flows_opened"], full["tcp"]["flows_opened"]);
    assert_eq!(tcp["app"]["transactions"].as_u64(), Some(0));
    assert_eq!(written, 0);

    let (http, written) = run(Some("http"));
    assert_eq!(http["app"]["transactions"].as_u64(), Some(transactions), "parsed in full");
    assert_eq!(written, 0, "but not written");
}
