//! [`render`]: a [`SensorMetrics`] as a Prometheus exposition. Names follow Prometheus
//! conventions: the `apitap_` prefix, `_total` on counters, base units (`_bytes`, `_seconds`),
//! causes and kinds as labels. docs/observability.md lists every family.

use super::exposition::{Exposition, Kind};
use super::health::{Health, HealthReason, HealthStatus};
use super::model::SensorMetrics;
use super::server::{EndpointStats, Refusal, RESPONSE_CODES};

/// Interfaces listed per capture family.
pub const MAX_INTERFACES: usize = 64;
/// Stage counters (`apitap_stage_events_total`) and stage gauges listed; the summary has about
/// two hundred names.
pub const MAX_STAGE_SERIES: usize = 512;
/// HTTP event names listed (`apitap_http_events_total`).
pub const MAX_HTTP_EVENTS: usize = 128;
/// Anomaly kind and severity pairs listed (13 kinds times 5 severities fit).
pub const MAX_ANOMALY_SERIES: usize = 128;
/// Endpoint classifications listed.
pub const MAX_ENDPOINT_CLASSES: usize = 16;
/// Kafka failure causes and drop reasons listed, each.
pub const MAX_KAFKA_CAUSES: usize = 32;
/// Workers listed per worker family.
pub const MAX_WORKERS: usize = 256;

/// `stage.counter` split into its two labels; a key without a dot is a run-level count.
fn stage_and_name(key: &str) -> (&str, &str) {
    key.split_once('.').unwrap_or(("run", key))
}

/// The exposition of `m`: every family once, with its help and type, then the
/// dropped-series family. Families of parts the daemon does not run (`kafka`, `checkpoint`
/// set to `None`) are left out; everything else is present even at zero.
pub fn render(m: &SensorMetrics) -> String {
    let mut e = Exposition::new();
    sensor(&mut e, m);
    e.finish()
}

/// What `/metrics` serves: [`render`]'s families, then the health (`apitap_health_status`,
/// `apitap_health_reason`, each a state set with every value present) and the endpoint's own
/// counters.
pub fn render_scrape(m: &SensorMetrics, health: &Health, endpoint: &EndpointStats) -> String {
    let mut e = Exposition::new();
    sensor(&mut e, m);
    let mut f = e.family("apitap_health_status", Kind::Gauge, "1 for the sensor's current health status, 0 for the others.", usize::MAX);
    for s in HealthStatus::ALL {
        f.sample(&[("status", s.name())], health.status == s);
    }
    f.done();
    let mut f = e.family("apitap_health_reason", Kind::Gauge, "1 for each reason the health is not ok, 0 for the others.", usize::MAX);
    for r in HealthReason::ALL {
        f.sample(&[("reason", r.name())], health.reasons.contains(&r));
    }
    f.done();
    let mut f = e.family(
        "apitap_interface_silent",
        Kind::Gauge,
        "1 for an interface with no packet for longer than silent_after_s while the others deliver, else 0.",
        usize::MAX,
    );
    for i in &m.interfaces {
        f.sample(&[("interface", &i.name)], health.silent_interfaces.contains(&i.name));
    }
    f.done();
    e.single(
        "apitap_one_sided_services",
        Kind::Gauge,
        "Services that were conversations and now show only one direction (health one_sided_service).",
        m.one_sided_services.len() as u64,
    );
    e.single("apitap_endpoint_connections_total", Kind::Counter, "Connections the metrics endpoint accepted.", endpoint.connections);
    let mut f = e.family(
        "apitap_endpoint_refused_connections_total",
        Kind::Counter,
        "Connections of the metrics endpoint ended without a response, by reason.",
        usize::MAX,
    );
    for (r, n) in Refusal::ALL.iter().zip(endpoint.refused) {
        f.sample(&[("reason", r.name())], n);
    }
    f.done();
    let mut f = e.family("apitap_endpoint_responses_total", Kind::Counter, "Responses of the metrics endpoint, by HTTP status code.", usize::MAX);
    for (code, n) in RESPONSE_CODES.iter().zip(endpoint.responses) {
        f.sample(&[("code", &code.to_string())], n);
    }
    f.done();
    e.finish()
}

fn sensor(e: &mut Exposition, m: &SensorMetrics) {
    capture(e, m);
    pipeline(e, m);
    discovery(e, m);
    kafka(e, m);
    resources(e, m);
    process(e, m);
}

fn capture(e: &mut Exposition, m: &SensorMetrics) {
    type Field = fn(&super::model::InterfaceCapture) -> u64;
    let families: [(&'static str, &str, Field); 4] = [
        ("apitap_capture_packets_total", "Packets read from the capture handle, by interface.", |i| i.packets),
        ("apitap_capture_bytes_total", "Bytes of the packets read (as captured, after snaplen), by interface.", |i| i.bytes),
        (
            "apitap_capture_kernel_dropped_packets_total",
            "Packets the kernel dropped because the capture buffer was full (libpcap ps_drop), by interface.",
            |i| i.kernel_dropped,
        ),
        (
            "apitap_capture_interface_dropped_packets_total",
            "Packets the interface or its driver dropped (libpcap ps_ifdrop), by interface.",
            |i| i.interface_dropped,
        ),
    ];
    for (name, help, field) in families {
        let mut f = e.family(name, Kind::Counter, help, MAX_INTERFACES);
        for i in &m.interfaces {
            f.sample(&[("interface", &i.name)], field(i));
        }
    }
    let last = m.last_packet_time.unwrap_or(0.0);
    e.single(
        "apitap_last_packet_timestamp_seconds",
        Kind::Gauge,
        "Packet time of the latest packet handled, in seconds since the epoch (0 before the first).",
        last,
    );
}

fn pipeline(e: &mut Exposition, m: &SensorMetrics) {
    let mut f = e.family(
        "apitap_stage_events_total",
        Kind::Counter,
        "The run summary's counters by stage and name: decode errors, limits hit, drops by cause (docs/ARCHITECTURE.md lists them).",
        MAX_STAGE_SERIES,
    );
    for (key, v) in &m.stage_counters {
        let (stage, name) = stage_and_name(key);
        f.sample(&[("stage", stage), ("counter", name)], *v);
    }
    f.done();
    let mut f = e.family(
        "apitap_stage_level",
        Kind::Gauge,
        "The run summary's levels and high-water marks by stage and name (consumers held, peak buffered bytes).",
        MAX_STAGE_SERIES,
    );
    for (key, v) in &m.stage_gauges {
        let (stage, name) = stage_and_name(key);
        f.sample(&[("stage", stage), ("counter", name)], *v);
    }
    f.done();
    e.single("apitap_flows_active", Kind::Gauge, "TCP flows in the flow table now.", m.flows_active);
    e.single(
        "apitap_flows_evicted_total",
        Kind::Counter,
        "TCP flows evicted because the flow table was full (max_flows).",
        m.flows_evicted,
    );
    e.single("apitap_reassembly_gaps_total", Kind::Counter, "Holes in TCP streams given up (data never seen).", m.reassembly_gaps);
    e.single("apitap_reassembly_gap_bytes_total", Kind::Counter, "Bytes skipped over holes in TCP streams.", m.reassembly_gap_bytes);
    e.single(
        "apitap_reassembly_buffer_limit_hits_total",
        Kind::Counter,
        "Holes given up because a reassembly buffer limit was reached (max_buffered_*).",
        m.reassembly_buffer_limit_hits,
    );
    e.single("apitap_http_transactions_total", Kind::Counter, "HTTP transactions (request and response) completed.", m.transactions);
    let mut f = e.family("apitap_http_events_total", Kind::Counter, "HTTP protocol events, by event name.", MAX_HTTP_EVENTS);
    for (name, v) in &m.http_events {
        f.sample(&[("event", name)], *v);
    }
}

fn discovery(e: &mut Exposition, m: &SensorMetrics) {
    let mut f = e.family(
        "apitap_anomalies_total",
        Kind::Counter,
        "Finding events raised by the behavioural detectors, by anomaly kind and severity.",
        MAX_ANOMALY_SERIES,
    );
    for ((kind, severity), v) in &m.anomalies {
        f.sample(&[("kind", kind), ("severity", severity)], *v);
    }
    f.done();
    e.single(
        "apitap_anomalies_suppressed_total",
        Kind::Counter,
        "Finding events of findings opened under a suppression rule: stored, not published.",
        m.anomalies_suppressed,
    );
    e.single("apitap_findings_open", Kind::Gauge, "Findings open now.", m.findings_open);
    e.single("apitap_inventory_services", Kind::Gauge, "Services in the endpoint inventory.", m.inventory_services);
    let mut f = e.family(
        "apitap_inventory_endpoints",
        Kind::Gauge,
        "Endpoints in the inventory, by classification (documented, shadow, zombie, orphan).",
        MAX_ENDPOINT_CLASSES,
    );
    for (class, v) in &m.inventory_endpoints {
        f.sample(&[("class", class)], *v);
    }
    f.done();
    e.single("apitap_consumers_tracked", Kind::Gauge, "Consumer profiles held by the behavioural baselines.", m.consumers_tracked);
}

fn kafka(e: &mut Exposition, m: &SensorMetrics) {
    let Some(k) = &m.kafka else { return };
    e.single("apitap_kafka_delivered_messages_total", Kind::Counter, "Messages the Kafka brokers confirmed.", k.delivered);
    let mut f = e.family(
        "apitap_kafka_failed_messages_total",
        Kind::Counter,
        "Kafka delivery failures after which the message was kept to be sent again, by cause.",
        MAX_KAFKA_CAUSES,
    );
    for (cause, v) in &k.failed {
        f.sample(&[("cause", cause)], *v);
    }
    f.done();
    let mut f = e.family("apitap_kafka_dropped_messages_total", Kind::Counter, "Messages given up for good, by reason.", MAX_KAFKA_CAUSES);
    for (reason, v) in &k.dropped {
        f.sample(&[("reason", reason)], *v);
    }
    f.done();
    e.single("apitap_kafka_spooled_messages_total", Kind::Counter, "Messages written to the disk spool.", k.spooled);
    e.single("apitap_kafka_spool_messages", Kind::Gauge, "Messages in the disk spool now.", k.spool_messages);
    e.single("apitap_kafka_spool_bytes", Kind::Gauge, "Bytes of the disk spool now.", k.spool_bytes);
    e.single("apitap_kafka_queue_messages", Kind::Gauge, "Messages librdkafka holds now (queued or in flight).", k.queue_messages);
    e.single("apitap_kafka_broker_up", Kind::Gauge, "1 when the brokers answer, 0 while the publisher spools for an outage.", k.broker_up);
}

fn resources(e: &mut Exposition, m: &SensorMetrics) {
    let mut f = e.family("apitap_memory_bytes", Kind::Gauge, "Estimated heap bytes, by component.", usize::MAX);
    for (component, v) in m.memory.components() {
        f.sample(&[("component", component)], v);
    }
    f.done();
    let mut f = e.family("apitap_worker_packets_total", Kind::Counter, "Packets handled, by worker thread.", MAX_WORKERS);
    for w in &m.workers {
        f.sample(&[("worker", &w.id.to_string())], w.packets);
    }
    f.done();
    let mut f = e.family(
        "apitap_worker_busy_seconds_total",
        Kind::Counter,
        "Seconds spent working rather than waiting for packets, by worker thread.",
        MAX_WORKERS,
    );
    for w in &m.workers {
        f.sample(&[("worker", &w.id.to_string())], w.busy_seconds);
    }
    f.done();
    let mut f = e.family(
        "apitap_worker_queue_drops_total",
        Kind::Counter,
        "Packets dropped because the worker's queue stayed full, by worker thread.",
        MAX_WORKERS,
    );
    for w in &m.workers {
        f.sample(&[("worker", &w.id.to_string())], w.queue_drops);
    }
    f.done();
    let Some(c) = &m.checkpoint else { return };
    e.single(
        "apitap_store_last_checkpoint_packet_timestamp_seconds",
        Kind::Gauge,
        "Packet time the last successful store checkpoint covered, in seconds since the epoch (0 before the first).",
        c.last_packet_time.unwrap_or(0.0),
    );
    e.single(
        "apitap_store_checkpoint_duration_seconds",
        Kind::Gauge,
        "Wall-clock seconds the last store checkpoint took.",
        c.last_duration_seconds,
    );
    e.single("apitap_store_checkpoints_total", Kind::Counter, "Store checkpoints written.", c.completed);
    e.single("apitap_store_checkpoint_failures_total", Kind::Counter, "Store checkpoints that failed.", c.failures);
}

fn process(e: &mut Exposition, m: &SensorMetrics) {
    let p = &m.process;
    e.single("apitap_start_time_seconds", Kind::Gauge, "When the process started, in seconds since the epoch.", p.start_time);
    let mut f = e.family("apitap_build_info", Kind::Gauge, "Always 1; the build's version as a label.", 1);
    f.sample(&[("version", &p.version)], 1u64);
    f.done();
    e.single("apitap_config_reloads_total", Kind::Counter, "Configuration reloads attempted (SIGHUP).", p.config_reloads);
    e.single(
        "apitap_config_last_reload_success",
        Kind::Gauge,
        "1 when the last configuration reload succeeded (or none was attempted), else 0.",
        p.config_last_reload_ok,
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn stage_keys_split_at_the_first_dot() {
        assert_eq!(stage_and_name("decode.depth_limit"), ("decode", "depth_limit"));
        assert_eq!(stage_and_name("identity.jwt.bad"), ("identity", "jwt.bad"));
        assert_eq!(stage_and_name("transactions"), ("run", "transactions"));
    }

    #[test]
    fn many_http_events_are_capped_and_counted() {
        let mut m = SensorMetrics::default();
        for i in 0..(MAX_HTTP_EVENTS + 5) {
            m.http_events.insert(format!("event_{i:04}"), 1);
        }
        let text = render(&m);
        let listed = text.lines().filter(|l| l.starts_with("apitap_http_events_total{")).count();
        assert_eq!(listed, MAX_HTTP_EVENTS);
        assert!(text.contains("apitap_exposition_series_dropped{family=\"apitap_http_events_total\"} 5\n"));
        // The BTreeMap order decides which are kept: the first names.
        assert!(text.contains("apitap_http_events_total{event=\"event_0000\"} 1\n"));
        assert!(!text.contains("event=\"event_0130\""));
    }

    #[test]
    fn every_family_is_typed_once() {
        let text = render(&SensorMetrics::default());
        let mut names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().unwrap()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a family is typed twice");
    }
}
