//! Transactions and the request/response pairing that builds them.
//!
//! Pairing follows Zeek's `base/protocols/http/main.zeek` step for step, because the rows of
//! Zeek's http.log are the reference: requests and responses are numbered in arrival order, a
//! response takes the oldest transaction without a final status, a response with no request
//! makes a transaction of its own, 1xx responses wait for the final one, and a message that
//! ends after its transaction was emitted starts a new one.
//!
//! One departure: a final response that ends while its request is still arriving (an early
//! error, `Expect: 100-continue` answered at once) does not emit the transaction; it is held
//! until the request ends, so one exchange stays one row where Zeek writes two. HTTP/0.9
//! requests, which only end at the client's close, keep Zeek's two rows.
//!
//! Memory: an open transaction whose request head has not ended is an [`Opening`], a few
//! dozen bytes with what the request line said; it becomes a full [`HttpTransaction`] when
//! its head ends, a response comes for it, or anything else needs the whole record. An idle
//! connection that sent part of a request head therefore does not hold a whole transaction.

use std::collections::VecDeque;

use super::head::Version;
use super::{Direction, HttpConfig, HttpEvent, HttpStats, HttpTransaction, RetainedHeaders};

/// What a request line said, for a transaction whose head has not ended yet.
#[derive(Debug, Default)]
pub(crate) struct Opening {
    ts: u64,
    trans_depth: u32,
    uri_redacted: bool,
    version: Option<Version>,
    /// Method and URI in one allocation (the method first, `method_len` bytes); `None` when
    /// the request line gave neither.
    line: Option<Box<str>>,
    method_len: usize,
    events: Vec<HttpEvent>,
}

impl Opening {
    /// The whole transaction, as the request line would have left it.
    fn into_transaction(self) -> HttpTransaction {
        let (method, uri) = match &self.line {
            Some(line) => {
                let (m, u) = line.split_at_checked(self.method_len).unwrap_or((line, ""));
                (Some(m.to_owned()), Some(u.to_owned()))
            }
            None => (None, None),
        };
        HttpTransaction {
            trans_depth: self.trans_depth,
            ts: self.ts,
            request_start: Some(self.ts),
            method,
            uri,
            uri_redacted: self.uri_redacted,
            version: self.version.map(Version::text),
            events: self.events,
            ..Default::default()
        }
    }
}

/// One open transaction: exactly one of the two is set.
#[derive(Debug, Default)]
struct Slot {
    opening: Option<Box<Opening>>,
    full: Option<Box<HttpTransaction>>,
}

impl Slot {
    /// The whole transaction, made from the opening record the first time it is needed.
    fn full(&mut self) -> &mut HttpTransaction {
        if let Some(o) = self.opening.take() {
            self.full = Some(Box::new(o.into_transaction()));
        }
        self.full.get_or_insert_with(Box::default)
    }

    fn into_full(mut self) -> Box<HttpTransaction> {
        match self.opening.take() {
            Some(o) => Box::new(o.into_transaction()),
            None => self.full.unwrap_or_default(),
        }
    }

    fn events(&mut self) -> &mut Vec<HttpEvent> {
        match (&mut self.opening, &mut self.full) {
            (Some(o), _) => &mut o.events,
            (None, full) => &mut full.get_or_insert_with(Box::default).events,
        }
    }

    fn status_code(&self) -> Option<u16> {
        self.full.as_ref().and_then(|t| t.status_code)
    }

    fn body_bytes(&self) -> usize {
        self.full.as_ref().map_or(0, |t| t.body_bytes())
    }
}

/// The open transactions by index. Most connections have one open at a time, so the one used
/// last is kept in place and only pipelined requests beyond it take a vector (in index
/// order); their number is bounded by `max_pending_requests` (plus the responses in
/// progress).
#[derive(Debug, Default)]
struct Pending {
    last: Option<(u64, Slot)>,
    others: Vec<(u64, Slot)>,
}

impl Pending {
    fn len(&self) -> usize {
        self.others.len() + usize::from(self.last.is_some())
    }

    fn get(&self, idx: u64) -> Option<&Slot> {
        match &self.last {
            Some((i, s)) if *i == idx => Some(s),
            _ => self.others.iter().find(|(i, _)| *i == idx).map(|(_, s)| s),
        }
    }

    fn get_mut(&mut self, idx: u64) -> Option<&mut Slot> {
        match &mut self.last {
            Some((i, s)) if *i == idx => Some(s),
            _ => self.others.iter_mut().find(|(i, _)| *i == idx).map(|(_, s)| s),
        }
    }

    fn remove(&mut self, idx: u64) -> Option<Slot> {
        if self.last.as_ref().is_some_and(|(i, _)| *i == idx) {
            return self.last.take().map(|(_, s)| s);
        }
        let pos = self.others.iter().position(|(i, _)| *i == idx)?;
        Some(self.others.remove(pos).1)
    }

    /// The slot of `idx`, made by `create` if there is none.
    fn entry(&mut self, idx: u64, create: impl FnOnce() -> Slot) -> &mut Slot {
        if self.last.as_ref().is_none_or(|(i, _)| *i != idx) {
            let slot = self.remove(idx).unwrap_or_else(create);
            if let Some(prev) = self.last.take() {
                let at = self.others.partition_point(|(i, _)| *i < prev.0);
                self.others.insert(at, prev);
            }
            self.last = Some((idx, slot));
        }
        &mut self.last.get_or_insert_with(|| (idx, Slot::default())).1
    }

    /// Every slot, in index order, leaving none.
    fn take_all(&mut self) -> Vec<(u64, Slot)> {
        let mut all = std::mem::take(&mut self.others);
        if let Some(last) = self.last.take() {
            let at = all.partition_point(|(i, _)| *i < last.0);
            all.insert(at, last);
        }
        all
    }
}

/// Pending and finished transactions of one connection.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pending: Pending,
    current_request: u64,
    current_response: u64,
    trans_depth: u32,
    /// Finished transactions waiting for `poll`. The queue itself is boxed and exists only
    /// while it holds one, so that every idle connection's parser is 24 bytes smaller.
    #[allow(clippy::box_collection)]
    ready: Option<Box<VecDeque<Box<HttpTransaction>>>>,
    /// Events seen while no transaction was open on their side; they go to the next one.
    /// Boxed and only while there are any, for the same reason as `ready`.
    #[allow(clippy::box_collection)]
    orphans: Option<Box<Vec<HttpEvent>>>,
    /// The rare case of a response that ended before its request: boxed, and only while it
    /// lasts.
    early: Option<Box<Early>>,
    /// Heap bytes of the captured bodies and retained header values of every transaction held
    /// here (pending, held, behind and ready), kept up to date so that it can be read in
    /// constant time.
    body_bytes: usize,
}

/// A transaction whose final response ended while its request was still arriving, and the
/// transactions that finished behind it.
#[derive(Debug)]
struct Early {
    /// The held transaction with its index: it waits for the end of the request so that it
    /// is emitted whole.
    held: (u64, Box<HttpTransaction>),
    /// Transactions finished while it is held, in order; emitted after it so that emission
    /// stays in `trans_depth` order. Bounded by `max_ready_transactions`.
    behind: VecDeque<Box<HttpTransaction>>,
}

/// What a finished message contributes.
#[derive(Clone, Debug, Default)]
pub(crate) struct MessageEnd {
    pub body_len: u64,
    pub wire_len: u64,
    /// The captured prefix of the entity.
    pub body: Vec<u8>,
    pub body_truncated: bool,
}

/// What a request line says about its transaction.
#[derive(Debug, Default)]
pub(crate) struct RequestLine {
    /// Method and URI, bounded by the caller.
    pub method_uri: Option<(String, String)>,
    pub uri_redacted: bool,
    pub version: Option<Version>,
}

fn is_informational(code: Option<u16>) -> bool {
    code.is_some_and(|c| (100..200).contains(&c))
}

impl Tracker {
    fn index(&self, dir: Direction) -> u64 {
        match dir {
            Direction::ToServer => self.current_request,
            Direction::ToClient => self.current_response,
        }
    }

    /// Whether the request side's transaction is the held one.
    fn holds_request(&self) -> bool {
        self.early.as_ref().is_some_and(|e| e.held.0 == self.current_request)
    }

    /// The transaction a message on `dir` belongs to, created if needed (Zeek's `set_state`).
    pub fn session(&mut self, ts: u64, dir: Direction) -> &mut HttpTransaction {
        let idx = self.index(dir);
        if dir == Direction::ToServer && self.holds_request() {
            if let Some(e) = self.early.as_mut() {
                return &mut e.held.1;
            }
        }
        let depth = &mut self.trans_depth;
        let orphans = &mut self.orphans;
        let slot = self.pending.entry(idx, || {
            *depth = depth.saturating_add(1);
            let t = HttpTransaction { trans_depth: *depth, ts, events: take_orphans(orphans), ..Default::default() };
            Slot { opening: None, full: Some(Box::new(t)) }
        });
        slot.full()
    }

    /// Stores the retained request headers of the request side's transaction, keeping
    /// `body_bytes` in step (they are held, and released, with the transaction).
    pub fn set_retained(&mut self, ts: u64, kept: RetainedHeaders) {
        let t = self.session(ts, Direction::ToServer);
        let before = t.body_bytes();
        t.retained = kept;
        let after = t.body_bytes();
        self.body_bytes = self.body_bytes.saturating_sub(before).saturating_add(after);
    }

    /// The open transaction of `dir`, if any, without creating one.
    pub fn current(&mut self, dir: Direction) -> Option<&mut HttpTransaction> {
        if dir == Direction::ToServer && self.holds_request() {
            return self.early.as_mut().map(|e| &mut *e.held.1);
        }
        let idx = self.index(dir);
        self.pending.get_mut(idx).map(Slot::full)
    }

    /// The event list of `dir`'s open transaction, if any, without making an opening record
    /// a full transaction.
    fn current_events(&mut self, dir: Direction) -> Option<&mut Vec<HttpEvent>> {
        if dir == Direction::ToServer && self.holds_request() {
            return self.early.as_mut().map(|e| &mut e.held.1.events);
        }
        let idx = self.index(dir);
        self.pending.get_mut(idx).map(Slot::events)
    }

    /// Moves the request side to the next transaction; with too many pending, every
    /// transaction before it is emitted as it is. Returns whether that happened.
    fn next_request(&mut self, cfg: &HttpConfig, stats: &mut HttpStats) -> bool {
        if self.current_request < self.current_response {
            self.current_request = self.current_response;
        }
        let mut flushed = false;
        if cfg.max_pending_requests > 0 && self.pending.len() > cfg.max_pending_requests {
            flushed = true;
            stats.pending_limit_hits += 1;
            if self.current_response == 0 {
                self.current_response = 1;
            }
            while self.current_response < self.current_request {
                if let Some(t) = self.pending.remove(self.current_response) {
                    self.emit(t.into_full(), cfg, stats);
                }
                self.current_response += 1;
            }
        }
        self.current_request += 1;
        flushed
    }

    /// A request line was parsed (the whole transaction, for tests that fill it in).
    #[cfg(test)]
    pub fn on_request(&mut self, ts: u64, cfg: &HttpConfig, stats: &mut HttpStats) -> &mut HttpTransaction {
        self.open_request(ts, RequestLine::default(), cfg, stats);
        self.session(ts, Direction::ToServer)
    }

    /// A request line was parsed: opens the next transaction on the request side with what it
    /// said. A new transaction stays an [`Opening`] record until more than that is needed.
    pub fn open_request(&mut self, ts: u64, line: RequestLine, cfg: &HttpConfig, stats: &mut HttpStats) {
        let flushed = self.next_request(cfg, stats);
        let max_events = cfg.max_events_per_transaction;
        let idx = self.current_request;
        let fresh = !self.holds_request() && self.pending.get(idx).is_none();
        if fresh {
            self.trans_depth = self.trans_depth.saturating_add(1);
            let (text, method_len) = match line.method_uri {
                Some((method, uri)) => {
                    let len = method.len();
                    let mut text = String::with_capacity(len + uri.len());
                    text.push_str(&method);
                    text.push_str(&uri);
                    (Some(text.into_boxed_str()), len)
                }
                None => (None, 0),
            };
            let mut o = Box::new(Opening {
                ts,
                trans_depth: self.trans_depth,
                uri_redacted: line.uri_redacted,
                version: line.version,
                line: text,
                method_len,
                events: take_orphans(&mut self.orphans),
            });
            if flushed {
                let event = HttpEvent::TooManyPendingRequests { limit: cfg.max_pending_requests };
                push_event_to(&mut o.events, event, max_events, stats);
            }
            self.pending.entry(idx, || Slot { opening: Some(o), full: None });
            return;
        }
        let t = self.session(ts, Direction::ToServer);
        if flushed {
            push_event(t, HttpEvent::TooManyPendingRequests { limit: cfg.max_pending_requests }, max_events, stats);
        }
        t.request_start = Some(ts);
        let (method, uri) = line.method_uri.unzip();
        t.method = method;
        t.uri = uri;
        t.uri_redacted = line.uri_redacted;
        t.version = line.version.map(Version::text);
    }

    /// A status line (or an HTTP/0.9 response) was seen.
    pub fn on_reply(&mut self, ts: u64) -> &mut HttpTransaction {
        let advance = match self.pending.get(self.current_response) {
            None => true,
            Some(t) => t.status_code().is_some() && !is_informational(t.status_code()),
        };
        if advance {
            self.current_response += 1;
        }
        let t = self.session(ts, Direction::ToClient);
        if t.response_start.is_none() {
            t.response_start = Some(ts);
        }
        t
    }

    /// A message on `dir` ended. A finished response emits its transaction unless it was a 1xx,
    /// or unless `request_open` says the client is still sending the request of that same
    /// transaction: then the transaction is held until the request ends (the end of a request
    /// releases it), so its request body and end are not split off into a row of their own.
    pub fn on_message_done(
        &mut self,
        ts: u64,
        dir: Direction,
        end: MessageEnd,
        request_open: bool,
        cfg: &HttpConfig,
        stats: &mut HttpStats,
    ) {
        let t = self.session(ts, dir);
        let before = t.body_bytes();
        match dir {
            Direction::ToServer => {
                t.request_body = end.body;
                t.request_body_truncated = end.body_truncated;
            }
            Direction::ToClient => {
                t.response_body = end.body;
                t.response_body_truncated = end.body_truncated;
            }
        }
        let after = t.body_bytes();
        self.body_bytes = self.body_bytes.saturating_sub(before).saturating_add(after);
        let t = self.session(ts, dir);
        match dir {
            Direction::ToServer => {
                t.request_body_len = end.body_len;
                t.request_body_wire_len = end.wire_len;
                t.request_end = Some(ts);
                if self.holds_request() {
                    self.release_held(cfg, stats);
                }
            }
            Direction::ToClient => {
                t.response_body_len = end.body_len;
                t.response_body_wire_len = end.wire_len;
                t.response_end = Some(ts);
                if !is_informational(t.status_code) {
                    let idx = self.current_response;
                    if let Some(slot) = self.pending.remove(idx) {
                        let mut t = slot.into_full();
                        if request_open && idx == self.current_request && self.early.is_none() {
                            stats.early_responses += 1;
                            push_event(&mut t, HttpEvent::EarlyResponse, cfg.max_events_per_transaction, stats);
                            self.early = Some(Box::new(Early { held: (idx, t), behind: VecDeque::new() }));
                        } else {
                            self.emit(t, cfg, stats);
                        }
                    }
                }
            }
        }
    }

    /// Emits the held transaction, as it is, and every transaction finished behind it.
    pub fn release_held(&mut self, cfg: &HttpConfig, stats: &mut HttpStats) {
        if let Some(early) = self.early.take() {
            let Early { held: (_, t), behind } = *early;
            self.push_ready(t, cfg, stats);
            for t in behind {
                self.push_ready(t, cfg, stats);
            }
        }
    }

    /// Attaches an event to the open transaction of `dir`, or keeps it for the next one.
    pub fn event(&mut self, dir: Direction, event: HttpEvent, cfg: &HttpConfig, stats: &mut HttpStats) {
        let max = cfg.max_events_per_transaction;
        match self.current_events(dir) {
            Some(events) => push_event_to(events, event, max, stats),
            None => self.orphan_event(event, cfg, stats),
        }
    }

    /// Keeps an event for the next transaction created.
    pub fn orphan_event(&mut self, event: HttpEvent, cfg: &HttpConfig, stats: &mut HttpStats) {
        if self.orphans.as_ref().map_or(0, |o| o.len()) < cfg.max_events_per_transaction {
            stats.events += 1;
            if event.is_smuggling_indicator() {
                stats.smuggling_indicators += 1;
            }
            self.orphans.get_or_insert_with(Box::default).push(event);
        } else {
            stats.events_dropped += 1;
        }
    }

    /// Emits the open transaction of `dir` now (a 1xx that will get no final response).
    pub fn emit_current(&mut self, dir: Direction, cfg: &HttpConfig, stats: &mut HttpStats) {
        let idx = self.index(dir);
        if let Some(t) = self.pending.remove(idx) {
            self.emit(t.into_full(), cfg, stats);
        }
    }

    /// Emits every pending transaction (the connection is gone).
    pub fn finalize(&mut self, cfg: &HttpConfig, stats: &mut HttpStats) {
        self.release_held(cfg, stats);
        for (idx, t) in self.pending.take_all() {
            // Zeek never logs slot 0: it only holds state from before the first message.
            if idx != 0 {
                self.emit(t.into_full(), cfg, stats);
            } else {
                self.body_bytes = self.body_bytes.saturating_sub(t.body_bytes());
            }
        }
        self.orphans = None;
    }

    /// Emits a finished transaction, behind the held one if there is one.
    fn emit(&mut self, t: Box<HttpTransaction>, cfg: &HttpConfig, stats: &mut HttpStats) {
        let Some(early) = self.early.as_mut() else {
            self.push_ready(t, cfg, stats);
            return;
        };
        early.behind.push_back(t);
        // The held transaction and those behind it count against the same bound as the ready
        // queue, which they join together. At the bound the held one goes out without the end
        // of its request, which then starts a transaction of its own (as in Zeek).
        let limit = cfg.max_ready_transactions.max(1);
        if 1 + early.behind.len() >= limit {
            stats.held_limit_hits += 1;
            push_event(&mut early.held.1, HttpEvent::HeldTransactionLimit { limit }, cfg.max_events_per_transaction, stats);
            self.release_held(cfg, stats);
        }
    }

    /// Queues a transaction for `poll`, dropping the oldest at `max_ready_transactions`.
    fn push_ready(&mut self, t: Box<HttpTransaction>, cfg: &HttpConfig, stats: &mut HttpStats) {
        let ready = self.ready.get_or_insert_with(Box::default);
        if ready.len() >= cfg.max_ready_transactions.max(1) {
            if let Some(dropped) = ready.pop_front() {
                self.body_bytes = self.body_bytes.saturating_sub(dropped.body_bytes());
            }
            stats.transactions_dropped += 1;
        }
        stats.transactions += 1;
        ready.push_back(t);
    }

    pub fn poll(&mut self) -> Option<HttpTransaction> {
        let ready = self.ready.as_mut()?;
        let t = ready.pop_front();
        if ready.is_empty() {
            self.ready = None;
        }
        let t = t?;
        self.body_bytes = self.body_bytes.saturating_sub(t.body_bytes());
        Some(*t)
    }

    /// Heap bytes of the captured bodies of the transactions held here.
    pub fn body_bytes(&self) -> usize {
        self.body_bytes
    }

    pub fn ready_len(&self) -> usize {
        self.ready.as_ref().map_or(0, |r| r.len())
    }

    #[cfg(test)]
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

/// Adds an event to a transaction within the per-transaction bound.
pub(crate) fn push_event(t: &mut HttpTransaction, event: HttpEvent, max: usize, stats: &mut HttpStats) {
    push_event_to(&mut t.events, event, max, stats);
}

/// Adds an event to a transaction's list within the per-transaction bound.
fn push_event_to(events: &mut Vec<HttpEvent>, event: HttpEvent, max: usize, stats: &mut HttpStats) {
    if events.len() < max {
        stats.events += 1;
        if event.is_smuggling_indicator() {
            stats.smuggling_indicators += 1;
        }
        events.push(event);
    } else {
        stats.events_dropped += 1;
    }
}

/// The events kept for the next transaction, leaving none.
#[allow(clippy::box_collection)]
fn take_orphans(orphans: &mut Option<Box<Vec<HttpEvent>>>) -> Vec<HttpEvent> {
    orphans.take().map(|o| *o).unwrap_or_default()
}

/// Sizes of the open-transaction records, printed by the parser's size test.
#[cfg(test)]
pub(crate) fn print_type_sizes() {
    use std::mem::size_of;
    println!("Opening {}, Slot {}, Pending {}", size_of::<Opening>(), size_of::<Slot>(), size_of::<Pending>());
    println!("HttpTransaction {}", size_of::<HttpTransaction>());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(tr: &mut Tracker, dir: Direction, cfg: &HttpConfig, stats: &mut HttpStats) {
        tr.on_message_done(0, dir, MessageEnd::default(), false, cfg, stats);
    }

    #[test]
    fn pipelined_requests_pair_in_order() {
        let cfg = HttpConfig::default();
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        tr.on_request(1, &cfg, &mut st).method = Some("A".into());
        done(&mut tr, Direction::ToServer, &cfg, &mut st);
        tr.on_request(2, &cfg, &mut st).method = Some("B".into());
        done(&mut tr, Direction::ToServer, &cfg, &mut st);
        tr.on_reply(3).status_code = Some(200);
        done(&mut tr, Direction::ToClient, &cfg, &mut st);
        tr.on_reply(4).status_code = Some(404);
        done(&mut tr, Direction::ToClient, &cfg, &mut st);
        let a = tr.poll().unwrap();
        let b = tr.poll().unwrap();
        assert_eq!((a.trans_depth, a.method.as_deref(), a.status_code), (1, Some("A"), Some(200)));
        assert_eq!((b.trans_depth, b.method.as_deref(), b.status_code), (2, Some("B"), Some(404)));
        assert!(tr.poll().is_none());
    }

    // Zeek's http-desynched trace: one request, three responses, then four request/response
    // pairs. http.log shows depth 1 GET, depths 2-3 without method, depths 4-7 GET.
    #[test]
    fn unsolicited_responses_get_their_own_rows_and_requests_skip_ahead() {
        let cfg = HttpConfig::default();
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        tr.on_request(0, &cfg, &mut st).method = Some("GET".into());
        done(&mut tr, Direction::ToServer, &cfg, &mut st);
        for _ in 0..3 {
            tr.on_reply(0).status_code = Some(200);
            done(&mut tr, Direction::ToClient, &cfg, &mut st);
        }
        for _ in 0..4 {
            tr.on_request(0, &cfg, &mut st).method = Some("GET".into());
            done(&mut tr, Direction::ToServer, &cfg, &mut st);
            tr.on_reply(0).status_code = Some(200);
            done(&mut tr, Direction::ToClient, &cfg, &mut st);
        }
        let rows: Vec<(u32, bool)> = std::iter::from_fn(|| tr.poll()).map(|t| (t.trans_depth, t.method.is_some())).collect();
        assert_eq!(rows, vec![(1, true), (2, false), (3, false), (4, true), (5, true), (6, true), (7, true)]);
    }

    #[test]
    fn informational_response_waits_for_final() {
        let cfg = HttpConfig::default();
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        tr.on_request(0, &cfg, &mut st);
        let t = tr.on_reply(1);
        t.status_code = Some(100);
        t.info_code = Some(100);
        done(&mut tr, Direction::ToClient, &cfg, &mut st);
        assert!(tr.poll().is_none());
        done(&mut tr, Direction::ToServer, &cfg, &mut st);
        tr.on_reply(2).status_code = Some(200);
        done(&mut tr, Direction::ToClient, &cfg, &mut st);
        let t = tr.poll().unwrap();
        assert_eq!((t.trans_depth, t.status_code, t.info_code), (1, Some(200), Some(100)));
    }

    // Zeek's http-09 trace: the response ends (server FIN) before the client's message does;
    // the late end of the request opens a second, empty row.
    #[test]
    fn request_ending_after_its_row_was_emitted_opens_a_new_row() {
        let cfg = HttpConfig::default();
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        tr.on_request(0, &cfg, &mut st);
        tr.on_reply(1).status_code = Some(0);
        done(&mut tr, Direction::ToClient, &cfg, &mut st);
        done(&mut tr, Direction::ToServer, &cfg, &mut st);
        tr.finalize(&cfg, &mut st);
        let depths: Vec<u32> = std::iter::from_fn(|| tr.poll()).map(|t| t.trans_depth).collect();
        assert_eq!(depths, vec![1, 2]);
    }

    // Review finding: a final response that ended before its request did split the
    // transaction; the request's body and end went to a second row without a method.
    #[test]
    fn early_response_waits_for_its_request_and_keeps_order() {
        let cfg = HttpConfig::default();
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        tr.on_request(1, &cfg, &mut st).method = Some("POST".into());
        tr.on_reply(2).status_code = Some(413);
        tr.on_message_done(3, Direction::ToClient, MessageEnd::default(), true, &cfg, &mut st);
        assert_eq!(tr.ready_len(), 0);
        // A response without a request finishes meanwhile: it waits behind the first.
        tr.on_reply(4).status_code = Some(200);
        tr.on_message_done(5, Direction::ToClient, MessageEnd::default(), true, &cfg, &mut st);
        assert_eq!(tr.ready_len(), 0);
        let body = MessageEnd { body_len: 7, wire_len: 7, body: b"{\"a\":1}".to_vec(), body_truncated: false };
        tr.on_message_done(6, Direction::ToServer, body, false, &cfg, &mut st);
        let a = tr.poll().unwrap();
        let b = tr.poll().unwrap();
        assert_eq!((a.trans_depth, a.status_code, a.request_body_len, a.request_end), (1, Some(413), 7, Some(6)));
        assert_eq!(a.request_body, b"{\"a\":1}");
        assert_eq!(tr.body_bytes(), 0);
        assert_eq!(a.events, vec![HttpEvent::EarlyResponse]);
        assert_eq!((b.trans_depth, b.method.as_deref(), b.status_code), (2, None, Some(200)));
        assert!(tr.poll().is_none());
        assert_eq!((st.early_responses, st.transactions), (1, 2));
    }

    fn end_with(body: &[u8]) -> MessageEnd {
        let n = body.len() as u64;
        MessageEnd { body_len: n, wire_len: n, body: body.to_vec(), body_truncated: false }
    }

    #[test]
    fn body_bytes_follow_bodies_from_pending_to_polled_or_dropped() {
        let cfg = HttpConfig { max_ready_transactions: 1, ..HttpConfig::default() };
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        tr.on_request(1, &cfg, &mut st);
        tr.on_message_done(1, Direction::ToServer, end_with(&[1; 100]), false, &cfg, &mut st);
        assert_eq!(tr.body_bytes(), 100, "a pending request's body");
        tr.on_request(2, &cfg, &mut st);
        tr.on_message_done(2, Direction::ToServer, end_with(&[2; 30]), false, &cfg, &mut st);
        assert_eq!(tr.body_bytes(), 130);
        tr.on_reply(3).status_code = Some(100);
        tr.on_message_done(3, Direction::ToClient, end_with(&[]), false, &cfg, &mut st);
        tr.on_reply(3).status_code = Some(200);
        tr.on_message_done(3, Direction::ToClient, end_with(&[3; 50]), false, &cfg, &mut st);
        assert_eq!(tr.body_bytes(), 180, "the 1xx added nothing, the final response its body");
        tr.on_reply(4).status_code = Some(200);
        tr.on_message_done(4, Direction::ToClient, end_with(&[4; 7]), false, &cfg, &mut st);
        // The ready queue holds one: the first transaction was dropped with its bodies.
        assert_eq!(st.transactions_dropped, 1);
        assert_eq!(tr.body_bytes(), 37);
        let t = tr.poll().unwrap();
        assert_eq!((t.request_body.len(), t.response_body.len()), (30, 7));
        assert_eq!(tr.body_bytes(), 0);
    }

    #[test]
    fn held_transaction_is_released_at_close() {
        let cfg = HttpConfig::default();
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        tr.on_request(1, &cfg, &mut st);
        tr.on_reply(2).status_code = Some(401);
        tr.on_message_done(3, Direction::ToClient, MessageEnd::default(), true, &cfg, &mut st);
        assert!(tr.poll().is_none());
        tr.finalize(&cfg, &mut st);
        let t = tr.poll().unwrap();
        assert_eq!((t.trans_depth, t.status_code, t.request_end), (1, Some(401), None));
        assert!(tr.poll().is_none());
    }

    #[test]
    fn pending_limit_flushes_unanswered_requests() {
        let cfg = HttpConfig { max_pending_requests: 2, ..HttpConfig::default() };
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        for _ in 0..4 {
            tr.on_request(0, &cfg, &mut st);
        }
        // Requests 1 and 2 are pushed out when the fourth arrives with three pending.
        assert_eq!(st.pending_limit_hits, 1);
        assert_eq!(tr.ready_len(), 2);
        assert_eq!(tr.pending_len(), 2);
        assert!(tr.poll().unwrap().events.is_empty());
    }

    #[test]
    fn ready_queue_is_bounded() {
        let cfg = HttpConfig { max_ready_transactions: 2, ..HttpConfig::default() };
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        for _ in 0..3 {
            tr.on_reply(0).status_code = Some(200);
            done(&mut tr, Direction::ToClient, &cfg, &mut st);
        }
        assert_eq!(st.transactions_dropped, 1);
        assert_eq!(tr.poll().unwrap().trans_depth, 2);
    }

    // An idle connection that sent part of a request head must not hold a whole transaction:
    // the request line stays a small record until more is needed, and the transaction made
    // from it then reads exactly as if it had been whole from the start.
    #[test]
    fn a_request_in_its_head_is_a_small_record_until_needed() {
        let cfg = HttpConfig::default();
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        let line = RequestLine { method_uri: Some(("PUT".into(), "/a/b?c".into())), uri_redacted: true, version: Some(Version::V10) };
        tr.open_request(7, line, &cfg, &mut st);
        tr.event(Direction::ToServer, HttpEvent::BareLf { dir: Direction::ToServer }, &cfg, &mut st);
        let slot = tr.pending.get(1).unwrap();
        assert!(slot.opening.is_some() && slot.full.is_none());
        assert!(std::mem::size_of::<Opening>() * 6 < std::mem::size_of::<HttpTransaction>());
        let t = tr.session(9, Direction::ToServer);
        assert_eq!((t.trans_depth, t.ts, t.request_start), (1, 7, Some(7)));
        assert_eq!((t.method.as_deref(), t.uri.as_deref(), t.version.as_deref()), (Some("PUT"), Some("/a/b?c"), Some("1.0")));
        assert!(t.uri_redacted);
        assert_eq!(t.events, vec![HttpEvent::BareLf { dir: Direction::ToServer }]);
        assert_eq!(st.events, 1);
        tr.finalize(&cfg, &mut st);
        let out = tr.poll().unwrap();
        assert_eq!((out.method.as_deref(), out.status_code, out.request_end), (Some("PUT"), None, None));
    }

    // Pipelined requests keep their order when several are open at once and responses come
    // out of step with the one kept in place.
    #[test]
    fn several_open_requests_emit_in_index_order_at_close() {
        let cfg = HttpConfig::default();
        let mut st = HttpStats::default();
        let mut tr = Tracker::default();
        for m in ["A", "B", "C", "D"] {
            tr.open_request(1, RequestLine { method_uri: Some((m.into(), "/".into())), ..RequestLine::default() }, &cfg, &mut st);
        }
        tr.on_reply(2).status_code = Some(200);
        done(&mut tr, Direction::ToClient, &cfg, &mut st);
        assert_eq!(tr.pending_len(), 3);
        tr.finalize(&cfg, &mut st);
        let order: Vec<_> = std::iter::from_fn(|| tr.poll()).map(|t| (t.trans_depth, t.method, t.status_code)).collect();
        assert_eq!(
            order,
            vec![
                (1, Some("A".to_owned()), Some(200)),
                (2, Some("B".to_owned()), None),
                (3, Some("C".to_owned()), None),
                (4, Some("D".to_owned()), None)
            ]
        );
    }
}
