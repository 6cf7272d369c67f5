//! The Kafka publisher against librdkafka's mock cluster: brokers going down and coming back,
//! librdkafka's queue filling, messages timing out, the spool's bounds and a restart on the
//! same spool. Messages are read back with an rdkafka consumer and checked one by one: each
//! arrives once, and per key in publish order.
//!
//! The mock cluster is for fault handling only. The last tests take the publisher to a real
//! Kafka-protocol broker (tansu, through `tests/kafka/broker.rs`) and read back with an
//! independent client: delivery across a broker restart, SASL SCRAM, TLS with a client
//! certificate. The end-to-end tests of `apitap read` and `apitap capture` live with the
//! commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, dead_code, unused_imports)]

#[path = "../src/kafka/mod.rs"]
mod kafka;

#[path = "kafka/broker.rs"]
mod broker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use broker::{Broker, BrokerOptions, ReaderSecurity, Scram};
use kafka::config::{FullPolicy, KafkaConfig, SaslConfig, SaslMechanism, TlsConfig};
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

type Mock = MockCluster<'static, DefaultProducerContext>;

fn cluster() -> Mock {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic(TOPIC, PARTITIONS, 1).unwrap();
    mock
}

fn config(mock: &Mock, spool: &Path) -> KafkaConfig {
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

/// A mock cluster and a publisher on it with a fresh spool, once `tweak` adjusted the
/// configuration. Bind all three: the spool directory goes when its guard is dropped.
fn mock_publisher(tweak: impl FnOnce(&mut KafkaConfig)) -> (Mock, tempfile::TempDir, Publisher) {
    let mock = cluster();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&mock, dir.path());
    tweak(&mut cfg);
    let p = Publisher::new(cfg, "test-sensor").unwrap();
    (mock, dir, p)
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
fn read_back(mock: &Mock, want: usize) -> Vec<(String, u32, i32)> {
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

/// Every index of `expected` exactly once under key `k<index mod KEYS>`, and per key in
/// increasing order.
fn assert_once_in_order(got: &[(String, u32, i32)], expected: &[u32]) {
    assert_once_in_order_keyed(got, expected, |i| format!("k{}", i % KEYS));
}

/// Every index of `expected` exactly once under the key `key_of` gives it, each key in one
/// partition, and per key in increasing order.
fn assert_once_in_order_keyed(got: &[(String, u32, i32)], expected: &[u32], key_of: impl Fn(u32) -> String) {
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
        assert_eq!(k, &key_of(*i), "message {i} under the wrong key");
    }
    for (k, v) in per_key {
        assert!(v.windows(2).all(|w| w[0] < w[1]), "key {k} out of order: {:?}", v.windows(2).find(|w| w[0] >= w[1]));
    }
}

#[test]
fn broker_down_then_up_loses_nothing_duplicates_nothing_and_keeps_order() {
    // A small librdkafka queue: the outage fills it and the rest goes to the spool.
    let (mock, _dir, p) = mock_publisher(|cfg| cfg.queue_max_messages = 50);

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
    let (mock, _dir, p) = mock_publisher(|cfg| {
        cfg.message_timeout_ms = 1_000;
        cfg.queue_max_messages = 100;
    });
    assert_eq!(publish_all(&p, 0..20, 50).1.get("Sent"), Some(&20));
    assert!(p.flush(Duration::from_secs(20)).complete);

    mock.broker_down(1).unwrap();
    // Up to 100 fill librdkafka's queue and time out a second later; the rest are already in
    // the spool when they come back, yet must stay behind them. On a loaded machine librdkafka
    // may still count a few of the delivered first 20 against its queue for a moment after
    // their reports, so fewer than 100 get in.
    let (_, outcomes) = publish_all(&p, 20..320, 50);
    let sent = outcomes.get("Sent").copied().unwrap_or(0);
    assert!((80..=100).contains(&sent), "{outcomes:?}");
    assert_eq!(outcomes.get("Spooled").copied(), Some(300 - sent), "{outcomes:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.stats().respooled < sent as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = p.stats();
    assert_eq!(s.respooled, sent as u64, "{s:?}");
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
    let (mock, _dir, p) = mock_publisher(|cfg| cfg.retries = 1);
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
    let (_mock, _dir, p) = mock_publisher(|cfg| cfg.max_message_bytes = 1_000);
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
    let (mock, _dir, p) = mock_publisher(|_| {});
    let p = std::sync::Arc::new(p);
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
// A real Kafka-protocol broker (tansu on loopback, tests/kafka/broker.rs) read back by an
// independent client (tests/kafka/read_topics.py: Python's confluent-kafka with its own
// librdkafka). They run with every `cargo test`; the first run on a machine builds the tools
// (scripts/install-kafka-tools.sh), and a test fails, saying why, when they cannot be had.

const INVENTORY: &str = "apitap.inventory";

/// A publisher's configuration for the real broker: `timeout_ms` bounds how long librdkafka
/// tries a message before it goes back to the spool.
fn real_config(bootstrap: &str, spool: &Path, timeout_ms: u32) -> KafkaConfig {
    let mut cfg = KafkaConfig::with_brokers(bootstrap);
    cfg.linger_ms = 5;
    cfg.message_timeout_ms = timeout_ms;
    cfg.spool.dir = spool.to_path_buf();
    cfg
}

/// What the independent reader got on `topic`, as (key, index, partition).
fn indexed(got: &[broker::Read], topic: &str) -> Vec<(String, u32, i32)> {
    got.iter()
        .filter(|r| r.topic == topic)
        .map(|r| {
            let text = r.value.as_str().unwrap_or_else(|| panic!("{topic} offset {}: not a test payload: {}", r.offset, r.value));
            (r.key.clone(), index(text.as_bytes()), i32::try_from(r.partition).unwrap())
        })
        .collect()
}

/// A file holding `secret`, as the configuration's `*_file` settings want it.
fn secret_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path
}

fn scram(mechanism: SaslMechanism, username: &str, password_file: PathBuf) -> SaslConfig {
    SaslConfig { mechanism, username: username.into(), password_file: Some(password_file), password_env: None }
}

#[test]
fn a_real_broker_gets_every_message_once_in_order_across_its_restart() {
    let tools = broker::tools();
    let data = tempfile::tempdir().unwrap();
    // The durable store keeps what was delivered before the restart.
    let opts = BrokerOptions { durable: true, topics: vec![(TOPIC.into(), 3), (INVENTORY.into(), 2)], ..Default::default() };
    let mut b = Broker::start(&tools, data.path(), opts);

    let spool = tempfile::tempdir().unwrap();
    let mut cfg = real_config(&b.bootstrap(), spool.path(), 60_000);
    cfg.queue_max_messages = 50;
    cfg.replay_backoff_ms = 200;
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
    b.stop();
    let t = Instant::now();
    let (longest, outcomes) = publish_all(&p, 100..400, 300);
    // Far below the minute a wait for the broker would take, with room for a loaded machine.
    assert!(longest < Duration::from_secs(2), "one publish took {longest:?}");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(outcomes.get("Spooled").copied().unwrap_or(0) >= 200, "{outcomes:?}");
    std::thread::sleep(Duration::from_secs(2));
    b.restart();
    let report = p.flush(Duration::from_secs(90));
    assert!(report.complete, "{report}\n{}", b.log());
    assert_eq!(report.delivered, 500);
    assert_eq!(report.dropped, 0);
    assert!(p.stats().replayed >= 200, "{:?}", p.stats());

    let got = broker::read_back(&tools, &b.bootstrap(), &[TOPIC, INVENTORY], None, 500, &ReaderSecurity::default(), data.path());
    assert_once_in_order(&indexed(&got, TOPIC), &(0..400).collect::<Vec<_>>());
    assert_once_in_order_keyed(&indexed(&got, INVENTORY), &(0..100).collect::<Vec<_>>(), |i| format!("GET /v1/accounts/{}", i % 3));
    for r in &got {
        let ts = r.timestamp_ms.unwrap_or_else(|| panic!("{} offset {} has no timestamp", r.topic, r.offset));
        assert!(ts >= started_ms && ts < started_ms + 600_000, "timestamp {ts} is not the publish time");
    }
    drop(p);
}

#[test]
fn sasl_scram_works_against_a_real_broker_and_a_wrong_password_keeps_the_messages() {
    let tools = broker::tools();
    let data = tempfile::tempdir().unwrap();
    let users = vec![("apitap".into(), "s3cret-512".into(), Scram::Sha512), ("apitap256".into(), "s3cret-256".into(), Scram::Sha256)];
    let b = Broker::start(&tools, &data.path().join("broker"), BrokerOptions { durable: true, topics: vec![(TOPIC.into(), 2)], users, tls: None });
    let secrets = data.path();
    let config = |sasl: SaslConfig, spool: &Path| {
        let mut cfg = real_config(&b.bootstrap(), spool, 3_000);
        cfg.sasl = Some(sasl);
        cfg
    };

    let spool = tempfile::tempdir().unwrap();
    let sha512 = secret_file(secrets, "apitap.pass", "s3cret-512");
    let p = Publisher::new(config(scram(SaslMechanism::ScramSha512, "apitap", sha512.clone()), spool.path()), "smoke").unwrap();
    publish_all(&p, 0..50, 100);
    let report = p.close(Duration::from_secs(30));
    assert!(report.complete, "SCRAM-SHA-512: {report}");
    assert_eq!(report.delivered, 50);

    let sha256 = secret_file(secrets, "apitap256.pass", "s3cret-256");
    let p = Publisher::new(config(scram(SaslMechanism::ScramSha256, "apitap256", sha256), spool.path()), "smoke").unwrap();
    publish_all(&p, 50..100, 100);
    let report = p.close(Duration::from_secs(30));
    assert!(report.complete, "SCRAM-SHA-256: {report}");
    assert_eq!(report.delivered, 50);

    let reader = ReaderSecurity { sasl: Some(("SCRAM-SHA-512".into(), "apitap".into(), sha512)), ..Default::default() };
    let got = broker::read_back(&tools, &b.bootstrap(), &[TOPIC], None, 100, &reader, data.path());
    assert_once_in_order(&indexed(&got, TOPIC), &(0..100).collect::<Vec<_>>());

    // A wrong password: nothing is delivered, the broker's refusal is reported as an
    // authentication error, and the messages stay in the spool for the next start.
    let wrong = tempfile::tempdir().unwrap();
    let bad = secret_file(secrets, "wrong.pass", "not-the-password");
    let p = Publisher::new(config(scram(SaslMechanism::ScramSha512, "apitap", bad), wrong.path()), "smoke").unwrap();
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

#[test]
fn tls_with_a_client_certificate_and_sasl_scram_reach_a_real_broker() {
    let tools = broker::tools();
    let data = tempfile::tempdir().unwrap();
    let pki = broker::make_pki(&data.path().join("pki"));
    let encrypted_key = pki.encrypted_client_key("key-pass");
    let key_pass = secret_file(data.path(), "key.pass", "key-pass");
    let sasl_pass = secret_file(data.path(), "sasl.pass", "s3cret-512");
    // The broker requires SCRAM and is reached only through TLS requiring a client certificate.
    let opts = BrokerOptions {
        durable: true,
        topics: vec![(TOPIC.into(), 2)],
        users: vec![("apitap".into(), "s3cret-512".into(), Scram::Sha512)],
        tls: Some((pki.clone(), true)),
    };
    let b = Broker::start(&tools, &data.path().join("broker"), opts);

    let tls = TlsConfig {
        ca_file: Some(pki.ca.clone()),
        cert_file: Some(pki.client_cert.clone()),
        key_file: Some(encrypted_key),
        key_password_file: Some(key_pass),
        verify_hostname: true,
    };
    let config = |tls: TlsConfig, spool: &Path| {
        let mut cfg = real_config(&b.bootstrap(), spool, 3_000);
        cfg.tls = Some(tls);
        cfg.sasl = Some(scram(SaslMechanism::ScramSha512, "apitap", sasl_pass.clone()));
        cfg
    };
    let spool = tempfile::tempdir().unwrap();
    let p = Publisher::new(config(tls.clone(), spool.path()), "smoke").unwrap();
    publish_all(&p, 0..100, 100);
    let report = p.close(Duration::from_secs(30));
    assert!(report.complete, "{report}");
    assert_eq!(report.delivered, 100);

    let reader = ReaderSecurity {
        ca: Some(pki.ca.clone()),
        client: Some((pki.client_cert.clone(), pki.client_key.clone())),
        sasl: Some(("SCRAM-SHA-512".into(), "apitap".into(), sasl_pass.clone())),
    };
    let got = broker::read_back(&tools, &b.bootstrap(), &[TOPIC], None, 100, &reader, data.path());
    assert_once_in_order(&indexed(&got, TOPIC), &(0..100).collect::<Vec<_>>());

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
