//! The daemon's numbers for the metrics endpoint: gathered once a second from the pipeline,
//! the analysis, the Kafka publisher and the checkpointer into a [`SensorMetrics`].

use std::collections::BTreeMap;

use crate::kafka::PublisherStats;
use crate::metrics::{CheckpointMetrics, InterfaceCapture, KafkaMetrics, MemoryBytes, ProcessMetrics, SensorMetrics, WorkerLoad};
use crate::source::live::LiveStats;

/// Kafka's counters under the metric labels of docs/observability.md.
pub fn kafka(st: &PublisherStats) -> KafkaMetrics {
    let failed = BTreeMap::from([
        ("retriable".to_string(), st.respooled),
        ("fatal_kept".to_string(), st.fatal_kept),
        ("queue_full".to_string(), st.queue_full),
        ("client_error".to_string(), st.client_errors),
        ("replay_failure".to_string(), st.replay_failures),
    ]);
    let dropped = BTreeMap::from([
        ("too_large".to_string(), st.dropped_too_large),
        ("spool_full".to_string(), st.dropped_full),
        ("spool_error".to_string(), st.dropped_spool_error),
        ("topic_disabled".to_string(), st.dropped_disabled),
        ("fatal".to_string(), st.failed_fatal),
    ]);
    KafkaMetrics {
        delivered: st.delivered,
        failed,
        dropped,
        spooled: st.spooled,
        spool_messages: st.spool.records,
        spool_bytes: st.spool.bytes,
        queue_messages: st.in_flight,
        // While the publisher spools, the brokers did not take the last messages.
        broker_up: !st.spooling,
    }
}

/// What the daemon's loop knows this second.
pub struct Inputs<'a> {
    /// The capture's counters, per interface.
    pub live: &'a LiveStats,
    /// Every stage counter of the run so far (`Summary::snapshot`).
    pub stages: &'a BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// Open flows, reassembly bytes, HTTP parsing bytes.
    pub gauges: (u64, u64, u64),
    /// Transactions so far.
    pub transactions: u64,
    /// Finding events by (kind, severity).
    pub anomalies: &'a BTreeMap<(String, String), u64>,
    /// Of those, events of suppressed findings.
    pub anomalies_suppressed: u64,
    /// Open findings, consumers with a profile, their bytes, identity bytes.
    pub behaviour: (u64, u64, u64, u64),
    /// Inventory services and endpoints by class, as of the last checkpoint.
    pub inventory: (u64, &'a BTreeMap<String, u64>),
    /// The publisher, when Kafka is configured.
    pub kafka: Option<PublisherStats>,
    /// The checkpoints.
    pub checkpoint: CheckpointMetrics,
    /// Packet time now (ns).
    pub packet_time: u64,
    /// Process facts.
    pub process: ProcessMetrics,
    /// Seconds the capture loop spent handling packets so far.
    pub busy_seconds: f64,
    /// Each worker thread's load and losses (empty: the capture loop does all the work).
    pub workers: Vec<crate::pipeline::WorkerStats>,
}

/// The metrics of this second.
pub fn gather(i: &Inputs<'_>) -> SensorMetrics {
    let stage = |s: &str, n: &str| i.stages.get(s).and_then(|m| m.get(n)).copied().unwrap_or(0);
    let mut m = SensorMetrics::default();
    m.set_stages(i.stages);
    m.interfaces = i
        .live
        .interfaces
        .iter()
        .map(|f| InterfaceCapture {
            name: f.name.clone(),
            packets: f.packets,
            bytes: f.bytes,
            kernel_dropped: f.dropped,
            interface_dropped: f.if_dropped,
        })
        .collect();
    m.flows_active = i.gauges.0;
    m.flows_evicted = stage("tcp", "evicted");
    m.reassembly_gaps = stage("tcp", "gaps");
    m.reassembly_gap_bytes = stage("tcp", "gap_bytes");
    m.reassembly_buffer_limit_hits = stage("tcp", "buffer_limit_hits");
    m.transactions = i.transactions;
    m.http_events = i.stages.get("http").map(|h| h.iter().filter(|(_, v)| **v > 0).map(|(k, v)| (k.to_string(), *v)).collect()).unwrap_or_default();
    m.anomalies = i.anomalies.clone();
    m.anomalies_suppressed = i.anomalies_suppressed;
    m.findings_open = i.behaviour.0;
    m.consumers_tracked = i.behaviour.1;
    m.inventory_services = i.inventory.0;
    m.inventory_endpoints = i.inventory.1.clone();
    let (spool_bytes, queue) = i.kafka.as_ref().map_or((0, 0), |k| (k.spool.bytes, k.in_flight));
    m.kafka = i.kafka.as_ref().map(kafka);
    m.memory = MemoryBytes {
        flows: i.gauges.0.saturating_mul(FLOW_ENTRY_BYTES),
        reassembly: i.gauges.1,
        http_buffers: i.gauges.2,
        inventory: 0,
        baselines: i.behaviour.2,
        identity: i.behaviour.3,
        // librdkafka's queue: its message count times a typical message (the exact bytes are
        // librdkafka's own).
        kafka_queue: queue.saturating_mul(TYPICAL_MESSAGE_BYTES),
        spool: spool_bytes,
    };
    m.workers = if i.workers.is_empty() {
        vec![WorkerLoad { id: 0, packets: stage("input", "packets"), busy_seconds: i.busy_seconds, queue_drops: 0 }]
    } else {
        i.workers
            .iter()
            .enumerate()
            .map(|(id, w)| WorkerLoad {
                id: u32::try_from(id).unwrap_or(u32::MAX),
                packets: w.packets,
                busy_seconds: w.busy_nanos as f64 / 1e9,
                queue_drops: w.queue_drops,
            })
            .collect()
    };
    m.checkpoint = Some(i.checkpoint.clone());
    m.last_packet_time = (i.packet_time > 0).then(|| i.packet_time as f64 / 1e9);
    m.process = i.process.clone();
    m
}

/// Bytes one entry of the flow table takes besides its buffers (the connection state of both
/// directions and the table's slot), for the `flows` memory figure.
pub const FLOW_ENTRY_BYTES: u64 = 512;

/// Bytes of a typical message in librdkafka's queue (an anomaly or health message).
pub const TYPICAL_MESSAGE_BYTES: u64 = 2048;
