//! GraphQL live on loopback, captured by `apitap capture -i lo`: curl sends real GraphQL
//! requests (JSON POSTs, a batch, an `application/graphql` body, a GET with the query in the
//! query string, an introspection query) over HTTP/1.1 and over prior-knowledge HTTP/2 to
//! nginx, which answers each with a canned GraphQL JSON body from an upstream server. The
//! inventory must list the operations, each on its own, and the introspection finding (the
//! configuration makes loopback an outside network); the operation names in the records are
//! checked against tshark's JSON dissection of tcpdump's capture of the same traffic, and no
//! variable value reaches any output.
//!
//! Needs root (or CAP_NET_RAW), nginx, curl, tcpdump and tshark: `scripts/install-deps.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{free_port, run_ok as run, start_tcpdump, Proc};
use serde_json::Value;

/// A variable value that must never be written anywhere.
const IBAN: &str = "DE89370400440532013000";

/// nginx answering GraphQL on `h1` (HTTP/1.1) and `h2` (prior-knowledge HTTP/2) through a
/// proxy to `upstream`, so that nginx reads each request body before it answers (a `return`
/// on the front server answers first and HTTP/2 clients may then never send the body).
fn nginx(dir: &Path, h1: u16, h2: u16, upstream: u16) -> common::Nginx {
    let temp = dir.join("proxy");
    let http = format!(
        r#"  server {{
    listen 127.0.0.1:{h1};
    location / {{ proxy_temp_path {temp}; proxy_pass http://127.0.0.1:{upstream}; }}
  }}
  server {{
    listen 127.0.0.1:{h2} http2;
    location / {{ proxy_temp_path {temp}; proxy_pass http://127.0.0.1:{upstream}; }}
  }}
  server {{
    listen 127.0.0.1:{upstream};
    location / {{ return 200 '{{"data":{{"accounts":[{{"id":"a-1"}}]}}}}'; }}
  }}"#,
        temp = temp.display()
    );
    common::start_nginx(dir, &http)
}

/// `operationName` of each captured request body as tshark's JSON dissector reads it, counted;
/// requests without one are left out. `decode` names the ports' protocols (`tcp.port==N,http`).
fn tshark_operation_names(pcap: &Path, decode: &[String]) -> BTreeMap<String, usize> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap);
    for d in decode {
        cmd.args(["-d", d]);
    }
    cmd.args(["-Y", "json", "-T", "fields", "-E", "occurrence=a", "-E", "separator=/t", "-e", "json.member_with_value"]);
    let mut out = BTreeMap::new();
    for line in run(&mut cmd).lines() {
        for member in line.split(',') {
            if let Some(name) = member.strip_prefix("operationName:") {
                *out.entry(name.to_string()).or_default() += 1;
            }
        }
    }
    out
}

#[test]
fn graphql_operations_over_http1_and_http2_are_inventory_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (h1, h2, upstream) = (free_port(), free_port(), free_port());
    let _nginx = nginx(&dir.path().join("nginx"), h1, h2, upstream);
    let filter = format!("tcp port {h1} or tcp port {h2}");
    let (out, pcap) = (dir.path().join("out"), dir.path().join("graphql.pcap"));
    // Loopback is made an outside network, so the introspection query is a finding.
    let config = dir.path().join("apitap.toml");
    fs::write(&config, "[inventory]\ninternal_networks = [\"10.0.0.0/8\"]\n").unwrap();
    let tcpdump = start_tcpdump(&filter, &pcap);
    let apitap = Proc(common::spawn_capture(&filter, &out, &[std::ffi::OsStr::new("--config"), config.as_os_str()]));

    let get_accounts = r#"{"query":"query GetAccounts($first: Int) { accounts(first: $first) { id } }","operationName":"GetAccounts","variables":{"first":5}}"#;
    let pay = format!(r#"{{"query":"mutation Pay($to: String!) {{ transfer(to: $to, amount: 10) {{ id }} }}","operationName":"Pay","variables":{{"to":"{IBAN}"}}}}"#);
    let anonymous = r#"{"query":"{ balances { amount } a: accounts { id } }"}"#;
    let introspection = r#"{"query":"query IntrospectionQuery { __schema { types { name } } }","operationName":"IntrospectionQuery"}"#;
    let batch = r#"[{"query":"query Batched1 { customer { name } }","operationName":"Batched1"},{"query":"query Batched2 { cards { last4 } }","operationName":"Batched2"}]"#;
    let curl = |http2: bool, ct: &str, body: &str, url: String| {
        let mut c = Command::new("curl");
        c.args(["-sS", "-o", "/dev/null", "-H", &format!("Content-Type: {ct}"), "--data-binary", body]);
        if http2 {
            c.arg("--http2-prior-knowledge");
        }
        run(c.arg(url));
    };
    let u1 = |p: &str| format!("http://127.0.0.1:{h1}{p}");
    let u2 = |p: &str| format!("http://127.0.0.1:{h2}{p}");
    for http2 in [false, true] {
        let u = |p: &str| if http2 { u2(p) } else { u1(p) };
        curl(http2, "application/json", get_accounts, u("/graphql"));
        curl(http2, "application/json", &pay, u("/graphql"));
        curl(http2, "application/json", anonymous, u("/graphql"));
        curl(http2, "application/graphql", "query RawDoc { accounts { id } }", u("/v1/graphql"));
    }
    curl(true, "application/json", introspection, u2("/api/graphql"));
    curl(false, "application/json", batch, u1("/graphql"));
    run(Command::new("curl").args(["-sS", "-o", "/dev/null", "-G", "--data-urlencode", "query={ balances { amount } }", &u1("/query")]));
    // Not GraphQL: a search body with a `query` key.
    curl(false, "application/json", r#"{"query":"balance"}"#, u1("/search"));

    std::thread::sleep(Duration::from_millis(800));
    let mut apitap = apitap;
    let _ = Command::new("kill").args(["-TERM", &apitap.0.id().to_string()]).status();
    assert!(apitap.0.wait().unwrap().success());
    tcpdump.stop();

    let inventory: Value = serde_json::from_str(&fs::read_to_string(out.join("inventory.json")).unwrap()).unwrap();
    let mut ops: BTreeMap<(String, String, String, String), u64> = BTreeMap::new();
    for o in inventory["graphql_operations"].as_array().expect("graphql_operations in inventory.json") {
        let port = o["host"].as_str().unwrap().rsplit(':').next().unwrap().to_string();
        let key = (port, o["path"].as_str().unwrap().into(), o["operation_type"].as_str().unwrap().into(), o["operation_name"].as_str().unwrap().into());
        ops.insert(key, o["hits"].as_u64().unwrap());
    }
    let k = |port: u16, path: &str, kind: &str, name: &str| (port.to_string(), path.to_string(), kind.to_string(), name.to_string());
    let want: BTreeMap<_, u64> = [
        (k(h1, "/graphql", "query", "GetAccounts"), 1),
        (k(h1, "/graphql", "mutation", "Pay"), 1),
        (k(h1, "/graphql", "query", "{accounts,balances}"), 1),
        (k(h1, "/v1/graphql", "query", "RawDoc"), 1),
        (k(h1, "/graphql", "query", "Batched1"), 1),
        (k(h1, "/graphql", "query", "Batched2"), 1),
        (k(h1, "/query", "query", "{balances}"), 1),
        (k(h2, "/graphql", "query", "GetAccounts"), 1),
        (k(h2, "/graphql", "mutation", "Pay"), 1),
        (k(h2, "/graphql", "query", "{accounts,balances}"), 1),
        (k(h2, "/v1/graphql", "query", "RawDoc"), 1),
        (k(h2, "/api/graphql", "query", "IntrospectionQuery"), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(ops, want, "the inventory's GraphQL operations");
    let finding = inventory["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "graphql_introspection").expect("the introspection finding");
    assert_eq!(finding["path"], "/api/graphql query IntrospectionQuery");
    assert!(finding["detail"].as_str().unwrap().contains("127.0.0.0/24"), "{finding}");
    // The HTTP endpoints are still there, one per method and path.
    let endpoints: Vec<(&str, &str)> = inventory["endpoints"].as_array().unwrap().iter().map(|e| (e["method"].as_str().unwrap(), e["path"].as_str().unwrap())).collect();
    assert!(endpoints.contains(&("POST", "/graphql")), "{endpoints:?}");

    // The records' operation names, against tshark's reading of the bodies on the wire.
    let text = fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    let recs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut ours: BTreeMap<String, usize> = BTreeMap::new();
    for r in &recs {
        let names = r["graphql"]["operation_name"].as_str();
        if let Some(n) = names.filter(|n| !n.starts_with('{') && r["request_content_type"] == "application/json") {
            *ours.entry(n.to_string()).or_default() += 1;
        }
    }
    let decode = [format!("tcp.port=={h1},http"), format!("tcp.port=={h2},http2")];
    let mut theirs = tshark_operation_names(&pcap, &decode);
    // A batch is one record named after its first request; tshark lists both members.
    assert_eq!(theirs.remove("Batched2"), Some(1), "tshark read {theirs:?}");
    assert_eq!(ours, theirs, "operation names: apitap's records against tshark's JSON dissection");
    let batch_rec = recs.iter().find(|r| r["graphql"]["operation_name"] == "Batched1").unwrap();
    assert_eq!(batch_rec["graphql"]["batch_size"], 2);
    let intro = recs.iter().find(|r| r["graphql"]["operation_name"] == "IntrospectionQuery").unwrap();
    assert_eq!((intro["graphql"]["introspection"].as_bool(), intro["version"].as_str()), (Some(true), Some("2")));
    assert!(recs.iter().all(|r| r["uri"] != "/search" || r.get("graphql").is_none()));

    // The report built from that inventory lists the operations and the finding.
    let report = dir.path().join("report");
    run(Command::new(env!("CARGO_BIN_EXE_apitap")).arg("report").arg("--inventory").arg(out.join("inventory.json")).arg("--out").arg(&report));
    let page = fs::read_to_string(report.join("report.html")).unwrap();
    let table = page.split(r#"id="graphql-list""#).nth(1).expect("a GraphQL table in report.html");
    let rows = table.split("<tbody>").nth(1).unwrap().split("</tbody>").next().unwrap().matches("<tr>").count();
    assert_eq!(rows, want.len(), "rows of the GraphQL table");
    assert!(page.contains("/api/graphql query IntrospectionQuery: GraphQL introspection"), "the finding in report.html");

    for file in ["inventory.json", "transactions.jsonl", "summary.json"] {
        let t = fs::read_to_string(out.join(file)).unwrap_or_default();
        assert!(!t.contains(IBAN), "a GraphQL variable value reached {file}");
    }
    for entry in fs::read_dir(&report).unwrap() {
        let path = entry.unwrap().path();
        let t = fs::read(&path).unwrap();
        assert!(!t.windows(IBAN.len()).any(|w| w == IBAN.as_bytes()), "a GraphQL variable value reached {}", path.display());
    }
}
