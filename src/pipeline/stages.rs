//! The packet chain one thread runs: link/tunnel decode with IP defragmentation, the flow
//! table with TCP reassembly, and the HTTP layer. It hands finished transactions out as
//! [`Done`] items; it owns no clock (the caller passes packet times and timeouts) and no
//! analysis state, so one copy can run per worker thread.

use std::collections::BTreeMap;
use std::sync::Arc;

use apitap_discovery::inventory::InventoryConfig;
use apitap_parsers::http::HttpConfig;
use apitap_sensor::capture::PacketRecord;
use apitap_sensor::decode::{Decoded, Decoder};
use apitap_sensor::flow::{FlowTable, Sides, FINISH_SLICE};
use apitap_sensor::Timestamp;

use super::Stage;
use crate::app::{AppLayer, Done};
use crate::config::Settings;

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

/// Counters of one chain, by stage (`input` for the decode events, `decode`, `tcp`, `app`,
/// `http`), as the run summary names them.
pub type StageCounters = BTreeMap<&'static str, BTreeMap<&'static str, u64>>;

/// What a chain holds right now: open flows, bytes held by reassembly (out of order and
/// retained for retransmission checks), bytes held by HTTP parsing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    /// Open flows.
    pub flows: u64,
    /// Bytes held by TCP reassembly.
    pub reassembly: u64,
    /// Bytes held by HTTP parsing.
    pub http: u64,
}

impl Gauges {
    /// The sum of two chains' gauges.
    pub fn add(self, other: Gauges) -> Gauges {
        Gauges {
            flows: self.flows.saturating_add(other.flows),
            reassembly: self.reassembly.saturating_add(other.reassembly),
            http: self.http.saturating_add(other.http),
        }
    }
}

/// Decode, flows and HTTP for the packets one thread is given.
pub struct Stages {
    stop_after: Option<Stage>,
    decoder: Decoder,
    pub(crate) flows: FlowTable,
    pub(crate) app: AppLayer,
    /// Anomaly events reported by link/IP decode and defragmentation.
    decode_events: u64,
    /// Compute bodies' facts for the analysis here (see [`Stages::new`]).
    prepare_bodies: bool,
}

impl Stages {
    /// A chain with the given settings (its limits are this chain's own). `prepare_bodies`:
    /// the chain runs on a worker thread and analyses transactions' bodies there; on the
    /// analysis's own thread the inventory analyses them, and only where it needs them.
    pub fn new(settings: &Settings, prepare_bodies: bool) -> Self {
        Stages {
            stop_after: settings.stop_after,
            decoder: Decoder::new(settings.decode.clone()),
            flows: FlowTable::new(settings.flow.clone()),
            app: {
                let mut app = AppLayer::new(settings.http.clone(), settings.max_http_buffered_total);
                app.set_h2_config(settings.h2.clone());
                let keys = settings.tls_keys.clone().map(|k| Arc::new(k) as Arc<dyn apitap_parsers::tls::decrypt::KeySource + Send + Sync>);
                app.set_tls_keys(keys, settings.decrypt.clone());
                app
            },
            decode_events: 0,
            prepare_bodies,
        }
    }

    /// Prepares transactions for an analysis under this inventory configuration from now on.
    pub fn set_analysis(&mut self, cfg: Option<Arc<InventoryConfig>>) {
        self.app.set_analysis(cfg, self.prepare_bodies);
    }

    /// HTTP settings for connections that start from now on.
    pub fn set_http_config(&mut self, cfg: Arc<HttpConfig>) {
        self.app.set_http_config(cfg);
    }

    /// HTTP/2 limits for connections that start from now on.
    pub fn set_h2_config(&mut self, cfg: Arc<apitap_parsers::h2::H2Config>) {
        self.app.set_h2_config(cfg);
    }

    /// Decodes one packet and feeds it on. The packet keeps its own time: transaction times
    /// and latencies come from it, while timeouts follow the caller's clock.
    pub fn handle_packet(&mut self, rec: &PacketRecord<'_>) {
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

    /// Expires idle flows and stale fragments as of `now`.
    pub fn expire(&mut self, now: Timestamp) {
        self.decoder.expire(now);
        if self.stop_after == Some(Stage::Tcp) {
            self.flows.handle_timeout(now, &mut Discard);
        } else {
            self.flows.handle_timeout(now, &mut self.app);
        }
    }

    /// End of input, a slice at a time: closes at most [`FINISH_SLICE`] flows, flushing their
    /// pending transactions into [`Stages::take_done`], and returns true once every flow is
    /// closed. The caller takes what finished between calls, so that the transactions of every
    /// flow open at the end do not exist at once; the flows close in the order one call of
    /// `FlowTable::finish` closes them.
    pub fn finish_some(&mut self, now: Timestamp) -> bool {
        if self.stop_after == Some(Stage::Tcp) {
            self.flows.finish_some(now, FINISH_SLICE, &mut Discard)
        } else {
            self.flows.finish_some(now, FINISH_SLICE, &mut self.app)
        }
    }

    /// What finished since the last call, in order.
    pub fn take_done(&mut self) -> Vec<Done> {
        self.app.take_done()
    }

    /// Whether anything finished since the last [`Stages::take_done`].
    pub fn has_done(&self) -> bool {
        self.app.has_done()
    }

    /// What the chain holds right now.
    pub fn gauges(&self) -> Gauges {
        let reassembly = self.flows.buffered_bytes().saturating_add(self.flows.retained_bytes());
        Gauges { flows: self.flows.len() as u64, reassembly: reassembly as u64, http: self.app.buffered_total() as u64 }
    }

    /// Closed connections per service since the last call (see `FlowTable::take_sides`).
    pub fn take_sides(&mut self) -> (Vec<(std::net::SocketAddr, Sides)>, u64) {
        self.flows.take_sides()
    }

    /// Every counter of the chain, by stage.
    pub fn counters(&self) -> StageCounters {
        let mut all = BTreeMap::new();
        all.insert("input", BTreeMap::from([("decode_events", self.decode_events)]));
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
        let h2 = self.app.http2_counters();
        if !h2.is_empty() {
            all.insert("http2", h2);
        }
        if self.app.decrypts() {
            let d = &a.decrypt;
            all.insert(
                "tls_decrypt",
                BTreeMap::from([
                    ("connections_decrypted", a.tls_decrypted),
                    ("connections_without_keys", a.tls_no_keys),
                    ("connections_unsupported_suite", a.tls_unsupported),
                    ("connections_failed", a.tls_decrypt_failed),
                    ("connections_without_handshake", a.tls_no_handshake),
                    ("records_decrypted", d.records),
                    ("plaintext_bytes", d.plaintext_bytes),
                    ("records_failed", d.failed_records),
                    ("undecrypted_bytes", d.undecrypted_bytes),
                    ("pending_limit_hits", d.pending_limit_hits),
                    ("gaps", d.gaps),
                ]),
            );
        }
        all
    }
}

/// Adds `from`'s counters into `into`, stage by stage.
pub fn add_counters(into: &mut StageCounters, from: &StageCounters) {
    for (stage, counters) in from {
        let slot = into.entry(stage).or_default();
        for (name, value) in counters {
            let v = slot.entry(name).or_default();
            *v = v.saturating_add(*value);
        }
    }
}
