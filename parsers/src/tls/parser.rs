//! Incremental hello parser: reassembles the first handshake message of one direction from
//! TLS records split anywhere by TCP, in a buffer bounded by [`TlsConfig::max_hello_bytes`].

use super::hello::{parse_client_hello, parse_server_hello, ClientHello, HelloField, ServerHello};
use super::Side;

/// Default for [`TlsConfig::max_hello_bytes`]: 16 KiB. Browsers' hellos, post-quantum key
/// shares included, stay under 2 KiB; a hello over 16 KiB is hostile or broken.
pub const MAX_HELLO_BYTES: usize = 16 * 1024;

/// Largest TLS plaintext record (RFC 8446 section 5.1, RFC 5246 section 6.2.1).
pub(crate) const MAX_RECORD: usize = 1 << 14;
/// Content type, version, length.
const RECORD_HEADER: usize = 5;
/// Message type and 24-bit length.
const HANDSHAKE_HEADER: usize = 4;
/// Shortest hello body: version, random, empty session id, empty cipher list (or one suite
/// for a ServerHello), empty compression list (or one method).
pub(crate) const MIN_HELLO_BODY: usize = 38;

pub(crate) const CONTENT_ALERT: u8 = 21;
pub(crate) const CONTENT_HANDSHAKE: u8 = 22;
pub(crate) const HANDSHAKE_CLIENT_HELLO: u8 = 1;
pub(crate) const HANDSHAKE_SERVER_HELLO: u8 = 2;

/// Limits of the hello parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// Longest hello body (the handshake message without its 4-byte header) that is
    /// buffered; a hello declaring more ends parsing with [`HelloStatus::TooLarge`] and bumps
    /// [`TlsStats::hello_limit_hits`], without buffering it. Default [`MAX_HELLO_BYTES`].
    pub max_hello_bytes: usize,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig { max_hello_bytes: MAX_HELLO_BYTES }
    }
}

/// Counters of one [`HelloParser`]; add them up across connections with [`TlsStats::merge`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsStats {
    /// Bytes handed to [`HelloParser::feed`].
    pub bytes: u64,
    /// Of those, bytes not looked at because parsing had already ended.
    pub ignored_bytes: u64,
    /// TLS record headers read.
    pub records: u64,
    /// ClientHellos reported.
    pub client_hellos: u64,
    /// ServerHellos reported, HelloRetryRequests included.
    pub server_hellos: u64,
    /// Of the ServerHellos, HelloRetryRequests.
    pub hello_retry_requests: u64,
    /// Alerts a server sent instead of a hello.
    pub alerts: u64,
    /// Directions found not to be TLS.
    pub not_tls: u64,
    /// Hellos whose framing was broken.
    pub malformed: u64,
    /// Hellos longer than [`TlsConfig::max_hello_bytes`].
    pub hello_limit_hits: u64,
    /// Anomalies kept on hellos.
    pub anomalies: u64,
    /// Anomalies not kept because a hello already held
    /// [`MAX_HELLO_ANOMALIES`](super::MAX_HELLO_ANOMALIES).
    pub anomalies_dropped: u64,
}

impl TlsStats {
    /// Adds `other`'s counters to these.
    pub fn merge(&mut self, other: &TlsStats) {
        let TlsStats {
            bytes,
            ignored_bytes,
            records,
            client_hellos,
            server_hellos,
            hello_retry_requests,
            alerts,
            not_tls,
            malformed,
            hello_limit_hits,
            anomalies,
            anomalies_dropped,
        } = other;
        self.bytes = self.bytes.saturating_add(*bytes);
        self.ignored_bytes = self.ignored_bytes.saturating_add(*ignored_bytes);
        self.records = self.records.saturating_add(*records);
        self.client_hellos = self.client_hellos.saturating_add(*client_hellos);
        self.server_hellos = self.server_hellos.saturating_add(*server_hellos);
        self.hello_retry_requests = self.hello_retry_requests.saturating_add(*hello_retry_requests);
        self.alerts = self.alerts.saturating_add(*alerts);
        self.not_tls = self.not_tls.saturating_add(*not_tls);
        self.malformed = self.malformed.saturating_add(*malformed);
        self.hello_limit_hits = self.hello_limit_hits.saturating_add(*hello_limit_hits);
        self.anomalies = self.anomalies.saturating_add(*anomalies);
        self.anomalies_dropped = self.anomalies_dropped.saturating_add(*anomalies_dropped);
    }
}

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
    /// Record layer: a record of another content type arrived before the hello was complete
    /// (RFC 8446 section 5.1 forbids interleaving); its content type.
    Interleaved(u8),
    /// Record layer: an alert record shorter than an alert (2 bytes); its length.
    AlertLength(u16),
}

/// What one [`HelloParser::feed`] call found.
#[must_use = "a hello, or the reason there is none, is reported only once"]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloStatus {
    /// All bytes were consumed and the hello is not complete yet.
    NeedMore,
    /// The client's hello (client side only). Parsing has ended.
    ClientHello(Box<ClientHello>),
    /// The server's hello or HelloRetryRequest (server side only). Parsing has ended.
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
    /// Parsing ended in an earlier call; the bytes were ignored.
    Done,
}

impl HelloStatus {
    /// Whether parsing has ended (anything but `NeedMore`).
    pub fn is_final(&self) -> bool {
        !matches!(self, HelloStatus::NeedMore)
    }
}

/// Reassembles and parses the first hello of one direction of a TCP connection: one parser
/// per direction, fed that direction's bytes in stream order. It reports once (a hello, an
/// alert, or why there is none) and then ignores further bytes.
///
/// Memory: a 5-byte record header, and the hello itself up to
/// [`TlsConfig::max_hello_bytes`] plus its 4-byte header; the buffer is freed when parsing
/// ends. Bytes after the hello (the rest of its record, later records) are not looked at.
#[derive(Clone, Debug)]
pub struct HelloParser {
    side: Side,
    max_hello: usize,
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
    done: bool,
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
            done: false,
            stats: TlsStats::default(),
        }
    }

    /// The side this parser reads.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Whether parsing has ended.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// This parser's counters.
    pub fn stats(&self) -> &TlsStats {
        &self.stats
    }

    /// Bytes of memory held for the hello being reassembled (0 once parsing has ended).
    pub fn buffered_bytes(&self) -> usize {
        self.msg.capacity()
    }

    /// Consumes the next bytes of this direction. Returns [`HelloStatus::NeedMore`] until
    /// the hello is complete or parsing fails, then the outcome once, then
    /// [`HelloStatus::Done`]. Never panics, whatever the bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> HelloStatus {
        self.stats.bytes = self.stats.bytes.saturating_add(bytes.len() as u64);
        if self.done {
            self.stats.ignored_bytes = self.stats.ignored_bytes.saturating_add(bytes.len() as u64);
            return HelloStatus::Done;
        }
        let mut input = bytes;
        loop {
            if self.record_left == 0 {
                let Some(rest) = self.fill_header(input) else { return HelloStatus::NeedMore };
                input = rest;
                if let Some(status) = self.check_header() {
                    return self.finish(status);
                }
                if self.header_len < RECORD_HEADER {
                    return HelloStatus::NeedMore;
                }
                self.start_record();
                continue;
            }
            if input.is_empty() {
                return HelloStatus::NeedMore;
            }
            let (chunk, rest) = input.split_at(self.record_left.min(input.len()));
            input = rest;
            self.record_left = self.record_left.saturating_sub(chunk.len());
            let status =
                if self.record_type == CONTENT_ALERT { self.alert_bytes(chunk) } else { self.handshake_bytes(chunk) };
            if let Some(status) = status {
                return self.finish(status);
            }
        }
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
    fn check_header(&self) -> Option<HelloStatus> {
        let h = self.header.get(..self.header_len).unwrap_or_default();
        let first = self.records == 0;
        let &content = h.first()?;
        let expected = content == CONTENT_HANDSHAKE || (content == CONTENT_ALERT && self.side == Side::Server && first);
        if !expected {
            if !first {
                return Some(HelloStatus::Malformed(Malformed::Interleaved(content)));
            }
            if self.side == Side::Client && content & 0x80 != 0 {
                // A two-byte SSL 2.0 header: length, then message type and version.
                return match *h {
                    [_, _, 1, major, minor] => Some(HelloStatus::NotTls(NotTlsReason::Sslv2ClientHello {
                        version: u16::from_be_bytes([major, minor]),
                    })),
                    [_, _, _, _, _] => Some(HelloStatus::NotTls(NotTlsReason::ContentType(content))),
                    _ => None,
                };
            }
            return Some(HelloStatus::NotTls(NotTlsReason::ContentType(content)));
        }
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

    fn start_record(&mut self) {
        let [content, major, minor, hi, lo] = self.header;
        if self.records == 0 {
            self.first_record_version = u16::from_be_bytes([major, minor]);
        }
        self.record_type = content;
        self.record_len = u16::from_be_bytes([hi, lo]);
        self.record_left = usize::from(self.record_len);
        self.records = self.records.saturating_add(1);
        self.stats.records = self.stats.records.saturating_add(1);
        self.header_len = 0;
    }

    fn alert_bytes(&mut self, chunk: &[u8]) -> Option<HelloStatus> {
        for &b in chunk {
            if let Some(slot) = self.alert.get_mut(self.alert_len) {
                *slot = b;
                self.alert_len += 1;
            }
        }
        if self.alert_len == self.alert.len() {
            let [level, description] = self.alert;
            return Some(HelloStatus::Alert { level, description });
        }
        (self.record_left == 0).then_some(HelloStatus::Malformed(Malformed::AlertLength(self.record_len)))
    }

    fn handshake_bytes(&mut self, mut chunk: &[u8]) -> Option<HelloStatus> {
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
                    return Some(HelloStatus::NotTls(NotTlsReason::HandshakeType(kind)));
                }
            }
            let [_, a, b, c] = *self.msg.as_slice() else { return None };
            let declared = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            if declared > self.max_hello {
                return Some(HelloStatus::TooLarge { declared, limit: self.max_hello });
            }
            if declared < MIN_HELLO_BODY {
                return Some(HelloStatus::Malformed(Malformed::HelloLength(declared)));
            }
            let total = HANDSHAKE_HEADER.saturating_add(declared);
            self.msg.reserve_exact(declared);
            self.msg_total = Some(total);
        }
        let total = self.msg_total?;
        let n = total.saturating_sub(self.msg.len()).min(chunk.len());
        self.msg.extend_from_slice(chunk.get(..n).unwrap_or_default());
        (self.msg.len() >= total).then(|| self.parse_hello())
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

    fn finish(&mut self, status: HelloStatus) -> HelloStatus {
        self.done = true;
        self.msg = Vec::new();
        let s = &mut self.stats;
        let counter = match &status {
            HelloStatus::ClientHello(_) => &mut s.client_hellos,
            HelloStatus::ServerHello(h) => {
                if h.hello_retry_request {
                    s.hello_retry_requests = s.hello_retry_requests.saturating_add(1);
                }
                &mut s.server_hellos
            }
            HelloStatus::Alert { .. } => &mut s.alerts,
            HelloStatus::NotTls(_) => &mut s.not_tls,
            HelloStatus::Malformed(_) => &mut s.malformed,
            HelloStatus::TooLarge { .. } => &mut s.hello_limit_hits,
            HelloStatus::NeedMore | HelloStatus::Done => return status,
        };
        *counter = counter.saturating_add(1);
        status
    }
}

/// Record versions a first record may carry: SSL 3.0 to TLS 1.3.
pub(crate) fn record_version_ok(version: u16) -> bool {
    (0x0300..=0x0304).contains(&version)
}

/// Handshake records are never empty and never over 2^14 bytes.
pub(crate) fn record_len_ok(len: u16) -> bool {
    (1..=MAX_RECORD).contains(&usize::from(len))
}
