//! TLS connections seen by the application layer: the two hellos are parsed (SNI, ALPN,
//! versions, JA4/JA4S) so that encrypted services still appear in the endpoint inventory,
//! marked as not inspectable. Under TLS 1.2 and earlier the handshake after the hellos is read
//! too, for the certificates: the server's chain and, with mutual TLS, the client's
//! certificate. Nothing encrypted is looked at.

use std::net::SocketAddr;

use apitap_discovery::inventory::{Inventory, TlsObservation};
use apitap_parsers::tls::{
    ja4, ja4s, version_name, CertificateChain, ClientHello, HelloParser, HelloStatus, ServerHello, Side, TlsStats,
    Transport,
};
use apitap_sensor::stream::Dir;
use apitap_sensor::Timestamp;

/// The handshake of one TLS connection, as far as it is in the clear.
///
/// Memory: what the two [`HelloParser`]s hold, bounded by their
/// [`TlsConfig`](apitap_parsers::tls::TlsConfig) (default: a 16 KiB hello while it is
/// reassembled, then at most 64 KiB of certificates per side); see [`TlsConn::buffered`].
pub struct TlsConn {
    client: HelloParser,
    server: HelloParser,
    /// The TCP originator is the TLS server (picked up the other way round).
    pub swapped: bool,
    hello: Option<Box<ClientHello>>,
    server_hello: Option<Box<ServerHello>>,
    ts: Option<Timestamp>,
    reported: bool,
}

impl TlsConn {
    /// A connection whose client is the TCP originator unless `swapped`.
    pub fn new(swapped: bool) -> Self {
        TlsConn {
            client: HelloParser::new(Side::Client),
            server: HelloParser::new(Side::Server),
            swapped,
            hello: None,
            server_hello: None,
            ts: None,
            reported: false,
        }
    }

    /// Bytes held: hellos or Certificate messages being reassembled, and the certificates
    /// kept.
    pub fn buffered(&self) -> usize {
        self.client.buffered_bytes() + self.server.buffered_bytes()
    }

    /// Feeds bytes that travelled in TCP direction `dir`.
    pub fn feed(&mut self, ts: Timestamp, dir: Dir, bytes: &[u8]) {
        let from_client = (dir == Dir::FromOrig) != self.swapped;
        let parser = if from_client { &mut self.client } else { &mut self.server };
        if parser.is_done() {
            return;
        }
        match parser.feed(bytes) {
            HelloStatus::ClientHello(h) if from_client => {
                self.ts.get_or_insert(ts);
                self.hello = Some(h);
            }
            HelloStatus::ServerHello(h) if !from_client => {
                // The client's bytes do not say which version was chosen; under TLS 1.3 its
                // messages after the hello are encrypted, and its parser can stop now.
                self.client.set_negotiated_version(h.version());
                self.server_hello = Some(h);
            }
            _ => {}
        }
    }

    /// Both sides have said all they say in the clear (or can no longer): nothing more to
    /// learn.
    pub fn finished(&self) -> bool {
        self.client.is_done() && self.server.is_done()
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

impl TlsConn {
    /// Reports the hellos to the inventory once, if a ClientHello was seen.
    pub fn report(&mut self, inventory: &mut Inventory, client: SocketAddr, server: SocketAddr) -> bool {
        if self.reported {
            return false;
        }
        let Some(h) = self.hello.as_deref() else { return false };
        self.reported = true;
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
        };
        inventory.observe_tls(&obs);
        true
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

    /// Replays a fixture with the client as TCP originator, or (`swapped`) as responder.
    fn replay(name: &str, swapped: bool) -> TlsConn {
        let mut conn = TlsConn::new(swapped);
        for (i, (from_client, bytes)) in fixture(name).into_iter().enumerate() {
            let dir = if from_client != swapped { Dir::FromOrig } else { Dir::FromResp };
            conn.feed(Timestamp(i as u64), dir, &bytes);
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
        let mut conn = TlsConn::new(false);
        for (i, (from_client, bytes)) in fixture.iter().take(2).enumerate() {
            let dir = if *from_client { Dir::FromOrig } else { Dir::FromResp };
            conn.feed(Timestamp(i as u64), dir, bytes);
        }
        assert!(conn.finished(), "finished after ClientHello and ServerHello");
        assert_eq!((conn.client_certificate(), conn.server_certificates()), (None, None));
        assert!(!conn.certificate_requested());
        assert_eq!(conn.buffered(), 0);
    }
}
