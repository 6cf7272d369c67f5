//! Packets in, transaction records out: link/tunnel decode, IP defragmentation, the flow
//! table with TCP reassembly, and the HTTP layer, wired in that order.

use std::collections::BTreeMap;

use apitap_sensor::capture::PacketRecord;
use apitap_sensor::decode::{Decoded, Decoder};
use apitap_sensor::flow::FlowTable;
use apitap_sensor::Timestamp;

use crate::app::AppLayer;
use crate::config::Settings;
use crate::record::TransactionRecord;

/// How often (packet time) idle flows and stale fragments are expired.
const TIMEOUT_INTERVAL_NANOS: u64 = 1_000_000_000;

/// A forward jump of packet time larger than this (one hour) moves the timeout clock only when
/// the following packet confirms it.
pub const MAX_CLOCK_JUMP_NANOS: u64 = 3_600 * 1_000_000_000;

/// Where a measuring run stops (`read --stop-after`): each stage includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    /// Reading the capture file and its records only.
    Capture,
    /// Link, tunnel and IP decode, with defragmentation.
    Decode,
    /// The flow table and TCP reassembly, delivering bytes to a sink that ignores them.
    Tcp,
    /// Content detection and HTTP parsing into transaction records, which are then dropped.
    Http,
}

/// A stream sink that ignores everything: the TCP stage alone.
struct Discard;

impl apitap_sensor::stream::StreamSink for Discard {
    fn on_open(&mut self, _: &apitap_sensor::stream::ConnInfo) {}
    fn on_data(&mut self, _: &apitap_sensor::stream::ConnInfo, _: Timestamp, _: apitap_sensor::stream::Dir, _: &[u8]) {}
    fn on_gap(&mut self, _: &apitap_sensor::stream::ConnInfo, _: Timestamp, _: apitap_sensor::stream::Dir, _: u64) {}
    fn on_fin(&mut self, _: &apitap_sensor::stream::ConnInfo, _: Timestamp, _: apitap_sensor::stream::Dir) {}
    fn on_event(&mut self, _: &apitap_sensor::stream::ConnInfo, _: Timestamp, _: apitap_sensor::stream::TcpEvent) {}
    fn on_close(&mut self, _: &apitap_sensor::stream::ConnInfo, _: Timestamp, _: apitap_sensor::stream::CloseReason) {}
}

/// The whole sans-IO processing chain for one trace.
pub struct Pipeline {
    stop_after: Option<Stage>,
    decoder: Decoder,
    flows: FlowTable,
    app: AppLayer,
    /// The timeout clock: the latest confirmed packet time; it never runs backwards.
    now: Timestamp,
    /// A large forward jump waiting for a second packet to confirm it.
    pending_jump: Option<Timestamp>,
    /// Packets whose time jumped far ahead without confirmation.
    time_jumps_held: u64,
    next_timeout: Timestamp,
    packets: u64,
    bytes: u64,
    /// Anomaly events reported by link/IP decode and defragmentation.
    decode_events: u64,
    /// Packets whose timestamp was earlier than one already seen.
    time_regressions: u64,
}

impl Pipeline {
    /// A pipeline with the given settings.
    pub fn new(settings: &Settings) -> Self {
        Pipeline {
            stop_after: settings.stop_after,
            decoder: Decoder::new(settings.decode.clone()),
            flows: FlowTable::new(settings.flow.clone()),
            app: AppLayer::new(settings.http.clone(), settings.max_http_buffered_total),
            now: Timestamp(0),
            pending_jump: None,
            time_jumps_held: 0,
            next_timeout: Timestamp(0),
            packets: 0,
            bytes: 0,
            time_regressions: 0,
            decode_events: 0,
        }
    }

    /// Feeds every transaction to `analysis` as well.
    pub fn set_analysis(&mut self, analysis: crate::analysis::Analysis) {
        self.app.set_analysis(analysis);
    }

    /// HTTP settings for connections that start from now on.
    pub fn set_http_config(&mut self, cfg: std::sync::Arc<apitap_parsers::http::HttpConfig>) {
        self.app.set_http_config(cfg);
    }

    /// What the pipeline holds right now: open flows, bytes held by reassembly (out of order
    /// and retained for retransmission checks), bytes held by HTTP parsing.
    pub fn gauges(&self) -> (u64, u64, u64) {
        let reassembly = self.flows.buffered_bytes().saturating_add(self.flows.retained_bytes());
        (self.flows.len() as u64, reassembly as u64, self.app.buffered_total() as u64)
    }

    /// Takes the analysis out (a reload rebuilds it).
    pub fn take_analysis(&mut self) -> Option<crate::analysis::Analysis> {
        self.app.take_analysis()
    }

    /// The analysis (inventory, identities, detectors), if it runs.
    pub fn analysis_mut(&mut self) -> Option<&mut crate::analysis::Analysis> {
        self.app.analysis_mut()
    }

    /// Anomalies raised since the last call.
    pub fn drain_anomalies(&mut self) -> Vec<apitap_discovery::behaviour::Anomaly> {
        self.app.analysis_mut().map(|a| a.drain_anomalies()).unwrap_or_default()
    }

    /// Processes one captured packet.
    pub fn handle_packet(&mut self, rec: &PacketRecord<'_>) {
        self.packets += 1;
        self.bytes += rec.data.len() as u64;
        self.advance_clock(rec.ts);
        if self.now >= self.next_timeout {
            self.expire();
        }
        if self.stop_after == Some(Stage::Capture) {
            return;
        }
        // The packet keeps its own time: transaction times and latencies come from it, while
        // the monotonic clock above only drives timeouts.
        match self.decoder.decode(rec.ts, rec.link, rec.data, rec.wire_len) {
            Decoded::Tcp(seg) => match self.stop_after {
                Some(Stage::Decode) => {}
                Some(Stage::Tcp) => self.flows.handle_segment(rec.ts, &seg, &mut Discard),
                _ => self.flows.handle_segment(rec.ts, &seg, &mut self.app),
            },
            Decoded::Held | Decoded::Skipped(_) | Decoded::Error(_) => {}
        }
        // Decode anomalies (fragment overlaps, limits) are counted by the decoder's own
        // statistics; the queue is drained so it never fills and drops.
        while self.decoder.poll_event().is_some() {
            self.decode_events += 1;
        }
    }

    /// Moves the timeout clock to `ts` if that is later. A single packet far in the future (a
    /// corrupt timestamp) would expire every flow at once, so a jump of more than
    /// [`MAX_CLOCK_JUMP_NANOS`] is only taken when the next packet confirms it.
    fn advance_clock(&mut self, ts: Timestamp) {
        if ts < self.now {
            self.time_regressions += 1;
            self.pending_jump = None;
            return;
        }
        let jump = ts.saturating_since(self.now);
        if self.now.0 != 0 && jump > MAX_CLOCK_JUMP_NANOS {
            let confirmed = self
                .pending_jump
                .is_some_and(|p| ts.saturating_since(p) <= MAX_CLOCK_JUMP_NANOS && p <= ts);
            if !confirmed {
                self.pending_jump = Some(ts);
                self.time_jumps_held += 1;
                return;
            }
        }
        self.pending_jump = None;
        self.now = ts;
    }

    fn expire(&mut self) {
        self.decoder.expire(self.now);
        if self.stop_after == Some(Stage::Tcp) {
            self.flows.handle_timeout(self.now, &mut Discard);
        } else {
            self.flows.handle_timeout(self.now, &mut self.app);
        }
        if let Some(a) = self.app.analysis_mut() {
            a.advance(self.now.0);
        }
        self.next_timeout = self.now.plus_nanos(TIMEOUT_INTERVAL_NANOS);
    }

    /// Advances the timeout clock without a packet (a quiet live interface), so idle flows
    /// expire. Never moves it backwards.
    pub fn handle_tick(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
        }
        self.expire();
    }

    /// The pipeline's packet-time clock (the latest confirmed packet or tick).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// End of input: flush every flow and every pending transaction.
    pub fn finish(&mut self) {
        if self.stop_after == Some(Stage::Tcp) {
            self.flows.finish(self.now, &mut Discard);
        } else {
            self.flows.finish(self.now, &mut self.app);
        }
    }

    /// Whether the records it makes are meant to be written (not a measuring run that stops
    /// at HTTP parsing).
    pub fn writes_records(&self) -> bool {
        self.stop_after.is_none()
    }

    /// Closed connections per service, two-way or one-sided, since the last call (see
    /// `FlowTable::take_sides`).
    pub fn take_sides(&mut self) -> (Vec<(std::net::SocketAddr, apitap_sensor::flow::Sides)>, u64) {
        self.flows.take_sides()
    }

    /// Records finished since the last call.
    pub fn drain_records(&mut self) -> impl Iterator<Item = TransactionRecord> + '_ {
        self.app.drain_records()
    }

    /// Every counter of every stage, by stage, for the run summary.
    pub fn counters(&self) -> BTreeMap<&'static str, BTreeMap<&'static str, u64>> {
        let mut all = BTreeMap::new();
        let input = BTreeMap::from([
            ("packets", self.packets),
            ("bytes", self.bytes),
            ("time_regressions", self.time_regressions),
            ("time_jumps_held", self.time_jumps_held),
            ("decode_events", self.decode_events),
        ]);
        all.insert("input", input);
        all.insert("decode", self.decoder.stats().counters().into_iter().collect());
        all.insert("tcp", self.flows.stats().counters().into_iter().collect());
        let a = self.app.stats();
        all.insert(
            "app",
            BTreeMap::from([
                ("http_connections", a.http_connections),
                ("http_connections_reversed", a.http_connections_reversed),
                ("other_connections", a.other_connections),
                ("tls_connections", a.tls_connections),
                ("undecided_connections", a.undecided_connections),
                ("transactions", a.transactions),
                ("tcp_events", a.tcp_events),
                ("tcp_events_dropped", a.tcp_events_dropped),
                ("detect_overflow_bytes", a.detect_overflow_bytes),
                ("budget_shed_connections", a.budget_shed_connections),
                ("buffered_peak", a.buffered_peak),
            ]),
        );
        all.insert("http", self.app.http_counters());
        if let Some(a) = self.app.analysis_ref() {
            if let Some(b) = a.behaviour() {
                let st = b.stats();
                let al = b.alert_stats();
                let (largest, total) = b.profile_memory();
                all.insert(
                    "behaviour",
                    BTreeMap::from([
                        ("transactions", st.transactions),
                        ("consumers", b.consumers() as u64),
                        ("consumers_created", st.consumers_created),
                        ("consumers_evicted", st.consumers_evicted),
                        ("endpoints_overflow", st.endpoints_overflow),
                        ("late", st.late),
                        ("profile_bytes_largest", largest as u64),
                        ("profile_bytes_total", total as u64),
                        ("findings_opened", al.opened),
                        ("finding_updates", al.updates),
                        ("findings_closed", al.closed),
                        ("detections_folded", al.folded),
                        ("findings_rate_limited", al.rate_limited),
                        ("findings_evicted", al.evicted),
                    ]),
                );
            }
            // The identity counters are named at run time (one per source); the summary is
            // built once per run, so their names are leaked once.
            let id = a.identifier().stats();
            let named = id.counters().into_iter().map(|(k, v)| (&*Box::leak(k.into_boxed_str()), v)).collect();
            all.insert("identity", named);
        }
        all
    }
}

#[cfg(test)]
#[path = "pipeline_floods.rs"]
mod floods;
