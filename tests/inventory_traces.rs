//! Expected inventories of five real traces (tests/inventory/README.md), with every service's
//! request count also recounted from Zeek's http.log beside the trace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps/zeek-oracle");
    p.is_dir().then_some(p)
}

fn keep(v: &Value, keys: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for k in keys {
        if let Some(x) = v.get(*k) {
            m.insert((*k).to_string(), x.clone());
        }
    }
    Value::Object(m)
}

/// The fields of inventory.json the expected files pin.
fn project(trace: &str, inv: &Value) -> Value {
    let list = |name: &str, keys: &[&str]| -> Value { Value::Array(inv[name].as_array().unwrap().iter().map(|e| keep(e, keys)).collect()) };
    let mut services = list("services", &["host", "requests", "inspectable", "not_found_requests", "unanswered_requests", "other_requests", "tls"]);
    for s in services.as_array_mut().unwrap() {
        if let Some(tls) = s.get("tls").cloned() {
            s["tls"] = keep(&tls, &["sessions", "client_versions", "server_versions", "alpn", "ja4", "ja4s"]);
        }
    }
    json!({
        "trace": trace,
        "summary": keep(&inv["summary"], &["services", "services_not_inspectable", "endpoints", "documented", "shadow", "zombie", "orphan"]),
        "services": services,
        "endpoints": list("endpoints", &["host", "method", "path", "classification", "hits", "status"]),
        "other_endpoints": list("other_endpoints", &["host", "method", "path", "category", "hits"]),
    })
}

/// Requests per host in Zeek's http.log (rows with a method).
fn zeek_hosts(log: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut fields: Vec<&str> = Vec::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').collect();
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let get = |name: &str| fields.iter().position(|f| *f == name).and_then(|i| cols.get(i)).copied().unwrap_or("-");
        if get("method") != "-" && get("host") != "-" {
            *out.entry(get("host").to_ascii_lowercase()).or_default() += 1;
        }
    }
    out
}

fn check(trace: &str, expected_file: &str, mid_stream_extra: &[&str]) {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/pcaps/zeek-oracle is not present");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("read")
        .arg(corpus.join(trace))
        .args(["--no-progress", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let inv: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("inventory.json")).unwrap()).unwrap();
    let got = project(trace, &inv);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inventory").join(expected_file);
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(got, want, "{trace}: inventory differs from {}:\n{}", path.display(), serde_json::to_string_pretty(&got).unwrap());
    // Independent check: Zeek's request count for every host equals the service's.
    let log = corpus.join(trace).parent().unwrap().join("http.log");
    let ours: BTreeMap<String, u64> =
        inv["services"].as_array().unwrap().iter().map(|s| (s["host"].as_str().unwrap().to_string(), s["requests"].as_u64().unwrap())).collect();
    let encrypted = |h: &str| inv["services"].as_array().unwrap().iter().any(|s| s["host"] == h && s["inspectable"] == false);
    for (host, n) in zeek_hosts(&log) {
        if encrypted(&host) {
            // Zeek decrypted it with the trace's key log; without keys it stays a TLS service.
            continue;
        }
        assert_eq!(ours.get(&host), Some(&n), "{trace}: requests for {host}: Zeek logs {n}");
    }
    for host in ours.keys() {
        let in_zeek = zeek_hosts(&log).contains_key(host);
        assert!(in_zeek || encrypted(host) || mid_stream_extra.contains(&host.as_str()), "{trace}: service {host} not in Zeek's log");
    }
}

#[test]
fn wikipedia_assets_and_pages() {
    check("scripts.base.frameworks.logging.writer-path-conflict/wikipedia.pcap", "wikipedia.json", &["www.wikipedia.org"]);
}

#[test]
fn pipelined_assets() {
    check("scripts.base.protocols.http.http-pipelining/pipelined-requests.pcap", "pipelined-requests.json", &[]);
}

#[test]
fn method_scanner_is_noise() {
    check("scripts.base.protocols.http.http-methods/methods.pcap", "methods.json", &[]);
}

#[test]
fn tls_service_not_inspectable() {
    check("scripts.policy.protocols.ssl.decryption/tls12-decryption.pcap", "tls12-decryption.json", &[]);
}

#[test]
fn teredo_tunnelled_shadow_api() {
    check("core.tunnels.teredo/Teredo.pcap", "Teredo.json", &[]);
}
