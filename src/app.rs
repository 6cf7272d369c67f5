//! The application layer of the pipeline: receives reassembled TCP streams, decides by content
//! whether a connection carries HTTP (on any port), drives one HTTP parser per connection and
//! hands finished transactions (with their bodies' facts computed) and TLS hellos to whoever
//! drains [`AppLayer::take_done`]: the analysis, on this thread or on the merging one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use apitap_discovery::inventory::{InventoryConfig, PreparedBodies};
use apitap_parsers::http::{detect_request, detect_response, Detection, Direction, HttpConfig, HttpParser, HttpTransaction};
use apitap_sensor::stream::{CloseReason, ConnId, ConnInfo, Dir, StreamSink, TcpEvent};
use apitap_sensor::Timestamp;

use crate::app_tls::TlsConn;
use crate::record::conn_uid;

/// Bytes buffered per direction while deciding whether a connection is HTTP. A side that has
/// sent this much without looking like HTTP is taken as not HTTP.
pub const MAX_DETECT_BYTES: usize = 4096;

/// TCP-level events kept per connection until its next transaction carries them.
pub const MAX_PENDING_TCP_EVENTS: usize = 16;


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
    /// Of those, connections whose hellos were parsed as TLS (only with the inventory on).
    pub tls_connections: u64,
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

enum State {
    Detecting(Detect),
    Http { parser: Box<HttpParser>, swapped: bool },
    Tls(Box<TlsConn>),
    NotHttp,
}

#[derive(Default)]
struct Detect {
    orig: Side,
    resp: Side,
}

#[derive(Default)]
struct Side {
    buf: Vec<u8>,
    first_ts: Option<Timestamp>,
    /// Bytes lost (gaps) while detecting; they precede `buf`.
    lost: u64,
    /// Bytes that arrived after `buf` was full while the connection was still undecided; they
    /// follow `buf` and reach the parser as a gap.
    overflow: u64,
    eof: bool,
}

impl Side {
    /// True when this side can no longer turn out to start with an HTTP message.
    fn exhausted(&self) -> bool {
        self.eof || self.buf.len() >= MAX_DETECT_BYTES
    }
}

struct Conn {
    info: ConnInfo,
    uid: String,
    state: State,
    tcp_events: Vec<String>,
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
            State::NotHttp => 0,
        }
    }
}

/// A finished transaction with what the analysis and the record need of its connection.
pub struct Finished {
    /// The connection as the flow table saw it.
    pub info: ConnInfo,
    /// Client and server are the other way round from `info`'s guess.
    pub swapped: bool,
    /// The connection's uid.
    pub uid: String,
    /// The transaction.
    pub tx: HttpTransaction,
    /// TCP events since the connection's previous transaction.
    pub tcp_events: Vec<String>,
    /// The bodies' facts, when the analysis runs.
    pub bodies: Option<PreparedBodies>,
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
        tls: Box<TlsConn>,
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
    http_counters: BTreeMap<&'static str, u64>,
    /// The inventory's configuration when the analysis runs: bodies' facts are computed here
    /// under it, and TLS hellos are parsed.
    analysis: Option<Arc<InventoryConfig>>,
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
            http_counters: BTreeMap::new(),
            analysis: None,
        }
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
    /// (`None`: records only, and TLS connections are not parsed).
    pub fn set_analysis(&mut self, cfg: Option<Arc<InventoryConfig>>) {
        self.analysis = cfg;
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

    /// HTTP parser counters summed over closed connections and the live ones.
    pub fn http_counters(&self) -> BTreeMap<&'static str, u64> {
        let mut total = self.http_counters.clone();
        for conn in self.conns.values() {
            if let State::Http { parser, .. } = &conn.state {
                for (name, value) in parser.stats().counters() {
                    *total.entry(name).or_default() += value;
                }
            }
        }
        total
    }

    /// Updates the layer's buffer total after `id` was fed. When the budget is spent, the
    /// connection that just grew stops being parsed: what it completed is reported, its
    /// records carry an `http_buffer_budget` event, and its buffers are freed.
    fn account(&mut self, id: ConnId, ts: Timestamp) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let now = conn.buffered();
        self.buffered_total = self.buffered_total.saturating_sub(conn.accounted).saturating_add(now);
        conn.accounted = now;
        self.stats.buffered_peak = self.stats.buffered_peak.max(self.buffered_total as u64);
        if self.buffered_total <= self.max_buffered_total || now == 0 {
            return;
        }
        self.stats.budget_shed_connections += 1;
        if conn.tcp_events.len() < MAX_PENDING_TCP_EVENTS {
            conn.tcp_events.push("http_buffer_budget".to_string());
        }
        if let State::Http { parser, .. } = &mut conn.state {
            parser.handle_close(ts.0);
        }
        self.collect(id);
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let state = std::mem::replace(&mut conn.state, State::NotHttp);
        self.buffered_total = self.buffered_total.saturating_sub(conn.accounted);
        conn.accounted = 0;
        self.retire(state);
    }

    /// Bytes of a chunk that did not fit in the detection window: parsed if the window's
    /// contents decided HTTP, else (still undecided) remembered as lost after the window.
    fn after_detect_window(&mut self, id: ConnId, ts: Timestamp, dir: Dir, rest: &[u8]) {
        let Some(c) = self.conns.get_mut(&id) else { return };
        match &mut c.state {
            State::Http { parser, swapped } => {
                let _ = parser.handle_data(ts.0, to_direction(dir, *swapped), rest);
                self.collect(id);
            }
            State::Detecting(det) => {
                let side = if dir == Dir::FromOrig { &mut det.orig } else { &mut det.resp };
                side.overflow = side.overflow.saturating_add(rest.len() as u64);
                self.stats.detect_overflow_bytes += rest.len() as u64;
            }
            State::Tls(tls) => {
                tls.feed(ts, dir, rest);
                self.settle_tls(id);
            }
            State::NotHttp => {}
        }
    }

    /// Adds a finished parser's counters to the layer's totals.
    fn retire(&mut self, state: State) {
        if let State::Http { parser, .. } = state {
            for (name, value) in parser.stats().counters() {
                *self.http_counters.entry(name).or_default() += value;
            }
        }
    }

    fn collect(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let State::Http { parser, swapped } = &mut conn.state else { return };
        while let Some(tx) = parser.poll_transaction() {
            let bodies = self.analysis.as_deref().map(|cfg| {
                PreparedBodies::compute(cfg, tx.request_content_type.as_deref(), &tx.request_body, tx.response_content_type.as_deref(), &tx.response_body)
            });
            let tcp_events = std::mem::take(&mut conn.tcp_events);
            let finished = Finished { info: conn.info.clone(), swapped: *swapped, uid: conn.uid.clone(), tx, tcp_events, bodies };
            self.done.push(Done::Txn(Box::new(finished)));
            self.stats.transactions += 1;
        }
    }

    /// Reports what a TLS connection's hellos showed (the server's may be missing) and stops
    /// looking at it.
    fn close_tls(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        if !matches!(conn.state, State::Tls(_)) {
            return;
        }
        if let State::Tls(tls) = std::mem::replace(&mut conn.state, State::NotHttp) {
            if self.analysis.is_some() {
                let (client, server) = conn.info.client_server(tls.swapped);
                self.done.push(Done::Tls { client, server, tls });
            }
        }
    }

    /// Reports a TLS connection's hellos once both are in, and stops looking at it.
    fn settle_tls(&mut self, id: ConnId) {
        let finished = self.conns.get(&id).is_some_and(|c| matches!(&c.state, State::Tls(t) if t.finished()));
        if finished {
            self.close_tls(id);
        }
    }

    /// Decides HTTP or not for a detecting connection, and replays what was buffered.
    fn try_decide(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
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
        let swapped = if forward.0 == Detection::Http || forward.1 == Detection::Http {
            false
        } else if reverse.0 == Detection::Http || reverse.1 == Detection::Http {
            true
        } else {
            let undecided = [forward.0, forward.1, reverse.0, reverse.1].contains(&Detection::NeedMore);
            let any_data = !det.orig.buf.is_empty() || !det.resp.buf.is_empty();
            if self.analysis.is_some() {
                match tls_orientation(det) {
                    TlsGuess::Tls(swapped) => {
                        let det = std::mem::take(det);
                        let mut tls = Box::new(TlsConn::new(swapped));
                        let mut sides = [(Dir::FromOrig, det.orig), (Dir::FromResp, det.resp)];
                        sides.sort_by_key(|(_, s)| s.first_ts.unwrap_or(Timestamp(u64::MAX)));
                        for (dir, side) in sides {
                            if side.lost == 0 && !side.buf.is_empty() {
                                tls.feed(side.first_ts.unwrap_or(conn.info.first_ts), dir, &side.buf);
                            }
                        }
                        self.stats.other_connections += 1;
                        self.stats.tls_connections += 1;
                        conn.state = State::Tls(tls);
                        self.settle_tls(id);
                        return;
                    }
                    TlsGuess::NeedMore => return,
                    TlsGuess::No => {}
                }
            }
            if !undecided && any_data {
                conn.state = State::NotHttp;
                self.stats.other_connections += 1;
            }
            return;
        };
        let det = std::mem::take(det);
        let mut parser = Box::new(HttpParser::new(Arc::clone(&self.http_cfg)));
        // Replay in time order so a request is seen before its response.
        let mut sides = [(Dir::FromOrig, det.orig), (Dir::FromResp, det.resp)];
        sides.sort_by_key(|(_, s)| s.first_ts.unwrap_or(Timestamp(u64::MAX)));
        for (dir, side) in sides {
            let direction = to_direction(dir, swapped);
            let ts = side.first_ts.unwrap_or(conn.info.first_ts).0;
            if side.lost > 0 {
                parser.handle_gap(ts, direction, side.lost);
            }
            let starts_message = match direction {
                Direction::ToServer => detect_request(&side.buf) != Detection::NotHttp,
                Direction::ToClient => detect_response(&side.buf) != Detection::NotHttp,
            };
            if starts_message {
                let _ = parser.handle_data(ts, direction, &side.buf);
            } else if !side.buf.is_empty() {
                // Picked up in the middle of a message: skip to the next one.
                parser.handle_gap(ts, direction, side.buf.len() as u64);
            }
            if side.overflow > 0 {
                parser.handle_gap(ts, direction, side.overflow);
            }
            if side.eof {
                parser.handle_eof(ts, direction);
            }
        }
        self.stats.http_connections += 1;
        if swapped {
            self.stats.http_connections_reversed += 1;
        }
        conn.state = State::Http { parser, swapped };
        self.collect(id);
    }
}

/// What the buffered bytes say about TLS.
enum TlsGuess {
    /// TLS, with the client being the TCP responder when `true`.
    Tls(bool),
    NeedMore,
    No,
}

fn tls_orientation(det: &Detect) -> TlsGuess {
    use apitap_parsers::tls::{detect_tls_side, Detection as T, Side as S};
    let looks = |side: &Side, as_: S| -> T {
        if side.buf.is_empty() {
            return if side.eof { T::No } else { T::NeedMore };
        }
        match detect_tls_side(as_, &side.buf) {
            T::NeedMore if side.exhausted() => T::No,
            other => other,
        }
    };
    let (oc, rs) = (looks(&det.orig, S::Client), looks(&det.resp, S::Server));
    if oc == T::Yes || rs == T::Yes {
        return TlsGuess::Tls(false);
    }
    let (rc, os) = (looks(&det.resp, S::Client), looks(&det.orig, S::Server));
    if rc == T::Yes || os == T::Yes {
        return TlsGuess::Tls(true);
    }
    if [oc, rs, rc, os].contains(&T::NeedMore) {
        TlsGuess::NeedMore
    } else {
        TlsGuess::No
    }
}

fn to_direction(dir: Dir, swapped: bool) -> Direction {
    match (dir, swapped) {
        (Dir::FromOrig, false) | (Dir::FromResp, true) => Direction::ToServer,
        (Dir::FromResp, false) | (Dir::FromOrig, true) => Direction::ToClient,
    }
}

impl StreamSink for AppLayer {
    fn on_open(&mut self, conn: &ConnInfo) {
        let uid = conn_uid(conn);
        self.conns.insert(
            conn.id,
            Conn {
                info: conn.clone(),
                uid,
                state: State::Detecting(Detect::default()),
                tcp_events: Vec::new(),
                accounted: 0,
            },
        );
    }

    fn on_data(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir, data: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn.id) else { return };
        match &mut c.state {
            State::NotHttp => {}
            State::Tls(tls) => {
                tls.feed(ts, dir, data);
                self.settle_tls(conn.id);
            }
            State::Http { parser, swapped } => {
                let _ = parser.handle_data(ts.0, to_direction(dir, *swapped), data);
                self.collect(conn.id);
            }
            State::Detecting(det) => {
                let side = if dir == Dir::FromOrig { &mut det.orig } else { &mut det.resp };
                side.first_ts.get_or_insert(ts);
                let room = MAX_DETECT_BYTES.saturating_sub(side.buf.len());
                let (head, rest) = data.split_at(room.min(data.len()));
                side.buf.extend_from_slice(head);
                self.try_decide(conn.id);
                if !rest.is_empty() {
                    self.after_detect_window(conn.id, ts, dir, rest);
                }
            }
        }
        self.account(conn.id, ts);
    }

    fn on_gap(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir, len: u64) {
        let Some(c) = self.conns.get_mut(&conn.id) else { return };
        match &mut c.state {
            State::NotHttp => {}
            State::Tls(_) => {
                // A hello with a hole cannot be parsed: report what is complete and stop.
                self.close_tls(conn.id);
            }
            State::Http { parser, swapped } => {
                parser.handle_gap(ts.0, to_direction(dir, *swapped), len);
                self.collect(conn.id);
            }
            State::Detecting(det) => {
                let side = if dir == Dir::FromOrig { &mut det.orig } else { &mut det.resp };
                // What was buffered can no longer start a message that we can follow.
                side.lost = side.lost.saturating_add(side.buf.len() as u64).saturating_add(len);
                side.buf.clear();
                side.first_ts.get_or_insert(ts);
            }
        }
        self.account(conn.id, ts);
    }

    fn on_fin(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir) {
        let Some(c) = self.conns.get_mut(&conn.id) else { return };
        match &mut c.state {
            State::NotHttp => {}
            State::Tls(_) => self.close_tls(conn.id),
            State::Http { parser, swapped } => {
                parser.handle_eof(ts.0, to_direction(dir, *swapped));
                self.collect(conn.id);
            }
            State::Detecting(det) => {
                let side = if dir == Dir::FromOrig { &mut det.orig } else { &mut det.resp };
                side.eof = true;
                self.try_decide(conn.id);
            }
        }
        self.account(conn.id, ts);
    }

    fn on_event(&mut self, conn: &ConnInfo, _ts: Timestamp, event: TcpEvent) {
        self.stats.tcp_events += 1;
        let Some(c) = self.conns.get_mut(&conn.id) else { return };
        if c.tcp_events.len() >= MAX_PENDING_TCP_EVENTS {
            self.stats.tcp_events_dropped += 1;
            return;
        }
        c.tcp_events.push(tcp_event_name(&event).to_string());
    }

    fn on_close(&mut self, conn: &ConnInfo, ts: Timestamp, _reason: CloseReason) {
        if let Some(c) = self.conns.get_mut(&conn.id) {
            if let State::Detecting(det) = &mut c.state {
                det.orig.eof = true;
                det.resp.eof = true;
                self.try_decide(conn.id);
            }
        }
        if let Some(c) = self.conns.get_mut(&conn.id) {
            match &mut c.state {
                State::Http { parser, .. } => parser.handle_close(ts.0),
                State::Detecting(_) => self.stats.undecided_connections += 1,
                State::Tls(_) => {}
                State::NotHttp => {}
            }
        }
        if matches!(self.conns.get(&conn.id).map(|c| &c.state), Some(State::Tls(_))) {
            self.close_tls(conn.id);
        }
        self.collect(conn.id);
        if let Some(c) = self.conns.remove(&conn.id) {
            self.buffered_total = self.buffered_total.saturating_sub(c.accounted);
            self.retire(c.state);
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
