//! The daemon publishing to Kafka, end to end: `apitap run` captures real curl traffic through
//! a real nginx on the loopback interface and publishes to a real Kafka-protocol broker (tansu,
//! started here), read back by an independent client (Python's confluent-kafka).
//!
//! - Every request the test sent arrives once as a transaction message, the undocumented
//!   endpoints the test called arrive as shadow endpoints on the inventory topic and as
//!   `shadow_endpoint_use` findings of the consumer that called them; a SIGHUP in the middle
//!   neither loses the publisher nor sends anything twice; the health messages carry the
//!   configured sensor id. No byte of any message, log line, spool or store file holds a
//!   secret the test planted (bearer tokens and their segments, a Basic password, an API key,
//!   a session cookie, a query-string token, a card number).
//! - With the broker killed before SIGTERM, the daemon still exits 0 within
//!   `shutdown_deadline_secs` (plus a small margin), says how many messages it could not
//!   deliver and keeps them in its spool; the next start, with the broker back, replays exactly
//!   those, and every message arrives once.
//!
//! Needs root (capture), nginx, curl and the Kafka test tools (scripts/install-kafka-tools.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "kafka/broker.rs"]
mod broker;
mod common;
#[path = "daemon/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use broker::{read_back, tools, Broker, BrokerOptions, Read, ReaderSecurity};
use harness::{free_port, hash_key, jwt, Daemon};
use serde_json::Value;

const HOST: &str = "api.bank.example";
const BASE: &str = "/open-banking/v4.0/aisp";
const TPPS: [&str; 3] = ["tpp-alpha", "tpp-beta", "tpp-gamma"];
const SHADOW_DUMP: &str = "/internal/debug/dump";
const SHADOW_CARDS: &str = "/internal/cards/verify";

/// Topic names of the test's configuration (not the defaults: the daemon must use these).
struct Topics {
    anomalies: String,
    inventory: String,
    health: String,
    transactions: String,
}

impl Topics {
    fn new(prefix: &str) -> Topics {
        Topics {
            anomalies: format!("{prefix}.findings"),
            inventory: format!("{prefix}.endpoints"),
            health: format!("{prefix}.sensor-health"),
            transactions: format!("{prefix}.http"),
        }
    }
    fn all(&self) -> [&str; 4] {
        [&self.anomalies, &self.inventory, &self.health, &self.transactions]
    }
}

/// Random lower-case hex (std's per-instance random hasher keys; no clock involved).
fn random_hex(len: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    while out.len() < len {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(out.len());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(len);
    out
}

/// A card number that passes the Luhn check (so the sensor's detector takes it for one).
fn luhn_pan() -> String {
    let digits: String = random_hex(40).chars().filter(char::is_ascii_digit).take(14).collect();
    assert_eq!(digits.len(), 14, "not enough random digits");
    let body = format!("4{digits}");
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The credentials and card number the test's clients send, all made up for this run.
struct Planted {
    /// Bearer JWT per TPP (a random `jti` and a random signature, so every segment is unique).
    tokens: Vec<(&'static str, String)>,
    basic_user: String,
    basic_password: String,
    api_key: String,
    cookie: String,
    query_token: String,
    pan: String,
}

impl Planted {
    fn new() -> Planted {
        let tokens = TPPS
            .iter()
            .enumerate()
            .map(|(i, tpp)| {
                let unsigned = jwt(&format!(r#"{{"client_id":"{tpp}","sub":"psu-{i}","jti":"{}"}}"#, random_hex(24)));
                let (head_payload, _) = unsigned.rsplit_once('.').unwrap();
                (*tpp, format!("{head_payload}.{}", common::base64(random_hex(32).as_bytes(), common::BASE64_URL, false)))
            })
            .collect();
        Planted {
            tokens,
            basic_user: "ops-batch".into(),
            basic_password: format!("Pw-{}", random_hex(20)),
            api_key: random_hex(32),
            cookie: random_hex(32),
            query_token: random_hex(32),
            pan: luhn_pan(),
        }
    }

    fn token(&self, tpp: &str) -> &str {
        &self.tokens.iter().find(|(t, _)| *t == tpp).unwrap().1
    }

    fn basic(&self) -> String {
        common::base64(format!("{}:{}", self.basic_user, self.basic_password).as_bytes(), common::BASE64_STD, true)
    }

    /// Every byte string whose presence would mean a secret left the sensor in clear: each
    /// secret whole, its base64 forms, each JWT segment but the public header, and every
    /// 16-character stretch of them (a truncated secret is still a leak).
    fn needles(&self) -> Vec<(String, Vec<u8>)> {
        let mut secrets: Vec<(String, String)> = Vec::new();
        for (tpp, t) in &self.tokens {
            secrets.push((format!("{tpp}'s bearer token"), t.clone()));
            for (i, seg) in t.split('.').enumerate().skip(1) {
                secrets.push((format!("{tpp}'s token segment {i}"), seg.to_string()));
            }
        }
        secrets.push(("the Basic password".into(), self.basic_password.clone()));
        secrets.push(("the Basic credential".into(), self.basic()));
        secrets.push(("the API key".into(), self.api_key.clone()));
        secrets.push(("the session cookie".into(), self.cookie.clone()));
        secrets.push(("the query-string token".into(), self.query_token.clone()));
        let mut out = Vec::new();
        for (what, s) in secrets {
            for form in [s.clone(), s.to_uppercase(), common::base64(s.as_bytes(), common::BASE64_STD, true), common::base64(s.as_bytes(), common::BASE64_URL, false)] {
                let chars: Vec<char> = form.chars().collect();
                if chars.len() <= 16 {
                    out.push((what.clone(), form.into_bytes()));
                } else {
                    for w in chars.windows(16) {
                        out.push((what.clone(), w.iter().collect::<String>().into_bytes()));
                    }
                }
            }
        }
        // The card number whole (digits only are what the test sent); a masked form keeps at
        // most the first six and last four.
        out.push(("the card number".into(), self.pan.clone().into_bytes()));
        out.push(("the card number's middle digits".into(), self.pan[6..12].to_string().into_bytes()));
        out
    }
}

/// Panics naming the secret and where, if any needle occurs in `hay`.
fn assert_clean(needles: &[(String, Vec<u8>)], hay: &[u8], place: &str) {
    for (what, n) in needles {
        // The card number's middle six digits alone are short enough to occur by chance in a
        // long number (a timestamp); they count only next to the rest of the number's digits.
        if what == "the card number's middle digits" {
            continue;
        }
        if hay.windows(n.len()).any(|w| w == n.as_slice()) {
            panic!("{what} ({}) found in {place}", String::from_utf8_lossy(n));
        }
    }
}

fn assert_messages_clean(needles: &[(String, Vec<u8>)], reads: &[Read]) {
    for r in reads {
        let place = format!("{} partition {} offset {}", r.topic, r.partition, r.offset);
        // The bytes searched are the message the reader decoded, not something else.
        assert_eq!(serde_json::from_slice::<Value>(&r.raw_value).unwrap(), r.value, "raw bytes of {place}");
        assert_eq!(r.raw_key, r.key.as_bytes(), "raw key of {place}");
        assert_clean(needles, &r.raw_key, &format!("the key of {place}"));
        assert_clean(needles, &r.raw_value, &format!("the value of {place}"));
        for (name, value) in &r.raw_headers {
            assert_clean(needles, name.as_bytes(), &format!("a header name of {place}"));
            assert_clean(needles, value, &format!("header {name} of {place}"));
        }
    }
}

/// Every file under `dir` (store, spool), byte for byte.
fn assert_files_clean(needles: &[(String, Vec<u8>)], dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert_clean(needles, &std::fs::read(&p).unwrap(), &p.display().to_string());
            }
        }
    }
}

fn nginx(dir: &Path, port: u16, pan: &str) -> common::Nginx {
    let http = format!(
        r#"  server {{
    listen 127.0.0.1:{port};
    location ~ ^{BASE}/accounts/[^/]+/balances$ {{ return 200 '{{"Data":{{"Balance":[{{"Amount":{{"Amount":"10.00","Currency":"GBP"}}}}]}}}}'; }}
    location ~ ^{BASE}/accounts/[^/]+$ {{ return 200 '{{"Data":{{"Account":[{{"AccountId":"acc"}}]}}}}'; }}
    location = {BASE}/accounts {{ return 200 '{{"Data":{{"Account":[]}}}}'; }}
    location = {SHADOW_DUMP} {{ return 200 '{{"rows":1}}'; }}
    location = {SHADOW_CARDS} {{ return 200 '{{"card":{{"number":"{pan}","valid":true}}}}'; }}
  }}"#
    );
    common::start_nginx(&dir.join("nginx"), &http)
}

/// The daemon's configuration: the account-information spec (and more `specs`), Kafka with the
/// test's topics and spool, capture of the nginx port on loopback, a 5 s checkpoint.
fn config(dir: &Path, port: u16, brokers: &str, topics: &Topics, sensor: &str, deadline_secs: u64, specs: &[&str]) -> PathBuf {
    let key = hash_key(dir);
    let state = dir.join("state");
    let specs: String = specs.iter().map(|s| common::spec_entry(s, HOST, "")).collect();
    let text = format!(
        "{specs}\n[daemon]\nsensor_id = \"{sensor}\"\nhash_key_file = \"{key}\"\nlog_format = \"json\"\nshutdown_deadline_secs = {deadline_secs}\n\n\
         [capture]\ninterface = \"lo\"\npromiscuous = false\nfilter = \"tcp port {port}\"\n\n\
         [store]\npath = \"{state}/apitap.db\"\ncheckpoint_interval_secs = 5\n\n\
         [report]\ndir = \"{state}/reports\"\nevery_hours = 0\n\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\n\
         [kafka]\nbrokers = [\"{brokers}\"]\npublish_transactions = true\nlinger_ms = 5\n\n\
         [kafka.topics]\nanomalies = \"{a}\"\ninventory = \"{i}\"\nhealth = \"{h}\"\ntransactions = \"{t}\"\n\n\
         [kafka.spool]\ndir = \"{spool}\"\n",
        key = key.display(),
        state = state.display(),
        metrics = free_port(),
        a = topics.anomalies,
        i = topics.inventory,
        h = topics.health,
        t = topics.transactions,
        spool = dir.join("spool").display(),
    );
    let path = dir.join("apitap.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// One request the test made, as the test made it.
#[derive(Clone, Debug)]
struct Sent {
    method: &'static str,
    /// Path and query, as sent.
    target: String,
    /// The status curl saw.
    status: u16,
    /// The consumer label the request identifies, if any (a TPP's JWT client).
    tpp: Option<&'static str>,
}

impl Sent {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }
}

/// One curl request with these headers (and body); returns what was sent.
fn request(port: u16, method: &'static str, target: &str, headers: &[String], body: Option<&str>, tpp: Option<&'static str>) -> Sent {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "-H", &format!("Host: {HOST}")]);
    for h in headers {
        cmd.arg("-H").arg(h);
    }
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    let out = cmd.arg(format!("http://127.0.0.1:{port}{target}")).output().expect("curl (scripts/install-deps.sh)");
    let status = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    assert_eq!(status, 200, "{method} {target}");
    Sent { method, target: target.to_string(), status, tpp }
}

/// `n` documented requests from the three TPPs, each with its bearer token; `tag` makes the
/// account ids of this batch its own.
fn tpp_traffic(port: u16, p: &Planted, n: usize, tag: &str) -> Vec<Sent> {
    (0..n)
        .map(|i| {
            let tpp = TPPS[i % TPPS.len()];
            let target = if i % 2 == 0 { format!("{BASE}/accounts/acc-{tag}{}", i % 4) } else { format!("{BASE}/accounts/acc-{tag}{}/balances", i % 4) };
            request(port, "GET", &target, &[format!("Authorization: Bearer {}", p.token(tpp))], None, Some(tpp))
        })
        .collect()
}

/// The requests carrying the other planted secrets, and the undocumented endpoints.
fn secret_traffic(port: u16, p: &Planted) -> Vec<Sent> {
    vec![
        // A TPP calls an undocumented endpoint, with a token in the query string too.
        request(
            port,
            "GET",
            &format!("{SHADOW_DUMP}?access_token={}&rows=1", p.query_token),
            &[format!("Authorization: Bearer {}", p.token("tpp-alpha"))],
            None,
            Some("tpp-alpha"),
        ),
        request(port, "GET", &format!("{BASE}/accounts"), &[format!("Authorization: Basic {}", p.basic())], None, None),
        request(port, "GET", &format!("{BASE}/accounts/acc-key"), &[format!("X-API-Key: {}", p.api_key), format!("Cookie: session={}", p.cookie)], None, None),
        // A card number in an unauthenticated request body and in the response.
        request(port, "POST", SHADOW_CARDS, &[], Some(&format!(r#"{{"pan":"{}","expiry":"12/29"}}"#, p.pan)), None),
    ]
}

/// `log_format = "json"`: every line the daemon wrote, the Kafka publisher's included, is one
/// JSON object.
fn assert_json_log(log: &str) {
    for line in log.lines() {
        let v: Result<Value, _> = serde_json::from_str(line);
        assert!(v.as_ref().is_ok_and(Value::is_object), "not a JSON object in the JSON log: {line}");
    }
}

fn of<'a>(reads: &'a [Read], topic: &str) -> Vec<&'a Read> {
    reads.iter().filter(|r| r.topic == topic).collect()
}

/// The daemon's "Kafka flushed" line: its report as JSON.
fn flush_report(log: &str) -> Value {
    let line = log.lines().find(|l| l.contains("Kafka flushed")).unwrap_or_else(|| panic!("no \"Kafka flushed\" line in:\n{log}"));
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    serde_json::from_str(v["report"].as_str().unwrap_or_else(|| panic!("no report in {line}"))).unwrap()
}

/// Checks that the transactions topic holds each request of `sent` exactly once.
fn check_transactions(reads: &[Read], topic: &str, sent: &[Sent], sensor: &str, secret_query: &str) {
    let tx = of(reads, topic);
    let ids: BTreeSet<(String, u64)> = tx.iter().map(|r| (r.value["uid"].as_str().unwrap().to_string(), r.value["trans_depth"].as_u64().unwrap())).collect();
    assert_eq!(ids.len(), tx.len(), "a transaction was published twice");
    assert_eq!(tx.len(), sent.len(), "one transaction message per request sent");
    let mut want: BTreeMap<(String, String, u64), usize> = BTreeMap::new();
    for s in sent {
        *want.entry((s.method.to_string(), s.path().to_string(), u64::from(s.status))).or_default() += 1;
    }
    let mut have: BTreeMap<(String, String, u64), usize> = BTreeMap::new();
    for r in &tx {
        let v = &r.value;
        assert_eq!(v["sensor_id"], sensor, "{v}");
        assert_eq!(r.key, v["uid"].as_str().unwrap(), "keyed by connection uid");
        assert_eq!(v["host"], HOST, "{v}");
        let uri = v["uri"].as_str().unwrap();
        if uri.contains("access_token") {
            assert!(!uri.contains(secret_query) && uri.contains("rows=1"), "the token redacted, the rest kept: {uri}");
        }
        let path = uri.split('?').next().unwrap().to_string();
        *have.entry((v["method"].as_str().unwrap().to_string(), path, v["status_code"].as_u64().unwrap())).or_default() += 1;
    }
    assert_eq!(have, want, "the transactions are the requests sent (method, path, status)");
}

#[test]
fn the_daemon_publishes_what_it_sees_across_a_reload_without_a_secret_in_any_message() {
    let tools = tools();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let topics = Topics::new("bank-dc1");
    let sensor = format!("dk-sensor-{}", random_hex(6));
    let broker = Broker::start(&tools, &d.join("broker"), BrokerOptions { topics: topics.all().iter().map(|t| (t.to_string(), 2)).collect(), ..BrokerOptions::default() });
    let planted = Planted::new();
    let port = free_port();
    let _nginx = nginx(d, port, &planted.pan);
    let specs = ["ob-uk/account-info-openapi.yaml"];
    let cfg = config(d, port, &broker.bootstrap(), &topics, &sensor, 20, &specs);

    let mut daemon = Daemon::start(&cfg);
    let mark = daemon.log_len();
    let mut sent = tpp_traffic(port, &planted, 9, "a");
    sent.extend(secret_traffic(port, &planted));
    daemon.wait_for_log_after(mark, "checkpoint written", Duration::from_secs(30));

    // A reload in the middle, adding a spec: the publisher carries on, nothing is sent twice.
    config(d, port, &broker.bootstrap(), &topics, &sensor, 20, &["ob-uk/account-info-openapi.yaml", "ob-uk/payment-initiation-openapi.yaml"]);
    let mark = daemon.log_len();
    daemon.signal("HUP");
    daemon.wait_for_log_after(mark, "configuration reloaded", Duration::from_secs(10));
    sent.extend(tpp_traffic(port, &planted, 6, "b"));
    sent.push(request(port, "GET", SHADOW_DUMP, &[format!("Authorization: Bearer {}", planted.token("tpp-beta"))], None, Some("tpp-beta")));
    let mark = daemon.log_len();
    daemon.wait_for_log_after(mark, "checkpoint written", Duration::from_secs(30));

    daemon.signal("TERM");
    let stopping = Instant::now();
    let status = daemon.wait(Duration::from_secs(30));
    let took = stopping.elapsed();
    let log = daemon.log_text();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(took < Duration::from_secs(20), "SIGTERM took {took:?} with the broker up");
    assert_json_log(&log);
    let report = flush_report(&log);
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["dropped"], 0, "{report}");
    let delivered = report["delivered"].as_u64().unwrap() as usize;

    let reads = read_back(&tools, &broker.bootstrap(), &topics.all(), Some(&topics.anomalies), delivered, &ReaderSecurity::default(), d);
    assert_eq!(reads.len(), delivered, "the broker holds what the daemon says it delivered, once");

    // Every request, once, as a transaction.
    check_transactions(&reads, &topics.transactions, &sent, &sensor, &planted.query_token);

    // The inventory topic names the undocumented endpoints the test called as shadow, with the
    // hits the test made, and each documented endpoint with its hits.
    let inventory = of(&reads, &topics.inventory);
    let keys: Vec<&str> = inventory.iter().map(|r| r.key.as_str()).collect();
    let distinct: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), keys.len(), "one message per endpoint (no second initial announcement after the reload)");
    let endpoint = |method: &str, path: &str| -> &Value {
        let key = format!("{HOST} {method} {path}");
        let r = inventory.iter().find(|r| r.key == key).unwrap_or_else(|| panic!("no inventory message for {key}; keys: {keys:?}"));
        assert_eq!(r.value["sensor_id"], sensor.as_str());
        assert_eq!(r.value["key"], key.as_str());
        assert_eq!(r.value["change"], "new_endpoint");
        &r.value["endpoint"]
    };
    let hits = |method: &str, f: &dyn Fn(&str) -> bool| sent.iter().filter(|s| s.method == method && f(s.path())).count() as u64;
    let dump = endpoint("GET", SHADOW_DUMP);
    assert_eq!(dump["classification"], "shadow", "{dump}");
    assert_eq!(dump["hits"], hits("GET", &|p| p == SHADOW_DUMP), "{dump}");
    assert!(dump["findings"].as_array().unwrap().iter().any(|f| f == "shadow_endpoint"), "{dump}");
    let params: BTreeSet<&str> = dump["query_params"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(params, BTreeSet::from(["access_token", "rows"]), "names, never values: {dump}");
    let cards = endpoint("POST", SHADOW_CARDS);
    assert_eq!(cards["classification"], "shadow", "{cards}");
    assert_eq!(cards["hits"], 1, "{cards}");
    let balances = endpoint("GET", &format!("{BASE}/accounts/{{AccountId}}/balances"));
    assert_eq!(balances["classification"], "documented");
    assert_eq!(balances["hits"], hits("GET", &|p| p.ends_with("/balances")), "{balances}");
    let single = endpoint("GET", &format!("{BASE}/accounts/{{AccountId}}"));
    assert_eq!(single["hits"], hits("GET", &|p| p.starts_with(&format!("{BASE}/accounts/")) && !p.ends_with("/balances")), "{single}");

    // Findings: each TPP that called the shadow endpoint has its shadow_endpoint_use finding
    // (one before the reload, one after), valid OCSF, each event once.
    let anomalies = of(&reads, &topics.anomalies);
    let events: BTreeSet<(String, u64)> =
        anomalies.iter().map(|r| (r.value["unmapped"]["finding_id"].as_str().unwrap().to_string(), r.value["unmapped"]["finding_version"].as_u64().unwrap())).collect();
    assert_eq!(events.len(), anomalies.len(), "a finding event was published twice");
    for r in &anomalies {
        assert_eq!(r.value["unmapped"]["sensor_id"], sensor.as_str());
        assert_eq!(r.ocsf_errors.as_deref(), Some(&[][..]), "not a valid OCSF Detection Finding: {}", r.value);
    }
    let shadow_callers: BTreeSet<&str> = sent.iter().filter(|s| s.path() == SHADOW_DUMP).filter_map(|s| s.tpp).collect();
    assert_eq!(shadow_callers.len(), 2);
    for tpp in shadow_callers {
        let found = anomalies.iter().find(|r| {
            let u = &r.value["unmapped"];
            u["kind"] == "shadow_endpoint_use" && u["consumer"]["label"] == tpp && u["endpoint"]["path_template"] == SHADOW_DUMP
        });
        let found = found.unwrap_or_else(|| panic!("no shadow_endpoint_use finding for {tpp}: {:?}", anomalies.iter().map(|r| &r.value["unmapped"]).collect::<Vec<_>>()));
        assert_eq!(found.key, found.value["unmapped"]["consumer"]["id"].as_str().unwrap(), "keyed by consumer id");
    }

    // Health: the configured sensor id, one publisher (sequences 1..=n, none twice), and the
    // last one counts every request.
    let health = of(&reads, &topics.health);
    assert!(!health.is_empty(), "no health message");
    let mut seqs: Vec<u64> = health.iter().map(|r| r.value["sequence"].as_u64().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=health.len() as u64).collect::<Vec<_>>(), "one run's health sequence");
    for r in &health {
        assert_eq!(r.key, sensor, "health keyed by sensor id");
        assert_eq!(r.value["sensor_id"], sensor.as_str());
    }
    let last = health.iter().max_by_key(|r| r.value["sequence"].as_u64().unwrap()).unwrap();
    assert_eq!(last.value["totals"]["transactions"], sent.len() as u64, "{}", last.value["totals"]);

    // No secret anywhere: the messages, the log, the store.
    let needles = planted.needles();
    assert_messages_clean(&needles, &reads);
    assert_clean(&needles, log.as_bytes(), "the daemon's log");
    assert_files_clean(&needles, &d.join("state"));
    assert_files_clean(&needles, &d.join("spool"));
}

#[test]
fn with_the_broker_down_the_daemon_stops_within_its_deadline_and_the_next_start_sends_what_it_kept() {
    const DEADLINE_SECS: u64 = 5;
    let tools = tools();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let topics = Topics::new("bank-dc2");
    let sensor = format!("dk-outage-{}", random_hex(6));
    // A durable broker: what the first run delivered is still there after the restart.
    let mut broker = Broker::start(
        &tools,
        &d.join("broker"),
        BrokerOptions { durable: true, topics: topics.all().iter().map(|t| (t.to_string(), 2)).collect(), ..BrokerOptions::default() },
    );
    let planted = Planted::new();
    let port = free_port();
    let _nginx = nginx(d, port, &planted.pan);
    let cfg = config(d, port, &broker.bootstrap(), &topics, &sensor, DEADLINE_SECS, &["ob-uk/account-info-openapi.yaml"]);

    let mut first = Daemon::start(&cfg);
    let mut before = tpp_traffic(port, &planted, 4, "up");
    // Delivered while the broker is up (read back by the independent client).
    let early = read_back(&tools, &broker.bootstrap(), &[&topics.transactions], None, before.len(), &ReaderSecurity::default(), d);
    assert_eq!(early.len(), before.len(), "the transactions before the outage");

    broker.stop();
    let mut during = tpp_traffic(port, &planted, 5, "down");
    during.extend(secret_traffic(port, &planted));
    let mark = first.log_len();
    first.wait_for_log_after(mark, "checkpoint written", Duration::from_secs(30));
    first.signal("TERM");
    let stopping = Instant::now();
    let status = first.wait(Duration::from_secs(DEADLINE_SECS + 30));
    let took = stopping.elapsed();
    let log = first.log_text();
    assert!(status.success(), "exit {status} after {took:?}:\n{log}");
    eprintln!("SIGTERM to exit with the broker down: {took:?} (deadline {DEADLINE_SECS} s)");
    assert_json_log(&log);
    // The margin covers the harness noticing the exit (it polls every 50 ms, then waits 100 ms
    // for the last log lines).
    assert!(took <= Duration::from_secs(DEADLINE_SECS) + Duration::from_millis(500), "SIGTERM took {took:?}, deadline {DEADLINE_SECS} s:\n{log}");
    let report = flush_report(&log);
    assert_eq!(report["complete"], false, "{report}");
    assert_eq!(report["dropped"], 0, "{report}");
    assert_eq!(report["in_flight"], 0, "everything librdkafka held was taken back: {report}");
    let kept = report["left_in_spool"].as_u64().unwrap();
    let delivered_first = report["delivered"].as_u64().unwrap();
    // The requests during the outage, the final health and at least the shadow endpoints'
    // inventory changes are waiting.
    assert!(kept >= during.len() as u64 + 1 + 2, "left in the spool: {report}");
    assert!(delivered_first >= before.len() as u64, "{report}");
    // The log says in words how many were not delivered.
    let line = log.lines().find(|l| l.contains("not delivered")).unwrap_or_else(|| panic!("no \"not delivered\" line:\n{log}"));
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["not_delivered"], kept, "{line}");
    let needles = planted.needles();
    assert_clean(&needles, log.as_bytes(), "the first run's log");
    assert_files_clean(&needles, &d.join("spool"));
    assert_files_clean(&needles, &d.join("state"));

    // The broker back, a second start on the same spool: it sends exactly what was kept.
    broker.restart();
    let second = Daemon::start(&cfg);
    second.wait_for_log("spool_drained", Duration::from_secs(30));
    before.extend(during);
    let all_sent = before;
    let (status, log2) = second.stop();
    assert!(status.success(), "{log2}");
    assert_json_log(&log2);
    let report2 = flush_report(&log2);
    assert_eq!(report2["complete"], true, "{report2}");
    assert_eq!(report2["dropped"], 0, "{report2}");
    assert_eq!(report2["stats"]["replayed"], kept, "the second run replayed what the first kept: {report2}");
    let delivered = (delivered_first + report2["delivered"].as_u64().unwrap()) as usize;

    let reads = read_back(&tools, &broker.bootstrap(), &topics.all(), None, delivered, &ReaderSecurity::default(), d);
    assert_eq!(reads.len(), delivered, "every message confirmed by either run is on the broker, once");
    check_transactions(&reads, &topics.transactions, &all_sent, &sensor, &planted.query_token);
    // The first run's last health message (its highest sequence) came through the spool; the
    // second run's starts again at 1.
    let health = of(&reads, &topics.health);
    let first_run: Vec<&Read> = health.iter().copied().filter(|r| r.value["totals"]["transactions"] == all_sent.len() as u64).collect();
    assert_eq!(first_run.len(), 1, "the first run's final health (it counted every request): {:?}", health.iter().map(|r| &r.value["totals"]).collect::<Vec<_>>());
    assert!(health.iter().any(|r| r.value["sequence"] == 1 && r.value["totals"]["transactions"] == 0), "the second run's health");
    let dump = of(&reads, &topics.inventory).into_iter().find(|r| r.key == format!("{HOST} GET {SHADOW_DUMP}")).expect("the shadow endpoint, through the spool");
    assert_eq!(dump.value["endpoint"]["classification"], "shadow");
    assert_messages_clean(&needles, &reads);
    assert_clean(&needles, log2.as_bytes(), "the second run's log");
}
