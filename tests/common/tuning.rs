//! The tuning scenario (`fixtures/scenarios/tuning.yaml`): simulated, then read with the
//! operator's configuration (its specs bound to their hosts and the bank's time zone; no
//! tuning), as tests/simulate_tuning.rs does and an acceptance test of the tuning commands
//! can, before and after tuning.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The hashing key of the reads.
pub const KEY: &str = "tuning-test-hashing-key-00000001";

/// The scenario file.
pub fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/tuning.yaml")
}

/// Writes `DIR/apitap.toml`, the configuration `apitap read --config` takes for the tuning
/// scenario (UK Open Banking v4.0 account information and payment initiation on
/// api.bank.example, the token endpoint on auth.bank.example, Europe/London), and returns its
/// path. Sections can be appended to it (a tuning section, say).
pub fn read_config(dir: &Path) -> PathBuf {
    let spec = super::spec_entry;
    let text = [
        spec("ob-uk/account-info-openapi.yaml", "api.bank.example", ""),
        spec("ob-uk/payment-initiation-openapi.yaml", "api.bank.example", ""),
        spec("auth/token-endpoint.yaml", "auth.bank.example", ""),
        "[behaviour]\ntimezone = \"Europe/London\"\n".into(),
    ]
    .concat();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("apitap.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run apitap");
    assert!(out.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&out.stderr));
}

/// `apitap simulate` of the scenario into `DIR` (capture.pcap, truth.json); returns the truth.
pub fn simulate(dir: &Path) -> Value {
    run(Command::new(env!("CARGO_BIN_EXE_apitap")).args(["simulate", "--scenario"]).arg(scenario()).arg("--out").arg(dir));
    serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap()
}

/// `apitap read CAPTURE --config CONFIG --out OUT`; returns every anomaly event.
pub fn read(capture: &Path, config: &Path, out: &Path) -> Vec<Value> {
    run(Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("read")
        .arg(capture)
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(out)
        .arg("--no-progress")
        .env("APITAP_HASH_KEY", KEY));
    std::fs::read_to_string(out.join("anomalies.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}
