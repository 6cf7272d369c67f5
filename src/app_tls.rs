//! TLS connections seen by the application layer: the two hellos are parsed (SNI, ALPN,
//! versions, JA4/JA4S) so that encrypted services still appear in the endpoint inventory,
//! marked as not inspectable. Nothing after the hellos is looked at.

use std::net::SocketAddr;

use apitap_discovery::inventory::{Inventory, TlsObservation};
use apitap_parsers::tls::{ja4, ja4s, version_name, ClientHello, HelloParser, HelloStatus, ServerHello, Side, Transport};
use apitap_sensor::stream::Dir;
use apitap_sensor::Timestamp;

/// The hello exchange of one TLS connection.
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

    /// Bytes held while a hello is incomplete.
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
            HelloStatus::ServerHello(h) if !from_client => self.server_hello = Some(h),
            _ => {}
        }
    }

    /// Both hellos are in (or can no longer come): nothing more to learn.
    pub fn finished(&self) -> bool {
        self.client.is_done() && self.server.is_done()
    }

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
