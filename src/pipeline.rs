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

/// The whole sans-IO processing chain for one trace.
pub struct Pipeline {
    decoder: Decoder,
    flows: FlowTable,
    app: AppLayer,
    /// Latest packet time seen; packet time never runs backwards here even if the capture does.
    now: Timestamp,
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
            decoder: Decoder::new(settings.decode.clone()),
            flows: FlowTable::new(settings.flow.clone()),
            app: AppLayer::new(settings.http.clone()),
            now: Timestamp(0),
            next_timeout: Timestamp(0),
            packets: 0,
            bytes: 0,
            time_regressions: 0,
            decode_events: 0,
        }
    }

    /// Processes one captured packet.
    pub fn handle_packet(&mut self, rec: &PacketRecord<'_>) {
        self.packets += 1;
        self.bytes += rec.data.len() as u64;
        if rec.ts < self.now {
            self.time_regressions += 1;
        } else {
            self.now = rec.ts;
        }
        let now = self.now;
        if now >= self.next_timeout {
            self.decoder.expire(now);
            self.flows.handle_timeout(now, &mut self.app);
            self.next_timeout = now.plus_nanos(TIMEOUT_INTERVAL_NANOS);
        }
        match self.decoder.decode(rec.ts, rec.link, rec.data, rec.wire_len) {
            Decoded::Tcp(seg) => self.flows.handle_segment(now, &seg, &mut self.app),
            Decoded::Held | Decoded::Skipped(_) | Decoded::Error(_) => {}
        }
        // Decode anomalies (fragment overlaps, limits) are counted by the decoder's own
        // statistics; the queue is drained so it never fills and drops.
        while self.decoder.poll_event().is_some() {
            self.decode_events += 1;
        }
    }

    /// Advances packet time without a packet (a quiet live interface), so idle flows expire.
    pub fn handle_tick(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
        }
        self.decoder.expire(self.now);
        self.flows.handle_timeout(self.now, &mut self.app);
    }

    /// End of input: flush every flow and every pending transaction.
    pub fn finish(&mut self) {
        self.flows.finish(self.now, &mut self.app);
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
                ("undecided_connections", a.undecided_connections),
                ("transactions", a.transactions),
                ("tcp_events", a.tcp_events),
                ("tcp_events_dropped", a.tcp_events_dropped),
                ("detect_overflow_bytes", a.detect_overflow_bytes),
            ]),
        );
        all.insert("http", self.app.http_counters());
        all
    }
}
