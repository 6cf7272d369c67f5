//! `apitap read --tls-keylog` on real TLS captures (OpenSSL s_server and s_client on loopback,
//! `parsers/tests/tls_fixtures/decrypt/`): the HTTP inside each connection comes out as
//! decrypted transactions, the client certificate of a decrypted TLS 1.3 handshake names the
//! consumer, and what cannot be decrypted is counted, never guessed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("parsers/tests/tls_fixtures/decrypt")
}

fn read(case: &str, keylogs: &[PathBuf], out: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apitap"));
    cmd.arg("read").arg(fixtures().join(format!("{case}.pcap"))).args(["--no-progress", "--summary-json", "--out"]).arg(out);
    for k in keylogs {
        cmd.arg("--tls-keylog").arg(k);
    }
    cmd.output().unwrap()
}

fn records(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("transactions.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// The response body length, by Zeek's definition, of what tshark decrypted for a case: the
/// server's plaintext after its head. s_server sends no Content-Length, so the body runs to
/// the close and is counted line by line with a two-byte terminator each (Zeek's
/// `response_body_len`, which apitap reproduces): every bare LF counts one byte more.
fn body_len(case: &str) -> usize {
    let text = std::fs::read_to_string(fixtures().join(format!("{case}.plain"))).unwrap();
    let server: Vec<u8> = text
        .lines()
        .filter_map(|l| l.strip_prefix("s "))
        .flat_map(|h| (0..h.len()).step_by(2).map(move |i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()))
        .collect();
    let head_end = server.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = &server[head_end..];
    let bare_lf = body.iter().enumerate().filter(|(i, b)| **b == b'\n' && (*i == 0 || body[i - 1] != b'\r')).count();
    body.len() + bare_lf
}

#[test]
fn every_aead_suite_gives_the_transaction_inside() {
    for case in ["tls12-aes128gcm", "tls12-aes256gcm", "tls12-chacha", "tls12-mtls", "tls13-aes128gcm", "tls13-aes256gcm", "tls13-chacha", "tls13-mtls"] {
        let dir = tempfile::tempdir().unwrap();
        let out = read(case, &[fixtures().join(format!("{case}.keys"))], dir.path());
        assert!(out.status.success(), "{case}: {}", String::from_utf8_lossy(&out.stderr));
        let recs = records(dir.path());
        assert_eq!(recs.len(), 1, "{case}: {recs:?}");
        let r = &recs[0];
        assert_eq!((r["method"].as_str(), r["uri"].as_str(), r["status_code"].as_u64()), (Some("GET"), Some("/accounts.json"), Some(200)), "{case}");
        assert_eq!(r["host"], "api.bank.test");
        assert_eq!(r["visibility"], "decrypted");
        assert_eq!(r["response_body_len"], body_len(case), "{case}");
        assert!(!std::fs::read_to_string(dir.path().join("transactions.jsonl")).unwrap().contains(&format!("tok-{case}")), "the bearer token leaked");
        let d = &summary(dir.path())["stages"]["tls_decrypt"];
        assert_eq!(d["connections_decrypted"], 1, "{case}: {d}");
        assert_eq!(d["records_failed"], 0);
    }
}

#[test]
fn the_client_certificate_names_the_consumer() {
    // TLS 1.2: the certificate is in the clear; TLS 1.3: it is read once decrypted.
    for case in ["tls12-mtls", "tls13-mtls"] {
        let dir = tempfile::tempdir().unwrap();
        let out = read(case, &[fixtures().join(format!("{case}.keys"))], dir.path());
        assert!(out.status.success());
        let id = &summary(dir.path())["stages"]["identity"];
        // The request also carries a bearer token; the certificate ranks first.
        assert_eq!(id["source_client_cert"], 1, "{case}: {id}");
        assert_eq!(id["source_opaque_token"], 0, "{case}: {id}");
        assert_eq!(id["cert_unparsable"], 0, "{case}: {id}");
    }
    // Without the certificate, the same kind of request is named by its token.
    let dir = tempfile::tempdir().unwrap();
    assert!(read("tls12-aes128gcm", &[fixtures().join("tls12-aes128gcm.keys")], dir.path()).status.success());
    let id = &summary(dir.path())["stages"]["identity"];
    assert_eq!((id["source_client_cert"].as_u64(), id["source_opaque_token"].as_u64()), (Some(0), Some(1)), "{id}");
    // Without keys the certificate stays encrypted: the token (an opaque one) is all there is,
    // and there is no transaction to carry it.
    let dir = tempfile::tempdir().unwrap();
    assert!(read("tls13-mtls", &[], dir.path()).status.success());
    assert!(records(dir.path()).is_empty());
}

#[test]
fn what_cannot_be_decrypted_is_counted() {
    // A CBC suite: no transaction, counted as unsupported.
    let dir = tempfile::tempdir().unwrap();
    assert!(read("tls12-cbc", &[fixtures().join("tls12-cbc.keys")], dir.path()).status.success());
    assert!(records(dir.path()).is_empty());
    let d = &summary(dir.path())["stages"]["tls_decrypt"];
    assert_eq!(d["connections_unsupported_suite"], 1, "{d}");
    assert!(d["undecrypted_bytes"].as_u64().unwrap() > 0);

    // Another session's keys only: counted as without keys.
    let dir = tempfile::tempdir().unwrap();
    assert!(read("tls13-chacha", &[fixtures().join("tls12-chacha.keys")], dir.path()).status.success());
    assert!(records(dir.path()).is_empty());
    assert_eq!(summary(dir.path())["stages"]["tls_decrypt"]["connections_without_keys"], 1);
}

#[test]
fn key_log_errors_name_the_file_and_line_and_never_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.keys");
    let out = read("tls12-chacha", std::slice::from_ref(&missing), &dir.path().join("o1"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope.keys"), "{err}");

    // A bad line among good ones: reported by number, the rest is used.
    let good = std::fs::read_to_string(fixtures().join("tls12-chacha.keys")).unwrap();
    let secret = "f00d".repeat(24);
    let mixed = dir.path().join("mixed.keys");
    std::fs::write(&mixed, format!("# comment\nCLIENT_RANDOM zz {secret}\n{good}")).unwrap();
    let out = read("tls12-chacha", &[mixed], &dir.path().join("o2"));
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mixed.keys:2: ") && err.contains("client random"), "{err}");
    assert!(!err.contains(&secret), "a secret was echoed: {err}");
    assert_eq!(records(&dir.path().join("o2")).len(), 1);
    assert_eq!(summary(&dir.path().join("o2"))["stages"]["tls_keylog"]["lines_malformed"], 1);
}

#[test]
fn the_configuration_files_tls_table_names_key_logs_relative_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures().join("tls13-aes256gcm.keys"), dir.path().join("gw.keys")).unwrap();
    let cfg = dir.path().join("apitap.toml");
    std::fs::write(&cfg, "[tls]\nkeylog_files = [\"gw.keys\"]\nkey_wait_secs = 5\n").unwrap();
    let out = dir.path().join("out");
    let read_with_config = || {
        Command::new(env!("CARGO_BIN_EXE_apitap"))
            .arg("read")
            .arg(fixtures().join("tls13-aes256gcm.pcap"))
            .arg("--config")
            .arg(&cfg)
            .args(["--no-progress", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let run = read_with_config();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(records(&out).len(), 1);
    assert_eq!(records(&out)[0]["visibility"], "decrypted");

    // A value that cannot work is refused with the file, the line and the fix.
    std::fs::write(&cfg, "[tls]\nkeylog_files = [\"gw.keys\"]\n\nkey_wait_secs = 0\n").unwrap();
    let run = read_with_config();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("apitap.toml:4: [tls] key_wait_secs must be 1 to 600"), "{err}");
}

fn inventory(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("inventory.json")).unwrap()).unwrap()
}

/// The inventory's entry of a service.
fn service(out: &Path, host: &str) -> serde_json::Value {
    let inv = inventory(out);
    inv["services"].as_array().unwrap().iter().find(|s| s["host"] == host).unwrap_or_else(|| panic!("no {host} in {inv}")).clone()
}

/// The inventory's TLS facts of a service.
fn tls_facts(out: &Path, host: &str) -> serde_json::Value {
    service(out, host)["tls"].clone()
}

#[test]
fn the_inventory_says_what_was_decrypted_and_what_the_handshake_showed() {
    // Zeek's heise.de trace: TLS 1.2, ECDHE-RSA-AES256-GCM-SHA384, a Let's Encrypt leaf valid
    // until 2021-06-20 seen on 2021-05-11 (40 days before: no expiry finding).
    let z = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps/zeek-oracle/scripts.policy.protocols.ssl.decryption");
    for keyed in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_apitap"));
        cmd.arg("read").arg(z.join("tls12-decryption.pcap")).args(["--no-progress", "--out"]).arg(dir.path());
        if keyed {
            cmd.arg("--tls-keylog").arg(z.join("keylog.txt"));
        }
        assert!(cmd.output().unwrap().status.success());
        let t = tls_facts(dir.path(), "heise.de");
        assert_eq!(t["sessions"], 1);
        assert_eq!((t["decrypted_sessions"].as_u64(), t["metadata_only_sessions"].as_u64()), (Some(u64::from(keyed)), Some(u64::from(!keyed))), "{t}");
        assert_eq!(t["server_suites"], serde_json::json!({"0xc030": 1}));
        let certs = t["certificates"].as_object().unwrap();
        assert_eq!(certs.len(), 1, "{t}");
        let line = certs.keys().next().unwrap();
        assert!(line.starts_with("CN=heise.de (issuer ") && line.contains("CN=R3") && line.contains("valid until 2021-06-20T13:32:15"), "{line}");
        assert!(t.get("findings").is_none(), "{t}");
        // How the service and its endpoints were read: requests only when decrypted.
        let s = service(dir.path(), "heise.de");
        let requests = s["requests"].as_u64().unwrap();
        if keyed {
            assert!(requests > 0, "{s}");
            assert_eq!((s["visibility"].clone(), s["decrypted_requests"].as_u64()), (serde_json::json!(["decrypted"]), Some(requests)), "{s}");
            let inv = inventory(dir.path());
            // The one request, `GET /`, is an HTML page: a non-API endpoint.
            let endpoints: Vec<&serde_json::Value> =
                ["endpoints", "other_endpoints"].iter().flat_map(|k| inv[k].as_array().unwrap()).filter(|e| e["host"] == "heise.de").collect();
            assert!(!endpoints.is_empty(), "{inv}");
            for e in endpoints {
                assert_eq!((e["visibility"].clone(), &e["decrypted_requests"]), (serde_json::json!(["decrypted"]), &e["hits"]), "{e}");
            }
        } else {
            assert_eq!((requests, s["visibility"].clone(), s["inspectable"].as_bool()), (0, serde_json::json!(["metadata"]), Some(false)), "{s}");
        }
    }
}

#[test]
fn a_suppression_by_fingerprint_matches_the_client_of_a_decrypted_connection() {
    // The one request of the capture calls an endpoint its spec does not document: a
    // `shadow_endpoint_use` finding, raised from decrypted traffic.
    let case = "tls13-aes128gcm";
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs/ob-uk/account-info-openapi.yaml");
    let run = |rule: Option<&str>| -> (serde_json::Value, serde_json::Value) {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!("[[spec]]\nfile = \"{}\"\nhosts = [\"api.bank.test\"]\n", spec.display());
        if let Some(ja4) = rule {
            text.push_str(&format!(
                "\n[[suppress]]\nid = \"scanner-client\"\nowner = \"soc@bank.example\"\nreason = \"the red team's tool\"\nexpires = \"2099-12-31\"\nfingerprints = [\"{ja4}\"]\n"
            ));
        }
        let cfg = dir.path().join("apitap.toml");
        std::fs::write(&cfg, text).unwrap();
        let out = dir.path().join("out");
        let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
            .arg("read")
            .arg(fixtures().join(format!("{case}.pcap")))
            .arg("--tls-keylog")
            .arg(fixtures().join(format!("{case}.keys")))
            .arg("--config")
            .arg(&cfg)
            .args(["--no-progress", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(out.join("anomalies.jsonl")).unwrap();
        let findings: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(findings.len(), 1, "{text}");
        // The handshake's facts are on the service as the connection named it (host and port).
        let inv = inventory(&out);
        let tls = inv["services"].as_array().unwrap().iter().find(|s| s["tls"].is_object()).map(|s| s["tls"].clone()).unwrap_or_else(|| panic!("no TLS facts in {inv}"));
        (findings[0].clone(), tls)
    };
    let (finding, tls) = run(None);
    assert_eq!((finding["unmapped"]["kind"].as_str(), finding["unmapped"]["visibility"].as_str()), (Some("shadow_endpoint_use"), Some("decrypted")));
    assert_eq!(finding["status_id"], 1);
    let ja4s: Vec<&String> = tls["ja4"].as_object().unwrap().keys().collect();
    assert_eq!(ja4s.len(), 1, "{tls}");
    let ja4 = ja4s[0].clone();

    let (finding, _) = run(Some(&ja4));
    assert_eq!((finding["status_id"].as_u64(), finding["unmapped"]["suppressed"]["rule"].as_str()), (Some(3), Some("scanner-client")), "{finding}");
    // Another client's fingerprint leaves it alone.
    let other = format!("{}_000000000000_000000000000", ja4.split('_').next().unwrap());
    let (finding, _) = run(Some(&other));
    assert_eq!(finding["status_id"], 1, "{finding}");
    assert!(finding["unmapped"].get("suppressed").is_none());
}
