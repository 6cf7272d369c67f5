//! The inventory end to end through `apitap read --out`: crafted exchanges for the findings
//! and the scanner rules, the configuration file's errors, `apitap inventory accept`, the
//! reconstructed openapi.yaml read back by the spec loader, and secrets kept out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::Ipv4Addr;
use std::path::Path;

use common::{apitap, ethernet, write_pcap, Conversation};
use serde_json::Value;

const BEARER: &str = "eyJhbGciOiJub25lIn0.eyJjbGllbnRfaWQiOiJzZWNyZXQtY2xpZW50In0.c2lnbmF0dXJlLXNlY3JldA";
const API_KEY: &str = "ak_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const IBAN: &str = "GB82WEST12345698765432";
const EMAIL: &str = "jane.customer@example.org";

fn json_response(body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// Writes a capture with one connection per exchange (client port from 40000).
fn capture(path: &Path, exchanges: &[(Vec<u8>, Vec<u8>)]) {
    let mut frames = Vec::new();
    for (i, (req, resp)) in exchanges.iter().enumerate() {
        let mut c = Conversation::new((Ipv4Addr::new(192, 0, 2, 10 + (i % 50) as u8), 40000 + i as u16), (Ipv4Addr::new(10, 1, 0, 5), 8080));
        c.ts += i as u64 * 1_000_000_000;
        c.handshake();
        c.send(common::Side::Client, req);
        c.send(common::Side::Server, resp);
        c.close();
        frames.extend(c.packets.iter().map(|(ts, _, p)| (*ts, ethernet(p, &[]))));
    }
    frames.sort_by_key(|(ts, _)| *ts);
    write_pcap(path, 1, true, &frames);
}

fn get(path: &str, headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: api.shop.example\r\n{headers}\r\n").into_bytes()
}

fn read_inventory(pcap: &Path, out: &Path, extra: &[&str]) -> (Value, std::process::Output) {
    let mut args: Vec<&std::ffi::OsStr> = vec!["read".as_ref(), pcap.as_os_str(), "--no-progress".as_ref(), "--out".as_ref(), out.as_os_str()];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    let o = apitap(&args);
    let inv = std::fs::read_to_string(out.join("inventory.json")).map(|t| serde_json::from_str(&t).unwrap()).unwrap_or(Value::Null);
    (inv, o)
}

fn endpoint<'a>(inv: &'a Value, method: &str, path: &str) -> Option<&'a Value> {
    inv["endpoints"].as_array().unwrap().iter().find(|e| e["method"] == method && e["path"] == path)
}

fn traffic() -> Vec<(Vec<u8>, Vec<u8>)> {
    let profile = format!(r#"{{"customer":{{"id":7,"email":"{EMAIL}","iban":"{IBAN}","name":"J"}}}}"#);
    let mut ex = Vec::new();
    for id in 0..40u32 {
        // An unauthenticated endpoint serving personal data, ids in the path.
        ex.push((get(&format!("/v2/customers/{}/profile", 1000 + id * 7), "Accept: application/json\r\n"), json_response(&profile)));
    }
    for _ in 0..6 {
        ex.push((
            get("/v2/orders?status=open&page=2", &format!("Authorization: Bearer {BEARER}\r\n")),
            json_response(r#"{"orders":[{"id":"o-1","total":12.5,"paid":true}],"next":null}"#),
        ));
        ex.push((get("/v2/catalog", &format!("X-API-Key: {API_KEY}\r\n")), json_response(r#"[{"sku":"a","price":1}]"#)));
    }
    // A scanner: 404s on paths nobody serves, and one answered path it also tried.
    for p in ["/.env", "/wp-admin/setup.php", "/admin/config.json", "/phpinfo.php", "/v2/catalog/../../etc/passwd"] {
        ex.push((get(p, ""), b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()));
    }
    ex.push((get("/healthz", ""), b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok".to_vec()));
    ex.push((get("/static/app.3f9a.js", ""), b"HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Length: 2\r\n\r\n;;".to_vec()));
    ex.push((
        get("/v1/legacy/report", ""),
        b"HTTP/1.1 200 OK\r\nDeprecation: @1767225600\r\nSunset: Thu, 31 Dec 2026 23:59:59 GMT\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            .to_vec(),
    ));
    ex
}

#[test]
fn findings_scanner_noise_and_categories() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    capture(&pcap, &traffic());
    let (inv, o) = read_inventory(&pcap, &dir.path().join("out"), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let profile = endpoint(&inv, "GET", "/v2/customers/{int}/profile").expect("ids templated");
    assert_eq!(profile["hits"], 40);
    assert_eq!(profile["classification"], "shadow");
    assert_eq!(profile["response_sensitive"]["iban"], 40);
    assert_eq!(profile["response_sensitive"]["email"], 40);
    assert_eq!(profile["auth"]["none"], 40);
    assert_eq!(profile["clients"], 40);
    assert_eq!(profile["response_body"]["fields"]["customer.iban"], serde_json::json!(["string"]));
    let findings = inv["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["kind"] == "sensitive_data_without_authentication" && f["path"] == "/v2/customers/{int}/profile" && f["count"] == 40));
    // Authenticated endpoints: no such finding; auth kinds and query names recorded.
    let orders = endpoint(&inv, "GET", "/v2/orders").unwrap();
    assert_eq!(orders["auth"]["bearer"], 6);
    assert_eq!(orders["query_params"], serde_json::json!(["page", "status"]));
    assert_eq!(orders["consumers"], 1, "one token is one consumer");
    assert_eq!(endpoint(&inv, "GET", "/v2/catalog").unwrap()["auth"]["api_key"], 6);
    assert!(!findings.iter().any(|f| f["kind"] == "sensitive_data_without_authentication" && f["path"] != "/v2/customers/{int}/profile"));
    // The scanner's 404s are noise, not endpoints; health checks and assets are apart.
    let svc = &inv["services"][0];
    assert_eq!(svc["not_found_requests"], 5);
    assert_eq!(svc["other_requests"]["health_check"], 1);
    assert_eq!(svc["other_requests"]["static_asset"], 1);
    assert!(endpoint(&inv, "GET", "/.env").is_none() && endpoint(&inv, "GET", "/healthz").is_none());
    // Deprecation headers make a zombie.
    let legacy = endpoint(&inv, "GET", "/v1/legacy/report").unwrap();
    assert_eq!(legacy["classification"], "zombie");
    assert_eq!(legacy["zombie_reasons"], serde_json::json!(["deprecation_header"]));
    assert_eq!(inv["summary"]["shadow"], 3);
}

#[test]
fn secrets_never_reach_inventory_or_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    capture(&pcap, &traffic());
    let out = dir.path().join("out");
    let (_, o) = read_inventory(&pcap, &out, &[]);
    assert!(o.status.success());
    for file in ["inventory.json", "openapi.yaml"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        for secret in [BEARER, "c2lnbmF0dXJlLXNlY3JldA", API_KEY, IBAN, EMAIL, "jane.customer"] {
            assert!(!text.contains(secret), "{file} holds {secret}");
        }
    }
}

/// Card numbers in paths and query values, whatever the parameter's name: masked in every
/// output, and the path still templated as one endpoint.
#[test]
fn card_numbers_in_targets_are_masked_everywhere() {
    const PANS: [&str; 3] = ["4111111111111111", "5555555555554444", "378282246310005"];
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    let mut ex = Vec::new();
    for (i, pan) in PANS.iter().enumerate() {
        ex.push((get(&format!("/v1/cards/{pan}/limits"), ""), json_response(r#"{"limit":100}"#)));
        // Percent-encoded digits and a name no redaction list knows.
        let encoded: String = PANS[(i + 1) % 3].bytes().map(|b| format!("%{b:02X}")).collect();
        ex.push((get(&format!("/v1/lookup?q={encoded}&page=1"), ""), json_response("{}")));
    }
    capture(&pcap, &ex);
    let out = dir.path().join("out");
    let (inv, o) = read_inventory(&pcap, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for file in ["transactions.jsonl", "inventory.json", "openapi.yaml", "summary.json", "anomalies.jsonl"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap_or_default();
        for pan in PANS {
            assert!(!text.contains(pan), "{file} holds {pan}");
        }
    }
    let text = std::fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    let uris: Vec<String> = text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["uri"].as_str().unwrap().to_string()).collect();
    assert_eq!(uris.iter().filter(|u| *u == "/v1/cards/REDACTED/limits").count(), 3, "{uris:?}");
    assert_eq!(uris.iter().filter(|u| *u == "/v1/lookup?q=REDACTED&page=1").count(), 3, "{uris:?}");
    let cards: Vec<&Value> = inv["endpoints"].as_array().unwrap().iter().filter(|e| e["path"].as_str().unwrap().starts_with("/v1/cards/")).collect();
    assert_eq!(cards.len(), 1, "one templated endpoint: {cards:?}");
    let path = cards[0]["path"].as_str().unwrap();
    assert!(path.starts_with("/v1/cards/{") && path.ends_with("}/limits"), "{path}");
    assert_eq!(cards[0]["hits"], 3);
}

#[test]
fn openapi_yaml_reads_back_as_a_spec() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    capture(&pcap, &traffic());
    let out = dir.path().join("out");
    let (inv, _) = read_inventory(&pcap, &out, &[]);
    let text = std::fs::read_to_string(out.join("openapi.yaml")).unwrap();
    let spec = apitap_discovery::openapi::load_spec("openapi.yaml", &text).unwrap();
    let mut ops: Vec<(String, String)> = spec.operations.iter().map(|o| (o.method.clone(), o.path.clone())).collect();
    ops.sort();
    let mut want: Vec<(String, String)> = inv["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["method"].as_str().unwrap().to_string(), e["path"].as_str().unwrap().to_string()))
        .collect();
    want.sort();
    assert_eq!(ops, want);
    let profile = spec.operations.iter().find(|o| o.path == "/v2/customers/{int}/profile").unwrap();
    assert!(profile.parameters.iter().any(|p| p.name == "int"));
    assert!(profile.responses.iter().any(|r| r.status == "200" && r.body.is_some()));
    // Reading the same traffic against the reconstructed document: every endpoint is documented.
    let (again, o) = read_inventory(&pcap, &dir.path().join("again"), &["--spec", out.join("openapi.yaml").to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(again["summary"]["shadow"], 0, "{}", again["endpoints"]);
    assert_eq!(again["summary"]["documented"].as_u64().unwrap() + again["summary"]["zombie"].as_u64().unwrap(), want.len() as u64);
}

#[test]
fn accepted_shadow_is_listed_but_not_new() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    capture(&pcap, &traffic());
    let config = dir.path().join("apitap.toml");
    std::fs::write(&config, "[inventory]\nmax_endpoints_per_service = 100\n").unwrap();
    let o = apitap(&[
        "inventory".as_ref(),
        "accept".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--host".as_ref(),
        "api.shop.example".as_ref(),
        "--method".as_ref(),
        "GET".as_ref(),
        "--path".as_ref(),
        "/v2/orders".as_ref(),
        "--by".as_ref(),
        "Jane Doe <jane@shop.example>".as_ref(),
        "--reason".as_ref(),
        "order API for the \"mobile\" app; spec due in Q3".as_ref(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (inv, o) = read_inventory(&pcap, &dir.path().join("out"), &["--config", config.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let orders = endpoint(&inv, "GET", "/v2/orders").unwrap();
    assert_eq!(orders["classification"], "shadow");
    assert_eq!(orders["accepted"]["by"], "Jane Doe <jane@shop.example>");
    assert_eq!(orders["accepted"]["reason"], "order API for the \"mobile\" app; spec due in Q3");
    assert_eq!(inv["summary"]["shadow_unaccepted"].as_u64().unwrap() + 1, inv["summary"]["shadow"].as_u64().unwrap());
    assert!(!inv["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "shadow_endpoint" && f["path"] == "/v2/orders"));
    // A refused update leaves the file as it was.
    let before = std::fs::read_to_string(&config).unwrap();
    let o = apitap(&["inventory".as_ref(), "accept".as_ref(), "--config".as_ref(), config.as_os_str(), "--host".as_ref(), "h".as_ref(), "--method".as_ref(), "GET".as_ref(), "--path".as_ref(), "no-slash".as_ref(), "--by".as_ref(), "x".as_ref(), "--reason".as_ref(), "y".as_ref()]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[test]
fn configuration_mistakes_name_file_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    capture(&pcap, &traffic()[..2]);
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[inventory]\napi_hosts = [\"*.shop.example\"]\nmax_endpoint_per_service = 5\n").unwrap();
    let (_, o) = read_inventory(&pcap, &dir.path().join("out"), &["--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{}:3:", config.display())) && err.contains("max_endpoint_per_service") && err.contains("spelling"), "{err}");
    std::fs::write(&config, "[[spec]]\nfile = \"missing.yaml\"\n").unwrap();
    let (_, o) = read_inventory(&pcap, &dir.path().join("out"), &["--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("missing.yaml"), "{err}");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: [unclosed\n").unwrap();
    let (_, o) = read_inventory(&pcap, &dir.path().join("out"), &["--spec", broken.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("broken.yaml") && err.contains(':'), "{err}");
    // --spec without --out has nowhere to write the inventory.
    let o = apitap(&["read".as_ref(), pcap.as_os_str(), "--spec".as_ref(), broken.as_os_str()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out"));
}

#[test]
fn scope_keeps_other_hosts_out() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    capture(&pcap, &traffic());
    let config = dir.path().join("apitap.toml");
    std::fs::write(&config, "[inventory]\napi_hosts = [\"*.bank.example\"]\n").unwrap();
    let (inv, o) = read_inventory(&pcap, &dir.path().join("out"), &["--config", config.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(inv["summary"]["endpoints"], 0);
    assert_eq!(inv["counters"]["out_of_scope"], traffic().len());
}

#[test]
fn operator_templates_and_base_path_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    let mut ex = traffic();
    // A gateway that strips the spec's base path: `/accounts/...` instead of
    // `/open-banking/v4.0/aisp/accounts/...`.
    for id in ["acc-1", "acc-2", "acc-3"] {
        ex.push((get(&format!("/accounts/{id}/balances"), &format!("Authorization: Bearer {BEARER}\r\n")), json_response(r#"{"Data":{}}"#)));
    }
    capture(&pcap, &ex);
    let config = dir.path().join("apitap.toml");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs/ob-uk/account-info-openapi.yaml");
    std::fs::write(
        &config,
        format!("[[spec]]\nfile = \"{}\"\n\n[[template]]\npath = \"/v2/customers/{{customer}}/profile\"\nmethod = \"GET\"\n", spec.display()),
    )
    .unwrap();
    let (inv, o) = read_inventory(&pcap, &dir.path().join("out"), &["--config", config.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pinned = endpoint(&inv, "GET", "/v2/customers/{customer}/profile").expect("the operator's template names it");
    assert_eq!(pinned["hits"], 40);
    assert_eq!(pinned["operator_template"], "/v2/customers/{customer}/profile");
    assert!(endpoint(&inv, "GET", "/v2/customers/{int}/profile").is_none());
    let balances = endpoint(&inv, "GET", "/accounts/{AccountId}/balances").expect("matched without the base path");
    assert_eq!(balances["classification"], "documented");
    assert_eq!(balances["hits"], 3);
    assert_eq!(balances["spec"]["operation_path"], "/accounts/{AccountId}/balances");
    let spec_report = &inv["specs"][0];
    assert_eq!(spec_report["requests_without_base_path"], 3);
    assert!(spec_report["notes"][0].as_str().unwrap().contains("never appeared"), "{spec_report}");
}

#[test]
fn endpoint_bound_counts_the_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    let ex: Vec<(Vec<u8>, Vec<u8>)> = ["alpha", "bravo", "charlie", "delta", "echo"]
        .iter()
        .map(|w| (get(&format!("/api/{w}-report"), ""), json_response("{}")))
        .collect();
    capture(&pcap, &ex);
    let config = dir.path().join("apitap.toml");
    std::fs::write(&config, "[inventory]\nmax_endpoints_per_service = 3\n").unwrap();
    let (inv, o) = read_inventory(&pcap, &dir.path().join("out"), &["--config", config.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(inv["summary"]["endpoints"], 3);
    assert_eq!(inv["services"][0]["overflow_requests"], 2);
    assert!(inv["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "endpoint_overflow" && f["count"] == 2));
}
