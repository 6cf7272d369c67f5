//! TLS ClientHello and ServerHello metadata (SNI, ALPN, versions, cipher suites, extensions),
//! the JA4 / JA4S fingerprints, and the certificates of TLS 1.2 handshakes, sans-IO.
//!
//! A service behind TLS cannot be inspected, but its hellos still travel in the clear: the
//! server name the client asked for, the protocols it offered, the versions and cipher suites
//! both sides chose. That is enough to list the service in the endpoint inventory (by SNI,
//! else by server address) and to fingerprint the client. Up to TLS 1.2 the certificates are
//! in the clear too: the server's chain, and with mutual TLS the client's certificate, which
//! names the consumer (a PSD2 third party, say).
//!
//! ```
//! use apitap_parsers::tls::{detect_tls, ja4, Detection, HelloParser, HelloStatus, Side, Transport};
//!
//! // A ClientHello offering TLS 1.3 with ALPN h2 to api.bank.test, one TLS record.
//! let hello: &[u8] = &[
//!     0x16, 0x03, 0x01, 0x00, 0x4e, // record: handshake, TLS 1.0 record version, 78 bytes
//!     0x01, 0x00, 0x00, 0x4a, // ClientHello, 74 bytes
//!     0x03, 0x03, // legacy_version TLS 1.2
//!     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // random (32 bytes)
//!     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
//!     0x00, // no session id
//!     0x00, 0x02, 0x13, 0x01, // one cipher suite: TLS_AES_128_GCM_SHA256
//!     0x01, 0x00, // compression: null
//!     0x00, 0x1f, // 31 bytes of extensions
//!     0x00, 0x00, 0x00, 0x0b, 0x00, 0x09, 0x00, 0x00, 0x06, b'a', b'p', b'i', b'.', b'b', b'x',
//!     0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'2', // ALPN: h2
//!     0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, // supported_versions: TLS 1.3
//! ];
//! assert_eq!(detect_tls(hello), Detection::Yes);
//! let mut parser = HelloParser::new(Side::Client);
//! // Bytes may come in any split: the parser reassembles records and the handshake message.
//! assert!(matches!(parser.feed(&hello[..7]), HelloStatus::NeedMore));
//! let HelloStatus::ClientHello(ch) = parser.feed(&hello[7..]) else { panic!("no hello") };
//! assert_eq!(ch.sni.as_deref(), Some("api.bx"));
//! assert_eq!(ch.alpn, ["h2"]);
//! assert_eq!(ja4(&ch, Transport::Tcp), "t13d0103h2_0f2cb44170f4_b9a491fefe05");
//! ```
//!
//! Covered:
//! - recognising TLS by content ([`detect_tls`]) on either side of a TCP connection;
//! - the first ClientHello and the first ServerHello (or HelloRetryRequest) of a connection,
//!   reassembled across TLS records and TCP segments ([`HelloParser`]), in a buffer bounded
//!   by [`TlsConfig::max_hello_bytes`];
//! - the fields that describe a client or a server: versions, random, session id, cipher
//!   suites, compression, extension types in wire order, SNI, ALPN, signature algorithms,
//!   supported groups, EC point formats, key-share groups, PSK modes;
//! - a server alert sent instead of a ServerHello;
//! - after a TLS 1.2 (or 1.1, 1.0, SSL 3.0) hello, the handshake messages still in the clear,
//!   reassembled across records (several messages per record, or one message over many):
//!   the first Certificate message of each side as DER bytes ([`CertificateChain`], bounded
//!   by [`TlsConfig::max_certificate_bytes`] and [`TlsConfig::max_chain_len`]), whether the
//!   server sent a CertificateRequest, and why reading ended ([`HandshakeEnd`]: the server's
//!   ServerHelloDone, a ChangeCipherSpec, TLS 1.3, an alert ...), with [`HandshakeEvent`]s
//!   for malformed Certificate messages and limits hit;
//! - JA4, JA4S and their raw forms ([`ja4`], [`ja4_r`], [`ja4s`], [`ja4s_r`]) per the FoxIO
//!   specification (JA4 is BSD-3-Clause);
//! - protocol anomalies inside a hello as typed [`HelloAnomaly`] values, framing errors as
//!   typed [`Malformed`] reasons, input that is not TLS as a typed [`NotTlsReason`].
//!
//! - decryption with the keys of an NSS key log ([`decrypt`]): TLS 1.2 AEAD suites and
//!   TLS 1.3, the plaintext handed on to the HTTP parsers.
//!
//! NOT covered:
//! - without keys, anything encrypted: every certificate of a TLS 1.3 handshake, anything
//!   after a ChangeCipherSpec (TLS 1.2 renegotiation included); see [`decrypt`] for what
//!   cannot be decrypted even with keys;
//! - the contents of the certificates: they are bytes here, neither parsed (X.509 is the
//!   discovery crate's business) nor verified;
//! - the key exchange, CertificateStatus (OCSP stapling) and NewSessionTicket messages, and
//!   the session resumption outcome (they are skipped);
//! - the second ClientHello sent after a HelloRetryRequest (JA4 is defined on the first);
//! - SSL 2.0 and SSL 2.0-compatible ClientHellos (reported as not TLS, with their version);
//! - QUIC: no parsing of QUIC packets or CRYPTO frames; [`Transport::Quic`] only sets the
//!   `q` flag of a fingerprint computed from a ClientHello the caller extracted;
//! - DTLS.

mod cert;
mod config;
pub mod decrypt;
mod detect;
mod ext;
mod flight;
mod hello;
mod ja4;
mod parser;
mod reader;

pub use cert::{CertificateChain, CertificateMalformed};
pub use config::{TlsConfig, TlsStats, MAX_CERTIFICATE_BYTES, MAX_CHAIN_LEN, MAX_HELLO_BYTES};
pub use detect::{detect_tls, detect_tls_side, Detection};
pub use flight::{HandshakeEnd, HandshakeEvent, MAX_HANDSHAKE_EVENTS};
pub use hello::{ClientHello, HelloAnomaly, HelloField, ServerHello, HELLO_RETRY_REQUEST_RANDOM, MAX_HELLO_ANOMALIES};
pub use ja4::{ja4, ja4_r, ja4s, ja4s_r, Transport};
pub use parser::{HelloParser, HelloStatus, Malformed, NotTlsReason};

/// Which side of the connection the bytes come from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client (the connection's originator): its first message is a ClientHello.
    Client,
    /// The server: its first message is a ServerHello (or a HelloRetryRequest, or an alert).
    Server,
}

/// Extension type numbers this module reads (IANA "TLS ExtensionType Values").
pub mod ext_type {
    /// server_name (RFC 6066).
    pub const SERVER_NAME: u16 = 0x0000;
    /// supported_groups (RFC 8422, RFC 7919).
    pub const SUPPORTED_GROUPS: u16 = 0x000a;
    /// ec_point_formats (RFC 8422).
    pub const EC_POINT_FORMATS: u16 = 0x000b;
    /// signature_algorithms (RFC 8446).
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    /// application_layer_protocol_negotiation (RFC 7301).
    pub const ALPN: u16 = 0x0010;
    /// pre_shared_key (RFC 8446); must be the last extension of a ClientHello.
    pub const PRE_SHARED_KEY: u16 = 0x0029;
    /// supported_versions (RFC 8446).
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
    /// psk_key_exchange_modes (RFC 8446).
    pub const PSK_KEY_EXCHANGE_MODES: u16 = 0x002d;
    /// key_share (RFC 8446).
    pub const KEY_SHARE: u16 = 0x0033;
    /// encrypted_client_hello (draft-ietf-tls-esni): the SNI seen is then the outer one.
    pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
}

/// Whether `v` is one of the sixteen GREASE values of RFC 8701 (`0x0a0a`, `0x1a1a`, ...,
/// `0xfafa`: both bytes equal, each of the form `0x?a`). Clients put them among cipher suites,
/// extensions, groups, signature algorithms and versions to keep servers tolerant; they say
/// nothing about the client, so fingerprints skip them.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Human-readable name of a protocol version number as it appears on the wire
/// (`0x0304` is `"TLS 1.3"`). Pre-standard TLS 1.3 drafts (`0x7fxx`) are `"TLS 1.3 draft"`,
/// GREASE values are `"GREASE"`, anything else unknown is `"unknown"`.
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0304 => "TLS 1.3",
        0x0303 => "TLS 1.2",
        0x0302 => "TLS 1.1",
        0x0301 => "TLS 1.0",
        0x0300 => "SSL 3.0",
        0x0002 => "SSL 2.0",
        0xfeff => "DTLS 1.0",
        0xfefd => "DTLS 1.2",
        0xfefc => "DTLS 1.3",
        0x7f00..=0x7fff => "TLS 1.3 draft",
        v if is_grease(v) => "GREASE",
        _ => "unknown",
    }
}

/// Renders bytes from the wire as a string without losing any: printable ASCII other than
/// the backslash stays as it is, every other byte becomes `\xNN` (lower-case hex). The
/// mapping is one-to-one, so [`unescape`] gives the bytes back.
pub(crate) fn escape(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x21..=0x7e).contains(&b) && b != b'\\' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// The bytes behind a string made by [`escape`]. A string not made by it is taken as its
/// UTF-8 bytes, with any well-formed `\xNN` decoded.
pub(crate) fn unescape(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' && bytes.get(i + 1) == Some(&b'x') {
            let hex = bytes.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_is_exactly_the_sixteen_rfc_8701_values() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|&v| is_grease(v)).collect();
        let expected: Vec<u16> = (0..16u16).map(|i| (i << 12) | 0x0a00 | (i << 4) | 0x0a).collect();
        assert_eq!(all, expected);
        assert!(is_grease(0x0a0a) && is_grease(0xfafa));
        assert!(!is_grease(0x1a2a) && !is_grease(0x0a0b));
    }

    #[test]
    fn version_names() {
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x0300), "SSL 3.0");
        assert_eq!(version_name(0x7f1c), "TLS 1.3 draft");
        assert_eq!(version_name(0x3a3a), "GREASE");
        assert_eq!(version_name(0x0305), "unknown");
    }

    #[test]
    fn escape_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255u8).collect();
        let s = escape(&all);
        assert!(s.chars().all(|c| c.is_ascii_graphic()));
        assert_eq!(unescape(&s), all);
        assert_eq!(escape(b"http/1.1"), "http/1.1");
        assert_eq!(escape(b"a b\\"), "a\\x20b\\x5c");
        assert_eq!(unescape("\\x4"), b"\\x4");
    }
}
