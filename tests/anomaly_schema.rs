//! The anomaly message against its published schema (`docs/schemas/anomaly.schema.json`) and
//! its documented promises (`docs/anomalies.md`): the week scenario is simulated, `apitap read`
//! replays it with a fixed hashing key, and every line of `anomalies.jsonl` is checked: the
//! schema, the OCSF identifiers, each finding's lifecycle, replay determinism, the key's effect
//! on ids, and that no credential or object id from the wire appears in a message.
//!
//! The checks hold whatever the detector thresholds are: they ask for the layout, for every
//! lifecycle and for a handful of kinds, never for particular counts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KEY_A: &str = "schema-test-key-a-0123456789abcdef";
const KEY_B: &str = "schema-test-key-b-fedcba9876543210";

/// What the runs produced, read into memory (the temporary directory is gone by then).
struct Outputs {
    /// `anomalies.jsonl` of the first read with `KEY_A`.
    first: String,
    /// The same read again with `KEY_A`.
    second: String,
    /// The read with `KEY_B`.
    other_key: String,
    /// Credentials and object ids seen on the wire (see `wire_secrets`).
    secrets: BTreeSet<String>,
}

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("apitap.toml");
    std::fs::write(&path, common::uk_scenario_config()).unwrap();
    path
}

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn read(pcap: &Path, config: &Path, out: &Path, key: &str) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("read")
        .arg(pcap)
        .args(["--no-progress", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .env("APITAP_HASH_KEY", key)
        .env("APITAP_SENSOR_ID", "schema-test-sensor"));
    std::fs::read_to_string(out.join("anomalies.jsonl")).unwrap()
}

/// Values that must never reach a message: `Authorization` and API-key header values, the
/// credential fields of token and login requests, and the object ids in request paths (path
/// segments with letters and digits that are no literal segment of any inventoried endpoint).
fn wire_secrets(pcap: &[u8], transactions: &str, inventory: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let markers: [&[u8]; 7] = [
        b"Authorization: ",
        b"authorization: ",
        b"x-api-key: ",
        b"X-API-Key: ",
        b"password=",
        b"client_secret=",
        b"client_assertion=",
    ];
    for marker in markers {
        let mut at = 0;
        while let Some(i) = find(&pcap[at..], marker) {
            let start = at + i + marker.len();
            let value: Vec<u8> = pcap[start..].iter().take(4096).take_while(|b| !matches!(b, b'\r' | b'\n' | b'&' | 0)).copied().collect();
            let value = String::from_utf8_lossy(&value).to_string();
            // The credential of `Bearer x`, `Basic x`: the part after the scheme.
            let secret = value.split_once(' ').map_or(value.as_str(), |(_, s)| s).to_string();
            if secret.len() >= 8 {
                out.insert(secret);
            }
            at = start;
        }
    }
    let inventory: Value = serde_json::from_str(inventory).unwrap();
    let literals: HashSet<&str> = inventory["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["path"].as_str().unwrap().split('/'))
        .filter(|seg| !seg.starts_with('{'))
        .collect();
    for line in transactions.lines() {
        let tx: Value = serde_json::from_str(line).unwrap();
        let Some(uri) = tx["uri"].as_str() else { continue };
        let path = uri.split('?').next().unwrap_or("");
        for seg in path.split('/') {
            let has_digit = seg.bytes().any(|b| b.is_ascii_digit());
            let has_alpha = seg.bytes().any(|b| b.is_ascii_alphabetic());
            if seg.len() >= 8 && has_digit && has_alpha && !literals.contains(seg) {
                out.insert(seg.to_string());
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn outputs() -> &'static Outputs {
    static OUT: OnceLock<Outputs> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let sim = dir.path().join("sim");
        run(Command::new(env!("CARGO_BIN_EXE_apitap"))
            .args(["simulate", "--scenario"])
            .arg(Path::new(ROOT).join("fixtures/scenarios/week.yaml"))
            .arg("--out")
            .arg(&sim));
        let pcap = sim.join("capture.pcap");
        let cfg = config(dir.path());
        let first = read(&pcap, &cfg, &dir.path().join("a1"), KEY_A);
        let second = read(&pcap, &cfg, &dir.path().join("a2"), KEY_A);
        let other_key = read(&pcap, &cfg, &dir.path().join("b"), KEY_B);
        let transactions = std::fs::read_to_string(dir.path().join("a1/transactions.jsonl")).unwrap();
        let inventory = std::fs::read_to_string(dir.path().join("a1/inventory.json")).unwrap();
        let secrets = wire_secrets(&std::fs::read(&pcap).unwrap(), &transactions, &inventory);
        Outputs { first, second, other_key, secrets }
    })
}

fn schema() -> Value {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/schemas/anomaly.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::options().should_validate_formats(true).build(&schema()).unwrap()
}

fn messages(text: &str) -> Vec<Value> {
    text.lines().enumerate().map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: not JSON ({e}): {l}", i + 1))).collect()
}

/// Validation errors of one message, one per line (instance path: error).
fn errors(v: &jsonschema::Validator, msg: &Value) -> Vec<String> {
    v.iter_errors(msg).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

fn ms_of(rfc3339: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().unwrap()).unwrap().timestamp_millis()
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    let s = schema();
    if let Err(e) = jsonschema::draft202012::meta::validate(&s) {
        panic!("docs/schemas/anomaly.schema.json is not a valid 2020-12 schema: {e}");
    }
}

#[test]
fn every_emitted_message_validates_against_the_schema() {
    let out = outputs();
    let v = validator();
    let mut bad = Vec::new();
    for (i, line) in out.first.lines().enumerate() {
        let msg: Value = serde_json::from_str(line).unwrap();
        let errs = errors(&v, &msg);
        if !errs.is_empty() {
            bad.push(format!("line {}:\n  {}\n  {line}", i + 1, errs.join("\n  ")));
        }
    }
    assert!(bad.is_empty(), "{} of {} messages fail the schema:\n{}", bad.len(), out.first.lines().count(), bad.join("\n"));
}

#[test]
fn the_run_has_every_lifecycle_and_several_kinds() {
    let msgs = messages(&outputs().first);
    let lifecycles: BTreeSet<&str> = msgs.iter().map(|m| m["unmapped"]["lifecycle"].as_str().unwrap()).collect();
    assert_eq!(lifecycles, BTreeSet::from(["closed", "new", "updated"]));
    let kinds: BTreeSet<&str> = msgs.iter().map(|m| m["unmapped"]["kind"].as_str().unwrap()).collect();
    assert!(kinds.len() >= 5, "only {} kinds: {kinds:?}", kinds.len());
}

#[test]
fn ocsf_attributes_agree_with_apitaps_fields() {
    for (i, m) in messages(&outputs().first).iter().enumerate() {
        let u = &m["unmapped"];
        let at = format!("line {}", i + 1);
        let activity = m["activity_id"].as_u64().unwrap();
        assert_eq!(m["type_uid"].as_u64().unwrap(), 200_400 + activity, "{at}");
        assert_eq!(m["finding_info"]["uid"], u["finding_id"], "{at}");
        assert_eq!(m["metadata"]["uid"].as_str().unwrap(), format!("{}-{}", u["finding_id"].as_str().unwrap(), m["time"]), "{at}");
        assert_eq!(m["confidence_score"], u["score"], "{at}");
        assert_eq!(m["finding_info"]["desc"], m["message"], "{at}");
        assert_eq!(m["time"].as_i64().unwrap(), ms_of(&u["time"]), "{at}");
        assert_eq!(m["finding_info"]["modified_time"], m["time"], "{at}");
        assert_eq!(m["start_time"].as_i64().unwrap(), ms_of(&u["first_seen"]), "{at}");
        assert_eq!(m["finding_info"]["created_time"].as_i64().unwrap(), ms_of(&u["detected"]), "{at}");
        assert_eq!(m["end_time"].as_i64().unwrap(), ms_of(&u["last_seen"]), "{at}");
        // The incident's window: evidence starts, then the first detection, then the latest
        // request, and the event is no earlier than any of them.
        let (start, created, end, time) =
            (m["start_time"].as_i64().unwrap(), m["finding_info"]["created_time"].as_i64().unwrap(), m["end_time"].as_i64().unwrap(), m["time"].as_i64().unwrap());
        assert!(start <= created && created <= end && end <= time, "{at}: start {start}, created {created}, end {end}, time {time}");
        if let Some(c) = u.get("consumer") {
            assert_eq!(m["actor"]["user"]["uid"], c["id"], "{at}");
            assert_eq!(m["actor"]["user"]["name"], c["label"], "{at}");
            assert_eq!(m["actor"]["user"]["type"], c["source"], "{at}");
        }
        if let Some(e) = u.get("endpoint") {
            let want = format!("{} {} {}", e["service"].as_str().unwrap(), e["method"].as_str().unwrap(), e["path_template"].as_str().unwrap());
            assert_eq!(m["resources"][0]["uid"].as_str().unwrap(), want, "{at}");
        }
        if activity == 1 {
            assert_eq!(m["time"], m["finding_info"]["created_time"], "{at}: a new finding's time is its detection");
        }
    }
}

#[test]
fn each_finding_goes_new_then_updated_then_closed_in_time_order() {
    let msgs = messages(&outputs().first);
    let mut by_id: BTreeMap<&str, Vec<(usize, &Value)>> = BTreeMap::new();
    for (i, m) in msgs.iter().enumerate() {
        by_id.entry(m["unmapped"]["finding_id"].as_str().unwrap()).or_default().push((i + 1, m));
    }
    for (id, events) in &by_id {
        let order: Vec<&str> = events.iter().map(|(_, m)| m["unmapped"]["lifecycle"].as_str().unwrap()).collect();
        assert_eq!(order[0], "new", "finding {id} starts with {order:?}");
        let closes = order.iter().filter(|l| **l == "closed").count();
        assert!(closes <= 1 && (closes == 0 || order.last() == Some(&"closed")), "finding {id}: {order:?}");
        assert!(order[1..].iter().all(|l| *l != "new"), "finding {id}: {order:?}");
        // Versions count the finding's events: 1, 2, 3, ...
        let versions: Vec<u64> = events.iter().map(|(_, m)| m["unmapped"]["finding_version"].as_u64().unwrap()).collect();
        assert_eq!(versions, (1..=events.len() as u64).collect::<Vec<_>>(), "finding {id}");
        let (first_line, first) = events[0];
        for pair in events.windows(2) {
            let ((la, a), (lb, b)) = (pair[0], pair[1]);
            assert!(a["time"].as_i64() <= b["time"].as_i64(), "finding {id}: line {lb} is earlier than line {la}");
            assert!(a["count"].as_u64() <= b["count"].as_u64(), "finding {id}: count fell from line {la} to {lb}");
        }
        for (line, m) in &events[1..] {
            for key in ["kind", "detected", "first_seen", "consumer", "endpoint", "customer"] {
                assert_eq!(m["unmapped"].get(key), first["unmapped"].get(key), "finding {id}: {key} changed from line {first_line} to {line}");
            }
        }
    }
}

#[test]
fn a_replay_with_the_same_key_is_byte_identical_and_another_key_renames_every_id() {
    let out = outputs();
    assert!(!out.first.is_empty());
    assert!(out.first == out.second, "two reads of the same capture with the same key differ");
    let ids = |text: &str, f: &dyn Fn(&Value) -> Option<String>| -> HashSet<String> { messages(text).iter().filter_map(f).collect() };
    let finding = |m: &Value| m["unmapped"]["finding_id"].as_str().map(String::from);
    let consumer = |m: &Value| m["unmapped"]["consumer"]["id"].as_str().map(String::from);
    let (a, b) = (ids(&out.first, &finding), ids(&out.other_key, &finding));
    assert!(!a.is_empty() && !b.is_empty());
    assert!(a.is_disjoint(&b), "finding ids shared between two keys: {:?}", a.intersection(&b).collect::<Vec<_>>());
    let (a, b) = (ids(&out.first, &consumer), ids(&out.other_key, &consumer));
    assert!(!a.is_empty() && a.is_disjoint(&b), "consumer ids shared between two keys");
    // The key names things; it does not change what is found.
    let shape = |text: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = messages(text)
            .iter()
            .map(|m| (m["unmapped"]["kind"].as_str().unwrap().to_string(), m["unmapped"]["lifecycle"].as_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(shape(&out.first), shape(&out.other_key));
}

#[test]
fn no_credential_or_object_id_from_the_wire_appears_in_a_message() {
    let out = outputs();
    assert!(out.secrets.len() > 100, "the scan found too few wire values ({}) to mean anything", out.secrets.len());
    for (i, line) in out.first.lines().enumerate() {
        if let Some(s) = out.secrets.iter().find(|s| line.contains(s.as_str())) {
            panic!("line {} carries a value from the wire ({s}): {line}", i + 1);
        }
    }
}

/// A change to a message.
type Change = Box<dyn Fn(&mut Value)>;

/// The schema can fail: each change below to a real message breaks one documented promise.
#[test]
fn the_schema_rejects_undocumented_fields_and_bad_values() {
    let v = validator();
    let msgs = messages(&outputs().first);
    let base = msgs.iter().find(|m| m["unmapped"].get("consumer").is_some() && m["unmapped"].get("endpoint").is_some()).expect("a message with consumer and endpoint").clone();
    assert_eq!(errors(&v, &base), Vec::<String>::new());
    let cases: Vec<(&str, Change)> = vec![
        ("an unknown unmapped key", Box::new(|m| m["unmapped"]["raw_token"] = json!("eyJhbGciOi"))),
        ("an unknown kind", Box::new(|m| m["unmapped"]["kind"] = json!("bola"))),
        ("an unknown lifecycle", Box::new(|m| m["unmapped"]["lifecycle"] = json!("reopened"))),
        ("a short consumer id", Box::new(|m| m["unmapped"]["consumer"]["id"] = json!("0123456789abcde"))),
        ("an upper-case finding id", Box::new(|m| m["unmapped"]["finding_id"] = json!("0123456789ABCDEF0123456789ABCDEF"))),
        ("an unknown consumer key", Box::new(|m| m["unmapped"]["consumer"]["secret"] = json!("x"))),
        ("an unknown endpoint key", Box::new(|m| m["unmapped"]["endpoint"]["query"] = json!("a=1"))),
        ("an unknown evidence key", Box::new(|m| m["unmapped"]["evidence"]["object_ids"] = json!(["acc-1"]))),
        ("a missing evidence key", Box::new(|m| {
            let ev = m["unmapped"]["evidence"].as_object_mut().unwrap();
            let k = ev.keys().next().unwrap().clone();
            ev.remove(&k);
        })),
        ("a time that is not RFC 3339 UTC", Box::new(|m| m["unmapped"]["time"] = json!("2026-03-26 08:03:44"))),
        ("a time in seconds as a float", Box::new(|m| m["time"] = json!(1_774_512_224.631))),
        ("another OCSF class", Box::new(|m| m["class_uid"] = json!(2001))),
        ("a type_uid that is not 200400 + activity_id", Box::new(|m| {
            let a = m["activity_id"].as_u64().unwrap();
            m["type_uid"] = json!(200_400 + (a % 3) + 1);
        })),
        ("a lifecycle that disagrees with the activity", Box::new(|m| {
            let other = if m["unmapped"]["lifecycle"] == "new" { "closed" } else { "new" };
            m["unmapped"]["lifecycle"] = json!(other);
        })),
        ("a severity caption that disagrees with its id", Box::new(|m| {
            let other = if m["severity"] == "Critical" { "Low" } else { "Critical" };
            m["severity"] = json!(other);
        })),
        ("a kind that disagrees with finding_info.types", Box::new(|m| {
            let other = if m["unmapped"]["kind"] == "http_smuggling" { "rate_surge" } else { "http_smuggling" };
            m["finding_info"]["types"] = json!([other]);
        })),
        ("a missing finding_info.uid", Box::new(|m| {
            m["finding_info"].as_object_mut().unwrap().remove("uid");
        })),
        ("a missing metadata.product", Box::new(|m| {
            m["metadata"].as_object_mut().unwrap().remove("product");
        })),
        ("a consumer without an actor", Box::new(|m| {
            m.as_object_mut().unwrap().remove("actor");
        })),
        ("a score above 100", Box::new(|m| m["unmapped"]["score"] = json!(101))),
    ];
    for (what, change) in cases {
        let mut m = base.clone();
        change(&mut m);
        assert!(!v.is_valid(&m), "the schema accepts {what}: {m}");
    }
}

/// Every field the schema names under `unmapped` (and every evidence key) is explained in
/// docs/anomalies.md, so the schema cannot grow a field the documentation does not describe.
#[test]
fn the_documentation_names_every_field_and_kind_of_the_schema() {
    let s = schema();
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/anomalies.md")).unwrap();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for def in ["unmapped", "consumer", "endpoint"] {
        names.extend(s["$defs"][def]["properties"].as_object().unwrap().keys().cloned());
    }
    let defs = s["$defs"].as_object().unwrap();
    for (name, def) in defs.iter().filter(|(n, _)| n.starts_with("evidence_")) {
        assert!(doc.contains(&format!("`{}`", name.trim_start_matches("evidence_"))), "docs/anomalies.md does not name the kind {name}");
        names.extend(def["properties"].as_object().unwrap().keys().cloned());
    }
    for kind in s["$defs"]["kind"]["enum"].as_array().unwrap() {
        let k = kind.as_str().unwrap();
        assert!(defs.contains_key(&format!("evidence_{k}")), "no evidence schema for {k}");
    }
    let missing: Vec<&String> = names.iter().filter(|n| !doc.contains(&format!("`{n}`"))).collect();
    assert!(missing.is_empty(), "docs/anomalies.md does not explain {missing:?}");
}

/// A `new_origin` finding of a consumer whose addresses a network database places (AS and
/// country), made by the detectors themselves, validates; the placed fields reject bad values.
#[test]
fn a_finding_placed_by_a_network_database_validates_and_its_fields_are_checked() {
    use apitap_discovery::behaviour::{AnomalyKind, Behaviour, BehaviourConfig, Lifecycle, Producer, Transaction};
    use apitap_discovery::identity::{ConsumerId, Country, Geo, IdSource, Identity, Prefix};
    use apitap_discovery::inventory::{Classification, Landing, Observed};
    const MIN: u64 = 60_000_000_000;
    const HOUR: u64 = 60 * MIN;
    // Monday 2026-03-02 00:00 UTC.
    const MONDAY: u64 = 1_772_409_600_000_000_000;
    let who = |ip: &str, asn: u32, cc: &str| {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        Identity {
            id: ConsumerId(77),
            previous_id: None,
            source: IdSource::Jwt,
            label: "client-77".into(),
            org_id: None,
            cert_subject: None,
            customer: None,
            client_ip: ip,
            network: Prefix::of(ip, 24, 48),
            geo: Geo { asn: Some(asn), as_org: Some("Example Transit".into()), country: Country::new(cc) },
            attended: true,
            login: None,
        }
    };
    let obs = Observed {
        service: "api.bank.example".into(),
        method: "GET".into(),
        template: Some("/aisp/accounts".into()),
        api: None,
        landing: Landing::Endpoint { class: Classification::Documented, accepted: false },
        response_sensitive: 0,
        response_ids: Vec::new(),
    };
    let cfg = BehaviourConfig { timezone: "UTC".into(), ..BehaviourConfig::default() };
    let mut b = Behaviour::new(cfg, [3; 16], true).unwrap();
    let mut feed = |ts: u64, id: &Identity| {
        b.observe(&Transaction {
            ts,
            identity: id,
            observed: &obs,
            path: "/aisp/accounts",
            status: Some(200),
            response_bytes: 900,
            latency_ms: Some(20.0),
            user_agent: Some("tpp/1.0"),
            fingerprint: None,
            connection: ts / (10 * MIN),
            authenticated: true,
            framing_events: &[],
            visibility: Default::default(),
        });
        b.drain()
    };
    let home = who("198.51.100.20", 64_500, "GB");
    for i in 0..4 * 24 * 4u64 {
        feed(MONDAY + i * 15 * MIN + 1, &home);
    }
    let away = who("203.0.113.9", 64_511, "RU");
    let t = MONDAY + 4 * 24 * HOUR + 10 * HOUR;
    let found: Vec<_> = (0..5u64).flat_map(|i| feed(t + i * MIN, &away)).filter(|a| a.kind == AnomalyKind::NewOrigin && a.lifecycle == Lifecycle::New).collect();
    assert_eq!(found.len(), 1, "one new_origin finding");
    let msg = found[0].to_json(&Producer { sensor_id: "sensor-1".into(), version: "0.1.0".into() });
    let v = validator();
    assert_eq!(errors(&v, &msg), Vec::<String>::new(), "{msg}");
    assert_eq!(msg["src_endpoint"]["location"]["country"], json!("RU"));
    assert_eq!(msg["unmapped"]["evidence"]["new_country"], json!(true));
    let cases: Vec<(&str, Change)> = vec![
        ("a lower-case country", Box::new(|m| m["src_endpoint"]["location"]["country"] = json!("ru"))),
        ("an AS number out of range", Box::new(|m| m["src_endpoint"]["autonomous_system"]["number"] = json!(-1))),
        ("an unknown location key", Box::new(|m| m["src_endpoint"]["location"]["city"] = json!("Moscow"))),
        ("an AS name without its number", Box::new(|m| {
            let ev = m["unmapped"]["evidence"].as_object_mut().unwrap();
            ev.remove("asn");
            ev.remove("new_asn");
        })),
        ("a country without saying whether it is new", Box::new(|m| {
            m["unmapped"]["evidence"].as_object_mut().unwrap().remove("new_country");
        })),
    ];
    for (what, change) in cases {
        let mut m = msg.clone();
        change(&mut m);
        assert!(!v.is_valid(&m), "the schema accepts {what}: {m}");
    }
}
