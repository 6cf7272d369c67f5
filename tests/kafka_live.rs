//! Live fault test of the Kafka publisher: `apitap capture -i lo` records a steady, paced HTTP
//! load against nginx and publishes every transaction record to a real Kafka-protocol broker
//! (tansu on a durable store, `tests/kafka/broker.rs`). The broker is killed for a stretch in
//! the middle of the load and started again. Then:
//!
//! - the independent reader (confluent-kafka) finds every transaction of the run's
//!   `transactions.jsonl` on the topic exactly once, with the same content, keyed by its
//!   connection, in `trans_depth` order per key; nothing extra;
//! - every request sent was recorded once, and the kernel dropped nothing;
//! - the publisher reported the outage (spooled and replayed messages, a `spooling_started`
//!   event after the broker went away) and delivered everything by the end of the run;
//! - the capture kept pace: compared with an identical run without Kafka, the transactions
//!   recorded per second while the broker was down, and over the whole load, are within 10%,
//!   and no record came out late.
//!
//! Why those measures of "capture never stalled": the load is open-loop (request `i` is sent
//! at `i / RATE` seconds whatever happens), so in a run that keeps up, records reach
//! `transactions.jsonl` at the rate requests are sent. If publishing blocked the capture thread
//! during the outage, the kernel would buffer the packets and records would stop appearing
//! until the broker came back: the count of records that appeared during the outage window
//! would fall, and the time from a request being sent to its record appearing (the lag) would
//! grow to the length of the stall. Kernel drops alone would not show a stall that the kernel
//! buffer absorbs, so the capture runs with a small buffer (`--buffer-mib 4`: the capture
//! process stopped for 6 s in the middle of this load lost thousands of packets) to make a
//! long stall visible as drops too.
//!
//! The load generator is a plain TCP client thread in this test rather than curl or wrk: it
//! sends an exact number of requests on an exact schedule (curl's process start-up makes the
//! pace jitter, wrk sends as fast as it can for a duration, not a fixed count), and each
//! request carries its sequence number, so the test checks each request's record, not just a
//! count.
//!
//! Needs root (or CAP_NET_RAW), nginx, and the broker tools (`scripts/install-deps.sh`,
//! `scripts/install-kafka-tools.sh`, run by the harness when `APITAP_TANSU` and
//! `APITAP_KAFKA_PYTHON` are unset). Takes about a minute and a half.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "kafka/broker.rs"]
mod broker;
mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use broker::{Broker, BrokerOptions};

/// Requests per second the load sends.
const RATE: f64 = 200.0;
/// Requests on each keep-alive connection (so every key carries several messages in order).
const PER_CONNECTION: usize = 5;
/// Seconds of load.
const LOAD_SECS: f64 = 36.0;
/// The broker is down from this second of the load...
const OUTAGE_FROM: f64 = 8.0;
/// ...to this one.
const OUTAGE_TO: f64 = 22.0;
/// Kernel capture buffer of both runs (see the module doc).
const BUFFER_MIB: &str = "4";
/// Longest a record may take from its request being sent to appearing in the output. The
/// capture's own delay is libpcap's 200 ms block timeout; a capture thread waiting for the
/// broker would hold records back for as long as the outage (14 s).
const MAX_LAG: Duration = Duration::from_millis(2500);
const TOPIC: &str = "apitap.transactions";

fn start_nginx(dir: &Path, port: u16) -> common::Nginx {
    let http = format!(
        r#"  keepalive_requests 1000;
  server {{
    listen 127.0.0.1:{port};
    location = /accounts {{ return 200 '{{"Data":{{"Account":[{{"AccountId":"22289","Currency":"GBP"}}]}}}}'; }}
  }}"#
    );
    common::start_nginx(dir, &http)
}

/// A running `apitap capture`, killed if the test ends early; its standard error lines are
/// kept with the time each arrived.
struct Capture {
    child: Child,
    stderr: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Capture {
    fn start(port: u16, out: &Path, extra: &[&str]) -> Capture {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apitap"))
            .args(["capture", "--interface", "lo", "--no-promisc", "--buffer-mib", BUFFER_MIB, "--filter"])
            .arg(format!("tcp port {port}"))
            .arg("--out")
            .arg(out)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let keep = Arc::clone(&stderr);
        // Drains standard error for the whole run, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if line.contains("capturing on lo") {
                    let _ = ready_tx.send(());
                }
                keep.lock().unwrap().push((Instant::now(), line));
            }
        });
        let mut cap = Capture { child, stderr };
        if ready_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = cap.child.kill();
            panic!("apitap capture did not become ready (it needs root or CAP_NET_RAW): {:?}", cap.lines());
        }
        cap
    }

    fn lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().iter().map(|(_, l)| l.clone()).collect()
    }

    /// Stops the capture as an operator would (SIGTERM) and waits for its end-of-run flush.
    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "apitap capture did not stop: {:?}", self.lines());
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "apitap capture exited with {status}: {:?}", self.lines());
    }
}

/// Follows `transactions.jsonl` while the capture writes it and notes when each request's
/// record appeared (requests are told apart by the `seq` in their target).
struct Tail {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<HashMap<usize, Instant>>,
}

fn seq_of(uri: &str) -> Option<usize> {
    uri.strip_prefix("/accounts?seq=")?.parse().ok()
}

impl Tail {
    fn start(path: PathBuf) -> Tail {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut seen = HashMap::new();
            let mut file = None;
            let mut pending = Vec::new();
            loop {
                let last = flag.load(Ordering::Relaxed);
                if file.is_none() {
                    file = fs::File::open(&path).ok();
                }
                if let Some(f) = file.as_mut() {
                    let mut buf = Vec::new();
                    f.read_to_end(&mut buf).unwrap();
                    let now = Instant::now();
                    pending.extend_from_slice(&buf);
                    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        let v: Value = serde_json::from_slice(&line).unwrap();
                        if let Some(seq) = v["uri"].as_str().and_then(seq_of) {
                            seen.entry(seq).or_insert(now);
                        }
                    }
                }
                if last {
                    return seen;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Tail { stop, handle }
    }

    fn finish(self) -> HashMap<usize, Instant> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// Sends `total` requests, `PER_CONNECTION` per connection, request `i` at `start + i / RATE`
/// (or at once when behind), each answered 200. Returns when each was sent.
fn run_load(port: u16, total: usize, start: Instant) -> Vec<Instant> {
    let mut sent = Vec::with_capacity(total);
    let mut seq = 0;
    while seq < total {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_nodelay(true).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        for _ in 0..PER_CONNECTION.min(total - seq) {
            let due = start + Duration::from_secs_f64(seq as f64 / RATE);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let req = format!("GET /accounts?seq={seq} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: apitap-kafka-live\r\nAccept: application/json\r\n\r\n");
            sent.push(Instant::now());
            conn.write_all(req.as_bytes()).unwrap();
            read_response(&mut conn, seq);
            seq += 1;
        }
    }
    sent
}

/// Reads one response with a Content-Length body and checks it is a 200.
fn read_response(conn: &mut TcpStream, seq: usize) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "nginx closed the connection before answering request {seq}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "request {seq}: {head}");
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap_or_else(|| panic!("no Content-Length: {head}"));
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "nginx closed the connection in the body of request {seq}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// What one run produced and how fast.
struct Run {
    records: Vec<Value>,
    summary: Value,
    stderr: Vec<(Instant, String)>,
    start: Instant,
    /// Records that appeared while the broker was down (or, without Kafka, in the same
    /// seconds of the load), per second.
    outage_rate: f64,
    /// Records per second from the first request sent to the last record appearing.
    overall_rate: f64,
    /// Time from each request being sent to its record appearing: median, 99th percentile,
    /// largest.
    lag: (Duration, Duration, Duration),
}

/// One run: capture, load, optionally the broker outage in the middle, stop, measure.
fn run(port: u16, dir: &Path, extra: &[&str], broker: Option<&mut Broker>) -> Run {
    let out = dir.join("out");
    let total = (RATE * LOAD_SECS) as usize;
    let mut cap = Capture::start(port, &out, extra);
    let tail = Tail::start(out.join("transactions.jsonl"));
    let start = Instant::now() + Duration::from_millis(500);
    let load = std::thread::spawn(move || run_load(port, total, start));
    let at = |s: f64| start + Duration::from_secs_f64(s);
    if let Some(b) = broker {
        std::thread::sleep(at(OUTAGE_FROM).saturating_duration_since(Instant::now()));
        b.stop();
        std::thread::sleep(at(OUTAGE_TO).saturating_duration_since(Instant::now()));
        b.restart();
    }
    let sent = load.join().unwrap();
    assert_eq!(sent.len(), total);
    // The last records leave the kernel's ring within its 200 ms block timeout.
    std::thread::sleep(Duration::from_secs(2));
    let appeared = tail.finish();
    cap.stop();

    let text = fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    let records: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary: Value = serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let window = (at(OUTAGE_FROM), at(OUTAGE_TO));
    let in_window = appeared.values().filter(|&&t| t >= window.0 && t < window.1).count();
    let outage_rate = in_window as f64 / (OUTAGE_TO - OUTAGE_FROM);
    let last = appeared.values().max().copied().unwrap_or(start);
    let overall_rate = appeared.len() as f64 / last.duration_since(sent[0]).as_secs_f64();
    let mut lags: Vec<Duration> = appeared.iter().map(|(&seq, &t)| t.saturating_duration_since(sent[seq])).collect();
    lags.sort();
    let pick = |q: f64| lags.get(((lags.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default();
    let stderr = cap.stderr.lock().unwrap().clone();
    Run { records, summary, stderr, start, outage_rate, overall_rate, lag: (pick(0.5), pick(0.99), pick(1.0)) }
}

/// Every request sent has exactly one record, answered 200, and the kernel dropped nothing.
fn check_complete(name: &str, r: &Run, total: usize) {
    let mut seqs: Vec<usize> = r.records.iter().map(|v| v["uri"].as_str().and_then(seq_of).unwrap_or_else(|| panic!("{name}: stray record {v}"))).collect();
    seqs.sort_unstable();
    let expect: Vec<usize> = (0..total).collect();
    if seqs != expect {
        let got: HashSet<usize> = seqs.iter().copied().collect();
        let missing: Vec<usize> = expect.iter().copied().filter(|s| !got.contains(s)).take(20).collect();
        panic!("{name}: {} records for {total} requests; missing (first 20) {missing:?}", seqs.len());
    }
    assert!(r.records.iter().all(|v| v["status_code"] == 200), "{name}: a request was not answered 200");
    assert_eq!(r.summary["transactions"], total as u64, "{name}: {}", r.summary);
    let capture = &r.summary["stages"]["capture"];
    assert!(capture["kernel_received"].as_u64().unwrap() > total as u64 * 2, "{name}: {capture}");
    assert_eq!(capture["kernel_dropped"], 0, "{name}: the kernel dropped packets: {capture}");
    assert_eq!(capture["interface_dropped"], 0, "{name}: {capture}");
}

#[test]
fn a_broker_outage_during_live_capture_loses_nothing_duplicates_nothing_and_never_stalls_capture() {
    let tools = broker::tools();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    // APITAP_KEEP_TEST_DIR=1 keeps the outputs, the broker's log and the spool for a look.
    let _tmp = if std::env::var_os("APITAP_KEEP_TEST_DIR").is_some() {
        eprintln!("test files kept in {}", tmp.keep().display());
        None
    } else {
        Some(tmp)
    };
    fs::set_permissions(dir.as_path(), fs::Permissions::from_mode(0o755)).unwrap();
    let port = broker::free_port();
    let _nginx = start_nginx(&dir.as_path().join("nginx"), port);
    let total = (RATE * LOAD_SECS) as usize;

    // The same load without Kafka: what the capture does on its own.
    let base = run(port, &dir.as_path().join("base"), &[], None);
    check_complete("without Kafka", &base, total);
    assert!(base.summary.get("kafka").is_none());

    let topics = ["apitap.anomalies", "apitap.inventory", "apitap.health", TOPIC];
    let mut broker = Broker::start(
        &tools,
        &dir.as_path().join("broker"),
        BrokerOptions { durable: true, topics: topics.iter().map(|t| (t.to_string(), 3)).collect(), ..BrokerOptions::default() },
    );
    let spool = dir.as_path().join("spool");
    let config = dir.as_path().join("apitap.toml");
    // Every transaction is published. Spooling starts when librdkafka's in-memory queue is
    // full (two seconds of this load), the way a long outage reaches the spool with the
    // defaults too (100,000 messages fill it before the two-minute message timeout at more
    // than 833 messages/s). The message timeout is kept longer than the outage on purpose:
    // after a timeout librdkafka bumps the idempotent producer's epoch on its own, which
    // tansu 0.6.0's SQLite store does not follow (its storage task panics and the broker
    // answers every later produce with UNKNOWN_SERVER_ERROR). A short replay backoff resumes
    // soon after the broker is back.
    fs::write(
        &config,
        format!(
            "[kafka]\npublish_transactions = true\nqueue_max_messages = 400\nmessage_timeout_ms = 60000\nreplay_backoff_ms = 250\n\n[kafka.spool]\ndir = \"{}\"\n",
            spool.display()
        ),
    )
    .unwrap();
    let kafka_args = ["--config", config.to_str().unwrap(), "--kafka-brokers", &broker.bootstrap()];
    let live = run(port, &dir.as_path().join("kafka"), &kafka_args, Some(&mut broker));
    assert_eq!(broker.starts, 2, "the broker was not restarted");
    check_complete("with Kafka", &live, total);

    eprintln!(
        "without Kafka: {:.1} records/s during the outage window, {:.1}/s overall, lag median {:?} p99 {:?} max {:?}",
        base.outage_rate, base.overall_rate, base.lag.0, base.lag.1, base.lag.2
    );
    eprintln!(
        "with Kafka:    {:.1} records/s while the broker was down, {:.1}/s overall, lag median {:?} p99 {:?} max {:?}",
        live.outage_rate, live.overall_rate, live.lag.0, live.lag.1, live.lag.2
    );
    eprintln!("kafka summary: {}", live.summary["kafka"]);
    // The publisher's own lines (events, warnings), each kind once, for the failure messages.
    let mut kinds = HashSet::new();
    let said: Vec<&str> = live
        .stderr
        .iter()
        .map(|(_, l)| l.as_str())
        .filter(|l| l.contains("kafka"))
        .filter(|l| kinds.insert(l.split(',').next().unwrap_or(l).to_string()))
        .collect();
    eprintln!("apitap said ({} lines): {said:#?}", live.stderr.len());

    // Read back with the independent client: each record once, as written, keyed by its
    // connection, in order per key.
    let got = broker::read_back(&tools, &broker.bootstrap(), &[TOPIC], None, total, &broker::ReaderSecurity::default(), dir.as_path());
    let mut by_id: BTreeMap<(String, u64), Vec<&broker::Read>> = BTreeMap::new();
    for m in &got {
        let id = (m.value["uid"].as_str().unwrap_or_default().to_string(), m.value["trans_depth"].as_u64().unwrap_or(0));
        by_id.entry(id).or_default().push(m);
    }
    let dups: Vec<_> = by_id.iter().filter(|(_, v)| v.len() > 1).map(|(k, v)| (k.clone(), v.iter().map(|m| (m.partition, m.offset)).collect::<Vec<_>>())).take(10).collect();
    assert!(dups.is_empty(), "{} messages read for {total} transactions; repeated: {dups:?}", got.len());
    for rec in &live.records {
        let id = (rec["uid"].as_str().unwrap().to_string(), rec["trans_depth"].as_u64().unwrap());
        let m = by_id.remove(&id).unwrap_or_else(|| panic!("transaction {id:?} never reached Kafka ({} of {total} did)", got.len()))[0];
        assert_eq!(m.key, id.0, "the key is the connection uid");
        let mut payload = m.value.clone();
        let sensor = payload.as_object_mut().unwrap().remove("sensor_id");
        assert!(sensor.as_ref().and_then(Value::as_str).is_some_and(|s| !s.is_empty()), "{}", m.value);
        assert_eq!(&payload, rec, "the message differs from the record written");
    }
    assert!(by_id.is_empty(), "messages for transactions that were not recorded: {:?}", by_id.keys().take(10).collect::<Vec<_>>());
    assert_eq!(got.len(), total);
    let mut per_key: HashMap<&str, Vec<(i64, i64, u64)>> = HashMap::new();
    for m in &got {
        per_key.entry(m.key.as_str()).or_default().push((m.partition, m.offset, m.value["trans_depth"].as_u64().unwrap()));
    }
    for (key, mut msgs) in per_key {
        assert!(msgs.iter().all(|m| m.0 == msgs[0].0), "key {key} spread over partitions: {msgs:?}");
        msgs.sort_unstable();
        let depths: Vec<u64> = msgs.iter().map(|m| m.2).collect();
        assert_eq!(depths, (1..=PER_CONNECTION as u64).collect::<Vec<_>>(), "key {key}: trans_depth in offset order");
    }

    // The publisher noticed the outage, spooled, replayed, and had delivered everything by the
    // end of the run.
    let k = &live.summary["kafka"];
    let stats = &k["stats"];
    assert_eq!(k["complete"], true, "{k}");
    assert_eq!(k["left_in_spool"], 0, "{k}");
    assert_eq!(k["dropped"], 0, "{k}");
    assert!(stats["spooled"].as_u64().unwrap() > 0, "nothing was spooled during the outage: {k}");
    assert!(stats["replayed"].as_u64().unwrap() > 0, "nothing was replayed from the spool: {k}");
    assert!(k["delivered"].as_u64().unwrap() >= total as u64, "{k}");
    let down_at = live.start + Duration::from_secs_f64(OUTAGE_FROM);
    let events: Vec<Value> = live
        .stderr
        .iter()
        .filter(|(t, _)| *t >= down_at)
        .filter_map(|(_, l)| l.strip_prefix("kafka: ").and_then(|j| serde_json::from_str(j).ok()))
        .collect();
    assert!(
        events.iter().any(|e| e["event"] == "spooling_started"),
        "no spooling_started event after the broker went down: {:?}",
        live.stderr.iter().map(|(_, l)| l).collect::<Vec<_>>()
    );

    // The capture kept pace with the load while the broker was away, and overall.
    let within = |a: f64, b: f64| (a - b).abs() <= 0.1 * b;
    assert!(
        within(live.outage_rate, base.outage_rate),
        "records/s while the broker was down {:.1}, same window without Kafka {:.1}",
        live.outage_rate,
        base.outage_rate
    );
    assert!(within(live.overall_rate, base.overall_rate), "records/s {:.1} against {:.1} without Kafka", live.overall_rate, base.overall_rate);
    assert!(base.lag.2 <= MAX_LAG, "without Kafka a record took {:?} to appear", base.lag.2);
    assert!(live.lag.2 <= MAX_LAG, "with Kafka a record took {:?} to appear (the capture stalled)", live.lag.2);
}
