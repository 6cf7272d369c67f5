//! The handshake messages after the hello, while they are still in the clear (TLS 1.2 and
//! earlier): the server's Certificate, CertificateRequest and ServerHelloDone, the client's
//! Certificate. Messages are reassembled from handshake record bodies split anywhere; only the
//! first Certificate message of a direction is buffered (up to a limit), every other body is
//! skipped as it passes.

use std::collections::VecDeque;

use super::cert::{parse_certificate, CertificateChain, CertificateMalformed, Parsed};
use super::config::{bump, TlsConfig, TlsStats};
use super::parser::Malformed;
use super::Side;

/// Most [`HandshakeEvent`]s a parser holds until they are polled; later ones are counted in
/// [`TlsStats::events_dropped`]. One direction yields at most four by construction.
pub const MAX_HANDSHAKE_EVENTS: usize = 8;

const HANDSHAKE_HEADER: usize = 4;
const CERTIFICATE: u8 = 11;
const CERTIFICATE_REQUEST: u8 = 13;
const SERVER_HELLO_DONE: u8 = 14;

/// Why reading after the hello ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeEnd {
    /// The server's ServerHelloDone: its first flight is over, and what it sends next is a
    /// ChangeCipherSpec and encrypted messages.
    ServerHelloDone,
    /// A ChangeCipherSpec record: everything after it is encrypted.
    ChangeCipherSpec,
    /// The version the server chose (TLS 1.3, or one this parser does not know, or a
    /// HelloRetryRequest, which only TLS 1.3 sends) encrypts everything after the
    /// ServerHello: nothing more to read. The client side learns it from
    /// [`HelloParser::set_negotiated_version`](super::HelloParser::set_negotiated_version).
    Encrypted {
        /// The version chosen.
        version: u16,
    },
    /// An application data record before any ChangeCipherSpec: a TLS 1.3 client that sends
    /// no compatibility ChangeCipherSpec, whose version the parser was not told.
    ApplicationData,
    /// An alert (in the clear, so before ChangeCipherSpec): e.g. a client refusing the
    /// server's certificate (48, unknown_ca).
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// The alert description (RFC 5246 section 7.2).
        description: u8,
    },
    /// The record layer broke (record layer: a bad version or length, a content type TLS
    /// does not define, or a record of another type inside a handshake message).
    Malformed(Malformed),
}

/// Something that happened while reading the handshake after the hello, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeEvent {
    /// The Certificate message did not follow its structure; none of its certificates are
    /// kept ([`HelloParser::certificates`](super::HelloParser::certificates) stays `None`).
    CertificateMalformed(CertificateMalformed),
    /// The Certificate message declared more than the limit
    /// ([`TlsConfig::max_certificate_bytes`]); the certificates that fit whole are kept and
    /// the chain is marked truncated.
    CertificateTooLarge {
        /// Declared body length.
        declared: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The Certificate message held more certificates than the limit
    /// ([`TlsConfig::max_chain_len`]); the first ones are kept and the chain is marked
    /// truncated.
    ChainTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// A second Certificate message from the same side (not read; TLS 1.2 sends one per
    /// handshake, and renegotiation is encrypted).
    RepeatedCertificate,
    /// Reading ended.
    End(HandshakeEnd),
}

/// Reader of one direction's handshake messages after its hello.
#[derive(Clone, Debug)]
pub(crate) struct Flight {
    side: Side,
    max_cert: usize,
    max_chain: usize,
    /// Header of the current message, as far as it has arrived.
    head: [u8; HANDSHAKE_HEADER],
    head_len: usize,
    /// Body bytes of the current message not yet seen.
    left: usize,
    /// Declared body length of the current message.
    declared: usize,
    /// The first Certificate message's body as far as it is buffered; `None` when the
    /// current message is not being buffered.
    capture: Option<Vec<u8>>,
    cert_seen: bool,
    repeated_reported: bool,
    chain: Option<CertificateChain>,
    certificate_request: bool,
    events: VecDeque<HandshakeEvent>,
    end: Option<HandshakeEnd>,
}

impl Flight {
    pub(crate) fn new(side: Side, config: &TlsConfig) -> Self {
        Flight {
            side,
            max_cert: config.max_certificate_bytes,
            max_chain: config.max_chain_len,
            head: [0; HANDSHAKE_HEADER],
            head_len: 0,
            left: 0,
            declared: 0,
            capture: None,
            cert_seen: false,
            repeated_reported: false,
            chain: None,
            certificate_request: false,
            events: VecDeque::new(),
            end: None,
        }
    }

    pub(crate) fn chain(&self) -> Option<&CertificateChain> {
        self.chain.as_ref()
    }

    pub(crate) fn certificate_request(&self) -> bool {
        self.certificate_request
    }

    pub(crate) fn end_reason(&self) -> Option<&HandshakeEnd> {
        self.end.as_ref()
    }

    pub(crate) fn poll_event(&mut self) -> Option<HandshakeEvent> {
        self.events.pop_front()
    }

    /// Memory held: the Certificate body being buffered and the certificates kept.
    pub(crate) fn buffered_bytes(&self) -> usize {
        let capture = self.capture.as_ref().map_or(0, Vec::capacity);
        let chain = self.chain.as_ref().map_or(0, |c| c.certs.iter().map(Vec::capacity).sum());
        capture.saturating_add(chain)
    }

    /// Whether a handshake message has begun and not ended: a record of another type now
    /// would cut it.
    pub(crate) fn in_message(&self) -> bool {
        self.head_len > 0
    }

    /// Ends reading (once) and says why.
    pub(crate) fn end(&mut self, why: HandshakeEnd, stats: &mut TlsStats) {
        if self.end.is_some() {
            return;
        }
        bump(match &why {
            HandshakeEnd::ServerHelloDone => &mut stats.stopped_server_hello_done,
            HandshakeEnd::ChangeCipherSpec => &mut stats.stopped_change_cipher_spec,
            HandshakeEnd::Encrypted { .. } => &mut stats.stopped_encrypted,
            HandshakeEnd::ApplicationData => &mut stats.stopped_application_data,
            HandshakeEnd::Alert { .. } => &mut stats.stopped_alert,
            HandshakeEnd::Malformed(_) => &mut stats.stopped_malformed,
        });
        // A Certificate message cut short is not reported: its certificates may be the
        // beginning of something else.
        self.capture = None;
        self.event(HandshakeEvent::End(why.clone()), stats);
        self.end = Some(why);
    }

    fn event(&mut self, event: HandshakeEvent, stats: &mut TlsStats) {
        if self.events.len() >= MAX_HANDSHAKE_EVENTS {
            bump(&mut stats.events_dropped);
        } else {
            self.events.push_back(event);
        }
    }

    /// Reads the body bytes of one handshake record (or the part of it after the hello).
    /// Returns once the bytes are used up or reading has ended, with how many were left.
    pub(crate) fn handshake_bytes(&mut self, mut chunk: &[u8], stats: &mut TlsStats) -> usize {
        while !chunk.is_empty() && self.end.is_none() {
            if self.head_len < HANDSHAKE_HEADER {
                let free = self.head.get_mut(self.head_len..).unwrap_or_default();
                let n = free.len().min(chunk.len());
                let (take, rest) = chunk.split_at(n);
                free.iter_mut().zip(take).for_each(|(d, s)| *d = *s);
                self.head_len = self.head_len.saturating_add(n);
                chunk = rest;
                if self.head_len < HANDSHAKE_HEADER {
                    return 0;
                }
                self.start_message(stats);
                if self.left == 0 {
                    self.end_message(stats);
                }
                continue;
            }
            let (body, rest) = chunk.split_at(self.left.min(chunk.len()));
            chunk = rest;
            self.left = self.left.saturating_sub(body.len());
            if let Some(buf) = self.capture.as_mut() {
                let room = self.max_cert.saturating_sub(buf.len());
                buf.extend_from_slice(body.get(..room.min(body.len())).unwrap_or_default());
                if buf.len() >= self.max_cert && self.left > 0 {
                    // Full: report what fits now and skip the rest rather than wait for it.
                    self.take_chain(stats);
                }
            }
            if self.left == 0 {
                self.end_message(stats);
            }
        }
        chunk.len()
    }

    fn start_message(&mut self, stats: &mut TlsStats) {
        bump(&mut stats.handshake_messages);
        let [kind, a, b, c] = self.head;
        self.declared = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        self.left = self.declared;
        match kind {
            CERTIFICATE if !self.cert_seen => {
                self.cert_seen = true;
                // Reserved once, so that a message fed byte by byte is not copied over and
                // over; never more than the limit, whatever the header claims.
                self.capture = Some(Vec::with_capacity(self.declared.min(self.max_cert)));
            }
            CERTIFICATE => {
                bump(&mut stats.repeated_certificate_messages);
                if !self.repeated_reported {
                    self.repeated_reported = true;
                    self.event(HandshakeEvent::RepeatedCertificate, stats);
                }
            }
            CERTIFICATE_REQUEST if self.side == Side::Server => {
                self.certificate_request = true;
                bump(&mut stats.certificate_requests);
            }
            _ => {}
        }
    }

    fn end_message(&mut self, stats: &mut TlsStats) {
        let [kind, ..] = self.head;
        self.head_len = 0;
        self.take_chain(stats);
        if kind == SERVER_HELLO_DONE && self.side == Side::Server {
            self.end(HandshakeEnd::ServerHelloDone, stats);
        }
    }

    /// Turns the buffered Certificate body (if any) into the chain, with its events.
    fn take_chain(&mut self, stats: &mut TlsStats) {
        let Some(buf) = self.capture.take() else { return };
        match parse_certificate(&buf, self.declared, self.max_chain) {
            Ok(Parsed { chain, chain_limit_hit }) => {
                bump(&mut stats.certificate_messages);
                stats.certificates = stats.certificates.saturating_add(chain.certs.len() as u64);
                if buf.len() < self.declared {
                    bump(&mut stats.certificate_limit_hits);
                    let event = HandshakeEvent::CertificateTooLarge { declared: self.declared, limit: self.max_cert };
                    self.event(event, stats);
                }
                if chain_limit_hit {
                    bump(&mut stats.chain_limit_hits);
                    self.event(HandshakeEvent::ChainTooLong { limit: self.max_chain }, stats);
                }
                self.chain = Some(chain);
            }
            Err(why) => {
                bump(&mut stats.certificate_malformed);
                self.event(HandshakeEvent::CertificateMalformed(why), stats);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_capped_and_the_rest_counted() {
        let mut f = Flight::new(Side::Client, &TlsConfig::default());
        let mut stats = TlsStats::default();
        for _ in 0..MAX_HANDSHAKE_EVENTS + 3 {
            f.event(HandshakeEvent::RepeatedCertificate, &mut stats);
        }
        assert_eq!((f.events.len(), stats.events_dropped), (MAX_HANDSHAKE_EVENTS, 3));
        assert_eq!(f.poll_event(), Some(HandshakeEvent::RepeatedCertificate));
    }

    #[test]
    fn reading_ends_once() {
        let mut f = Flight::new(Side::Server, &TlsConfig::default());
        let mut stats = TlsStats::default();
        f.end(HandshakeEnd::ChangeCipherSpec, &mut stats);
        f.end(HandshakeEnd::ApplicationData, &mut stats);
        assert_eq!(f.end_reason(), Some(&HandshakeEnd::ChangeCipherSpec));
        assert_eq!((stats.stopped_change_cipher_spec, stats.stopped_application_data), (1, 0));
        assert_eq!(f.handshake_bytes(&[14, 0, 0, 0], &mut stats), 4, "nothing read after the end");
        assert_eq!(stats.handshake_messages, 0);
    }

    #[test]
    fn empty_messages_end_where_their_header_does() {
        // ServerHelloDone has an empty body: it ends the server's flight at its header, and
        // the bytes after it are left.
        let mut f = Flight::new(Side::Server, &TlsConfig::default());
        let mut stats = TlsStats::default();
        assert_eq!(f.handshake_bytes(&[13, 0, 0, 1, 0, 14, 0, 0, 0, 9, 9], &mut stats), 2);
        assert!(f.certificate_request());
        assert_eq!(f.end_reason(), Some(&HandshakeEnd::ServerHelloDone));
        // From a client the same bytes are no request and no end.
        let mut f = Flight::new(Side::Client, &TlsConfig::default());
        assert_eq!(f.handshake_bytes(&[13, 0, 0, 1, 0, 14, 0, 0, 0], &mut stats), 0);
        assert!(!f.certificate_request() && f.end_reason().is_none());
    }
}
