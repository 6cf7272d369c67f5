//! The Kafka messages against their published schemas (`docs/schemas/`) and their documented
//! keys (`docs/messages.md`). A small simulated open-banking weekend is read by the real
//! binary; its transactions, anomalies and summary become messages through the builders of
//! `src/messages/`, and its transactions are replayed into a library inventory whose change
//! tracker produces the inventory messages. Every message is validated, its key checked, and
//! each schema is shown to reject changes that break a documented promise.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

/// The publisher's message type, which the builders return (the rest of the publisher is not
/// needed here).
mod kafka {
    #[path = "../../src/kafka/message.rs"]
    mod message;
    pub use message::{OutMessage, Topic};
}
#[path = "../src/messages/mod.rs"]
mod messages;
#[path = "../src/record.rs"]
mod record;
#[path = "../src/summary.rs"]
mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use apitap_discovery::behaviour::{Anomaly, AnomalyKind, ConsumerRef, Lifecycle, Producer, Severity};
use apitap_discovery::inventory::{
    AuthKind, ChangeConfig, ChangeTracker, Classification, EndpointChange, Inventory, InventoryConfig, Observation,
};
use apitap_discovery::openapi::load_spec;
use apitap_discovery::specmatch::{SpecBinding, SpecSet};
use kafka::{OutMessage, Topic};
use record::TransactionRecord;
use serde_json::{json, Value};
use summary::Summary;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SENSOR: &str = "schema-test-sensor";
const DAY: u64 = 86_400_000_000_000;
const HOUR: u64 = 3_600_000_000_000;

/// `(file under fixtures/specs, host, superseded)`: the specs of the run.
const SPECS: [(&str, &str, bool); 3] = [
    ("ob-uk/account-info-openapi.yaml", "api.bank.example", false),
    ("ob-uk/v3.1.11/account-info-openapi.yaml", "api.bank.example", true),
    ("auth/token-endpoint.yaml", "auth.bank.example", false),
];

/// What the run wrote, read into memory.
struct Run {
    transactions: Vec<Value>,
    anomalies: Vec<Value>,
    summary: Value,
    inventory: Value,
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let sim = dir.path().join("sim");
        let ok = |cmd: &mut Command| {
            let o = cmd.output().unwrap();
            assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        ok(Command::new(env!("CARGO_BIN_EXE_apitap"))
            .args(["simulate", "--scenario"])
            .arg(Path::new(ROOT).join("fixtures/scenarios/small.yaml"))
            .arg("--out")
            .arg(&sim));
        let mut cfg = String::new();
        for (file, host, superseded) in SPECS {
            cfg.push_str(&format!("[[spec]]\nfile = \"{ROOT}/fixtures/specs/{file}\"\nhosts = [\"{host}\"]\nsuperseded = {superseded}\n"));
        }
        cfg.push_str("[behaviour]\ntimezone = \"Europe/London\"\n");
        let cfg_path = dir.path().join("apitap.toml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let out = dir.path().join("out");
        ok(Command::new(env!("CARGO_BIN_EXE_apitap"))
            .arg("read")
            .arg(sim.join("capture.pcap"))
            .args(["--no-progress", "--config"])
            .arg(&cfg_path)
            .arg("--out")
            .arg(&out)
            .env("APITAP_HASH_KEY", "message-schema-test-key-0123456789")
            .env("APITAP_SENSOR_ID", SENSOR));
        let lines = |name: &str| -> Vec<Value> {
            std::fs::read_to_string(out.join(name)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
        };
        let json = |name: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap() };
        Run {
            transactions: lines("transactions.jsonl"),
            anomalies: lines("anomalies.jsonl"),
            summary: json("summary.json"),
            inventory: json("inventory.json"),
        }
    })
}

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/schemas").join(name)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::options().should_validate_formats(true).build(&schema).unwrap()
}

fn errors(v: &jsonschema::Validator, msg: &Value) -> Vec<String> {
    v.iter_errors(msg).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

fn payload(m: &OutMessage) -> Value {
    serde_json::from_slice(&m.payload).unwrap()
}

fn key(m: &OutMessage) -> &str {
    std::str::from_utf8(&m.key).unwrap()
}

/// Validates every payload, collecting every failure before failing.
fn assert_all_valid(v: &jsonschema::Validator, what: &str, msgs: &[Value]) {
    assert!(!msgs.is_empty(), "no {what} to validate");
    let bad: Vec<String> = msgs
        .iter()
        .enumerate()
        .filter_map(|(i, m)| Some((i, errors(v, m))).filter(|(_, e)| !e.is_empty()))
        .map(|(i, e)| format!("#{i}: {}\n  {}", e.join("\n  "), msgs[i]))
        .collect();
    assert!(bad.is_empty(), "{} of {} {what} fail the schema:\n{}", bad.len(), msgs.len(), bad.join("\n"));
}

// ---- inventory changes -------------------------------------------------------------------

/// The run's transactions fed, in packet-time order, into a library inventory with the run's
/// specs; the tracker is asked at every hour of packet time, at the end, and eight days later.
fn inventory_changes() -> &'static (Vec<EndpointChange>, Value) {
    static OUT: OnceLock<(Vec<EndpointChange>, Value)> = OnceLock::new();
    OUT.get_or_init(|| {
        let mut specs = Vec::new();
        for (file, host, superseded) in SPECS {
            let path = format!("{ROOT}/fixtures/specs/{file}");
            let spec = load_spec(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
            specs.push((spec, SpecBinding { hosts: vec![host.to_string()], superseded, ..SpecBinding::default() }));
        }
        let mut inv = Inventory::new(InventoryConfig::default(), SpecSet::new(specs, vec![]).unwrap());
        let mut tracker = ChangeTracker::new(ChangeConfig::default());
        let mut txs: Vec<&Value> = run().transactions.iter().collect();
        txs.sort_by(|a, b| a["ts"].as_f64().unwrap().total_cmp(&b["ts"].as_f64().unwrap()));
        let mut out = Vec::new();
        let mut next_tick: Option<u64> = None;
        let mut last = 0;
        for tx in txs {
            let ts = (tx["ts"].as_f64().unwrap() * 1e9) as u64;
            if next_tick.is_some_and(|t| ts >= t) {
                out.extend(tracker.handle_report(ts, &inv.report()));
            }
            if next_tick.is_none_or(|t| ts >= t) {
                next_tick = Some(ts + HOUR);
            }
            let s = |k: &str| tx.get(k).and_then(Value::as_str);
            let server = SocketAddr::new(s("resp_h").unwrap().parse().unwrap(), tx["resp_p"].as_u64().unwrap() as u16);
            let client: IpAddr = s("orig_h").unwrap().parse().unwrap();
            inv.observe(&Observation {
                ts,
                client,
                server,
                host: s("host"),
                method: s("method"),
                uri: s("uri"),
                status: tx.get("status_code").and_then(Value::as_u64).map(|c| c as u16),
                latency_ms: tx.get("latency_ms").and_then(Value::as_f64),
                request_content_type: s("request_content_type"),
                response_content_type: s("response_content_type"),
                auth: AuthKind::from_parts(s("auth_scheme"), false),
                consumer: None,
                request_body: b"",
                response_body: b"",
                deprecation_signalled: false,
                visibility: Default::default(),
            });
            last = ts;
        }
        out.extend(tracker.handle_report(last, &inv.report()));
        out.extend(tracker.handle_report(last + 8 * DAY, &inv.report()));
        (out, serde_json::to_value(inv.report()).unwrap())
    })
}

#[test]
fn the_schemas_are_valid_draft_2020_12_schemas() {
    for name in ["inventory-change.schema.json", "health.schema.json", "transaction.schema.json"] {
        let text = std::fs::read_to_string(Path::new(ROOT).join("docs/schemas").join(name)).unwrap();
        let s: Value = serde_json::from_str(&text).unwrap();
        if let Err(e) = jsonschema::draft202012::meta::validate(&s) {
            panic!("docs/schemas/{name} is not a valid 2020-12 schema: {e}");
        }
    }
}

#[test]
fn the_replayed_inventory_names_the_same_endpoints_as_the_binarys() {
    let (_, replayed) = inventory_changes();
    let names = |inv: &Value| -> BTreeSet<(String, String)> {
        inv["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let k = format!("{} {} {}", e["host"].as_str().unwrap(), e["method"].as_str().unwrap(), e["path"].as_str().unwrap());
                (k, e["classification"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let binary = names(&run().inventory);
    assert!(binary.len() > 20, "the run's inventory is too small to mean anything: {binary:?}");
    assert_eq!(names(replayed), binary);
}

#[test]
fn every_inventory_change_of_the_run_validates_and_is_keyed_by_its_endpoint() {
    let (changes, _) = inventory_changes();
    let v = validator("inventory-change.schema.json");
    let msgs: Vec<OutMessage> = changes.iter().map(|c| messages::inventory_change(c, SENSOR)).collect();
    let payloads: Vec<Value> = msgs.iter().map(payload).collect();
    assert_all_valid(&v, "inventory changes", &payloads);
    for (m, p) in msgs.iter().zip(&payloads) {
        assert_eq!(m.topic, Topic::Inventory);
        let e = &p["endpoint"];
        let want = format!("{} {} {}", e["service"].as_str().unwrap(), e["method"].as_str().unwrap(), e["path_template"].as_str().unwrap());
        assert_eq!(key(m), want);
        assert_eq!(p["key"], want);
        assert_eq!(p["sensor_id"], SENSOR);
    }
}

#[test]
fn the_runs_changes_tell_the_inventorys_story() {
    let (changes, _) = inventory_changes();
    let inv = &run().inventory;
    let msgs: Vec<Value> = changes.iter().map(|c| payload(&messages::inventory_change(c, SENSOR))).collect();
    let kinds: BTreeSet<&str> = msgs.iter().map(|m| m["change"].as_str().unwrap()).collect();
    for want in ["new_endpoint", "classification_changed", "gone_orphan", "updated"] {
        assert!(kinds.contains(want), "no {want} in {kinds:?}");
    }
    // Each key starts with new_endpoint, once; the initial ones come first, all at one time.
    let mut by_key: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for m in &msgs {
        by_key.entry(m["key"].as_str().unwrap()).or_default().push(m);
    }
    for (k, list) in &by_key {
        assert_eq!(list[0]["change"], "new_endpoint", "{k}");
        assert_eq!(list.iter().filter(|m| m["change"] == "new_endpoint").count(), 1, "{k}");
        for pair in list.windows(2) {
            assert!(pair[0]["time"].as_str() <= pair[1]["time"].as_str(), "{k}: out of order");
        }
    }
    let initial: Vec<&Value> = msgs.iter().take_while(|m| m["initial"] == true).collect();
    assert!(!initial.is_empty() && msgs[initial.len()..].iter().all(|m| m["initial"] == false));
    // The compacted topic's view (last message per key) agrees with the binary's inventory,
    // except that documented endpoints, quiet for eight days at the end, are now orphans.
    let documented: BTreeSet<String> = inv["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["classification"] == "documented")
        .map(|e| format!("{} {} {}", e["host"].as_str().unwrap(), e["method"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    let gone: BTreeSet<String> =
        msgs.iter().filter(|m| m["change"] == "gone_orphan").map(|m| m["key"].as_str().unwrap().to_string()).collect();
    assert_eq!(gone, documented, "every documented endpoint, and only those, goes orphan after eight quiet days");
    for e in inv["endpoints"].as_array().unwrap() {
        let k = format!("{} {} {}", e["host"].as_str().unwrap(), e["method"].as_str().unwrap(), e["path"].as_str().unwrap());
        let last = by_key[k.as_str()].last().unwrap();
        let want = if e["classification"] == "documented" { "orphan" } else { e["classification"].as_str().unwrap() };
        assert_eq!(last["endpoint"]["classification"], want, "{k}");
        assert_eq!(last["endpoint"]["hits"], e["hits"], "{k}: the last message carries the final count");
    }
    // Zombies of the superseded v3.1 spec are announced as zombies with their reason.
    let zombie = msgs.iter().find(|m| m["endpoint"]["classification"] == "zombie").expect("a zombie");
    assert_eq!(zombie["endpoint"]["zombie_reasons"], json!(["superseded_spec"]));
    assert_eq!(zombie["endpoint"]["findings"], json!(["zombie_in_use"]));
    // An operation listed as an orphan at first and called later changes class, same key.
    assert!(msgs.iter().any(|m| m["change"] == "classification_changed"
        && m["previous_classification"] == "orphan"
        && m["endpoint"]["classification"] == "documented"));
}

/// A change to a message.
type Change = Box<dyn Fn(&mut Value)>;

fn assert_rejects(v: &jsonschema::Validator, base: &Value, cases: Vec<(&str, Change)>) {
    assert_eq!(errors(v, base), Vec::<String>::new(), "the base message must be valid");
    for (what, change) in cases {
        let mut m = base.clone();
        change(&mut m);
        assert!(!v.is_valid(&m), "the schema accepts {what}: {m}");
    }
}

#[test]
fn the_inventory_change_schema_rejects_broken_promises() {
    let (changes, _) = inventory_changes();
    let v = validator("inventory-change.schema.json");
    let msgs: Vec<Value> = changes.iter().map(|c| payload(&messages::inventory_change(c, SENSOR))).collect();
    let new = msgs
        .iter()
        .find(|m| m["change"] == "new_endpoint" && m["initial"] == false && m["endpoint"].get("last_seen").is_some())
        .expect("an endpoint that appeared during the run")
        .clone();
    assert_rejects(
        &v,
        &new,
        vec![
            ("an unknown top-level field", Box::new(|m| m["raw_uri"] = json!("/a?token=x"))),
            ("an unknown endpoint field", Box::new(|m| m["endpoint"]["request_body"] = json!({}))),
            ("an unknown change", Box::new(|m| m["change"] = json!("deleted"))),
            ("an unknown classification", Box::new(|m| m["endpoint"]["classification"] = json!("legacy"))),
            ("a time that is not RFC 3339 UTC", Box::new(|m| m["time"] = json!("2026-03-28 06:00:00"))),
            ("a time in epoch milliseconds", Box::new(|m| m["time"] = json!(1_774_677_600_000u64))),
            ("a missing key", Box::new(|m| drop(m.as_object_mut().unwrap().remove("key")))),
            ("a key without method", Box::new(|m| m["key"] = json!("api.bank.example"))),
            ("negative hits", Box::new(|m| m["endpoint"]["hits"] = json!(-1))),
            ("a missing hit count", Box::new(|m| drop(m["endpoint"].as_object_mut().unwrap().remove("hits")))),
            ("an unknown auth kind", Box::new(|m| m["endpoint"]["auth"]["ntlm"] = json!(1))),
            ("an unknown sensitive kind", Box::new(|m| m["endpoint"]["response_sensitive"]["password"] = json!(1))),
            ("a previous class on a new endpoint", Box::new(|m| m["previous_classification"] = json!("shadow"))),
            ("changed on a new endpoint", Box::new(|m| m["changed"] = json!(["auth"]))),
            ("an updated without what changed", Box::new(|m| m["change"] = json!("updated"))),
            ("a class change without the previous class", Box::new(|m| m["change"] = json!("classification_changed"))),
            (
                "a gone orphan that is not an orphan",
                Box::new(|m| {
                    m["change"] = json!("gone_orphan");
                    m["previous_classification"] = json!("documented");
                    m["endpoint"]["classification"] = json!("documented");
                }),
            ),
            ("a removal carrying state", Box::new(|m| m["change"] = json!("removed"))),
            (
                "an initial change that is not new",
                Box::new(|m| {
                    m["change"] = json!("updated");
                    m["changed"] = json!(["activity"]);
                    m["initial"] = json!(true);
                }),
            ),
            ("last_seen without first_seen", Box::new(|m| drop(m["endpoint"].as_object_mut().unwrap().remove("first_seen")))),
            (
                "an unknown update reason",
                Box::new(|m| {
                    m["change"] = json!("updated");
                    m["initial"] = json!(false);
                    m["changed"] = json!(["hits"]);
                }),
            ),
        ],
    );
    // A removal, built from the tracker: only the endpoint's names and last class.
    let removed = EndpointChange {
        key: "* GET /v1/a".into(),
        service: "*".into(),
        method: "GET".into(),
        path: "/v1/a".into(),
        kind: apitap_discovery::inventory::ChangeKind::Removed,
        time: 1_774_677_600_000_000_000,
        initial: false,
        classification: Classification::Orphan,
        findings: vec![],
        endpoint: None,
        graphql: None,
    };
    let m = payload(&messages::inventory_change(&removed, SENSOR));
    assert_eq!(errors(&v, &m), Vec::<String>::new());
    assert_eq!(m["time"], "2026-03-28T06:00:00.000Z");
    assert_eq!(m["endpoint"].as_object().unwrap().len(), 5, "{m}");
}

/// GraphQL operations from a library inventory fed real GraphQL bodies: the change messages
/// validate, carry names only, are keyed `SERVICE GRAPHQL PATH TYPE NAME`, and the schema
/// refuses a GraphQL state without its counters or with a value where a name belongs.
#[test]
fn graphql_operation_changes_validate_and_carry_names_only() {
    let v = validator("inventory-change.schema.json");
    let mut inv = Inventory::new(InventoryConfig::default(), SpecSet::new(vec![], vec![]).unwrap());
    let bodies = [
        ("198.51.100.7", r#"{"query":"query IntrospectionQuery { __schema { types { name } } }"}"#),
        ("10.0.0.8", r#"{"query":"mutation Pay($to: String!) { transfer(to: $to) { id } }","variables":{"to":"DE89370400440532013000"}}"#),
        ("10.0.0.8", r#"{"query":"{ balances { amount } a: accounts { id } }"}"#),
    ];
    for (i, (client, body)) in bodies.iter().enumerate() {
        inv.observe(&Observation {
            ts: 1_774_677_600_000_000_000 + i as u64,
            client: client.parse().unwrap(),
            server: "10.0.0.5:443".parse().unwrap(),
            host: Some("api.bank.example"),
            method: Some("POST"),
            uri: Some("/graphql"),
            status: Some(200),
            latency_ms: None,
            request_content_type: Some("application/json"),
            response_content_type: Some("application/json"),
            auth: AuthKind::Bearer,
            consumer: None,
            request_body: body.as_bytes(),
            response_body: br#"{"data":null,"errors":[{"message":"no"}]}"#,
            deprecation_signalled: false,
            visibility: Default::default(),
        });
    }
    let mut tracker = ChangeTracker::new(ChangeConfig::default());
    let changes = tracker.handle_report(1_774_677_600_000_000_000, &inv.report());
    let gql: Vec<Value> = changes.iter().filter(|c| c.graphql.is_some()).map(|c| payload(&messages::inventory_change(c, SENSOR))).collect();
    assert_eq!(gql.len(), 3);
    assert_all_valid(&v, "GraphQL inventory changes", &gql);
    let keys: BTreeSet<&str> = gql.iter().map(|m| m["key"].as_str().unwrap()).collect();
    let want: BTreeSet<&str> = [
        "api.bank.example GRAPHQL /graphql query IntrospectionQuery",
        "api.bank.example GRAPHQL /graphql mutation Pay",
        "api.bank.example GRAPHQL /graphql query {accounts,balances}",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, want);
    let intro = gql.iter().find(|m| m["endpoint"]["graphql"]["operation_name"] == "IntrospectionQuery").unwrap();
    assert_eq!(intro["endpoint"]["findings"], json!(["graphql_introspection"]));
    assert_eq!(intro["endpoint"]["graphql"]["errors"], 1);
    for m in &gql {
        assert!(!m.to_string().contains("DE89370400440532013000"), "{m}");
    }
    assert_rejects(
        &v,
        intro,
        vec![
            ("a GraphQL state without hits", Box::new(|m| drop(m["endpoint"].as_object_mut().unwrap().remove("hits")))),
            ("a value where a name belongs", Box::new(|m| m["endpoint"]["graphql"]["operation_name"] = json!("Pay to DE89"))),
            ("an unknown operation type", Box::new(|m| m["endpoint"]["graphql"]["operation_type"] = json!("query_all"))),
        ],
    );
}

// ---- health ------------------------------------------------------------------------------

/// The run's summary.json as a `Summary` (stage and counter names leaked: a test).
fn summary_of(v: &Value) -> Summary {
    let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    let mut s = Summary::default();
    for (stage, counters) in v["stages"].as_object().unwrap() {
        let c = counters.as_object().unwrap().iter().map(|(n, x)| (leak(n), x.as_u64().unwrap())).collect();
        s.stages.insert(leak(stage), c);
    }
    let n = |k: &str| v[k].as_u64().unwrap();
    s.files = n("files");
    s.files_with_errors = n("files_with_errors");
    s.files_truncated = n("files_truncated");
    s.bad_records = n("bad_records");
    s.transactions = n("transactions");
    s.events = n("events");
    s.anomalies = n("anomalies");
    s
}

fn health_messages() -> Vec<(OutMessage, Value)> {
    let run = run();
    let s1 = summary_of(&run.summary);
    let mut later = run.summary.clone();
    later["stages"]["tcp"]["gaps"] = json!(later["stages"]["tcp"]["gaps"].as_u64().unwrap() + 4);
    later["stages"]["capture"] = json!({ "kernel_received": 9000, "kernel_dropped": 12, "interface_dropped": 3 });
    let s2 = summary_of(&later);
    let last_ts = run.transactions.iter().map(|t| t["ts"].as_f64().unwrap()).fold(0.0, f64::max);
    let packet = (last_ts * 1e9) as u64;
    let pub1 = BTreeMap::from([("delivered".to_string(), 100u64), ("spool.bytes".to_string(), 4096), ("spooling".to_string(), 1)]);
    let pub2 = BTreeMap::from([("delivered".to_string(), 180u64), ("spool.bytes".to_string(), 0), ("spooling".to_string(), 0)]);
    let mut t = messages::HealthTracker::new();
    let first = messages::HealthInput {
        sensor_id: SENSOR,
        version: "0.1.0",
        packet_time: Some(packet),
        wall_time: packet + 90 * DAY,
        summary: &s1,
        publisher: Some(&pub1),
    };
    let m1 = t.message(&first);
    let second = messages::HealthInput {
        packet_time: Some(packet + HOUR),
        wall_time: packet + 90 * DAY + HOUR,
        summary: &s2,
        publisher: Some(&pub2),
        ..first
    };
    let m2 = t.message(&second);
    let empty = Summary::default();
    let m0 =
        messages::HealthTracker::new().message(&messages::HealthInput { packet_time: None, summary: &empty, publisher: None, ..first });
    [m1, m2, m0]
        .into_iter()
        .map(|m| {
            let p = payload(&m);
            (m, p)
        })
        .collect()
}

#[test]
fn health_messages_validate_and_carry_the_runs_counters() {
    let v = validator("health.schema.json");
    let msgs = health_messages();
    assert_all_valid(&v, "health messages", &msgs.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>());
    for (m, _) in &msgs {
        assert_eq!((m.topic, key(m)), (Topic::Health, SENSOR));
    }
    let s = &run().summary;
    let (first, second) = (&msgs[0].1, &msgs[1].1);
    assert_eq!(first["totals"]["packets"], s["stages"]["input"]["packets"]);
    assert_eq!(first["totals"]["transactions"], s["transactions"]);
    assert_eq!(first["totals"]["transactions"], run().transactions.len());
    assert_eq!(first["totals"]["anomalies"], run().anomalies.len());
    assert_eq!(first["deltas"]["packets"], s["stages"]["input"]["packets"]);
    assert_eq!(first["counters"]["tcp"], s["stages"]["tcp"]);
    assert_eq!(first["lag_ms"], 90 * 86_400_000u64);
    assert_eq!(second["deltas"]["packets"], 0);
    assert_eq!(second["deltas"]["tcp_gaps"], 4);
    assert_eq!(second["deltas"]["kernel_dropped"], 12);
    assert_eq!(second["totals"]["interface_dropped"], 3);
    assert_eq!(second["counter_deltas"]["capture"]["kernel_received"], 9000);
    assert_eq!(second["publisher"]["deltas"]["spool.bytes"], -4096);
    assert_eq!(second["previous_time"], first["time"]);
}

#[test]
fn the_health_schema_rejects_broken_promises() {
    let v = validator("health.schema.json");
    let msgs = health_messages();
    let second = msgs[1].1.clone();
    assert_rejects(
        &v,
        &second,
        vec![
            ("an unknown top-level field", Box::new(|m| m["hostname"] = json!("tap1"))),
            ("a missing headline total", Box::new(|m| drop(m["totals"].as_object_mut().unwrap().remove("kernel_dropped")))),
            ("an unknown headline", Box::new(|m| m["totals"]["cpu"] = json!(3))),
            ("a negative total", Box::new(|m| m["counters"]["tcp"]["gaps"] = json!(-1))),
            ("a fractional delta", Box::new(|m| m["deltas"]["packets"] = json!(0.5))),
            ("a packet time without lag", Box::new(|m| drop(m.as_object_mut().unwrap().remove("lag_ms")))),
            (
                "a later message without the previous one's time",
                Box::new(|m| drop(m.as_object_mut().unwrap().remove("previous_wall_time"))),
            ),
            ("a first message with a previous time", Box::new(|m| m["sequence"] = json!(1))),
            ("sequence 0", Box::new(|m| m["sequence"] = json!(0))),
            ("a wall time that is not RFC 3339 UTC", Box::new(|m| m["wall_time"] = json!("2026-03-28T07:00:00+01:00"))),
            ("an unknown run counter", Box::new(|m| m["counters"]["run"]["uptime"] = json!(5))),
            ("a counter name with spaces", Box::new(|m| m["counters"]["tcp"]["gap bytes"] = json!(5))),
            ("publisher totals without deltas", Box::new(|m| drop(m["publisher"].as_object_mut().unwrap().remove("deltas")))),
        ],
    );
}

// ---- transactions ------------------------------------------------------------------------

/// A transactions.jsonl line as the record it was written from.
fn record_of(v: &Value) -> TransactionRecord {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    let f = |k: &str| v.get(k).and_then(Value::as_f64);
    let list = |k: &str| v.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    TransactionRecord {
        ts: f("ts").unwrap(),
        uid: s("uid").unwrap(),
        orig_h: s("orig_h").unwrap(),
        orig_p: n("orig_p").unwrap() as u16,
        resp_h: s("resp_h").unwrap(),
        resp_p: n("resp_p").unwrap() as u16,
        trans_depth: n("trans_depth").unwrap() as u32,
        method: s("method"),
        host: s("host"),
        uri: s("uri"),
        referrer: s("referrer"),
        version: s("version"),
        user_agent: s("user_agent"),
        request_body_len: n("request_body_len").unwrap(),
        response_body_len: n("response_body_len").unwrap(),
        status_code: n("status_code").map(|c| c as u16),
        status_msg: s("status_msg"),
        info_code: n("info_code").map(|c| c as u16),
        info_msg: s("info_msg"),
        response_version: s("response_version"),
        request_content_type: s("request_content_type"),
        response_content_type: s("response_content_type"),
        auth_scheme: s("auth_scheme"),
        latency_ms: f("latency_ms"),
        duration_ms: f("duration_ms"),
        request_gap: v.get("request_gap").is_some_and(|b| b == true),
        response_gap: v.get("response_gap").is_some_and(|b| b == true),
        tunnel: s("tunnel"),
        vlans: list("vlans").iter().map(|x| x.as_u64().unwrap() as u16).collect(),
        events: list("events").iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        visibility: match s("visibility").as_deref() {
            Some("clear") => "clear",
            Some("decrypted") => "decrypted",
            other => panic!("visibility {other:?}"),
        },
        // The simulated traffic is HTTP/1.1 (tests/h2_live.rs covers HTTP/2 and gRPC records).
        http2: v.get("http2").map(|h| panic!("unexpected http2 {h}")),
        grpc: v.get("grpc").map(|g| panic!("unexpected grpc {g}")),
        graphql: v.get("graphql").map(|g| panic!("unexpected graphql {g}")),
        schema_version: n("schema_version").unwrap() as u32,
    }
}

#[test]
fn transaction_messages_are_the_records_with_the_sensor_id_keyed_by_connection() {
    let v = validator("transaction.schema.json");
    let lines = &run().transactions;
    assert_all_valid(&v, "transactions.jsonl lines", lines);
    let mut payloads = Vec::new();
    for line in lines {
        let m = messages::transaction(&record_of(line), SENSOR);
        assert_eq!(m.topic, Topic::Transactions);
        assert_eq!(key(&m), line["uid"].as_str().unwrap());
        let p = payload(&m);
        let mut want = line.clone();
        want["sensor_id"] = json!(SENSOR);
        assert_eq!(p, want);
        payloads.push(p);
    }
    assert_all_valid(&v, "transaction messages", &payloads);
    let base = payloads.iter().find(|p| p.get("status_code").is_some() && p.get("method").is_some()).unwrap().clone();
    assert_rejects(
        &v,
        &base,
        vec![
            ("an unknown field", Box::new(|m| m["authorization"] = json!("Bearer x"))),
            ("a uid that is not Zeek's", Box::new(|m| m["uid"] = json!("conn-1"))),
            ("a port above 65535", Box::new(|m| m["resp_p"] = json!(70_000))),
            ("an address that is not an IP", Box::new(|m| m["orig_h"] = json!("client.example"))),
            ("a four-digit status", Box::new(|m| m["status_code"] = json!(1000))),
            ("a gap flag written false", Box::new(|m| m["request_gap"] = json!(false))),
            ("a credential in auth_scheme", Box::new(|m| m["auth_scheme"] = json!("Bearer abc.def"))),
            ("a missing schema_version", Box::new(|m| drop(m.as_object_mut().unwrap().remove("schema_version")))),
            ("an empty sensor id", Box::new(|m| m["sensor_id"] = json!(""))),
        ],
    );
}

// ---- anomalies ---------------------------------------------------------------------------

#[test]
fn anomaly_messages_are_the_jsonl_lines_keyed_by_consumer_else_finding() {
    let v = validator("anomaly.schema.json");
    let lines = &run().anomalies;
    assert!(!lines.is_empty());
    for line in lines {
        let m = messages::anomaly_value(line);
        assert_eq!(m.topic, Topic::Anomalies);
        assert_eq!(payload(&m), *line);
        assert_eq!(key(&m), line["unmapped"]["consumer"]["id"].as_str().unwrap());
        assert_eq!(m.key.len(), 16);
    }
    // Built from the finding itself: the same bytes as the line would be.
    let producer = Producer { sensor_id: SENSOR.into(), version: "0.1.0".into() };
    let mut a = Anomaly {
        finding_id: "0123456789abcdef0123456789abcdef".into(),
        version: 1,
        lifecycle: Lifecycle::New,
        kind: AnomalyKind::ErrorSpike,
        severity: Severity::Medium,
        score: 70,
        time: 1_774_677_600_000_000_000,
        first_seen: 1_774_677_000_000_000_000,
        detected: 1_774_677_600_000_000_000,
        last_seen: 1_774_677_600_000_000_000,
        count: 40,
        consumer: Some(ConsumerRef { id: "fedcba9876543210".into(), label: "alpha".into(), source: "jwt", org_id: None }),
        customer: None,
        network: None,
        client_ip: None,
        geo: Default::default(),
        endpoint: None,
        visibility: Default::default(),
        evidence: serde_json::Map::new(),
        message: "errors".into(),
        suppressed: None,
        triage: None,
        subject: 0,
    };
    let m = messages::anomaly(&a, &producer);
    assert_eq!((key(&m), payload(&m)), ("fedcba9876543210", a.to_json(&producer)));
    // A service-wide error spike has no consumer: keyed by its finding id.
    a.consumer = None;
    let m = messages::anomaly(&a, &producer);
    assert_eq!(key(&m), "0123456789abcdef0123456789abcdef");
    let mut no_consumer = lines[0].clone();
    let u = no_consumer["unmapped"].as_object_mut().unwrap();
    u.remove("consumer");
    let fid = u["finding_id"].as_str().unwrap().to_string();
    assert_eq!(messages::anomaly_key(&no_consumer), fid);
    assert_eq!(messages::anomaly_key(&json!({"not": "an anomaly"})), "");
    // The lines themselves are the anomaly schema's business (tests/anomaly_schema.rs); the
    // wrapper must not alter them, so they still validate.
    let bad: Vec<Vec<String>> = lines.iter().map(|l| errors(&v, &payload(&messages::anomaly_value(l)))).filter(|e| !e.is_empty()).collect();
    assert!(bad.is_empty(), "{bad:?}");
}

// ---- documentation -----------------------------------------------------------------------

/// Every property the three schemas name is explained in docs/messages.md, so a schema cannot
/// grow a field the documentation does not describe.
#[test]
fn the_documentation_names_every_field_of_the_schemas() {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/messages.md")).unwrap();
    fn names(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, x) in map {
                    if k == "properties" {
                        out.extend(x.as_object().unwrap().keys().cloned());
                    }
                    names(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| names(x, out)),
            _ => {}
        }
    }
    let mut all = BTreeSet::new();
    for name in ["inventory-change.schema.json", "health.schema.json", "transaction.schema.json"] {
        assert!(doc.contains(name), "docs/messages.md does not point to {name}");
        let s: Value = serde_json::from_str(&std::fs::read_to_string(Path::new(ROOT).join("docs/schemas").join(name)).unwrap()).unwrap();
        names(&s, &mut all);
    }
    let missing: Vec<&String> = all.iter().filter(|n| !doc.contains(&format!("`{n}`"))).collect();
    assert!(missing.is_empty(), "docs/messages.md does not explain {missing:?}");
}

/// The examples in docs/messages.md are valid messages of their streams.
#[test]
fn the_documentations_examples_validate() {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/messages.md")).unwrap();
    let mut checked = BTreeSet::new();
    for block in doc.split("```json\n").skip(1) {
        let text = block.split("```").next().unwrap();
        let m: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("an example is not JSON ({e}):\n{text}"));
        let schema = if m.get("change").is_some() {
            "inventory-change.schema.json"
        } else if m.get("sequence").is_some() {
            "health.schema.json"
        } else {
            "transaction.schema.json"
        };
        assert_eq!(errors(&validator(schema), &m), Vec::<String>::new(), "{schema} example:\n{text}");
        checked.insert(schema);
    }
    assert_eq!(checked.len(), 3, "an example per stream: {checked:?}");
}
