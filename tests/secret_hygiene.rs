//! Secrets never leave the sensor. Known secrets are planted in traffic (bearer JWTs and opaque
//! tokens, API keys, Basic-auth passwords, cookies, credentials in query strings and referrers,
//! passwords and client secrets in JSON and form bodies, tokens in token responses, card
//! numbers and IBANs in paths, queries and bodies, the customer a JWT names); the simulated
//! scenario adds its own (every credential tshark finds in its capture). Then every byte the
//! sensor writes is searched for each secret in clear and in its easily reversed forms
//! (percent-encoded, base64 and base64url, JSON-escaped, each segment of a JWT):
//!
//! - `apitap read` with Kafka: transactions, inventory, anomalies, openapi.yaml, summary,
//!   standard error, the Kafka spool, every message on the broker (read back by an independent
//!   client), and `apitap report` in every format;
//! - `apitap run` on loopback with nginx: logs at trace level, the SQLite store (with its WAL),
//!   the periodic reports, the spool and the broker's messages.
//!
//! Needs root (capture), nginx, tshark and the Kafka test tools (scripts/install-deps.sh,
//! scripts/install-kafka-tools.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "kafka/broker.rs"]
mod broker;
mod common;
#[path = "daemon/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use broker::{read_back, tools, Broker, BrokerOptions, ReaderSecurity};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KEY: &str = "secret-hygiene-hashing-key-0123456789";
const TOPICS: [&str; 4] = ["apitap.anomalies", "apitap.inventory", "apitap.health", "apitap.transactions"];
/// Secrets shorter than this are not searched for (short strings occur by chance).
const MIN_LEN: usize = 8;

// ---- encodings (written here, independently of the sensor's code) ----

use common::{base64, BASE64_STD as STD, BASE64_URL as URL};

/// Percent-encoding of everything but RFC 3986's unreserved characters; `plus` writes a space
/// as `+` (forms).
fn percent(s: &str, plus: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' if plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The forms a secret could be written in that anyone reverses in a second.
fn forms(secret: &str) -> BTreeSet<String> {
    let mut f = BTreeSet::new();
    f.insert(secret.to_string());
    f.insert(percent(secret, false));
    f.insert(percent(secret, true));
    f.insert(percent(secret, false).to_lowercase());
    for (alphabet, pad) in [(STD, true), (STD, false), (URL, false)] {
        f.insert(base64(secret.as_bytes(), alphabet, pad));
    }
    let json = serde_json::to_string(secret).unwrap();
    f.insert(json.trim_matches('"').to_string());
    f.insert(json.trim_matches('"').replace('/', "\\/"));
    // A JWT's segments, each a secret of its own (the claims one names the customer).
    let segments: Vec<&str> = secret.split('.').collect();
    if segments.len() == 3 && secret.starts_with("eyJ") {
        f.extend(segments.iter().map(|s| s.to_string()));
    }
    f.retain(|s| s.len() >= MIN_LEN);
    f
}

/// Every secret, by where it came from, with its forms, and whether it is written as such in
/// the traffic (else it is derived: a decoded credential, a JWT claim).
struct Secrets(Vec<(String, String, BTreeSet<String>, bool)>);

impl Secrets {
    fn new() -> Self {
        Secrets(Vec::new())
    }

    fn add(&mut self, what: &str, secret: &str) {
        self.push(what, secret, true);
    }

    /// A secret the traffic carries only encoded (a Basic password, a JWT's customer).
    fn add_derived(&mut self, what: &str, secret: &str) {
        self.push(what, secret, false);
    }

    fn push(&mut self, what: &str, secret: &str, on_wire: bool) {
        if secret.len() >= MIN_LEN && !self.0.iter().any(|(_, s, _, _)| s == secret) {
            self.0.push((what.to_string(), secret.to_string(), forms(secret), on_wire));
        }
    }

    /// The secrets written as such in the traffic that `bytes` holds in none of their forms:
    /// the search itself is checked on the input before it is trusted on the output.
    fn missing_from(&self, bytes: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(bytes);
        self.0.iter().filter(|(_, _, forms, wire)| *wire && !forms.iter().any(|f| text.contains(f.as_str()))).map(|(w, s, _, _)| format!("{w} `{s}`")).collect()
    }

    /// Every (source, secret kind, form) found in `bytes`.
    fn find(&self, source: &str, bytes: &[u8], found: &mut Vec<String>) {
        let text = String::from_utf8_lossy(bytes);
        for (what, secret, forms, _) in &self.0 {
            for f in forms {
                if text.contains(f.as_str()) {
                    found.push(format!("{source}: {what} `{secret}` as `{f}`"));
                }
            }
        }
    }

    /// Searches every file under `dir`.
    fn find_in_dir(&self, dir: &Path, found: &mut Vec<String>) -> usize {
        let mut files = 0;
        for entry in walk(dir) {
            self.find(&entry.display().to_string(), &std::fs::read(&entry).unwrap(), found);
            files += 1;
        }
        files
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.map(Result::unwrap) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

// ---- the planted traffic ----

const HOST: &str = "api.bank.example";
const AUTH_HOST: &str = "auth.bank.example";
const JWT_SUB: &str = "psu-hygiene-4a7f19c2e8";
const OPAQUE: &str = "opq_7Gx2Kd9QwL4mZr8TnVb3";
const API_KEY: &str = "ak_live_5fH8kQ2xW9mN3pR7tY6v";
const BASIC_USER: &str = "hygiene.user@tpp.example";
const BASIC_PW: &str = "Bas1c-Pa55w0rd!Zq";
const PROXY_PW: &str = "Pr0xy-Pa55w0rd?Wm";
const COOKIE_SESSION: &str = "sess-9Jk3Lm5Np7Qr1St2";
const COOKIE_CSRF: &str = "csrf-4Uv6Wx8Yz0Ab2Cd";
const QS_TOKEN: &str = "qs-tok-8Hj2Kl4Mn6Pq";
const QS_KEY: &str = "qs-key-3Rt5Yu7Io9Pa";
const REF_CODE: &str = "authcode-5Bn7Mk9Lj1Hg";
const JSON_PW: &str = "J50n-Pa55w0rd#Xy \"q\"";
const FORM_PW: &str = "F0rm-Pa55/w0rd! x";
const CLIENT_SECRET: &str = "cs-6Tg8Hj0Kl2Zx4Cv";
const ISSUED_ACCESS: &str = "at-1Qw3Er5Ty7Ui9Op";
const ISSUED_REFRESH: &str = "rt-2As4Df6Gh8Jk0Lz";
const PAN_PATH: &str = "5555555555554444";
const PAN_QUERY: &str = "378282246310005";
const PAN_BODY: &str = "4111 1111 1111 1111";
const IBAN_PATH: &str = "GB82WEST12345698765432";
const IBAN_QUERY: &str = "DE89370400440532013000";
const IBAN_BODY: &str = "NL91ABNA0417164300";

fn planted_jwt() -> String {
    let header = base64(br#"{"alg":"RS256","typ":"JWT","kid":"hygiene"}"#, URL, false);
    let claims = base64(format!(r#"{{"client_id":"tpp-hygiene","sub":"{JWT_SUB}","scope":"accounts"}}"#).as_bytes(), URL, false);
    format!("{header}.{claims}.c2lnbmF0dXJlLXNlY3JldC1oeWdpZW5lLTkxMmY")
}

fn planted_secrets() -> Secrets {
    let mut s = Secrets::new();
    let jwt = planted_jwt();
    s.add("bearer JWT", &jwt);
    s.add_derived("JWT customer (sub)", JWT_SUB);
    s.add("opaque bearer token", OPAQUE);
    s.add("API key", API_KEY);
    s.add("Basic credentials", &base64(format!("{BASIC_USER}:{BASIC_PW}").as_bytes(), STD, true));
    s.add_derived("Basic user:password", &format!("{BASIC_USER}:{BASIC_PW}"));
    s.add_derived("Basic password", BASIC_PW);
    s.add("e-mail address", BASIC_USER);
    s.add_derived("Proxy-Authorization password", PROXY_PW);
    s.add("Proxy-Authorization credentials", &base64(format!("proxy-user:{PROXY_PW}").as_bytes(), STD, true));
    s.add("session cookie", COOKIE_SESSION);
    s.add("CSRF cookie", COOKIE_CSRF);
    s.add("access_token in a query", QS_TOKEN);
    s.add("api_key in a query", QS_KEY);
    s.add("authorization code in a referrer", REF_CODE);
    s.add("password in JSON", JSON_PW);
    s.add("password in a form", FORM_PW);
    s.add("client secret in a form", CLIENT_SECRET);
    s.add("issued access token", ISSUED_ACCESS);
    s.add("issued refresh token", ISSUED_REFRESH);
    for (what, pan) in [("card number in a path", PAN_PATH), ("card number in a query", PAN_QUERY), ("card number in a body", PAN_BODY)] {
        s.add(what, pan);
        s.add_derived(what, &pan.replace(' ', ""));
    }
    s.add("IBAN in a path", IBAN_PATH);
    s.add("IBAN in a query", IBAN_QUERY);
    s.add("IBAN in a body", IBAN_BODY);
    s
}

/// The planted exchanges: (request bytes, the response nginx gives, the location nginx serves
/// it from).
fn planted_exchanges() -> Vec<(Vec<u8>, String)> {
    let jwt = planted_jwt();
    let basic = base64(format!("{BASIC_USER}:{BASIC_PW}").as_bytes(), STD, true);
    let proxy = base64(format!("proxy-user:{PROXY_PW}").as_bytes(), STD, true);
    let json_body = serde_json::json!({"username": BASIC_USER, "password": JSON_PW, "card": PAN_BODY, "iban": IBAN_BODY}).to_string();
    let form_body = format!(
        "grant_type=password&username={}&password={}&client_id=tpp-hygiene&client_secret={CLIENT_SECRET}",
        percent(BASIC_USER, true),
        percent(FORM_PW, true)
    );
    let get = |target: &str, headers: &str| format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: hygiene-client/1.0\r\n{headers}Connection: close\r\n\r\n");
    let post = |host: &str, target: &str, ct: &str, body: &str, headers: &str| {
        format!(
            "POST {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hygiene-client/1.0\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let a = "/open-banking/v4.0/aisp";
    vec![
        (get(&format!("{a}/accounts"), &format!("Authorization: Bearer {jwt}\r\n")), "/".into()),
        (get(&format!("{a}/accounts"), &format!("Authorization: Bearer {OPAQUE}\r\n")), "/".into()),
        (get(&format!("{a}/accounts"), &format!("X-API-Key: {API_KEY}\r\n")), "/".into()),
        (get(&format!("{a}/accounts"), &format!("Authorization: Basic {basic}\r\nProxy-Authorization: Basic {proxy}\r\n")), "/".into()),
        (get(&format!("{a}/accounts"), &format!("Cookie: SESSIONID={COOKIE_SESSION}; csrf={COOKIE_CSRF}\r\n")), "/".into()),
        (get(&format!("{a}/accounts?access_token={QS_TOKEN}&api_key={QS_KEY}"), ""), "/".into()),
        (get(&format!("{a}/accounts"), &format!("Referer: https://tpp.example/callback?code={REF_CODE}&state=s1\r\n")), "/".into()),
        (get(&format!("/cards/{PAN_PATH}/balance?pan={PAN_QUERY}"), &format!("Authorization: Bearer {jwt}\r\n")), "/".into()),
        (get(&format!("/beneficiaries/{IBAN_PATH}?iban={IBAN_QUERY}"), &format!("Authorization: Bearer {jwt}\r\n")), "/".into()),
        (post(HOST, "/login", "application/json", &json_body, ""), "/login".into()),
        (post(AUTH_HOST, "/as/token.oauth2", "application/x-www-form-urlencoded", &form_body, ""), "/as/token.oauth2".into()),
    ]
    .into_iter()
    .map(|(req, loc)| (req.into_bytes(), loc))
    .collect()
}

/// The response body nginx gives at each location (and the crafted capture carries).
fn response_body(location: &str) -> String {
    match location {
        "/as/token.oauth2" => format!(r#"{{"access_token":"{ISSUED_ACCESS}","refresh_token":"{ISSUED_REFRESH}","token_type":"Bearer","expires_in":3600}}"#),
        "/login" => format!(r#"{{"Data":{{"Card":"{PAN_BODY}","Iban":"{IBAN_BODY}","Holder":"{BASIC_USER}"}}}}"#),
        _ => r#"{"Data":{"Account":[{"AccountId":"22289"}]}}"#.to_string(),
    }
}

fn response(location: &str) -> Vec<u8> {
    let body = response_body(location);
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
}

/// The planted exchanges as a capture, one connection each, starting at `start_ns`.
fn planted_pcap(path: &Path, start_ns: u64) {
    let mut frames = Vec::new();
    for (i, (req, loc)) in planted_exchanges().iter().enumerate() {
        let client = (Ipv4Addr::new(198, 51, 100, 200), 40_000 + i as u16);
        let server = (Ipv4Addr::new(10, 20, 0, 10), 8080);
        let mut c = common::Conversation::new(client, server);
        c.ts = start_ns + i as u64 * 1_000_000_000;
        c.handshake();
        c.send(common::Side::Client, req);
        c.send(common::Side::Server, &response(loc));
        c.close();
        frames.extend(c.packets.into_iter().map(|(ts, _, ip)| (ts, common::ethernet(&ip, &[]))));
    }
    common::write_pcap(path, 1, true, &frames);
}

// ---- the simulator's secrets, as tshark reads them from its capture ----

fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap).args(["-o", "http.tcp.port:8080", "-Y", filter, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark is not installed: run scripts/install-deps.sh");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').map(String::from).collect()).collect()
}

/// Bytes of tshark's hex `http.file_data` (or the text itself when it is not hex).
fn unhex_or_text(s: &str) -> String {
    let clean: String = s.chars().filter(|c| *c != ':').collect();
    if !clean.is_empty() && clean.len() % 2 == 0 && clean.chars().all(|c| c.is_ascii_hexdigit()) {
        let bytes: Vec<u8> = (0..clean.len()).step_by(2).map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        s.to_string()
    }
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00"), 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn b64url_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| URL.iter().position(|x| *x == c).or_else(|| STD.iter().position(|x| *x == c)).map(|v| v as u32);
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let Some(v) = val(c) else { break };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Every credential of the simulated capture: Authorization values (and a JWT's customer),
/// API keys, cookies, secrets and passwords in request bodies, tokens in responses.
fn simulated_secrets(pcap: &Path, s: &mut Secrets) -> usize {
    let before = s.0.len();
    for row in tshark_fields(pcap, "http.request", &["http.request.line", "http.file_data"]) {
        for line in row.first().map(String::as_str).unwrap_or("").split(',') {
            let line = line.trim_end_matches("\\r\\n").trim();
            let Some((name, value)) = line.split_once(':') else { continue };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "authorization" | "proxy-authorization" => {
                    let cred = value.split_once(' ').map_or(value, |(_, c)| c);
                    s.add(&format!("simulated {name}"), cred);
                    if cred.starts_with("eyJ") {
                        if let Some(claims) = cred.split('.').nth(1) {
                            let v: serde_json::Value = serde_json::from_slice(&b64url_decode(claims)).unwrap_or_default();
                            if let Some(sub) = v["sub"].as_str() {
                                s.add_derived("simulated JWT customer (sub)", sub);
                            }
                        }
                    } else if value.to_ascii_lowercase().starts_with("basic ") {
                        let plain = String::from_utf8_lossy(&b64url_decode(cred)).into_owned();
                        if let Some((_, pw)) = plain.split_once(':') {
                            s.add_derived("simulated Basic password", pw);
                        }
                    }
                }
                "x-api-key" | "apikey" | "api-key" | "x-apikey" => s.add("simulated API key", value),
                "cookie" => {
                    for pair in value.split(';') {
                        if let Some((_, v)) = pair.split_once('=') {
                            s.add("simulated cookie", v.trim());
                        }
                    }
                }
                _ => {}
            }
        }
        let body = unhex_or_text(row.get(1).map(String::as_str).unwrap_or(""));
        for pair in body.split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                if ["password", "client_secret", "refresh_token", "code"].contains(&k) {
                    s.add(&format!("simulated {k} in a form"), &url_decode(v));
                }
            }
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
            if let Some(pw) = v["password"].as_str() {
                s.add("simulated password in JSON", pw);
            }
        }
    }
    for row in tshark_fields(pcap, "http.response and http.file_data", &["http.file_data"]) {
        let body = unhex_or_text(row.first().map(String::as_str).unwrap_or(""));
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
            for k in ["access_token", "refresh_token", "id_token"] {
                if let Some(t) = v[k].as_str() {
                    s.add(&format!("simulated issued {k}"), t);
                }
            }
        }
    }
    s.0.len() - before
}

fn assert_clean(found: &[String]) {
    assert!(found.is_empty(), "{} secrets found in the output:\n{}", found.len(), found.join("\n"));
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn no_secret_leaves_read_its_reports_or_kafka() {
    let tools = tools();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let apitap = env!("CARGO_BIN_EXE_apitap");
    run(Command::new(apitap).args(["simulate", "--scenario"]).arg(Path::new(ROOT).join("fixtures/scenarios/small.yaml")).arg("--out").arg(d.join("sim")));
    let sim = d.join("sim/capture.pcap");
    // After the simulated 30 hours (2026-03-28T06:00Z + 30 h), so the files read as one trace.
    let planted = d.join("planted.pcap");
    planted_pcap(&planted, 1_774_790_000 * 1_000_000_000);

    let mut secrets = planted_secrets();
    let n = simulated_secrets(&sim, &mut secrets);
    assert!(n >= 20, "tshark found {n} credentials in the simulated capture");
    let mut input = std::fs::read(&sim).unwrap();
    input.extend(std::fs::read(&planted).unwrap());
    assert_eq!(secrets.missing_from(&input), Vec::<String>::new(), "every secret searched for is in the input");

    let b = Broker::start(&tools, &d.join("broker"), BrokerOptions { topics: TOPICS.iter().map(|t| (t.to_string(), 1)).collect(), ..BrokerOptions::default() });
    let cfg = d.join("apitap.toml");
    std::fs::write(&cfg, common::uk_scenario_config() + &format!("[kafka]\npublish_transactions = true\n[kafka.spool]\ndir = \"{}\"\n", d.join("spool").display())).unwrap();
    let out = d.join("out");
    let read = run(Command::new(apitap)
        .arg("read")
        .arg(&sim)
        .arg(&planted)
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .arg("--kafka-brokers")
        .arg(b.bootstrap())
        .arg("--no-progress")
        .env("APITAP_HASH_KEY", KEY));
    let report = d.join("report");
    let rep = run(Command::new(apitap)
        .args(["report", "--inventory"])
        .arg(out.join("inventory.json"))
        .arg("--anomalies")
        .arg(out.join("anomalies.jsonl"))
        .arg("--out")
        .arg(&report));

    // The planted traffic was read, and the outputs are what this test thinks they are.
    let records = std::fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    assert!(records.contains("/login") && records.contains("/as/token.oauth2") && records.contains("/beneficiaries/"), "the planted requests are in the records");
    let anomalies = std::fs::read_to_string(out.join("anomalies.jsonl")).unwrap();
    assert!(anomalies.lines().count() >= 3, "the scenario raises findings");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let delivered = summary["kafka"]["delivered"].as_u64().unwrap() as usize;
    assert!(delivered > 1000, "the transactions and findings were published: {}", summary["kafka"]);
    let reads = read_back(&tools, &b.bootstrap(), &TOPICS, None, delivered, &ReaderSecurity::default(), d);
    assert_eq!(reads.len(), delivered);

    let mut found = Vec::new();
    let files = secrets.find_in_dir(&out, &mut found) + secrets.find_in_dir(&report, &mut found) + secrets.find_in_dir(&d.join("spool"), &mut found);
    assert!(files >= 10, "{files} files searched");
    secrets.find("read stderr", &read.stderr, &mut found);
    secrets.find("read stdout", &read.stdout, &mut found);
    secrets.find("report stderr", &rep.stderr, &mut found);
    for r in &reads {
        let mut raw = r.raw_key.clone();
        raw.extend_from_slice(&r.raw_value);
        for (k, v) in &r.raw_headers {
            raw.extend_from_slice(k.as_bytes());
            raw.extend_from_slice(v);
        }
        secrets.find(&format!("kafka {} offset {}", r.topic, r.offset), &raw, &mut found);
    }
    assert_clean(&found);
}

/// nginx answering every planted request on loopback `port`.
fn nginx(dir: &Path, port: u16) -> common::Nginx {
    let loc = |path: &str, exact: bool| {
        let body = response_body(path).replace('\'', "\\'");
        format!("    location {}{path} {{ return 200 '{body}'; }}\n", if exact { "= " } else { "" })
    };
    let http = format!(
        "  server {{\n    listen 127.0.0.1:{port};\n{}{}{}  }}",
        loc("/as/token.oauth2", true),
        loc("/login", true),
        loc("/", false)
    );
    common::start_nginx(&dir.join("nginx"), &http)
}

#[test]
fn no_secret_leaves_the_daemon_its_logs_store_reports_or_kafka() {
    let tools = tools();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = harness::free_port();
    let _nginx = nginx(d, port);
    let b = Broker::start(&tools, &d.join("broker"), BrokerOptions { topics: TOPICS.iter().map(|t| (t.to_string(), 1)).collect(), ..BrokerOptions::default() });
    let key = harness::hash_key(d);
    let state = d.join("state");
    let cfg = d.join("apitap.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nhash_key_file = \"{key}\"\nlog_format = \"json\"\nlog_level = \"trace\"\nshutdown_deadline_secs = 20\n\n\
             [capture]\ninterface = \"lo\"\npromiscuous = false\nfilter = \"tcp port {port}\"\n\n\
             [store]\npath = \"{state}/apitap.db\"\ncheckpoint_interval_secs = 5\n\n\
             [report]\ndir = \"{state}/reports\"\nevery_hours = 0.001\n\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\n\
             [kafka]\nbrokers = [\"{brokers}\"]\npublish_transactions = true\nlinger_ms = 5\n\n\
             [kafka.spool]\ndir = \"{spool}\"\n",
            key = key.display(),
            state = state.display(),
            metrics = harness::free_port(),
            brokers = b.bootstrap(),
            spool = d.join("spool").display(),
        ),
    )
    .unwrap();
    let daemon = harness::Daemon::start(&cfg);
    let exchanges = planted_exchanges();
    for (req, _) in &exchanges {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(req).unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).unwrap();
        assert!(resp.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&resp));
    }
    // A checkpoint and a periodic report after the traffic, then a clean stop.
    std::thread::sleep(Duration::from_secs(8));
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit {status}; log:\n{log}");
    // Logged at `trace`, the most verbose level: everything any level writes is here.
    assert!(log.lines().count() >= 3, "{log}");
    let counts = harness::run_summary(&log);
    assert_eq!(counts["transactions"], exchanges.len(), "{counts}");
    // Every transaction is published (and findings, inventory changes and health besides).
    let reads = read_back(&tools, &b.bootstrap(), &TOPICS, None, exchanges.len(), &ReaderSecurity::default(), d);
    let published = reads.iter().filter(|r| r.topic == "apitap.transactions").count();
    assert_eq!(published, exchanges.len(), "the transactions were published");
    assert!(reads.iter().any(|r| r.topic == "apitap.inventory"), "inventory changes were published");

    let secrets = planted_secrets();
    let sent: Vec<u8> = exchanges.iter().flat_map(|(req, loc)| [req.clone(), response_body(loc).into_bytes()]).flatten().collect();
    assert_eq!(secrets.missing_from(&sent), Vec::<String>::new(), "every secret searched for was sent");
    let mut found = Vec::new();
    secrets.find("daemon log", log.as_bytes(), &mut found);
    let files = secrets.find_in_dir(&state, &mut found) + secrets.find_in_dir(&d.join("spool"), &mut found);
    assert!(walk(&state).iter().any(|p| p.to_string_lossy().ends_with("apitap.db")), "the store was written");
    assert!(walk(&state.join("reports")).iter().any(|p| p.to_string_lossy().ends_with("report.html")), "a periodic report was written");
    assert!(files >= 5, "{files} files searched");
    for r in &reads {
        let mut raw = r.raw_key.clone();
        raw.extend_from_slice(&r.raw_value);
        secrets.find(&format!("kafka {} offset {}", r.topic, r.offset), &raw, &mut found);
    }
    assert_clean(&found);
}
