//! The daemon's acceptance test: `apitap run` on the loopback interface in front of a real
//! nginx serving an Open Banking account API, driven by real curl requests from three TPPs.
//! The daemon is stopped with SIGTERM and, later, killed with SIGKILL; each restart must carry
//! on with the inventory and the baselines it had at its last checkpoint (read back with the
//! sqlite3 CLI, an independent reader). A reload adds a spec without losing anything; the
//! report built from the store renders in a real headless chromium with the store's endpoints
//! on it; the metrics endpoint answers over TLS to a client certificate and refuses a client
//! without one.
//!
//! Needs root (capture), nginx, curl, sqlite3, openssl and chromium (scripts/install-deps.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
#[path = "daemon/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use harness::{apitap, curl, free_port, hash_key, jwt, Daemon};

const HOST: &str = "api.bank.example";
const BASE: &str = "/open-banking/v4.0/aisp";
const TPPS: [&str; 3] = ["tpp-alpha", "tpp-beta", "tpp-gamma"];

fn nginx(dir: &Path, port: u16) -> common::Nginx {
    let http = format!(
        r#"  server {{
    listen 127.0.0.1:{port};
    location ~ ^{BASE}/accounts/[^/]+/balances$ {{ return 200 '{{"Data":{{"Balance":[{{"Amount":{{"Amount":"10.00","Currency":"GBP"}}}}]}}}}'; }}
    location ~ ^{BASE}/accounts/[^/]+$ {{ return 200 '{{"Data":{{"Account":[{{"AccountId":"acc"}}]}}}}'; }}
    location = {BASE}/accounts {{ return 200 '{{"Data":{{"Account":[]}}}}'; }}
    location = /internal/debug/dump {{ return 200 '{{"rows":1}}'; }}
    location = {BASE}/accounts/acc-locked {{ return 403 '{{"Errors":[{{"ErrorCode":"UK.OBIE.Resource.ConsentMismatch"}}]}}'; }}
  }}"#
    );
    common::start_nginx(&dir.join("nginx"), &http)
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (scripts/install-deps.sh)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
fn pki(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=apitap-acceptance-ca"]);
    openssl(dir, &ca);
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for who in ["server", "client"] {
        let (key, csr, pem, ext) = (format!("{who}.key"), format!("{who}.csr"), format!("{who}.pem"), format!("{who}.ext"));
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=apitap-acceptance"]);
        openssl(dir, &req);
        openssl(dir, &["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", &ext, "-out", &pem]);
        std::fs::set_permissions(dir.join(&key), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
}

fn config(dir: &Path, port: u16, metrics_port: u16, specs: &[&str]) -> PathBuf {
    let key = hash_key(dir);
    let state = dir.join("state");
    let specs: String = specs.iter().map(|s| common::spec_entry(s, HOST, "")).collect();
    let text = format!(
        "{specs}\n[daemon]\nhash_key_file = \"{key}\"\nlog_format = \"json\"\nshutdown_deadline_secs = 20\n\n\
         [capture]\ninterface = \"lo\"\npromiscuous = false\nfilter = \"tcp port {port}\"\n\n\
         [store]\npath = \"{state}/apitap.db\"\ncheckpoint_interval_secs = 5\n\n\
         [report]\ndir = \"{state}/reports\"\nevery_hours = 0.002\n\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\n[metrics.tls]\ncert = \"{d}/server.pem\"\nkey = \"{d}/server.key\"\nclient_ca = \"{d}/ca.pem\"\n",
        key = key.display(),
        state = state.display(),
        d = dir.display()
    );
    let path = dir.join("apitap.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `n` requests spread over the three TPPs and four accounts each, plus one call of an
/// undocumented debug endpoint.
fn traffic(port: u16, n: usize) {
    for i in 0..n {
        let tpp = TPPS[i % TPPS.len()];
        let token = jwt(&format!(r#"{{"client_id":"{tpp}","sub":"psu-{}"}}"#, i % 4));
        let path = if i % 2 == 0 { format!("{BASE}/accounts/acc-{}", i % 4) } else { format!("{BASE}/accounts/acc-{}/balances", i % 4) };
        let status = curl(
            &format!("http://127.0.0.1:{port}{path}"),
            &[format!("Host: {HOST}"), format!("Authorization: Bearer {token}")],
        );
        assert_eq!(status, 200, "{path}");
    }
    assert_eq!(curl(&format!("http://127.0.0.1:{port}/internal/debug/dump"), &[format!("Host: {HOST}")]), 200);
}

/// The traffic() calls of the test, in order.
const PHASES: [usize; 4] = [12, 9, 3, 3];

/// The distinct templates each TPP called over [`PHASES`], worked out from traffic()'s
/// schedule rather than read from the sensor.
fn templates_per_tpp() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for n in PHASES {
        for i in 0..n {
            out.entry(TPPS[i % TPPS.len()]).or_default().insert(if i % 2 == 0 { "single" } else { "balances" });
        }
    }
    out
}

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3").arg("-readonly").arg(db).arg(sql).output().expect("sqlite3 (scripts/install-deps.sh)");
    assert!(out.status.success(), "sqlite3 {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Names with a count (consumer labels with requests, endpoints with hits).
type Counted = Vec<(String, u64)>;

/// Requests per consumer label, and hits per endpoint, as the store holds them.
fn stored(db: &Path) -> (Counted, Counted) {
    let parse = |text: String| -> Counted {
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (a, b) = l.rsplit_once('|').unwrap();
                (a.to_string(), b.parse().unwrap())
            })
            .collect()
    };
    let consumers = parse(sqlite(db, "SELECT label, requests FROM consumers ORDER BY label"));
    let endpoints = parse(sqlite(db, "SELECT service || ' ' || method || ' ' || template || ' ' || class, requests FROM endpoints ORDER BY 1"));
    (consumers, endpoints)
}

/// Waits for a checkpoint written after the log's first `skip` lines.
fn await_checkpoint(d: &Daemon, skip: usize) {
    d.wait_for_log_after(skip, "checkpoint written", Duration::from_secs(30));
}

fn requests_of(consumers: &[(String, u64)]) -> u64 {
    consumers.iter().filter(|(l, _)| TPPS.iter().any(|t| l.contains(t))).map(|(_, n)| n).sum()
}

fn endpoint<'a>(endpoints: &'a [(String, u64)], needle: &str) -> &'a (String, u64) {
    endpoints.iter().find(|(k, _)| k.contains(needle)).unwrap_or_else(|| panic!("no endpoint {needle} in {endpoints:?}"))
}

#[test]
fn daemon_keeps_its_state_across_restarts_and_kill_9_reports_and_serves_metrics_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let metrics_port = free_port();
    let _nginx = nginx(d, port);
    pki(d);
    let cfg = config(d, port, metrics_port, &["ob-uk/account-info-openapi.yaml"]);
    let db = d.join("state/apitap.db");

    // First run: 12 requests, a checkpoint, SIGTERM.
    let first = Daemon::start(&cfg);
    let mark = first.log_len();
    traffic(port, 12);
    await_checkpoint(&first, mark);
    let (status, log) = first.stop();
    assert!(status.success(), "exit {status}:\n{log}");
    let (consumers, endpoints) = stored(&db);
    // The three TPPs by their JWT client, and the unauthenticated debug call by its network.
    assert_eq!(consumers.iter().filter(|(l, _)| TPPS.contains(&l.as_str())).count(), 3, "{consumers:?}");
    assert!(consumers.iter().any(|(l, n)| l.starts_with("127.0.0.") && *n == 1), "{consumers:?}");
    assert_eq!(requests_of(&consumers), 12, "{consumers:?}");
    let single = endpoint(&endpoints, "/accounts/{AccountId} documented");
    let balances = endpoint(&endpoints, "/accounts/{AccountId}/balances documented");
    assert_eq!((single.1, balances.1), (6, 6), "{endpoints:?}");
    assert!(endpoints.iter().any(|(k, _)| k.contains("/internal/debug/dump shadow")), "{endpoints:?}");

    // Second run carries on; 9 more requests, a checkpoint, then SIGKILL: nothing flushed.
    let second = Daemon::start(&cfg);
    second.wait_for_log("carrying on from the last checkpoint", Duration::from_secs(10));
    let mark = second.log_len();
    traffic(port, 9);
    await_checkpoint(&second, mark);
    // Metrics over TLS while it runs: with the client certificate, and without.
    let url = format!("https://127.0.0.1:{metrics_port}/metrics");
    let ca = d.join("ca.pem");
    let ok = Command::new("curl")
        .args(["-s", "--fail", "--cacert"])
        .arg(&ca)
        .arg("--cert")
        .arg(d.join("client.pem"))
        .arg("--key")
        .arg(d.join("client.key"))
        .arg(&url)
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "scrape with a client certificate failed: {}", String::from_utf8_lossy(&ok.stderr));
    let transactions: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("apitap_http_transactions_total "))
        .unwrap_or_else(|| panic!("no apitap_http_transactions_total in:\n{body}"))
        .parse()
        .unwrap();
    assert!(transactions >= 10.0, "transactions {transactions}");
    let refused = Command::new("curl").args(["-s", "--cacert"]).arg(&ca).arg(&url).output().unwrap();
    assert!(!refused.status.success() && refused.stdout.is_empty(), "a client without a certificate got an answer");
    let _ = second.kill9();
    let (consumers, _) = stored(&db);
    assert_eq!(requests_of(&consumers), 21, "the second run's checkpoint is in the store: {consumers:?}");

    // Third run, after the kill: the state of the last checkpoint comes back, and new traffic
    // adds to it (requests and endpoint hits continue from 21, not from 0).
    let third = Daemon::start(&cfg);
    third.wait_for_log("carrying on from the last checkpoint", Duration::from_secs(10));
    let mark = third.log_len();
    traffic(port, 3);
    await_checkpoint(&third, mark);
    let (consumers, endpoints) = stored(&db);
    assert_eq!(requests_of(&consumers), 24, "{consumers:?}");
    let total: u64 = ["/accounts/{AccountId} documented", "/accounts/{AccountId}/balances documented"].iter().map(|e| endpoint(&endpoints, e).1).sum();
    assert_eq!(total, 24, "{endpoints:?}");

    // A reload that adds a spec keeps the baselines and the inventory.
    config(d, port, metrics_port, &["ob-uk/account-info-openapi.yaml", "ob-uk/payment-initiation-openapi.yaml"]);
    let mark = third.log_len();
    third.signal("HUP");
    third.wait_for_log_after(mark, "configuration reloaded", Duration::from_secs(10));
    let mark = third.log_len();
    traffic(port, 3);
    await_checkpoint(&third, mark);
    let (consumers, _) = stored(&db);
    assert_eq!(requests_of(&consumers), 27, "after the reload: {consumers:?}");
    assert_eq!(PHASES.iter().sum::<usize>(), 27, "PHASES lists the traffic() calls above");
    // One refused request (403) of the first TPP, to an account template it called already;
    // the final checkpoint of the SIGTERM writes it.
    let token = jwt(&format!(r#"{{"client_id":"{}","sub":"psu-0"}}"#, TPPS[0]));
    let locked = format!("http://127.0.0.1:{port}{BASE}/accounts/acc-locked");
    assert_eq!(curl(&locked, &[format!("Host: {HOST}"), format!("Authorization: Bearer {token}")]), 403);
    std::thread::sleep(Duration::from_millis(300));
    let (status, log) = third.stop();
    assert!(status.success(), "{log}");

    // The periodic report was written (every 7.2 s of packet time) and the on-demand one
    // renders in a real browser with the store's endpoints on it.
    let out = d.join("report");
    let made = apitap(&["report", "--store", db.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let html = out.join("report.html");
    let console = common::browser::console_messages(&html);
    assert!(console.is_empty(), "console messages: {console:?}");
    let (dom, _) = common::browser::chromium(&html, &["--dump-dom".into()]);
    let page = common::browser::text_of(&dom);
    // Every endpoint with traffic (orphans, the spec's never-called operations, are counted on
    // the page rather than all listed).
    for (key, _) in stored(&db).1.into_iter().filter(|(_, hits)| *hits > 0) {
        let path = key.split(' ').nth(2).unwrap();
        assert!(page.contains(path), "the rendered page does not show {path}");
    }
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("daemon-report.png");
    common::browser::chromium(&html, &[format!("--screenshot={}", shot.display()), "--window-size=1400,2000".into()]);
    assert!(shot.exists(), "no screenshot at {}", shot.display());
    eprintln!("report screenshot: {}", shot.display());
    // The report's consumer table, from the store: requests, errors and distinct endpoints of
    // each TPP as the test sent them.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let top = json["consumers"]["top"].as_array().unwrap_or_else(|| panic!("no consumers.top in report.json: {}", json["consumers"]));
    let templates = templates_per_tpp();
    for (i, tpp) in TPPS.iter().enumerate() {
        let row = top.iter().find(|c| c["label"] == *tpp).unwrap_or_else(|| panic!("{tpp} is not in the report's consumers: {top:?}"));
        let sent: usize = PHASES.iter().map(|n| (0..*n).filter(|k| k % TPPS.len() == i).count()).sum();
        let refused = u64::from(i == 0);
        assert_eq!(row["requests"].as_u64(), Some(sent as u64 + refused), "{tpp}: {row}");
        assert_eq!(row["errors"].as_u64(), Some(refused), "{tpp}: {row}");
        assert_eq!(row["endpoints"].as_u64(), Some(templates[tpp].len() as u64), "{tpp}: {row}");
    }
    assert_eq!(sqlite(&db, &format!("SELECT errors FROM consumers_v WHERE label = '{}'", TPPS[0])), "1");
    let reports = sqlite(&db, "SELECT count(*) FROM reports");
    assert!(reports.parse::<u64>().unwrap() >= 1, "no periodic report was recorded");

    // A data subject's erasure by the value the bank knows (the JWT `sub`), read from standard
    // input: the configuration's key turns it into the stored ids. The TPPs that acted for
    // psu-1, from traffic()'s schedule:
    let served: BTreeSet<usize> = PHASES.iter().flat_map(|n| (0..*n).filter(|i| i % 4 == 1).map(|i| i % TPPS.len())).collect();
    let links = |sql: &str| sqlite(&db, sql).parse::<usize>().unwrap();
    let (rows, customers) = (links("SELECT count(*) FROM consumer_customers"), links("SELECT count(DISTINCT customer_id) FROM consumer_customers"));
    assert_eq!(customers, 4, "psu-0 to psu-3 behind the TPPs");
    let mut purge = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["purge", "--store", db.to_str().unwrap(), "--customer-value", "-", "--config", cfg.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut purge.stdin.take().unwrap(), b"psu-1\n").unwrap();
    let out = purge.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("psu-1"), "the value is not echoed: {text}");
    assert!(text.contains(&format!("customer links deleted     {}", served.len())), "{text}");
    assert_eq!(links("SELECT count(*) FROM consumer_customers"), rows - served.len());
    assert_eq!(links("SELECT count(DISTINCT customer_id) FROM consumer_customers"), customers - 1);
}
