//! The pipeline on worker threads gives the same transactions, inventory and anomalies as on
//! one thread, for any number of workers, and the same output byte for byte from one run to
//! the next: the workers' results are merged back in input order. Checked on two weeks of
//! simulated open-banking traffic (with injected attacks for the detectors) and on every real
//! trace of the Zeek test corpus (tunnels, fragments, pipelining, odd framing).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const KEY: &str = "workers-test-key-0123456789";

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios").join(name)
}

/// `apitap read` of `captures` with `workers` worker threads into `out`.
fn read(captures: &[PathBuf], out: &Path, workers: u32, extra: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("read")
        .args(captures)
        .args(["--no-progress", "--summary-json", "--workers", &workers.to_string(), "--out"])
        .arg(out)
        .args(extra)
        .env("APITAP_HASH_KEY", KEY)
        .output()
        .unwrap();
    assert!(o.status.success(), "read with {workers} workers: {}", String::from_utf8_lossy(&o.stderr));
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The inventory without the time it was written.
fn inventory(dir: &Path) -> Value {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("inventory.json")).unwrap()).unwrap();
    if let Some(o) = v.as_object_mut() {
        o.remove("generated_at");
    }
    v
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn stage(s: &Value, stage: &str, name: &str) -> u64 {
    s["stages"][stage][name].as_u64().unwrap_or(0)
}

#[test]
fn any_number_of_workers_gives_the_same_results_as_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["simulate", "--scenario"])
        .arg(scenario("behaviour.yaml"))
        .arg("--out")
        .arg(&sim)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(sim.join("truth.json")).unwrap()).unwrap();
    let pcap = vec![sim.join("capture.pcap")];

    let one = dir.path().join("w1");
    read(&pcap, &one, 1, &[]);
    let base_tx = lines(&one.join("transactions.jsonl"));
    let base_anomalies = lines(&one.join("anomalies.jsonl"));
    assert_eq!(base_tx.len() as u64, truth["requests"].as_u64().unwrap(), "one thread recovers every request");
    assert!(base_anomalies.len() > 20, "the injected attacks raise findings ({})", base_anomalies.len());
    assert!(summary(&one)["workers"].is_null(), "one thread has no worker section");

    for workers in [2u32, 3, 4] {
        let out = dir.path().join(format!("w{workers}"));
        read(&pcap, &out, workers, &[]);
        let tx = lines(&out.join("transactions.jsonl"));
        assert_eq!(tx.len(), base_tx.len(), "{workers} workers: transactions");
        assert_eq!(sorted(tx), sorted(base_tx.clone()), "{workers} workers: the same transactions");
        assert_eq!(inventory(&out), inventory(&one), "{workers} workers: the same inventory");
        assert_eq!(
            sorted(lines(&out.join("anomalies.jsonl"))),
            sorted(base_anomalies.clone()),
            "{workers} workers: the same findings"
        );
        let s = summary(&out);
        let per_worker: Vec<u64> = s["workers"].as_array().unwrap().iter().map(|w| w["packets"].as_u64().unwrap()).collect();
        assert_eq!(per_worker.len(), workers as usize);
        assert_eq!(per_worker.iter().sum::<u64>(), stage(&s, "input", "packets"), "every packet went to one worker");
        let mean = stage(&s, "input", "packets") / u64::from(workers);
        for (w, p) in per_worker.iter().enumerate() {
            assert!(*p > mean / 4, "worker {w} of {workers} got {p} packets of a mean {mean}: the steering does not spread");
        }
        assert_eq!(s["workers"].as_array().unwrap().iter().map(|w| w["queue_drops"].as_u64().unwrap()).sum::<u64>(), 0, "a file loses nothing");
        assert_eq!(stage(&s, "tcp", "flows_opened"), stage(&summary(&one), "tcp", "flows_opened"), "{workers} workers: flows");
        assert_eq!(stage(&s, "tcp", "gaps"), stage(&summary(&one), "tcp", "gaps"), "{workers} workers: gaps");
    }

    // The merge order depends on the input and the number of workers only.
    let again = dir.path().join("w3-again");
    read(&pcap, &again, 3, &[]);
    assert_eq!(
        std::fs::read(again.join("transactions.jsonl")).unwrap(),
        std::fs::read(dir.path().join("w3").join("transactions.jsonl")).unwrap(),
        "two runs with 3 workers write the same bytes"
    );
    assert_eq!(
        std::fs::read(again.join("anomalies.jsonl")).unwrap(),
        std::fs::read(dir.path().join("w3").join("anomalies.jsonl")).unwrap(),
        "two runs with 3 workers raise the same findings in the same order"
    );
}

#[test]
fn real_traces_give_the_same_transactions_on_workers() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps/zeek-oracle");
    let mut traces = Vec::new();
    for case in std::fs::read_dir(&corpus).unwrap() {
        let case = case.unwrap().path();
        for f in std::fs::read_dir(&case).into_iter().flatten() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "pcap" || e == "pcapng" || e == "trace") {
                traces.push(f);
            }
        }
    }
    traces.sort();
    assert!(traces.len() > 30, "the corpus is there ({} traces)", traces.len());
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for (i, trace) in traces.iter().enumerate() {
        let one = dir.path().join(format!("{i}-1"));
        let three = dir.path().join(format!("{i}-3"));
        read(std::slice::from_ref(trace), &one, 1, &["--no-inventory"]);
        read(std::slice::from_ref(trace), &three, 3, &["--no-inventory"]);
        let a = lines(&one.join("transactions.jsonl"));
        let b = lines(&three.join("transactions.jsonl"));
        assert_eq!(sorted(b), sorted(a.clone()), "{}: the same transactions on 3 workers", trace.display());
        compared += a.len();
    }
    assert!(compared > 100, "the traces hold transactions ({compared})");
}
