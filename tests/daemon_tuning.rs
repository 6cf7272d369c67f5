//! Triage reaches a running daemon: a finding raised from live traffic on loopback (a request
//! with ambiguous framing sent to nginx) is closed by an analyst with `apitap alerts close`;
//! the daemon follows its audit log, closes the finding with an event that carries the
//! decision (so the SIEM sees it), and a later request of the same consumer opens a new
//! finding. A decision on a finding the detectors closed already (here closed early by the
//! `alerts.max_open` bound) reaches Kafka too, as the finding's next event, read back from a
//! real broker and checked against OCSF. Needs root (capture), nginx and the Kafka test tools
//! (scripts/install-kafka-tools.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "kafka/broker.rs"]
mod broker;
mod common;
#[path = "daemon/harness.rs"]
mod harness;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use broker::{read_back, tools, Broker, BrokerOptions, ReaderSecurity};
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

#[test]
fn a_decision_on_a_finding_the_detectors_closed_is_published_as_its_next_event() {
    let tools = tools();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let topics = ["tuning.findings", "tuning.endpoints", "tuning.health", "tuning.http"];
    let broker = Broker::start(&tools, &d.join("broker"), BrokerOptions { topics: topics.iter().map(|t| (t.to_string(), 1)).collect(), ..BrokerOptions::default() });
    let port = free_port();
    let http = format!("  server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 201 '{{}}'; }}\n  }}");
    let _nginx = common::start_nginx(&d.join("nginx"), &http);
    // One open finding at a time: the second consumer's finding closes the first one early.
    let extra = format!(
        "\n[behaviour.alerts]\nmax_open = 1\n\n[kafka]\nbrokers = [\"{}\"]\nlinger_ms = 5\n\n\
         [kafka.topics]\nanomalies = \"{}\"\ninventory = \"{}\"\nhealth = \"{}\"\ntransactions = \"{}\"\n\n\
         [kafka.spool]\ndir = \"{}\"\n",
        broker.bootstrap(),
        topics[0],
        topics[1],
        topics[2],
        topics[3],
        d.join("spool").display()
    );
    let cfg = config(d, port, &extra);
    let daemon = Daemon::start(&cfg);
    let smuggling = |f: &Value| f["unmapped"]["kind"] == "http_smuggling";
    ambiguous_post(port, "tpp-first");
    let found = wait_for(&cfg, "the first finding", |f| f.iter().any(smuggling));
    let id = found.iter().find(|f| smuggling(f)).unwrap()["unmapped"]["finding_id"].as_str().unwrap().to_string();
    ambiguous_post(port, "tpp-second");
    let of = |f: &[Value]| f.iter().find(|x| x["unmapped"]["finding_id"] == id.as_str()).cloned();
    let found = wait_for(&cfg, "the first finding closed by the bound", |f| of(f).is_some_and(|x| x["unmapped"]["lifecycle"] == "closed"));
    let closed_by_detector = of(&found).unwrap();
    let detector_version = closed_by_detector["unmapped"]["finding_version"].as_u64().unwrap();

    let o = apitap(&[
        "alerts", "close", &id, "--config", cfg.to_str().unwrap(), "--by", "soc@bank.example", "--reason", "our own scanner", "--verdict", "false-positive",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let found = wait_for(&cfg, "the decision stored", |f| {
        of(f).is_some_and(|x| x["unmapped"]["finding_version"].as_u64() == Some(detector_version + 1))
    });
    let decided = of(&found).unwrap();
    assert_eq!(decided["unmapped"]["triage"]["verdict"], "false_positive");
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit {status}; log:\n{log}");
    assert!(log.contains("decision on a closed finding stored and published"), "{log}");

    // The SIEM's view: every event of the finding, in order, the last one the decision.
    let reads = read_back(&tools, &broker.bootstrap(), &topics[..1], Some(topics[0]), 4, &ReaderSecurity::default(), d);
    let events: Vec<&Value> = reads.iter().map(|r| &r.value).filter(|v| v["unmapped"]["finding_id"] == id.as_str()).collect();
    let versions: Vec<u64> = events.iter().map(|v| v["unmapped"]["finding_version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (1..=detector_version + 1).collect::<Vec<_>>(), "each event once, in order");
    let last = events.last().unwrap();
    assert_eq!(last["unmapped"]["lifecycle"], "closed");
    assert_eq!(last["unmapped"]["triage"]["by"], "soc@bank.example");
    assert_eq!(last["unmapped"]["triage"]["verdict"], "false_positive");
    assert_eq!((last["activity_id"].as_u64(), last["status_id"].as_u64()), (Some(3), Some(4)));
    assert_ne!(last["metadata"]["uid"], events[events.len() - 2]["metadata"]["uid"], "an event of its own");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas/anomaly.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::draft202012::options().should_validate_formats(true).build(&schema).unwrap();
    for v in &events {
        let errors: Vec<String> = validator.iter_errors(v).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "the published schema: {errors:?}\n{v}");
    }
    assert!(events[..events.len() - 1].iter().all(|v| v["unmapped"].get("triage").is_none()), "no decision before the analyst's");
    for r in reads.iter().filter(|r| r.value["unmapped"]["finding_id"] == id.as_str()) {
        assert_eq!(r.ocsf_errors.as_deref(), Some(&[][..]), "OCSF: {:?}", r.value);
    }
}

#[test]
fn tuning_edited_by_hand_is_recorded_by_the_daemon_at_start_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rule = |id: &str, net: &str| format!("\n[[suppress]]\nid = \"{id}\"\nowner = \"soc\"\nreason = \"scanner\"\nexpires = \"2099-12-31\"\nnetworks = [\"{net}\"]\n");
    let cfg = config(d, free_port(), &rule("scanner", "198.18.0.0/29"));
    let log = d.join("audit.jsonl");
    let records = || -> Vec<Value> { std::fs::read_to_string(&log).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect() };
    let daemon = Daemon::start(&cfg);
    daemon.wait_for_log("tuning in force recorded in the audit log", Duration::from_secs(10));
    let first = records();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!((first[0]["action"].as_str(), first[0]["actor"].as_str()), (Some("config.observe"), Some("apitap run (unattributed)")));

    // Edited by hand (a rule added, one widened) and reloaded: recorded, naming both.
    let text = std::fs::read_to_string(&cfg).unwrap().replace("198.18.0.0/29", "198.18.0.0/24") + &rule("night-batch", "10.9.0.0/16");
    std::fs::write(&cfg, text).unwrap();
    let mark = daemon.log_len();
    daemon.signal("HUP");
    let line = daemon.wait_for_log_after(mark, "tuning changed outside apitap's commands", Duration::from_secs(10));
    assert!(line.contains("suppress/night-batch") && line.contains("suppress/scanner"), "{line}");
    // A reload without a change records nothing more.
    let mark = daemon.log_len();
    daemon.signal("HUP");
    daemon.wait_for_log_after(mark, "configuration reloaded", Duration::from_secs(10));
    let (status, out) = daemon.stop();
    assert!(status.success(), "exit {status}; log:\n{out}");
    let all = records();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1]["details"]["added"], serde_json::json!(["suppress/night-batch"]));
    assert_eq!(all[1]["details"]["changed"], serde_json::json!(["suppress/scanner"]));
    let o = apitap(&["audit", "verify", "--config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
