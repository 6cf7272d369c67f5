//! Triage reaches a running daemon: a finding raised from live traffic on loopback (a request
//! with ambiguous framing sent to nginx) is closed by an analyst with `apitap alerts close`;
//! the daemon follows its audit log, closes the finding with an event that carries the
//! decision (so the SIEM sees it), and a later request of the same consumer opens a new
//! finding. Needs root (capture) and nginx.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
#[path = "daemon/harness.rs"]
mod harness;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use harness::{apitap, config, free_port, jwt, Daemon};
use serde_json::Value;

/// A POST whose body frames the same under `Content-Length` and chunked (as a smuggling probe
/// does), from the consumer `client`.
fn ambiguous_post(port: u16, client: &str) {
    let token = jwt(&format!(r#"{{"client_id":"{client}","sub":"customer-1"}}"#));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let req = format!(
        "POST /accounts/1 HTTP/1.1\r\nHost: api.bank.test\r\nAuthorization: Bearer {token}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(answer.starts_with(b"HTTP/1.1 "), "{}", String::from_utf8_lossy(&answer));
}

/// The findings the store holds, through `apitap alerts list --state all --json`.
fn stored(cfg: &Path) -> Vec<Value> {
    let o = apitap(&["alerts", "list", "--config", cfg.to_str().unwrap(), "--state", "all", "--json"]);
    if !o.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<Value>(&o.stdout).map(|v| v.as_array().cloned().unwrap_or_default()).unwrap_or_default()
}

fn wait_for(cfg: &Path, what: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = stored(cfg);
        if ok(&found) {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: the store holds {found:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn an_analyst_close_reaches_the_running_daemon_and_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let http = format!("  server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 201 '{{}}'; }}\n  }}");
    let _nginx = common::start_nginx(&d.join("nginx"), &http);
    let cfg = config(d, port, "");
    let daemon = Daemon::start(&cfg);
    ambiguous_post(port, "tpp-probe");
    let smuggling = |f: &Value| f["unmapped"]["kind"] == "http_smuggling";
    let found = wait_for(&cfg, "the smuggling finding", |f| f.iter().any(smuggling));
    let first = found.iter().find(|f| smuggling(f)).unwrap();
    let id = first["unmapped"]["finding_id"].as_str().unwrap().to_string();
    assert_eq!(first["unmapped"]["lifecycle"], "new");

    let o = apitap(&["alerts", "close", &id, "--config", cfg.to_str().unwrap(), "--by", "soc@bank.example", "--reason", "our own scanner"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The daemon closes it itself (quiet findings close only after an hour), with the decision.
    let found = wait_for(&cfg, "the closed finding", |f| f.iter().any(|x| x["unmapped"]["finding_id"] == id.as_str() && x["unmapped"]["lifecycle"] == "closed"));
    let closed = found.iter().find(|f| f["unmapped"]["finding_id"] == id.as_str()).unwrap();
    assert_eq!(closed["unmapped"]["finding_version"], 2);
    assert_eq!(closed["status_id"], 4);
    assert_eq!(closed["unmapped"]["triage"]["by"], "soc@bank.example");
    let log = daemon.wait_for_log("audit log applied", Duration::from_secs(5));
    assert!(log.contains("audit log applied"));

    // The same consumer probes again: a new finding, not folded into the closed one.
    ambiguous_post(port, "tpp-probe");
    let found = wait_for(&cfg, "a second finding", |f| f.iter().filter(|x| smuggling(x)).count() == 2);
    assert!(found.iter().any(|f| smuggling(f) && f["unmapped"]["finding_id"] != id.as_str() && f["unmapped"]["lifecycle"] == "new"));
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit {status}; log:\n{log}");
    let verified = apitap(&["audit", "verify", "--log", d.join("audit.jsonl").to_str().unwrap()]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
}
