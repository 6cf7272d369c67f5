//! Live capture on the loopback interface: a real nginx serves, real curl asks, and
//! `apitap capture -i lo` must report each exchange. Needs root (or CAP_NET_RAW), nginx and
//! curl: `scripts/install-deps.sh` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_nginx(dir: &Path, port: u16) -> common::Nginx {
    fs::create_dir_all(dir.join("www")).unwrap();
    fs::write(dir.join("www/big.json"), format!("[{}]", vec!["{\"k\":\"value\"}"; 3000].join(","))).unwrap();
    let http = format!(
        r#"  gzip on; gzip_types application/json; gzip_min_length 256;
  server {{
    listen 127.0.0.1:{port}; root {d}/www;
    location = /accounts {{ return 200 '{{"Data":{{"Account":[]}}}}'; }}
    location = /payments {{ return 201 '{{"Data":{{"ConsentId":"c-1"}}}}'; }}
    location = /nothing {{ return 204; }}
  }}"#,
        d = dir.display()
    );
    common::start_nginx(dir, &http)
}

/// Kills the capture process if the test ends early (a failed assertion), so no capture is
/// left running.
struct Capture(Child);

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_capture(port: u16, out: &Path) -> Capture {
    Capture(common::spawn_capture(&format!("tcp port {port}"), out, &[]))
}

fn curl(args: &[&str]) {
    let status = Command::new("curl").args(["-s", "-o", "/dev/null"]).args(args).status().expect("curl is not installed");
    assert!(status.success(), "curl {args:?} failed");
}

#[test]
fn captures_real_nginx_and_curl_traffic_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port);
    let out = dir.path().join("out");
    let mut apitap = start_capture(port, &out);
    let base = format!("http://127.0.0.1:{port}");
    let secret = "Bearer eyJhbGciOiJub25lIn0.eyJjbGllbnRfaWQiOiJ0cHAtb25lIn0.live-secret-signature";
    // Two requests on one keep-alive connection, then a POST, a 204, a gzip+chunked body and a
    // credential in the query string.
    curl(&["-H", &format!("Authorization: {secret}"), &format!("{base}/accounts"), "-o", "/dev/null", &format!("{base}/accounts?x=1")]);
    curl(&["-d", "{\"Amount\":\"10.00\"}", "-H", "Content-Type: application/json", &format!("{base}/payments")]);
    curl(&[&format!("{base}/nothing")]);
    curl(&["--compressed", &format!("{base}/big.json")]);
    curl(&[&format!("{base}/accounts?access_token=live-query-secret&page=2")]);
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill").args(["-TERM", &apitap.0.id().to_string()]).status();
    let status = apitap.0.wait().unwrap();
    assert!(status.success(), "apitap capture exited with {status}");

    let text = fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    assert!(!text.contains("live-secret-signature"), "an Authorization value reached the output");
    assert!(!text.contains("live-query-secret"), "a credential in the query string reached the output");
    let recs: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let find = |uri: &str| {
        recs.iter().find(|r| r["uri"] == uri).unwrap_or_else(|| panic!("no transaction for {uri} in {text}"))
    };
    assert_eq!(recs.len(), 6, "{text}");
    let first = find("/accounts");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["status_code"], 200);
    assert_eq!(first["host"], format!("127.0.0.1:{port}"));
    assert_eq!(first["resp_p"], port);
    assert_eq!(first["trans_depth"], 1);
    assert_eq!(first["response_body_len"], "{\"Data\":{\"Account\":[]}}".len());
    assert_eq!(first["auth_scheme"], "Bearer");
    let second = find("/accounts?x=1");
    assert_eq!(second["trans_depth"], 2);
    assert_eq!(second["uid"], first["uid"], "keep-alive requests share a connection");
    let post = find("/payments");
    assert_eq!(post["method"], "POST");
    assert_eq!(post["status_code"], 201);
    assert_eq!(post["request_body_len"], "{\"Amount\":\"10.00\"}".len());
    let empty = find("/nothing");
    assert_eq!(empty["status_code"], 204);
    assert_eq!(empty["response_body_len"], 0);
    let big = find("/big.json");
    assert_eq!(big["status_code"], 200);
    assert!(big["response_body_len"].as_u64().unwrap() > 0);
    let redacted = recs.iter().find(|r| r["uri"].as_str().is_some_and(|u| u.contains("access_token="))).unwrap();
    assert_eq!(redacted["uri"], "/accounts?access_token=REDACTED&page=2");
    // Times come from the kernel's packet timestamps: recent, and the server took some time.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    for r in &recs {
        let ts = r["ts"].as_f64().unwrap();
        assert!(ts > now - 120.0 && ts <= now, "ts {ts} is not packet time (now {now})");
    }
    assert!(recs.iter().all(|r| r["latency_ms"].as_f64().unwrap_or(0.0) > 0.0), "{text}");
    let summary: serde_json::Value = serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["transactions"], 6);
    assert!(summary["stages"]["capture"]["kernel_received"].as_u64().unwrap() > 10);
}

#[test]
fn snaplen_and_count_limit_a_live_capture() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port);
    let out = dir.path().join("out");
    // The handshake, the request and what follows: with a 96-byte snaplen the request is cut
    // (counted as a truncated segment), and after 6 packets the capture stops by itself.
    let child = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["capture", "--interface", "lo", "--no-promisc", "--snaplen", "96", "--count", "6", "--filter"])
        .arg(format!("tcp port {port}"))
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Capture(child);
    let stderr = child.0.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    // A note about the hashing key may come first; the capture line follows.
    let opened = lines.by_ref().take(3).map(|l| l.unwrap()).find(|l| l.contains("snaplen"));
    assert!(opened.as_deref().is_some_and(|l| l.contains("snaplen 96")), "{opened:?}");
    std::thread::spawn(move || for _ in lines {});
    curl(&["-H", "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &format!("http://127.0.0.1:{port}/accounts")]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "--count did not stop the capture");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let summary: serde_json::Value = serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stages"]["input"]["packets"], 6);
    assert!(summary["stages"]["tcp"]["truncated_segments"].as_u64().unwrap() >= 1, "{summary}");
}
