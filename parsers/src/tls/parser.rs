//! Incremental handshake parser: reassembles the first handshake message of one direction
//! from TLS records split anywhere by TCP, in a buffer bounded by
//! [`TlsConfig::max_hello_bytes`], then (TLS 1.2 and earlier) hands the handshake records that
//! follow to the [`Flight`] reader until the rest is encrypted.

use super::cert::CertificateChain;
use super::config::{bump, TlsConfig, TlsStats};
use super::flight::{Flight, HandshakeEnd, HandshakeEvent};
use super::hello::{parse_client_hello, parse_server_hello, ClientHello, HelloField, ServerHello};
use super::Side;

/// Largest TLS plaintext record (RFC 8446 section 5.1, RFC 5246 section 6.2.1).
pub(crate) const MAX_RECORD: usize = 1 << 14;
/// Content type, version, length.
const RECORD_HEADER: usize = 5;
/// Message type and 24-bit length.
const HANDSHAKE_HEADER: usize = 4;
/// Shortest hello body: version, random, empty session id, empty cipher list (or one suite
/// for a ServerHello), empty compression list (or one method).
pub(crate) const MIN_HELLO_BODY: usize = 38;

pub(crate) const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
pub(crate) const CONTENT_ALERT: u8 = 21;
pub(crate) const CONTENT_HANDSHAKE: u8 = 22;
pub(crate) const CONTENT_APPLICATION_DATA: u8 = 23;
pub(crate) const HANDSHAKE_CLIENT_HELLO: u8 = 1;
pub(crate) const HANDSHAKE_SERVER_HELLO: u8 = 2;

/// Why the first bytes of a direction are not a TLS hello.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NotTlsReason {
    /// Record layer: the first record is not a handshake (nor, from a server, an alert); its
    /// content type byte.
    ContentType(u8),
    /// Record layer: the first record's version is not 0x0300..=0x0304.
    RecordVersion(u16),
    /// Record layer: the first record's length is 0 or over 2^14.
    RecordLength(u16),
    /// Handshake layer: the first message is not the hello this side sends; its type.
    HandshakeType(u8),
    /// An SSL 2.0-compatible ClientHello (RFC 5246 appendix E.2; two-byte header with the
    /// high bit set, message type 1), with the version it offers. Not parsed.
    Sslv2ClientHello {
        /// The highest version the client offers (`0x0002` for SSL 2.0, `0x0301` for TLS 1.0 ...).
        version: u16,
    },
}

/// Why a direction that started like TLS did not yield a hello.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Malformed {
    /// Handshake layer: a length inside the hello did not fit; `offset` counts from the start
    /// of the hello body (after the 4-byte handshake header).
    Field {
        /// The field whose length did not fit.
        field: HelloField,
        /// Offset of that field.
        offset: usize,
    },
    /// Handshake layer: the hello declared a body shorter than the shortest possible hello.
    HelloLength(usize),
    /// Record layer: a later record's version did not have major version 3.
    RecordVersion(u16),
    /// Record layer: a later record's length was 0 or over 2^14 (both forbidden for
    /// handshake records by RFC 5246 and RFC 8446).
    RecordLength(u16),
    /// Record layer: a record of another content type arrived before the hello (or, after
    /// it, a handshake message) was complete (RFC 8446 section 5.1 forbids interleaving), or
    /// after the hello a record of a type TLS does not define; its content type.
    Interleaved(u8),
    /// Record layer: an alert record shorter than an alert (2 bytes); its length.
    AlertLength(u16),
}

/// What one [`HelloParser::feed`] call found.
#[must_use = "a hello, or the reason there is none, is reported only once"]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloStatus {
    /// All bytes were consumed and parsing goes on: the hello is not complete yet, or it was
    /// reported by an earlier call and the handshake after it is being read.
    NeedMore,
    /// The client's hello (client side only). Parsing goes on after it unless
    /// [`HelloParser::is_done`] says otherwise.
    ClientHello(Box<ClientHello>),
    /// The server's hello or HelloRetryRequest (server side only). Parsing goes on after a
    /// TLS 1.2 (or earlier) ServerHello unless [`HelloParser::is_done`] says otherwise.
    ServerHello(Box<ServerHello>),
    /// The server answered with an alert instead of a hello (e.g. 40, handshake_failure, or
    /// 70, protocol_version). Parsing has ended.
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// The alert description (RFC 8446 section 6).
        description: u8,
    },
    /// The direction does not start with a TLS hello. Parsing has ended.
    NotTls(NotTlsReason),
    /// The direction started like TLS but the hello's framing is broken. Parsing has ended.
    Malformed(Malformed),
    /// The hello declared a body of `declared` bytes, over the `limit`
    /// ([`TlsConfig::max_hello_bytes`]); nothing of it was buffered. Parsing has ended.
    TooLarge {
        /// Declared body length.
        declared: usize,
        /// The limit in force.
        limit: usize,
    },
    /// Parsing has ended, in an earlier call or in this one while reading the handshake after
    /// a hello reported earlier ([`HelloParser::handshake_end`] says why); the hello's outcome
    /// is not repeated.
    Done,
}

impl HelloStatus {
    /// Whether this status says anything beyond "consumed, go on": the hello's outcome, or
    /// that parsing has ended (anything but `NeedMore`). After a hello the parser may still
    /// be reading: [`HelloParser::is_done`] tells.
    pub fn is_final(&self) -> bool {
        !matches!(self, HelloStatus::NeedMore)
    }
}

/// Where a [`HelloParser`] is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Reassembling the hello.
    Hello,
    /// Reading the handshake messages after a TLS 1.2 (or earlier) hello.
    Flight,
    /// Nothing more to read.
    Done,
}

/// Why parsing stops, in the phase it stops in.
enum Stop {
    Hello(HelloStatus),
    Flight(HandshakeEnd),
}

/// Reassembles and parses the handshake of one direction of a TCP connection: one parser per
/// direction, fed that direction's bytes in stream order.
///
/// It reports the first hello once (or an alert, or why there is none). When the hello leaves
/// the rest of the handshake in the clear (TLS 1.2 and earlier; [`TlsConfig::read_certificates`]
/// on), it goes on reading handshake records: the server side until its ServerHelloDone, the
/// client side until its ChangeCipherSpec. From them it keeps the direction's first
/// Certificate message ([`certificates`](Self::certificates)) and, on the server side, whether
/// the server asked for a client certificate
/// ([`certificate_request_seen`](Self::certificate_request_seen)). After a TLS 1.3 ServerHello
/// (or a HelloRetryRequest) it stops at once: the rest is encrypted. The client side cannot
/// see the version chosen in its own bytes; tell it with
/// [`set_negotiated_version`](Self::set_negotiated_version), else it stops at the client's
/// first ChangeCipherSpec or application data record.
///
/// What happens after the hello is told by [`HandshakeEvent`]s
/// ([`poll_event`](Self::poll_event)) and counted in [`TlsStats`].
///
/// Memory: a 5-byte record header; while the hello is incomplete, the hello up to
/// [`TlsConfig::max_hello_bytes`] plus its 4-byte header (freed once it is parsed); after it,
/// the first Certificate message up to [`TlsConfig::max_certificate_bytes`], and the
/// certificates kept from it (never more than that). Every other message body is skipped
/// without being buffered.
#[derive(Clone, Debug)]
pub struct HelloParser {
    side: Side,
    max_hello: usize,
    follow: bool,
    header: [u8; RECORD_HEADER],
    header_len: usize,
    record_type: u8,
    record_len: u16,
    record_left: usize,
    records: u32,
    first_record_version: u16,
    alert: [u8; 2],
    alert_len: usize,
    /// The handshake message so far, header included.
    msg: Vec<u8>,
    /// Header plus declared body length, once the header is complete.
    msg_total: Option<usize>,
    phase: Phase,
    /// The version the server chose, when the caller told the client side.
    negotiated: Option<u16>,
    flight: Flight,
    stats: TlsStats,
}

impl HelloParser {
    /// A parser for `side`'s bytes with the default [`TlsConfig`].
    pub fn new(side: Side) -> Self {
        Self::with_config(side, &TlsConfig::default())
    }

    /// A parser for `side`'s bytes with the given limits.
    pub fn with_config(side: Side, config: &TlsConfig) -> Self {
        HelloParser {
            side,
            max_hello: config.max_hello_bytes,
            follow: config.read_certificates,
            header: [0; RECORD_HEADER],
            header_len: 0,
            record_type: 0,
            record_len: 0,
            record_left: 0,
            records: 0,
            first_record_version: 0,
            alert: [0; 2],
            alert_len: 0,
            msg: Vec::new(),
            msg_total: None,
            phase: Phase::Hello,
            negotiated: None,
            flight: Flight::new(side, config),
            stats: TlsStats::default(),
        }
    }

    /// The side this parser reads.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Whether parsing has ended: the hello's outcome is known and nothing after it is left
    /// to read. Further bytes are ignored.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// This parser's counters.
    pub fn stats(&self) -> &TlsStats {
        &self.stats
    }

    /// Bytes of memory held: the hello or Certificate message being reassembled and the
    /// certificates kept (0 once a hello has been parsed, until a Certificate message comes).
    pub fn buffered_bytes(&self) -> usize {
        self.msg.capacity().saturating_add(self.flight.buffered_bytes())
    }

    /// The first Certificate message this side sent after its hello (TLS 1.2 and earlier):
    /// `None` when none was seen (or it was malformed, or cut short by the end of reading),
    /// `Some` with no certificates when the message was empty (a client asked for a
    /// certificate that has none). Available as soon as the message is complete, or as soon
    /// as [`TlsConfig::max_certificate_bytes`] of it have arrived.
    pub fn certificates(&self) -> Option<&CertificateChain> {
        self.flight.chain()
    }

    /// Server side: whether the server sent a CertificateRequest (it asks the client for a
    /// certificate: mutual TLS). Always `false` on the client side and under TLS 1.3, where
    /// the request is encrypted.
    pub fn certificate_request_seen(&self) -> bool {
        self.flight.certificate_request()
    }

    /// Why reading after the hello ended; `None` while it goes on, and when it never began
    /// (no hello, or [`TlsConfig::read_certificates`] off).
    pub fn handshake_end(&self) -> Option<&HandshakeEnd> {
        self.flight.end_reason()
    }

    /// The next thing that happened after the hello, oldest first; at most
    /// [`MAX_HANDSHAKE_EVENTS`](super::MAX_HANDSHAKE_EVENTS) wait to be polled.
    pub fn poll_event(&mut self) -> Option<HandshakeEvent> {
        self.flight.poll_event()
    }

    /// Client side: the version the server chose ([`ServerHello::version`]), which the
    /// client's own bytes do not show. From TLS 1.3 on (and for versions this parser does not
    /// know) the client's messages after its hello are encrypted, so reading ends with
    /// [`HandshakeEnd::Encrypted`] (at once, or as soon as the ClientHello is complete).
    /// Ignored on the server side, which reads the version from its own hello.
    pub fn set_negotiated_version(&mut self, version: u16) {
        if self.side != Side::Client {
            return;
        }
        self.negotiated = Some(version);
        if self.phase == Phase::Flight && !clear_after_hello(version) {
            self.stop_flight(HandshakeEnd::Encrypted { version });
        }
    }

    /// Consumes the next bytes of this direction. Returns [`HelloStatus::NeedMore`] until
    /// the hello is complete or parsing fails, then the outcome once; after that `NeedMore`
    /// while the handshake after the hello is read, and [`HelloStatus::Done`] once parsing has
    /// ended. Never panics, whatever the bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> HelloStatus {
        self.stats.bytes = self.stats.bytes.saturating_add(bytes.len() as u64);
        if self.phase == Phase::Done {
            self.stats.ignored_bytes = self.stats.ignored_bytes.saturating_add(bytes.len() as u64);
            return HelloStatus::Done;
        }
        let mut report = None;
        let mut input = bytes;
        // Bytes of the current record left unread when parsing ended inside it.
        let mut unread = 0;
        while self.phase != Phase::Done {
            if self.record_left == 0 {
                let Some(rest) = self.fill_header(input) else { break };
                input = rest;
                if let Some(stop) = self.check_header() {
                    self.stop(stop, &mut report);
                    break;
                }
                if self.header_len < RECORD_HEADER {
                    break;
                }
                self.start_record();
                continue;
            }
            if input.is_empty() {
                break;
            }
            let (chunk, rest) = input.split_at(self.record_left.min(input.len()));
            input = rest;
            self.record_left = self.record_left.saturating_sub(chunk.len());
            if self.record_type == CONTENT_ALERT {
                if let Some(stop) = self.alert_bytes(chunk) {
                    self.stop(stop, &mut report);
                }
            } else if self.phase == Phase::Hello {
                if let Some((status, after)) = self.hello_bytes(chunk) {
                    report = Some(self.finish_hello(status));
                    unread = self.flight_bytes(after);
                }
            } else {
                unread = self.flight_bytes(chunk);
            }
        }
        if self.phase == Phase::Done {
            let left = (input.len() as u64).saturating_add(unread as u64);
            self.stats.ignored_bytes = self.stats.ignored_bytes.saturating_add(left);
        }
        report.unwrap_or(if self.phase == Phase::Done { HelloStatus::Done } else { HelloStatus::NeedMore })
    }

    /// Hands handshake record bytes to the flight reader while it reads; returns how many
    /// were left unread.
    fn flight_bytes(&mut self, chunk: &[u8]) -> usize {
        if self.phase != Phase::Flight {
            return chunk.len();
        }
        let unread = self.flight.handshake_bytes(chunk, &mut self.stats);
        if self.flight.end_reason().is_some() {
            self.phase = Phase::Done;
        }
        unread
    }

    /// Copies header bytes from `input`; `None` when `input` is empty.
    fn fill_header<'a>(&mut self, input: &'a [u8]) -> Option<&'a [u8]> {
        if input.is_empty() {
            return None;
        }
        let free = self.header.get_mut(self.header_len..).unwrap_or_default();
        let n = free.len().min(input.len());
        let (take, rest) = input.split_at(n);
        free.iter_mut().zip(take).for_each(|(d, s)| *d = *s);
        self.header_len = self.header_len.saturating_add(n);
        Some(rest)
    }

    /// Judges the (possibly partial) record header; `Some` ends parsing.
    fn check_header(&self) -> Option<Stop> {
        if self.phase == Phase::Flight {
            return self.check_flight_header().map(Stop::Flight);
        }
        let h = self.header.get(..self.header_len).unwrap_or_default();
        let first = self.records == 0;
        let &content = h.first()?;
        let expected = content == CONTENT_HANDSHAKE || (content == CONTENT_ALERT && self.side == Side::Server && first);
        let status = if !expected {
            if !first {
                Some(HelloStatus::Malformed(Malformed::Interleaved(content)))
            } else if self.side == Side::Client && content & 0x80 != 0 {
                // A two-byte SSL 2.0 header: length, then message type and version.
                match *h {
                    [_, _, 1, major, minor] => Some(HelloStatus::NotTls(NotTlsReason::Sslv2ClientHello {
                        version: u16::from_be_bytes([major, minor]),
                    })),
                    [_, _, _, _, _] => Some(HelloStatus::NotTls(NotTlsReason::ContentType(content))),
                    _ => None,
                }
            } else {
                Some(HelloStatus::NotTls(NotTlsReason::ContentType(content)))
            }
        } else {
            self.check_version_and_length(h, first)
        };
        status.map(Stop::Hello)
    }

    fn check_version_and_length(&self, h: &[u8], first: bool) -> Option<HelloStatus> {
        if let [_, major, minor, ..] = *h {
            let version = u16::from_be_bytes([major, minor]);
            if first && !record_version_ok(version) {
                return Some(HelloStatus::NotTls(NotTlsReason::RecordVersion(version)));
            }
            if !first && major != 3 {
                return Some(HelloStatus::Malformed(Malformed::RecordVersion(version)));
            }
        }
        if let [_, _, _, hi, lo] = *h {
            let len = u16::from_be_bytes([hi, lo]);
            if !record_len_ok(len) {
                return Some(if first {
                    HelloStatus::NotTls(NotTlsReason::RecordLength(len))
                } else {
                    HelloStatus::Malformed(Malformed::RecordLength(len))
                });
            }
        }
        None
    }

    /// After the hello: handshake and alert records are read; ChangeCipherSpec and
    /// application data end reading (the rest is encrypted), unless they cut a message.
    fn check_flight_header(&self) -> Option<HandshakeEnd> {
        let h = self.header.get(..self.header_len).unwrap_or_default();
        let &content = h.first()?;
        let cut = self.flight.in_message();
        match content {
            CONTENT_HANDSHAKE | CONTENT_ALERT => {}
            CONTENT_CHANGE_CIPHER_SPEC if !cut => return Some(HandshakeEnd::ChangeCipherSpec),
            CONTENT_APPLICATION_DATA if !cut => return Some(HandshakeEnd::ApplicationData),
            other => return Some(HandshakeEnd::Malformed(Malformed::Interleaved(other))),
        }
        match self.check_version_and_length(h, false)? {
            HelloStatus::Malformed(why) => Some(HandshakeEnd::Malformed(why)),
            _ => None,
        }
    }

    fn start_record(&mut self) {
        let [content, major, minor, hi, lo] = self.header;
        if self.records == 0 {
            self.first_record_version = u16::from_be_bytes([major, minor]);
        }
        self.record_type = content;
        self.record_len = u16::from_be_bytes([hi, lo]);
        self.record_left = usize::from(self.record_len);
        self.records = self.records.saturating_add(1);
        bump(&mut self.stats.records);
        self.header_len = 0;
    }

    fn alert_bytes(&mut self, chunk: &[u8]) -> Option<Stop> {
        for &b in chunk {
            if let Some(slot) = self.alert.get_mut(self.alert_len) {
                *slot = b;
                self.alert_len += 1;
            }
        }
        let hello = self.phase == Phase::Hello;
        if self.alert_len == self.alert.len() {
            let [level, description] = self.alert;
            return Some(if hello {
                Stop::Hello(HelloStatus::Alert { level, description })
            } else {
                Stop::Flight(HandshakeEnd::Alert { level, description })
            });
        }
        if self.record_left > 0 {
            return None;
        }
        let why = Malformed::AlertLength(self.record_len);
        Some(if hello { Stop::Hello(HelloStatus::Malformed(why)) } else { Stop::Flight(HandshakeEnd::Malformed(why)) })
    }

    /// Adds hello bytes; once the hello is complete (or refused), its status and the rest of
    /// `chunk` after it.
    fn hello_bytes<'a>(&mut self, mut chunk: &'a [u8]) -> Option<(HelloStatus, &'a [u8])> {
        if self.msg_total.is_none() {
            let n = HANDSHAKE_HEADER.saturating_sub(self.msg.len()).min(chunk.len());
            let (take, rest) = chunk.split_at(n);
            self.msg.extend_from_slice(take);
            chunk = rest;
            if let Some(&kind) = self.msg.first() {
                let expected = match self.side {
                    Side::Client => HANDSHAKE_CLIENT_HELLO,
                    Side::Server => HANDSHAKE_SERVER_HELLO,
                };
                if kind != expected {
                    return Some((HelloStatus::NotTls(NotTlsReason::HandshakeType(kind)), chunk));
                }
            }
            let [_, a, b, c] = *self.msg.as_slice() else { return None };
            let declared = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            if declared > self.max_hello {
                return Some((HelloStatus::TooLarge { declared, limit: self.max_hello }, chunk));
            }
            if declared < MIN_HELLO_BODY {
                return Some((HelloStatus::Malformed(Malformed::HelloLength(declared)), chunk));
            }
            let total = HANDSHAKE_HEADER.saturating_add(declared);
            self.msg.reserve_exact(declared);
            self.msg_total = Some(total);
        }
        let total = self.msg_total?;
        let n = total.saturating_sub(self.msg.len()).min(chunk.len());
        let (take, after) = chunk.split_at(n);
        self.msg.extend_from_slice(take);
        (self.msg.len() >= total).then(|| (self.parse_hello(), after))
    }

    fn parse_hello(&mut self) -> HelloStatus {
        let body = self.msg.get(HANDSHAKE_HEADER..).unwrap_or_default();
        let parsed = match self.side {
            Side::Client => parse_client_hello(body).map(|(mut h, dropped)| {
                h.record_version = self.first_record_version;
                h.records = self.records;
                (h.anomalies.len(), dropped, HelloStatus::ClientHello(Box::new(h)))
            }),
            Side::Server => parse_server_hello(body).map(|(mut h, dropped)| {
                h.record_version = self.first_record_version;
                h.records = self.records;
                (h.anomalies.len(), dropped, HelloStatus::ServerHello(Box::new(h)))
            }),
        };
        match parsed {
            Ok((kept, dropped, status)) => {
                self.stats.anomalies = self.stats.anomalies.saturating_add(kept as u64);
                self.stats.anomalies_dropped = self.stats.anomalies_dropped.saturating_add(dropped);
                status
            }
            Err(why) => HelloStatus::Malformed(why),
        }
    }

    fn stop(&mut self, stop: Stop, report: &mut Option<HelloStatus>) {
        match stop {
            Stop::Hello(status) => *report = Some(self.finish_hello(status)),
            Stop::Flight(why) => self.stop_flight(why),
        }
    }

    fn stop_flight(&mut self, why: HandshakeEnd) {
        self.flight.end(why, &mut self.stats);
        self.phase = Phase::Done;
    }

    /// Counts the hello's outcome and decides whether reading goes on after it.
    fn finish_hello(&mut self, status: HelloStatus) -> HelloStatus {
        self.msg = Vec::new();
        self.phase = Phase::Done;
        let s = &mut self.stats;
        let (counter, next) = match &status {
            HelloStatus::ClientHello(_) => {
                let next = match self.negotiated {
                    Some(version) if !clear_after_hello(version) => Some(HandshakeEnd::Encrypted { version }),
                    _ => None,
                };
                (&mut s.client_hellos, Some(next))
            }
            HelloStatus::ServerHello(h) => {
                if h.hello_retry_request {
                    bump(&mut s.hello_retry_requests);
                }
                let version = h.version();
                let encrypted = h.hello_retry_request || !clear_after_hello(version);
                (&mut s.server_hellos, Some(encrypted.then_some(HandshakeEnd::Encrypted { version })))
            }
            HelloStatus::Alert { .. } => (&mut s.alerts, None),
            HelloStatus::NotTls(_) => (&mut s.not_tls, None),
            HelloStatus::Malformed(_) => (&mut s.malformed, None),
            HelloStatus::TooLarge { .. } => (&mut s.hello_limit_hits, None),
            HelloStatus::NeedMore | HelloStatus::Done => return status,
        };
        bump(counter);
        // `next`: `None` when there is no hello to go on from; `Some(None)` to read on;
        // `Some(Some(end))` when the hello already says the rest is unreadable.
        match next {
            Some(next) if self.follow => {
                self.phase = Phase::Flight;
                if let Some(end) = next {
                    self.stop_flight(end);
                }
            }
            _ => {}
        }
        status
    }
}

/// Versions under which the handshake after the hellos travels in the clear: SSL 3.0 to
/// TLS 1.2. TLS 1.3 encrypts everything after the ServerHello; unknown versions are taken
/// to do the same rather than read ciphertext as messages.
fn clear_after_hello(version: u16) -> bool {
    (0x0300..=0x0303).contains(&version)
}

/// Record versions a first record may carry: SSL 3.0 to TLS 1.3.
pub(crate) fn record_version_ok(version: u16) -> bool {
    (0x0300..=0x0304).contains(&version)
}

/// Handshake records are never empty and never over 2^14 bytes.
pub(crate) fn record_len_ok(len: u16) -> bool {
    (1..=MAX_RECORD).contains(&usize::from(len))
}
