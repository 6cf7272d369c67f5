//! HTTP/2 and gRPC live on loopback, captured by `apitap capture -i lo`:
//!
//! - nginx with `http2` on a cleartext port, asked by `curl --http2-prior-knowledge` and by
//!   nghttp (several streams on one connection); the transactions are the ones tshark's HTTP/2
//!   dissector finds in tcpdump's capture of the same traffic;
//! - Apache httpd with `Protocols h2c http/1.1`, asked by `curl --http2`: the connection
//!   upgrades from HTTP/1.1, and the upgrading request is stream 1;
//! - a gRPC server and client (Debian's python3-grpcio, `tests/h2/grpc_peer.py`): unary,
//!   server-streaming and client-streaming calls and a failing one, with the message counts
//!   and sizes the client sent and received;
//! - a capture that starts in the middle of a long HTTP/2 connection (h2load, one stream at a
//!   time): what is recovered, measured against tshark on the whole capture.
//!
//! Needs root (or CAP_NET_RAW), nginx, apache2-bin, curl, nghttp2-client, python3-grpcio,
//! tcpdump and tshark: `scripts/install-deps.sh` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
#[path = "daemon/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::fs;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, run_ok as run, start_tcpdump, Proc};
use serde_json::Value;

/// The tests run one at a time: each starts servers, tcpdump and a capture on loopback, and
/// side by side on two cores they disturbed each other (streams reset by nginx, packets missing
/// from tcpdump's files).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `apitap capture` of `filter` into `out`, and tcpdump of the same into `pcap`.
fn start_both(filter: &str, out: &Path, pcap: &Path) -> (Proc, Proc) {
    let tcpdump = start_tcpdump(filter, pcap);
    let apitap = Proc(common::spawn_capture(filter, out, &[]));
    (apitap, tcpdump)
}

/// Stops the capture (SIGTERM, it flushes) and returns its records.
fn stop(apitap: Proc, tcpdump: Proc, out: &Path) -> Vec<Value> {
    std::thread::sleep(Duration::from_millis(800));
    let mut apitap = apitap;
    let _ = Command::new("kill").args(["-TERM", &apitap.0.id().to_string()]).status();
    let status = apitap.0.wait().unwrap();
    assert!(status.success(), "apitap capture exited with {status}");
    tcpdump.stop();
    let text = fs::read_to_string(out.join("transactions.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn summary(out: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// (method, path, status) of each HTTP/2 stream tshark finds, counted. Its field output puts
/// a packet's frames in one row: the HEADERS frames' stream ids are matched, in order, with
/// the request and response header values the row carries (requests and responses travel in
/// different packets, so one row holds one kind).
fn tshark_streams(pcap: &Path, port: u16) -> BTreeMap<(String, String, String), usize> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap).args(["-d", &format!("tcp.port=={port},http2"), "-Y", "http2.type == 1", "-T", "fields", "-E", "occurrence=a"]);
    for f in ["tcp.stream", "http2.streamid", "http2.type", "http2.headers.method", "http2.headers.path", "http2.headers.status"] {
        cmd.args(["-e", f]);
    }
    let mut requests: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    let mut statuses: BTreeMap<(String, String), String> = BTreeMap::new();
    for line in run(&mut cmd).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let list = |i: usize| -> Vec<&str> { f.get(i).map_or(vec![], |s| s.split(',').filter(|x| !x.is_empty()).collect()) };
        let (ids, types) = (list(1), list(2));
        let headers: Vec<&str> = ids.iter().zip(&types).filter(|(_, t)| **t == "1").map(|(id, _)| *id).collect();
        let (methods, paths, codes) = (list(3), list(4), list(5));
        if !methods.is_empty() {
            assert_eq!((methods.len(), paths.len()), (headers.len(), headers.len()), "unexpected tshark row {line}");
            for ((id, m), p) in headers.iter().zip(methods).zip(paths) {
                requests.insert((f[0].to_string(), id.to_string()), (m.to_string(), p.to_string()));
            }
        } else if !codes.is_empty() {
            assert_eq!(codes.len(), headers.len(), "unexpected tshark row {line}");
            for (id, c) in headers.iter().zip(codes) {
                statuses.insert((f[0].to_string(), id.to_string()), c.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    for (k, (m, p)) in requests {
        let status = statuses.get(&k).cloned().unwrap_or_default();
        *out.entry((m, p, status)).or_default() += 1;
    }
    out
}

/// apitap's streams against tshark's: the same requests (method and path), and the same status
/// wherever tshark has one. tshark reads tcpdump's capture, apitap its own libpcap handle: on a
/// loaded machine tcpdump may lose the packet of a response that apitap saw, and tshark then
/// has the request without a status.
fn agree_with_tshark(ours: &BTreeMap<(String, String, String), usize>, theirs: &BTreeMap<(String, String, String), usize>) {
    let requests = |m: &BTreeMap<(String, String, String), usize>| {
        let mut out: BTreeMap<(String, String), usize> = BTreeMap::new();
        for ((method, path, _), n) in m {
            *out.entry((method.clone(), path.clone())).or_default() += n;
        }
        out
    };
    assert_eq!(requests(ours), requests(theirs), "apitap and tshark disagree on the requests: {ours:?} {theirs:?}");
    for (k, n) in theirs.iter().filter(|(k, _)| !k.2.is_empty()) {
        assert!(ours.get(k).is_some_and(|o| o >= n), "tshark has {n} of {k:?}, apitap {ours:?}");
    }
}

fn ours(recs: &[Value]) -> BTreeMap<(String, String, String), usize> {
    let mut out = BTreeMap::new();
    for r in recs {
        let key = (r["method"].as_str().unwrap_or("").to_string(), r["uri"].as_str().unwrap_or("").to_string(), r["status_code"].as_u64().map_or(String::new(), |c| c.to_string()));
        *out.entry(key).or_default() += 1;
    }
    out
}

/// nginx speaking HTTP/2 on `port`. `/payments` goes through a proxy to a second server on
/// `upstream`, so nginx reads the whole request body before it answers: a `return` answers
/// first and resets the stream, and curl then may never send the body at all.
fn nginx_h2(dir: &Path, port: u16, upstream: u16) -> common::Nginx {
    let temp = dir.join("proxy");
    let http = format!(
        r#"  server {{
    listen 127.0.0.1:{port} http2;
    location = /accounts {{ return 200 '{{"Data":{{"Account":[{{"AccountId":"22289"}}]}}}}'; }}
    location ~ ^/accounts/[0-9]+$ {{ return 200 '{{"Data":{{"Balance":[]}}}}'; }}
    location = /payments {{ proxy_temp_path {temp}; proxy_pass http://127.0.0.1:{upstream}; }}
    location = /missing {{ return 404 '{{"Errors":[]}}'; }}
  }}
  server {{
    listen 127.0.0.1:{upstream};
    location = /payments {{ return 201 '{{"Data":{{"ConsentId":"c-1"}}}}'; }}
  }}"#,
        temp = temp.display()
    );
    common::start_nginx(dir, &http)
}

#[test]
fn curl_and_nghttp_to_nginx_over_prior_knowledge_http2_match_tshark() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nginx = nginx_h2(&dir.path().join("nginx"), port, free_port());
    let filter = format!("tcp port {port}");
    let (out, pcap) = (dir.path().join("out"), dir.path().join("h2.pcap"));
    let (apitap, tcpdump) = start_both(&filter, &out, &pcap);
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let secret = "Bearer h2-live-secret-token";
    run(Command::new("curl").args(["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-H", &format!("Authorization: {secret}"), &url("/accounts")]));
    run(Command::new("curl").args(["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-d", "{\"Amount\":\"1.00\"}", &url("/payments")]));
    // Several streams on one connection.
    run(Command::new("nghttp").args(["-n", &url("/accounts/1"), &url("/accounts/2"), &url("/missing"), &url("/accounts")]));
    let recs = stop(apitap, tcpdump, &out);

    let text = fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    assert!(!text.contains("h2-live-secret-token"), "an Authorization value reached the output");
    let theirs = tshark_streams(&pcap, port);
    assert_eq!(theirs.values().sum::<usize>(), 6, "tshark found {theirs:?}");
    agree_with_tshark(&ours(&recs), &theirs);
    for r in &recs {
        let want = match r["uri"].as_str().unwrap() {
            "/payments" => 201,
            "/missing" => 404,
            _ => 200,
        };
        assert_eq!(r["status_code"], want, "the status nginx is configured to answer: {r}");
        assert_eq!((r["version"].as_str(), r["visibility"].as_str()), (Some("2"), Some("clear")), "{r}");
        assert!(r["http2"]["stream_id"].as_u64().unwrap() % 2 == 1, "client streams are odd: {r}");
    }
    let get = recs.iter().find(|r| r["uri"] == "/accounts" && r["auth_scheme"] == "Bearer").expect("the curl GET");
    assert_eq!(get["response_body_len"], r#"{"Data":{"Account":[{"AccountId":"22289"}]}}"#.len());
    assert_eq!(get["host"], format!("127.0.0.1:{port}"));
    let post = recs.iter().find(|r| r["uri"] == "/payments").unwrap();
    assert_eq!((post["request_body_len"].as_u64(), post["status_code"].as_u64()), (Some("{\"Amount\":\"1.00\"}".len() as u64), Some(201)));
    // nghttp's four streams share one connection: one uid, depths 1 to 4.
    let uids: std::collections::BTreeSet<&str> = recs.iter().filter(|r| r["uri"].as_str().unwrap().starts_with("/accounts/") || r["uri"] == "/missing").map(|r| r["uid"].as_str().unwrap()).collect();
    assert_eq!(uids.len(), 1, "{recs:?}");
    let s = summary(&out);
    assert_eq!(s["stages"]["http2"]["prefaces"], 3, "{}", s["stages"]["http2"]);
    assert_eq!(s["stages"]["http2"]["transactions"], 6, "{}", s["stages"]["http2"]);
}

/// Apache httpd with mod_http2 serving `www` on `port`, h2c upgrades allowed.
struct Apache {
    conf: PathBuf,
}

impl Apache {
    fn start(dir: &Path, port: u16) -> Apache {
        use std::os::unix::fs::PermissionsExt;
        let www = dir.join("www");
        fs::create_dir_all(dir.join("logs")).unwrap();
        fs::create_dir_all(&www).unwrap();
        fs::write(www.join("accounts.json"), r#"{"Data":{"Account":[]}}"#).unwrap();
        for d in [dir, &www] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let m = "/usr/lib/apache2/modules";
        let conf = dir.join("httpd.conf");
        fs::write(
            &conf,
            format!(
                "ServerRoot {d}\nServerName localhost\nPidFile {d}/httpd.pid\nErrorLog {d}/logs/error.log\nListen 127.0.0.1:{port}\n\
                 LoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule authz_core_module {m}/mod_authz_core.so\n\
                 LoadModule http2_module {m}/mod_http2.so\n\
                 Protocols h2c http/1.1\nDocumentRoot {w}\n<Directory {w}>\n  Require all granted\n</Directory>\n",
                d = dir.display(),
                w = www.display()
            ),
        )
        .unwrap();
        run(Command::new("apache2").arg("-f").arg(&conf).args(["-k", "start"]));
        // Apache forks: wait for the port.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Apache { conf }
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = Command::new("apache2").arg("-f").arg(&self.conf).args(["-k", "stop"]).output();
    }
}

#[test]
fn an_h2c_upgrade_continues_as_http2_with_the_upgrading_request_as_stream_1() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _apache = Apache::start(&dir.path().join("apache"), port);
    let filter = format!("tcp port {port}");
    let (out, pcap) = (dir.path().join("out"), dir.path().join("h2c.pcap"));
    let (apitap, tcpdump) = start_both(&filter, &out, &pcap);
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    // curl upgrades the first request; the second goes over the same HTTP/2 connection.
    run(Command::new("curl").args(["-s", "--http2", "-o", "/dev/null", &url("/accounts.json")]));
    let recs = stop(apitap, tcpdump, &out);
    let upgraded = recs.iter().find(|r| r["http2"]["upgraded"] == true).unwrap_or_else(|| panic!("no upgraded stream: {recs:?}"));
    assert_eq!((upgraded["method"].as_str(), upgraded["uri"].as_str(), upgraded["status_code"].as_u64()), (Some("GET"), Some("/accounts.json"), Some(200)), "{upgraded}");
    assert_eq!(upgraded["http2"]["stream_id"], 1);
    assert_eq!(upgraded["response_body_len"], r#"{"Data":{"Account":[]}}"#.len(), "the body came over HTTP/2 DATA");
    // The 101 exchange is not a transaction of its own: stream 1 is that request.
    assert!(recs.iter().all(|r| r["status_code"] != 101), "{recs:?}");
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(summary(&out)["stages"]["http2"]["h2c_upgrades"], 1);
}

/// One call as the gRPC client saw it.
#[derive(Debug)]
struct Call {
    method: String,
    code: u64,
    request: Vec<u64>,
    response: Vec<u64>,
}

#[test]
fn grpc_calls_are_transactions_with_their_service_method_status_and_messages() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/h2/grpc_peer.py");
    let mut server = Proc(
        Command::new("/usr/bin/python3")
            .arg(&script)
            .args(["serve", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with grpcio: run scripts/install-deps.sh"),
    );
    let mut ready = String::new();
    std::io::BufReader::new(server.0.stdout.as_mut().unwrap()).read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "ready", "the gRPC server did not start");
    let filter = format!("tcp port {port}");
    let (out, pcap) = (dir.path().join("out"), dir.path().join("grpc.pcap"));
    let (apitap, tcpdump) = start_both(&filter, &out, &pcap);
    let text = run(Command::new("/usr/bin/python3").arg(&script).args(["call", &port.to_string()]));
    let calls: Vec<Call> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let list = |k: &str| v[k].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
            Call { method: v["method"].as_str().unwrap().to_string(), code: v["code"].as_u64().unwrap(), request: list("request"), response: list("response") }
        })
        .collect();
    assert_eq!(calls.len(), 4, "{text}");
    let recs = stop(apitap, tcpdump, &out);
    drop(server);
    let out_text = fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    assert!(!out_text.contains("grpc-live-secret-token"), "the call's token reached the output");
    for call in &calls {
        let path = format!("/bank.v1.Accounts/{}", call.method);
        let r = recs.iter().find(|r| r["uri"] == path.as_str()).unwrap_or_else(|| panic!("no transaction for {path}: {recs:?}"));
        let g = &r["grpc"];
        assert_eq!((g["service"].as_str(), g["method"].as_str()), (Some("bank.v1.Accounts"), Some(call.method.as_str())), "{r}");
        assert_eq!(g["status"].as_u64(), Some(call.code), "{}: {r}", call.method);
        assert_eq!(g["request_messages"].as_u64(), Some(call.request.len() as u64), "{}: {r}", call.method);
        assert_eq!(g["response_messages"].as_u64(), Some(call.response.len() as u64), "{}: {r}", call.method);
        assert_eq!(g["request_message_bytes"].as_u64(), Some(call.request.iter().sum()), "{}: {r}", call.method);
        assert_eq!(g["response_message_bytes"].as_u64(), Some(call.response.iter().sum()), "{}: {r}", call.method);
        assert_eq!((r["method"].as_str(), r["status_code"].as_u64(), r["auth_scheme"].as_str()), (Some("POST"), Some(200), Some("Bearer")), "{r}");
    }
    let uids: std::collections::BTreeSet<&str> = recs.iter().map(|r| r["uid"].as_str().unwrap()).collect();
    assert_eq!(uids.len(), 1, "one channel, one connection");
    assert_eq!(summary(&out)["stages"]["http2"]["grpc_calls"], 4);
}

#[test]
fn a_capture_joined_mid_connection_recovers_what_hpack_allows() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nginx = nginx_h2(&dir.path().join("nginx"), port, free_port());
    let filter = format!("tcp port {port}");
    let pcap = dir.path().join("long.pcap");
    let uris: String = (1..=60).map(|i| format!("http://127.0.0.1:{port}/accounts/{i}\n")).collect();
    fs::write(dir.path().join("uris.txt"), uris).unwrap();
    // The measurement needs a whole capture of the connection: a recording that lost packets
    // (tcpdump on a loaded machine) is made again.
    let mut whole = BTreeMap::new();
    for _attempt in 0..3 {
        let tcpdump = start_tcpdump(&filter, &pcap);
        // One connection, one stream at a time, a different path each time (a literal the
        // encoder indexes) with the same other headers (indexed from the dynamic table after
        // their first use).
        let load = run(Command::new("h2load").args(["-n", "60", "-c", "1", "-m", "1", "-i"]).arg(dir.path().join("uris.txt")));
        assert!(load.contains("60 succeeded"), "{load}");
        std::thread::sleep(Duration::from_millis(500));
        tcpdump.stop();
        whole = tshark_streams(&pcap, port);
        if whole.values().sum::<usize>() == 60 {
            break;
        }
    }
    assert_eq!(whole.values().sum::<usize>(), 60, "{whole:?}");
    // Drop the first packets: the handshake, the prefaces, SETTINGS and the first requests.
    let cut = dir.path().join("cut.pcap");
    run(Command::new("editcap").args(["-r"]).arg(&pcap).arg(&cut).arg("40-100000"));
    let out = dir.path().join("out");
    let o = common::apitap(&["read".as_ref(), cut.as_os_str(), "--out".as_ref(), out.as_os_str(), "--no-progress".as_ref()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recs: Vec<Value> = fs::read_to_string(out.join("transactions.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let in_cut = tshark_streams(&cut, port);
    // tshark, which also starts with an empty HPACK table, decodes the requests in the cut
    // capture as far as it can; the streams whose request HEADERS are in it are the ones to
    // recover.
    let expected: usize = in_cut.iter().filter(|((m, _, _), _)| !m.is_empty()).map(|(_, n)| *n).sum();
    let recovered: Vec<&Value> = recs.iter().filter(|r| r["method"].is_string() && r["uri"].as_str().is_some_and(|u| u.starts_with("/accounts/"))).collect();
    let partial = recs.iter().filter(|r| r["http2"]["unknown_fields"].as_u64().unwrap_or(0) > 0).count();
    eprintln!(
        "mid-connection join: {} of 60 streams after the cut point; apitap recovered method and path of {} ({} with fields it could not decode), tshark {}",
        recs.len(),
        recovered.len(),
        partial,
        expected
    );
    assert!(recs.len() >= 20, "{recs:?}");
    let tshark_paths: std::collections::BTreeSet<&str> = in_cut.keys().filter(|(m, _, _)| !m.is_empty()).map(|(_, p, _)| p.as_str()).collect();
    let our_paths: std::collections::BTreeSet<&str> = recovered.iter().map(|r| r["uri"].as_str().unwrap()).collect();
    let missed: Vec<&&str> = tshark_paths.difference(&our_paths).collect();
    let unrecovered: Vec<&Value> = recs.iter().filter(|r| !r["method"].is_string()).collect();
    assert!(missed.is_empty(), "apitap did not recover {missed:?} that tshark did; records without a request: {unrecovered:?}");
    // Every recovered path is one the client asked for, and status codes are the server's.
    for r in &recovered {
        let n: u32 = r["uri"].as_str().unwrap().trim_start_matches("/accounts/").parse().unwrap();
        assert!((1..=60).contains(&n), "{r}");
        assert_eq!(r["status_code"], 200, "{r}");
    }
    let s = summary(&out);
    assert!(s["stages"]["http2"]["joins"].as_u64().unwrap() >= 1, "{}", s["stages"]["http2"]);
}

#[test]
fn http2_inside_tls_is_parsed_once_decrypted() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    run(Command::new("openssl").args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=api.bank.test", "-days", "2"]).arg("-keyout").arg(d.join("key.pem")).arg("-out").arg(d.join("cert.pem")));
    let http = format!(
        r#"  ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;
  server {{
    listen 127.0.0.1:{port} ssl http2; ssl_protocols TLSv1.2 TLSv1.3;
    location = /accounts {{ return 200 '{{"Data":{{"Account":[]}}}}'; }}
  }}"#,
        d = d.display()
    );
    let _nginx = common::start_nginx(&d.join("nginx"), &http);
    let keylog = d.join("keys.log");
    fs::write(&keylog, "").unwrap();
    let out = d.join("out");
    let filter = format!("tcp port {port}");
    let mut apitap = Proc(common::spawn_capture(&filter, &out, &["--tls-keylog".as_ref(), keylog.as_os_str()]));
    // ALPN h2 (curl's default over TLS), under TLS 1.3 and TLS 1.2.
    for version in ["--tlsv1.3", "--tls-max"] {
        let mut cmd = Command::new("curl");
        cmd.args(["-sk", "--http2", version]);
        if version == "--tls-max" {
            cmd.arg("1.2");
        }
        cmd.args(["--resolve", &format!("api.bank.test:{port}:127.0.0.1"), "-o", "/dev/null", &format!("https://api.bank.test:{port}/accounts")]).env("SSLKEYLOGFILE", &keylog);
        run(&mut cmd);
    }
    std::thread::sleep(Duration::from_millis(800));
    let _ = Command::new("kill").args(["-TERM", &apitap.0.id().to_string()]).status();
    assert!(apitap.0.wait().unwrap().success());
    let recs: Vec<Value> = fs::read_to_string(out.join("transactions.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), 2, "{recs:?}");
    for r in &recs {
        assert_eq!((r["method"].as_str(), r["uri"].as_str(), r["status_code"].as_u64()), (Some("GET"), Some("/accounts"), Some(200)), "{r}");
        assert_eq!((r["version"].as_str(), r["visibility"].as_str(), r["http2"]["stream_id"].as_u64()), (Some("2"), Some("decrypted"), Some(1)), "{r}");
        assert_eq!(r["host"], format!("api.bank.test:{port}"));
    }
}

/// A counter of the daemon's metrics endpoint (`name` and its labels as written), 0 when the
/// series is not there.
fn metric(port: u16, series: &str) -> u64 {
    let out = Command::new("curl").args(["-s", &format!("http://127.0.0.1:{port}/metrics")]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse::<f64>().ok())).map_or(0, |v| v as u64)
}

#[test]
fn a_reload_applies_changed_http2_limits_to_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (port, upstream) = (free_port(), free_port());
    let _nginx = nginx_h2(&d.join("nginx"), port, upstream);
    let cfg = harness::config(d, port, "");
    let text = fs::read_to_string(&cfg).unwrap();
    let metrics: u16 = text.split("listen = \"127.0.0.1:").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    let daemon = harness::Daemon::start(&cfg);
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    // Ten streams opened at once on one connection.
    let burst = || {
        let urls: Vec<String> = (1..=10).map(|i| url(&format!("/accounts/{i}"))).collect();
        run(Command::new("nghttp").arg("-n").args(&urls));
    };
    let transactions = "apitap_http_transactions_total ";
    let hits = "apitap_stage_events_total{stage=\"http2\",counter=\"stream_limit_hits\"}";
    let wait_for = |want: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while metric(metrics, transactions) < want {
            assert!(std::time::Instant::now() < deadline, "{} transactions, want {want}", metric(metrics, transactions));
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    burst();
    wait_for(10);
    assert_eq!(metric(metrics, hits), 0, "the default allows 128 streams");

    fs::write(&cfg, format!("{text}\n[http2]\nmax_streams = 1\n")).unwrap();
    let mark = daemon.log_len();
    daemon.signal("HUP");
    daemon.wait_for_log_after(mark, "[http2] limits changed", Duration::from_secs(10));
    burst();
    wait_for(20);
    assert!(metric(metrics, hits) > 0, "one stream at a time: the new connection's other streams hit the limit");
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit {status}; log:\n{log}");
}
