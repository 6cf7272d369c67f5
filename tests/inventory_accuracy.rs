//! Accuracy of the endpoint inventory against the simulator's ground truth: a scenario is
//! simulated, `apitap read --config` builds the inventory from the capture alone, and every
//! endpoint is compared with truth.json (host, method, path template, classification, hits).
//!
//! The templating was tuned on UK Open Banking (small.yaml, week.yaml); the figures in
//! docs/accuracy.md come from `holdout.yaml` (Open Finance Brasil and Adyen's Balance Platform)
//! with seeds used nowhere else. `scripts/accuracy.sh` prints them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The operator's configuration for a scenario: what a bank would bind.
fn config_for(scenario: &str) -> String {
    let spec = common::spec_entry;
    let token = spec("auth/token-endpoint.yaml", "auth.bank.example", "");
    match scenario {
        "small" => [
            spec("ob-uk/account-info-openapi.yaml", "api.bank.example", ""),
            spec("ob-uk/v3.1.11/account-info-openapi.yaml", "api.bank.example", "superseded = true"),
            token,
        ]
        .concat(),
        "week" => [
            spec("ob-uk/account-info-openapi.yaml", "api.bank.example", ""),
            spec("ob-uk/payment-initiation-openapi.yaml", "api.bank.example", ""),
            spec("ob-uk/v3.1.11/account-info-openapi.yaml", "api.bank.example", "superseded = true"),
            spec("adyen/TransferService-v4.json", "platform.bank.example", ""),
            token,
        ]
        .concat(),
        "holdout" => [
            spec("obb-br/accounts_2.4.2.yml", "api.banco.example", "environment = \"production\""),
            spec("obb-br/credit-cards_2.3.1.yml", "api.banco.example", "environment = \"production\""),
            spec("obb-br/consents_3.3.1.yml", "api.banco.example", "environment = \"production\""),
            spec("obb-br/old-majors/accounts_1.0.3.yml", "api.banco.example", "superseded = true"),
            spec("adyen/BalancePlatformService-v2.json", "platform.banco.example", ""),
        ]
        .concat(),
        "http2" => [
            spec("ob-uk/account-info-openapi.yaml", "api.bank.example", ""),
            spec("grpc/payments-grpc.yaml", "payments.internal.bank.example:50051", ""),
        ]
        .concat(),
        other => panic!("no configuration for {other}"),
    }
}

#[derive(Debug, Default)]
struct Figures {
    true_endpoints: usize,
    documented_20: usize,
    documented_20_found: usize,
    documented_found: usize,
    documented: usize,
    spurious: Vec<String>,
    collapsed_literals: Vec<String>,
    shadow_5: usize,
    shadow_5_found: usize,
    zombies: usize,
    zombies_found: usize,
    orphans: usize,
    orphans_found: usize,
    hits_exact: usize,
    misses: Vec<String>,
}

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&o.stderr));
}

fn key(host: &str, method: &str, path: &str) -> String {
    format!("{host} {method} {path}")
}

fn segments(p: &str) -> Vec<&str> {
    p.split('/').filter(|s| !s.is_empty()).collect()
}

/// Simulates `scenario` (with `seed`, else the scenario's), builds the inventory, compares.
fn evaluate(scenario: &str, seed: Option<u64>) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apitap"));
    cmd.args(["simulate", "--scenario"]).arg(Path::new(ROOT).join(format!("fixtures/scenarios/{scenario}.yaml"))).arg("--out").arg(&sim);
    if let Some(seed) = seed {
        cmd.args(["--seed", &seed.to_string()]);
    }
    run(&mut cmd);
    let config = dir.path().join("apitap.toml");
    std::fs::write(&config, config_for(scenario)).unwrap();
    let out = dir.path().join("read");
    run(Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("read")
        .arg(sim.join("capture.pcap"))
        .args(["--no-progress", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out));
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(sim.join("truth.json")).unwrap()).unwrap();
    let inv: Value = serde_json::from_str(&std::fs::read_to_string(out.join("inventory.json")).unwrap()).unwrap();
    let truth_eps: BTreeMap<String, &Value> = truth["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (key(e["host"].as_str().unwrap(), e["method"].as_str().unwrap(), e["path_template"].as_str().unwrap()), e))
        .collect();
    let inv_eps: BTreeMap<String, &Value> = inv["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (key(e["host"].as_str().unwrap(), e["method"].as_str().unwrap(), e["path"].as_str().unwrap()), e))
        .collect();
    let mut f = Figures::default();
    for (k, t) in &truth_eps {
        let class = t["class"].as_str().unwrap();
        let hits = t["hits"].as_u64().unwrap();
        let found = inv_eps.get(k).filter(|e| e["classification"] == class);
        if hits > 0 {
            f.true_endpoints += 1;
        }
        if found.is_some_and(|e| e["hits"].as_u64() == Some(hits)) && hits > 0 {
            f.hits_exact += 1;
        }
        if found.is_none() {
            let got = inv_eps.get(k).map(|e| e["classification"].to_string()).unwrap_or_else(|| "absent".into());
            f.misses.push(format!("{k} ({class}, {hits} hits): {got}"));
        }
        match class {
            "documented" => {
                f.documented += 1;
                f.documented_found += usize::from(found.is_some());
                if hits >= 20 {
                    f.documented_20 += 1;
                    f.documented_20_found += usize::from(found.is_some());
                }
            }
            "shadow" if hits >= 5 => {
                f.shadow_5 += 1;
                f.shadow_5_found += usize::from(found.is_some());
            }
            "zombie" => {
                f.zombies += 1;
                f.zombies_found += usize::from(found.is_some());
            }
            "orphan" => {
                f.orphans += 1;
                f.orphans_found += usize::from(found.is_some());
            }
            _ => {}
        }
    }
    for (k, e) in &inv_eps {
        if e["hits"].as_u64().unwrap() == 0 || truth_eps.contains_key(k) {
            continue;
        }
        f.spurious.push(format!("{k} ({}, {} hits)", e["classification"], e["hits"]));
        // A parameter where the truth has a literal at the same place of an otherwise equal
        // path: a literal (an enum value, a fixed word) collapsed into a parameter.
        let (host, method) = (e["host"].as_str().unwrap(), e["method"].as_str().unwrap());
        let mine = segments(e["path"].as_str().unwrap());
        for t in truth_eps.values().filter(|t| t["host"] == host && t["method"] == method) {
            let theirs = segments(t["path_template"].as_str().unwrap());
            let collapses = theirs.len() == mine.len()
                && mine.iter().zip(&theirs).all(|(m, t)| m == t || (m.starts_with('{') && !t.starts_with('{')) || (m.starts_with('{') && t.starts_with('{')))
                && mine.iter().zip(&theirs).any(|(m, t)| m.starts_with('{') && !t.starts_with('{'));
            if collapses {
                f.collapsed_literals.push(format!("{k} covers {}", t["path_template"]));
            }
        }
    }
    f
}

fn print(name: &str, f: &Figures) {
    let pct = |a: usize, b: usize| if b == 0 { 100.0 } else { 100.0 * a as f64 / b as f64 };
    println!(
        "| {name} | {} | {}/{} ({:.1}%) | {}/{} | {} ({:.2}%) | {} | {}/{} | {}/{} | {}/{} | {}/{} |",
        f.true_endpoints,
        f.documented_20_found,
        f.documented_20,
        pct(f.documented_20_found, f.documented_20),
        f.documented_found,
        f.documented,
        f.spurious.len(),
        pct(f.spurious.len(), f.true_endpoints),
        f.collapsed_literals.len(),
        f.shadow_5_found,
        f.shadow_5,
        f.zombies_found,
        f.zombies,
        f.orphans_found,
        f.orphans,
        f.hits_exact,
        f.true_endpoints,
    );
    for m in f.misses.iter().chain(&f.spurious).chain(&f.collapsed_literals) {
        println!("    {m}");
    }
}

/// The acceptance bar of the inventory.
fn check(name: &str, f: &Figures, max_spurious_share: f64) {
    print(name, f);
    assert!(f.true_endpoints > 0 && f.documented_20 > 0, "{name}: nothing to measure");
    assert!(f.documented_20_found as f64 >= 0.99 * f.documented_20 as f64, "{name}: template recall on documented operations with >= 20 hits: {f:?}");
    assert!(f.collapsed_literals.is_empty(), "{name}: literals collapsed into parameters: {:?}", f.collapsed_literals);
    assert!(f.spurious.len() as f64 <= max_spurious_share * f.true_endpoints as f64, "{name}: spurious endpoints: {:?}", f.spurious);
    assert_eq!(f.shadow_5_found, f.shadow_5, "{name}: shadow endpoints with >= 5 hits: {:?}", f.misses);
    assert_eq!(f.zombies_found, f.zombies, "{name}: zombies: {:?}", f.misses);
    assert_eq!(f.orphans_found, f.orphans, "{name}: orphans: {:?}", f.misses);
}

#[test]
fn small_scenario_is_exact() {
    let f = evaluate("small", None);
    check("small (seed 7)", &f, 0.0);
    assert!(f.zombies > 0 && f.shadow_5 > 0 && f.orphans > 0, "small.yaml exercises every class: {f:?}");
    assert!(f.misses.is_empty(), "{:?}", f.misses);
    assert_eq!(f.hits_exact, f.true_endpoints, "every endpoint's hit count equals the truth");
}

/// The same inventory from HTTP/2 streams and gRPC calls: the endpoints, their classes and
/// hit counts equal the truth exactly, as they do for HTTP/1.1 (small.yaml).
#[test]
fn http2_and_grpc_scenario_is_exact() {
    let f = evaluate("http2", None);
    check("http2 (seed 11)", &f, 0.0);
    assert!(f.zombies > 0 && f.shadow_5 > 0 && f.orphans > 0, "http2.yaml exercises every class: {f:?}");
    assert!(f.misses.is_empty(), "{:?}", f.misses);
    assert_eq!(f.hits_exact, f.true_endpoints, "every endpoint's hit count equals the truth");
}

#[test]
fn holdout_families_and_seeds() {
    for seed in [90210, 31337] {
        let f = evaluate("holdout", Some(seed));
        check(&format!("holdout (seed {seed})"), &f, 0.01);
        assert!(f.zombies > 0 && f.shadow_5 >= 2 && f.orphans > 0, "holdout.yaml has zombies, shadows and orphans: {f:?}");
    }
}

/// The week the templating was tuned on (UK Open Banking, Adyen Transfers).
#[test]
fn week_scenario() {
    let f = evaluate("week", None);
    check("week (seed 2026)", &f, 0.01);
}
