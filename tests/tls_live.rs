//! TLS decryption live on loopback: nginx serves HTTPS (TLS 1.2 on one port, TLS 1.3 on
//! another), curl asks with `SSLKEYLOGFILE` set, and `apitap capture -i lo --tls-keylog` must
//! report each exchange as a decrypted transaction. tshark, decrypting tcpdump's capture of
//! the same traffic with the same key log, is the judge. Needs root (or CAP_NET_RAW), nginx,
//! curl, openssl, tcpdump and tshark: `scripts/install-deps.sh` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{free_port, run_ok as run, start_tcpdump, Proc};

fn start_nginx(dir: &Path, tls12: u16, tls13: u16) -> common::Nginx {
    run(Command::new("openssl").args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]).args([
        "-subj",
        "/CN=api.bank.test",
        "-days",
        "2",
        "-keyout",
        &dir.join("key.pem").display().to_string(),
        "-out",
        &dir.join("cert.pem").display().to_string(),
    ]));
    let locations = r#"
    location = /accounts { return 200 '{"Data":{"Account":[{"AccountId":"22289"}]}}'; }
    location = /payments { return 201 '{"Data":{"ConsentId":"c-1"}}'; }
    location = /missing { return 404 '{"Errors":[]}'; }"#;
    let http = format!(
        r#"  ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;
  server {{
    listen 127.0.0.1:{tls12} ssl; ssl_protocols TLSv1.2;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305;
    {locations}
  }}
  server {{
    listen 127.0.0.1:{tls13} ssl; ssl_protocols TLSv1.3;
    {locations}
  }}"#,
        d = dir.display()
    );
    common::start_nginx(dir, &http)
}

fn start_capture(filter: &str, keylog: &Path, out: &Path) -> Proc {
    Proc(common::spawn_capture(filter, out, &["--tls-keylog".as_ref(), keylog.as_os_str()]))
}

fn curl(keylog: Option<&Path>, args: &[&str]) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-k", "--http1.1", "-o", "/dev/null"]).args(args);
    match keylog {
        Some(k) => cmd.env("SSLKEYLOGFILE", k),
        None => cmd.env_remove("SSLKEYLOGFILE"),
    };
    let status = cmd.status().expect("curl is not installed");
    assert!(status.success(), "curl {args:?} failed");
}

/// (method, uri, status) of each exchange, counted.
type Exchanges = BTreeMap<(String, String, String), usize>;

/// What tshark decrypts from the capture with the key log: each request joined with its
/// response (by the request's frame number).
fn tshark_exchanges(pcap: &Path, keylog: &Path) -> Exchanges {
    let fields = |filter: &str, names: &[&str]| -> Vec<Vec<String>> {
        let mut cmd = Command::new("tshark");
        cmd.arg("-r").arg(pcap).arg("-o").arg(format!("tls.keylog_file:{}", keylog.display()));
        cmd.args(["-o", "http.tls.port:1-65535", "-Y", filter, "-T", "fields"]);
        for n in names {
            cmd.args(["-e", n]);
        }
        run(&mut cmd).lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
    };
    let requests: BTreeMap<String, (String, String)> = fields("http.request", &["frame.number", "http.request.method", "http.request.uri"])
        .into_iter()
        .map(|f| (f[0].clone(), (f[1].clone(), f[2].clone())))
        .collect();
    let mut all = Exchanges::new();
    for f in fields("http.response", &["http.request_in", "http.response.code"]) {
        let (method, uri) = requests.get(&f[0]).unwrap_or_else(|| panic!("response to unknown frame {f:?}")).clone();
        *all.entry((method, uri, f[1].clone())).or_default() += 1;
    }
    all
}

#[test]
fn curl_to_nginx_over_tls12_and_tls13_decrypts_as_tshark_does() {
    let dir = tempfile::tempdir().unwrap();
    let (p12, p13) = (free_port(), free_port());
    let _nginx = start_nginx(dir.path(), p12, p13);
    let keylog = dir.path().join("keys.log");
    fs::write(&keylog, "").unwrap();
    let filter = format!("tcp port {p12} or tcp port {p13}");
    let pcap = dir.path().join("tls.pcap");
    let tcpdump = start_tcpdump(&filter, &pcap);
    let out = dir.path().join("out");
    let mut apitap = start_capture(&filter, &keylog, &out);

    let resolve = |p: u16| format!("api.bank.test:{p}:127.0.0.1");
    let url = |p: u16, path: &str| format!("https://api.bank.test:{p}{path}");
    let k = Some(keylog.as_path());
    let secret = "Bearer tls-live-secret-token";
    // TLS 1.2, AES-128-GCM: two requests on one connection.
    curl(k, &["--resolve", &resolve(p12), "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256", "-H", &format!("Authorization: {secret}"), &url(p12, "/accounts"), "-o", "/dev/null", &url(p12, "/missing")]);
    // TLS 1.2, AES-256-GCM (SHA-384 PRF) and ChaCha20-Poly1305.
    curl(k, &["--resolve", &resolve(p12), "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384", "-d", "{\"Amount\":\"1.00\"}", &url(p12, "/payments")]);
    curl(k, &["--resolve", &resolve(p12), "--ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305", &url(p12, "/accounts")]);
    // TLS 1.3 with each of its suites.
    for suite in ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] {
        curl(k, &["--resolve", &resolve(p13), "--tls13-ciphers", suite, &url(p13, "/accounts")]);
    }
    curl(k, &["--resolve", &resolve(p13), "-d", "{}", &url(p13, "/payments"), "-o", "/dev/null", &url(p13, "/missing")]);
    // A client that writes no keys: metadata only.
    curl(None, &["--resolve", &resolve(p13), &url(p13, "/accounts")]);
    std::thread::sleep(Duration::from_millis(800));
    let _ = Command::new("kill").args(["-TERM", &apitap.0.id().to_string()]).status();
    let status = apitap.0.wait().unwrap();
    assert!(status.success(), "apitap capture exited with {status}");
    tcpdump.stop();

    let text = fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    assert!(!text.contains("tls-live-secret-token"), "an Authorization value reached the output");
    let recs: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut ours = Exchanges::new();
    for r in &recs {
        assert_eq!(r["visibility"], "decrypted", "{r}");
        assert_eq!(r["host"], format!("api.bank.test:{}", r["resp_p"]), "{r}");
        let key = (r["method"].as_str().unwrap().to_string(), r["uri"].as_str().unwrap().to_string(), r["status_code"].to_string());
        *ours.entry(key).or_default() += 1;
    }
    let theirs = tshark_exchanges(&pcap, &keylog);
    assert_eq!(theirs.values().sum::<usize>(), 9, "tshark decrypted {theirs:?}");
    assert_eq!(ours, theirs, "apitap and tshark disagree");
    let first = recs.iter().find(|r| r["uri"] == "/missing" && r["resp_p"] == p12).unwrap();
    assert_eq!(first["trans_depth"], 2, "keep-alive inside TLS");
    assert_eq!(first["auth_scheme"], "Bearer", "the scheme only, read from inside TLS");
    let post = recs.iter().find(|r| r["uri"] == "/payments" && r["resp_p"] == p12).unwrap();
    assert_eq!(post["request_body_len"], "{\"Amount\":\"1.00\"}".len());
    assert_eq!(post["response_body_len"], "{\"Data\":{\"ConsentId\":\"c-1\"}}".len());

    let summary: serde_json::Value = serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let d = &summary["stages"]["tls_decrypt"];
    assert_eq!(d["connections_decrypted"], 7, "{d}");
    assert_eq!(d["connections_without_keys"], 1, "{d}");
    assert_eq!(d["records_failed"], 0, "{d}");
    assert!(summary["stages"]["tls_keylog"]["secrets"].as_u64().unwrap() >= 7, "{summary}");

    // The inventory: one service per port, named as the requests' Host header names it (the
    // SNI with the port), holding both the sessions' facts and the decrypted requests.
    // nginx's certificate is self-signed, which shows in the three TLS 1.2 handshakes and in
    // the four decrypted TLS 1.3 ones (not in the one without keys); each suite asked for was
    // chosen.
    let inv: serde_json::Value = serde_json::from_str(&fs::read_to_string(out.join("inventory.json")).unwrap()).unwrap();
    let service = |port: u16| {
        let host = format!("api.bank.test:{port}");
        inv["services"].as_array().unwrap().iter().find(|s| s["host"] == host.as_str()).unwrap_or_else(|| panic!("no {host}: {inv}")).clone()
    };
    let (s12, s13) = (service(p12), service(p13));
    assert_eq!(inv["services"].as_array().unwrap().len(), 2, "{inv}");
    for (svc, visibility) in [(&s12, serde_json::json!(["decrypted"])), (&s13, serde_json::json!(["decrypted", "metadata"]))] {
        assert!(svc["requests"].as_u64().unwrap() > 0, "{svc}");
        assert_eq!((&svc["visibility"], &svc["decrypted_requests"]), (&visibility, &svc["requests"]), "{svc}");
    }
    let (t12, t13) = (&s12["tls"], &s13["tls"]);
    assert_eq!((t12["sessions"].as_u64(), t12["decrypted_sessions"].as_u64(), t12["metadata_only_sessions"].as_u64()), (Some(3), Some(3), Some(0)), "{t12}");
    assert_eq!((t13["sessions"].as_u64(), t13["decrypted_sessions"].as_u64(), t13["metadata_only_sessions"].as_u64()), (Some(5), Some(4), Some(1)), "{t13}");
    // The certificate was made for two days: it is close to expiry too.
    assert_eq!(t12["findings"], serde_json::json!({"self_signed": 3, "certificate_expiring": 3}), "{t12}");
    assert_eq!(t13["findings"], serde_json::json!({"self_signed": 4, "certificate_expiring": 4}), "{t13}");
    for suite in ["0xc02b", "0xc02c", "0xcca9"] {
        assert_eq!(t12["server_suites"][suite], 1, "{suite}: {t12}");
    }
    for suite in ["0x1301", "0x1303"] {
        assert_eq!(t13["server_suites"][suite], 1, "{suite}: {t13}");
    }
    assert_eq!(t13["server_suites"]["0x1302"], 3, "the explicit one and curl's default twice: {t13}");
}
