//! `apitap report` as a process: the files it writes, "new since the last report" with
//! `--previous`, endpoints.csv read back by Python's csv module (RFC 4180, formulas defused),
//! the Markdown tables, and errors that name the file and the fix.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

fn endpoint(host: &str, method: &str, path: &str, class: &str, hits: u64) -> Value {
    json!({
        "host": host, "method": method, "path": path, "classification": class, "hits": hits, "consumers": 1, "clients": 1,
        "status": if hits > 0 { json!({"200": hits, "404": 1}) } else { json!({}) },
        "auth": if hits > 0 { json!({"bearer": hits}) } else { json!({}) },
        "request_content_types": {}, "response_content_types": {}, "query_params": [],
        "request_sensitive": {}, "response_sensitive": {},
        "request_body": {"json_bodies": 0, "truncated_bodies": 0, "fields": {}, "fields_dropped": 0},
        "response_body": {"json_bodies": 0, "truncated_bodies": 0, "fields": {}, "fields_dropped": 0},
        "first_seen": "2026-03-28T10:00:00.000Z", "last_seen": "2026-03-28T11:00:00.000Z"
    })
}

fn inventory(endpoints: Vec<Value>) -> Value {
    json!({
        "schema_version": 1,
        "summary": {"first_seen": "2026-03-28T06:00:00.000Z", "last_seen": "2026-03-29T12:00:00.000Z"},
        "specs": [],
        "services": [{"host": "api.bank.example", "servers": [], "inspectable": true, "requests": 120,
                      "first_seen": "2026-03-28T06:00:00.000Z", "last_seen": "2026-03-29T12:00:00.000Z", "endpoints": 3}],
        "endpoints": endpoints,
        "other_endpoints": [],
        "findings": [],
        "counters": {}
    })
}

fn week1() -> Vec<Value> {
    vec![
        endpoint("api.bank.example", "GET", "/accounts", "documented", 100),
        endpoint("api.bank.example", "GET", "/internal/export", "shadow", 9),
        endpoint("api.bank.example", "GET", "/v1/old", "documented", 5),
        endpoint("api.bank.example", "DELETE", "/accounts/{id}", "orphan", 0),
    ]
}

fn apitap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apitap")).args(args).output().unwrap()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

fn report(dir: &Path, inv: &Value, extra: &[&str]) -> Value {
    let inv_path = dir.join("inventory.json");
    write_json(&inv_path, inv);
    let out = dir.join("out");
    let mut args = vec!["report", "--inventory", inv_path.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = apitap(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // report.json when it was asked for (or by default), else null.
    std::fs::read_to_string(out.join("report.json")).map_or(Value::Null, |t| serde_json::from_str(&t).unwrap())
}

#[test]
fn every_format_is_written_and_only_those_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let r = report(dir.path(), &inventory(week1()), &[]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("out")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["endpoints.csv", "openapi.yaml", "report.html", "report.json", "report.md"]);
    assert_eq!(r["format"], "apitap-report");
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["compared_with"]["baseline"], "sensor_start");
    assert_eq!(r["summary"]["shadow"], 1);
    assert_eq!(r["summary"]["new_shadow"], 1);
    assert_eq!(r["summary"]["orphan"], 1);
    assert_eq!(r["endpoints"].as_array().unwrap().len(), 4);
    assert_eq!(r["consumers"]["source"], "not_available");
    assert_eq!(r["anomalies"]["available"], false);

    let only = dir.path().join("only");
    let inv = dir.path().join("inventory.json");
    let o = apitap(&["report", "--inventory", inv.to_str().unwrap(), "--out", only.to_str().unwrap(), "--formats", "md,csv"]);
    assert!(o.status.success());
    let mut names: Vec<String> = std::fs::read_dir(&only).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["endpoints.csv", "report.md"]);
}

#[test]
fn an_empty_inventory_gives_a_report_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let r = report(dir.path(), &json!({"schema_version": 1}), &[]);
    assert_eq!(r["summary"]["endpoints"], 0);
    assert_eq!(r["services"], json!([]));
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("No traffic seen yet"));
    assert!(html.contains("The inventory is empty."));
    let csv = std::fs::read_to_string(dir.path().join("out/endpoints.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1, "the header only");
}

#[test]
fn new_since_the_last_report_and_the_changes_of_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    report(dir.path(), &inventory(week1()), &[]);
    let previous = dir.path().join("previous.json");
    std::fs::copy(dir.path().join("out/report.json"), &previous).unwrap();
    // A week later: a new shadow endpoint, /v1/old became a zombie, the orphan is gone.
    let week2 = vec![
        endpoint("api.bank.example", "GET", "/accounts", "documented", 100),
        endpoint("api.bank.example", "GET", "/internal/export", "shadow", 9),
        endpoint("api.bank.example", "POST", "/internal/import", "shadow", 2),
        endpoint("api.bank.example", "GET", "/v1/old", "zombie", 5),
    ];
    let r = report(dir.path(), &inventory(week2), &["--previous", previous.to_str().unwrap()]);
    let s = &r["summary"];
    assert_eq!(r["compared_with"]["baseline"], "previous_report");
    assert_eq!((s["new_shadow"].as_u64(), s["new_zombie"].as_u64(), s["new_endpoints"].as_u64()), (Some(1), Some(1), Some(2)));
    assert_eq!(s["change"]["shadow"], 1);
    assert_eq!(s["change"]["zombie"], 1);
    assert_eq!(s["change"]["orphan"], -1);
    assert_eq!(s["change"]["endpoints"], 0);
    let old = r["endpoints"].as_array().unwrap().iter().find(|e| e["path"] == "/v1/old").unwrap();
    assert_eq!(old["new"], true);
    assert_eq!(old["previous_classification"], "documented");
    let kept = r["endpoints"].as_array().unwrap().iter().find(|e| e["path"] == "/internal/export").unwrap();
    assert_eq!(kept["new"], false);
    assert_eq!(r["no_longer_listed"], json!([{"host": "api.bank.example", "method": "DELETE", "path": "/accounts/{id}", "classification": "orphan"}]));
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    // The two new endpoints: in the attention list, in their class's list, in the full table.
    assert_eq!(html.matches(r#"data-new="1""#).count(), 2 + 1 + 1 + 2);
    assert!(html.contains(r#"<table id="gone-list">"#));
    // The same file as --previous and as output: read first, then replaced.
    let again = report(dir.path(), &inventory(week1()), &["--previous", dir.path().join("out/report.json").to_str().unwrap()]);
    assert_eq!(again["summary"]["new_endpoints"], 2, "the orphan is back and /v1/old is documented again");
}

#[test]
fn endpoints_csv_reads_back_in_python_with_formulas_defused() {
    let dir = tempfile::tempdir().unwrap();
    let mut eps = week1();
    eps.push(endpoint("=cmd|' /C calc'!A0", "GET", "/a,b/\"quoted\"/\nline", "shadow", 1));
    eps.push(endpoint("@evil.example", "+GET", "-/x", "shadow", 1));
    report(dir.path(), &inventory(eps), &["--formats", "csv,json"]);
    let script = r#"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')))
print(json.dumps(rows))
"#;
    let o = Command::new("python3").args(["-c", script]).arg(dir.path().join("out/endpoints.csv")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.len(), 6);
    let evil = rows.iter().find(|r| r["path"] == "/a,b/\"quoted\"/\nline").expect("path with comma, quotes and newline intact");
    assert_eq!(evil["host"], "'=cmd|' /C calc'!A0");
    let at = rows.iter().find(|r| r["host"] == "'@evil.example").unwrap();
    assert_eq!((at["method"].as_str(), at["path"].as_str()), (Some("'+GET"), Some("'-/x")));
    let accounts = rows.iter().find(|r| r["path"] == "/accounts").unwrap();
    assert_eq!((accounts["hits"].as_str(), accounts["errors"].as_str(), accounts["classification"].as_str()), (Some("100"), Some("1"), Some("documented")));
    assert!(std::fs::read_to_string(dir.path().join("out/endpoints.csv")).unwrap().contains("\r\n"), "RFC 4180 line ends");
}

#[test]
fn markdown_tables_keep_their_columns_and_escape_markup() {
    let dir = tempfile::tempdir().unwrap();
    let mut eps = week1();
    eps.push(endpoint("api.bank.example", "GET", "/x|y/<script>alert(1)</script>", "shadow", 1));
    report(dir.path(), &inventory(eps), &["--formats", "md"]);
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    assert!(md.starts_with("# Shadow API inventory\n"));
    assert!(md.contains("`/x\\|y/<script>alert(1)</script>`"), "the hostile path as a code span with its pipe escaped");
    // Each table: every row has as many unescaped cell separators as its header.
    let mut header_pipes = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            header_pipes = None;
            continue;
        }
        let pipes = line.replace("\\|", "").matches('|').count();
        match header_pipes {
            None => header_pipes = Some(pipes),
            Some(n) => assert_eq!(pipes, n, "row splits into another number of cells: {line}"),
        }
    }
    let shadow = md.split("## Shadow endpoints (2)").nth(1).unwrap();
    assert!(shadow.contains("| api.bank.example | GET | `/internal/export` | shadow | 9 |"), "{shadow}");
}

#[test]
fn errors_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let missing = dir.path().join("nope.json");
    let o = apitap(&["report", "--inventory", missing.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nope.json: cannot read the inventory; check the path"), "{err}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"schema_version\": 1,\n\"endpoints\": [{\"host\": \"h\", \"method\": \"GET\", \"path\": \"/\", \"classification\": \"ghost\"}]}").unwrap();
    let o = apitap(&["report", "--inventory", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.json: line 2") && err.contains("ghost") && err.contains("apitap read --out"), "{err}");

    let inv = dir.path().join("inventory.json");
    write_json(&inv, &inventory(week1()));
    let o = apitap(&["report", "--inventory", inv.to_str().unwrap(), "--previous", inv.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("inventory.json: not a report.json of apitap report") && err.contains("leave --previous out"), "{err}");

    let anomalies = dir.path().join("anomalies.jsonl");
    std::fs::write(&anomalies, "\n{\"not\": \"an anomaly\"}\n").unwrap();
    let o = apitap(&["report", "--inventory", inv.to_str().unwrap(), "--anomalies", anomalies.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("anomalies.jsonl: line 2: not an anomaly message") && err.contains("docs/anomalies.md"), "{err}");
    assert!(!out.exists(), "nothing written after an error");
}

#[test]
fn anomalies_without_a_consumers_list_give_the_top_consumers() {
    let dir = tempfile::tempdir().unwrap();
    let event = |id: &str, version: u64, lifecycle: &str, severity: u8, consumer: &str, count: u64| {
        json!({"severity_id": severity, "count": count, "message": "m", "unmapped": {
            "finding_id": id, "finding_version": version, "lifecycle": lifecycle, "kind": "rate_surge", "score": 60,
            "first_seen": "2026-03-28T10:00:00.000Z", "last_seen": "2026-03-28T11:00:00.000Z",
            "consumer": {"id": consumer, "label": format!("label-{consumer}"), "source": "jwt"}}})
        .to_string()
    };
    let lines = [
        event("f1", 1, "new", 3, "c1", 5),
        event("f1", 2, "updated", 4, "c1", 50),
        event("f2", 1, "new", 2, "c2", 7),
        event("f2", 2, "closed", 2, "c2", 9),
        event("f3", 1, "new", 3, "c2", 1),
    ];
    let anomalies = dir.path().join("anomalies.jsonl");
    // The last line has no line end and is cut: skipped with a warning.
    std::fs::write(&anomalies, format!("{}\n{{\"cut", lines.join("\n"))).unwrap();
    let r = report(dir.path(), &inventory(week1()), &["--anomalies", anomalies.to_str().unwrap()]);
    let a = &r["anomalies"];
    assert_eq!((a["findings"].as_u64(), a["open"].as_u64()), (Some(3), Some(2)));
    assert_eq!(a["open_by_severity"], json!({"high": 1, "medium": 1}));
    assert_eq!(a["by_kind"][0]["open_by_severity"], json!({"high": 1, "medium": 1}));
    assert_eq!(a["by_kind"][0]["closed"], 1);
    assert_eq!(a["open_findings"][0]["id"], "f1", "the high one first");
    let c = &r["consumers"];
    assert_eq!(c["source"], "anomalies");
    let top: Vec<(&str, u64, u64)> =
        c["top"].as_array().unwrap().iter().map(|t| (t["id"].as_str().unwrap(), t["findings"].as_u64().unwrap(), t["open_findings"].as_u64().unwrap())).collect();
    // One open finding each: then the one with more findings in all.
    assert_eq!(top, [("c2", 2, 1), ("c1", 1, 1)]);
    assert_eq!(c["top"][1]["requests"], 50, "requests in its findings, at their latest event");
}

#[test]
fn the_services_table_says_what_was_decrypted_and_what_was_seen_encrypted_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = inventory(week1());
    let svc = |host: &str, inspectable: bool, requests: u64, decrypted: u64| {
        json!({"host": host, "servers": [], "inspectable": inspectable, "requests": requests, "decrypted_requests": decrypted,
               "first_seen": "2026-03-28T06:00:00.000Z", "last_seen": "2026-03-29T12:00:00.000Z", "endpoints": 0})
    };
    inv["services"] = json!([svc("api.bank.example", true, 120, 0), svc("tls.bank.example", true, 1234, 1234), svc("dark.bank.example", false, 0, 0)]);
    let r = report(dir.path(), &inv, &[]);
    let decrypted: Vec<(String, u64)> =
        r["services"].as_array().unwrap().iter().map(|s| (s["host"].as_str().unwrap().to_string(), s["decrypted_requests"].as_u64().unwrap())).collect();
    assert!(decrypted.contains(&("tls.bank.example".to_string(), 1234)), "{decrypted:?}");
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    let row = |host: &str| {
        let table = &html[html.find(r#"<table id="services">"#).unwrap()..];
        let at = table.find(host).unwrap_or_else(|| panic!("no row for {host}"));
        let start = table[..at].rfind("<tr>").unwrap();
        let end = at + table[at..].find("</tr>").unwrap();
        table[start..end].to_string()
    };
    assert!(row("tls.bank.example").contains("1,234 decrypted"), "{}", row("tls.bank.example"));
    assert!(row("dark.bank.example").contains("encrypted only"), "{}", row("dark.bank.example"));
    let plain = row("api.bank.example");
    assert!(!plain.contains("decrypted") && !plain.contains("encrypted only"), "{plain}");
}
