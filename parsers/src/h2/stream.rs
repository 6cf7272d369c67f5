//! Streams and the transactions they become: one per stream, emitted when both sides have
//! ended, when the stream is reset or cut by a GOAWAY, or when the connection closes.

use std::collections::{BTreeMap, VecDeque};

use crate::http::body::{decide, Body, ExpectBody, Framing, MessageInfo};
use crate::http::head::{Field, Version};
use crate::http::message::apply_fields;
use crate::http::redact::{host_without_userinfo, redact_target, Form};
use crate::http::text::wire_string;
use crate::http::{retain, Direction, HttpConfig, HttpEvent, HttpTransaction};

use super::grpc::{self, MessageReader};
use super::hpack::HeaderField;
use super::{GrpcFacts, H2Config, H2Event, H2Facts, H2Stats};

/// Ids of recently finished streams remembered, so that a late frame (DATA in flight when a
/// reset went out, a WINDOW_UPDATE) does not open a new transaction.
const RECENTLY_CLOSED: usize = 64;

/// One side (request or response) of a stream.
#[derive(Debug, Default)]
pub(crate) struct Half {
    /// A header block was seen on this side.
    pub headers: bool,
    /// For a response: a final (non-1xx) status was seen.
    pub final_status: bool,
    /// END_STREAM was seen.
    pub ended: bool,
    pub body: Option<Box<Body>>,
    pub grpc: Option<MessageReader>,
}

impl Half {
    fn held_bytes(&self) -> usize {
        self.body.as_ref().map_or(0, |b| b.held_bytes())
    }
}

/// A stream being followed.
#[derive(Debug)]
pub(crate) struct Stream {
    pub t: Box<HttpTransaction>,
    pub req: Half,
    pub resp: Half,
}

impl Stream {
    pub fn half_mut(&mut self, dir: Direction) -> &mut Half {
        match dir {
            Direction::ToServer => &mut self.req,
            Direction::ToClient => &mut self.resp,
        }
    }

    fn facts(&mut self) -> &mut H2Facts {
        self.t.h2.get_or_insert_with(Box::default)
    }
}

/// Finished transactions waiting to be polled, with the heap bytes of their captured bodies
/// and retained headers kept up to date (so that it can be read in constant time).
#[derive(Debug, Default)]
pub(crate) struct Ready {
    queue: VecDeque<Box<HttpTransaction>>,
    bytes: usize,
}

impl Ready {
    /// Queues a transaction; at `max` the oldest is dropped and counted.
    fn push(&mut self, t: Box<HttpTransaction>, max: usize, stats: &mut H2Stats) {
        if self.queue.len() >= max.max(1) {
            if let Some(old) = self.queue.pop_front() {
                self.bytes = self.bytes.saturating_sub(old.body_bytes());
            }
            stats.http.transactions_dropped += 1;
        }
        self.bytes = self.bytes.saturating_add(t.body_bytes());
        self.queue.push_back(t);
    }

    pub fn pop(&mut self) -> Option<Box<HttpTransaction>> {
        let t = self.queue.pop_front()?;
        self.bytes = self.bytes.saturating_sub(t.body_bytes());
        Some(t)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Everything a stream operation needs from the connection.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a HttpConfig,
    pub h2: &'a H2Config,
    pub stats: &'a mut H2Stats,
    pub ready: &'a mut Ready,
}

impl Ctx<'_> {
    /// Adds a stream event to a transaction, bounded.
    pub fn event(&mut self, t: &mut HttpTransaction, e: H2Event) {
        let max = self.cfg.max_events_per_transaction;
        let facts = t.h2.get_or_insert_with(Box::default);
        if facts.events.len() < max {
            facts.events.push(e);
            self.stats.http.events += 1;
        } else {
            self.stats.http.events_dropped += 1;
        }
    }

    fn http_event(&mut self, t: &mut HttpTransaction, e: HttpEvent) {
        if t.events.len() < self.cfg.max_events_per_transaction {
            t.events.push(e);
            self.stats.http.events += 1;
        } else {
            self.stats.http.events_dropped += 1;
        }
    }
}

/// The streams of one connection.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    map: BTreeMap<u32, Stream>,
    recent: VecDeque<u32>,
    /// Highest stream id seen, per parity (odd: client, even: server).
    max_seen: [u32; 2],
    /// First stream id seen, per parity (for a joined connection, older ids are streams
    /// opened before the join).
    first_seen: [u32; 2],
    depth: u32,
    /// The connection was joined mid-way.
    pub joined: bool,
}

fn parity(id: u32) -> usize {
    (id % 2 == 0) as usize
}

impl Streams {
    pub fn get_mut(&mut self, id: u32) -> Option<&mut Stream> {
        self.map.get_mut(&id)
    }

    /// Heap bytes of the bodies being followed.
    pub fn held_bytes(&self) -> usize {
        self.map.values().map(|s| s.req.held_bytes() + s.resp.held_bytes() + s.t.body_bytes()).sum()
    }

    /// Whether a frame on the unknown stream `id` may open it.
    fn may_open(&self, id: u32) -> bool {
        let p = parity(id);
        let (max, first) = (self.max_seen.get(p).copied().unwrap_or(0), self.first_seen.get(p).copied().unwrap_or(0));
        id != 0 && !self.recent.contains(&id) && (id > max || (self.joined && (first == 0 || id < first)))
    }

    /// The stream `id`, opened if a frame may open it.
    pub fn open(&mut self, ts: u64, id: u32, cx: &mut Ctx<'_>) -> Option<&mut Stream> {
        if !self.map.contains_key(&id) {
            if !self.may_open(id) {
                return None;
            }
            if self.map.len() >= cx.h2.max_streams.max(1) {
                cx.stats.stream_limit_hits += 1;
                if let Some((&oldest, _)) = self.map.iter().next() {
                    if let Some(mut s) = self.map.remove(&oldest) {
                        cx.event(&mut s.t, H2Event::StreamLimit { limit: cx.h2.max_streams });
                        self.finish(ts, s, cx);
                    }
                }
            }
            let p = parity(id);
            if let Some(m) = self.max_seen.get_mut(p) {
                *m = (*m).max(id);
            }
            if let Some(f) = self.first_seen.get_mut(p) {
                if *f == 0 {
                    *f = id;
                }
            }
            self.depth = self.depth.saturating_add(1);
            let t = HttpTransaction {
                trans_depth: self.depth,
                ts,
                h2: Some(Box::new(H2Facts { stream_id: id, ..H2Facts::default() })),
                ..HttpTransaction::default()
            };
            self.map.insert(id, Stream { t: Box::new(t), req: Half::default(), resp: Half::default() });
        }
        self.map.get_mut(&id)
    }

    /// Emits the stream `id` now, whatever its state.
    pub fn emit(&mut self, ts: u64, id: u32, cx: &mut Ctx<'_>) {
        if let Some(s) = self.map.remove(&id) {
            self.finish(ts, s, cx);
        }
    }

    /// Emits the stream if both sides have ended.
    pub fn emit_if_done(&mut self, ts: u64, id: u32, cx: &mut Ctx<'_>) {
        if self.map.get(&id).is_some_and(|s| s.req.ended && s.resp.ended) {
            self.emit(ts, id, cx);
        }
    }

    /// Ids of the open streams matching `pred`.
    pub fn ids_where(&self, pred: impl Fn(u32, &Stream) -> bool) -> Vec<u32> {
        self.map.iter().filter(|(id, s)| pred(**id, s)).map(|(id, _)| *id).collect()
    }

    /// Emits every open stream (the connection closed).
    pub fn close_all(&mut self, ts: u64, cx: &mut Ctx<'_>) {
        let all = std::mem::take(&mut self.map);
        for (_, s) in all {
            self.finish(ts, s, cx);
        }
    }

    /// Completes a transaction and queues it; `ts` is when the stream was cut, for a side
    /// that had not ended.
    fn finish(&mut self, ts: u64, mut s: Stream, cx: &mut Ctx<'_>) {
        let id = s.t.h2.as_ref().map_or(0, |f| f.stream_id);
        if self.recent.len() >= RECENTLY_CLOSED {
            self.recent.pop_front();
        }
        self.recent.push_back(id);
        let reset = s.t.h2.as_ref().is_some_and(|f| f.reset.is_some() || f.goaway);
        for dir in [Direction::ToServer, Direction::ToClient] {
            let half = s.half_mut(dir);
            let incomplete = !half.ended && (half.headers || half.body.is_some());
            let grpc_cut = half.grpc.as_ref().is_some_and(MessageReader::mid_message);
            let body = half.body.take();
            if incomplete && !reset {
                cx.event(&mut s.t, H2Event::Interrupted { dir });
            }
            if grpc_cut {
                cx.event(&mut s.t, H2Event::GrpcTruncatedMessage { dir });
            }
            if incomplete {
                // As HTTP/1.x at a close: a side cut short ends when its stream was cut.
                let end = match dir {
                    Direction::ToServer => &mut s.t.request_end,
                    Direction::ToClient => &mut s.t.response_end,
                };
                end.get_or_insert(ts);
            }
            if let Some(mut body) = body {
                body.finish();
                if incomplete {
                    body.capture.cut();
                }
                let (len, wire) = (body.len, body.wire_len);
                let (captured, truncated) = body.capture.finish();
                match dir {
                    Direction::ToServer => {
                        s.t.request_body_len = len;
                        s.t.request_body_wire_len = wire;
                        s.t.request_body = captured;
                        s.t.request_body_truncated = truncated;
                    }
                    Direction::ToClient => {
                        s.t.response_body_len = len;
                        s.t.response_body_wire_len = wire;
                        s.t.response_body = captured;
                        s.t.response_body_truncated = truncated;
                    }
                }
            }
        }
        let partial = s.t.h2.as_ref().is_some_and(|f| f.is_partial());
        if partial {
            cx.stats.transactions_partial += 1;
        } else if self.joined {
            cx.stats.transactions_recovered += 1;
        }
        if let Some(g) = s.t.grpc.as_ref() {
            cx.stats.grpc_messages += g.request_messages + g.response_messages;
        }
        cx.stats.http.transactions += 1;
        cx.ready.push(s.t, cx.cfg.max_ready_transactions, cx.stats);
    }
}

/// What a decoded header block holds: pseudo-header values, regular fields, unknown count.
pub(crate) struct Split<'a> {
    pub method: Option<&'a [u8]>,
    pub path: Option<&'a [u8]>,
    pub scheme: Option<&'a [u8]>,
    pub authority: Option<&'a [u8]>,
    pub status: Option<&'a [u8]>,
    pub fields: Vec<Field<'a>>,
    pub unknown: u32,
}

/// Separates pseudo-header fields from regular ones; fields with an unknown part are counted.
pub(crate) fn split(fields: &[HeaderField], unknown: u32) -> Split<'_> {
    let mut s =
        Split { method: None, path: None, scheme: None, authority: None, status: None, fields: Vec::new(), unknown };
    for f in fields {
        let (Some(name), Some(value)) = (f.name.as_deref(), f.value.as_deref()) else { continue };
        match name {
            b":method" => s.method = Some(value),
            b":path" => s.path = Some(value),
            b":scheme" => s.scheme = Some(value),
            b":authority" => s.authority = Some(value),
            b":status" => s.status = Some(value),
            _ if name.starts_with(b":") => {}
            _ => s.fields.push(Field { name, value }),
        }
    }
    s
}

fn bounded(bytes: &[u8], cfg: &HttpConfig, stats: &mut H2Stats) -> String {
    let (s, cut) = wire_string(bytes, cfg.max_field_len);
    if cut {
        stats.http.field_truncations += 1;
    }
    s
}

/// The request's facts from its header block (HEADERS on the client side, or a
/// PUSH_PROMISE). Credentials are handled as for HTTP/1.x: only a digest and a scheme name.
pub(crate) fn apply_request(ts: u64, s: &mut Stream, block: &Split<'_>, cx: &mut Ctx<'_>) {
    let cfg = cx.cfg;
    let t = &mut *s.t;
    cx.stats.http.requests += 1;
    t.request_start = Some(ts);
    t.ts = ts;
    t.version = Some("2".to_owned());
    t.method = block.method.map(|m| bounded(m, cfg, cx.stats));
    if let Some(path) = block.path {
        let (uri, redacted) = redact_target(path, &cfg.redact_query_params, Form::Decoded);
        let (uri, cut) = wire_string(&uri, cfg.max_uri_len);
        if cut {
            cx.stats.http.uri_truncations += 1;
            cx.http_event(t, HttpEvent::UriTruncated { limit: cfg.max_uri_len });
        }
        t.uri = Some(uri);
        t.uri_redacted = redacted;
    }
    let mut events = Vec::new();
    if apply_fields(t, Direction::ToServer, &block.fields, cfg, &mut cx.stats.http, &mut events) {
        cx.stats.http.header_name_limit_hits += 1;
        events.push(HttpEvent::HeaderNameLimit { dir: Direction::ToServer, limit: cfg.max_header_names });
    }
    if !cfg.retain_headers.is_empty() {
        t.retained = retain::collect(&block.fields, cfg, &mut cx.stats.http, &mut events);
    }
    if let Some(authority) = block.authority {
        let (host, had_userinfo) = host_without_userinfo(authority);
        if had_userinfo && !events.contains(&HttpEvent::HostUserinfo) {
            events.push(HttpEvent::HostUserinfo);
        }
        t.host = Some(bounded(host, cfg, cx.stats));
    }
    for e in events {
        cx.http_event(t, e);
    }
    let facts = t.h2.get_or_insert_with(Box::default);
    facts.scheme = block.scheme.map(|v| wire_string(v, cfg.max_field_len).0);
    facts.request_unknown_fields += block.unknown;
    let content_type = block.fields.iter().find(|f| f.name.eq_ignore_ascii_case(b"content-type")).map(|f| f.value);
    if content_type.is_some_and(grpc::is_grpc) {
        let (service, method) = block.path.map_or((None, None), |p| grpc::service_method(p, cfg.max_field_len));
        let encoding = block
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(b"grpc-encoding"))
            .map(|f| wire_string(f.value, cfg.max_field_len).0);
        t.grpc = Some(Box::new(GrpcFacts { service, method, encoding, ..GrpcFacts::default() }));
        cx.stats.grpc_calls += 1;
        s.req.grpc = Some(MessageReader::default());
        s.resp.grpc = Some(MessageReader::default());
    }
    s.req.headers = true;
    s.req.body = Some(Box::new(body_for(Direction::ToServer, &block.fields, s.t.grpc.is_some(), cfg)));
}

/// The body counter of one side: decoded when its content coding is gzip or deflate (never
/// for gRPC, whose messages carry their own compression flag).
fn body_for(dir: Direction, fields: &[Field<'_>], grpc: bool, cfg: &HttpConfig) -> Body {
    let expect = match dir {
        Direction::ToServer => ExpectBody::Maybe,
        Direction::ToClient => ExpectBody::Expected,
    };
    let info = MessageInfo { dir, version: Some(Version::V11), expect, status: 200, connection_close: false };
    let d = decide(info, fields);
    let coding = if grpc { None } else { d.coding };
    Body::new(Framing::UntilClose, coding, d.undecodable && !grpc, cfg)
}

/// The response's facts from a header block on the server side.
pub(crate) fn apply_response(ts: u64, s: &mut Stream, block: &Split<'_>, end_stream: bool, cx: &mut Ctx<'_>) {
    let cfg = cx.cfg;
    let t = &mut *s.t;
    cx.stats.http.responses += 1;
    if t.response_start.is_none() {
        t.response_start = Some(ts);
    }
    if !s.req.headers && t.method.is_none() && !s.req.ended {
        // A response to a request we did not see (the join came after it).
        if t.request_start.is_none() {
            t.ts = ts;
        }
    }
    t.response_version = Some("2".to_owned());
    let status = block.status.and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.parse::<u16>().ok());
    if let Some(code) = status {
        if (100..200).contains(&code) {
            t.info_code = Some(code);
        } else {
            t.status_code = Some(code);
            s.resp.final_status = true;
        }
    }
    let mut events = Vec::new();
    t.response_header_names.clear();
    if apply_fields(t, Direction::ToClient, &block.fields, cfg, &mut cx.stats.http, &mut events) {
        cx.stats.http.header_name_limit_hits += 1;
        events.push(HttpEvent::HeaderNameLimit { dir: Direction::ToClient, limit: cfg.max_header_names });
    }
    for e in events {
        cx.http_event(t, e);
    }
    t.h2.get_or_insert_with(Box::default).response_unknown_fields += block.unknown;
    if let Some(g) = t.grpc.as_mut() {
        if end_stream && s.resp.final_status {
            g.trailers_only = read_grpc_trailers(g, &block.fields, cx.h2);
        }
    }
    s.resp.headers = true;
    if s.resp.final_status && s.resp.body.is_none() {
        s.resp.body = Some(Box::new(body_for(Direction::ToClient, &block.fields, s.t.grpc.is_some(), cfg)));
    }
}

/// Trailers: names kept; for gRPC, the status and message.
pub(crate) fn apply_trailers(dir: Direction, s: &mut Stream, block: &Split<'_>, cx: &mut Ctx<'_>) {
    let cfg = cx.cfg;
    let max_names = cfg.max_header_names;
    let names: Vec<String> =
        block.fields.iter().take(max_names).map(|f| wire_string(f.name, cfg.max_field_len).0).collect();
    let facts = s.facts();
    match dir {
        Direction::ToServer => {
            facts.request_trailer_names = names;
            facts.request_unknown_fields += block.unknown;
        }
        Direction::ToClient => {
            facts.response_trailer_names = names;
            facts.response_unknown_fields += block.unknown;
        }
    }
    if dir == Direction::ToClient {
        if let Some(g) = s.t.grpc.as_mut() {
            read_grpc_trailers(g, &block.fields, cx.h2);
        }
    }
}

/// Reads `grpc-status` and `grpc-message`; returns whether a status was there.
fn read_grpc_trailers(g: &mut GrpcFacts, fields: &[Field<'_>], h2: &H2Config) -> bool {
    let mut found = false;
    for f in fields {
        if f.name.eq_ignore_ascii_case(b"grpc-status") {
            g.status = grpc::parse_status(f.value);
            found = true;
        } else if f.name.eq_ignore_ascii_case(b"grpc-message") {
            g.message = Some(grpc::message_text(f.value, h2.max_grpc_message));
        }
    }
    found
}
