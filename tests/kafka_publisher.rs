//! The Kafka publisher against librdkafka's mock cluster: brokers going down and coming back,
//! librdkafka's queue filling, messages timing out, the spool's bounds and a restart on the
//! same spool. Messages are read back with an rdkafka consumer and checked one by one: each
//! arrives once, and per key in publish order.
//!
//! The mock cluster is for fault handling only; the integration test against a real broker
//! lives with the commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, dead_code, unused_imports)]

#[path = "../src/kafka/mod.rs"]
mod kafka;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kafka::config::{FullPolicy, KafkaConfig};
use kafka::error::FatalKind;
use kafka::publisher::{DropReason, Published, PublisherEvent};
use kafka::{OutMessage, Publisher, Topic};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

const TOPIC: &str = "apitap.anomalies";
const PARTITIONS: i32 = 3;
const KEYS: u32 = 5;

fn cluster() -> MockCluster<'static, DefaultProducerContext> {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic(TOPIC, PARTITIONS, 1).unwrap();
    mock
}

fn config(mock: &MockCluster<'static, DefaultProducerContext>, spool: &Path) -> KafkaConfig {
    let mut cfg = KafkaConfig::with_brokers(&mock.bootstrap_servers());
    cfg.linger_ms = 5;
    cfg.message_timeout_ms = 60_000;
    cfg.replay_backoff_ms = 100;
    cfg.spool.dir = spool.to_path_buf();
    cfg.max_message_bytes = 16_000;
    cfg.spool.segment_bytes = 64 << 10;
    cfg.spool.max_bytes = 64 << 20;
    cfg
}

/// Message `i`: key `k<i mod KEYS>`, payload `<i>` padded to about `pad` bytes.
fn msg(i: u32, pad: usize) -> OutMessage {
    let mut payload = format!("{i:08}");
    payload.push_str(&"-".repeat(pad));
    OutMessage::new(Topic::Anomalies, format!("k{}", i % KEYS), payload)
}

fn index(payload: &[u8]) -> u32 {
    std::str::from_utf8(payload.get(..8).unwrap()).unwrap().parse().unwrap()
}

/// Publishes `range`, returning the longest single `publish` call.
fn publish_all(p: &Publisher, range: std::ops::Range<u32>, pad: usize) -> (Duration, BTreeMap<String, usize>) {
    let mut longest = Duration::ZERO;
    let mut outcomes = BTreeMap::new();
    for i in range {
        let t = Instant::now();
        let r = p.publish(msg(i, pad));
        longest = longest.max(t.elapsed());
        *outcomes.entry(format!("{r:?}")).or_insert(0) += 1;
    }
    (longest, outcomes)
}

/// Reads every message of the topic until `want` arrived and no more come for a second.
fn read_back(mock: &MockCluster<'static, DefaultProducerContext>, want: usize) -> Vec<(String, u32, i32)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", mock.bootstrap_servers())
        .set("group.id", "readback")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let key = String::from_utf8(m.key().unwrap_or_default().to_vec()).unwrap();
                out.push((key, index(m.payload().unwrap_or_default()), m.partition()));
                quiet_since = Instant::now();
            }
            Some(Err(e)) => panic!("consumer: {e}"),
            None => {
                if out.len() >= want && quiet_since.elapsed() > Duration::from_secs(1) {
                    break;
                }
            }
        }
    }
    out
}

/// Every index of `expected` exactly once, and per key in increasing order.
fn assert_once_in_order(got: &[(String, u32, i32)], expected: &[u32]) {
    let mut seen: Vec<u32> = got.iter().map(|(_, i, _)| *i).collect();
    seen.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    let dups: Vec<_> = seen.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    assert!(dups.is_empty(), "duplicated: {dups:?}");
    let missing: Vec<_> = want.iter().filter(|i| seen.binary_search(i).is_err()).collect();
    assert!(missing.is_empty(), "{} missing, first {:?}", missing.len(), missing.iter().take(10).collect::<Vec<_>>());
    assert_eq!(seen, want);
    let mut per_key: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    let mut partition_of: BTreeMap<&str, i32> = BTreeMap::new();
    for (k, i, p) in got {
        per_key.entry(k).or_default().push(*i);
        assert_eq!(*partition_of.entry(k).or_insert(*p), *p, "key {k} in two partitions");
        assert_eq!(k, &format!("k{}", i % KEYS), "message {i} under the wrong key");
    }
    for (k, v) in per_key {
        assert!(v.windows(2).all(|w| w[0] < w[1]), "key {k} out of order: {:?}", v.windows(2).find(|w| w[0] >= w[1]));
    }
}

#[test]
fn broker_down_then_up_loses_nothing_duplicates_nothing_and_keeps_order() {
    let mock = cluster();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&mock, dir.path());
    // A small librdkafka queue: the outage fills it and the rest goes to the spool.
    cfg.queue_max_messages = 50;
    let p = Publisher::new(cfg, "test-sensor").unwrap();

    let (_, before) = publish_all(&p, 0..40, 200);
    assert_eq!(before.get("Sent"), Some(&40), "{before:?}");
    assert!(p.flush(Duration::from_secs(20)).complete);
    assert!(!p.stats().spooling);

    mock.broker_down(1).unwrap();
    let started = Instant::now();
    let (longest, during) = publish_all(&p, 40..1100, 200);
    let took = started.elapsed();
    let spooled = *during.get("Spooled").unwrap_or(&0);
    assert_eq!(during.get("Sent").copied().unwrap_or(0) + spooled, 1060, "{during:?}");
    assert!(spooled >= 1000, "{during:?}");
    // The capture path never waited for the broker (its message timeout is a minute); the
    // bound leaves room for a loaded machine.
    assert!(longest < Duration::from_secs(2), "one publish took {longest:?}");
    assert!(took < Duration::from_secs(10), "1000 publishes took {took:?}");
    let mid = p.stats();
    assert!(mid.spooling);
    assert!(mid.queue_full >= 1);
    assert!(mid.spool.records >= 900, "{mid:?}");

    std::thread::sleep(Duration::from_secs(2));
    mock.broker_up(1).unwrap();
    let report = p.flush(Duration::from_secs(60));
    assert!(report.complete, "{report}");
    assert_eq!(report.delivered, 1100);
    assert_eq!(report.left_in_spool, 0);
    assert_eq!(report.dropped, 0);
    let s = p.stats();
    assert!(!s.spooling);
    assert_eq!(s.replayed, spooled as u64);
    assert_eq!(s.spool.bytes, 0);
    let events = p.drain_events();
    assert!(events.iter().any(|e| matches!(e, PublisherEvent::SpoolingStarted { .. })), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, PublisherEvent::SpoolDrained { .. })), "{events:?}");

    let got = read_back(&mock, 1100);
    assert_once_in_order(&got, &(0..1100).collect::<Vec<_>>());
    drop(p);
}

#[test]
fn messages_timing_out_in_an_outage_go_back_in_front_of_the_spool() {
    let mock = cluster();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&mock, dir.path());
    cfg.message_timeout_ms = 1_000;
    cfg.queue_max_messages = 100;
    let p = Publisher::new(cfg, "test-sensor").unwrap();
    assert_eq!(publish_all(&p, 0..20, 50).1.get("Sent"), Some(&20));
    assert!(p.flush(Duration::from_secs(20)).complete);

    mock.broker_down(1).unwrap();
    // 100 fill librdkafka's queue and time out a second later; the 200 after them are
    // already in the spool when they come back, yet must stay behind them.
    let (_, outcomes) = publish_all(&p, 20..320, 50);
    assert_eq!(outcomes.get("Sent"), Some(&100), "{outcomes:?}");
    assert_eq!(outcomes.get("Spooled"), Some(&200), "{outcomes:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.stats().respooled < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = p.stats();
    assert_eq!(s.respooled, 100, "{s:?}");
    assert!(s.spooling);
    assert_eq!(publish_all(&p, 320..350, 50).1.get("Spooled"), Some(&30));
    std::thread::sleep(Duration::from_millis(1500));
    mock.broker_up(1).unwrap();
    let report = p.flush(Duration::from_secs(90));
    assert!(report.complete, "{report}");
    assert_eq!(report.dropped, 0);
    assert_eq!(report.delivered, 350);
    let got = read_back(&mock, 350);
    assert_once_in_order(&got, &(0..350).collect::<Vec<_>>());
    let events = p.drain_events();
    assert!(!events.iter().any(|e| matches!(e, PublisherEvent::DeliveryFatal { .. })), "timeouts are not fatal: {events:?}");
}

#[test]
fn a_new_publisher_on_the_same_spool_sends_what_the_last_one_left() {
    let mock = cluster();
    let dir = tempfile::tempdir().unwrap();
    mock.broker_down(1).unwrap();
    {
        let mut cfg = config(&mock, dir.path());
        cfg.queue_max_messages = 30;
        let p = Publisher::new(cfg, "test-sensor").unwrap();
        let (_, outcomes) = publish_all(&p, 0..300, 100);
        assert_eq!(outcomes.get("Sent"), Some(&30), "{outcomes:?}");
        assert_eq!(outcomes.get("Spooled"), Some(&270), "{outcomes:?}");
        // The broker stays down: shutdown takes back what librdkafka holds.
        let report = p.close(Duration::from_millis(300));
        assert!(!report.complete);
        assert_eq!(report.left_in_spool, 300, "{report}");
        assert_eq!(report.in_flight, 0);
        assert_eq!(report.delivered, 0);
        assert_eq!(report.dropped, 0);
    }
    mock.broker_up(1).unwrap();
    let p = Publisher::new(config(&mock, dir.path()), "test-sensor").unwrap();
    assert!(p.stats().spooling, "starts by replaying the spool");
    // New messages during the replay queue behind the old ones.
    assert_eq!(publish_all(&p, 300..350, 100).1.get("Spooled"), Some(&50));
    let report = p.flush(Duration::from_secs(60));
    assert!(report.complete, "{report}");
    assert_eq!(report.delivered, 350);
    let got = read_back(&mock, 350);
    assert_once_in_order(&got, &(0..350).collect::<Vec<_>>());
    let events = p.drain_events();
    assert!(events.iter().any(|e| matches!(e, PublisherEvent::SpoolingStarted { reason: kafka::publisher::SpoolReason::LeftFromEarlierRun { records: 300 } })), "{events:?}");
}

/// Publishes 2000 messages of about 1 KiB into a 256 KiB spool while the broker is down, then
/// brings it back; returns what was read back and the stats.
fn overflow(policy: FullPolicy) -> (Vec<(String, u32, i32)>, kafka::PublisherStats) {
    let mock = cluster();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&mock, dir.path());
    cfg.queue_max_messages = 10;
    cfg.spool.max_bytes = 256 << 10;
    cfg.spool.full_policy = policy;
    mock.broker_down(1).unwrap();
    let p = Publisher::new(cfg, "test-sensor").unwrap();
    publish_all(&p, 0..2000, 1000);
    let s = p.stats();
    assert!(s.spool.bytes <= 256 << 10, "{s:?}");
    assert!(s.dropped_full > 1500, "{s:?}");
    mock.broker_up(1).unwrap();
    let report = p.flush(Duration::from_secs(60));
    assert!(report.complete, "{report}");
    let s = p.stats();
    assert_eq!(s.delivered + s.dropped_full, 2000, "{s:?}");
    let events = p.drain_events();
    assert!(events.iter().any(|e| matches!(e, PublisherEvent::SpoolFull { policy: pl, .. } if *pl == policy)), "{events:?}");
    (read_back(&mock, s.delivered as usize), s)
}

#[test]
fn a_full_spool_drops_the_oldest_by_default_counted() {
    let (got, s) = overflow(FullPolicy::DropOldest);
    let mut idx: Vec<u32> = got.iter().map(|(_, i, _)| *i).collect();
    idx.sort_unstable();
    // The ten librdkafka held, then the newest run up to the last message.
    let tail_len = s.delivered as u32 - 10;
    let expected: Vec<u32> = (0..10).chain(2000 - tail_len..2000).collect();
    assert_eq!(idx, expected);
    assert_once_in_order(&got, &expected);
}

#[test]
fn a_full_spool_with_drop_newest_keeps_the_start_of_the_outage() {
    let (got, s) = overflow(FullPolicy::DropNewest);
    let expected: Vec<u32> = (0..s.delivered as u32).collect();
    assert_once_in_order(&got, &expected);
}

#[test]
fn a_message_the_broker_refuses_as_too_large_is_dropped_counted_and_reported() {
    let mock = cluster();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&mock, dir.path());
    cfg.retries = 1;
    let p = Publisher::new(cfg, "test-sensor").unwrap();
    // Make sure the producer is connected, then fail the next produce request.
    p.publish(msg(0, 10));
    assert!(p.flush(Duration::from_secs(20)).complete);
    mock.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE]);
    p.publish(msg(1, 10));
    let report = p.flush(Duration::from_secs(20));
    assert!(report.complete, "{report}");
    let s = p.stats();
    assert_eq!(s.failed_fatal, 1, "{s:?}");
    assert_eq!(s.delivered, 1);
    assert!(!s.spooling, "a message-level fatal error does not stop straight sending");
    let events = p.drain_events();
    assert!(
        events.iter().any(|e| matches!(e, PublisherEvent::DeliveryFatal { kind: FatalKind::MessageTooLarge, kept: false, topic: Topic::Anomalies, .. })),
        "{events:?}"
    );
    // And the next message goes through.
    p.publish(msg(2, 10));
    assert!(p.flush(Duration::from_secs(20)).complete);
    let got = read_back(&mock, 2);
    assert_once_in_order(&got, &[0, 2]);
}

#[test]
fn a_missing_topic_drops_its_messages_and_the_other_streams_go_on() {
    let mock = cluster();
    mock.topic_error("apitap.inventory", RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&mock, dir.path());
    // How long librdkafka waits for a missing topic to appear before failing its messages.
    cfg.extra.insert("topic.metadata.propagation.max.ms".into(), kafka::config::ExtraValue::Integer(1000));
    let p = Publisher::new(cfg, "test-sensor").unwrap();
    for i in 0..60 {
        p.publish(msg(i, 20));
        if i % 3 == 0 {
            p.publish(OutMessage::new(Topic::Inventory, "GET /v1/accounts", format!("{i:08}")));
        }
    }
    let report = p.flush(Duration::from_secs(30));
    assert!(report.complete, "{report}");
    let s = report.stats;
    assert_eq!(s.delivered, 60, "{s:?}");
    assert_eq!(s.failed_fatal, 20, "{s:?}");
    assert_eq!(s.spool.records, 0);
    let events = p.drain_events();
    assert!(
        events.iter().any(|e| matches!(e, PublisherEvent::DeliveryFatal { kind: FatalKind::UnknownTopic, kept: false, topic: Topic::Inventory, .. })),
        "{events:?}"
    );
    let got = read_back(&mock, 60);
    assert_once_in_order(&got, &(0..60).collect::<Vec<_>>());
}

#[test]
fn local_limits_drop_before_librdkafka_and_say_why() {
    let mock = cluster();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&mock, dir.path());
    cfg.max_message_bytes = 1_000;
    let p = Publisher::new(cfg, "test-sensor").unwrap();
    assert_eq!(p.publish(msg(0, 2_000)), Published::Dropped(DropReason::TooLarge));
    assert_eq!(p.publish(OutMessage::new(Topic::Transactions, "k", "{}")), Published::Dropped(DropReason::TopicDisabled));
    assert_eq!(p.publish(msg(1, 10)), Published::Sent);
    let report = p.flush(Duration::from_secs(20));
    assert!(report.complete);
    let s = report.stats;
    assert_eq!((s.published, s.dropped_too_large, s.dropped_disabled, s.delivered), (3, 1, 1, 1));
    assert_eq!(report.dropped, 2);
    let events = p.drain_events();
    assert!(events.contains(&PublisherEvent::MessageTooLarge { topic: Topic::Anomalies, bytes: 2_000 + 8 + 2, limit: 1_000 }), "{events:?}");
}

#[test]
fn the_publisher_can_be_shared_between_capture_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Publisher>();
    let mock = cluster();
    let dir = tempfile::tempdir().unwrap();
    let p = std::sync::Arc::new(Publisher::new(config(&mock, dir.path()), "test-sensor").unwrap());
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let p = std::sync::Arc::clone(&p);
            // Message i*5+t has key k<t>: each thread publishes its own key, so per-key order
            // is that thread's order.
            std::thread::spawn(move || {
                for i in 0..100 {
                    p.publish(msg(i * KEYS + t, 50));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(p.flush(Duration::from_secs(30)).complete);
    assert_eq!(p.stats().delivered, 400);
    let got = read_back(&mock, 400);
    let expected: Vec<u32> = (0..100).flat_map(|i| (0..4).map(move |t| i * KEYS + t)).collect();
    assert_once_in_order(&got, &expected);
}

#[test]
fn publisher_new_names_the_layer_that_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = KafkaConfig::with_brokers("127.0.0.1:1");
    cfg.spool.dir = dir.path().to_path_buf();
    cfg.extra.insert("acks".into(), kafka::config::ExtraValue::Text("1".into()));
    let e = Publisher::new(cfg.clone(), "s").unwrap_err().to_string();
    assert!(e.starts_with("kafka configuration: kafka.extra.\"acks\""), "{e}");

    cfg.extra.clear();
    cfg.extra.insert("no.such.setting".into(), kafka::config::ExtraValue::Integer(1));
    let e = Publisher::new(cfg.clone(), "s").unwrap_err().to_string();
    assert!(e.starts_with("kafka client:") && e.contains("no.such.setting"), "{e}");

    cfg.extra.clear();
    let first = Publisher::new(cfg.clone(), "s").unwrap();
    let e = Publisher::new(cfg, "s").unwrap_err().to_string();
    assert!(e.starts_with("kafka spool: cannot lock"), "{e}");
    drop(first);
}

// ---------------------------------------------------------------------------------------------
// A real Kafka-protocol broker (tansu) on loopback, read back by an independent client
// (Python's confluent-kafka, which bundles its own librdkafka). Run with
// `cargo test --test kafka_publisher -- --ignored`; needs `scripts/install-tansu.sh` (or
// APITAP_TANSU naming the binary), confluent-kafka (APITAP_KAFKA_PYTHON naming a Python that
// has it, else `python3`), and openssl and stunnel4 for the TLS test.

/// The reader: consumes the topics from the start in a group with the given librdkafka
/// settings (a JSON object) and prints one JSON line per message once `want` arrived and
/// nothing more came for two seconds.
const PY_READER: &str = r#"
import json, sys, time
from confluent_kafka import Consumer
settings, want, topics = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
settings.update({"group.id": "apitap-readback", "auto.offset.reset": "earliest", "enable.auto.commit": False})
c = Consumer(settings)
c.subscribe(topics)
out, last, deadline = [], time.time(), time.time() + 90
while time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        if len(out) >= want and time.time() - last > 2:
            break
        continue
    if m.error():
        print("reader: %s" % m.error(), file=sys.stderr)
        continue
    last = time.time()
    out.append({"topic": m.topic(), "key": (m.key() or b"").decode(), "index": int(m.value()[:8]), "partition": m.partition(), "ts": m.timestamp()[1]})
c.close()
for o in out:
    print(json.dumps(o))
"#;

struct Tansu {
    bin: std::path::PathBuf,
    port: u16,
    /// The port clients are told to use, if not `port`.
    advertised: Option<u16>,
    store: String,
    /// The broker's working directory (tansu resolves `sqlite://FILE` against it).
    dir: std::path::PathBuf,
    /// Extra broker arguments (`--authentication`).
    args: Vec<String>,
    child: Option<std::process::Child>,
}

impl Tansu {
    fn start(store: &str, dir: &Path) -> Tansu {
        Tansu::start_advertising(store, dir, None)
    }

    /// A broker that advertises `advertised` (a TLS terminator's port) instead of its own.
    fn start_advertising(store: &str, dir: &Path, advertised: Option<u16>) -> Tansu {
        let bin = std::env::var_os("APITAP_TANSU").map(std::path::PathBuf::from).unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/apitap-tools/tansu-0.6.0/bin/tansu")
        });
        assert!(bin.exists(), "{} is missing: run scripts/install-tansu.sh or set APITAP_TANSU", bin.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut t = Tansu { bin, port, advertised, store: store.to_string(), dir: dir.to_path_buf(), args: Vec::new(), child: None };
        t.up();
        t
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn up(&mut self) {
        let child = std::process::Command::new(&self.bin)
            .args(["broker", "--listener-url", &self.url(), "--advertised-listener-url", &format!("tcp://127.0.0.1:{}", self.advertised.unwrap_or(self.port))])
            .args(["--storage-engine", &self.store])
            .args(&self.args)
            .env_remove("CLUSTER_ID")
            .current_dir(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Runs a `tansu` administration command against this broker.
    fn admin(&self, args: &[&str]) {
        let status = std::process::Command::new(&self.bin).args(args).args(["--broker", &self.url()]).status().unwrap();
        assert!(status.success(), "tansu {args:?}");
    }

    fn create_topic(&self, name: &str, partitions: u32) {
        self.admin(&["topic", "create", name, "--partitions", &partitions.to_string()]);
    }

    /// Reads the topics back with confluent-kafka: (topic, key, index, partition, timestamp).
    fn read_back(&self, want: usize, topics: &[&str]) -> Vec<(String, String, u32, i32, i64)> {
        self.read_back_with(serde_json::json!({}), want, topics)
    }

    fn read_back_with(&self, mut settings: serde_json::Value, want: usize, topics: &[&str]) -> Vec<(String, String, u32, i32, i64)> {
        if settings.get("bootstrap.servers").is_none() {
            settings["bootstrap.servers"] = self.bootstrap().into();
        }
        let python = std::env::var_os("APITAP_KAFKA_PYTHON").unwrap_or_else(|| "python3".into());
        let out = std::process::Command::new(python)
            .arg("-c")
            .arg(PY_READER)
            .arg(settings.to_string())
            .arg(want.to_string())
            .args(topics)
            .output()
            .unwrap();
        assert!(out.status.success(), "reader failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["topic"].as_str().unwrap().to_string(),
                    v["key"].as_str().unwrap().to_string(),
                    v["index"].as_u64().unwrap() as u32,
                    v["partition"].as_i64().unwrap() as i32,
                    v["ts"].as_i64().unwrap(),
                )
            })
            .collect()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.down();
    }
}

#[test]
#[ignore = "needs the tansu broker (scripts/install-tansu.sh) and python3 with confluent-kafka"]
fn a_real_broker_gets_every_message_once_in_order_across_its_restart() {
    let data = tempfile::tempdir().unwrap();
    // A store that survives the broker's restart.
    let mut broker = Tansu::start("sqlite://tansu.db", data.path());
    broker.create_topic(TOPIC, 3);
    broker.create_topic("apitap.inventory", 2);

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = KafkaConfig::with_brokers(&broker.bootstrap());
    cfg.linger_ms = 5;
    cfg.message_timeout_ms = 60_000;
    cfg.queue_max_messages = 50;
    cfg.replay_backoff_ms = 200;
    cfg.spool.dir = dir.path().to_path_buf();
    let started_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let p = Publisher::new(cfg, "smoke").unwrap();

    for i in 0..100 {
        p.publish(msg(i, 300));
        p.publish(OutMessage::new(Topic::Inventory, format!("GET /v1/accounts/{}", i % 3), format!("{i:08}")));
    }
    let report = p.flush(Duration::from_secs(60));
    assert!(report.complete, "{report}");
    assert_eq!(report.delivered, 200);

    // The broker goes away; publishing goes on without waiting, into the spool.
    broker.down();
    let t = Instant::now();
    let (longest, outcomes) = publish_all(&p, 100..400, 300);
    // Far below the minute a wait for the broker would take, with room for a loaded machine.
    assert!(longest < Duration::from_secs(2), "one publish took {longest:?}");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(outcomes.get("Spooled").copied().unwrap_or(0) >= 200, "{outcomes:?}");
    std::thread::sleep(Duration::from_secs(2));
    broker.up();
    let report = p.flush(Duration::from_secs(120));
    assert!(report.complete, "{report}");
    assert_eq!(report.delivered, 500);
    assert_eq!(report.dropped, 0);

    let got = broker.read_back(500, &[TOPIC, "apitap.inventory"]);
    let anomalies: Vec<(String, u32, i32)> = got.iter().filter(|g| g.0 == TOPIC).map(|g| (g.1.clone(), g.2, g.3)).collect();
    assert_once_in_order(&anomalies, &(0..400).collect::<Vec<_>>());
    let inventory: Vec<&(String, String, u32, i32, i64)> = got.iter().filter(|g| g.0 == "apitap.inventory").collect();
    assert_eq!(inventory.len(), 100);
    for g in &got {
        assert!(g.4 >= started_ms && g.4 < started_ms + 600_000, "timestamp {} is not the publish time", g.4);
    }
    drop(p);
}

#[test]
#[ignore = "needs the tansu broker (scripts/install-tansu.sh) and python3 with confluent-kafka"]
fn sasl_scram_works_against_a_real_broker_and_a_wrong_password_keeps_the_messages() {
    use kafka::config::{SaslConfig, SaslMechanism};
    let data = tempfile::tempdir().unwrap();
    // Users and topics are made while authentication is off (tansu's own tool cannot log in),
    // then the broker restarts on the same store requiring SCRAM.
    let mut broker = Tansu::start("sqlite://tansu.db", data.path());
    broker.admin(&["user", "create", "apitap", "s3cret-512", "--mechanism", "scram512"]);
    broker.admin(&["user", "create", "apitap256", "s3cret-256", "--mechanism", "scram256"]);
    broker.create_topic(TOPIC, 2);
    broker.down();
    broker.args = vec!["--authentication".into()];
    broker.up();

    let secrets = tempfile::tempdir().unwrap();
    let sasl = |mechanism, user: &str, password: &str| {
        let file = secrets.path().join(user);
        std::fs::write(&file, format!("{password}\n")).unwrap();
        SaslConfig { mechanism, username: user.into(), password_file: Some(file), password_env: None }
    };
    let config = |sasl: SaslConfig, spool: &Path| {
        let mut cfg = KafkaConfig::with_brokers(&broker.bootstrap());
        cfg.linger_ms = 5;
        cfg.message_timeout_ms = 3_000;
        cfg.spool.dir = spool.to_path_buf();
        cfg.sasl = Some(sasl);
        cfg
    };

    let spool = tempfile::tempdir().unwrap();
    let p = Publisher::new(config(sasl(SaslMechanism::ScramSha512, "apitap", "s3cret-512"), spool.path()), "smoke").unwrap();
    publish_all(&p, 0..50, 100);
    let report = p.close(Duration::from_secs(30));
    assert!(report.complete, "SCRAM-SHA-512: {report}");
    assert_eq!(report.delivered, 50);

    let p = Publisher::new(config(sasl(SaslMechanism::ScramSha256, "apitap256", "s3cret-256"), spool.path()), "smoke").unwrap();
    publish_all(&p, 50..100, 100);
    let report = p.close(Duration::from_secs(30));
    assert!(report.complete, "SCRAM-SHA-256: {report}");
    assert_eq!(report.delivered, 50);

    let reader = serde_json::json!({"security.protocol": "sasl_plaintext", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "apitap", "sasl.password": "s3cret-512"});
    let got: Vec<(String, u32, i32)> = broker.read_back_with(reader, 100, &[TOPIC]).into_iter().map(|g| (g.1, g.2, g.3)).collect();
    assert_once_in_order(&got, &(0..100).collect::<Vec<_>>());

    // A wrong password: nothing is delivered, the broker's refusal is reported as an
    // authentication error, and the messages stay in the spool for the next start.
    let wrong = tempfile::tempdir().unwrap();
    let p = Publisher::new(config(sasl(SaslMechanism::ScramSha512, "apitap-wrong", "not-the-password"), wrong.path()), "smoke").unwrap();
    publish_all(&p, 100..120, 100);
    let report = p.flush(Duration::from_secs(6));
    assert!(!report.complete);
    assert_eq!(report.delivered, 0);
    let events = p.drain_events();
    assert!(
        events.iter().any(|e| matches!(e, PublisherEvent::ClientError { fatal: Some(FatalKind::Authentication), .. })),
        "{events:?}"
    );
    let report = p.close(Duration::from_millis(100));
    assert_eq!(report.left_in_spool, 20, "{report}");
    assert_eq!(report.dropped, 0);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs openssl in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A test CA, a server certificate for 127.0.0.1, and a client certificate whose key is
/// encrypted with `key_password`.
fn make_pki(dir: &Path, key_password: &str) {
    let pass = format!("pass:{key_password}");
    openssl(dir, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=apitap test CA"]);
    openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    openssl(dir, &["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "san.ext"]);
    openssl(dir, &["genrsa", "-aes256", "-passout", &pass, "-out", "client.key", "2048"]);
    openssl(dir, &["req", "-new", "-key", "client.key", "-passin", &pass, "-out", "client.csr", "-subj", "/CN=apitap-sensor"]);
    openssl(dir, &["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem", "-days", "1"]);
}

/// stunnel terminating TLS on `accept` (client certificates required) in front of `connect`.
struct Stunnel(std::process::Child);

impl Stunnel {
    fn start(dir: &Path, accept: u16, connect: u16) -> Stunnel {
        let conf = format!(
            "foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{accept}\nconnect = 127.0.0.1:{connect}\ncert = server.pem\nkey = server.key\nCAfile = ca.pem\nverify = 2\n"
        );
        std::fs::write(dir.join("stunnel.conf"), conf).unwrap();
        let child = std::process::Command::new("stunnel4")
            .arg("stunnel.conf")
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", accept)).is_err() {
            assert!(Instant::now() < deadline, "stunnel did not listen on {accept}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Stunnel(child)
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs the tansu broker, confluent-kafka, openssl and stunnel4"]
fn tls_with_a_client_certificate_and_sasl_scram_reach_a_real_broker() {
    use kafka::config::{SaslConfig, SaslMechanism, TlsConfig};
    let data = tempfile::tempdir().unwrap();
    make_pki(data.path(), "key-pass");
    std::fs::write(data.path().join("key.pass"), "key-pass\n").unwrap();
    std::fs::write(data.path().join("sasl.pass"), "s3cret-512\n").unwrap();
    // Users and topics first, then the broker requires SCRAM and is reached only through TLS
    // (tansu 0.6.0 cannot start its own TLS listener: its --cert and --key exclude each other).
    let tls_port = free_port();
    let mut broker = Tansu::start("sqlite://tansu.db", data.path());
    broker.admin(&["user", "create", "apitap", "s3cret-512", "--mechanism", "scram512"]);
    broker.create_topic(TOPIC, 2);
    broker.down();
    broker.advertised = Some(tls_port);
    broker.args = vec!["--authentication".into()];
    broker.up();
    let _tls = Stunnel::start(data.path(), tls_port, broker.port);

    let tls = TlsConfig {
        ca_file: Some(data.path().join("ca.pem")),
        cert_file: Some(data.path().join("client.pem")),
        key_file: Some(data.path().join("client.key")),
        key_password_file: Some(data.path().join("key.pass")),
        verify_hostname: true,
    };
    let sasl = SaslConfig { mechanism: SaslMechanism::ScramSha512, username: "apitap".into(), password_file: Some(data.path().join("sasl.pass")), password_env: None };
    let config = |tls: TlsConfig, spool: &Path| {
        let mut cfg = KafkaConfig::with_brokers(&format!("127.0.0.1:{tls_port}"));
        cfg.linger_ms = 5;
        cfg.message_timeout_ms = 3_000;
        cfg.spool.dir = spool.to_path_buf();
        cfg.tls = Some(tls);
        cfg.sasl = Some(sasl.clone());
        cfg
    };
    let spool = tempfile::tempdir().unwrap();
    let p = Publisher::new(config(tls.clone(), spool.path()), "smoke").unwrap();
    publish_all(&p, 0..100, 100);
    let report = p.close(Duration::from_secs(30));
    assert!(report.complete, "{report}");
    assert_eq!(report.delivered, 100);

    let d = data.path().display();
    let reader = serde_json::json!({
        "bootstrap.servers": format!("127.0.0.1:{tls_port}"),
        "security.protocol": "sasl_ssl", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "apitap", "sasl.password": "s3cret-512",
        "ssl.ca.location": format!("{d}/ca.pem"), "ssl.certificate.location": format!("{d}/client.pem"),
        "ssl.key.location": format!("{d}/client.key"), "ssl.key.password": "key-pass",
    });
    let got: Vec<(String, u32, i32)> = broker.read_back_with(reader, 100, &[TOPIC]).into_iter().map(|g| (g.1, g.2, g.3)).collect();
    assert_once_in_order(&got, &(0..100).collect::<Vec<_>>());

    // Without the client certificate the TLS terminator refuses the connection: nothing is
    // delivered, the failure is reported, and the messages stay in the spool.
    let spool = tempfile::tempdir().unwrap();
    let no_cert = TlsConfig { cert_file: None, key_file: None, key_password_file: None, ..tls };
    let p = Publisher::new(config(no_cert, spool.path()), "smoke").unwrap();
    publish_all(&p, 100..110, 100);
    let report = p.flush(Duration::from_secs(6));
    assert_eq!(report.delivered, 0);
    assert!(p.stats().client_errors > 0);
    let report = p.close(Duration::from_millis(100));
    assert_eq!(report.left_in_spool, 10, "{report}");
}
