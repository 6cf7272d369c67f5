//! The simulator's wire output judged by tools that did not write it: a capture of a few
//! connections (handshake, 5 KB request bodies, 40 KB chunked responses, a keep-alive
//! exchange, close) must be clean for tshark (checksums verified, no malformed packets, no
//! TCP analysis flags) and read back by `apitap read` as exactly the transactions sent.
//!
//! tshark is required: the test fails when it is missing (CI installs it through
//! scripts/install-deps.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// The building blocks under test, compiled from their sources (the binary crate has no
// library target to link against).
#[allow(dead_code)]
#[path = "../src/simulate/http.rs"]
mod http;
#[allow(dead_code)]
#[path = "../src/simulate/rng.rs"]
mod rng;
#[allow(dead_code)]
#[path = "../src/simulate/wire.rs"]
mod wire;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;

use http::{reason_phrase, Request, Response};
use rng::Rng;
use wire::{Frame, PcapWriter, TcpConn};

/// What one exchange should look like once read back.
struct Expected {
    method: &'static str,
    uri: String,
    status: u16,
    request_body_len: usize,
    response_body_len: usize,
    client_port: u16,
}

fn json_body(len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut body = b"{\"Data\":{\"Blob\":\"".to_vec();
    let filler = rng.alnum(len.saturating_sub(body.len() + 4));
    body.extend_from_slice(filler.as_bytes());
    body.extend_from_slice(b"\"}}\n");
    body
}

/// Three connections from two clients, interleaved in time, written to `path`.
fn write_capture(path: &Path) -> Vec<Expected> {
    let mut rng = Rng::new(20_240_601);
    let server = SocketAddrV4::new(Ipv4Addr::new(10, 20, 0, 5), 8080);
    let host = "api.bank.example";
    let mut frames: Vec<Frame> = Vec::new();
    let mut expected = Vec::new();
    let start = 1_717_200_000_000_000_000u64; // 2024-06-01T00:00:00Z
    for i in 0..3u16 {
        let client = SocketAddrV4::new(Ipv4Addr::new(172, 16, 1, 10 + (i % 2) as u8), 40_000 + i);
        let mut conn = TcpConn::new(client, server, &mut rng.fork(u64::from(i)));
        // Connections overlap: each starts 3 ms after the previous one.
        let mut t = conn.open(start + u64::from(i) * 3_000_000, 400_000, &mut frames);

        let req_body = json_body(5_000, &mut rng);
        let uri = format!("/open-banking/v3.1/pisp/domestic-payments?attempt={i}");
        let req = Request {
            method: "POST".into(),
            target: uri.clone(),
            headers: vec![("Content-Type".into(), "application/json".into()), ("x-fapi-interaction-id".into(), rng.uuid())],
            body: req_body.clone(),
        };
        t = conn.send(t + 200_000, true, &req.to_bytes(host), &mut frames);
        let resp_body = json_body(40_000, &mut rng);
        let resp = Response {
            status: 201,
            reason: reason_phrase(201).into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: resp_body.clone(),
            chunked: true,
        };
        t = conn.send(t + 5_000_000, false, &resp.to_bytes(), &mut frames);
        expected.push(Expected { method: "POST", uri, status: 201, request_body_len: req_body.len(), response_body_len: resp_body.len(), client_port: client.port() });

        // A second exchange on the same connection (keep-alive), with Content-Length.
        let uri = format!("/open-banking/v3.1/aisp/accounts/{}", 1000 + i);
        let req = Request { method: "GET".into(), target: uri.clone(), headers: vec![("Accept".into(), "application/json".into())], body: vec![] };
        t = conn.send(t + 1_000_000, true, &req.to_bytes(host), &mut frames);
        let not_found = b"{\"Code\":\"UK.OBIE.NotFound\"}".to_vec();
        let resp = Response { status: 404, reason: reason_phrase(404).into(), headers: vec![], body: not_found.clone(), chunked: false };
        t = conn.send(t + 2_000_000, false, &resp.to_bytes(), &mut frames);
        expected.push(Expected { method: "GET", uri, status: 404, request_body_len: 0, response_body_len: not_found.len(), client_port: client.port() });

        conn.close(t + 1_000_000, &mut frames);
    }
    frames.sort_by_key(|f| f.ts); // stable: each connection's own order is kept
    let mut w = PcapWriter::new(std::io::BufWriter::new(std::fs::File::create(path).unwrap())).unwrap();
    for f in &frames {
        w.write_frame(f.ts, &f.data).unwrap();
    }
    assert_eq!(w.packets(), frames.len() as u64);
    let size = w.bytes();
    w.finish().unwrap();
    assert_eq!(std::fs::metadata(path).unwrap().len(), size);
    expected
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark is required for this test (apt-get install tshark; scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "tshark {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn simulated_capture_is_clean_for_tshark_and_reads_back_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("capture.pcap");
    let expected = write_capture(&pcap);
    let file = pcap.to_str().unwrap();
    let checks = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"];

    // Expert information: nothing malformed, no bad checksum, no TCP trouble.
    let mut args = vec!["-r", file, "-q", "-z", "expert"];
    args.extend(checks);
    let expert = tshark(&args);
    let lower = expert.to_lowercase();
    assert!(!lower.contains("malformed"), "{expert}");
    assert!(!lower.contains("checksum"), "{expert}");
    assert!(!lower.contains("retransmission") && !lower.contains("previous segment") && !lower.contains("acked segment that wasn't captured"), "{expert}");
    let mut args = vec!["-r", file, "-Y", "tcp.analysis.flags || _ws.malformed || ip.checksum.status == 0 || tcp.checksum.status == 0"];
    args.extend(checks);
    assert_eq!(tshark(&args).trim(), "", "frames tshark flags");

    // Every request is seen as one, with its method and URI.
    let mut args = vec!["-r", file, "-Y", "http.request", "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri"];
    args.extend(checks);
    let mut seen: Vec<String> = tshark(&args).lines().map(str::to_string).collect();
    let mut want: Vec<String> = expected.iter().map(|e| format!("{}\t{}", e.method, e.uri)).collect();
    seen.sort();
    want.sort();
    assert_eq!(seen, want);
    // And the chunked bodies reassemble to their full length.
    let mut args = vec!["-r", file, "-Y", "http.response.code == 201", "-T", "fields", "-e", "http.file_data"];
    args.extend(checks);
    let bodies = tshark(&args);
    assert_eq!(bodies.lines().count(), 3, "{bodies}");

    // Our own reader sees exactly the transactions that were sent.
    let out_dir = dir.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_apitap")).args(["read", file, "--out", out_dir.to_str().unwrap(), "--no-progress"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(out_dir.join("transactions.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), expected.len(), "{text}");
    for e in &expected {
        let r = records
            .iter()
            .find(|r| r["uri"] == e.uri.as_str())
            .unwrap_or_else(|| panic!("no transaction for {}: {text}", e.uri));
        assert_eq!(r["method"], e.method, "{r}");
        assert_eq!(r["status_code"], e.status, "{r}");
        assert_eq!(r["request_body_len"], e.request_body_len as u64, "{r}");
        assert_eq!(r["response_body_len"], e.response_body_len as u64, "{r}");
        assert_eq!(r["host"], "api.bank.example", "{r}");
        assert_eq!(r["orig_p"], e.client_port, "{r}");
        assert_eq!(r["resp_p"], 8080, "{r}");
        assert!(r.get("events").is_none_or(|ev| ev.as_array().is_some_and(|a| a.is_empty())), "a clean exchange has no events: {r}");
        // Gap flags are written only when set.
        assert!(r.get("request_gap").is_none_or(|g| g == false) && r.get("response_gap").is_none_or(|g| g == false), "{r}");
    }
    let depths: Vec<u64> = records.iter().map(|r| r["trans_depth"].as_u64().unwrap()).collect();
    assert_eq!(depths.iter().filter(|d| **d == 2).count(), 3, "one keep-alive exchange per connection: {depths:?}");
}

#[test]
fn same_seed_same_capture_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.pcap");
    let b = dir.path().join("b.pcap");
    write_capture(&a);
    write_capture(&b);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}
