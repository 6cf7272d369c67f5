//! `apitap simulate` end to end: the small scenario gives a capture that tshark reads without
//! a malformed packet and counts the same requests as the truth, and that `apitap read`
//! recovers; the same seed gives the same bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

fn scenario() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/small.yaml")
}

fn simulate(out: &Path, seed: &str) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["simulate", "--scenario"])
        .arg(scenario())
        .args(["--seed", seed, "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join("truth.json")).unwrap()).unwrap()
}

fn tshark(args: &[&str]) -> String {
    let o = Command::new("tshark").args(args).output().expect("tshark is not installed: run scripts/install-deps.sh");
    assert!(o.status.success(), "tshark {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_small_scenario_is_read_back_by_tshark_and_apitap() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a");
    let truth = simulate(&out, "7");
    let pcap = out.join("capture.pcap");
    let pcap = pcap.to_str().unwrap();
    let requests = truth["requests"].as_u64().unwrap();
    assert!(requests > 200, "the scenario should produce a few hundred requests, got {requests}");

    // tshark: no malformed packets, no bad checksums, the same number of requests.
    let expert = tshark(&["-r", pcap, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-q", "-z", "expert,error"]);
    assert!(!expert.contains("Malformed"), "{expert}");
    assert!(!expert.to_lowercase().contains("bad checksum"), "{expert}");
    let seen = tshark(&["-r", pcap, "-Y", "http.request", "-T", "fields", "-e", "frame.number"]).lines().count() as u64;
    assert_eq!(seen, requests, "tshark counts {seen} requests, the truth {requests}");

    // apitap read: every request comes back as a transaction with a status.
    let read = dir.path().join("read");
    let o = Command::new(env!("CARGO_BIN_EXE_apitap")).args(["read", pcap, "--no-progress", "--out"]).arg(&read).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(read.join("transactions.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len() as u64, requests);
    assert!(recs.iter().all(|r| r["method"].is_string() && r["status_code"].is_u64()), "every exchange is complete");

    // Every endpoint hit in the truth is seen by apitap as often (the templates' literal
    // parts must match the observed paths).
    let endpoints = truth["endpoints"].as_array().unwrap();
    let classes: std::collections::BTreeSet<&str> = endpoints.iter().map(|e| e["class"].as_str().unwrap()).collect();
    for class in ["documented", "orphan", "shadow", "zombie"] {
        assert!(classes.contains(class), "no {class} endpoint in {classes:?}");
    }
    let hits: u64 = endpoints.iter().map(|e| e["hits"].as_u64().unwrap()).sum();
    assert_eq!(hits, requests);
    let shadow = endpoints.iter().find(|e| e["class"] == "shadow").unwrap();
    let shadow_seen = recs.iter().filter(|r| r["uri"] == shadow["path_template"] && r["host"] == shadow["host"]).count() as u64;
    assert_eq!(shadow_seen, shadow["hits"].as_u64().unwrap());
    let zombie_hits: u64 = endpoints.iter().filter(|e| e["class"] == "zombie").map(|e| e["hits"].as_u64().unwrap()).sum();
    let zombie_seen = recs.iter().filter(|r| r["uri"].as_str().unwrap().starts_with("/open-banking/v3.1/")).count() as u64;
    assert_eq!(zombie_seen, zombie_hits);
    // The TPP with mutual TLS sends its certificate as the proxy forwards it (RFC 9440), and
    // the certificate is a real X.509 carrying its PSD2 organisation identifier.
    let alpha = truth["consumers"].as_array().unwrap().iter().find(|c| c["id"] == "tpp-alpha").unwrap();
    assert_eq!(alpha["org_id"], "PSDGB-FCA-123456");
    let lines = tshark(&["-r", pcap, "-Y", "http.request", "-T", "fields", "-e", "http.request.line", "-c", "200"]);
    let cert = lines
        .split([',', '\n'])
        .find_map(|l| l.trim().strip_prefix("Client-Cert: :"))
        .expect("no Client-Cert header in the first requests");
    let b64 = cert.trim_end_matches("\\r\\n").trim_end_matches(':');
    let der_path = dir.path().join("cert.der");
    let b64_file = dir.path().join("cert.b64");
    std::fs::write(&b64_file, b64).unwrap();
    let der = Command::new("openssl").args(["base64", "-d", "-A", "-in"]).arg(&b64_file).arg("-out").arg(&der_path).output().unwrap();
    assert!(der.status.success());
    let subject = Command::new("openssl").args(["x509", "-inform", "DER", "-noout", "-subject", "-in"]).arg(&der_path).output().unwrap();
    let subject = String::from_utf8_lossy(&subject.stdout);
    assert!(subject.contains("organizationIdentifier = PSDGB-FCA-123456"), "{subject}");

    // Secrets in the generated traffic never reach apitap's output.
    assert!(!text.contains("eyJ"), "a JWT reached the output");
}

#[test]
fn the_same_seed_gives_the_same_capture_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    simulate(&dir.path().join("a"), "11");
    simulate(&dir.path().join("b"), "11");
    simulate(&dir.path().join("c"), "12");
    let read = |d: &str| std::fs::read(dir.path().join(d).join("capture.pcap")).unwrap();
    assert_eq!(read("a"), read("b"));
    assert_ne!(read("a"), read("c"));
    let truth = |d: &str| std::fs::read_to_string(dir.path().join(d).join("truth.json")).unwrap();
    assert_eq!(truth("a"), truth("b"));
}

#[test]
fn a_bad_scenario_names_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: x\nstart: yesterday\nduration_hours: 1\napis: []\nconsumers: []\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["simulate", "--scenario"])
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yaml") && err.contains("start: yesterday") && err.contains("RFC 3339"), "{err}");
}

#[test]
fn every_shipped_scenario_reads_back_clean_in_tshark_and_apitap() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
    let mut names: Vec<_> = std::fs::read_dir(&scenarios)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    for scenario in names {
        let out = dir.path().join(scenario.file_stem().unwrap());
        // The multi-week scenarios (up to a gigabyte and more) are cut to their first 12 hours here;
        // tests/simulate_behaviour.rs reads the behavioural injections back.
        let text = std::fs::read_to_string(&scenario).unwrap();
        let long = text.lines().any(|l| l.strip_prefix("duration_hours:").is_some_and(|h| h.trim().parse::<u64>().unwrap() > 168));
        let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
            .args(["simulate", "--scenario"])
            .arg(&scenario)
            .arg("--out")
            .arg(&out)
            .args(if long { &["--hours", "12"][..] } else { &[][..] })
            .output()
            .unwrap();
        assert!(o.status.success(), "{}: {}", scenario.display(), String::from_utf8_lossy(&o.stderr));
        let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("truth.json")).unwrap()).unwrap();
        let requests = truth["requests"].as_u64().unwrap();
        let pcap = out.join("capture.pcap");
        let pcap = pcap.to_str().unwrap();
        // One pass: the request frames' numbers (and the HTTP/2 requests each holds), then the
        // expert summary of errors. The ports of APIs served over HTTP/2 are named to tshark
        // (a client's ephemeral port may be any other).
        let mut args: Vec<String> = ["-r", pcap, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"].map(String::from).to_vec();
        for port in http2_ports(&text) {
            args.extend(["-d".to_string(), format!("tcp.port=={port},http2")]);
        }
        args.extend(
            ["-Y", "http.request || http2.headers.method", "-T", "fields", "-e", "frame.number", "-e", "http2.headers.method", "-z", "expert,error"]
                .map(String::from),
        );
        let report = tshark(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(!report.contains("Malformed") && !report.contains("Bad checksum"), "{}: {report}", scenario.display());
        let seen: u64 = report
            .lines()
            .take_while(|l| !l.starts_with('='))
            .filter_map(|l| l.split_once('\t'))
            .filter(|(frame, _)| frame.trim().parse::<u64>().is_ok())
            .map(|(_, h2)| if h2.trim().is_empty() { 1 } else { h2.split(',').count() as u64 })
            .sum();
        assert_eq!(seen, requests, "{}: tshark", scenario.display());
        let read = out.join("read");
        let o = Command::new(env!("CARGO_BIN_EXE_apitap")).args(["read", pcap, "--no-progress", "--out"]).arg(&read).output().unwrap();
        assert!(o.status.success());
        let n = std::fs::read_to_string(read.join("transactions.jsonl")).unwrap().lines().count() as u64;
        assert_eq!(n, requests, "{}: apitap read", scenario.display());
    }
}

/// The server ports of a scenario's APIs with `protocol: http2` or `grpc` (each API's
/// `server:` comes before its `protocol:`).
fn http2_ports(scenario: &str) -> Vec<String> {
    let mut ports = Vec::new();
    let mut server = None;
    for line in scenario.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix("server:") {
            server = s.trim().trim_matches('"').rsplit_once(':').map(|(_, p)| p.to_string());
        }
        if matches!(line, "protocol: http2" | "protocol: grpc") {
            ports.extend(server.take());
        }
    }
    ports
}

/// Runs `apitap simulate` on `small.yaml` edited by `edit` and returns (exit code, stderr).
fn simulate_edited(edit: impl Fn(String) -> String) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs");
    let text = std::fs::read_to_string(scenario()).unwrap().replace("../specs", specs.to_str().unwrap());
    let file = dir.path().join("edited.yaml");
    std::fs::write(&file, edit(text)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["simulate", "--scenario"])
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn an_injection_outside_the_scenario_window_is_refused() {
    // Regression: such an injection used to be accepted and recorded in the truth with a
    // window that never happened.
    let (code, err) = simulate_edited(|t| t.replace("end: \"2026-03-29T11:00:00Z\"", "end: \"2026-03-30T11:00:00Z\""));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("edited.yaml") && err.contains("not inside the scenario") && err.contains("move it inside"), "{err}");
}

#[test]
fn an_operation_filter_naming_no_operation_is_refused() {
    // Regression: a typo silently made a used endpoint an orphan in the truth.
    let (code, err) = simulate_edited(|t| t.replacen("\"GET /accounts\",", "\"GET /acounts\",", 1));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`GET /acounts` is in none of its APIs"), "{err}");
}

#[test]
fn every_injected_request_falls_inside_its_window() {
    // Regression: the fast enumeration's parallel sessions ran seconds past the window's end,
    // so the truth's window was not exact.
    let dir = tempfile::tempdir().unwrap();
    let week = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/week.yaml");
    let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["simulate", "--scenario"])
        .arg(&week)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap()).unwrap();
    let time = |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let mut checked = 0;
    for inj in truth["injections"].as_array().unwrap() {
        let (Some(first), Some(last)) = (inj.get("first_request"), inj.get("last_request")) else { continue };
        assert!(time(first) >= time(&inj["start"]) && time(last) < time(&inj["end"]), "{inj}");
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} injections carried their request times");
}
