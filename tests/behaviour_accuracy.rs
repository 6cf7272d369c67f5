//! Accuracy of the behavioural detectors against the simulator's ground truth: a scenario is
//! simulated, `apitap read --config` raises anomalies from the capture alone, and every `new`
//! finding is matched with truth.json's injections.
//!
//! An alert is true when an injection of the matching kind is running (from its start to two
//! hours after its end) and the alert names its consumer (label, PSD2 organisation id, or a
//! client address in the consumer's or the injection's network; alerts about a whole
//! service or endpoint match the injection's time alone). Every other alert is false,
//! including alerts of another kind during an attack and alerts on the benign confounders.
//!
//! The detectors were tuned on `behaviour.yaml` and `week.yaml`; `behaviour-holdout.yaml`
//! (Open Finance Brasil) was never used while tuning; its seeds 4242 and 60606 have been looked
//! at since, and 777001 is the one run once with the settings frozen. `population.yaml` (500
//! consumers for 28 days, 14,000 consumer-days, clean) measures false alerts.
//!
//! The default run holds the detectors to every bar on `week.yaml`. The two-week scenarios and
//! the clean month are the acceptance measurement, `#[ignore]`d in the default run (two of
//! their bars do not hold yet: docs/accuracy.md) and run with
//! `cargo test --release --test behaviour_accuracy -- --include-ignored --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::accuracy::{consumers_by_id, expected_kind, names_consumer, secs};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KEY: &str = "accuracy-test-hashing-key-0001";

/// The operator's configuration for a scenario: spec bindings and the bank's time zone.
fn config_for(scenario: &str) -> String {
    let spec = common::spec_entry;
    match scenario {
        "behaviour" | "population" | "week" => common::uk_scenario_config(),
        "behaviour-holdout" => [
            spec("obb-br/accounts_2.4.2.yml", "api.banco.example", ""),
            spec("obb-br/credit-cards_2.3.1.yml", "api.banco.example", ""),
            spec("obb-br/old-majors/accounts_1.0.3.yml", "api.banco.example", "superseded = true"),
            spec("adyen/BalancePlatformService-v2.json", "platform.banco.example", ""),
            spec("auth/token-endpoint.yaml", "auth.banco.example", ""),
            // The bank's account parameters: Open Finance Brasil names card accounts apart.
            "[behaviour]\ntimezone = \"America/Sao_Paulo\"\naccount_params = [\"accountId\", \"creditCardAccountId\"]\n".into(),
        ]
        .concat(),
        "http2" => [
            spec("ob-uk/account-info-openapi.yaml", "api.bank.example", ""),
            spec("grpc/payments-grpc.yaml", "payments.internal.bank.example:50051", ""),
            "[behaviour]\ntimezone = \"Europe/London\"\n".into(),
        ]
        .concat(),
        other => panic!("no configuration for {other}"),
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run apitap");
    assert!(out.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&out.stderr));
}

/// Simulates `scenario` and reads it back; returns the truth and the `new` findings.
fn simulate_and_read(scenario: &str, dir: &Path) -> (Value, Vec<Value>) {
    simulate_and_read_seed(scenario, None, dir)
}

/// As [`simulate_and_read`], with a seed other than the scenario's.
fn simulate_and_read_seed(scenario: &str, seed: Option<u64>, dir: &Path) -> (Value, Vec<Value>) {
    let sim = dir.join("sim");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apitap"));
    cmd.args(["simulate", "--scenario"]).arg(format!("{ROOT}/fixtures/scenarios/{scenario}.yaml")).arg("--out").arg(&sim);
    if let Some(seed) = seed {
        cmd.arg("--seed").arg(seed.to_string());
    }
    run(&mut cmd);
    let cfg = dir.join("apitap.toml");
    std::fs::write(&cfg, config_for(scenario)).unwrap();
    let out = dir.join("out");
    run(Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("read")
        .arg(sim.join("capture.pcap"))
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .env("APITAP_HASH_KEY", KEY));
    // The capture is large; the findings are all that is needed now.
    std::fs::remove_file(sim.join("capture.pcap")).ok();
    std::fs::remove_file(out.join("transactions.jsonl")).ok();
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(sim.join("truth.json")).unwrap()).unwrap();
    let alerts = std::fs::read_to_string(out.join("anomalies.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a["unmapped"]["lifecycle"] == "new")
        .collect();
    (truth, alerts)
}


#[derive(Default)]
struct KindFigures {
    true_alerts: usize,
    false_alerts: usize,
    injections: usize,
    detected: usize,
    ttd: Vec<f64>,
}

struct Scored {
    kinds: BTreeMap<String, KindFigures>,
    /// (injection kind, consumer, detected, seconds to detect, requests before detection).
    injections: Vec<(String, String, bool, f64, usize)>,
    false_alerts: Vec<String>,
    confounder_alerts: Vec<String>,
}

fn score(truth: &Value, alerts: &[Value]) -> Scored {
    let consumers: BTreeMap<String, Value> =
        consumers_by_id(truth);
    let injections = truth["injections"].as_array().unwrap();
    let mut kinds: BTreeMap<String, KindFigures> = BTreeMap::new();
    let mut first_detection: BTreeMap<usize, f64> = BTreeMap::new();
    let mut false_alerts = Vec::new();
    let mut confounder_alerts = Vec::new();
    for a in alerts {
        let kind = a["unmapped"]["kind"].as_str().unwrap().to_string();
        let at = secs(&a["unmapped"]["detected"]);
        let hit = injections.iter().enumerate().find(|(_, inj)| {
            expected_kind(inj["kind"].as_str().unwrap()) == Some(kind.as_str())
                && secs(&inj["start"]) - 60.0 <= at
                && at <= secs(&inj["end"]) + 7200.0
                && names_consumer(a, inj, &consumers)
        });
        let f = kinds.entry(kind.clone()).or_default();
        match hit {
            Some((i, _)) => {
                f.true_alerts += 1;
                let e = first_detection.entry(i).or_insert(at);
                *e = e.min(at);
            }
            None => {
                f.false_alerts += 1;
                let line = format!("{kind} {} {} {}", a["unmapped"]["detected"], a["unmapped"]["consumer"]["label"], a["message"]);
                let benign = injections.iter().any(|inj| {
                    inj["benign"] == true
                        && secs(&inj["start"]) <= at
                        && at <= secs(&inj["end"]) + 3600.0
                        && (inj["consumer"].as_str().unwrap_or("").is_empty() || names_consumer(a, inj, &consumers))
                });
                if benign {
                    confounder_alerts.push(line.clone());
                }
                false_alerts.push(line);
            }
        }
    }
    let mut rows = Vec::new();
    for (i, inj) in injections.iter().enumerate() {
        let Some(kind) = expected_kind(inj["kind"].as_str().unwrap()) else { continue };
        let f = kinds.entry(kind.to_string()).or_default();
        f.injections += 1;
        let first = secs(&inj["first_request"]);
        let (detected, ttd, requests) = match first_detection.get(&i) {
            Some(&at) => {
                f.detected += 1;
                let ttd = (at - first).max(0.0);
                f.ttd.push(ttd);
                let times = inj["first_request_times"].as_array().map_or(0, |t| t.iter().filter(|t| secs(t) <= at + 1e-6).count());
                (true, ttd, times)
            }
            None => (false, f64::NAN, 0),
        };
        rows.push((inj["kind"].as_str().unwrap().to_string(), inj["consumer"].as_str().unwrap_or("").to_string(), detected, ttd, requests));
    }
    Scored { kinds, injections: rows, false_alerts, confounder_alerts }
}

fn print(name: &str, s: &Scored) {
    println!("\n{name}: per kind (precision = true alerts / alerts; recall = injections detected)");
    println!("{:28} {:>6} {:>6} {:>9} {:>10} {:>7} {:>12}", "kind", "true", "false", "precision", "injections", "recall", "median ttd s");
    for (k, f) in &s.kinds {
        let alerts = f.true_alerts + f.false_alerts;
        let precision = if alerts == 0 { f64::NAN } else { f.true_alerts as f64 / alerts as f64 };
        let recall = if f.injections == 0 { f64::NAN } else { f.detected as f64 / f.injections as f64 };
        let mut t = f.ttd.clone();
        t.sort_by(f64::total_cmp);
        let median = t.get(t.len() / 2).copied().unwrap_or(f64::NAN);
        println!("{k:28} {:>6} {:>6} {precision:>9.2} {:>10} {recall:>7.2} {median:>12.0}", f.true_alerts, f.false_alerts, f.injections);
    }
    println!("injections:");
    for (kind, consumer, detected, ttd, requests) in &s.injections {
        println!("  {kind:24} {consumer:14} {} ttd {ttd:.0} s, {requests} of its requests before", if *detected { "detected" } else { "MISSED  " });
    }
    for f in &s.false_alerts {
        println!("  false: {f}");
    }
}

/// The bars: every injection detected with the right kind and consumer, precision of
/// at least 90% per kind, no alert on a benign confounder, and the time-to-detect limits.
fn check(s: &Scored) {
    for (kind, consumer, detected, ttd, requests) in &s.injections {
        assert!(detected, "{kind} by {consumer} not detected");
        match kind.as_str() {
            "object_enumeration" if *requests > 0 && *ttd < 3600.0 => assert!(*requests <= 20, "fast enumeration took {requests} requests"),
            "credential_stuffing" => assert!(*ttd <= 300.0, "credential stuffing detected after {ttd} s"),
            "off_hours_token" => assert!(*ttd <= 600.0, "off-hours use detected after {ttd} s"),
            "error_spike" => assert!(*ttd <= 120.0, "error spike detected after {ttd} s"),
            _ => {}
        }
    }
    for (k, f) in &s.kinds {
        let alerts = f.true_alerts + f.false_alerts;
        if alerts > 0 {
            assert!(f.true_alerts as f64 >= 0.9 * alerts as f64, "{k}: precision {}/{alerts}", f.true_alerts);
        }
    }
    assert!(s.confounder_alerts.is_empty(), "alerts on benign confounders: {:#?}", s.confounder_alerts);
}

#[test]
fn a_week_of_uk_open_banking_every_attack_found_with_its_kind_and_no_false_alert() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, alerts) = simulate_and_read("week", dir.path());
    let s = score(&truth, &alerts);
    print("week.yaml (tuning scenario)", &s);
    check(&s);
    assert!(s.false_alerts.is_empty(), "{:#?}", s.false_alerts);
    assert!(s.injections.len() >= 10);
}

/// The detectors on HTTP/2 streams and gRPC calls, unchanged: a shadow gRPC method, a deprecated
/// one, an enumeration over HTTP/2 and a spike of failed gRPC calls (HTTP status 200,
/// `grpc-status` 14) are each found with their kind, and nothing else is raised.
#[test]
fn http2_and_grpc_every_attack_found_with_its_kind_and_no_false_alert() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, alerts) = simulate_and_read("http2", dir.path());
    let s = score(&truth, &alerts);
    print("http2.yaml", &s);
    check(&s);
    assert!(s.false_alerts.is_empty(), "{:#?}", s.false_alerts);
    assert_eq!(s.injections.len(), 4);
}

#[test]
#[ignore = "acceptance measurement (docs/accuracy.md): run with --include-ignored"]
fn two_weeks_of_uk_open_banking_every_attack_found_with_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, alerts) = simulate_and_read("behaviour", dir.path());
    let s = score(&truth, &alerts);
    print("behaviour.yaml (tuning scenario)", &s);
    check(&s);
}

#[test]
#[ignore = "acceptance measurement (docs/accuracy.md): run with --include-ignored"]
fn held_out_open_finance_brasil_every_attack_found_with_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, alerts) = simulate_and_read("behaviour-holdout", dir.path());
    let s = score(&truth, &alerts);
    print("behaviour-holdout.yaml (seed 4242, seen while tuning)", &s);
    check(&s);
}

/// The held-out scenario with a seed first run after the settings were frozen: 777001, run
/// once on 2026-11-22. Seed 4242 was run before general changes were made, and 60606 (the
/// previous fresh seed) was studied, with 4242, while looking for a rule that finds the held-out
/// `rate_surge` (docs/accuracy.md), so neither is unseen any more.
#[test]
#[ignore = "acceptance measurement (docs/accuracy.md): run with --include-ignored"]
fn held_out_open_finance_brasil_with_a_fresh_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, alerts) = simulate_and_read_seed("behaviour-holdout", Some(777_001), dir.path());
    let s = score(&truth, &alerts);
    print("behaviour-holdout.yaml (held out, seed 777001)", &s);
    check(&s);
}

#[test]
#[ignore = "acceptance measurement, 1.4 GB of capture: run in release with --include-ignored (docs/accuracy.md)"]
fn a_clean_month_of_500_consumers_raises_at_most_one_false_alert_per_1000_consumer_days() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, alerts) = simulate_and_read("population", dir.path());
    let consumers = truth["consumers"].as_array().unwrap().len() as f64;
    let days = (secs(&truth["end"]) - secs(&truth["start"])) / 86_400.0;
    let consumer_days = consumers * days;
    let s = score(&truth, &alerts);
    print("population.yaml (clean month)", &s);
    let rate = s.false_alerts.len() as f64 * 1000.0 / consumer_days;
    println!("false alerts: {} over {consumer_days:.0} consumer-days = {rate:.2} per 1,000", s.false_alerts.len());
    assert!(consumer_days >= 10_000.0);
    assert!(rate <= 1.0, "{rate} false alerts per 1,000 consumer-days");
    assert!(s.confounder_alerts.is_empty(), "{:#?}", s.confounder_alerts);
}
