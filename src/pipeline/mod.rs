//! Packets in, transaction records out: link/tunnel decode, IP defragmentation, the flow
//! table with TCP reassembly, and the HTTP layer ([`stages`]), run on this thread or on
//! worker threads ([`workers`], merged back in input order by [`merge`]); then the analysis
//! (inventory, identities, detectors) and the records, always on this thread.

mod merge;
mod route;
pub mod stages;
pub mod workers;

use std::collections::BTreeMap;
use std::sync::Arc;

use apitap_sensor::capture::PacketRecord;
use apitap_sensor::Timestamp;

use crate::analysis::{Analysis, ConnFacts};
use apitap_discovery::inventory::Visibility;
use crate::app::Done;
use crate::config::Settings;
use crate::record::TransactionRecord;
use merge::Released;
use stages::Stages;
pub use workers::WorkerStats;

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

/// Where the packet chain runs.
enum Engine {
    /// On the calling thread.
    Inline(Box<Stages>),
    /// On worker threads.
    Workers(Box<workers::Workers>),
}

/// The whole processing chain for one trace or capture.
pub struct Pipeline {
    stop_after: Option<Stage>,
    engine: Engine,
    /// Inventory, identities and detectors, when they run.
    analysis: Option<Box<Analysis>>,
    records: Vec<TransactionRecord>,
    /// The timeout clock: the latest confirmed packet time; it never runs backwards.
    now: Timestamp,
    /// A large forward jump waiting for a second packet to confirm it.
    pending_jump: Option<Timestamp>,
    /// Packets whose time jumped far ahead without confirmation.
    time_jumps_held: u64,
    next_timeout: Timestamp,
    packets: u64,
    bytes: u64,
    /// Packets whose timestamp was earlier than one already seen.
    time_regressions: u64,
    /// The key logs' secrets, when TLS is decrypted (for their counters).
    keylog: Option<crate::tls_keys::KeyStore>,
}

impl Pipeline {
    /// A pipeline with the given settings: on this thread when `settings.workers` is 0 or 1
    /// (or the worker threads cannot be started, which is logged), else on that many worker
    /// threads.
    pub fn new(settings: &Settings) -> Self {
        let engine = if settings.workers > 1 {
            match workers::Workers::start(settings, settings.workers) {
                Ok(w) => Engine::Workers(Box::new(w)),
                Err(e) => {
                    tracing::warn!("could not start {} worker threads ({e}); processing on one thread", settings.workers);
                    Engine::Inline(Box::new(Stages::new(settings, false)))
                }
            }
        } else {
            Engine::Inline(Box::new(Stages::new(settings, false)))
        };
        Pipeline {
            stop_after: settings.stop_after,
            engine,
            analysis: None,
            records: Vec::new(),
            now: Timestamp(0),
            pending_jump: None,
            time_jumps_held: 0,
            next_timeout: Timestamp(0),
            packets: 0,
            bytes: 0,
            time_regressions: 0,
            keylog: settings.tls_keys.clone(),
        }
    }

    /// Feeds every transaction to `analysis` as well.
    pub fn set_analysis(&mut self, analysis: crate::analysis::Analysis) {
        let cfg = Some(Arc::new(analysis.inventory.config().clone()));
        match &mut self.engine {
            Engine::Inline(s) => s.set_analysis(cfg),
            Engine::Workers(w) => w.set_analysis(cfg),
        }
        self.analysis = Some(Box::new(analysis));
    }

    /// HTTP settings for connections that start from now on.
    pub fn set_http_config(&mut self, cfg: std::sync::Arc<apitap_parsers::http::HttpConfig>) {
        match &mut self.engine {
            Engine::Inline(s) => s.set_http_config(cfg),
            Engine::Workers(w) => w.set_http_config(cfg),
        }
    }

    /// HTTP/2 limits for connections that start from now on (a reload); connections already
    /// parsed keep theirs.
    pub fn set_h2_config(&mut self, cfg: std::sync::Arc<apitap_parsers::h2::H2Config>) {
        match &mut self.engine {
            Engine::Inline(s) => s.set_h2_config(cfg),
            Engine::Workers(w) => w.set_h2_config(cfg),
        }
    }

    /// What the pipeline holds right now: open flows, bytes held by reassembly (out of order
    /// and retained for retransmission checks), bytes held by HTTP parsing. With workers,
    /// as of their latest report (at most one second of packet time old).
    pub fn gauges(&self) -> (u64, u64, u64) {
        let g = match &self.engine {
            Engine::Inline(s) => s.gauges(),
            Engine::Workers(w) => w.gauges(),
        };
        (g.flows, g.reassembly, g.http)
    }

    /// Each worker's load and losses; empty when the chain runs on this thread.
    pub fn worker_stats(&self) -> Vec<WorkerStats> {
        match &self.engine {
            Engine::Inline(_) => Vec::new(),
            Engine::Workers(w) => w.stats().to_vec(),
        }
    }

    /// [`Pipeline::worker_stats`] for the run summary.
    pub fn worker_summaries(&self) -> Vec<crate::summary::WorkerSummary> {
        let summary = |w: &WorkerStats| crate::summary::WorkerSummary {
            packets: w.packets,
            queue_drops: w.queue_drops,
            busy_seconds: w.busy_nanos as f64 / 1e9,
        };
        self.worker_stats().iter().map(summary).collect()
    }

    /// Takes the analysis out (a reload rebuilds it).
    pub fn take_analysis(&mut self) -> Option<crate::analysis::Analysis> {
        self.analysis.take().map(|a| *a)
    }

    /// The analysis (inventory, identities, detectors), if it runs.
    pub fn analysis_mut(&mut self) -> Option<&mut crate::analysis::Analysis> {
        self.analysis.as_deref_mut()
    }

    /// Anomalies raised since the last call.
    pub fn drain_anomalies(&mut self) -> Vec<apitap_discovery::behaviour::Anomaly> {
        self.analysis.as_deref_mut().map(|a| a.drain_anomalies()).unwrap_or_default()
    }

    /// Processes one captured packet.
    pub fn handle_packet(&mut self, rec: &PacketRecord<'_>) {
        self.packets += 1;
        self.bytes += rec.data.len() as u64;
        self.advance_clock(rec.ts);
        if self.now >= self.next_timeout {
            self.expire(false);
        }
        if self.stop_after == Some(Stage::Capture) {
            return;
        }
        match &mut self.engine {
            Engine::Inline(s) => {
                s.handle_packet(rec);
                if s.has_done() {
                    let done = s.take_done();
                    self.apply(done);
                }
            }
            Engine::Workers(w) => {
                w.dispatch(rec);
                self.pump();
            }
        }
    }

    /// Feeds finished items to the analysis and makes their records.
    fn apply(&mut self, done: Vec<Done>) {
        for d in done {
            apply_one(self.analysis.as_deref_mut(), &mut self.records, d);
        }
    }

    /// Takes in what the workers' merge released.
    fn pump(&mut self) {
        let Engine::Workers(w) = &mut self.engine else { return };
        for r in w.take_released() {
            match r {
                Released::Done(d) => apply_one(self.analysis.as_deref_mut(), &mut self.records, d),
                Released::Advance(now) => {
                    if let Some(a) = self.analysis.as_deref_mut() {
                        a.advance(now.0);
                    }
                }
            }
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

    /// Timeouts as of the clock; `quiet`: called for a quiet link, not before a packet.
    fn expire(&mut self, quiet: bool) {
        let now = self.now;
        match &mut self.engine {
            Engine::Inline(s) => {
                s.expire(now);
                let done = s.take_done();
                self.apply(done);
                if let Some(a) = self.analysis.as_deref_mut() {
                    a.advance(now.0);
                }
            }
            Engine::Workers(w) => {
                w.tick(now, quiet);
                self.pump();
            }
        }
        self.next_timeout = now.plus_nanos(TIMEOUT_INTERVAL_NANOS);
    }

    /// Advances the timeout clock without a packet (a quiet live interface), so idle flows
    /// expire. Never moves it backwards.
    pub fn handle_tick(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
        }
        self.expire(true);
    }

    /// The pipeline's packet-time clock (the latest confirmed packet or tick).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// End of input, a slice at a time: closes at most `FlowTable`'s `FINISH_SLICE` flows (per
    /// worker), feeds their pending transactions to the analysis and makes their records, and
    /// returns true once every flow is closed. Call it until it returns true and take the
    /// records ([`Pipeline::drain_records`]) after every call: the records of every flow open
    /// at the end (a million on a busy link) then never exist at once.
    ///
    /// On one thread the records come in the order one call of `FlowTable::finish` gives. On
    /// workers each call closes a slice of every worker's flows, merged in worker order, so
    /// the order depends on the input and the number of workers only (with more than a slice
    /// of flows open per worker it interleaves the workers' slices, where one flush of
    /// everything gave all of the first worker's records first).
    pub fn finish_some(&mut self) -> bool {
        let now = self.now;
        match &mut self.engine {
            Engine::Inline(s) => {
                let finished = s.finish_some(now);
                let done = s.take_done();
                self.apply(done);
                finished
            }
            Engine::Workers(w) => {
                let finished = w.finish_some(now);
                self.pump();
                finished
            }
        }
    }

    /// End of input at once: [`Pipeline::finish_some`] until every flow is closed, keeping
    /// every record until [`Pipeline::drain_records`] (tests compare it with the sliced end).
    #[cfg(test)]
    pub fn finish(&mut self) {
        while !self.finish_some() {}
    }

    /// Whether the records it makes are meant to be written (not a measuring run that stops
    /// at HTTP parsing).
    pub fn writes_records(&self) -> bool {
        self.stop_after.is_none()
    }

    /// Closed connections per service, two-way or one-sided, since the last call (see
    /// `FlowTable::take_sides`).
    pub fn take_sides(&mut self) -> (Vec<(std::net::SocketAddr, apitap_sensor::flow::Sides)>, u64) {
        match &mut self.engine {
            Engine::Inline(s) => s.take_sides(),
            Engine::Workers(w) => w.take_sides(),
        }
    }

    /// Records finished since the last call.
    pub fn drain_records(&mut self) -> impl Iterator<Item = TransactionRecord> + '_ {
        self.records.drain(..)
    }

    /// The chain, when it runs on this thread (the flood tests look inside).
    #[cfg(test)]
    fn inline(&self) -> Option<&Stages> {
        match &self.engine {
            Engine::Inline(s) => Some(s),
            Engine::Workers(_) => None,
        }
    }

    /// Every counter of every stage, by stage, for the run summary. With workers, their
    /// counters are as of their latest report (at most one second of packet time old; exact
    /// after [`Pipeline::finish`]).
    pub fn counters(&self) -> BTreeMap<&'static str, BTreeMap<&'static str, u64>> {
        let mut all = BTreeMap::new();
        let input = BTreeMap::from([
            ("packets", self.packets),
            ("bytes", self.bytes),
            ("time_regressions", self.time_regressions),
            ("time_jumps_held", self.time_jumps_held),
            ("decode_events", 0),
        ]);
        all.insert("input", input);
        let chain = match &self.engine {
            Engine::Inline(s) => s.counters(),
            Engine::Workers(w) => w.counters(),
        };
        stages::add_counters(&mut all, &chain);
        if let Some(k) = &self.keylog {
            let st = k.stats();
            all.insert(
                "tls_keylog",
                BTreeMap::from([
                    ("secrets", st.secrets),
                    ("sessions", k.sessions() as u64),
                    ("lines_skipped", st.skipped),
                    ("lines_malformed", st.malformed),
                    ("sessions_evicted", st.evicted),
                ]),
            );
        }
        if let Some(a) = self.analysis.as_deref() {
            let inv = a.inventory.stats();
            all.insert(
                "inventory",
                BTreeMap::from([
                    ("transactions", inv.transactions),
                    ("bodies_analysed", inv.bodies_analysed),
                    ("bodies_sampled_out", inv.bodies_sampled_out),
                ]),
            );
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
                        ("findings_suppressed", al.suppressed),
                        ("detections_absorbed", al.absorbed),
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

/// Feeds one finished item to the analysis and makes its record.
fn apply_one(analysis: Option<&mut Analysis>, records: &mut Vec<TransactionRecord>, done: Done) {
    match done {
        Done::Txn(f) => {
            let f = *f;
            let visibility = if f.decrypted { Visibility::Decrypted } else { Visibility::Clear };
            if let Some(a) = analysis {
                let (client, server) = f.info.client_server(f.swapped);
                let conn = ConnFacts { client, server, uid: &f.uid, tls_client_cert: f.client_cert.as_deref(), visibility, ja4: f.ja4.as_deref() };
                a.observe(conn, &f.tx, f.bodies);
            }
            records.push(TransactionRecord::new(&f.info, f.swapped, &f.uid, f.tx, f.tcp_events).visibility(visibility));
        }
        Done::Tls { client, server, report } => {
            if let Some(a) = analysis {
                report.report(&mut a.inventory, client, server);
            }
        }
    }
}

#[cfg(test)]
mod finish_slices;
#[cfg(test)]
mod floods;
