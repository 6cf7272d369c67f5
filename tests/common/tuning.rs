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

/// Seconds after an injection's end that an alert about it may come (a finding's first
/// detection can lag its evidence).
pub const GRACE_SECS: f64 = 7200.0;

/// The alerts of a run: `new` events of findings no suppression rule marked.
pub fn alerts(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|a| a["unmapped"]["lifecycle"] == "new" && a["unmapped"].get("suppressed").is_none()).collect()
}

/// The one injection of `kind` in the truth.
pub fn injection<'t>(truth: &'t Value, kind: &str) -> &'t Value {
    let found: Vec<&Value> = truth["injections"].as_array().unwrap().iter().filter(|i| i["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} in the truth");
    found[0]
}

fn during(a: &Value, inj: &Value) -> bool {
    let at = super::accuracy::secs(&a["unmapped"]["detected"]);
    super::accuracy::secs(&inj["start"]) - 60.0 <= at && at <= super::accuracy::secs(&inj["end"]) + GRACE_SECS
}

/// For each tuning injection (`pen_test`, `synthetic_monitor`, `batch_job`), the kinds of the
/// alerts about it and how many: alerts in its window that name its consumer or come from its
/// network, and for the monitor the error spikes without a consumer detected within two
/// minutes of one of its failing checks.
pub fn about_tuning(truth: &Value, alerts: &[&Value]) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>> {
    use super::accuracy::{consumers_by_id, in_net, secs};
    let consumers = consumers_by_id(truth);
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>> = Default::default();
    for kind in ["pen_test", "synthetic_monitor", "batch_job"] {
        let inj = injection(truth, kind);
        let c = &consumers[inj["consumer"].as_str().unwrap()];
        let net = inj["source_network"].as_str().unwrap_or(c["network"].as_str().unwrap());
        let kinds = out.entry(kind.to_string()).or_default();
        for a in alerts {
            let ip = a["src_endpoint"]["ip"].as_str().unwrap_or("");
            if during(a, inj) && (a["unmapped"]["consumer"]["label"] == c["label"] || in_net(ip, net)) {
                *kinds.entry(a["unmapped"]["kind"].as_str().unwrap().to_string()).or_default() += 1;
            }
        }
        if kind == "synthetic_monitor" {
            let failures: Vec<f64> = inj["failed_check_times"].as_array().unwrap().iter().map(secs).collect();
            let spikes = alerts
                .iter()
                .filter(|a| a["unmapped"]["kind"] == "error_spike" && a["unmapped"]["consumer"].is_null())
                .filter(|a| failures.iter().any(|f| (*f..=f + 120.0).contains(&secs(&a["unmapped"]["detected"]))))
                .count();
            if spikes > 0 {
                kinds.insert("error_spike (no consumer)".into(), spikes);
            }
        }
        kinds.retain(|_, n| *n > 0);
    }
    out
}

/// The real attacks of the truth that no alert finds with their kind, in their window, naming
/// their consumer (empty when every one is found).
pub fn missed_attacks(truth: &Value, alerts: &[&Value]) -> Vec<String> {
    use super::accuracy::{consumers_by_id, expected_kind, names_consumer};
    let consumers = consumers_by_id(truth);
    truth["injections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|inj| expected_kind(inj["kind"].as_str().unwrap()).map(|k| (inj, k)))
        .filter(|(inj, kind)| !alerts.iter().any(|a| a["unmapped"]["kind"] == *kind && during(a, inj) && names_consumer(a, inj, &consumers)))
        .map(|(inj, kind)| format!("{} by {} (as {kind})", inj["kind"], inj["consumer"]))
        .collect()
}
