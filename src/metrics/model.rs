//! What the daemon knows about itself, as plain numbers: [`SensorMetrics`] is filled about once
//! a second by the daemon and handed to [`super::MetricsShared::publish`]; the endpoint renders
//! the latest copy. Nothing here reads a clock or a socket.
//!
//! Maps keyed by names (stage counters, HTTP events, anomaly kinds, Kafka causes) become label
//! values. Their names come from bounded sets in the code (counter names, enum codes), never
//! from traffic; the renderer still caps each family at a named limit
//! (`super::render::MAX_*`) and counts what it left out.

use std::collections::BTreeMap;

/// Every number the endpoint serves. `Default` is a sensor that has seen nothing.
///
/// Counters (`*_total` in the exposition) must only grow while the process runs; a counter that
/// goes down reads as a restart to Prometheus. Gauges (`flows_active`, sizes, queue lengths) may
/// go either way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SensorMetrics {
    /// Capture per interface, in the order the daemon opened them.
    pub interfaces: Vec<InterfaceCapture>,
    /// Services that were conversations and are now seen in one direction only
    /// (`super::sides::SidesWindow::one_sided`).
    pub one_sided_services: Vec<String>,
    /// The run summary's monotonic stage counters, keyed `stage.counter`
    /// (`decode.depth_limit`, `tcp.gaps`, `http.header_limit_hits`, ...). Fill it with
    /// [`SensorMetrics::set_stages`], which also routes the few non-monotonic ones to
    /// `stage_gauges`.
    pub stage_counters: BTreeMap<String, u64>,
    /// The run summary's stage values that can fall or are high-water marks, keyed like
    /// `stage_counters` (`behaviour.consumers`, `app.buffered_peak`, ...).
    pub stage_gauges: BTreeMap<String, u64>,
    /// Flows in the flow table now.
    pub flows_active: u64,
    /// Flows evicted because the table was full (`max_flows`).
    pub flows_evicted: u64,
    /// TCP reassembly: holes given up (gaps) since the start.
    pub reassembly_gaps: u64,
    /// TCP reassembly: bytes skipped over those holes.
    pub reassembly_gap_bytes: u64,
    /// TCP reassembly: holes given up because a buffer limit was reached.
    pub reassembly_buffer_limit_hits: u64,
    /// HTTP transactions completed.
    pub transactions: u64,
    /// HTTP protocol events by name (`header_limit`, `cl_te_conflict`, ...).
    pub http_events: BTreeMap<String, u64>,
    /// Finding events raised by the detectors, by anomaly kind code and severity
    /// (`("rate_surge", "high")`).
    pub anomalies: BTreeMap<(String, String), u64>,
    /// Of those, events of findings opened under a suppression rule (not published).
    pub anomalies_suppressed: u64,
    /// Findings open now.
    pub findings_open: u64,
    /// Services in the inventory now.
    pub inventory_services: u64,
    /// Endpoints in the inventory now, by classification (`documented`, `shadow`, `zombie`,
    /// `orphan`).
    pub inventory_endpoints: BTreeMap<String, u64>,
    /// Consumer profiles held by the baselines now.
    pub consumers_tracked: u64,
    /// The Kafka publisher; `None` when Kafka is not configured (its families are left out).
    pub kafka: Option<KafkaMetrics>,
    /// Memory by component.
    pub memory: MemoryBytes,
    /// Load per worker thread (one, the capture thread, when the chain runs there).
    pub workers: Vec<WorkerLoad>,
    /// The persistent store's checkpoints; `None` when the store is off.
    pub checkpoint: Option<CheckpointMetrics>,
    /// Packet time of the latest packet handled (seconds since the epoch); `None` before the
    /// first packet.
    pub last_packet_time: Option<f64>,
    /// Process facts.
    pub process: ProcessMetrics,
}

/// Capture counters of one interface, as libpcap reports them (`pcap_stats`) plus what the
/// daemon read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterfaceCapture {
    /// Interface name (`eth1`), from the configuration.
    pub name: String,
    /// Packets the daemon read from the capture handle.
    pub packets: u64,
    /// Bytes of those packets as captured (after snaplen).
    pub bytes: u64,
    /// libpcap `ps_drop`: dropped because the capture buffer was full.
    pub kernel_dropped: u64,
    /// libpcap `ps_ifdrop`: dropped by the interface or its driver.
    pub interface_dropped: u64,
}

/// The Kafka publisher's state and counters since the process started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaMetrics {
    /// Messages the brokers confirmed.
    pub delivered: u64,
    /// Delivery failures by cause (`retriable`, `fatal_kept`, `queue_full`, `client_error`,
    /// `replay_failure`): the message was kept and will be sent again.
    pub failed: BTreeMap<String, u64>,
    /// Messages given up for good by reason (`too_large`, `spool_full`, `spool_error`,
    /// `topic_disabled`, `fatal`).
    pub dropped: BTreeMap<String, u64>,
    /// Messages written to the disk spool since the start.
    pub spooled: u64,
    /// Messages in the spool now.
    pub spool_messages: u64,
    /// Bytes of the spool on disk now.
    pub spool_bytes: u64,
    /// Messages librdkafka holds now (queued or in flight).
    pub queue_messages: u64,
    /// Whether a broker answered lately (the publisher is not spooling for a broker outage).
    pub broker_up: bool,
}

/// Estimated heap bytes by component. The set of components is fixed here so that the label
/// set of `apitap_memory_bytes` is too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryBytes {
    /// The flow table.
    pub flows: u64,
    /// TCP reassembly buffers (held and retained bytes).
    pub reassembly: u64,
    /// HTTP parser buffers (the `--http-buffer-mib` budget's use).
    pub http_buffers: u64,
    /// The endpoint inventory.
    pub inventory: u64,
    /// Consumer baselines (profiles).
    pub baselines: u64,
    /// Identity caches (linked tokens, certificates, networks).
    pub identity: u64,
    /// librdkafka's in-memory queue.
    pub kafka_queue: u64,
    /// The Kafka spool's in-memory part (index, open segment buffer).
    pub spool: u64,
}

impl MemoryBytes {
    /// Every component with its label value, in a fixed order.
    pub fn components(&self) -> [(&'static str, u64); 8] {
        [
            ("flows", self.flows),
            ("reassembly", self.reassembly),
            ("http_buffers", self.http_buffers),
            ("inventory", self.inventory),
            ("baselines", self.baselines),
            ("identity", self.identity),
            ("kafka_queue", self.kafka_queue),
            ("spool", self.spool),
        ]
    }
}

/// One worker thread's load since the start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerLoad {
    /// Worker number, from 0.
    pub id: u32,
    /// Packets it handled.
    pub packets: u64,
    /// Seconds it spent working (not waiting for packets).
    pub busy_seconds: f64,
    /// Packets dropped because its queue stayed full.
    pub queue_drops: u64,
}

/// The persistent store's checkpoints.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckpointMetrics {
    /// Packet time the last successful checkpoint covered (seconds since the epoch); `None`
    /// before the first.
    pub last_packet_time: Option<f64>,
    /// Wall-clock seconds the last checkpoint took.
    pub last_duration_seconds: f64,
    /// Checkpoints written.
    pub completed: u64,
    /// Checkpoints that failed.
    pub failures: u64,
}

/// Facts about the process.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessMetrics {
    /// When the process started (seconds since the epoch, wall clock).
    pub start_time: f64,
    /// The build's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// Configuration reloads attempted (SIGHUP).
    pub config_reloads: u64,
    /// Whether the last reload succeeded (`true` before any reload).
    pub config_last_reload_ok: bool,
}

/// Stage values of the run summary that are not monotonic counters: levels that fall, and
/// high-water marks. Everything else in the summary's stages only grows.
pub const STAGE_GAUGES: [&str; 4] =
    ["app.buffered_peak", "behaviour.consumers", "behaviour.profile_bytes_largest", "behaviour.profile_bytes_total"];

impl SensorMetrics {
    /// Replaces `stage_counters` and `stage_gauges` with the run summary's stages
    /// (`Summary::stages`, or a pipeline's `counters()`), keyed `stage.counter`; names in
    /// [`STAGE_GAUGES`] go to the gauges.
    pub fn set_stages<S: AsRef<str>, N: AsRef<str>>(&mut self, stages: &BTreeMap<S, BTreeMap<N, u64>>) {
        self.stage_counters.clear();
        self.stage_gauges.clear();
        for (stage, counters) in stages {
            for (name, value) in counters {
                let key = format!("{}.{}", stage.as_ref(), name.as_ref());
                if STAGE_GAUGES.contains(&key.as_str()) {
                    self.stage_gauges.insert(key, *value);
                } else {
                    self.stage_counters.insert(key, *value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_flattened_and_gauges_routed() {
        let mut stages: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        stages.insert("decode", BTreeMap::from([("depth_limit", 3), ("errors", 5)]));
        stages.insert("behaviour", BTreeMap::from([("consumers", 7), ("consumers_evicted", 2)]));
        let mut m = SensorMetrics::default();
        m.stage_counters.insert("stale.entry".into(), 1);
        m.set_stages(&stages);
        let counters: Vec<(&str, u64)> = m.stage_counters.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(counters, vec![("behaviour.consumers_evicted", 2), ("decode.depth_limit", 3), ("decode.errors", 5)]);
        let gauges: Vec<(&str, u64)> = m.stage_gauges.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(gauges, vec![("behaviour.consumers", 7)]);
    }
}
