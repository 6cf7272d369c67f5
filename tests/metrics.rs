//! The metrics and health endpoint against real peers: curl as the client, certificates made
//! with the openssl CLI, the exposition checked by promtool and scraped by a real Prometheus
//! server over mutual TLS with a bearer token (Debian's `prometheus` package, installed by
//! scripts/install-deps.sh). The Grafana dashboard's expressions are checked against what the
//! endpoint renders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, dead_code, unused_imports)]

#[path = "../src/metrics/mod.rs"]
mod metrics;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{
    CheckpointMetrics, Health, HealthReason, InterfaceCapture, KafkaMetrics, MemoryBytes, MetricsConfig, MetricsServer, MetricsShared,
    MetricsTls, ProcessMetrics, SensorMetrics, WorkerLoad,
};

const TOKEN: &str = "s3cr3t-token-0123456789abcdef";

/// Certificates for one test: a CA with a server certificate for 127.0.0.1 and a client
/// certificate, and a second, unrelated CA with a client certificate of its own.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    other_client_cert: PathBuf,
    other_client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output().expect("openssl (scripts/install-deps.sh)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn make_pki(dir: &Path) -> Pki {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for ca in ["ca", "other-ca"] {
        let (key, pem, subject) = (format!("{ca}.key"), format!("{ca}.pem"), format!("/CN=apitap-test-{ca}"));
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subject]);
        openssl(dir, &args);
    }
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (who, ca, ext) in [("server", "ca", "server.ext"), ("client", "ca", "client.ext"), ("other-client", "other-ca", "client.ext")] {
        let (key, csr, pem) = (format!("{who}.key"), format!("{who}.csr"), format!("{who}.pem"));
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=apitap-test"]);
        openssl(dir, &args);
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        openssl(dir, &["x509", "-req", "-in", &csr, "-CA", &ca_pem, "-CAkey", &ca_key, "-CAcreateserial", "-out", &pem, "-days", "2", "-extfile", ext]);
        std::fs::set_permissions(dir.join(&key), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Pki {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
        other_client_cert: dir.join("other-client.pem"),
        other_client_key: dir.join("other-client.key"),
    }
}

fn token_file(dir: &Path) -> PathBuf {
    let p = dir.join("token");
    std::fs::write(&p, format!("{TOKEN}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// A sensor with every part populated, each number distinct, and label values that need
/// escaping.
fn populated() -> SensorMetrics {
    let mut m = SensorMetrics {
        interfaces: vec![
            InterfaceCapture { name: "eth1".into(), packets: 123_456, bytes: 98_765_432, kernel_dropped: 17, interface_dropped: 3 },
            InterfaceCapture { name: "weird\"if\\name\nx".into(), packets: 11, bytes: 2222, kernel_dropped: 0, interface_dropped: 1 },
        ],
        flows_active: 4321,
        flows_evicted: 55,
        reassembly_gaps: 66,
        reassembly_gap_bytes: 77_000,
        reassembly_buffer_limit_hits: 8,
        transactions: 99_001,
        findings_open: 12,
        inventory_services: 14,
        consumers_tracked: 1500,
        kafka: Some(KafkaMetrics {
            delivered: 5000,
            failed: BTreeMap::from([("retriable".into(), 21), ("queue_full".into(), 4)]),
            dropped: BTreeMap::from([("too_large".into(), 2)]),
            spooled: 310,
            spool_messages: 30,
            spool_bytes: 40_960,
            queue_messages: 9,
            broker_up: true,
        }),
        memory: MemoryBytes {
            flows: 1 << 20,
            reassembly: 2 << 20,
            http_buffers: 3 << 20,
            inventory: 4 << 20,
            baselines: 5 << 20,
            identity: 6 << 20,
            kafka_queue: 7 << 20,
            spool: 8 << 20,
        },
        workers: vec![WorkerLoad { id: 0, packets: 123_467, busy_seconds: 12.5, queue_drops: 7 }],
        checkpoint: Some(CheckpointMetrics { last_packet_time: Some(1_700_000_000.5), last_duration_seconds: 0.25, completed: 42, failures: 1 }),
        last_packet_time: Some(1_700_000_030.75),
        process: ProcessMetrics { start_time: 1_699_999_000.0, version: "0.1.0".into(), config_reloads: 2, config_last_reload_ok: true },
        ..SensorMetrics::default()
    };
    let stages: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::from([
        ("decode", BTreeMap::from([("depth_limit", 5), ("errors", 6)])),
        ("tcp", BTreeMap::from([("evicted", 55), ("gaps", 66)])),
        ("behaviour", BTreeMap::from([("consumers", 1500)])),
    ]);
    m.set_stages(&stages);
    m.http_events.insert("cl_te_conflict".into(), 7);
    m.http_events.insert("header_limit".into(), 13);
    m.anomalies.insert(("rate_surge".into(), "high".into()), 3);
    m.anomalies.insert(("new_origin".into(), "low".into()), 19);
    m.inventory_endpoints.insert("documented".into(), 120);
    m.inventory_endpoints.insert("shadow".into(), 7);
    m
}

/// What curl got: the status (0 when no HTTP response), the body, the response headers,
/// curl's exit code and its error text.
struct Got {
    status: u16,
    body: String,
    headers: String,
    exit: i32,
    stderr: String,
}

fn curl(url: &str, args: &[&str]) -> Got {
    let dir = tempfile::tempdir().unwrap();
    let (body, headers) = (dir.path().join("body"), dir.path().join("headers"));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "15", "-w", "%{http_code}", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("curl (scripts/install-deps.sh)");
    Got {
        status: String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0),
        body: std::fs::read_to_string(&body).unwrap_or_default(),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        exit: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn start(cfg: &MetricsConfig) -> (MetricsServer, Arc<MetricsShared>) {
    let shared = Arc::new(MetricsShared::new());
    let server = MetricsServer::start(cfg, shared.clone()).unwrap().unwrap();
    (server, shared)
}

fn tls_config(pki: &Pki, client_ca: bool) -> MetricsConfig {
    MetricsConfig {
        listen: "127.0.0.1:0".into(),
        tls: Some(MetricsTls {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: client_ca.then(|| pki.ca.clone()),
        }),
        ..MetricsConfig::default()
    }
}

/// Samples of an exposition: `name{labels}` as written, to the value as written.
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/install-deps.sh)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn mutual_tls_scrape_returns_the_numbers_set_and_passes_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let (server, shared) = start(&tls_config(&pki, true));
    shared.publish(populated());
    let url = format!("https://127.0.0.1:{}/metrics", server.local_addr().port());
    let (ca, cert, key) = (pki.ca.to_str().unwrap(), pki.client_cert.to_str().unwrap(), pki.client_key.to_str().unwrap());
    let got = curl(&url, &["--cacert", ca, "--cert", cert, "--key", key]);
    assert_eq!(got.status, 200, "curl: {}", got.stderr);
    assert!(got.headers.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{}", got.headers);
    let (ok, report) = promtool_check(&got.body);
    assert!(ok, "promtool check metrics refused the exposition:\n{report}\n{}", got.body);
    let s = samples(&got.body);
    let expect = [
        ("apitap_capture_packets_total{interface=\"eth1\"}", "123456"),
        ("apitap_capture_bytes_total{interface=\"eth1\"}", "98765432"),
        ("apitap_capture_kernel_dropped_packets_total{interface=\"eth1\"}", "17"),
        ("apitap_capture_interface_dropped_packets_total{interface=\"weird\\\"if\\\\name\\nx\"}", "1"),
        ("apitap_stage_events_total{stage=\"decode\",counter=\"depth_limit\"}", "5"),
        ("apitap_stage_level{stage=\"behaviour\",counter=\"consumers\"}", "1500"),
        ("apitap_flows_active", "4321"),
        ("apitap_flows_evicted_total", "55"),
        ("apitap_reassembly_gap_bytes_total", "77000"),
        ("apitap_http_transactions_total", "99001"),
        ("apitap_http_events_total{event=\"header_limit\"}", "13"),
        ("apitap_anomalies_total{kind=\"new_origin\",severity=\"low\"}", "19"),
        ("apitap_inventory_endpoints{class=\"shadow\"}", "7"),
        ("apitap_kafka_failed_messages_total{cause=\"retriable\"}", "21"),
        ("apitap_kafka_dropped_messages_total{reason=\"too_large\"}", "2"),
        ("apitap_kafka_spool_bytes", "40960"),
        ("apitap_kafka_broker_up", "1"),
        ("apitap_memory_bytes{component=\"baselines\"}", "5242880"),
        ("apitap_worker_busy_seconds_total{worker=\"0\"}", "12.5"),
        ("apitap_worker_queue_drops_total{worker=\"0\"}", "7"),
        ("apitap_store_last_checkpoint_packet_timestamp_seconds", "1700000000.5"),
        ("apitap_store_checkpoint_failures_total", "1"),
        ("apitap_last_packet_timestamp_seconds", "1700000030.75"),
        ("apitap_build_info{version=\"0.1.0\"}", "1"),
        ("apitap_health_status{status=\"ok\"}", "1"),
        ("apitap_health_status{status=\"failing\"}", "0"),
    ];
    for (k, v) in expect {
        assert_eq!(s.get(k).map(String::as_str), Some(v), "{k} in\n{}", got.body);
    }
    // The endpoint counted this scrape's connection (the response is counted after it is sent).
    assert_eq!(s.get("apitap_endpoint_connections_total").map(String::as_str), Some("1"));
    server.stop();
}

#[test]
fn exposition_of_an_empty_sensor_passes_promtool() {
    let text = metrics::render(&SensorMetrics::default());
    let (ok, report) = promtool_check(&text);
    assert!(ok, "{report}\n{text}");
    // Parts that do not run leave their families out.
    assert!(!text.contains("apitap_kafka_"));
    assert!(!text.contains("apitap_store_"));
}

#[test]
fn client_without_a_certificate_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let (server, shared) = start(&tls_config(&pki, true));
    let url = format!("https://127.0.0.1:{}/metrics", server.local_addr().port());
    let got = curl(&url, &["--cacert", pki.ca.to_str().unwrap()]);
    // No HTTP response at all: the server refuses in the TLS handshake (TLS 1.3 sends the
    // certificate_required alert after the client's Finished, so curl fails on reading).
    assert_eq!(got.status, 0, "a response came: {} {}", got.status, got.body);
    assert!([35, 56].contains(&got.exit), "curl exit {}: {}", got.exit, got.stderr);
    assert!(got.stderr.contains("certificate required") || got.stderr.contains("alert"), "{}", got.stderr);
    let stats = shared.endpoint_stats();
    assert_eq!(stats.refused[1], 1, "tls_handshake refusals: {stats:?}");
    assert_eq!(stats.responses.iter().sum::<u64>(), 0);
}

#[test]
fn certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let (server, shared) = start(&tls_config(&pki, true));
    let url = format!("https://127.0.0.1:{}/health", server.local_addr().port());
    let args = ["--cacert", pki.ca.to_str().unwrap(), "--cert", pki.other_client_cert.to_str().unwrap(), "--key", pki.other_client_key.to_str().unwrap()];
    let got = curl(&url, &args);
    assert_eq!(got.status, 0, "a response came: {}", got.body);
    assert!([35, 56].contains(&got.exit), "curl exit {}: {}", got.exit, got.stderr);
    assert!(got.stderr.contains("unknown ca") || got.stderr.contains("alert"), "{}", got.stderr);
    assert_eq!(shared.endpoint_stats().refused[1], 1);
    // The right certificate on the same server works.
    let good = ["--cacert", pki.ca.to_str().unwrap(), "--cert", pki.client_cert.to_str().unwrap(), "--key", pki.client_key.to_str().unwrap()];
    assert_eq!(curl(&url, &good).status, 200);
}

#[test]
fn bearer_token_good_missing_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let mut cfg = tls_config(&pki, false);
    cfg.bearer_token_file = Some(token_file(dir.path()));
    let (server, shared) = start(&cfg);
    let base = format!("https://127.0.0.1:{}", server.local_addr().port());
    let ca = pki.ca.to_str().unwrap();
    let good_header = format!("Authorization: Bearer {TOKEN}");
    let good = ["--cacert", ca, "-H", good_header.as_str()];

    let got = curl(&format!("{base}/metrics"), &good);
    assert_eq!(got.status, 200, "{}", got.stderr);
    assert!(got.body.contains("# TYPE apitap_capture_packets_total counter"));

    let got = curl(&format!("{base}/metrics"), &["--cacert", ca]);
    assert_eq!(got.status, 401);
    assert!(got.headers.contains("WWW-Authenticate: Bearer realm=\"apitap\"\r\n"), "{}", got.headers);
    assert!(!got.body.contains("apitap_"), "metrics leaked to an unauthenticated client");

    let wrong = format!("Authorization: Bearer {}x", &TOKEN[..TOKEN.len() - 1]);
    let got = curl(&format!("{base}/metrics"), &["--cacert", ca, "-H", &wrong]);
    assert_eq!(got.status, 401);
    assert!(got.headers.contains("error=\"invalid_token\""), "{}", got.headers);
    // The token's prefix alone, and another scheme with the right token, are refused too.
    let prefix = format!("Authorization: Bearer {}", &TOKEN[..10]);
    assert_eq!(curl(&format!("{base}/metrics"), &["--cacert", ca, "-H", &prefix]).status, 401);
    let basic = format!("Authorization: Basic {TOKEN}");
    assert_eq!(curl(&format!("{base}/metrics"), &["--cacert", ca, "-H", &basic]).status, 401);
    // Lower-case scheme is the same scheme (RFC 9110 11.1).
    let lower = format!("Authorization: bearer {TOKEN}");
    assert_eq!(curl(&format!("{base}/metrics"), &["--cacert", ca, "-H", &lower]).status, 200);

    // Unknown paths and methods only after authentication.
    assert_eq!(curl(&format!("{base}/nope"), &["--cacert", ca]).status, 401);
    assert_eq!(curl(&format!("{base}/nope"), &good).status, 404);
    let mut post: Vec<&str> = good.to_vec();
    post.extend(["-X", "DELETE"]);
    let got = curl(&format!("{base}/metrics"), &post);
    assert_eq!(got.status, 405);
    assert!(got.headers.contains("Allow: GET, HEAD\r\n"), "{}", got.headers);

    let stats = shared.endpoint_stats();
    // 200 (x2), 401 (x5), 404, 405 in the order of RESPONSE_CODES: 200 400 401 404 405 431 503.
    assert_eq!(stats.responses, [2, 0, 5, 1, 1, 0, 0]);
}

#[test]
fn unauthenticated_non_loopback_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let mut cfg = tls_config(&pki, false);
    cfg.listen = "0.0.0.0:0".into();
    let err = MetricsServer::start(&cfg, Arc::new(MetricsShared::new())).err().expect("started without authentication");
    assert_eq!(
        err.to_string(),
        "metrics.allow_unauthenticated: 0.0.0.0:0 is not a loopback address and no authentication is configured; \
         set [metrics.tls] client_ca or bearer_token_file, or listen on 127.0.0.1, or set allow_unauthenticated = true to accept this"
    );
    // Plain HTTP off loopback, even with a token (it would travel in clear).
    let plain = MetricsConfig { listen: "0.0.0.0:0".into(), bearer_token_file: Some(token_file(dir.path())), ..MetricsConfig::default() };
    let err = MetricsServer::start(&plain, Arc::new(MetricsShared::new())).err().unwrap();
    assert!(err.to_string().starts_with("metrics.tls: 0.0.0.0:0 is not a loopback address and the endpoint would speak plain HTTP; "), "{err}");
    // Told to, it starts.
    cfg.allow_unauthenticated = true;
    let server = MetricsServer::start(&cfg, Arc::new(MetricsShared::new())).unwrap().unwrap();
    assert!(server.local_addr().ip().is_unspecified());
    server.stop();
}

#[test]
fn bad_files_and_a_busy_port_name_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let start_err = |cfg: &MetricsConfig| MetricsServer::start(cfg, Arc::new(MetricsShared::new())).err().expect("started").to_string();

    std::fs::set_permissions(&pki.server_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = start_err(&tls_config(&pki, true));
    assert!(e.starts_with("metrics.tls.key: ") && e.contains("accessible to every user (mode 644)") && e.contains("chmod 600"), "{e}");
    std::fs::set_permissions(&pki.server_key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut cfg = tls_config(&pki, true);
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    cfg.tls.as_mut().unwrap().cert = junk.clone();
    let e = start_err(&cfg);
    assert!(e.starts_with("metrics.tls.cert: ") && e.contains("holds no certificate"), "{e}");

    let mut cfg = tls_config(&pki, true);
    cfg.tls.as_mut().unwrap().client_ca = Some(dir.path().join("missing-ca.pem"));
    let e = start_err(&cfg);
    assert!(e.starts_with("metrics.tls.client_ca: cannot read ") && e.contains("missing-ca.pem"), "{e}");

    // The client's key with the server's certificate.
    let mut cfg = tls_config(&pki, true);
    cfg.tls.as_mut().unwrap().key = pki.client_key.clone();
    let e = start_err(&cfg);
    assert!(e.starts_with("metrics.tls.cert: ") && e.contains("do not make a usable certificate"), "{e}");

    let (first, _shared) = start(&tls_config(&pki, true));
    let mut cfg = tls_config(&pki, true);
    cfg.listen = first.local_addr().to_string();
    let e = start_err(&cfg);
    assert!(e.starts_with(&format!("metrics.listen: cannot listen on {}: ", first.local_addr())), "{e}");
}

#[test]
fn health_and_ready_status_codes() {
    let cfg = MetricsConfig { listen: "127.0.0.1:0".into(), ..MetricsConfig::default() };
    let (server, shared) = start(&cfg);
    let base = format!("http://127.0.0.1:{}", server.local_addr().port());
    let json = |g: &Got| serde_json::from_str::<serde_json::Value>(&g.body).unwrap();

    let got = curl(&format!("{base}/health"), &[]);
    assert_eq!((got.status, json(&got)["status"].as_str()), (200, Some("ok")));
    let got = curl(&format!("{base}/ready"), &[]);
    assert_eq!((got.status, json(&got)["ready"].as_bool()), (503, Some(false)));

    shared.set_ready(true);
    shared.set_health(Health::from_reasons(vec![HealthReason::KafkaDown], Some(1_700_000_000.0), 60.0));
    let got = curl(&format!("{base}/health"), &[]);
    let v = json(&got);
    assert_eq!(got.status, 200);
    assert_eq!(v["status"], "degraded");
    assert_eq!(v["reasons"], serde_json::json!(["kafka_down"]));
    assert_eq!(v["last_packet_time"], 1_700_000_000.0);
    assert_eq!(curl(&format!("{base}/ready"), &[]).status, 200);

    shared.set_health(Health::from_reasons(vec![HealthReason::CheckpointFailing], None, 61.0));
    let got = curl(&format!("{base}/health"), &[]);
    assert_eq!((got.status, json(&got)["status"].as_str()), (503, Some("failing")));
    assert_eq!(curl(&format!("{base}/ready"), &[]).status, 503);
    // HEAD: the status and length, no body.
    let got = curl(&format!("{base}/health"), &["-I"]);
    assert_eq!(got.status, 503);
    let s = samples(&curl(&format!("{base}/metrics"), &[]).body);
    assert_eq!(s.get("apitap_health_status{status=\"failing\"}").map(String::as_str), Some("1"));
    assert_eq!(s.get("apitap_health_reason{reason=\"checkpoint_failing\"}").map(String::as_str), Some("1"));
    assert_eq!(s.get("apitap_health_reason{reason=\"kafka_down\"}").map(String::as_str), Some("0"));
}

#[test]
fn idle_clients_are_capped_and_cut_off() {
    let cfg = MetricsConfig { listen: "127.0.0.1:0".into(), max_connections: 2, request_timeout_ms: 3000, ..MetricsConfig::default() };
    let (server, shared) = start(&cfg);
    let addr = server.local_addr();
    let url = format!("http://{addr}/metrics");
    // Clients that connect and send half a request line, then nothing: while one waits,
    // another is served at once.
    let mut idle = vec![TcpStream::connect(addr).unwrap()];
    idle[0].write_all(b"GET /met").unwrap();
    let t0 = Instant::now();
    assert_eq!(curl(&url, &[]).status, 200);
    assert!(t0.elapsed() < Duration::from_secs(2), "a waiting client held up another for {:?}", t0.elapsed());
    idle.push(TcpStream::connect(addr).unwrap());
    idle[1].write_all(b"GET /met").unwrap();
    while shared.endpoint_stats().connections < 3 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // A third is closed at once: curl sees no response.
    let got = curl(&url, &[]);
    assert_eq!(got.status, 0, "served past max_connections: {}", got.body);
    assert_eq!(shared.endpoint_stats().refused[0], 1, "connection_limit refusals");
    // The idle ones are cut at request_timeout_ms and the endpoint serves again.
    for s in &mut idle {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let n = s.read_to_end(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "an idle client got an answer");
    }
    assert!(t0.elapsed() < Duration::from_secs(8), "idle clients held on for {:?}", t0.elapsed());
    assert_eq!(curl(&url, &[]).status, 200);
    assert_eq!(shared.endpoint_stats().refused[2], 2, "timeout refusals");
}

#[test]
fn oversized_request_head_gets_431() {
    let cfg = MetricsConfig { listen: "127.0.0.1:0".into(), ..MetricsConfig::default() };
    let (server, _shared) = start(&cfg);
    let url = format!("http://{}/metrics", server.local_addr());
    let big = format!("X-Filler: {}", "a".repeat(9000));
    assert_eq!(curl(&url, &["-H", &big]).status, 431);
    let many: Vec<String> = (0..40).map(|i| format!("X-H{i}: v")).collect();
    let mut args = Vec::new();
    for h in &many {
        args.extend(["-H", h.as_str()]);
    }
    assert_eq!(curl(&url, &args).status, 431);
    // A request that is not HTTP.
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.write_all(b"\x16\x03\x01 not http\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
}

/// A real Prometheus server scrapes the endpoint over TLS with a client certificate and a
/// bearer token; its query API must return the number set.
#[test]
fn prometheus_scrapes_over_mutual_tls_with_a_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let mut cfg = tls_config(&pki, true);
    let token = token_file(dir.path());
    cfg.bearer_token_file = Some(token.clone());
    let (server, shared) = start(&cfg);
    shared.publish(populated());
    let target = server.local_addr();
    let web = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let yml = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: apitap\n    scheme: https\n    \
         authorization:\n      type: Bearer\n      credentials_file: {}\n    tls_config:\n      ca_file: {}\n      cert_file: {}\n      key_file: {}\n    \
         static_configs:\n      - targets: ['{target}']\n",
        token.display(),
        pki.ca.display(),
        pki.client_cert.display(),
        pki.client_key.display()
    );
    let conf = dir.path().join("prometheus.yml");
    std::fs::write(&conf, yml).unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", conf.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address={web}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("prometheus (Debian package prometheus; scripts/install-deps.sh)");
    let query = |q: &str| -> Option<String> {
        let got = curl(&format!("http://{web}/api/v1/query"), &["--data-urlencode", &format!("query={q}")]);
        let v: serde_json::Value = serde_json::from_str(&got.body).ok()?;
        v["data"]["result"][0]["value"][1].as_str().map(String::from)
    };
    let t0 = Instant::now();
    let mut up = None;
    while t0.elapsed() < Duration::from_secs(60) {
        up = query("up{job=\"apitap\"}");
        if up.as_deref() == Some("1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let packets = query("apitap_capture_packets_total{interface=\"eth1\"}");
    let spool = query("apitap_kafka_spool_bytes");
    let _ = prom.kill();
    let _ = prom.wait();
    let log = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    assert_eq!(up.as_deref(), Some("1"), "Prometheus did not scrape the endpoint; its log:\n{log}");
    assert_eq!(packets.as_deref(), Some("123456"));
    assert_eq!(spool.as_deref(), Some("40960"));
    assert_eq!(shared.endpoint_stats().refused[1], 0, "a scrape failed the handshake");
}

/// Every metric name in the dashboard's expressions (and its variables' queries) is a family
/// the endpoint renders for a fully populated sensor.
#[test]
fn dashboard_uses_only_rendered_metrics() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/apitap-dashboard.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let exposition = metrics::render_scrape(&populated(), &Health::default(), &metrics::EndpointStats::default());
    let rendered: BTreeSet<&str> = exposition.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().unwrap()).collect();

    let mut exprs = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                        ("query", serde_json::Value::Object(q)) => out.extend(q.get("query").and_then(|q| q.as_str()).map(String::from)),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dash, &mut exprs);
    assert!(exprs.len() >= 20, "only {} expressions found", exprs.len());
    let mut used = BTreeSet::new();
    for e in &exprs {
        // A metric name: apitap_ then name characters, not inside a quoted label value.
        let mut rest = e.as_str();
        while let Some(i) = rest.find("apitap_") {
            let before_ok = rest[..i].chars().last().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            let name: String = rest[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if before_ok {
                used.insert(name.clone());
            }
            rest = &rest[i + name.len()..];
        }
    }
    let missing: Vec<&String> = used.iter().filter(|n| !rendered.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "the dashboard queries metrics the endpoint does not produce: {missing:?}");
    // The topics the dashboard must cover, by the metric each needs.
    for needed in [
        "apitap_capture_packets_total",
        "apitap_capture_kernel_dropped_packets_total",
        "apitap_stage_events_total",
        "apitap_http_transactions_total",
        "apitap_anomalies_total",
        "apitap_kafka_delivered_messages_total",
        "apitap_kafka_spool_bytes",
        "apitap_memory_bytes",
        "apitap_worker_busy_seconds_total",
        "apitap_worker_queue_drops_total",
        "apitap_store_last_checkpoint_packet_timestamp_seconds",
        "apitap_health_status",
    ] {
        assert!(used.contains(needed), "no panel uses {needed}");
    }
    // A Prometheus data source variable that every panel uses.
    let vars = dash["templating"]["list"].as_array().unwrap();
    assert!(vars.iter().any(|v| v["type"] == "datasource" && v["query"] == "prometheus" && v["name"] == "datasource"));
    for p in dash["panels"].as_array().unwrap() {
        assert_eq!(p["datasource"]["uid"], "${datasource}", "panel {} has its own data source", p["title"]);
    }
}

/// docs/observability.md lists every family the endpoint produces, with its type.
#[test]
fn observability_doc_lists_every_family() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/observability.md")).unwrap();
    let exposition = metrics::render_scrape(&populated(), &Health::default(), &metrics::EndpointStats::default());
    let mut missing = Vec::new();
    for line in exposition.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, kind) = line.split_once(' ').unwrap();
        if !doc.contains(&format!("| `{name}` | {kind} |")) {
            missing.push(format!("{name} ({kind})"));
        }
    }
    assert!(missing.is_empty(), "docs/observability.md does not list: {missing:?}");
}
