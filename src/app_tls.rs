//! TLS connections seen by the application layer: the two hellos are parsed (SNI, ALPN,
//! versions, JA4/JA4S) so that encrypted services still appear in the endpoint inventory.
//! Under TLS 1.2 and earlier the handshake after the hellos is read too, for the
//! certificates: the server's chain and, with mutual TLS, the client's certificate. When the
//! sensor has key logs, the connection is decrypted and its plaintext parsed as HTTP, like a
//! connection in the clear; without keys it is metadata only.

use std::net::SocketAddr;
use std::sync::Arc;

use apitap_discovery::inventory::{Inventory, TlsObservation};
use apitap_discovery::posture::{assess, Assessment, PostureConfig};
use apitap_parsers::h2::{looks_like_h2, H2Config, PREFACE};
use apitap_parsers::http::{Direction, HttpConfig};
use apitap_parsers::tls::decrypt::{DecryptConfig, DecryptStats, DecryptStatus, KeySource, Output, TlsDecryptor};
use apitap_parsers::tls::{
    ja4, ja4s, version_name, CertificateChain, ClientHello, HelloParser, HelloStatus, ServerHello, Side, TlsStats,
    Transport,
};
use apitap_sensor::stream::Dir;
use apitap_sensor::Timestamp;

use crate::app_http::{ParseCfg, ParseStats, PlainParser};

/// What HTTP parsing of decrypted bytes needs from the application layer.
pub struct PlainCtx<'a> {
    /// Where session keys are looked up.
    pub keys: &'a dyn KeySource,
    /// HTTP settings for a parser made now.
    pub http_cfg: &'a Arc<HttpConfig>,
    /// HTTP/2 settings for a parser made now.
    pub h2_cfg: &'a Arc<H2Config>,
    /// The layer's HTTP counters.
    pub stats: &'a mut ParseStats,
}

/// Decryption of one connection and the HTTP parsing of its plaintext.
struct Decrypting {
    dec: TlsDecryptor,
    http: Option<Box<PlainParser>>,
}

/// The handshake of one TLS connection, as far as it is in the clear, and its decryption
/// when keys are available.
///
/// Memory: what the two [`HelloParser`]s hold, bounded by their
/// [`TlsConfig`](apitap_parsers::tls::TlsConfig) (default: a 16 KiB hello while it is
/// reassembled, then at most 64 KiB of certificates per side), plus the decryptor's held
/// records ([`DecryptConfig::max_pending_bytes`]) and the HTTP parser's buffers; see
/// [`TlsConn::buffered`].
pub struct TlsConn {
    client: HelloParser,
    server: HelloParser,
    /// The TCP originator is the TLS server (picked up the other way round).
    pub swapped: bool,
    hello: Option<Box<ClientHello>>,
    server_hello: Option<Box<ServerHello>>,
    ts: Option<Timestamp>,
    reported: bool,
    decrypt: Option<Box<Decrypting>>,
    /// The client's certificate once known (see [`TlsConn::client_cert`]).
    client_cert: Option<Arc<[u8]>>,
    /// The client's JA4 fingerprint once its hello was read (see [`TlsConn::ja4`]).
    ja4: Option<Arc<str>>,
}

/// What the hellos and the clear part of the handshake showed, for the inventory.
pub struct TlsReport {
    hello: Box<ClientHello>,
    server_hello: Option<Box<ServerHello>>,
    ts: Option<Timestamp>,
    /// The session was decrypted.
    decrypted: bool,
    /// Posture of the handshake: old version, weak suite, the server certificate's findings.
    posture: Assessment,
}

impl TlsConn {
    /// A connection whose client is the TCP originator unless `swapped`; decrypted under
    /// `decrypt` when the sensor has key logs.
    pub fn new(swapped: bool, decrypt: Option<&DecryptConfig>) -> Self {
        TlsConn {
            client: HelloParser::new(Side::Client),
            server: HelloParser::new(Side::Server),
            swapped,
            hello: None,
            server_hello: None,
            ts: None,
            reported: false,
            decrypt: decrypt.map(|cfg| Box::new(Decrypting { dec: TlsDecryptor::new(cfg.clone()), http: None })),
            client_cert: None,
            ja4: None,
        }
    }

    /// Bytes held: hellos or Certificate messages being reassembled, the certificates kept,
    /// records held for decryption and the HTTP parser's buffers.
    pub fn buffered(&self) -> usize {
        let d = self.decrypt.as_deref().map_or(0, |d| d.dec.buffered() + d.http.as_deref().map_or(0, PlainParser::buffered_bytes));
        self.client.buffered_bytes() + self.server.buffered_bytes() + d
    }

    /// Whether bytes of TCP direction `dir` come from the TLS client.
    fn is_client_side(&self, dir: Dir) -> bool {
        (dir == Dir::FromOrig) != self.swapped
    }

    /// Feeds bytes that travelled in TCP direction `dir`.
    pub fn feed(&mut self, ts: Timestamp, dir: Dir, bytes: &[u8], ctx: &mut PlainCtx<'_>) {
        let from_client = self.is_client_side(dir);
        let parser = if from_client { &mut self.client } else { &mut self.server };
        if !parser.is_done() {
            match parser.feed(bytes) {
                HelloStatus::ClientHello(h) if from_client => {
                    self.ts.get_or_insert(ts);
                    if let Some(d) = self.decrypt.as_deref_mut() {
                        d.dec.set_client_random(h.random);
                    }
                    self.hello = Some(h);
                }
                HelloStatus::ServerHello(h) if !from_client => {
                    // The client's bytes do not say which version was chosen; under TLS 1.3 its
                    // messages after the hello are encrypted, and its parser can stop now.
                    self.client.set_negotiated_version(h.version());
                    if let Some(d) = self.decrypt.as_deref_mut() {
                        d.dec.set_server_hello(h.random, h.cipher_suite, h.version());
                    }
                    self.server_hello = Some(h);
                }
                _ => {}
            }
        }
        if let Some(d) = self.decrypt.as_deref_mut() {
            d.dec.feed(from_client, ts.0, bytes, ctx.keys);
            d.drain(ctx);
        }
    }

    /// A TCP gap: the hellos cannot be completed past it, and a protected direction stops.
    pub fn gap(&mut self, ts: Timestamp, dir: Dir, len: u64, ctx: &mut PlainCtx<'_>) {
        let from_client = self.is_client_side(dir);
        if let Some(d) = self.decrypt.as_deref_mut() {
            d.dec.gap(from_client, ts.0, len);
            d.drain(ctx);
        }
    }

    /// A direction ended (FIN): keys that arrived meanwhile are tried, then the HTTP parser
    /// learns the end.
    pub fn eof(&mut self, ts: Timestamp, dir: Dir, ctx: &mut PlainCtx<'_>) {
        let from_client = self.is_client_side(dir);
        if let Some(d) = self.decrypt.as_deref_mut() {
            d.dec.retry(ts.0, ctx.keys);
            d.drain(ctx);
            if let Some(http) = d.http.as_deref_mut() {
                http.handle_eof(ctx.stats, ts.0, direction(from_client));
            }
        }
    }

    /// The connection is closing: last try with the keys known now, then the HTTP parser
    /// finishes what it has.
    pub fn close(&mut self, ts: Timestamp, ctx: &mut PlainCtx<'_>) {
        if let Some(d) = self.decrypt.as_deref_mut() {
            d.dec.retry(ts.0, ctx.keys);
            d.drain(ctx);
            if let Some(http) = d.http.as_deref_mut() {
                http.handle_close(ctx.stats, ts.0);
            }
        }
    }

    /// The client's certificate (DER, unverified), for consumer identity: from a TLS 1.2
    /// mutual-TLS handshake in the clear, or from a decrypted TLS 1.3 one. Looked up once it
    /// can be known, then shared by every transaction of the connection.
    pub fn client_cert(&mut self) -> Option<Arc<[u8]>> {
        if self.client_cert.is_none() {
            let clear = self.client.certificates().and_then(CertificateChain::leaf).map(Arc::from);
            self.client_cert = clear.or_else(|| {
                let chain = self.decrypt.as_deref()?.dec.client_certificates()?;
                chain.leaf().map(Arc::from)
            });
        }
        self.client_cert.clone()
    }

    /// The client's JA4 fingerprint, once its hello was read: shared by every transaction of
    /// the connection (the detectors' `new_fingerprint`, the suppression rules).
    pub fn ja4(&mut self) -> Option<Arc<str>> {
        if self.ja4.is_none() {
            self.ja4 = self.hello.as_deref().map(|h| Arc::from(ja4(h, Transport::Tcp)));
        }
        self.ja4.clone()
    }

    /// The HTTP parser of the decrypted bytes, once there are any.
    pub fn http(&mut self) -> Option<&mut PlainParser> {
        self.decrypt.as_deref_mut().and_then(|d| d.http.as_deref_mut())
    }

    /// Where decryption stands (`None`: the sensor has no key logs).
    pub fn decryption(&self) -> Option<DecryptStatus> {
        self.decrypt.as_deref().map(|d| d.dec.status())
    }

    /// Decryption counters (`None` without key logs).
    pub fn decrypt_stats(&self) -> Option<&DecryptStats> {
        self.decrypt.as_deref().map(|d| d.dec.stats())
    }

    fn hellos_done(&self) -> bool {
        self.client.is_done() && self.server.is_done()
    }

    /// Whether the connection is being decrypted or still may be (key logs given, and
    /// decryption not given up).
    pub fn may_decrypt(&self) -> bool {
        self.decryption().is_some_and(|s| !s.given_up())
    }

    /// Nothing more to learn: the hellos are done and nothing is being decrypted (or can be).
    pub fn finished(&self) -> bool {
        self.hellos_done() && !self.may_decrypt()
    }

    /// The report for the inventory, once: when the hellos are done and decryption has
    /// decided (or at once without keys), or when `closing` whatever was seen. `None` before
    /// a ClientHello was seen.
    pub fn take_report(&mut self, closing: bool) -> Option<TlsReport> {
        if self.reported {
            return None;
        }
        let decided = !matches!(self.decryption(), Some(DecryptStatus::Pending | DecryptStatus::WaitingForKeys));
        if !closing && (!self.hellos_done() || !decided) {
            return None;
        }
        // A decrypted TLS 1.3 handshake shows the server's chain a few records after the
        // hellos: wait for it (or the close, for a resumed session that sends none).
        let tls13 = self.server_hello.as_deref().is_some_and(|s| s.version() == 0x0304);
        let chain_pending = self.decrypt.as_deref().is_some_and(|d| d.dec.status() == DecryptStatus::Decrypting && d.dec.server_certificates().is_none());
        if !closing && tls13 && chain_pending {
            return None;
        }
        let hello = self.hello.take()?;
        self.reported = true;
        let server_hello = self.server_hello.take();
        let chosen = server_hello.as_deref().map(|s| (s.version(), s.cipher_suite));
        // TLS 1.2 sends the server's chain in the clear; TLS 1.3 only inside the decrypted
        // handshake.
        let decrypted_chain = self.decrypt.as_deref().and_then(|d| d.dec.server_certificates());
        let chain = match (self.server.certificates(), &decrypted_chain) {
            (Some(c), _) => c.certs.as_slice(),
            (None, Some(c)) => c.certs.as_slice(),
            (None, None) => &[][..],
        };
        let ts_secs = self.ts.map_or(0, |t| i64::try_from(t.0 / 1_000_000_000).unwrap_or(i64::MAX));
        let posture = assess(&PostureConfig::default(), chosen, chain, ts_secs);
        let decrypted = self.decryption() == Some(DecryptStatus::Decrypting);
        Some(TlsReport { hello, server_hello, ts: self.ts, decrypted, posture })
    }
}

impl Decrypting {
    /// Hands the decryptor's output to the HTTP parser, made at the first plaintext: HTTP/2
    /// when the client's first bytes are its connection preface or the server's first bytes
    /// are HTTP/2 frames (its SETTINGS, which a server may send before the client's preface
    /// arrives; under TLS 1.3 the ALPN choice itself is encrypted), else HTTP/1.x.
    fn drain(&mut self, ctx: &mut PlainCtx<'_>) {
        while let Some(out) = self.dec.poll_output() {
            if self.http.is_none() {
                let h2 = match &out {
                    Output::Data { from_client: true, bytes, .. } => {
                        let n = bytes.len().min(PREFACE.len());
                        n > 0 && bytes.get(..n) == PREFACE.get(..n)
                    }
                    Output::Data { from_client: false, bytes, .. } => looks_like_h2(bytes),
                    Output::Gap { .. } => false,
                };
                let cfg = ParseCfg { http: ctx.http_cfg, h2: ctx.h2_cfg };
                let parser = if h2 { PlainParser::http2(cfg, ctx.stats) } else { PlainParser::http1(cfg, ctx.stats) };
                self.http = Some(Box::new(parser));
            }
            let Some(http) = self.http.as_deref_mut() else { return };
            match out {
                Output::Data { from_client, ts, bytes } => {
                    let cfg = ParseCfg { http: ctx.http_cfg, h2: ctx.h2_cfg };
                    http.handle_data(cfg, ctx.stats, ts, direction(from_client), &bytes);
                }
                Output::Gap { from_client, ts, len } => http.handle_gap(ctx.stats, ts, direction(from_client), len),
            }
        }
    }
}

fn direction(from_client: bool) -> Direction {
    if from_client {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}

/// What the clear part of the handshake showed, for consumer identity (the client
/// certificate) and the inventory (the server chain).
// Not read by the application layer yet: it reports the hellos only.
#[allow(dead_code)]
impl TlsConn {
    /// The client's own certificate (DER, unparsed and unverified) from a TLS 1.2 (or
    /// earlier) mutual-TLS handshake: `None` when the client sent none, the handshake was
    /// TLS 1.3, or the message was malformed or over the limit before the leaf was complete.
    pub fn client_certificate(&self) -> Option<&[u8]> {
        self.client.certificates().and_then(CertificateChain::leaf)
    }

    /// The client's whole Certificate message: `Some` with no certificates when the server
    /// asked and the client had none, `None` when no such message was seen.
    pub fn client_certificates(&self) -> Option<&CertificateChain> {
        self.client.certificates()
    }

    /// The server's certificate chain (DER, leaf first, as sent) from a TLS 1.2 (or earlier)
    /// handshake; `None` under TLS 1.3 and when the server's flight was not seen.
    pub fn server_certificates(&self) -> Option<&CertificateChain> {
        self.server.certificates()
    }

    /// Whether the server asked the client for a certificate (mutual TLS), as far as the
    /// clear part of the handshake shows (never under TLS 1.3).
    pub fn certificate_requested(&self) -> bool {
        self.server.certificate_request_seen()
    }

    /// Both parsers' counters, added up.
    pub fn stats(&self) -> TlsStats {
        let mut total = self.client.stats().clone();
        total.merge(self.server.stats());
        total
    }
}

impl TlsReport {
    /// Reports the hellos to the inventory.
    pub fn report(&self, inventory: &mut Inventory, client: SocketAddr, server: SocketAddr) {
        let h = &self.hello;
        let fingerprint = ja4(h, Transport::Tcp);
        let server_fp = self.server_hello.as_deref().map(|s| ja4s(s, Transport::Tcp));
        let obs = TlsObservation {
            ts: self.ts.map_or(0, |t| t.0),
            client: client.ip(),
            server,
            sni: h.sni.as_deref(),
            alpn: &h.alpn,
            client_version: version_name(h.max_version()),
            server_version: self.server_hello.as_deref().map(|s| version_name(s.version())),
            ja4: &fingerprint,
            ja4s: server_fp.as_deref(),
            decrypted: self.decrypted,
            server_suite: self.server_hello.as_deref().map(|s| s.cipher_suite),
            findings: &self.posture.findings,
            leaf: self.posture.leaf.as_ref(),
        };
        inventory.observe_tls(&obs);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/parsers/tests/tls_fixtures");

    /// The segments of a parsers TLS fixture: `c <hex>` from the client, `s <hex>` from the
    /// server.
    fn fixture(name: &str) -> Vec<(bool, Vec<u8>)> {
        let text = std::fs::read_to_string(format!("{FIXTURES}/{name}.txt")).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (who, hex) = l.split_once(' ').unwrap();
                let bytes =
                    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
                (who == "c", bytes)
            })
            .collect()
    }

    fn der(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/pki/{name}.der")).unwrap()
    }

    /// What feeding needs, without keys.
    fn ctx() -> PlainCtx<'static> {
        PlainCtx {
            keys: &apitap_parsers::tls::decrypt::NoKeys,
            http_cfg: Box::leak(Box::new(Arc::new(HttpConfig::default()))),
            h2_cfg: Box::leak(Box::new(Arc::new(H2Config::default()))),
            stats: Box::leak(Box::default()),
        }
    }

    /// Replays a fixture with the client as TCP originator, or (`swapped`) as responder.
    fn replay(name: &str, swapped: bool) -> TlsConn {
        let mut conn = TlsConn::new(swapped, None);
        for (i, (from_client, bytes)) in fixture(name).into_iter().enumerate() {
            let dir = if from_client != swapped { Dir::FromOrig } else { Dir::FromResp };
            conn.feed(Timestamp(i as u64), dir, &bytes, &mut ctx());
        }
        conn
    }

    #[test]
    fn mutual_tls12_gives_the_client_certificate_and_the_server_chain() {
        for swapped in [false, true] {
            let conn = replay("mtls12", swapped);
            assert!(conn.finished());
            assert_eq!(conn.client_certificate(), Some(&der("tpp")[..]), "swapped {swapped}");
            assert_eq!(conn.client_certificates().unwrap().certs, [der("tpp"), der("clientca")]);
            assert_eq!(conn.server_certificates().unwrap().certs, [der("server"), der("issuing")]);
            assert!(conn.certificate_requested());
            let held: usize = ["tpp", "clientca", "server", "issuing"].iter().map(|n| der(n).len()).sum();
            assert_eq!(conn.buffered(), held);
            assert_eq!(conn.stats().certificates, 4);
        }
    }

    #[test]
    fn no_client_certificate_and_tls13() {
        let conn = replay("tls12-nocert", false);
        assert_eq!(conn.client_certificate(), None);
        assert!(conn.client_certificates().is_some_and(CertificateChain::is_empty));
        assert!(conn.finished());

        // TLS 1.3: both sides stop at the ServerHello, nothing kept.
        let fixture = fixture("tls13-mtls");
        let mut conn = TlsConn::new(false, None);
        for (i, (from_client, bytes)) in fixture.iter().take(2).enumerate() {
            let dir = if *from_client { Dir::FromOrig } else { Dir::FromResp };
            conn.feed(Timestamp(i as u64), dir, bytes, &mut ctx());
        }
        assert!(conn.finished(), "finished after ClientHello and ServerHello");
        assert_eq!((conn.client_certificate(), conn.server_certificates()), (None, None));
        assert!(!conn.certificate_requested());
        assert_eq!(conn.buffered(), 0);
    }
}
