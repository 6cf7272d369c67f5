//! The simulator's HTTP/2 and gRPC output judged by a tool that did not write it: tshark's
//! HTTP/2 dissection of `fixtures/scenarios/http2.yaml` finds every request of the truth, no
//! malformed frame, and the same streams (method, path, status, `grpc-status`) that
//! `apitap read` records.
//!
//! tshark is required: the test fails when it is missing (CI installs it through
//! scripts/install-deps.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// tshark on the simulated capture, both server ports decoded as HTTP/2.
fn tshark(pcap: &Path, args: &[&str]) -> String {
    run(Command::new("tshark").arg("-r").arg(pcap).args(["-d", "tcp.port==8080,http2", "-d", "tcp.port==50051,http2"]).args(args))
}

/// (method, path, status, grpc-status) of every stream, counted.
type Streams = BTreeMap<(String, String, String, String), usize>;

/// tshark's streams: requests and responses paired by connection and stream id.
fn theirs(pcap: &Path) -> Streams {
    let fields = ["tcp.stream", "http2.streamid", "http2.header.name", "http2.header.value"];
    let mut args = vec!["-Y", "http2.type == 1", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=\u{1}"];
    for f in &fields {
        args.extend(["-e", f]);
    }
    let text = tshark(pcap, &args);
    // One line per packet; a packet may hold several HEADERS frames (of several streams), so
    // names and values are paired in order and attributed to the stream ids in turn, each
    // frame's block starting at a pseudo-header or, for trailers, at grpc-status.
    let mut per: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let (conn, ids, names, values) = (cols[0], cols[1], cols[2], cols[3]);
        let ids: Vec<&str> = ids.split('\u{1}').collect();
        let names: Vec<&str> = names.split('\u{1}').collect();
        let values: Vec<&str> = values.split('\u{1}').collect();
        assert_eq!(names.len(), values.len(), "{line}");
        let mut frame = 0usize;
        let mut seen_regular = false;
        for (n, v) in names.iter().zip(&values) {
            let starts_block = seen_regular && (n.starts_with(':') || *n == "grpc-status");
            if starts_block {
                frame += 1;
                seen_regular = false;
            }
            if !n.starts_with(':') {
                seen_regular = true;
            }
            let id = ids.get(frame).or(ids.last()).unwrap();
            per.entry((conn.to_string(), id.to_string())).or_default().insert(n.to_string(), v.to_string());
        }
    }
    let mut out = Streams::new();
    for h in per.values() {
        let get = |k: &str| h.get(k).cloned().unwrap_or_default();
        *out.entry((get(":method"), percent_decoded(&get(":path")), get(":status"), get("grpc-status"))).or_default() += 1;
    }
    out
}

/// A path as apitap records it: percent-escapes decoded.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ours(records: &[Value]) -> Streams {
    let mut out = Streams::new();
    for r in records {
        let s = |v: &Value| v.as_u64().map(|n| n.to_string()).unwrap_or_default();
        let key = (r["method"].as_str().unwrap().to_string(), r["uri"].as_str().unwrap().to_string(), s(&r["status_code"]), s(&r["grpc"]["status"]));
        *out.entry(key).or_default() += 1;
    }
    out
}

#[test]
fn tshark_reads_the_simulated_http2_and_grpc_as_apitap_does() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    run(Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["simulate", "--hours", "12", "--scenario"])
        .arg(Path::new(ROOT).join("fixtures/scenarios/http2.yaml"))
        .arg("--out")
        .arg(&sim));
    let pcap = sim.join("capture.pcap");
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(sim.join("truth.json")).unwrap()).unwrap();
    let requests = truth["requests"].as_u64().unwrap();
    assert!(requests > 500, "{requests}");

    // Clean for tshark: no malformed frame, no error or warning of its expert analysis.
    let expert = tshark(&pcap, &["-q", "-z", "expert,warn"]);
    assert!(!expert.contains("Malformed") && !expert.contains("Errors ("), "{expert}");
    let methods = tshark(&pcap, &["-Y", "http2.headers.method", "-T", "fields", "-e", "http2.headers.method"]);
    let sent: usize = methods.lines().map(|l| l.split(',').count()).sum();
    assert_eq!(sent as u64, requests, "every request of the truth is an HTTP/2 stream");

    let out = dir.path().join("read");
    run(Command::new(env!("CARGO_BIN_EXE_apitap")).arg("read").arg(&pcap).arg("--no-progress").arg("--out").arg(&out));
    let records: Vec<Value> = std::fs::read_to_string(out.join("transactions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len() as u64, requests);
    assert!(records.iter().all(|r| r["version"] == "2"));
    let grpc: Vec<&Value> = records.iter().filter(|r| r["grpc"].is_object()).collect();
    assert!(grpc.len() > 100 && grpc.iter().all(|r| r["grpc"]["request_messages"] == 1), "one message per unary call");
    assert!(grpc.iter().any(|r| r["grpc"]["status"].as_u64().is_some_and(|s| s != 0)), "failed calls are in the sample");
    let (t, o) = (theirs(&pcap), ours(&records));
    assert_eq!(t.values().sum::<usize>() as u64, requests, "tshark's streams: {t:?}");
    let differ: Vec<_> = t.keys().chain(o.keys()).filter(|k| t.get(*k) != o.get(*k)).map(|k| (k, t.get(k), o.get(k))).collect();
    assert!(differ.is_empty(), "apitap and tshark disagree (stream, tshark, apitap): {differ:?}");
}
