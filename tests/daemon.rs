//! `apitap run`: the daemon's start-up checks, least privilege, signals and logs, on the
//! loopback interface with a real nginx and curl. Needs root (capture, switching users),
//! nginx and curl (scripts/install-deps.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
#[path = "daemon/harness.rs"]
mod harness;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use harness::{apitap, config, curl, free_port, hash_key, jwt, Daemon};

fn nginx(dir: &Path, port: u16) -> common::Nginx {
    let http = format!(
        r#"  server {{
    listen 127.0.0.1:{port};
    location ~ ^/accounts/[^/]+$ {{ return 200 '{{"Data":{{"Account":[{{"AccountId":"a"}}]}}}}'; }}
    location = /accounts {{ return 200 '{{"Data":{{"Account":[]}}}}'; }}
    location = /internal/export {{ return 200 '{{"rows":1}}'; }}
  }}"#
    );
    common::start_nginx(&dir.join("nginx"), &http)
}

fn traffic(port: u16, n: usize) {
    for i in 0..n {
        let token = jwt(&format!(r#"{{"client_id":"tpp-{}","sub":"customer-{i}"}}"#, i % 3));
        let status = curl(&format!("http://127.0.0.1:{port}/accounts/{i}"), &[format!("Authorization: Bearer {token}")]);
        assert_eq!(status, 200);
    }
}

fn status_field(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).map(|v| v.trim().to_string()).unwrap()
}

#[test]
fn bad_start_up_configurations_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No [capture] section.
    std::fs::write(d.join("a.toml"), "[store]\npath = \"/tmp/x.db\"\n").unwrap();
    let out = apitap(&["run", "--config", d.join("a.toml").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("a.toml") && err.contains("[capture]") && err.contains("interface = "), "{err}");
    // No hashing secret anywhere.
    std::fs::write(d.join("b.toml"), "[capture]\ninterface = \"lo\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["run", "--config", d.join("b.toml").to_str().unwrap()])
        .env_remove("APITAP_HASH_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("hash_key_file") && err.contains("openssl rand"), "{err}");
    // A secret every user can read.
    let key = hash_key(d);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(d.join("c.toml"), format!("[daemon]\nhash_key_file = \"{}\"\n[capture]\ninterface = \"lo\"\n", key.display())).unwrap();
    let out = apitap(&["run", "--config", d.join("c.toml").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("chmod 600"), "{err}");
    // A misspelt key in a daemon table names the line and the document.
    std::fs::write(d.join("d.toml"), "[capture]\ninterface = \"lo\"\n\n[store]\ncheckpoint_secs = 60\n").unwrap();
    let out = apitap(&["check-config", d.join("d.toml").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("d.toml:5") && err.contains("checkpoint_secs") && err.contains("docs/daemon.md"), "{err}");
    // A value out of range names the key and the range.
    std::fs::write(d.join("e.toml"), "[capture]\ninterface = \"lo\"\nsnaplen = 10\n").unwrap();
    let out = apitap(&["check-config", d.join("e.toml").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("e.toml:1") && err.contains("[capture] snaplen") && err.contains("262144"), "{err}");
    // An interface that does not exist.
    std::fs::write(d.join("f.toml"), format!("[daemon]\nhash_key_file = \"{}\"\n[capture]\ninterface = \"nosuchif0\"\n", key.display())).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = apitap(&["run", "--config", d.join("f.toml").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("nosuchif0"), "{err}");
}

#[test]
fn drops_to_an_unprivileged_user_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(d.join("state")).unwrap();
    let nobody = std::process::Command::new("id").args(["-u", "nobody"]).output().unwrap();
    let uid = String::from_utf8_lossy(&nobody.stdout).trim().to_string();
    std::process::Command::new("chown").args([uid.as_str(), d.join("state").to_str().unwrap()]).status().unwrap();
    let port = free_port();
    let _nginx = nginx(d, port);
    let cfg = config(d, port, "user = \"nobody\"");
    std::fs::set_permissions(d.join("apitap.toml"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let daemon = Daemon::start(&cfg);
    daemon.wait_for_log("privileges dropped", Duration::from_secs(10));
    let pid = daemon.pid();
    let uids: Vec<String> = status_field(pid, "Uid").split_whitespace().map(String::from).collect();
    assert_eq!(uids, vec![uid.clone(); 4], "real, effective, saved and file-system uid");
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(u64::from_str_radix(&status_field(pid, set), 16).unwrap(), 0, "{set} not empty");
    }
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    traffic(port, 6);
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit {status}; log:\n{log}");
    // JSON log lines, the last summary counting the requests.
    let counts = harness::run_summary(&log);
    assert_eq!(counts["transactions"], 6, "{counts}");
    for line in log.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
}

/// nginx serving TLS 1.3 on `port` with a fresh self-signed certificate for api.bank.test.
fn tls_nginx(dir: &Path, port: u16) -> common::Nginx {
    std::fs::create_dir_all(dir).unwrap();
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=api.bank.test", "-days", "2"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is not installed: run scripts/install-deps.sh");
    assert!(status.success());
    let http = format!(
        r#"  ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;
  server {{
    listen 127.0.0.1:{port} ssl; ssl_protocols TLSv1.3;
    location ~ ^/accounts/[^/]+$ {{ return 200 '{{"Data":{{"Account":[{{"AccountId":"a"}}]}}}}'; }}
  }}"#,
        d = dir.display()
    );
    common::start_nginx(dir, &http)
}

/// One curl invocation over HTTPS (one TLS connection for all `paths`), writing its TLS
/// secrets to `keylog` when given.
fn tls_curl(port: u16, keylog: Option<&Path>, token: &str, paths: &[&str]) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sk", "--resolve", &format!("api.bank.test:{port}:127.0.0.1"), "-H", &format!("Authorization: Bearer {token}")]);
    for p in paths {
        cmd.args(["-o", "/dev/null", &format!("https://api.bank.test:{port}{p}")]);
    }
    match keylog {
        Some(k) => cmd.env("SSLKEYLOGFILE", k),
        None => cmd.env_remove("SSLKEYLOGFILE"),
    };
    assert!(cmd.status().expect("curl is not installed").success(), "curl {paths:?}");
}

#[test]
fn the_daemon_decrypts_with_key_logs_that_appear_in_its_watched_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let _nginx = tls_nginx(&d.join("nginx"), port);
    // The directory exists, empty, when the daemon starts; the gateway's key logs appear in it
    // later, one per rotation. Relative to the configuration file.
    std::fs::create_dir_all(d.join("keys")).unwrap();
    let cfg = config(d, port, "\n[tls]\nkeylog_dir = \"keys\"\n");
    let daemon = Daemon::start(&cfg);
    let token = jwt(r#"{"client_id":"tpp-keyed","sub":"customer-1"}"#);
    // First key log: one connection, two requests. Then a rotation to a second file: one
    // connection, one request. Then a connection whose keys nobody logs.
    tls_curl(port, Some(&d.join("keys/gateway-1.log")), &token, &["/accounts/1", "/accounts/2"]);
    tls_curl(port, Some(&d.join("keys/gateway-2.log")), &token, &["/accounts/3"]);
    tls_curl(port, None, &token, &["/accounts/4"]);
    // Let the key log watcher (200 ms polls) and the capture catch up before stopping.
    std::thread::sleep(Duration::from_secs(2));
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit {status}; log:\n{log}");
    let counts = harness::run_summary(&log);
    let tls = &counts["stages"]["tls_decrypt"];
    assert_eq!((tls["connections_decrypted"].as_u64(), tls["connections_without_keys"].as_u64()), (Some(2), Some(1)), "{counts}");
    assert_eq!(counts["transactions"], 3, "the three requests of the two keyed connections: {counts}");
    let keylog = &counts["stages"]["tls_keylog"];
    assert_eq!((keylog["sessions"].as_u64(), keylog["secrets"].as_u64()), (Some(2), Some(8)), "both files' TLS 1.3 secrets, 4 per connection: {keylog}");
    // Not one secret of the key logs is in the daemon's log.
    for f in ["gateway-1.log", "gateway-2.log"] {
        let text = std::fs::read_to_string(d.join("keys").join(f)).unwrap();
        for secret in text.lines().filter_map(|l| l.split_whitespace().nth(2)) {
            assert!(!log.contains(secret), "a secret of {f} is in the log");
        }
    }
    // The inventory the daemon stored at its last checkpoint says what was decrypted.
    let out = d.join("report");
    let o = apitap(&["report", "--store", d.join("state/apitap.db").to_str().unwrap(), "--out", out.to_str().unwrap(), "--formats", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    // One service: the sessions' SNI with the port, as the requests' Host header names it.
    let host = format!("api.bank.test:{port}");
    let services: Vec<&serde_json::Value> = r["services"].as_array().unwrap().iter().filter(|s| s["host"].as_str().unwrap().starts_with("api.bank.test")).collect();
    assert_eq!(services.len(), 1, "{r}");
    let svc = services[0];
    assert_eq!(svc["host"], host.as_str());
    assert_eq!((svc["requests"].as_u64(), svc["decrypted_requests"].as_u64(), svc["inspectable"].as_bool()), (Some(3), Some(3), Some(true)), "{svc}");
}
