//! `apitap read --kafka-brokers` end to end against a real Kafka-protocol broker (tansu on
//! loopback, started here), read back by an independent client (Python confluent-kafka):
//! every anomaly and every inventory change arrives once, with its documented key, valid
//! against apitap's schemas and (anomalies) against the OCSF Detection Finding model of
//! py-ocsf-models; the same over TLS with a client certificate and SCRAM; and a run whose
//! broker is down loses nothing: the next run sends what the first one spooled, first and in
//! order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "kafka/broker.rs"]
mod broker;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use broker::{make_pki, read_back, tools, Broker, BrokerOptions, Read, ReaderSecurity, Scram};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KEY: &str = "kafka-e2e-hashing-key-0123456789";
const SENSOR: &str = "sensor-e2e-1";
const TOPICS: [&str; 3] = ["apitap.anomalies", "apitap.inventory", "apitap.health"];

/// The simulated week (kept for the whole test binary).
fn week() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        run(Command::new(env!("CARGO_BIN_EXE_apitap"))
            .args(["simulate", "--scenario"])
            .arg(Path::new(ROOT).join("fixtures/scenarios/week.yaml"))
            .arg("--out")
            .arg(dir.join("sim")));
        dir.join("sim/capture.pcap")
    })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run apitap");
    assert!(out.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The week's operator configuration plus `kafka` (a TOML `[kafka]` section and its tables).
fn config(dir: &Path, kafka: &str) -> PathBuf {
    let path = dir.join("apitap.toml");
    std::fs::write(&path, common::uk_scenario_config() + kafka).unwrap();
    path
}

/// `apitap read` of `pcap` with `cfg` into `out`; returns its standard error.
fn read(pcap: &Path, cfg: &Path, out: &Path, brokers: &str) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("read")
        .arg(pcap)
        .arg("--config")
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .arg("--kafka-brokers")
        .arg(brokers)
        .env("APITAP_HASH_KEY", KEY)
        .env("APITAP_SENSOR_ID", SENSOR))
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn summary_kafka(out: &Path) -> Value {
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    s["kafka"].clone()
}

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/schemas").join(name)).unwrap();
    jsonschema::draft202012::options().should_validate_formats(true).build(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn errors(v: &jsonschema::Validator, msg: &Value) -> Vec<String> {
    v.iter_errors(msg).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

fn topics() -> Vec<(String, u32)> {
    TOPICS.iter().map(|t| (t.to_string(), 3)).collect()
}

fn of<'a>(reads: &'a [Read], topic: &str) -> Vec<&'a Read> {
    reads.iter().filter(|r| r.topic == topic).collect()
}

/// The anomaly key rule of docs/messages.md: the consumer id, else the finding id.
fn anomaly_key(v: &Value) -> String {
    v["unmapped"]["consumer"]["id"].as_str().or(v["unmapped"]["finding_id"].as_str()).unwrap().to_string()
}

/// Checks that the anomalies topic holds exactly the lines of `expected`, each once, keyed by
/// consumer, valid against the schema and OCSF, and in file order per key.
fn check_anomalies(reads: &[Read], expected: &[Value]) {
    let got = of(reads, "apitap.anomalies");
    assert_eq!(got.len(), expected.len(), "anomalies published vs anomalies.jsonl");
    let count = |vals: &mut dyn Iterator<Item = String>| {
        let mut m = BTreeMap::new();
        for v in vals {
            *m.entry(v).or_insert(0u32) += 1;
        }
        m
    };
    let want = count(&mut expected.iter().map(|v| v.to_string()));
    let have = count(&mut got.iter().map(|r| r.value.to_string()));
    assert_eq!(have, want, "the same messages, each as often as in anomalies.jsonl");
    let events: BTreeSet<(String, u64)> =
        got.iter().map(|r| (r.value["unmapped"]["finding_id"].as_str().unwrap().to_string(), r.value["unmapped"]["finding_version"].as_u64().unwrap())).collect();
    assert_eq!(events.len(), got.len(), "(finding id, version) names one event");
    let v = validator("anomaly.schema.json");
    for r in &got {
        assert_eq!(r.key, anomaly_key(&r.value), "key of {}", r.value["unmapped"]["finding_id"]);
        assert_eq!(errors(&v, &r.value), Vec::<String>::new());
        assert_eq!(r.ocsf_errors.as_deref(), Some(&[][..]), "py-ocsf-models rejects {}", r.value);
        assert_eq!(r.value["unmapped"]["sensor_id"], SENSOR, "{}", r.value);
    }
    // Per key (one partition each), the order of anomalies.jsonl.
    let mut by_key: BTreeMap<String, Vec<(i64, i64, String)>> = BTreeMap::new();
    for r in &got {
        by_key.entry(r.key.clone()).or_default().push((r.partition, r.offset, r.value.to_string()));
    }
    for (key, mut msgs) in by_key {
        assert!(msgs.iter().all(|m| m.0 == msgs[0].0), "key {key} spread over partitions");
        msgs.sort();
        let sent: Vec<String> = expected.iter().filter(|e| anomaly_key(e) == key).map(|e| e.to_string()).collect();
        let arrived: Vec<String> = msgs.into_iter().map(|m| m.2).collect();
        assert_eq!(arrived, sent, "order of key {key}");
    }
}

#[test]
fn a_replayed_week_arrives_once_keyed_and_valid_for_the_siem() {
    let tools = tools();
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(&tools, &dir.path().join("broker"), BrokerOptions { topics: topics(), ..BrokerOptions::default() });
    let spool = dir.path().join("spool");
    let cfg = config(dir.path(), &format!("[kafka]\n[kafka.spool]\ndir = \"{}\"\n", spool.display()));
    let out = dir.path().join("out");
    let stderr = read(week(), &cfg, &out, &b.bootstrap());
    assert!(stderr.contains("kafka: "), "the summary reports the publisher: {stderr}");
    let k = summary_kafka(&out);
    assert_eq!(k["complete"], true, "{k}");
    assert_eq!(k["dropped"], 0, "{k}");
    let delivered = k["delivered"].as_u64().unwrap() as usize;

    let reads = read_back(&tools, &b.bootstrap(), &TOPICS, Some("apitap.anomalies"), delivered, &ReaderSecurity::default(), dir.path());
    assert_eq!(reads.len(), delivered, "the independent client reads what the publisher says it delivered");
    let anomalies = lines(&out.join("anomalies.jsonl"));
    assert!(anomalies.len() >= 20, "the week raises findings: {}", anomalies.len());
    check_anomalies(&reads, &anomalies);

    // Inventory: valid, keyed by endpoint, each change once; every endpoint of inventory.json
    // announced as new exactly once.
    let v = validator("inventory-change.schema.json");
    let inv = of(&reads, "apitap.inventory");
    let mut seen = BTreeSet::new();
    let mut announced = BTreeMap::new();
    for r in &inv {
        assert_eq!(errors(&v, &r.value), Vec::<String>::new(), "{}", r.value);
        assert_eq!(r.key, r.value["key"].as_str().unwrap(), "key is the endpoint key");
        assert_eq!(r.value["sensor_id"], SENSOR);
        assert!(seen.insert(r.value.to_string()), "duplicate inventory message {}", r.value);
        if r.value["change"] == "new_endpoint" {
            *announced.entry(r.key.clone()).or_insert(0u32) += 1;
        }
    }
    let inventory: Value = serde_json::from_str(&std::fs::read_to_string(out.join("inventory.json")).unwrap()).unwrap();
    let endpoints: BTreeSet<String> = inventory["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {} {}", e["host"].as_str().unwrap(), e["method"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert!(endpoints.len() >= 20, "{}", endpoints.len());
    let announced_keys: BTreeSet<String> = announced.keys().cloned().collect();
    assert_eq!(announced_keys, endpoints, "every endpoint of inventory.json announced");
    assert!(announced.values().all(|n| *n == 1), "each announced once: {announced:?}");

    // Health: keyed by the sensor, valid, and its packet counter is the run's.
    let v = validator("health.schema.json");
    let health = of(&reads, "apitap.health");
    assert!(!health.is_empty());
    for r in &health {
        assert_eq!(r.key, SENSOR);
        assert_eq!(errors(&v, &r.value), Vec::<String>::new(), "{}", r.value);
    }
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let last = &health.last().unwrap().value;
    assert_eq!(last["totals"]["packets"], summary["stages"]["input"]["packets"], "{last}");
}

#[test]
fn over_mutual_tls_with_scram_the_week_arrives_and_a_wrong_password_keeps_it_in_the_spool() {
    let tools = tools();
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(&dir.path().join("pki"));
    let b = Broker::start(
        &tools,
        &dir.path().join("broker"),
        BrokerOptions { durable: true, topics: topics(), users: vec![("apitap".into(), "s3cret-Pw".into(), Scram::Sha512)], tls: Some((pki.clone(), true)) },
    );
    let pw = dir.path().join("kafka-password");
    std::fs::write(&pw, "s3cret-Pw\n").unwrap();
    let bad = dir.path().join("bad-password");
    std::fs::write(&bad, "not-the-password\n").unwrap();
    let kafka = |spool: &str, password: &Path| {
        format!(
            "[kafka]\n[kafka.spool]\ndir = \"{}\"\n[kafka.tls]\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n[kafka.sasl]\nmechanism = \"scram-sha-512\"\nusername = \"apitap\"\npassword_file = \"{}\"\n",
            dir.path().join(spool).display(),
            pki.ca.display(),
            pki.client_cert.display(),
            pki.client_key.display(),
            password.display()
        )
    };
    // A wrong password: nothing is delivered, everything waits in the spool, the run ends.
    let wrong = dir.path().join("wrong");
    std::fs::create_dir_all(&wrong).unwrap();
    let stderr = read(week(), &config(&wrong, &kafka("spool-wrong", &bad)), &wrong.join("out"), &b.bootstrap());
    let k = summary_kafka(&wrong.join("out"));
    assert_eq!(k["delivered"], 0, "{k}");
    assert_eq!(k["dropped"], 0, "{k}");
    assert!(k["left_in_spool"].as_u64().unwrap() > 0, "{k}");
    assert!(!stderr.contains("not-the-password"), "no secret in the log");
    // The right one: delivered over TLS, and read back over TLS.
    let good = dir.path().join("good");
    std::fs::create_dir_all(&good).unwrap();
    let stderr = read(week(), &config(&good, &kafka("spool-good", &pw)), &good.join("out"), &b.bootstrap());
    assert!(!stderr.contains("s3cret-Pw"), "no secret in the log");
    let k = summary_kafka(&good.join("out"));
    assert_eq!(k["complete"], true, "{k}");
    let sec = ReaderSecurity { ca: Some(pki.ca.clone()), client: Some((pki.client_cert.clone(), pki.client_key.clone())), sasl: Some(("SCRAM-SHA-512".into(), "apitap".into(), pw.clone())) };
    let expected = lines(&good.join("out/anomalies.jsonl"));
    let reads = read_back(&tools, &b.bootstrap(), &["apitap.anomalies"], Some("apitap.anomalies"), expected.len(), &sec, dir.path());
    check_anomalies(&reads, &expected);
}

#[test]
fn a_run_whose_broker_is_down_loses_nothing_the_next_run_sends_it_first() {
    let tools = tools();
    let dir = tempfile::tempdir().unwrap();
    let mut b = Broker::start(&tools, &dir.path().join("broker"), BrokerOptions { durable: true, topics: topics(), ..BrokerOptions::default() });
    b.stop();
    let spool = dir.path().join("spool");
    let cfg = config(dir.path(), &format!("[kafka]\nmessage_timeout_ms = 2000\n[kafka.spool]\ndir = \"{}\"\n", spool.display()));
    // Broker down for the whole first run: the run finishes and keeps everything.
    let first = dir.path().join("first");
    read(week(), &cfg, &first, &b.bootstrap());
    let k = summary_kafka(&first);
    assert_eq!(k["delivered"], 0, "{k}");
    assert_eq!(k["dropped"], 0, "{k}");
    let spooled = k["left_in_spool"].as_u64().unwrap();
    let anomalies = lines(&first.join("anomalies.jsonl"));
    assert!(spooled as usize > anomalies.len(), "anomalies, inventory and health wait: {k}");
    // Broker back; a second run (another capture) sends the first run's messages, then its own.
    b.restart();
    let second = dir.path().join("second");
    let other = Path::new(ROOT).join("fixtures/demo/open-banking-demo.pcap");
    assert!(other.exists(), "{}", other.display());
    read(&other, &cfg, &second, &b.bootstrap());
    let k2 = summary_kafka(&second);
    assert_eq!(k2["complete"], true, "{k2}");
    assert_eq!(k2["dropped"], 0, "{k2}");
    // The second publisher confirmed the first run's messages and its own.
    let delivered = k2["delivered"].as_u64().unwrap() as usize;
    assert!(delivered > spooled as usize, "{k2}");
    let reads = read_back(&tools, &b.bootstrap(), &TOPICS, Some("apitap.anomalies"), delivered, &ReaderSecurity::default(), dir.path());
    assert_eq!(reads.len(), delivered, "what the publisher confirmed is what the broker holds");
    let mut all = anomalies.clone();
    all.extend(lines(&second.join("anomalies.jsonl")));
    check_anomalies(&reads, &all);
    // The first run's health message precedes the second's on the sensor's key.
    let health: Vec<&Read> = of(&reads, "apitap.health");
    assert!(health.len() >= 2, "{}", health.len());
    let mut h: Vec<(i64, &Value)> = health.iter().map(|r| (r.offset, &r.value)).collect();
    h.sort_by_key(|x| x.0);
    let packets: Vec<&Value> = h.iter().map(|(_, v)| &v["totals"]["packets"]).collect();
    let first_packets: Value = serde_json::from_str::<Value>(&std::fs::read_to_string(first.join("summary.json")).unwrap()).unwrap()["stages"]["input"]["packets"].clone();
    assert_eq!(packets[0], &first_packets, "the first run's health comes first: {packets:?}");
}

/// Tuning on a real broker: the events of a suppressed finding are written to anomalies.jsonl
/// and never published; a finding an analyst closed is published with its decision, valid for
/// the schema and OCSF; everything else arrives as without tuning.
#[test]
fn suppressed_findings_stay_home_and_triaged_ones_carry_the_decision() {
    let tools = tools();
    let dir = tempfile::tempdir().unwrap();
    // An untuned read names the finding to suppress and the one to close.
    let plain = config(dir.path(), "");
    run(Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("read")
        .arg(week())
        .arg("--config")
        .arg(&plain)
        .arg("--out")
        .arg(dir.path().join("untuned"))
        .env("APITAP_HASH_KEY", KEY)
        .env("APITAP_SENSOR_ID", SENSOR));
    let untuned = lines(&dir.path().join("untuned/anomalies.jsonl"));
    let news: Vec<&Value> = untuned.iter().filter(|e| e["unmapped"]["lifecycle"] == "new" && e["unmapped"]["network"].is_string()).collect();
    let target = news[0];
    let closed = news.iter().find(|e| e["unmapped"]["network"] != target["unmapped"]["network"]).unwrap();
    let closed_id = closed["unmapped"]["finding_id"].as_str().unwrap().to_string();
    let cfg = plain.to_str().unwrap();
    let apitap = |args: &[&str]| run(Command::new(env!("CARGO_BIN_EXE_apitap")).args(args).env("APITAP_HASH_KEY", KEY));
    apitap(&[
        "suppress", "add", "--config", cfg, "--id", "known", "--owner", "soc", "--reason", "test network", "--expires", "2099-01-01",
        "--network", target["unmapped"]["network"].as_str().unwrap(), "--kind", target["unmapped"]["kind"].as_str().unwrap(),
    ]);
    let anomalies_file = dir.path().join("untuned/anomalies.jsonl");
    apitap(&["alerts", "close", &closed_id, "--config", cfg, "--anomalies", anomalies_file.to_str().unwrap(), "--by", "soc", "--reason", "handled"]);
    // The same run, tuned, published.
    let b = Broker::start(&tools, &dir.path().join("broker"), BrokerOptions { topics: topics(), ..BrokerOptions::default() });
    std::fs::write(&plain, std::fs::read_to_string(&plain).unwrap() + &format!("\n[kafka]\n[kafka.spool]\ndir = \"{}\"\n", dir.path().join("spool").display())).unwrap();
    let out = dir.path().join("out");
    read(week(), &plain, &out, &b.bootstrap());
    let k = summary_kafka(&out);
    assert_eq!((k["complete"].as_bool(), k["dropped"].as_u64()), (Some(true), Some(0)), "{k}");
    let reads = read_back(&tools, &b.bootstrap(), &TOPICS, Some("apitap.anomalies"), k["delivered"].as_u64().unwrap() as usize, &ReaderSecurity::default(), dir.path());
    let written = lines(&out.join("anomalies.jsonl"));
    let suppressed = written.iter().filter(|e| e["unmapped"]["suppressed"]["rule"] == "known").count();
    assert!(suppressed > 0, "the rule marked the target's events");
    let published: Vec<Value> = written.iter().filter(|e| e["unmapped"].get("suppressed").is_none()).cloned().collect();
    assert_eq!(published.len() + suppressed, written.len());
    check_anomalies(&reads, &published);
    assert!(of(&reads, "apitap.anomalies").iter().all(|r| r.value["unmapped"].get("suppressed").is_none() && r.value["status_id"] != 3));
    let decided: Vec<&Read> = of(&reads, "apitap.anomalies").into_iter().filter(|r| r.value["unmapped"]["finding_id"] == closed_id.as_str()).collect();
    assert!(!decided.is_empty());
    for r in decided {
        assert_eq!(r.value["unmapped"]["triage"]["state"], "closed", "{}", r.value);
        assert_eq!(r.value["unmapped"]["triage"]["verdict"], "resolved");
    }
}
