//! The pipeline on worker threads gives the same transactions, inventory and anomalies as on
//! one thread, for any number of workers, and the same output byte for byte from one run to
//! the next: the workers' results are merged back in input order. Checked on two weeks of
//! simulated open-banking traffic (with injected attacks for the detectors) and on every real
//! trace of the Zeek test corpus (tunnels, fragments, pipelining, odd framing).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Conversation, Side};
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

/// `ip` (an IPv4 packet without options) cut into fragments at the given payload offsets
/// (multiples of 8), with identification `id`.
fn fragment4(ip: &[u8], cuts: &[usize], id: u16) -> Vec<Vec<u8>> {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let payload = &ip[ihl..];
    let mut bounds = vec![0];
    bounds.extend(cuts.iter().copied().filter(|c| *c < payload.len()));
    bounds.push(payload.len());
    bounds
        .windows(2)
        .map(|w| {
            let (start, end) = (w[0], w[1]);
            let mut h = ip[..ihl].to_vec();
            let total = (ihl + end - start) as u16;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[4..6].copy_from_slice(&id.to_be_bytes());
            let more = if end < payload.len() { 0x2000 } else { 0 };
            h[6..8].copy_from_slice(&(more | (start / 8) as u16).to_be_bytes());
            h[10..12].copy_from_slice(&[0, 0]);
            let sum = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum::<u32>();
            let sum = (sum & 0xffff) + (sum >> 16);
            let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            h.extend_from_slice(&payload[start..end]);
            h
        })
        .collect()
}

#[test]
fn fragments_follow_their_connection_to_its_worker() {
    // Forty connections between one client host and one server: a pair hash would put them
    // all on one worker; the connection hash spreads them. Every response segment is sent as
    // three IP fragments, and on every other connection the later fragments come before the
    // first, so the reading thread must hold them until it knows their connection's worker.
    let server = (Ipv4Addr::new(10, 1, 0, 2), 8080);
    let mut conversations = Vec::new();
    let mut id = 1u16;
    for i in 0..40u16 {
        let body = format!("{{\"account\":\"{i}\",\"pad\":\"{}\"}}", "x".repeat(2500 + usize::from(i)));
        let req = format!("GET /accounts/{i} HTTP/1.1\r\nHost: api.bank.example\r\n\r\n");
        let resp = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let mut c = Conversation::new((Ipv4Addr::new(10, 1, 0, 1), 40_000 + i), server);
        c.ts += u64::from(i) * 100_000; // interleaved in time
        c.mss = 1400;
        c.handshake();
        c.send(Side::Client, req.as_bytes());
        c.send(Side::Server, resp.as_bytes());
        c.close();
        let mut frames = Vec::new();
        for (ts, side, pkt) in c.packets {
            if side == Side::Server && pkt.len() > 600 {
                let mut frags = fragment4(&pkt, &[24, 600], id);
                id = id.wrapping_add(1);
                if i % 2 == 0 {
                    frags.reverse();
                }
                for (k, f) in frags.into_iter().enumerate() {
                    frames.push((ts + k as u64 * 1_000, common::ethernet(&f, &[])));
                }
            } else {
                frames.push((ts, common::ethernet(&pkt, &[])));
            }
        }
        conversations.push((i, body.len(), frames));
    }
    let mut frames: Vec<(u64, Vec<u8>)> = conversations.iter().flat_map(|(_, _, f)| f.clone()).collect();
    frames.sort_by_key(|(ts, _)| *ts);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("frags.pcap");
    common::write_pcap(&pcap, 1, true, &frames);

    let one = dir.path().join("w1");
    read(std::slice::from_ref(&pcap), &one, 1, &["--no-inventory"]);
    let base = lines(&one.join("transactions.jsonl"));
    assert_eq!(base.len(), 40, "every fragmented exchange is whole on one thread");
    for rec in &base {
        let v: Value = serde_json::from_str(rec).unwrap();
        let i: usize = v["uri"].as_str().unwrap().trim_start_matches("/accounts/").parse().unwrap();
        assert_eq!(v["status_code"], 200);
        assert_eq!(v["response_body_len"].as_u64().unwrap() as usize, conversations[i].1, "connection {i}");
    }
    let four = dir.path().join("w4");
    read(std::slice::from_ref(&pcap), &four, 4, &["--no-inventory"]);
    let got = sorted(lines(&four.join("transactions.jsonl")));
    let want = sorted(base);
    let differ: Vec<(&String, &String)> = got.iter().zip(&want).filter(|(a, b)| a != b).take(2).collect();
    assert!(got.len() == want.len() && differ.is_empty(), "4 workers differ from one thread ({} vs {} records): {differ:?}", got.len(), want.len());
    let s = summary(&four);
    assert!(stage(&s, "steering", "fragments_held") >= 40, "later fragments waited for their first: {}", s["stages"]["steering"]);
    assert_eq!(stage(&s, "steering", "fragments_unrouted"), 0);
    assert_eq!(stage(&s, "tcp", "gaps"), 0, "no connection lost a fragment to another worker");
    let per_worker: Vec<u64> = s["workers"].as_array().unwrap().iter().map(|w| w["packets"].as_u64().unwrap()).collect();
    assert!(per_worker.iter().all(|p| *p > 0), "one host pair's connections spread over every worker: {per_worker:?}");
}
