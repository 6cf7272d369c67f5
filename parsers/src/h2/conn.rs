//! The per-connection parser: its public face, the byte loop of each direction (preface,
//! frame headers, payloads), the search for framing after a gap or a join, and gaps.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::http::{Direction, HttpConfig, HttpEvent, HttpTransaction, Progress, StreamState};

use super::frame::{self, plausible_header, FrameHeader, DEFAULT_MAX_FRAME, HEADER_LEN, PREFACE};
use super::hpack::Decoder;
use super::stream::{Ctx, Ready, Streams};
use super::{H2Config, H2Event, H2Stats};

/// Bytes the framing search holds: one frame of the default maximum size, with the headers
/// before and after it, so that a candidate can be confirmed by the header that follows it.
const RESYNC_WINDOW: usize = HEADER_LEN + DEFAULT_MAX_FRAME as usize + HEADER_LEN;

/// Where a direction's byte loop is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Read {
    /// Nothing decided yet: the preface (client) or a first SETTINGS (server) is expected.
    Start,
    /// Collecting a frame header.
    Header,
    /// Inside a frame's payload.
    Payload { h: FrameHeader, left: u32, mode: Mode },
    /// Looking for a plausible frame header.
    Resync,
    /// No longer parsed (given up, ended).
    Stopped,
}

/// What happens to the payload bytes of the current frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Kept in `Way::buf`, up to `keep` bytes (the rest is discarded).
    Collect { keep: u32 },
    /// DATA: the pad length byte first when `pad_pending`, then `data_left` bytes of data,
    /// then padding.
    Data { pad_pending: bool, data_left: u32 },
    /// Not looked at.
    Skip,
}

/// A rate counter over a window of packet time.
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct Window {
    start: u64,
    count: u32,
    reported: bool,
}

impl Window {
    /// Counts one occurrence; returns the count the first time it passes `max` in a window.
    pub fn hit(&mut self, ts: u64, window: u64, max: u32) -> Option<u32> {
        if ts < self.start || ts - self.start >= window || self.count == 0 {
            *self = Window { start: ts, count: 0, reported: false };
        }
        self.count = self.count.saturating_add(1);
        if self.count > max && !self.reported {
            self.reported = true;
            return Some(self.count);
        }
        None
    }
}

/// A header block being collected (HEADERS or PUSH_PROMISE and its CONTINUATIONs). Its
/// bytes hold header values (credentials among them): `Debug` shows their length.
pub(super) struct PendingBlock {
    pub stream: u32,
    pub promised: Option<u32>,
    pub end_stream: bool,
    pub data: Vec<u8>,
    pub continuations: usize,
    /// The block went over a limit: it is consumed, not kept, and the table is lost.
    pub dropped: bool,
}

impl std::fmt::Debug for PendingBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBlock")
            .field("stream", &self.stream)
            .field("promised", &self.promised)
            .field("end_stream", &self.end_stream)
            .field("data_len", &self.data.len())
            .field("continuations", &self.continuations)
            .field("dropped", &self.dropped)
            .finish()
    }
}

/// One direction of the connection.
#[derive(Debug)]
pub(super) struct Way {
    pub read: Read,
    hdr: [u8; HEADER_LEN],
    hdr_len: usize,
    /// The payload being collected; in `Start` and `Resync`, the bytes being searched.
    /// Shown by length in `Debug` (it may hold header values).
    pub buf: Buf,
    pub block: Option<Box<PendingBlock>>,
    pub hpack: Decoder,
    /// The receiver's SETTINGS_MAX_FRAME_SIZE: the largest frame this direction may send.
    pub max_frame: u32,
    pub settings: Window,
    pub pings: Window,
    /// Bytes skipped by the current framing search.
    skipped: u64,
    pub joined: bool,
    /// The server side started with a SETTINGS frame before the client sent anything: a
    /// start if the client's preface follows, a join if it does not. Until then its table is
    /// treated as possibly joined.
    provisional: bool,
}

impl Way {
    fn new(h2: &H2Config) -> Self {
        Way {
            read: Read::Start,
            hdr: [0; HEADER_LEN],
            hdr_len: 0,
            buf: Buf::default(),
            block: None,
            hpack: Decoder::new(h2.max_table_bytes),
            max_frame: DEFAULT_MAX_FRAME,
            settings: Window::default(),
            pings: Window::default(),
            skipped: 0,
            joined: false,
            provisional: false,
        }
    }

    fn held_bytes(&self) -> usize {
        self.buf.capacity() + self.block.as_ref().map_or(0, |b| b.data.capacity()) + self.hpack.heap_bytes()
    }
}

/// Bytes the network sent, shown by length only in `Debug` output.
#[derive(Default)]
pub(super) struct Buf(pub Vec<u8>);

impl std::fmt::Debug for Buf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl std::ops::Deref for Buf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// A sans-IO HTTP/2 parser for one TCP connection, driven like
/// [`HttpConnParser`](crate::http::HttpConnParser): bytes of each direction in order through
/// [`handle_data`](Self::handle_data), losses through [`handle_gap`](Self::handle_gap), then
/// [`handle_eof`](Self::handle_eof) and [`handle_close`](Self::handle_close); finished
/// transactions (one per stream) from [`poll_transaction`](Self::poll_transaction) and
/// connection events from [`poll_event`](Self::poll_event).
///
/// It starts at the connection preface, or anywhere after it: a direction that does not
/// start with the preface (client) or a SETTINGS frame (server) is a mid-connection join,
/// and the parser searches for framing and decodes what HPACK state allows (see the module
/// documentation). Memory is bounded by [`H2Config`] and [`HttpConfig`]; see
/// [`buffered_bytes`](Self::buffered_bytes).
#[derive(Debug)]
pub struct H2ConnParser {
    pub(super) cfg: Arc<HttpConfig>,
    pub(super) h2: Arc<H2Config>,
    pub(super) client: Way,
    pub(super) server: Way,
    pub(super) streams: Streams,
    pub(super) ready: Ready,
    pub(super) events: VecDeque<H2Event>,
    pub(super) resets: Window,
    closed: bool,
}

impl H2ConnParser {
    /// A parser for a connection seen from its start (or joined later: that is found out
    /// from the bytes).
    pub fn new(cfg: Arc<HttpConfig>, h2: Arc<H2Config>) -> Self {
        H2ConnParser {
            client: Way::new(&h2),
            server: Way::new(&h2),
            cfg,
            h2,
            streams: Streams::default(),
            ready: Ready::default(),
            events: VecDeque::new(),
            resets: Window::default(),
            closed: false,
        }
    }

    /// A parser for a connection that switched from HTTP/1.1 with `Upgrade: h2c` and a `101
    /// Switching Protocols`. `request` is the transaction the HTTP/1.x parser emitted for the
    /// upgrading request (its `tunnel` reads `h2c`): its request facts become those of stream
    /// 1, whose response comes over HTTP/2 (RFC 7540 section 3.2). Feed the bytes that follow
    /// the 101 response's head (server side) and the upgrading request (client side: the
    /// connection preface comes next).
    ///
    /// Not supported: the client's `HTTP2-Settings` header is not read (HTTP/1.x parsing does
    /// not keep header values), so a non-default SETTINGS_HEADER_TABLE_SIZE it announces is
    /// not known; HPACK tables larger than the default are still followed up to
    /// [`H2Config::max_table_bytes`].
    pub fn after_upgrade(cfg: Arc<HttpConfig>, h2: Arc<H2Config>, request: &HttpTransaction) -> Self {
        let mut p = H2ConnParser::new(cfg, h2);
        let mut stats = H2Stats::default();
        let (cfg, h2) = (Arc::clone(&p.cfg), Arc::clone(&p.h2));
        let mut cx = Ctx { cfg: &cfg, h2: &h2, stats: &mut stats, ready: &mut p.ready };
        let ts = request.request_start.unwrap_or(request.ts);
        if let Some(s) = p.streams.open(ts, 1, &mut cx) {
            let t = &mut s.t;
            t.ts = ts;
            t.method = request.method.clone();
            t.uri = request.uri.clone();
            t.uri_redacted = request.uri_redacted;
            t.version = request.version.clone();
            t.host = request.host.clone();
            t.user_agent = request.user_agent.clone();
            t.referrer = request.referrer.clone();
            t.origin = request.origin.clone();
            t.request_content_type = request.request_content_type.clone();
            t.auth_scheme = request.auth_scheme.clone();
            t.credential_digest = request.credential_digest;
            t.api_key_header = request.api_key_header.clone();
            t.retained = request.retained.clone();
            t.request_header_names = request.request_header_names.clone();
            t.request_body_len = request.request_body_len;
            t.request_body_wire_len = request.request_body_wire_len;
            t.request_start = request.request_start;
            t.request_end = request.request_end;
            t.request_gap = request.request_gap;
            t.tunnel = request.tunnel.clone();
            if let Some(f) = t.h2.as_mut() {
                f.upgraded = true;
            }
            s.req.headers = true;
            s.req.ended = true;
        }
        p
    }

    /// Feeds bytes of one direction, in order; counted in `stats`.
    pub fn handle_data(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, data: &[u8]) -> Progress {
        let len = data.len() as u64;
        match dir {
            Direction::ToServer => stats.http.bytes_to_server += len,
            Direction::ToClient => stats.http.bytes_to_client += len,
        }
        let ignored = if self.closed || self.way(dir).read == Read::Stopped {
            data.len()
        } else {
            self.feed(stats, ts, dir, data);
            0
        };
        stats.http.ignored_bytes += ignored as u64;
        let way = self.way(dir);
        Progress {
            consumed: data.len() - ignored,
            ignored,
            buffered: way.buf.len(),
            ready: self.ready.len(),
            state: if self.closed {
                StreamState::Ended
            } else if way.read == Read::Stopped {
                StreamState::Stopped
            } else {
                StreamState::Http
            },
        }
    }

    /// `len` bytes of one direction were lost. Inside the data of a DATA frame the loss is
    /// counted in that stream's body and framing goes on; anywhere else framing is searched
    /// for again and the direction's HPACK table is lost until it is rebuilt.
    pub fn handle_gap(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, len: u64) {
        stats.http.gaps += 1;
        stats.http.gap_bytes = stats.http.gap_bytes.saturating_add(len);
        if self.closed {
            return;
        }
        let read = self.way(dir).read;
        match read {
            Read::Stopped => return,
            Read::Payload { h, left, mode } if u64::from(left) >= len => {
                let absorbed = match mode {
                    Mode::Data { pad_pending: false, data_left } if u64::from(data_left) >= len => {
                        let n = len as u32;
                        self.data_gap(stats, ts, dir, h.stream, len);
                        self.way_mut(dir).read = Read::Payload {
                            h,
                            left: left - n,
                            mode: Mode::Data { pad_pending: false, data_left: data_left - n },
                        };
                        true
                    }
                    Mode::Skip => {
                        self.way_mut(dir).read = Read::Payload { h, left: left - len as u32, mode };
                        true
                    }
                    _ => false,
                };
                if absorbed {
                    stats.http.gaps_in_body += 1;
                    if left as u64 == len {
                        self.frame_done(stats, ts, dir);
                    }
                    return;
                }
            }
            _ => {}
        }
        self.conn_event(stats, H2Event::Gap { dir, len, in_data: false });
        if read == Read::Start {
            // Nothing was seen before the gap: the bytes after it join a running connection.
            self.way_mut(dir).buf.clear();
            self.join(stats, dir);
            return;
        }
        self.lose_framing(dir);
    }

    /// The direction ended (FIN): nothing more will come from it.
    pub fn handle_eof(&mut self, _stats: &mut H2Stats, _ts: u64, dir: Direction) {
        let way = self.way_mut(dir);
        way.read = Read::Stopped;
        way.buf = Buf::default();
        way.block = None;
    }

    /// The connection is gone: every stream still open becomes a transaction, marked
    /// interrupted where a side had not ended.
    pub fn handle_close(&mut self, stats: &mut H2Stats, ts: u64) {
        if self.closed {
            return;
        }
        let (cfg, h2) = (Arc::clone(&self.cfg), Arc::clone(&self.h2));
        let mut cx = Ctx { cfg: &cfg, h2: &h2, stats, ready: &mut self.ready };
        self.streams.close_all(ts, &mut cx);
        for way in [&mut self.client, &mut self.server] {
            way.read = Read::Stopped;
            way.buf = Buf::default();
            way.block = None;
        }
        self.closed = true;
    }

    /// The next finished transaction (one per stream), in the order streams finished.
    pub fn poll_transaction(&mut self) -> Option<HttpTransaction> {
        self.ready.pop().map(|t| *t)
    }

    /// Whether the HPACK table of `dir` is fully known: always at the start of a connection
    /// seen from its preface; after a join or a loss, once it has been rebuilt.
    pub fn hpack_in_sync(&self, dir: Direction) -> bool {
        self.way(dir).hpack.in_sync()
    }

    /// The next connection event (floods, framing, HPACK state), oldest first; at most
    /// [`H2Config::max_pending_events`] are held.
    pub fn poll_event(&mut self) -> Option<H2Event> {
        self.events.pop_front()
    }

    /// Heap bytes this parser holds in buffers the network can grow: each direction's frame
    /// or search buffer (at most [`H2Config::max_control_frame`], a header block of
    /// [`H2Config::max_header_block`], or the framing search's window of 16,402 bytes), the
    /// HPACK tables' entries (each at most [`H2Config::max_table_bytes`] of RFC size), the
    /// bodies being followed (decoder state and capture) and the captured bodies of
    /// transactions not yet polled. Not counted, as for HTTP/1.x: the bounded strings of
    /// open streams' transactions (at most [`H2Config::max_streams`] of them).
    pub fn buffered_bytes(&self) -> usize {
        self.client.held_bytes() + self.server.held_bytes() + self.streams.held_bytes() + self.ready.bytes()
    }

    pub(super) fn way(&self, dir: Direction) -> &Way {
        match dir {
            Direction::ToServer => &self.client,
            Direction::ToClient => &self.server,
        }
    }

    pub(super) fn way_mut(&mut self, dir: Direction) -> &mut Way {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }

    /// Queues a connection event, bounded.
    pub(super) fn conn_event(&mut self, stats: &mut H2Stats, e: H2Event) {
        if self.events.len() < self.h2.max_pending_events {
            self.events.push_back(e);
        } else {
            stats.events_dropped += 1;
        }
    }

    /// Framing of `dir` is lost: the table too; open streams on that side are marked.
    fn lose_framing(&mut self, dir: Direction) {
        let way = self.way_mut(dir);
        way.hpack.lose();
        way.block = None;
        way.buf.clear();
        way.hdr_len = 0;
        way.skipped = 0;
        way.read = Read::Resync;
        let ids = self.streams.ids_where(|_, _| true);
        for id in ids {
            if let Some(s) = self.streams.get_mut(id) {
                let half = s.half_mut(dir);
                if half.ended {
                    continue;
                }
                if let Some(b) = half.body.as_mut() {
                    b.add_gap(0);
                }
                if let Some(g) = half.grpc.as_mut() {
                    g.lose();
                }
                match dir {
                    Direction::ToServer => s.t.request_gap = true,
                    Direction::ToClient => s.t.response_gap = true,
                }
            }
        }
    }

    /// A gap inside the data of a DATA frame on `stream`.
    fn data_gap(&mut self, stats: &mut H2Stats, _ts: u64, dir: Direction, stream: u32, len: u64) {
        let (cfg, h2) = (Arc::clone(&self.cfg), Arc::clone(&self.h2));
        let mut cx = Ctx { cfg: &cfg, h2: &h2, stats, ready: &mut self.ready };
        let Some(s) = self.streams.get_mut(stream) else { return };
        let half = s.half_mut(dir);
        if let Some(b) = half.body.as_mut() {
            b.add_gap(len);
        }
        if let Some(g) = half.grpc.as_mut() {
            g.lose();
        }
        match dir {
            Direction::ToServer => s.t.request_gap = true,
            Direction::ToClient => s.t.response_gap = true,
        }
        cx.event(&mut s.t, H2Event::Gap { dir, len, in_data: true });
    }

    /// Runs bytes through the direction's loop.
    fn feed(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, mut data: &[u8]) {
        while !data.is_empty() {
            match self.way(dir).read {
                Read::Stopped => return,
                Read::Start => {
                    data = self.start(stats, ts, dir, data);
                    // A join found out from fewer bytes than a preface: they may hold whole
                    // frames (a short HEADERS frame) that must not wait for the next delivery.
                    if data.is_empty() && self.way(dir).read == Read::Resync {
                        self.search(stats, ts, dir);
                    }
                }
                Read::Resync => {
                    data = self.absorb(dir, data);
                    self.search(stats, ts, dir);
                }
                _ => {
                    let used = self.framed(stats, ts, dir, data);
                    data = data.get(used..).unwrap_or_default();
                }
            }
        }
    }

    /// The first bytes of a direction: the preface, or a first SETTINGS frame from the
    /// server; anything else is a join.
    fn start<'d>(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, data: &'d [u8]) -> &'d [u8] {
        let way = self.way_mut(dir);
        let need = match dir {
            Direction::ToServer => PREFACE.len(),
            Direction::ToClient => HEADER_LEN,
        };
        let take = need.saturating_sub(way.buf.len()).min(data.len());
        let (now, rest) = data.split_at(take);
        way.buf.extend_from_slice(now);
        let client_joined = self.client.joined;
        let way = self.way_mut(dir);
        let matches = match dir {
            Direction::ToServer => PREFACE.starts_with(&way.buf),
            // The client sent no preface: the server's first bytes cannot be its first either.
            Direction::ToClient if client_joined => false,
            Direction::ToClient => {
                way.buf.len() < HEADER_LEN || {
                    plausible_header(&way.buf, frame::LARGEST_FRAME)
                        .is_some_and(|h| h.kind == frame::SETTINGS && h.flags & frame::ACK == 0)
                }
            }
        };
        if !matches {
            self.join(stats, dir);
            return rest;
        }
        if way.buf.len() < need {
            return rest;
        }
        match dir {
            Direction::ToServer => {
                stats.prefaces += 1;
                way.buf.clear();
                way.read = Read::Header;
                if std::mem::take(&mut self.server.provisional) && !self.server.joined {
                    self.server.hpack.confirm_start();
                }
            }
            Direction::ToClient => {
                let first = std::mem::take(&mut way.buf.0);
                way.read = Read::Header;
                if self.client.read == Read::Start && self.client.buf.is_empty() {
                    let server = &mut self.server;
                    server.provisional = true;
                    server.hpack.assume_joined();
                }
                let _used = self.framed(stats, ts, dir, &first);
            }
        }
        rest
    }

    /// The direction started after the preface: its table is unknown; search for framing.
    fn join(&mut self, stats: &mut H2Stats, dir: Direction) {
        stats.joins += 1;
        let cap = self.h2.max_table_bytes;
        let way = self.way_mut(dir);
        way.joined = true;
        way.hpack = Decoder::joined(cap);
        way.read = Read::Resync;
        way.skipped = 0;
        self.streams.joined = true;
        // A client that sent no preface means the whole connection was joined: a server
        // side that happened to start with a SETTINGS frame did not start at the beginning.
        self.conn_event(stats, H2Event::Joined { dir });
        if dir == Direction::ToServer && !self.server.joined && self.server.read != Read::Start {
            self.server.joined = true;
            self.server.provisional = false;
            self.server.hpack.assume_joined();
            stats.joins += 1;
            self.conn_event(stats, H2Event::Joined { dir: Direction::ToClient });
        }
    }

    /// Adds bytes to the search window; returns what did not fit.
    fn absorb<'d>(&mut self, dir: Direction, data: &'d [u8]) -> &'d [u8] {
        let way = self.way_mut(dir);
        let room = RESYNC_WINDOW.saturating_sub(way.buf.len()).min(data.len());
        let (now, rest) = data.split_at(room);
        way.buf.extend_from_slice(now);
        rest
    }

    /// Looks for a plausible frame header in the search window: one whose successor is
    /// plausible too, that ends exactly where the bytes so far end, or that reaches past the
    /// window. Bytes before it are skipped (counted);
    /// when found, the window is replayed as frames.
    fn search(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction) {
        loop {
            if self.way(dir).read != Read::Resync {
                return;
            }
            let buf = &self.way(dir).buf;
            let mut found = None;
            let mut i = 0;
            while i + HEADER_LEN <= buf.len() {
                let rest = buf.get(i..).unwrap_or_default();
                if let Some(h) = plausible_header(rest, DEFAULT_MAX_FRAME) {
                    let next = HEADER_LEN + h.len as usize;
                    match rest.get(next..) {
                        Some(after) if after.len() >= HEADER_LEN => {
                            if plausible_header(after, DEFAULT_MAX_FRAME).is_some() {
                                found = Some(i);
                                break;
                            }
                        }
                        // A frame that ends exactly where the bytes end: senders write
                        // whole frames, so a segment boundary right after a plausible frame
                        // confirms it as well as a next header would.
                        Some([]) => {
                            found = Some(i);
                            break;
                        }
                        // The frame and its successor's header do not fit yet: wait for
                        // more bytes (the window holds any frame of default size whole).
                        _ if i + next + HEADER_LEN <= RESYNC_WINDOW => break,
                        _ => {
                            found = Some(i);
                            break;
                        }
                    }
                }
                i += 1;
            }
            let max_scan = self.h2.max_resync_scan;
            let way = self.way_mut(dir);
            way.buf.drain(..i);
            way.skipped = way.skipped.saturating_add(i as u64);
            stats.resync_skipped_bytes = stats.resync_skipped_bytes.saturating_add(i as u64);
            if found.is_none() {
                if way.skipped > max_scan {
                    way.read = Read::Stopped;
                    way.buf = Buf::default();
                    stats.resync_failures += 1;
                    self.conn_event(stats, H2Event::ResyncFailed { dir });
                }
                return;
            }
            let skipped = std::mem::take(&mut way.skipped);
            way.read = Read::Header;
            way.hdr_len = 0;
            let replay = std::mem::take(&mut way.buf.0);
            stats.resyncs += 1;
            self.conn_event(stats, H2Event::Resync { dir, skipped });
            let used = self.framed(stats, ts, dir, &replay);
            if let Some(left) = replay.get(used..) {
                if !left.is_empty() {
                    // Framing was lost again inside the replayed bytes: search on.
                    self.way_mut(dir).buf.extend_from_slice(left);
                }
            }
        }
    }

    /// Frame headers and payloads; returns the bytes used (all of them, unless framing is
    /// lost or the direction stops).
    fn framed(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, data: &[u8]) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            let rest = data.get(pos..).unwrap_or_default();
            match self.way(dir).read {
                Read::Header => {
                    let way = self.way_mut(dir);
                    let take = (HEADER_LEN - way.hdr_len).min(rest.len());
                    if let (Some(dst), Some(src)) = (way.hdr.get_mut(way.hdr_len..way.hdr_len + take), rest.get(..take))
                    {
                        dst.copy_from_slice(src);
                    }
                    way.hdr_len += take;
                    pos += take;
                    if way.hdr_len == HEADER_LEN {
                        way.hdr_len = 0;
                        let raw = way.hdr;
                        self.frame_header(stats, ts, dir, &raw);
                    }
                }
                Read::Payload { h, left, mode } => {
                    let take = (left as usize).min(rest.len());
                    let chunk = rest.get(..take).unwrap_or_default();
                    pos += take;
                    let mode = self.payload(stats, ts, dir, h, mode, chunk);
                    let left = left - take as u32;
                    self.way_mut(dir).read = Read::Payload { h, left, mode };
                    if left == 0 {
                        self.frame_done(stats, ts, dir);
                    }
                }
                _ => return pos,
            }
        }
        pos
    }

    /// Payload bytes of the current frame; returns the mode for the next ones.
    fn payload(
        &mut self,
        stats: &mut H2Stats,
        ts: u64,
        dir: Direction,
        h: FrameHeader,
        mode: Mode,
        mut chunk: &[u8],
    ) -> Mode {
        match mode {
            Mode::Skip => Mode::Skip,
            Mode::Collect { keep } => {
                let way = self.way_mut(dir);
                let room = (keep as usize).saturating_sub(way.buf.len()).min(chunk.len());
                way.buf.extend_from_slice(chunk.get(..room).unwrap_or_default());
                mode
            }
            Mode::Data { mut pad_pending, mut data_left } => {
                if pad_pending {
                    if let Some((&pad, rest)) = chunk.split_first() {
                        pad_pending = false;
                        chunk = rest;
                        // The data is what the pad length leaves of the frame.
                        match h.len.checked_sub(1 + u32::from(pad)) {
                            Some(n) => data_left = n,
                            None => {
                                data_left = 0;
                                stats.malformed_frames += 1;
                                self.conn_event(stats, H2Event::MalformedFrame { dir, frame_type: h.kind });
                            }
                        }
                    }
                }
                let take = (data_left as usize).min(chunk.len());
                if take > 0 {
                    self.data(stats, ts, dir, h.stream, chunk.get(..take).unwrap_or_default());
                    data_left -= take as u32;
                }
                Mode::Data { pad_pending, data_left }
            }
        }
    }
}

/// Events a body reports after bytes were added (decoding stopped), as HTTP/1.x does.
pub(super) fn body_events(
    note: Option<crate::http::body::DecodeNote>,
    dir: Direction,
    stats: &mut H2Stats,
) -> Vec<HttpEvent> {
    let mut out = Vec::new();
    match note {
        Some(crate::http::body::DecodeNote::LimitHit) => {
            stats.http.decode_limit_hits += 1;
            out.push(HttpEvent::DecodeLimit { dir });
        }
        Some(crate::http::body::DecodeNote::Corrupt) => {
            stats.http.decode_errors += 1;
            out.push(HttpEvent::DecodeError { dir });
        }
        None => {}
    }
    out
}
