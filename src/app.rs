//! The application layer of the pipeline: receives reassembled TCP streams, decides by content
//! whether a connection carries HTTP (on any port), drives one HTTP parser per connection and
//! hands finished transactions (with their bodies' facts computed) and TLS hellos to whoever
//! drains [`AppLayer::take_done`]: the analysis, on this thread or on the merging one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use apitap_discovery::inventory::{InventoryConfig, PreparedBodies};
use apitap_parsers::h2::H2Config;
use apitap_parsers::http::{detect_request, detect_response, Detection, Direction, HttpConfig, HttpTransaction};
use apitap_parsers::tls::decrypt::{DecryptConfig, DecryptStats, DecryptStatus, KeySource};
use apitap_sensor::stream::{CloseReason, ConnId, ConnInfo, Dir, StreamSink, TcpEvent};
use apitap_sensor::Timestamp;

use crate::app_detect::{tls_orientation, to_direction, Detect, Side, TlsGuess};
use crate::app_http::{http2_start, ParseCfg, ParseStats, PlainParser, Version};
use crate::app_tls::{PlainCtx, TlsConn, TlsReport};
use crate::record::conn_uid;

/// Bytes buffered per direction while deciding whether a connection is HTTP. A side that has
/// sent this much without looking like HTTP is taken as not HTTP.
pub const MAX_DETECT_BYTES: usize = 4096;

/// TCP-level events kept per connection until its next transaction carries them.
pub const MAX_PENDING_TCP_EVENTS: usize = 16;

/// Capacity of the connection map above which it is shrunk once it is seven-eighths empty.
const MAP_SHRINK_FROM: usize = 4096;

/// Counters of the application layer (summed into the run summary).
#[derive(Debug, Default, Clone)]
pub struct AppStats {
    /// Connections whose content was recognised as HTTP.
    pub http_connections: u64,
    /// Connections recognised as HTTP with client and server the other way round from what
    /// the TCP layer inferred (picked up mid-stream).
    pub http_connections_reversed: u64,
    /// Connections decided not to be HTTP.
    pub other_connections: u64,
    /// Of those, connections whose hellos were parsed as TLS (with the inventory on, or key
    /// logs given).
    pub tls_connections: u64,
    /// TLS connections whose records were decrypted (key logs given).
    pub tls_decrypted: u64,
    /// TLS connections that could not be decrypted, by reason: no keys in time, a suite that
    /// is not supported, records that did not open, no handshake seen.
    pub tls_no_keys: u64,
    /// See `tls_no_keys`.
    pub tls_unsupported: u64,
    /// See `tls_no_keys`.
    pub tls_decrypt_failed: u64,
    /// See `tls_no_keys`.
    pub tls_no_handshake: u64,
    /// Decryption counters of closed connections.
    pub decrypt: DecryptStats,
    /// Connections that closed before enough bytes arrived to decide.
    pub undecided_connections: u64,
    /// Transactions produced.
    pub transactions: u64,
    /// TCP anomalies (overlaps with different bytes, buffer limits, data after close).
    pub tcp_events: u64,
    /// TCP events dropped because a connection had too many pending.
    pub tcp_events_dropped: u64,
    /// Bytes that arrived beyond `MAX_DETECT_BYTES` of one side while the connection was still
    /// undecided (the other side had not said enough yet); they reach the parser as a gap.
    pub detect_overflow_bytes: u64,
    /// Connections whose HTTP parsing was stopped because the layer's buffer budget was spent.
    pub budget_shed_connections: u64,
    /// The most bytes held at once by HTTP parsing across all connections.
    pub buffered_peak: u64,
}

/// What a connection is to this layer. Every variant is a pointer or nothing, so that an
/// idle connection costs a few words here.
enum State {
    /// Nothing has arrived yet (a SYN flood's connections stay here, holding no buffer).
    New,
    Detecting(Box<Detect>),
    Http { parser: Box<PlainParser>, swapped: bool },
    Tls(Box<TlsConn>),
    NotHttp,
}

/// One connection's entry. Its `ConnInfo` is not kept: the flow table hands it in with every
/// call, and the uid is computed from it when a transaction is finished.
struct Conn {
    state: State,
    tcp_events: TcpEvents,
    /// What this connection's buffers counted in the layer's total at the last check.
    accounted: usize,
}

impl Conn {
    /// Bytes this connection's HTTP parsing holds right now.
    fn buffered(&self) -> usize {
        match &self.state {
            State::Detecting(d) => d.orig.buf.len() + d.resp.buf.len(),
            State::Http { parser, .. } => parser.buffered_bytes(),
            State::Tls(t) => t.buffered(),
            State::New | State::NotHttp => 0,
        }
    }

    /// The detection state, made at the first thing that arrives.
    fn detecting(&mut self) -> &mut State {
        if matches!(self.state, State::New) {
            self.state = State::Detecting(Box::default());
        }
        &mut self.state
    }
}

/// The names of the TCP events a connection's next transaction carries, in order, at most
/// [`MAX_PENDING_TCP_EVENTS`]: each is one of a few fixed names, so they are packed three bits
/// apiece into one word instead of a vector of strings per connection.
#[derive(Clone, Copy, Default)]
struct TcpEvents(u64);

/// The names [`TcpEvents`] can hold; a name's code is its position plus one.
const TCP_EVENT_NAMES: [&str; 7] = [
    "tcp_overlap_mismatch",
    "tcp_buffer_limit",
    "tcp_data_after_close",
    "tcp_reset_ignored",
    "tcp_fin_ignored",
    "tcp_paws_rejected",
    "http_buffer_budget",
];

/// Bits of one code, and where the count starts.
const TCP_EVENT_BITS: u32 = 3;
const TCP_EVENT_COUNT_SHIFT: u32 = 58;
const _: () = assert!(MAX_PENDING_TCP_EVENTS as u32 * TCP_EVENT_BITS <= TCP_EVENT_COUNT_SHIFT);
const _: () = assert!(TCP_EVENT_NAMES.len() < 1 << TCP_EVENT_BITS);

impl TcpEvents {
    fn len(self) -> usize {
        (self.0 >> TCP_EVENT_COUNT_SHIFT) as usize
    }

    /// Adds `name` (one of [`TCP_EVENT_NAMES`]); false when full.
    fn push(&mut self, name: &str) -> bool {
        let n = self.len();
        let Some(code) = TCP_EVENT_NAMES.iter().position(|k| *k == name) else { return false };
        if n >= MAX_PENDING_TCP_EVENTS {
            return false;
        }
        let shift = n as u32 * TCP_EVENT_BITS;
        let payload = self.0 & ((1 << TCP_EVENT_COUNT_SHIFT) - 1);
        self.0 = payload | ((code as u64 + 1) << shift) | (((n + 1) as u64) << TCP_EVENT_COUNT_SHIFT);
        true
    }

    /// The names, oldest first, leaving none.
    fn take(&mut self) -> Vec<String> {
        let n = self.len();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let code = (self.0 >> (i as u32 * TCP_EVENT_BITS)) & ((1 << TCP_EVENT_BITS) - 1);
            if let Some(name) = usize::try_from(code).ok().and_then(|c| c.checked_sub(1)).and_then(|c| TCP_EVENT_NAMES.get(c)) {
                out.push((*name).to_string());
            }
        }
        self.0 = 0;
        out
    }
}

/// A finished transaction with what the analysis and the record need of its connection.
pub struct Finished {
    /// The connection as the flow table saw it.
    pub info: ConnInfo,
    /// Client and server are the other way round from `info`'s guess.
    pub swapped: bool,
    /// The connection's uid ([`conn_uid`] of `info`).
    pub uid: String,
    /// The transaction.
    pub tx: HttpTransaction,
    /// TCP events since the connection's previous transaction.
    pub tcp_events: Vec<String>,
    /// The bodies' facts, when the analysis runs and the chain is on a worker thread.
    pub bodies: Option<PreparedBodies>,
    /// The exchange was decrypted from TLS (else it was read in the clear).
    pub decrypted: bool,
    /// The client's certificate (DER) from its TLS handshake: read in the clear under
    /// TLS 1.2, or decrypted under TLS 1.3. Shared by the connection's transactions.
    pub client_cert: Option<Arc<[u8]>>,
    /// The client's JA4 fingerprint from its TLS hello, for a decrypted exchange.
    pub ja4: Option<Arc<str>>,
}

/// What the layer hands over, in the order it happened.
pub enum Done {
    /// A transaction.
    Txn(Box<Finished>),
    /// A TLS connection's hellos, for the inventory.
    Tls {
        /// Client address.
        client: std::net::SocketAddr,
        /// Server address.
        server: std::net::SocketAddr,
        /// The parsed hellos.
        report: Box<TlsReport>,
    },
}

/// Drives HTTP parsing for every connection of the flow table.
pub struct AppLayer {
    http_cfg: Arc<HttpConfig>,
    max_buffered_total: usize,
    buffered_total: usize,
    conns: HashMap<ConnId, Conn>,
    done: Vec<Done>,
    stats: AppStats,
    /// HTTP/2's own limits.
    h2_cfg: Arc<H2Config>,
    /// HTTP parser counters (both versions) of every connection, live and closed: the
    /// parsers count into these instead of keeping their own.
    parse: ParseStats,
    /// The inventory's configuration when the analysis runs: TLS hellos are parsed, and
    /// bodies' facts are computed here under it when `prepare_bodies` says so.
    analysis: Option<Arc<InventoryConfig>>,
    /// Compute bodies' facts here (a worker thread, so that the analysis thread need not);
    /// on the analysis's own thread the inventory computes them, and only for the
    /// transactions that land on an endpoint.
    prepare_bodies: bool,
    /// Session keys for TLS decryption (key logs given), and the decryptors' limits.
    tls_keys: Option<Arc<dyn KeySource + Send + Sync>>,
    decrypt_cfg: DecryptConfig,
}

impl AppLayer {
    /// An application layer with the given HTTP settings and buffer budget: the bytes HTTP
    /// parsing may hold across all connections (partial heads, detection windows, decoder
    /// state). Without it, many connections that each send a slow, never-ending header could
    /// hold `max_header_bytes` apiece.
    pub fn new(http_cfg: Arc<HttpConfig>, max_buffered_total: usize) -> Self {
        AppLayer {
            http_cfg,
            max_buffered_total,
            buffered_total: 0,
            conns: HashMap::new(),
            done: Vec::new(),
            stats: AppStats::default(),
            h2_cfg: Arc::new(H2Config::default()),
            parse: ParseStats::default(),
            analysis: None,
            prepare_bodies: false,
            tls_keys: None,
            decrypt_cfg: DecryptConfig::default(),
        }
    }

    /// Whether TLS connections are decrypted (key logs given).
    pub fn decrypts(&self) -> bool {
        self.tls_keys.is_some()
    }

    /// Decrypts TLS connections that start from now on with these keys (`None`: TLS stays
    /// metadata only).
    pub fn set_tls_keys(&mut self, keys: Option<Arc<dyn KeySource + Send + Sync>>, cfg: DecryptConfig) {
        self.tls_keys = keys;
        self.decrypt_cfg = cfg;
    }

    /// HTTP/2 limits for connections that start from now on.
    pub fn set_h2_config(&mut self, cfg: Arc<H2Config>) {
        self.h2_cfg = cfg;
    }

    /// HTTP settings for connections that start from now on (a reload); parsers already
    /// running keep theirs.
    pub fn set_http_config(&mut self, cfg: Arc<HttpConfig>) {
        self.http_cfg = cfg;
    }

    /// Bytes HTTP parsing holds right now over all connections.
    pub fn buffered_total(&self) -> usize {
        self.buffered_total
    }

    /// Connections this layer keeps state for (one per connection of the flow table, so
    /// bounded by its `max_flows`); the flood tests check that bound.
    #[cfg(test)]
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// From now on, prepare transactions for an analysis under this inventory configuration
    /// (`None`: records only, and TLS connections are not parsed), with their bodies' facts
    /// when `prepare_bodies`.
    pub fn set_analysis(&mut self, cfg: Option<Arc<InventoryConfig>>, prepare_bodies: bool) {
        self.analysis = cfg;
        self.prepare_bodies = prepare_bodies;
    }

    /// Takes what finished so far, in order.
    pub fn take_done(&mut self) -> Vec<Done> {
        std::mem::take(&mut self.done)
    }

    /// Whether anything finished since the last [`AppLayer::take_done`].
    pub fn has_done(&self) -> bool {
        !self.done.is_empty()
    }

    /// Counters of this layer.
    pub fn stats(&self) -> &AppStats {
        &self.stats
    }

    /// HTTP parser counters summed over closed connections and the live ones (empty until a
    /// connection was parsed as HTTP/1.x).
    pub fn http_counters(&self) -> BTreeMap<&'static str, u64> {
        if !self.parse.http_seen {
            return BTreeMap::new();
        }
        self.parse.http.counters().into_iter().collect()
    }

    /// HTTP/2 parser counters, likewise (empty until a connection was parsed as HTTP/2).
    pub fn http2_counters(&self) -> BTreeMap<&'static str, u64> {
        if !self.parse.h2_seen {
            return BTreeMap::new();
        }
        let mut c: BTreeMap<&'static str, u64> = self.parse.h2.counters().into_iter().collect();
        c.insert("h2c_upgrades", self.parse.h2c_upgrades);
        c
    }

    /// Updates the layer's buffer total after `id` was fed. When the budget is spent, the
    /// connection that just grew stops being parsed: what it completed is reported, its
    /// records carry an `http_buffer_budget` event, and its buffers are freed.
    fn account(&mut self, info: &ConnInfo, ts: Timestamp) {
        let id = info.id;
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let now = conn.buffered();
        self.buffered_total = self.buffered_total.saturating_sub(conn.accounted).saturating_add(now);
        conn.accounted = now;
        self.stats.buffered_peak = self.stats.buffered_peak.max(self.buffered_total as u64);
        if self.buffered_total <= self.max_buffered_total || now == 0 {
            return;
        }
        self.stats.budget_shed_connections += 1;
        let _kept = conn.tcp_events.push("http_buffer_budget");
        if let State::Http { parser, .. } = &mut conn.state {
            parser.handle_close(&mut self.parse, ts.0);
        }
        self.collect(info);
        let Some(conn) = self.conns.get_mut(&id) else { return };
        conn.state = State::NotHttp;
        self.buffered_total = self.buffered_total.saturating_sub(conn.accounted);
        conn.accounted = 0;
    }

    /// Bytes of a chunk that did not fit in the detection window: parsed if the window's
    /// contents decided HTTP, else (still undecided) remembered as lost after the window.
    fn after_detect_window(&mut self, info: &ConnInfo, ts: Timestamp, dir: Dir, rest: &[u8]) {
        let id = info.id;
        let Some(c) = self.conns.get_mut(&id) else { return };
        match &mut c.state {
            State::Http { parser, swapped } => {
                let cfg = ParseCfg { http: &self.http_cfg, h2: &self.h2_cfg };
                parser.handle_data(cfg, &mut self.parse, ts.0, to_direction(dir, *swapped), rest);
                self.collect(info);
            }
            State::Detecting(det) => {
                let side = det.side_mut(dir);
                side.overflow = side.overflow.saturating_add(rest.len() as u64);
                self.stats.detect_overflow_bytes += rest.len() as u64;
            }
            State::Tls(tls) => {
                let mut ctx = plain_ctx(&self.tls_keys, &self.http_cfg, &self.h2_cfg, &mut self.parse);
                tls.feed(ts, dir, rest, &mut ctx);
                self.collect(info);
                self.settle_tls(info);
            }
            State::New | State::NotHttp => {}
        }
    }

    fn collect(&mut self, info: &ConnInfo) {
        let Some(conn) = self.conns.get_mut(&info.id) else { return };
        let (parser, swapped, decrypted, client_cert, fingerprint) = match &mut conn.state {
            State::Http { parser, swapped } => (&mut **parser, *swapped, false, None, None),
            State::Tls(tls) => {
                let swapped = tls.swapped;
                let cert = tls.client_cert();
                let fingerprint = tls.ja4();
                let Some(parser) = tls.http() else { return };
                (parser, swapped, true, cert, fingerprint)
            }
            _ => return,
        };
        while let Some(tx) = parser.poll_transaction() {
            let bodies = self
                .analysis
                .as_deref()
                .filter(|_| self.prepare_bodies)
                .map(|cfg| PreparedBodies::compute(cfg, &crate::analysis::body_input(&tx)));
            let tcp_events = conn.tcp_events.take();
            let finished = Finished { info: info.clone(), swapped, uid: conn_uid(info), tx, tcp_events, bodies, decrypted, client_cert: client_cert.clone(), ja4: fingerprint.clone() };
            self.done.push(Done::Txn(Box::new(finished)));
            self.stats.transactions += 1;
        }
    }

    /// Hands the TLS report on when it is ready (or `closing`), and stops looking at a
    /// connection that has nothing more to give.
    fn settle_tls(&mut self, info: &ConnInfo) {
        self.settle_tls_at(info, false);
    }

    fn settle_tls_at(&mut self, info: &ConnInfo, closing: bool) {
        let Some(conn) = self.conns.get_mut(&info.id) else { return };
        let State::Tls(tls) = &mut conn.state else { return };
        if let Some(report) = tls.take_report(closing) {
            if self.analysis.is_some() {
                let (client, server) = info.client_server(tls.swapped);
                self.done.push(Done::Tls { client, server, report: Box::new(report) });
            }
        }
        if !(closing || tls.finished()) {
            return;
        }
        if let Some(st) = tls.decrypt_stats() {
            self.stats.decrypt.merge(st);
        }
        match tls.decryption() {
            Some(DecryptStatus::Decrypting) => self.stats.tls_decrypted += 1,
            Some(DecryptStatus::NoKeys | DecryptStatus::Pending | DecryptStatus::WaitingForKeys) => self.stats.tls_no_keys += 1,
            Some(DecryptStatus::Unsupported(_)) => self.stats.tls_unsupported += 1,
            Some(DecryptStatus::Failed) => self.stats.tls_decrypt_failed += 1,
            Some(DecryptStatus::NoHandshake) => self.stats.tls_no_handshake += 1,
            None => {}
        }
        conn.state = State::NotHttp;
    }

    /// Decides HTTP or not for a detecting connection, and replays what was buffered.
    fn try_decide(&mut self, info: &ConnInfo) {
        let Some(conn) = self.conns.get_mut(&info.id) else { return };
        let State::Detecting(det) = &mut conn.state else { return };
        let looks = |side: &Side, want_request: bool| -> Detection {
            if side.buf.is_empty() {
                return if side.eof { Detection::NotHttp } else { Detection::NeedMore };
            }
            let d = if want_request { detect_request(&side.buf) } else { detect_response(&side.buf) };
            match d {
                Detection::NeedMore if side.exhausted() => Detection::NotHttp,
                other => other,
            }
        };
        let forward = (looks(&det.orig, true), looks(&det.resp, false));
        let reverse = (looks(&det.resp, true), looks(&det.orig, false));
        // HTTP/2: the client's connection preface decides it and the orientation; a side that
        // is the start of a preface waits for the rest. Frames without a preface (a capture
        // that started later) decide it below, once neither HTTP/1.x nor TLS does.
        let h2_fwd = http2_start(&det.orig.buf, &det.resp.buf);
        let h2_rev = http2_start(&det.resp.buf, &det.orig.buf);
        if (h2_fwd == Version::NeedMore && !det.orig.exhausted()) || (h2_rev == Version::NeedMore && !det.resp.exhausted()) {
            return;
        }
        let (swapped, h2) = if h2_fwd == Version::Http2Preface {
            (false, true)
        } else if h2_rev == Version::Http2Preface {
            (true, true)
        } else if forward.0 == Detection::Http || forward.1 == Detection::Http {
            (false, false)
        } else if reverse.0 == Detection::Http || reverse.1 == Detection::Http {
            (true, false)
        } else {
            let undecided = [forward.0, forward.1, reverse.0, reverse.1].contains(&Detection::NeedMore);
            let any_data = !det.orig.buf.is_empty() || !det.resp.buf.is_empty();
            if self.analysis.is_some() || self.tls_keys.is_some() {
                match tls_orientation(det) {
                    TlsGuess::Tls(swapped) => {
                        let det = std::mem::take(&mut **det);
                        let decrypt = self.tls_keys.is_some().then_some(&self.decrypt_cfg);
                        let mut tls = Box::new(TlsConn::new(swapped, decrypt));
                        let mut ctx = plain_ctx(&self.tls_keys, &self.http_cfg, &self.h2_cfg, &mut self.parse);
                        let mut sides = [(Dir::FromOrig, det.orig), (Dir::FromResp, det.resp)];
                        sides.sort_by_key(|(_, s)| s.first_ts.unwrap_or(Timestamp(u64::MAX)));
                        for (dir, side) in sides {
                            let ts = side.first_ts.unwrap_or(info.first_ts);
                            if side.lost > 0 {
                                tls.gap(ts, dir, side.lost, &mut ctx);
                            } else if !side.buf.is_empty() {
                                tls.feed(ts, dir, &side.buf, &mut ctx);
                            }
                            if side.overflow > 0 {
                                tls.gap(ts, dir, side.overflow, &mut ctx);
                            }
                            if side.eof {
                                tls.eof(ts, dir, &mut ctx);
                            }
                        }
                        self.stats.other_connections += 1;
                        self.stats.tls_connections += 1;
                        conn.state = State::Tls(tls);
                        self.collect(info);
                        self.settle_tls(info);
                        return;
                    }
                    TlsGuess::NeedMore => return,
                    TlsGuess::No => {}
                }
            }
            if h2_fwd == Version::Http2Frames {
                // Joined after the preface, so the TCP handshake that names the client was not
                // seen either: the first pseudo-header of a HEADERS frame says who is who.
                let said = |side: &Side, as_orig: bool| {
                    apitap_parsers::h2::headers_sender(&side.buf).map(|d| (d == Direction::ToClient) == as_orig)
                };
                match said(&det.orig, true).or_else(|| said(&det.resp, false)) {
                    Some(swapped) => (swapped, true),
                    None if !(det.orig.exhausted() && det.resp.exhausted()) => return,
                    None => (false, true),
                }
            } else {
                if !undecided && any_data {
                    conn.state = State::NotHttp;
                    self.stats.other_connections += 1;
                }
                return;
            }
        };
        let det = std::mem::take(&mut **det);
        let cfg = ParseCfg { http: &self.http_cfg, h2: &self.h2_cfg };
        let stats = &mut self.parse;
        let mut parser = Box::new(if h2 { PlainParser::http2(cfg, stats) } else { PlainParser::http1(cfg, stats) });
        det.replay(&mut parser, cfg, stats, swapped, h2, info.first_ts);
        self.stats.http_connections += 1;
        if swapped {
            self.stats.http_connections_reversed += 1;
        }
        conn.state = State::Http { parser, swapped };
        self.collect(info);
    }
}

/// Key source of a layer without key logs.
static NO_KEYS: apitap_parsers::tls::decrypt::NoKeys = apitap_parsers::tls::decrypt::NoKeys;

/// What a TLS connection's decryption and HTTP parsing need from the layer: the key source
/// (none without key logs), HTTP settings and counters. Takes the fields, not the layer, so
/// that a connection of the layer's map can be borrowed at the same time.
fn plain_ctx<'a>(
    keys: &'a Option<Arc<dyn KeySource + Send + Sync>>,
    http_cfg: &'a Arc<HttpConfig>,
    h2_cfg: &'a Arc<H2Config>,
    stats: &'a mut ParseStats,
) -> PlainCtx<'a> {
    let keys: &dyn KeySource = keys.as_deref().map_or(&NO_KEYS, |k| k as &dyn KeySource);
    PlainCtx { keys, http_cfg, h2_cfg, stats }
}

impl StreamSink for AppLayer {
    fn on_open(&mut self, conn: &ConnInfo) {
        self.conns.insert(conn.id, Conn { state: State::New, tcp_events: TcpEvents::default(), accounted: 0 });
    }

    fn on_data(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir, data: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn.id) else { return };
        match c.detecting() {
            State::New | State::NotHttp => {}
            State::Tls(tls) => {
                let mut ctx = plain_ctx(&self.tls_keys, &self.http_cfg, &self.h2_cfg, &mut self.parse);
                tls.feed(ts, dir, data, &mut ctx);
                self.collect(conn);
                self.settle_tls(conn);
            }
            State::Http { parser, swapped } => {
                let cfg = ParseCfg { http: &self.http_cfg, h2: &self.h2_cfg };
                parser.handle_data(cfg, &mut self.parse, ts.0, to_direction(dir, *swapped), data);
                self.collect(conn);
            }
            State::Detecting(det) => {
                let room = MAX_DETECT_BYTES.saturating_sub(det.side(dir).buf.len());
                let (head, rest) = data.split_at(room.min(data.len()));
                det.push(dir, ts, head);
                self.try_decide(conn);
                if !rest.is_empty() {
                    self.after_detect_window(conn, ts, dir, rest);
                }
            }
        }
        self.account(conn, ts);
    }

    fn on_gap(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir, len: u64) {
        let Some(c) = self.conns.get_mut(&conn.id) else { return };
        match c.detecting() {
            State::New | State::NotHttp => {}
            State::Tls(tls) => {
                // A hello with a hole cannot be parsed, and a protected direction cannot be
                // framed past one: the decryptor stops that direction.
                let mut ctx = plain_ctx(&self.tls_keys, &self.http_cfg, &self.h2_cfg, &mut self.parse);
                tls.gap(ts, dir, len, &mut ctx);
                // Without decryption going on the hellos cannot be completed past the gap.
                let closing = !tls.may_decrypt();
                self.collect(conn);
                self.settle_tls_at(conn, closing);
            }
            State::Http { parser, swapped } => {
                parser.handle_gap(&mut self.parse, ts.0, to_direction(dir, *swapped), len);
                self.collect(conn);
            }
            State::Detecting(det) => {
                // What was buffered can no longer start a message that we can follow.
                det.lose(dir, ts, len);
            }
        }
        self.account(conn, ts);
    }

    fn on_fin(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir) {
        let Some(c) = self.conns.get_mut(&conn.id) else { return };
        match c.detecting() {
            State::New | State::NotHttp => {}
            State::Tls(tls) => {
                let mut ctx = plain_ctx(&self.tls_keys, &self.http_cfg, &self.h2_cfg, &mut self.parse);
                tls.eof(ts, dir, &mut ctx);
                let closing = !tls.may_decrypt();
                self.collect(conn);
                self.settle_tls_at(conn, closing);
            }
            State::Http { parser, swapped } => {
                parser.handle_eof(&mut self.parse, ts.0, to_direction(dir, *swapped));
                self.collect(conn);
            }
            State::Detecting(det) => {
                let side = det.side_mut(dir);
                side.eof = true;
                self.try_decide(conn);
            }
        }
        self.account(conn, ts);
    }

    fn on_event(&mut self, conn: &ConnInfo, _ts: Timestamp, event: TcpEvent) {
        self.stats.tcp_events += 1;
        let Some(c) = self.conns.get_mut(&conn.id) else { return };
        if !c.tcp_events.push(tcp_event_name(&event)) {
            self.stats.tcp_events_dropped += 1;
        }
    }

    fn on_close(&mut self, conn: &ConnInfo, ts: Timestamp, _reason: CloseReason) {
        if let Some(c) = self.conns.get_mut(&conn.id) {
            if let State::Detecting(det) = &mut c.state {
                det.orig.eof = true;
                det.resp.eof = true;
                self.try_decide(conn);
            }
        }
        if let Some(c) = self.conns.get_mut(&conn.id) {
            match &mut c.state {
                State::Http { parser, .. } => parser.handle_close(&mut self.parse, ts.0),
                // Nothing arrived: as undecided as a connection whose bytes said nothing yet.
                State::New | State::Detecting(_) => self.stats.undecided_connections += 1,
                State::Tls(tls) => {
                    let mut ctx = plain_ctx(&self.tls_keys, &self.http_cfg, &self.h2_cfg, &mut self.parse);
                    tls.close(ts, &mut ctx);
                }
                State::NotHttp => {}
            }
        }
        // Collect before settling: settling a TLS connection drops its HTTP parser.
        self.collect(conn);
        self.settle_tls_at(conn, true);
        if let Some(c) = self.conns.remove(&conn.id) {
            self.buffered_total = self.buffered_total.saturating_sub(c.accounted);
        }
        // The map does not shrink by itself: after a flood, or at the end of input, its
        // slots would stay allocated.
        if self.conns.is_empty() {
            self.conns = HashMap::new();
        } else if self.conns.capacity() > MAP_SHRINK_FROM && self.conns.len() < self.conns.capacity() / 8 {
            self.conns.shrink_to(self.conns.len() * 2);
        }
    }
}

fn tcp_event_name(event: &TcpEvent) -> &'static str {
    match event {
        TcpEvent::OverlapMismatch { .. } => "tcp_overlap_mismatch",
        TcpEvent::BufferLimit { .. } => "tcp_buffer_limit",
        TcpEvent::DataAfterClose { .. } => "tcp_data_after_close",
        TcpEvent::ResetIgnored { .. } => "tcp_reset_ignored",
        TcpEvent::FinIgnored { .. } => "tcp_fin_ignored",
        TcpEvent::PawsRejected { .. } => "tcp_paws_rejected",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    // The packed list gives back the names in the order they came, keeps at most
    // MAX_PENDING_TCP_EVENTS and starts empty again once taken.
    #[test]
    fn tcp_events_keep_their_order_and_bound() {
        let mut e = TcpEvents::default();
        let names: Vec<&str> = (0..20).map(|i| TCP_EVENT_NAMES[(i * 5 + 3) % TCP_EVENT_NAMES.len()]).collect();
        let kept: Vec<bool> = names.iter().map(|n| e.push(n)).collect();
        assert_eq!(kept.iter().filter(|k| **k).count(), MAX_PENDING_TCP_EVENTS);
        assert!(kept[..MAX_PENDING_TCP_EVENTS].iter().all(|k| *k));
        let expected: Vec<String> = names[..MAX_PENDING_TCP_EVENTS].iter().map(|n| n.to_string()).collect();
        assert_eq!(e.take(), expected);
        assert!(e.take().is_empty());
        assert!(e.push("http_buffer_budget"));
        assert!(!e.push("not_an_event"));
        assert_eq!(e.take(), vec!["http_buffer_budget".to_string()]);
    }

    // Every event the flow table can raise has a code.
    #[test]
    fn every_tcp_event_name_packs() {
        use apitap_sensor::stream::Dir;
        let events = [
            TcpEvent::OverlapMismatch { dir: Dir::FromOrig, offset: 0, len: 1 },
            TcpEvent::BufferLimit { dir: Dir::FromOrig, dropped: 1 },
            TcpEvent::DataAfterClose { dir: Dir::FromOrig },
            TcpEvent::ResetIgnored { dir: Dir::FromOrig },
            TcpEvent::FinIgnored { dir: Dir::FromOrig },
            TcpEvent::PawsRejected { dir: Dir::FromOrig },
        ];
        let mut e = TcpEvents::default();
        for ev in &events {
            assert!(e.push(tcp_event_name(ev)));
        }
        assert_eq!(e.take().len(), events.len());
    }
}
