//! Start lines, heads, bodies and the end of a message: the Zeek HTTP analyzer's rules for
//! what each line means, applied to one direction of an [`HttpParser`](super::HttpParser).

use super::body::{decide, zeek_atoi, Body, Chunk, DecodeNote, ExpectBody, Framing, MessageInfo};
use super::credential;
use super::head::{parse_fields, parse_request_line, parse_status_line, value_token, Field, LineNotes, RequestLineError, Version};
use super::lines::Term;
use super::parser::{Cx, Message, Mode};
use super::redact::{auth_scheme, host_without_userinfo, redact_target, Form, OTHER_AUTH_SCHEME};
use super::retain;
use super::text::wire_string;
use super::txn::{MessageEnd, RequestLine};
use super::{Direction, HttpConfig, HttpEvent, HttpStats, HttpTransaction};

/// Methods Zeek (and RFC 9110, 5789, WebDAV) know; others get [`HttpEvent::NonStandardMethod`].
const KNOWN_METHODS: &[&str] = &[
    "GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH", "QUERY", "PROPFIND",
    "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "POLL", "REPORT", "SUBSCRIBE", "BMOVE", "SEARCH",
];

/// Where a credible message start is in a line seen after a gap: a request line at the start
/// of the line, or a status line anywhere in it (after a lost head the body before the next
/// response has no known length, so the status line may follow it on the same line).
pub(super) fn find_start(dir: Direction, line: &[u8]) -> Option<usize> {
    if plausible_start(dir, line) {
        return Some(0);
    }
    if dir == Direction::ToServer {
        return None;
    }
    line.windows(7)
        .enumerate()
        .filter(|(_, w)| *w == b"HTTP/1.")
        .map(|(i, _)| i)
        .find(|&i| line.get(i..).is_some_and(|rest| plausible_start(dir, rest)))
}

/// Whether a line after a gap is a credible message start: a request line with an HTTP/1.x
/// version and an upper-case method, or an HTTP/1.x status line with a real status code.
fn plausible_start(dir: Direction, line: &[u8]) -> bool {
    match dir {
        Direction::ToServer => parse_request_line(line).is_ok_and(|r| {
            r.version.is_some_and(|v| v.major == 1)
                && !r.notes.lowercase_keyword
                && (1..=20).contains(&r.method.len())
                && r.method.iter().all(|c| c.is_ascii_uppercase() || *c == b'-' || *c == b'_')
        }),
        Direction::ToClient => parse_status_line(line).is_some_and(|s| {
            s.version.is_some_and(|v| v.major == 1) && !s.notes.lowercase_keyword && (100..600).contains(&s.code)
        }),
    }
}

/// A bounded string from wire bytes; counts truncation.
fn field_string(bytes: &[u8], cfg: &HttpConfig, stats: &mut HttpStats) -> String {
    let (s, cut) = wire_string(bytes, cfg.max_field_len);
    if cut {
        stats.field_truncations += 1;
    }
    s
}

fn note_events(notes: LineNotes, dir: Direction, out: &mut Vec<HttpEvent>) {
    if notes.bad_version {
        out.push(HttpEvent::BadVersion { dir });
    }
    if notes.lowercase_keyword {
        out.push(HttpEvent::LowercaseHttpKeyword { dir });
    }
    if notes.crud_after_version {
        out.push(HttpEvent::CrudAfterVersion);
    }
    if notes.missing_uri {
        out.push(HttpEvent::MissingUri);
    }
    if notes.missing_code {
        out.push(HttpEvent::MissingStatusCode);
    }
}

impl Cx<'_> {
    /// A request or status line. `resync` is the bytes skipped to find it after a gap: that
    /// event comes before the line end's, which a CR at the end of the delivery leaves to the
    /// next delivery, so that the events' order does not depend on where TCP cut the stream.
    pub(super) fn start_line(&mut self, ts: u64, dir: Direction, line: &[u8], term: Term, resync: Option<u64>) {
        match dir {
            Direction::ToServer => self.request_line(ts, line),
            Direction::ToClient => self.status_line(ts, line),
        }
        if let Some(skipped) = resync {
            self.event(dir, HttpEvent::Resync { dir, skipped });
        }
        if self.side(dir).msg.is_some() {
            if std::mem::take(&mut self.side_mut(dir).gap_pending) {
                self.mark_gap(dir);
            }
            self.note_line_end(dir, term);
        }
    }

    fn set_version(&mut self, dir: Direction, version: Option<Version>) {
        let slot = match dir {
            Direction::ToServer => &mut self.conn.request_version,
            Direction::ToClient => &mut self.conn.reply_version,
        };
        *slot = version;
        if version.is_some_and(Version::is_persistent) {
            self.conn.keep_alive = true;
        }
    }

    fn request_line(&mut self, ts: u64, line: &[u8]) {
        let dir = Direction::ToServer;
        let req = match parse_request_line(line) {
            Ok(req) => req,
            Err(err) => {
                let request_expected = self.conn.num_requests == 0 || self.conn.keep_alive;
                // Zeek ignores junk after a request on a non-persistent connection, and empty
                // lines between requests; anything else ends request parsing.
                if request_expected && !line.is_empty() {
                    self.stats.bad_request_lines += 1;
                    let event = match err {
                        RequestLineError::Bad => HttpEvent::BadRequestLine,
                        RequestLineError::BadWithVersion => HttpEvent::BadRequestLineWithVersion,
                    };
                    self.tracker.orphan_event(event, self.cfg, self.stats);
                    self.client.mode = Mode::Stopped;
                }
                return;
            }
        };
        self.stats.requests += 1;
        self.conn.num_requests += 1;
        self.set_version(dir, req.version);
        let is_09 = req.version == Some(Version::V09);
        if is_09 {
            self.stats.http09_requests += 1;
        }
        self.conn.connect_request = req.method.eq_ignore_ascii_case(b"CONNECT");
        if self.conn.unanswered.len() > self.cfg.max_pending_requests {
            self.conn.unanswered.pop_front();
        }
        self.conn.unanswered.push_back(req.method.eq_ignore_ascii_case(b"HEAD"));

        let cfg = self.cfg.clone();
        let method = field_string(req.method, &cfg, self.stats);
        let (uri, redacted) = redact_target(req.uri, &cfg.redact_query_params, Form::Decoded);
        let (uri, uri_cut) = wire_string(&uri, cfg.max_uri_len);
        let mut events = Vec::new();
        note_events(req.notes, dir, &mut events);
        if is_09 {
            events.push(HttpEvent::MissingVersion);
        }
        if !KNOWN_METHODS.contains(&method.as_str()) {
            events.push(HttpEvent::NonStandardMethod);
        }
        if uri_cut {
            self.stats.uri_truncations += 1;
            events.push(HttpEvent::UriTruncated { limit: cfg.max_uri_len });
        }
        let line = RequestLine { method_uri: Some((method, uri)), uri_redacted: redacted, version: req.version };
        self.tracker.open_request(ts, line, &cfg, self.stats);
        for e in events {
            self.event(dir, e);
        }
        self.client.msg = Some(Box::new(Message::new(req.version, ExpectBody::Maybe)));
        self.client.mode = Mode::Message;
        if is_09 {
            // The response to an HTTP/0.9 request is raw data until the server closes; a
            // response still in progress ends here.
            if self.server.msg.is_some() {
                self.event(Direction::ToClient, HttpEvent::OverlappingResponse);
                self.message_done(ts, Direction::ToClient, false);
            }
            if !matches!(self.server.mode, Mode::Tunnel | Mode::Ended | Mode::Stopped) {
                self.server.mode = Mode::Http09;
                self.server.lines.reset();
            }
        }
    }

    fn expect_reply_body(&self) -> ExpectBody {
        let code = self.conn.reply_code;
        if self.conn.unanswered.front_is_head() || (100..200).contains(&code) || code == 204 || code == 304 {
            ExpectBody::NotExpected
        } else {
            ExpectBody::Expected
        }
    }

    fn status_line(&mut self, ts: u64, line: &[u8]) {
        let dir = Direction::ToClient;
        let Some(status) = parse_status_line(line) else {
            if !line.is_empty() {
                self.stats.bad_status_lines += 1;
                self.tracker.orphan_event(HttpEvent::BadStatusLine, self.cfg, self.stats);
                self.server.mode = Mode::Stopped;
            }
            return;
        };
        self.stats.responses += 1;
        self.set_version(dir, status.version);
        self.conn.reply_code = status.code;
        if self.conn.connect_request && status.code != 200 {
            self.conn.connect_request = false;
        }
        let cfg = self.cfg.clone();
        let reason = status.reason.map(|r| field_string(r, &cfg, self.stats));
        let unsolicited = self.conn.unanswered.is_empty();
        let t = self.tracker.on_reply(ts);
        t.status_code = Some(status.code);
        t.status_msg = reason.clone();
        t.response_version = status.version.map(Version::text);
        if (100..200).contains(&status.code) {
            t.info_code = Some(status.code);
            t.info_msg = reason;
        }
        let mut events = Vec::new();
        note_events(status.notes, dir, &mut events);
        if unsolicited {
            events.push(HttpEvent::ResponseWithoutRequest);
        }
        for e in events {
            self.event(dir, e);
        }
        let expect = self.expect_reply_body();
        self.server.msg = Some(Box::new(Message::new(status.version, expect)));
        self.server.mode = Mode::Message;
    }

    /// Server bytes after an HTTP/0.9 request: the response body, raw.
    pub(super) fn http09_data(&mut self, ts: u64, data: &[u8]) {
        if self.server.msg.is_none() {
            self.stats.responses += 1;
            self.set_version(Direction::ToClient, Some(Version::V09));
            self.conn.unanswered.pop_front();
            self.conn.connection_close = true;
            let t = self.tracker.on_reply(ts);
            t.status_code = Some(0);
            t.response_version = Some(Version::V09.text());
            let expect = self.expect_reply_body();
            let mut msg = Box::new(Message::new(Some(Version::V09), expect));
            if expect == ExpectBody::NotExpected {
                msg.head_done = true;
                self.server.msg = Some(msg);
                self.message_done(ts, Direction::ToClient, false);
                self.server.mode = Mode::Stopped;
                return;
            }
            msg.head_done = true;
            msg.body = Some(Box::new(Body::new(Framing::UntilClose, None, false, self.cfg)));
            self.server.msg = Some(msg);
        }
        self.body_bytes(ts, Direction::ToClient, data);
    }

    /// A line while the head of a message is being read.
    pub(super) fn head_line(&mut self, ts: u64, dir: Direction, line: &[u8], truncated: bool) {
        if line.is_empty() {
            self.end_of_head(ts, dir);
            return;
        }
        let max = self.cfg.max_header_bytes;
        let Some(msg) = self.side_mut(dir).msg.as_mut() else { return };
        let mut event = None;
        let fits = !truncated && msg.head.len() + line.len() + 2 <= max;
        if line.first().is_some_and(|&c| c == b' ' || c == b'\t') {
            // Obsolete line folding: the line continues the previous header.
            match (msg.last_line, fits) {
                (Some(_), true) => {
                    msg.head.truncate(msg.head.len().saturating_sub(2));
                    msg.head.extend_from_slice(line);
                    msg.head.extend_from_slice(b"\r\n");
                    if !msg.fold_noted {
                        msg.fold_noted = true;
                        event = Some(HttpEvent::ObsFold { dir });
                    }
                }
                (Some(_), false) => {}
                (None, _) => event = Some(HttpEvent::MalformedHeader { dir }),
            }
        } else if fits && !msg.head_limit_hit {
            msg.last_line = Some(msg.head.len());
            msg.head.extend_from_slice(line);
            msg.head.extend_from_slice(b"\r\n");
        } else {
            msg.last_line = None;
            if !msg.head_limit_hit {
                msg.head_limit_hit = true;
                event = Some(HttpEvent::HeaderLimit { dir, limit: max });
                self.stats.header_limit_hits += 1;
            }
        }
        if let Some(e) = event {
            self.event(dir, e);
        }
    }

    fn end_of_head(&mut self, ts: u64, dir: Direction) {
        let cfg = self.cfg.clone();
        let Some(msg) = self.side_mut(dir).msg.as_mut() else { return };
        let mut block = std::mem::take(&mut msg.head);
        msg.head_done = true;
        let (version, expect) = (msg.version, msg.expect);
        block.extend_from_slice(b"\r\n");
        let fields = parse_fields(&block, cfg.max_headers);
        let mut events = Vec::new();
        if fields.malformed {
            events.push(HttpEvent::MalformedHeader { dir });
        }
        if fields.whitespace_before_colon {
            events.push(HttpEvent::WhitespaceBeforeColon { dir });
        }
        if fields.too_many {
            self.stats.header_count_limit_hits += 1;
            events.push(HttpEvent::TooManyHeaders { dir, limit: cfg.max_headers });
        }
        self.connection_headers(dir, &fields.list);
        let info = MessageInfo {
            dir,
            version,
            expect,
            status: self.conn.reply_code,
            connection_close: self.conn.connection_close,
        };
        let decision = decide(info, &fields.list);
        if dir == Direction::ToServer && !cfg.retain_headers.is_empty() {
            let kept = retain::collect(&fields.list, &cfg, self.stats, &mut events);
            self.tracker.set_retained(ts, kept);
        }
        let t = self.tracker.session(ts, dir);
        if apply_fields(t, dir, &fields.list, &cfg, self.stats, &mut events) {
            self.stats.header_name_limit_hits += 1;
            events.push(HttpEvent::HeaderNameLimit { dir, limit: cfg.max_header_names });
        }
        events.extend(decision.events);
        for e in events {
            self.event(dir, e);
        }
        let tunnel = dir == Direction::ToClient && self.conn.connect_request;
        if tunnel {
            self.tracker.session(ts, dir).tunnel = Some("CONNECT".to_owned());
        }
        match decision.framing {
            Some(framing) if !tunnel => {
                if let Some(msg) = self.side_mut(dir).msg.as_mut() {
                    msg.body = Some(Box::new(Body::new(framing, decision.coding, decision.undecodable, &cfg)));
                }
            }
            _ => self.message_done(ts, dir, false),
        }
        if tunnel {
            self.start_tunnel();
        }
    }

    /// Header effects on the connection (Zeek's `HTTP_Header`).
    fn connection_headers(&mut self, dir: Direction, fields: &[Field<'_>]) {
        for f in fields {
            let name = f.name;
            if name.eq_ignore_ascii_case(b"connection") {
                let tok = value_token(f.value);
                match dir {
                    Direction::ToServer => {
                        if tok.eq_ignore_ascii_case(b"keep-alive") {
                            self.conn.keep_alive = true;
                        }
                    }
                    Direction::ToClient => {
                        if tok.eq_ignore_ascii_case(b"close") {
                            self.conn.connection_close = true;
                        }
                        if f.value.split(|&c| c == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade")) {
                            self.conn.upgrade_connection = true;
                        }
                    }
                }
            } else if dir == Direction::ToClient && name.eq_ignore_ascii_case(b"upgrade") {
                let tok = value_token(f.value);
                if !tok.is_empty() {
                    let (p, _) = wire_string(tok, self.cfg.max_field_len);
                    self.conn.upgrade_protocol = Some(p.into_boxed_str());
                }
            }
        }
    }

    /// A line inside a body (line-counted bodies and the line parts of chunked ones).
    pub(super) fn body_line(&mut self, ts: u64, dir: Direction, line: &[u8], full_len: u64) {
        let Some(body) = self.side_mut(dir).msg.as_mut().and_then(|m| m.body.as_mut()) else { return };
        let mut event = None;
        let mut done = false;
        match body.framing {
            Framing::LinesUntilClose => body.add_line(line, full_len),
            Framing::Chunked(Chunk::Size) => {
                body.framing = match zeek_atoi(line, 16) {
                    Some(n) if n > 0 => Framing::Chunked(Chunk::Data(n.unsigned_abs())),
                    Some(_) => Framing::Chunked(Chunk::Trailer),
                    None => {
                        // As Zeek: an unreadable size ends the body (it is taken as the last
                        // chunk), and parsing goes on with the trailer.
                        event = Some(HttpEvent::BadChunkSize { dir });
                        Framing::Chunked(Chunk::Trailer)
                    }
                };
            }
            Framing::Chunked(Chunk::DataEnd) => {
                if full_len > 0 {
                    event = Some(HttpEvent::ChunkSizeMismatch { dir });
                }
                body.framing = Framing::Chunked(Chunk::Size);
            }
            Framing::Chunked(Chunk::Trailer) => done = full_len == 0,
            _ => {}
        }
        if let Some(e) = event {
            self.event(dir, e);
        }
        self.note_capture_limit(dir);
        if done {
            self.message_done(ts, dir, false);
        }
    }

    /// Reports, once per body, that the capture reached `max_body_capture`.
    fn note_capture_limit(&mut self, dir: Direction) {
        let body = self.side_mut(dir).msg.as_mut().and_then(|m| m.body.as_mut());
        let hit = body.is_some_and(|b| b.capture.take_limit_hit());
        if hit {
            self.stats.body_capture_limit_hits += 1;
            self.event(dir, HttpEvent::BodyCaptureLimit { dir, limit: self.cfg.max_body_capture });
        }
    }

    /// Raw body bytes (content-length, chunk data, read-until-close, HTTP/0.9).
    pub(super) fn body_bytes(&mut self, ts: u64, dir: Direction, data: &[u8]) {
        let Some(body) = self.side_mut(dir).msg.as_mut().and_then(|m| m.body.as_mut()) else { return };
        let note = body.add(data);
        let n = data.len() as u64;
        let mut done = false;
        match &mut body.framing {
            Framing::Length { remaining, .. } => {
                *remaining = remaining.saturating_sub(n);
                done = *remaining == 0;
            }
            Framing::Chunked(Chunk::Data(left)) => {
                *left = left.saturating_sub(n);
                if *left == 0 {
                    body.framing = Framing::Chunked(Chunk::DataEnd);
                }
            }
            _ => {}
        }
        // The capture filled with output decoded before the decoder stopped: said first, as it
        // is when that output came in an earlier delivery.
        self.note_capture_limit(dir);
        match note {
            Some(DecodeNote::LimitHit) => {
                self.stats.decode_limit_hits += 1;
                self.event(dir, HttpEvent::DecodeLimit { dir });
            }
            Some(DecodeNote::Corrupt) => {
                self.stats.decode_errors += 1;
                self.event(dir, HttpEvent::DecodeError { dir });
            }
            None => {}
        }
        if done {
            self.message_done(ts, dir, false);
        }
    }

    /// The message on `dir` ended (normally, at EOF, or `interrupted` by a gap or the close).
    pub(super) fn message_done(&mut self, ts: u64, dir: Direction, interrupted: bool) {
        let Some(mut msg) = self.side_mut(dir).msg.take() else { return };
        let mut end = MessageEnd::default();
        let mut incomplete = !msg.head_done;
        if let Some(mut body) = msg.body.take() {
            incomplete = match body.framing {
                Framing::Length { remaining, .. } => remaining > 0,
                Framing::Chunked(Chunk::Trailer) | Framing::UntilClose | Framing::LinesUntilClose => interrupted,
                Framing::Chunked(_) => true,
            };
            body.finish();
            if incomplete || interrupted {
                body.capture.cut();
            }
            let (captured, truncated) = body.capture.finish();
            end = MessageEnd { body_len: body.len, wire_len: body.wire_len, body: captured, body_truncated: truncated };
        }
        if incomplete || interrupted {
            self.event(dir, HttpEvent::Interrupted { dir });
        }
        // A response that ends while the client is still sending its request (an early error or
        // redirect, `Expect: 100-continue` answered at once) waits for the request's end. Not for
        // an HTTP/0.9 request: it has no end of its own but the client's close, and Zeek's
        // http-09 and no-version traces log that late end as a second, empty row.
        let request_open = dir == Direction::ToClient
            && self.client.msg.as_ref().is_some_and(|m| m.version != Some(Version::V09));
        self.tracker.on_message_done(ts, dir, end, request_open, self.cfg, self.stats);
        let next = if interrupted { Mode::Stopped } else { Mode::Start };
        match dir {
            Direction::ToServer => {
                if self.client.mode == Mode::Message {
                    self.client.mode = next;
                }
            }
            Direction::ToClient => {
                let code = self.conn.reply_code;
                if !(100..200).contains(&code) {
                    self.conn.unanswered.pop_front();
                }
                let protocol = self.conn.upgrade_protocol.take();
                let upgrade = code == 101 && self.conn.unanswered.len() == 1 && self.conn.upgrade_connection;
                self.conn.reply_code = 0;
                self.conn.upgrade_connection = false;
                if matches!(self.server.mode, Mode::Message | Mode::Http09) {
                    self.server.mode = next;
                }
                if let (true, Some(protocol)) = (upgrade, protocol) {
                    if let Some(t) = self.tracker.current(dir) {
                        t.tunnel = Some(protocol.into_string());
                    }
                    // A switched connection gets no final response: emit the 101 now.
                    self.tracker.emit_current(dir, self.cfg, self.stats);
                    self.start_tunnel();
                }
            }
        }
    }

    fn start_tunnel(&mut self) {
        self.stats.tunnels += 1;
        // The request in progress will not be parsed to its end.
        self.tracker.release_held(self.cfg, self.stats);
        for side in [&mut self.client, &mut self.server] {
            side.msg = None;
            side.lines.reset();
            side.mode = Mode::Tunnel;
        }
    }
}

/// Copies what a transaction keeps from a head. Credentials are not kept (userinfo in `Host`
/// is dropped and noted in `events`; of a request's credential only its keyed digest and the
/// name of an API-key header are). Returns whether header names were dropped at
/// `max_header_names`.
pub(crate) fn apply_fields(
    t: &mut HttpTransaction,
    dir: Direction,
    fields: &[Field<'_>],
    cfg: &HttpConfig,
    stats: &mut HttpStats,
    events: &mut Vec<HttpEvent>,
) -> bool {
    let mut names_dropped = false;
    if dir == Direction::ToServer {
        let found = credential::find(&cfg.credential_key, fields);
        t.credential_digest = found.digest;
        t.api_key_header = found.api_key_header.map(str::to_owned);
    }
    for f in fields {
        let name = f.name;
        let names = match dir {
            Direction::ToServer => &mut t.request_header_names,
            Direction::ToClient => &mut t.response_header_names,
        };
        if names.len() < cfg.max_header_names {
            names.push(field_string(name, cfg, stats));
        } else {
            names_dropped = true;
        }
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        match dir {
            Direction::ToServer => {
                if is("host") {
                    let (host, had_userinfo) = host_without_userinfo(f.value);
                    if had_userinfo && !events.contains(&HttpEvent::HostUserinfo) {
                        events.push(HttpEvent::HostUserinfo);
                    }
                    t.host = Some(field_string(host, cfg, stats));
                } else if is("referer") {
                    let (r, _) = redact_target(f.value, &cfg.redact_query_params, Form::Raw);
                    t.referrer = Some(field_string(&r, cfg, stats));
                } else if is("user-agent") {
                    t.user_agent = Some(field_string(f.value, cfg, stats));
                } else if is("origin") {
                    t.origin = Some(field_string(f.value, cfg, stats));
                } else if is("content-type") {
                    t.request_content_type = Some(field_string(f.value, cfg, stats));
                } else if is("authorization") || (is("proxy-authorization") && t.auth_scheme.is_none()) {
                    // Only a known scheme name: nothing of the value itself is ever stored.
                    let scheme = auth_scheme(f.value).unwrap_or_else(|| {
                        stats.auth_scheme_other += 1;
                        OTHER_AUTH_SCHEME
                    });
                    t.auth_scheme = Some(scheme.to_owned());
                }
            }
            Direction::ToClient => {
                if is("content-type") {
                    t.response_content_type = Some(field_string(f.value, cfg, stats));
                } else if is("content-encoding") {
                    t.response_content_encoding = Some(field_string(f.value, cfg, stats));
                }
            }
        }
    }
    names_dropped
}
