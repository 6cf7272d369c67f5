//! The health message: the sensor's counters as totals and as deltas since its previous
//! health message, the headline figures a SOC watches (drops, gaps, evictions, parse errors),
//! the lag of packet time behind the sensor's clock, and the publisher's own counters.

use std::collections::BTreeMap;

use apitap_discovery::inventory::rfc3339;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{OutMessage, Topic};
use crate::summary::Summary;

/// Version of the health layout (`schema_version`).
pub const HEALTH_SCHEMA_VERSION: u32 = 1;

/// Stage name under which the summary's run-level counts (`transactions`, `anomalies`, ...)
/// appear in `counters`.
const RUN_STAGE: &str = "run";

/// What one health message is made of. The caller reads the clock; this module does not.
#[derive(Clone, Copy, Debug)]
pub struct HealthInput<'a> {
    /// The sensor id (the key).
    pub sensor_id: &'a str,
    /// Product version.
    pub version: &'a str,
    /// Packet time of the latest packet handled (ns since the epoch); `None` before the first.
    pub packet_time: Option<u64>,
    /// The sensor's wall clock when the message is built (ns since the epoch).
    pub wall_time: u64,
    /// Every counter of the run so far (`Summary::stages` and the run-level counts).
    pub summary: &'a Summary,
    /// The publisher's counters, flat (see [`flat_counters`]); `None` without a publisher.
    pub publisher: Option<&'a BTreeMap<String, u64>>,
}

/// The headline figures: name, and how to read it from the summary.
const HEADLINES: [(&str, &[(&str, &str)]); 15] = [
    ("packets", &[("input", "packets")]),
    ("bytes", &[("input", "bytes")]),
    ("kernel_received", &[("capture", "kernel_received")]),
    // libpcap's ps_drop: dropped because the capture buffer was full.
    ("kernel_dropped", &[("capture", "kernel_dropped")]),
    // libpcap's ps_ifdrop: dropped by the interface or its driver.
    ("interface_dropped", &[("capture", "interface_dropped")]),
    ("decode_errors", &[("decode", "errors")]),
    ("bad_records", &[(RUN_STAGE, "bad_records")]),
    ("tcp_gaps", &[("tcp", "gaps")]),
    ("tcp_gap_bytes", &[("tcp", "gap_bytes")]),
    ("flows_evicted", &[("tcp", "evicted")]),
    ("http_parse_errors", &[("http", "bad_request_lines"), ("http", "bad_status_lines"), ("http", "decode_errors")]),
    ("http_transactions_dropped", &[("http", "transactions_dropped")]),
    ("consumers_evicted", &[("behaviour", "consumers_evicted")]),
    ("transactions", &[(RUN_STAGE, "transactions")]),
    ("anomalies", &[(RUN_STAGE, "anomalies")]),
];

/// Counters by stage, owned (the summary's names are static; these outlive it).
type Stages = BTreeMap<String, BTreeMap<String, u64>>;

/// What the previous message said.
#[derive(Clone, Debug)]
struct Previous {
    packet_time: Option<u64>,
    wall_time: u64,
    counters: Stages,
    publisher: BTreeMap<String, u64>,
}

/// Builds successive health messages of one sensor run, remembering the previous message's
/// totals for the deltas. Memory: one copy of the counters (a fixed set of names per build,
/// about two hundred), whatever the traffic.
#[derive(Clone, Debug, Default)]
pub struct HealthTracker {
    previous: Option<Previous>,
    sequence: u64,
}

/// `now - before`, signed: counters only grow within a run, but gauges among them
/// (`in_flight`, `behaviour.consumers`, spool bytes) fall.
fn delta(now: u64, before: u64) -> i64 {
    if now >= before {
        i64::try_from(now - before).unwrap_or(i64::MAX)
    } else {
        i64::try_from(before - now).map_or(i64::MIN, |d| -d)
    }
}

fn ms(ns: u64) -> i64 {
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

fn stages_of(summary: &Summary) -> Stages {
    let mut out: Stages =
        summary.stages.iter().map(|(s, c)| (s.to_string(), c.iter().map(|(n, v)| (n.to_string(), *v)).collect())).collect();
    let run = [
        ("files", summary.files),
        ("files_with_errors", summary.files_with_errors),
        ("files_truncated", summary.files_truncated),
        ("bad_records", summary.bad_records),
        ("transactions", summary.transactions),
        ("events", summary.events),
        ("anomalies", summary.anomalies),
    ];
    out.insert(RUN_STAGE.to_string(), run.iter().map(|(n, v)| (n.to_string(), *v)).collect());
    out
}

fn headline(stages: &Stages, parts: &[(&str, &str)]) -> u64 {
    parts.iter().map(|(s, n)| stages.get(*s).and_then(|c| c.get(*n)).copied().unwrap_or(0)).fold(0u64, u64::saturating_add)
}

fn deltas(now: &BTreeMap<String, u64>, before: Option<&BTreeMap<String, u64>>) -> Map<String, Value> {
    now.iter().map(|(n, v)| (n.clone(), json!(delta(*v, before.and_then(|b| b.get(n)).copied().unwrap_or(0))))).collect()
}

impl HealthTracker {
    /// A tracker for a run that has sent no health message yet.
    pub fn new() -> Self {
        HealthTracker::default()
    }

    /// Health messages built so far.
    #[allow(dead_code)] // used by tests/message_schemas.rs
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The next health message, keyed by the sensor id. Deltas are since the previous
    /// message of this tracker; in the first they are since the start (the totals). A counter
    /// that was absent from the previous message counts from zero.
    pub fn message(&mut self, input: &HealthInput<'_>) -> OutMessage {
        self.sequence += 1;
        let counters = stages_of(input.summary);
        let publisher = input.publisher.cloned().unwrap_or_default();
        let prev = self.previous.as_ref();
        let mut totals = Map::new();
        let mut headline_deltas = Map::new();
        for (name, parts) in HEADLINES {
            let now = headline(&counters, parts);
            let before = prev.map_or(0, |p| headline(&p.counters, parts));
            totals.insert(name.into(), json!(now));
            headline_deltas.insert(name.into(), json!(delta(now, before)));
        }
        let counter_deltas: Map<String, Value> =
            counters.iter().map(|(s, c)| (s.clone(), Value::Object(deltas(c, prev.and_then(|p| p.counters.get(s)))))).collect();
        let mut msg = Map::new();
        msg.insert("schema_version".into(), json!(HEALTH_SCHEMA_VERSION));
        msg.insert("sensor_id".into(), json!(input.sensor_id));
        msg.insert("version".into(), json!(input.version));
        msg.insert("sequence".into(), json!(self.sequence));
        if let Some(t) = input.packet_time {
            msg.insert("time".into(), json!(rfc3339(t)));
            // Positive: packet time is behind the clock (a replayed capture, a slow pipeline).
            msg.insert("lag_ms".into(), json!(ms(input.wall_time).saturating_sub(ms(t))));
        }
        msg.insert("wall_time".into(), json!(rfc3339(input.wall_time)));
        if let Some(p) = prev {
            if let Some(t) = p.packet_time {
                msg.insert("previous_time".into(), json!(rfc3339(t)));
            }
            msg.insert("previous_wall_time".into(), json!(rfc3339(p.wall_time)));
        }
        msg.insert("totals".into(), Value::Object(totals));
        msg.insert("deltas".into(), Value::Object(headline_deltas));
        msg.insert("counters".into(), json!(counters));
        msg.insert("counter_deltas".into(), Value::Object(counter_deltas));
        if input.publisher.is_some() {
            let d = deltas(&publisher, prev.map(|p| &p.publisher));
            msg.insert("publisher".into(), json!({ "totals": publisher, "deltas": d }));
        }
        let out = OutMessage::json(Topic::Health, input.sensor_id.as_bytes(), &Value::Object(msg));
        self.previous = Some(Previous { packet_time: input.packet_time, wall_time: input.wall_time, counters, publisher });
        out
    }
}

/// The numbers of any serialisable counters struct (the publisher's statistics), flat: nested
/// objects join their names with `.` (`spool.bytes`), booleans count as 0 or 1, and anything
/// else that is not a non-negative integer (text, lists, floats, null) is left out.
pub fn flat_counters<T: Serialize>(value: &T) -> BTreeMap<String, u64> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, u64>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&name, v, out);
                }
            }
            Value::Bool(b) => {
                out.insert(prefix.to_string(), u64::from(*b));
            }
            Value::Number(n) => {
                if let Some(n) = n.as_u64() {
                    out.insert(prefix.to_string(), n);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(v) = serde_json::to_value(value) {
        walk("", &v, &mut out);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_signed_and_saturate() {
        assert_eq!(delta(10, 3), 7);
        assert_eq!(delta(3, 10), -7);
        assert_eq!(delta(u64::MAX, 0), i64::MAX);
        assert_eq!(delta(0, u64::MAX), i64::MIN);
    }

    #[test]
    fn flat_counters_join_nested_names_and_keep_only_counts() {
        #[derive(Serialize)]
        struct Spool {
            bytes: u64,
            dir: String,
        }
        #[derive(Serialize)]
        struct Stats {
            delivered: u64,
            spooling: bool,
            ratio: f64,
            spool: Spool,
        }
        let s = Stats { delivered: 12, spooling: true, ratio: 0.5, spool: Spool { bytes: 4096, dir: "/var".into() } };
        let got = flat_counters(&s);
        let want: BTreeMap<String, u64> =
            [("delivered", 12), ("spooling", 1), ("spool.bytes", 4096)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(got, want);
    }

    fn summary(packets: u64, dropped: u64, consumers: u64) -> Summary {
        let mut s = Summary { transactions: packets / 10, ..Summary::default() };
        s.stages.insert("input", BTreeMap::from([("packets", packets)]));
        s.stages.insert("capture", BTreeMap::from([("kernel_dropped", dropped), ("interface_dropped", 1)]));
        s.stages.insert("http", BTreeMap::from([("bad_request_lines", 2), ("bad_status_lines", 3), ("decode_errors", 4)]));
        s.stages.insert("behaviour", BTreeMap::from([("consumers", consumers)]));
        s
    }

    fn parse(m: &OutMessage) -> Value {
        serde_json::from_slice(&m.payload).unwrap()
    }

    #[test]
    fn the_first_message_counts_from_the_start_and_the_next_from_it() {
        let mut t = HealthTracker::new();
        let s1 = summary(1000, 5, 40);
        let pubs = BTreeMap::from([("delivered".to_string(), 7u64), ("in_flight".to_string(), 9)]);
        // 2026-03-28T06:00:00Z; the clock is 2.5 s ahead.
        let t1 = 1_774_677_600_000_000_000u64;
        let input = HealthInput {
            sensor_id: "dc1-tap",
            version: "0.1.0",
            packet_time: Some(t1),
            wall_time: t1 + 2_500_000_000,
            summary: &s1,
            publisher: Some(&pubs),
        };
        let m1 = t.message(&input);
        assert_eq!((m1.topic, m1.key.as_slice()), (Topic::Health, b"dc1-tap".as_slice()));
        let v = parse(&m1);
        assert_eq!(v["sequence"], 1);
        assert_eq!(v["time"], "2026-03-28T06:00:00.000Z");
        assert_eq!(v["lag_ms"], 2500);
        assert!(v.get("previous_time").is_none());
        assert_eq!(v["totals"]["packets"], 1000);
        assert_eq!(v["deltas"]["packets"], 1000);
        assert_eq!(v["totals"]["kernel_dropped"], 5);
        assert_eq!(v["totals"]["http_parse_errors"], 9);
        assert_eq!(v["totals"]["transactions"], 100);
        assert_eq!(v["counters"]["run"]["transactions"], 100);
        assert_eq!(v["publisher"]["deltas"]["in_flight"], 9);

        let s2 = summary(1600, 8, 35);
        let pubs2 = BTreeMap::from([("delivered".to_string(), 20u64), ("in_flight".to_string(), 2)]);
        let input2 = HealthInput {
            packet_time: Some(t1 + 60_000_000_000),
            wall_time: t1 + 61_000_000_000,
            summary: &s2,
            publisher: Some(&pubs2),
            ..input
        };
        let v = parse(&t.message(&input2));
        assert_eq!(v["sequence"], 2);
        assert_eq!(v["previous_time"], "2026-03-28T06:00:00.000Z");
        assert_eq!(v["previous_wall_time"], "2026-03-28T06:00:02.500Z");
        assert_eq!(v["lag_ms"], 1000);
        assert_eq!((v["totals"]["packets"].as_u64(), v["deltas"]["packets"].as_i64()), (Some(1600), Some(600)));
        assert_eq!(v["deltas"]["kernel_dropped"], 3);
        assert_eq!(v["deltas"]["interface_dropped"], 0);
        assert_eq!(v["counter_deltas"]["behaviour"]["consumers"], -5);
        assert_eq!(v["publisher"]["deltas"]["delivered"], 13);
        assert_eq!(v["publisher"]["deltas"]["in_flight"], -7);
    }

    #[test]
    fn without_packets_or_publisher_those_parts_are_left_out() {
        let mut t = HealthTracker::new();
        let s = Summary::default();
        let v =
            parse(&t.message(&HealthInput { sensor_id: "s", version: "1", packet_time: None, wall_time: 0, summary: &s, publisher: None }));
        for absent in ["time", "lag_ms", "publisher", "previous_time"] {
            assert!(v.get(absent).is_none(), "{absent}: {v}");
        }
        assert_eq!(v["totals"]["kernel_dropped"], 0);
        assert_eq!(v["wall_time"], "1970-01-01T00:00:00.000Z");
    }
}
