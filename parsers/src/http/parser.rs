//! The per-connection parser: public API, the byte loop of each direction, gaps, ends.

use std::collections::VecDeque;
use std::sync::Arc;

use super::body::{Body, Chunk, ExpectBody, Framing};
use super::head::Version;
use super::lines::{LineSplitter, Term};
use super::txn::Tracker;
use super::{Direction, HttpConfig, HttpEvent, HttpStats, HttpTransaction};

/// What a `handle_data` call did with its bytes. `consumed + ignored` is always the length of
/// the input.
#[must_use]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes parsed as HTTP (heads, bodies, and bytes skipped while resynchronising).
    pub consumed: usize,
    /// Bytes not parsed: the direction is a tunnel, has stopped, or has ended.
    pub ignored: usize,
    /// Bytes this direction holds in its partial-line buffer after the call (bounded by
    /// [`HttpConfig::max_header_bytes`]).
    pub buffered: usize,
    /// Transactions waiting for [`HttpParser::poll_transaction`].
    pub ready: usize,
    /// State of the direction after the call.
    pub state: StreamState,
}

/// Whether a direction is still parsed as HTTP.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StreamState {
    /// Parsed as HTTP.
    Http,
    /// The connection became a tunnel (CONNECT or Upgrade); its bytes are no longer HTTP.
    Tunnel,
    /// Parsing stopped: the bytes did not look like HTTP where a message had to start (as
    /// Zeek, the other direction carries on).
    Stopped,
    /// The direction ended (EOF or close).
    Ended,
}

/// Where a direction is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Expecting a request or status line.
    Start,
    /// Inside a message (`Side::msg` is set).
    Message,
    /// HTTP/0.9 response: raw bytes until the server closes.
    Http09,
    /// Looking for a message start after a gap.
    Resync { skipped: u64 },
    Stopped,
    Tunnel,
    Ended,
}

/// One message being parsed.
#[derive(Debug)]
pub(super) struct Message {
    pub version: Option<Version>,
    pub expect: ExpectBody,
    /// Header lines seen so far, CRLF-normalised, folded lines joined (bounded).
    pub head: Vec<u8>,
    /// Where in `head` the last kept header line starts (for obsolete line folding).
    pub last_line: Option<usize>,
    pub head_limit_hit: bool,
    /// The blank line ending the head was seen.
    pub head_done: bool,
    /// Set once the head has ended and the message has a body. Boxed: a message still in its
    /// head (an idle connection that sent part of one) does not carry the body's state.
    pub body: Option<Box<Body>>,
    pub bare_lf_noted: bool,
    pub bare_cr_noted: bool,
    pub fold_noted: bool,
}

impl Message {
    pub fn new(version: Option<Version>, expect: ExpectBody) -> Self {
        Message {
            version,
            expect,
            head: Vec::new(),
            last_line: None,
            head_limit_hit: false,
            head_done: false,
            body: None,
            bare_lf_noted: false,
            bare_cr_noted: false,
            fold_noted: false,
        }
    }
}

/// One direction of the connection.
#[derive(Debug)]
pub(super) struct Side {
    pub lines: LineSplitter,
    pub mode: Mode,
    /// The message in progress. Boxed, and created at its start line: an idle direction
    /// between messages holds only this pointer.
    pub msg: Option<Box<Message>>,
    /// Bytes were lost before the next message on this side: mark it.
    pub gap_pending: bool,
    /// The last line was a head line ended by a CR at the end of its delivery: when the next
    /// byte shows the CR was bare, the message is told, as it would have been had both bytes
    /// come in one delivery.
    pub cr_watch: bool,
}

impl Side {
    fn new() -> Self {
        Side { lines: LineSplitter::default(), mode: Mode::Start, msg: None, gap_pending: false, cr_watch: false }
    }

    /// Heap bytes of the buffers the network can grow on this side.
    fn held_bytes(&self) -> usize {
        let msg = self.msg.as_ref().map_or(0, |m| m.head.capacity() + m.body.as_deref().map_or(0, Body::held_bytes));
        self.lines.capacity() + msg
    }
}

/// Capacity of a line buffer kept for reuse after a line inside a message; a buffer that grew
/// past it for one long line is released, so an idle connection does not keep holding it.
const LINE_BUFFER_RETAIN: usize = 4096;

/// Connection-wide state that both directions consult (the fields of Zeek's HTTP analyzer).
#[derive(Debug, Default)]
pub(super) struct ConnState {
    pub num_requests: u64,
    pub keep_alive: bool,
    /// A response said `Connection: close`.
    pub connection_close: bool,
    /// The last request was CONNECT and no non-200 response has cleared it.
    pub connect_request: bool,
    /// Status code of the response being parsed.
    pub reply_code: u16,
    pub upgrade_connection: bool,
    pub upgrade_protocol: Option<Box<str>>,
    /// Requests still waiting for a final response, and which of them were HEAD.
    pub unanswered: Unanswered,
    pub request_version: Option<Version>,
    pub reply_version: Option<Version>,
}

/// Requests waiting for a final response, oldest first, and whether each was HEAD. Only the
/// positions of HEAD requests are stored (most connections send none, and then this holds no
/// allocation); the caller bounds the count by `max_pending_requests`.
#[derive(Debug, Default)]
pub(super) struct Unanswered {
    count: usize,
    /// Requests ever taken off the front: the position of the oldest waiting one.
    popped: u64,
    /// Positions (counted like `popped`) of the waiting HEAD requests, in order; boxed, and
    /// only while there are any.
    // Boxed on purpose: it keeps every connection's parser 24 bytes smaller, and HEAD
    // requests are rare enough that the extra allocation is seldom paid.
    #[allow(clippy::box_collection)]
    heads: Option<Box<VecDeque<u64>>>,
}

impl Unanswered {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the oldest waiting request was HEAD.
    pub fn front_is_head(&self) -> bool {
        self.count > 0 && self.heads.as_ref().and_then(|h| h.front()) == Some(&self.popped)
    }

    pub fn push_back(&mut self, head: bool) {
        if head {
            let at = self.popped.saturating_add(self.count as u64);
            self.heads.get_or_insert_with(Box::default).push_back(at);
        }
        self.count += 1;
    }

    pub fn pop_front(&mut self) {
        if self.count == 0 {
            return;
        }
        if self.front_is_head() {
            if let Some(heads) = self.heads.as_mut() {
                heads.pop_front();
                if heads.is_empty() {
                    self.heads = None;
                }
            }
        }
        self.popped = self.popped.saturating_add(1);
        self.count -= 1;
    }
}

/// A sans-IO HTTP/1.x parser for one TCP connection, with its own counters.
///
/// Feed it the reassembled bytes of both directions in stream order with packet timestamps
/// (`handle_data`, `handle_gap`, `handle_eof`, `handle_close`) and take finished transactions
/// with [`poll_transaction`](Self::poll_transaction) after each call. It never reads the clock,
/// never panics on input, and holds at most the buffers bounded by [`HttpConfig`]. Bodies are
/// counted (and decoded to count them); of each, only the first
/// [`HttpConfig::max_body_capture`] decoded bytes are kept, for the transaction (none by
/// default).
///
/// What it produces matches Zeek's http.log on the same traffic: the same transactions in
/// the same pairing, the same methods, URIs and body lengths. The exception is a final
/// response that ends before its request does: the transaction then waits for the request's
/// end and carries both ([`HttpEvent::EarlyResponse`]), where Zeek splits the request's end into
/// a row of its own. HTTP/0.9, pipelining, 1xx responses, CONNECT and Upgrade tunnels are
/// handled; HTTP/2 and TLS are not (a TLS or HTTP/2 stream is simply "not HTTP").
///
/// A caller that runs many connections and sums their counters anyway uses
/// [`HttpConnParser`] instead, which is this parser without the counters (256 bytes less per
/// connection).
#[derive(Debug)]
pub struct HttpParser {
    conn: HttpConnParser,
    stats: HttpStats,
}

impl HttpParser {
    /// A parser for a new connection.
    pub fn new(cfg: Arc<HttpConfig>) -> Self {
        HttpParser { conn: HttpConnParser::new(cfg), stats: HttpStats::default() }
    }

    /// In-order bytes of one direction, seen at packet time `ts` (ns).
    pub fn handle_data(&mut self, ts: u64, dir: Direction, data: &[u8]) -> Progress {
        self.conn.handle_data(&mut self.stats, ts, dir, data)
    }

    /// `len` bytes of `dir` will never arrive. Inside a body whose end is known (or that runs
    /// to the close) they are counted and parsing goes on; anywhere else the message in
    /// progress ends there, marked, and parsing resumes at the next line that looks like a
    /// message start.
    pub fn handle_gap(&mut self, ts: u64, dir: Direction, len: u64) {
        self.conn.handle_gap(&mut self.stats, ts, dir, len);
    }

    /// The direction ended (FIN or RST): a partial line is finished, a message that runs to
    /// the close (or was cut short) ends.
    pub fn handle_eof(&mut self, ts: u64, dir: Direction) {
        self.conn.handle_eof(&mut self.stats, ts, dir);
    }

    /// The connection is gone: every message in progress ends and every pending transaction
    /// is emitted, answered or not.
    pub fn handle_close(&mut self, ts: u64) {
        self.conn.handle_close(&mut self.stats, ts);
    }

    /// The next finished transaction, oldest first.
    pub fn poll_transaction(&mut self) -> Option<HttpTransaction> {
        self.conn.poll_transaction()
    }

    /// Counters of this parser.
    pub fn stats(&self) -> &HttpStats {
        &self.stats
    }

    /// Heap bytes this parser holds in buffers the network can grow; see
    /// [`HttpConnParser::buffered_bytes`].
    pub fn buffered_bytes(&self) -> usize {
        self.conn.buffered_bytes()
    }
}

/// [`HttpParser`] without counters of its own: every call adds to the [`HttpStats`] the
/// caller passes, so that a layer running many connections keeps one set for all of them
/// instead of one per connection. Otherwise the same parser, with the same promises and the
/// same limits. The caller may pass the same counters to every connection, or different ones
/// to each call; nothing is kept between calls.
///
/// Memory of an idle connection: this struct (a few hundred bytes) and, when a message is in
/// progress, its state (boxed, with the head collected so far) and its open transaction (a
/// small record until its head ends or a response comes for it, then a full
/// [`HttpTransaction`]). A connection between messages holds no message state.
#[derive(Debug)]
pub struct HttpConnParser {
    pub(super) cfg: Arc<HttpConfig>,
    pub(super) tracker: Tracker,
    pub(super) client: Side,
    pub(super) server: Side,
    pub(super) conn: ConnState,
    pub(super) closed: bool,
}

/// The parser's state together with the counters of the call in progress: the methods that
/// parse run on this, so that the counters need not live in the parser.
pub(super) struct Cx<'a> {
    pub cfg: &'a Arc<HttpConfig>,
    pub tracker: &'a mut Tracker,
    pub client: &'a mut Side,
    pub server: &'a mut Side,
    pub conn: &'a mut ConnState,
    pub closed: &'a mut bool,
    pub stats: &'a mut HttpStats,
}

impl HttpConnParser {
    /// A parser for a new connection.
    pub fn new(cfg: Arc<HttpConfig>) -> Self {
        HttpConnParser {
            cfg,
            tracker: Tracker::default(),
            client: Side::new(),
            server: Side::new(),
            conn: ConnState::default(),
            closed: false,
        }
    }

    fn cx<'a>(&'a mut self, stats: &'a mut HttpStats) -> Cx<'a> {
        Cx {
            cfg: &self.cfg,
            tracker: &mut self.tracker,
            client: &mut self.client,
            server: &mut self.server,
            conn: &mut self.conn,
            closed: &mut self.closed,
            stats,
        }
    }

    /// In-order bytes of one direction, seen at packet time `ts` (ns); counted in `stats`.
    pub fn handle_data(&mut self, stats: &mut HttpStats, ts: u64, dir: Direction, data: &[u8]) -> Progress {
        self.cx(stats).handle_data(ts, dir, data)
    }

    /// As [`HttpParser::handle_gap`]; counted in `stats`.
    pub fn handle_gap(&mut self, stats: &mut HttpStats, ts: u64, dir: Direction, len: u64) {
        self.cx(stats).handle_gap(ts, dir, len);
    }

    /// As [`HttpParser::handle_eof`]; counted in `stats`.
    pub fn handle_eof(&mut self, stats: &mut HttpStats, ts: u64, dir: Direction) {
        self.cx(stats).handle_eof(ts, dir);
    }

    /// As [`HttpParser::handle_close`]; counted in `stats`.
    pub fn handle_close(&mut self, stats: &mut HttpStats, ts: u64) {
        self.cx(stats).handle_close(ts);
    }

    /// The next finished transaction, oldest first.
    pub fn poll_transaction(&mut self) -> Option<HttpTransaction> {
        self.tracker.poll()
    }

    /// Heap bytes this parser holds in buffers the network can grow: the partial line of
    /// each direction, the head being collected, the state of a running gzip/deflate decoder
    /// (the inflater's fixed size), and captured body bytes
    /// ([`HttpConfig::max_body_capture`]), both of the messages in progress and of every
    /// transaction not yet polled (waiting for a response, for the end of its request, or for
    /// [`poll_transaction`](Self::poll_transaction)). Allocated capacity is counted, since that
    /// is the memory in use. Constant time, so a caller can sum it over every connection to
    /// enforce a global budget; it falls when transactions are polled.
    ///
    /// Not counted: the strings of waiting transactions, which are bounded by
    /// [`HttpConfig::max_pending_requests`], [`HttpConfig::max_ready_transactions`] and the
    /// per-string limits, and the parser's own fixed-size state.
    pub fn buffered_bytes(&self) -> usize {
        self.client.held_bytes() + self.server.held_bytes() + self.tracker.body_bytes()
    }
}

impl Cx<'_> {
    fn handle_data(&mut self, ts: u64, dir: Direction, data: &[u8]) -> Progress {
        let len = data.len() as u64;
        match dir {
            Direction::ToServer => self.stats.bytes_to_server += len,
            Direction::ToClient => self.stats.bytes_to_client += len,
        }
        let ignored = if *self.closed { data.len() } else { self.feed(ts, dir, data) };
        self.stats.ignored_bytes += ignored as u64;
        let ready = self.tracker.ready_len();
        let side = self.side(dir);
        Progress {
            consumed: data.len() - ignored,
            ignored,
            buffered: side.lines.held(),
            ready,
            state: match side.mode {
                Mode::Tunnel => StreamState::Tunnel,
                Mode::Stopped => StreamState::Stopped,
                Mode::Ended => StreamState::Ended,
                _ => StreamState::Http,
            },
        }
    }

    fn handle_gap(&mut self, ts: u64, dir: Direction, len: u64) {
        self.stats.gaps += 1;
        self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(len);
        if *self.closed {
            return;
        }
        match self.side(dir).mode {
            Mode::Tunnel | Mode::Stopped | Mode::Ended => return,
            Mode::Http09 => {
                // A raw HTTP/0.9 response runs to the close whatever is missing: start it if
                // the gap is its first "data", then count the gap as body.
                self.http09_data(ts, &[]);
                let _absorbed = self.gap_in_body(ts, dir, len);
                return;
            }
            Mode::Message => {
                if self.gap_in_body(ts, dir, len) {
                    return;
                }
            }
            Mode::Start | Mode::Resync { .. } => {}
        }
        let event = HttpEvent::Gap { dir, len, in_body: false };
        if self.side(dir).msg.is_some() {
            self.mark_gap(dir);
            self.event(dir, event);
            self.message_done(ts, dir, true);
        } else {
            self.tracker.orphan_event(event, self.cfg, self.stats);
            self.side_mut(dir).gap_pending = true;
        }
        let side = self.side_mut(dir);
        side.lines.reset();
        if !matches!(side.mode, Mode::Tunnel | Mode::Ended) {
            side.mode = Mode::Resync { skipped: 0 };
        }
    }

    fn handle_eof(&mut self, ts: u64, dir: Direction) {
        if *self.closed {
            return;
        }
        let side = self.side(dir);
        let line_mode = match side.mode {
            Mode::Start | Mode::Resync { .. } => true,
            Mode::Message => self.raw_budget(dir).is_none(),
            _ => false,
        };
        if line_mode && side.lines.has_partial() {
            // Zeek's content-line analyzer delivers the pending bytes as a line at EOF.
            self.line(ts, dir, Term::None);
        }
        if self.side(dir).msg.is_some() {
            self.message_done(ts, dir, false);
        }
        let side = self.side_mut(dir);
        if side.mode != Mode::Tunnel {
            side.mode = Mode::Ended;
        }
    }

    fn handle_close(&mut self, ts: u64) {
        if *self.closed {
            return;
        }
        for dir in [Direction::ToServer, Direction::ToClient] {
            if self.side(dir).msg.is_some() {
                self.message_done(ts, dir, true);
            }
        }
        self.tracker.finalize(self.cfg, self.stats);
        self.client.mode = Mode::Ended;
        self.server.mode = Mode::Ended;
        *self.closed = true;
    }
    pub(super) fn side(&self, dir: Direction) -> &Side {
        match dir {
            Direction::ToServer => self.client,
            Direction::ToClient => self.server,
        }
    }

    pub(super) fn side_mut(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => self.client,
            Direction::ToClient => self.server,
        }
    }

    pub(super) fn event(&mut self, dir: Direction, event: HttpEvent) {
        self.tracker.event(dir, event, self.cfg, self.stats);
    }

    pub(super) fn mark_gap(&mut self, dir: Direction) {
        if let Some(t) = self.tracker.current(dir) {
            match dir {
                Direction::ToServer => t.request_gap = true,
                Direction::ToClient => t.response_gap = true,
            }
        }
    }

    /// How many raw (non-line) body bytes the direction expects next, if it is in a raw part
    /// of a body.
    pub(super) fn raw_budget(&self, dir: Direction) -> Option<u64> {
        let side = self.side(dir);
        if side.mode != Mode::Message {
            return None;
        }
        match side.msg.as_ref()?.body.as_ref()?.framing {
            Framing::Length { remaining, .. } if remaining > 0 => Some(remaining),
            Framing::Chunked(Chunk::Data(n)) if n > 0 => Some(n),
            Framing::UntilClose => Some(u64::MAX),
            _ => None,
        }
    }

    /// Runs the bytes of one delivery through the direction; returns how many were ignored.
    fn feed(&mut self, ts: u64, dir: Direction, mut data: &[u8]) -> usize {
        while !data.is_empty() {
            match self.side(dir).mode {
                Mode::Stopped | Mode::Tunnel | Mode::Ended => return data.len(),
                Mode::Http09 => {
                    self.http09_data(ts, data);
                    return 0;
                }
                _ => {}
            }
            // A CR left pending by the last delivery is settled by this delivery's first byte.
            let cr_watch = std::mem::take(&mut self.side_mut(dir).cr_watch);
            if let Some(budget) = self.raw_budget(dir) {
                let (used, bare_cr) = self.side_mut(dir).lines.take_swallowed_lf(data);
                if bare_cr && cr_watch {
                    self.note_line_end(dir, Term::Cr);
                }
                if used > 0 {
                    data = data.get(used..).unwrap_or_default();
                    continue;
                }
                let take = usize::try_from(budget).unwrap_or(usize::MAX).min(data.len());
                let (now, rest) = data.split_at(take);
                self.body_bytes(ts, dir, now);
                data = rest;
                continue;
            }
            let keep = match self.counting_lines(dir) {
                // Lines of an unframed body are held only as far as the capture wants them.
                Some(body) => body.line_capture_room(self.cfg.max_header_bytes),
                None => self.cfg.max_header_bytes,
            };
            let cr_was_pending = self.side(dir).lines.cr_pending();
            let scan = self.side_mut(dir).lines.scan(data, keep);
            data = data.get(scan.consumed..).unwrap_or_default();
            if cr_was_pending && !scan.bare_cr {
                // The LF of a CRLF cut between deliveries: skipped with its line while
                // resynchronising (the CR was counted alone, not knowing what followed).
                if let Mode::Resync { skipped } = self.side(dir).mode {
                    self.side_mut(dir).mode = Mode::Resync { skipped: skipped.saturating_add(1) };
                    self.stats.resync_skipped_bytes = self.stats.resync_skipped_bytes.saturating_add(1);
                }
            }
            if scan.bare_cr && cr_watch {
                self.note_line_end(dir, Term::Cr);
            }
            if let Some(term) = scan.line {
                self.line(ts, dir, term);
            }
        }
        0
    }

    /// The body of the direction when it is one read line by line (counted, and captured).
    fn counting_lines(&self, dir: Direction) -> Option<&Body> {
        let side = self.side(dir);
        if side.mode != Mode::Message {
            return None;
        }
        side.msg.as_ref().and_then(|m| m.body.as_deref()).filter(|b| b.framing == Framing::LinesUntilClose)
    }

    /// A complete line (its content is in the direction's splitter).
    pub(super) fn line(&mut self, ts: u64, dir: Direction, term: Term) {
        let (line, full_len) = {
            let lines = &mut self.side_mut(dir).lines;
            let len = lines.line_len();
            let line = std::mem::take(lines.buffer_mut());
            (line, len)
        };
        match self.side(dir).mode {
            Mode::Start => self.start_line(ts, dir, &line, term, None),
            Mode::Resync { skipped } => {
                if let Some(at) = super::message::find_start(dir, &line) {
                    let skipped = skipped.saturating_add(at as u64);
                    self.stats.resyncs += 1;
                    self.stats.resync_skipped_bytes = self.stats.resync_skipped_bytes.saturating_add(at as u64);
                    self.side_mut(dir).mode = Mode::Start;
                    self.start_line(ts, dir, line.get(at..).unwrap_or_default(), term, Some(skipped));
                } else {
                    // A CR at the end of the delivery counts one byte; its LF, if one comes,
                    // is counted when it does (`feed`).
                    let term_bytes = if self.side(dir).lines.cr_pending() { 1 } else { term_len(term) };
                    let skipped = skipped.saturating_add(full_len).saturating_add(term_bytes);
                    self.stats.resync_skipped_bytes = self.stats.resync_skipped_bytes.saturating_add(full_len + term_bytes);
                    self.side_mut(dir).mode = Mode::Resync { skipped };
                }
            }
            Mode::Message => {
                let in_head = self.side(dir).msg.as_ref().is_some_and(|m| m.body.is_none());
                if in_head {
                    if term == Term::Lf {
                        self.note_line_end(dir, term);
                    }
                    let truncated = full_len > line.len() as u64;
                    self.head_line(ts, dir, &line, truncated);
                    // A bare CR is told to the message after its line, and only while the
                    // message goes on: a CR at the end of a delivery is known to be bare only
                    // from the next delivery, by when a message that ended with that line is
                    // gone. So the result does not depend on where TCP cut the stream.
                    if term != Term::Lf {
                        self.note_line_end(dir, term);
                    }
                } else {
                    self.body_line(ts, dir, &line, full_len);
                }
            }
            _ => {}
        }
        let side = self.side_mut(dir);
        let mut line = line;
        line.clear();
        // Between messages the buffer is released: an idle keep-alive connection then holds
        // none, at the price of one allocation per message.
        if line.capacity() > LINE_BUFFER_RETAIN || side.msg.is_none() {
            line = Vec::new();
        }
        let lines = &mut side.lines;
        *lines.buffer_mut() = line;
        lines.clear_line();
    }

    /// Reports unusual line ends once per message. A line that seems to end with CRLF may end with a CR that was the last byte of its
    /// delivery: that one is watched, and told here from the next delivery if it was bare.
    pub(super) fn note_line_end(&mut self, dir: Direction, term: Term) {
        let side = self.side_mut(dir);
        let Some(msg) = side.msg.as_mut() else { return };
        if term == Term::CrLf && side.lines.cr_pending() {
            side.cr_watch = true;
        }
        let event = match term {
            Term::Lf if !msg.bare_lf_noted => {
                msg.bare_lf_noted = true;
                HttpEvent::BareLf { dir }
            }
            Term::Cr if !msg.bare_cr_noted => {
                msg.bare_cr_noted = true;
                HttpEvent::BareCr { dir }
            }
            _ => return,
        };
        self.event(dir, event);
    }

    /// A gap at the current position of `dir`; true when the body absorbs it.
    fn gap_in_body(&mut self, ts: u64, dir: Direction, len: u64) -> bool {
        let Some(body) = self.side_mut(dir).msg.as_mut().and_then(|m| m.body.as_mut()) else {
            return false;
        };
        let mut done = false;
        match &mut body.framing {
            Framing::Length { remaining, .. } if len <= *remaining => {
                *remaining -= len;
                done = *remaining == 0;
            }
            Framing::Chunked(Chunk::Data(n)) if len <= *n => {
                *n -= len;
                if *n == 0 {
                    body.framing = Framing::Chunked(Chunk::DataEnd);
                }
            }
            Framing::UntilClose | Framing::LinesUntilClose => {}
            _ => return false,
        }
        body.add_gap(len);
        self.side_mut(dir).lines.reset();
        self.stats.gaps_in_body += 1;
        self.mark_gap(dir);
        self.event(dir, HttpEvent::Gap { dir, len, in_body: true });
        if done {
            self.message_done(ts, dir, false);
        }
        true
    }
}

fn term_len(term: Term) -> u64 {
    match term {
        Term::CrLf => 2,
        Term::Lf | Term::Cr => 1,
        Term::None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an idle connection's parser costs, printed for docs/performance.md
    /// (`cargo test -p apitap-parsers print_type_sizes -- --nocapture`); measured, not
    /// promised, so nothing is asserted.
    #[test]
    fn print_type_sizes() {
        use std::mem::size_of;
        println!("HttpConnParser {}", size_of::<HttpConnParser>());
        println!("Side {} (LineSplitter {}, Mode {})", size_of::<Side>(), size_of::<LineSplitter>(), size_of::<Mode>());
        println!("Message {}", size_of::<Message>());
        println!("ConnState {}", size_of::<ConnState>());
        println!("Tracker {}", size_of::<Tracker>());
        super::super::txn::print_type_sizes();
    }

    // The compact queue answers like the queue of flags it replaced, for any mix of pushes and
    // pops.
    #[test]
    fn unanswered_behaves_as_a_queue_of_head_flags() {
        let mut model: VecDeque<bool> = VecDeque::new();
        let mut q = Unanswered::default();
        let mut x: u32 = 12345;
        for _ in 0..5000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            match (x >> 16) % 5 {
                0 | 1 => {
                    let head = (x >> 8) % 3 == 0;
                    model.push_back(head);
                    q.push_back(head);
                }
                _ => {
                    model.pop_front();
                    q.pop_front();
                }
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.is_empty(), model.is_empty());
            assert_eq!(q.front_is_head(), model.front() == Some(&true));
        }
    }

    // What an idle connection costs in the parser itself (its message state and transaction
    // are separate, and only exist while a message is in progress).
    #[test]
    fn a_connection_parser_stays_small() {
        assert!(std::mem::size_of::<HttpConnParser>() <= 384, "{}", std::mem::size_of::<HttpConnParser>());
        assert!(std::mem::size_of::<HttpParser>() >= std::mem::size_of::<HttpConnParser>() + 256);
    }
}
