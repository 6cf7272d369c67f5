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

use harness::{apitap, curl, free_port, hash_key, jwt, Daemon};

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

/// A daemon configuration capturing `port` on loopback, with state under `dir`.
fn config(dir: &Path, port: u16, extra: &str) -> std::path::PathBuf {
    let key = hash_key(dir);
    let text = format!(
        "[daemon]\nhash_key_file = \"{key}\"\nlog_format = \"json\"\nshutdown_deadline_secs = 20\n{extra}\n\
         [capture]\ninterface = \"lo\"\npromiscuous = false\nfilter = \"tcp port {port}\"\n\n\
         [store]\npath = \"{state}/apitap.db\"\ncheckpoint_interval_secs = 5\n\n\
         [report]\ndir = \"{state}/reports\"\n",
        key = key.display(),
        state = dir.join("state").display()
    );
    let path = dir.join("apitap.toml");
    std::fs::write(&path, text).unwrap();
    path
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
    let summary = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "run summary")
        .unwrap_or_else(|| panic!("no run summary in:\n{log}"));
    let counts: serde_json::Value = serde_json::from_str(summary["summary"].as_str().unwrap()).unwrap();
    assert_eq!(counts["transactions"], 6, "{counts}");
    for line in log.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
}
