//! Certificates of real TLS 1.2 handshakes (tests/tls_fixtures, made with openssl s_server and
//! s_client and captured with tcpdump) checked against the DER files openssl used, and the
//! handshake reader after the hello on hostile input: garbled and cut Certificate messages,
//! messages split over many records, the limits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod tls_common;

use apitap_parsers::tls::{
    CertificateChain, CertificateMalformed, HandshakeEnd, HandshakeEvent, HelloParser, HelloStatus, Malformed, Side,
    TlsConfig, MAX_CERTIFICATE_BYTES,
};
use sha2::{Digest, Sha256};
use tls_common::{feed_pieces, fixture, records, segment, unhex, Rng};

fn der(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/tls_fixtures/pki/{name}.der", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Both directions of one connection, fed in capture order the way the binary does: the
/// client side is told the version once the ServerHello is in.
struct Conn {
    client: HelloParser,
    server: HelloParser,
}

impl Conn {
    fn new(config: &TlsConfig) -> Self {
        Conn {
            client: HelloParser::with_config(Side::Client, config),
            server: HelloParser::with_config(Side::Server, config),
        }
    }

    fn feed(&mut self, side: Side, bytes: &[u8]) {
        match side {
            Side::Client => {
                let _ = self.client.feed(bytes);
            }
            Side::Server => {
                if let HelloStatus::ServerHello(h) = self.server.feed(bytes) {
                    self.client.set_negotiated_version(h.version());
                }
            }
        }
    }

    fn replay(case: &str, config: &TlsConfig) -> Self {
        let mut conn = Conn::new(config);
        for (side, bytes) in fixture(case) {
            conn.feed(side, &bytes);
        }
        conn
    }
}

fn events(p: &mut HelloParser) -> Vec<HandshakeEvent> {
    std::iter::from_fn(|| p.poll_event()).collect()
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// The handshake messages of one direction's first flight: the bodies of its leading
/// handshake records, concatenated (the record framing taken off).
fn handshake_messages(flight: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = flight;
    while rest.len() >= 5 && rest[0] == 22 {
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        out.extend_from_slice(&rest[5..5 + len]);
        rest = &rest[5 + len..];
    }
    out
}

/// Splits concatenated handshake messages into (type, whole message with header).
fn split_messages(msgs: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = msgs;
    while rest.len() >= 4 {
        let len = (usize::from(rest[1]) << 16) | (usize::from(rest[2]) << 8) | usize::from(rest[3]);
        out.push((rest[0], rest[..4 + len].to_vec()));
        rest = &rest[4 + len..];
    }
    out
}

/// A ChangeCipherSpec record as TLS 1.2 sends it.
const CCS: [u8; 6] = [20, 3, 3, 0, 1, 1];

/// The client's second flight in mtls12 (Certificate, ClientKeyExchange, CertificateVerify)
/// as handshake messages, and the ClientHello record before it.
fn mtls12_client() -> (Vec<u8>, Vec<(u8, Vec<u8>)>) {
    let hello = segment("mtls12", Side::Client, 0);
    let flight = handshake_messages(&segment("mtls12", Side::Client, 1));
    (hello, split_messages(&flight))
}

/// A client parser that has read the mtls12 ClientHello.
fn client_after_hello(config: &TlsConfig) -> HelloParser {
    let mut p = HelloParser::with_config(Side::Client, config);
    assert!(matches!(p.feed(&segment("mtls12", Side::Client, 0)), HelloStatus::ClientHello(_)));
    assert!(!p.is_done());
    p
}

#[test]
fn mutual_tls12_chains_are_the_der_files_openssl_used() {
    let mut conn = Conn::replay("mtls12", &TlsConfig::default());
    let server = conn.server.certificates().expect("server Certificate").clone();
    assert_eq!(server.certs, [der("server"), der("issuing")]);
    assert!(!server.truncated);
    assert_eq!(server.leaf(), Some(&der("server")[..]));
    assert!(conn.server.certificate_request_seen(), "s_server -Verify 1 sends a CertificateRequest");
    assert_eq!(conn.server.handshake_end(), Some(&HandshakeEnd::ServerHelloDone));

    let client = conn.client.certificates().expect("client Certificate");
    assert_eq!(client.certs, [der("tpp"), der("clientca")]);
    assert_eq!(client.leaf(), Some(&der("tpp")[..]));
    assert!(!client.truncated && !conn.client.certificate_request_seen());
    assert_eq!(conn.client.handshake_end(), Some(&HandshakeEnd::ChangeCipherSpec));

    assert_eq!(events(&mut conn.server), [HandshakeEvent::End(HandshakeEnd::ServerHelloDone)]);
    assert_eq!(events(&mut conn.client), [HandshakeEvent::End(HandshakeEnd::ChangeCipherSpec)]);
    assert!(conn.client.is_done() && conn.server.is_done());
    let (s, c) = (conn.server.stats(), conn.client.stats());
    // ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone: four
    // after the hello. Certificate, ClientKeyExchange, CertificateVerify on the client side.
    assert_eq!((s.handshake_messages, s.certificate_messages, s.certificates, s.certificate_requests), (4, 1, 2, 1));
    assert_eq!((c.handshake_messages, c.certificate_messages, c.certificates, c.certificate_requests), (3, 1, 2, 0));
    assert_eq!((s.stopped_server_hello_done, c.stopped_change_cipher_spec), (1, 1));
    // Held: the certificates and nothing else.
    let held = conn.server.buffered_bytes();
    assert!(held >= server.der_bytes() && held <= server.der_bytes() + 64, "{held}");
}

#[test]
fn byte_by_byte_the_same_chains_come_out() {
    let whole = Conn::replay("mtls12", &TlsConfig::default());
    let mut conn = Conn::new(&TlsConfig::default());
    for (side, bytes) in fixture("mtls12") {
        for b in bytes.chunks(1) {
            conn.feed(side, b);
        }
    }
    assert_eq!(conn.server.certificates(), whole.server.certificates());
    assert_eq!(conn.client.certificates(), whole.client.certificates());
    assert_eq!(conn.client.certificates().unwrap().certs.len(), 2);
    assert_eq!(conn.client.handshake_end(), Some(&HandshakeEnd::ChangeCipherSpec));
}

#[test]
fn certificate_messages_over_two_records_each() {
    let mut conn = Conn::replay("mtls12-frag", &TlsConfig::default());
    assert_eq!(conn.server.certificates().unwrap().certs, [der("server"), der("issuing")]);
    assert_eq!(conn.client.certificates().unwrap().certs, [der("tpp"), der("clientca")]);
    // -max_send_frag 512: the records are 512 bytes at most, so the 900-byte Certificate
    // messages need two each.
    let flight = segment("mtls12-frag", Side::Client, 1);
    assert_eq!(&flight[..5], [22, 3, 3, 2, 0], "a full 512-byte first record");
    assert!(conn.client.stats().records >= 3, "{:?}", conn.client.stats());
    assert_eq!(events(&mut conn.client), [HandshakeEvent::End(HandshakeEnd::ChangeCipherSpec)]);
    assert!(conn.server.certificate_request_seen());
}

#[test]
fn an_empty_client_certificate_is_not_the_same_as_none() {
    let conn = Conn::replay("tls12-nocert", &TlsConfig::default());
    assert!(conn.server.certificate_request_seen(), "s_server -verify 1 asks");
    let empty = conn.client.certificates().expect("the client answered with a Certificate message");
    assert_eq!(*empty, CertificateChain { certs: vec![], truncated: false });
    assert!(empty.is_empty() && empty.leaf().is_none());
    assert_eq!(conn.client.stats().certificate_messages, 1);
    assert_eq!(conn.server.certificates().unwrap().certs, [der("server"), der("issuing")]);

    // No request, no client Certificate message at all: not seen.
    let mut conn = Conn::new(&TlsConfig::default());
    for (side, bytes) in fixture("tls12-sni") {
        conn.feed(side, &bytes);
    }
    assert!(!conn.server.certificate_request_seen());
    assert_eq!(conn.client.certificates(), None);
    // The self-signed api.bank.test certificate; its SHA-256 is from tshark's dissection of
    // tls12-sni.pcap (tshark -T fields -e tls.handshake.certificate).
    let chain = conn.server.certificates().unwrap();
    assert_eq!(chain.certs.len(), 1);
    assert_eq!(sha256_hex(&chain.certs[0]), "6674f727d0fade7de52d820d75b7a99025700812a3165159ce732f8b6bd75691");
    assert_eq!(conn.server.handshake_end(), Some(&HandshakeEnd::ServerHelloDone));
}

#[test]
fn a_public_web_chain_matches_tshark() {
    // heise.de, from Zeek's tls12-decryption.pcap: ServerHello, Certificate (2 certificates),
    // ServerKeyExchange and ServerHelloDone in one segment. Hashes of tshark's certificates.
    let mut p = HelloParser::new(Side::Server);
    assert!(matches!(p.feed(&segment("heise-tls12", Side::Server, 0)), HelloStatus::ServerHello(_)));
    let chain = p.certificates().unwrap();
    let hashes: Vec<String> = chain.certs.iter().map(|c| sha256_hex(c)).collect();
    assert_eq!(
        hashes,
        [
            "9fa68681a24c335052d1318c6502f7068fc4865718cd874a8e5de04e8f6d29c5",
            "730c1bdcd85f57ce5dc0bba733e5f1ba5a925b2a771d640a26f7a454224dad3b"
        ]
    );
    assert_eq!(p.handshake_end(), Some(&HandshakeEnd::ServerHelloDone));
    assert!(!p.certificate_request_seen());
}

#[test]
fn tls13_yields_no_certificates_and_stops_cleanly() {
    // Told the version (as the binary does), the client side stops before its second flight.
    let mut conn = Conn::replay("tls13-mtls", &TlsConfig::default());
    for p in [&mut conn.client, &mut conn.server] {
        assert_eq!(p.certificates(), None);
        assert!(!p.certificate_request_seen());
        assert_eq!(p.handshake_end(), Some(&HandshakeEnd::Encrypted { version: 0x0304 }));
        assert!(p.is_done());
        assert_eq!(events(p), [HandshakeEvent::End(HandshakeEnd::Encrypted { version: 0x0304 })]);
        assert_eq!(p.stats().stopped_encrypted, 1);
        assert_eq!(p.buffered_bytes(), 0);
    }
    let later: usize =
        fixture("tls13-mtls").iter().filter(|(s, _)| *s == Side::Client).skip(1).map(|(_, b)| b.len()).sum();
    assert_eq!(conn.client.stats().ignored_bytes, later as u64, "nothing after the ClientHello was looked at");
    assert_eq!(conn.client.stats().handshake_messages, 0);

    // Not told, the client side stops at its compatibility ChangeCipherSpec.
    let mut p = HelloParser::new(Side::Client);
    for (side, bytes) in fixture("tls13-mtls") {
        if side == Side::Client {
            let _ = p.feed(&bytes);
        }
    }
    assert_eq!(p.handshake_end(), Some(&HandshakeEnd::ChangeCipherSpec));
    assert_eq!(p.certificates(), None);

    // Nor an application data record first (a client without the compatibility record).
    let mut p = HelloParser::new(Side::Client);
    let _ = p.feed(&segment("tls13-mtls", Side::Client, 0));
    assert_eq!(p.feed(&[23, 3, 3, 0, 2, 0xaa, 0xbb]), HelloStatus::Done);
    assert_eq!(p.handshake_end(), Some(&HandshakeEnd::ApplicationData));

    // Told before the ClientHello is complete: it ends as soon as the hello is in.
    let hello = segment("tls13-mtls", Side::Client, 0);
    let mut p = HelloParser::new(Side::Client);
    assert_eq!(p.feed(&hello[..10]), HelloStatus::NeedMore);
    p.set_negotiated_version(0x0304);
    assert!(!p.is_done());
    assert!(matches!(p.feed(&hello[10..]), HelloStatus::ClientHello(_)));
    assert_eq!(p.handshake_end(), Some(&HandshakeEnd::Encrypted { version: 0x0304 }));

    // TLS 1.2 told: reading goes on. The server side ignores the call.
    let mut p = client_after_hello(&TlsConfig::default());
    p.set_negotiated_version(0x0303);
    assert!(!p.is_done());
    let mut s = HelloParser::new(Side::Server);
    s.set_negotiated_version(0x0304);
    assert!(matches!(s.feed(&segment("mtls12", Side::Server, 0)), HelloStatus::ServerHello(_)));
    assert_eq!(s.certificates().unwrap().certs.len(), 2);
}

#[test]
fn messages_split_over_many_records_and_many_messages_per_record() {
    let server = segment("mtls12", Side::Server, 0);
    let msgs = handshake_messages(&server);
    let kinds: Vec<u8> = split_messages(&msgs).iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [2, 11, 12, 13, 14], "ServerHello .. ServerHelloDone, as tshark lists them");
    let expect = [der("server"), der("issuing")];

    // All five messages in one record.
    let mut p = HelloParser::new(Side::Server);
    assert!(matches!(p.feed(&records(&msgs, &[], 0x0303)), HelloStatus::ServerHello(_)));
    assert_eq!(p.certificates().unwrap().certs, expect);
    assert_eq!((p.stats().records, p.handshake_end()), (1, Some(&HandshakeEnd::ServerHelloDone)));

    // One byte per record, then fed in random pieces.
    let mut rng = Rng(0x5eed_0011);
    for sizes in [vec![1; msgs.len()], rng.pieces(msgs.len(), 300)] {
        let wire = records(&msgs, &sizes, 0x0303);
        let mut p = HelloParser::new(Side::Server);
        let pieces = rng.pieces(wire.len(), 97);
        assert!(matches!(feed_pieces(&mut p, &wire, &pieces), HelloStatus::ServerHello(_)));
        // feed_pieces stops at the hello: the rest goes in too.
        let fed: usize = p.stats().bytes as usize;
        let _ = p.feed(&wire[fed..]);
        assert_eq!(p.certificates().unwrap().certs, expect, "record sizes {:?}", &sizes[..4]);
        assert_eq!(p.stats().records as usize, sizes.len().min(msgs.len()));
        assert_eq!(p.handshake_end(), Some(&HandshakeEnd::ServerHelloDone));
        assert!(p.certificate_request_seen());
    }
}

#[test]
fn a_garbled_certificate_message_is_an_event_not_a_panic() {
    let (_, msgs) = mtls12_client();
    assert_eq!(msgs.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [11, 16, 15]);
    let cert = &msgs[0].1;
    let rest: Vec<u8> = msgs[1..].iter().flat_map(|(_, m)| m.clone()).collect();

    let cases: Vec<(Vec<u8>, CertificateMalformed)> = {
        let mut list_long = cert.clone();
        list_long[6] = list_long[6].wrapping_add(1); // certificate_list length one too big
        let mut leaf_long = cert.clone();
        leaf_long[8] = leaf_long[8].wrapping_add(0x10); // the leaf's length runs past the list
        let mut empty_leaf = cert.clone();
        empty_leaf[7..10].copy_from_slice(&[0, 0, 0]);
        let list = cert.len() - 7;
        let leaf = (usize::from(cert[7]) << 16) | (usize::from(cert[8]) << 8) | usize::from(cert[9]);
        vec![
            (list_long, CertificateMalformed::ListLength { declared: list + 1, available: list }),
            (leaf_long, CertificateMalformed::CertificateLength { index: 0, declared: leaf + 0x1000 }),
            (empty_leaf, CertificateMalformed::CertificateLength { index: 0, declared: 0 }),
            (vec![11, 0, 0, 2, 0, 0], CertificateMalformed::Short(2)),
        ]
    };
    for (bad, why) in cases {
        let mut p = client_after_hello(&TlsConfig::default());
        let mut flight = bad.clone();
        flight.extend_from_slice(&rest);
        let mut wire = records(&flight, &[], 0x0303);
        wire.extend_from_slice(&CCS);
        assert_eq!(p.feed(&wire), HelloStatus::Done, "{why:?}");
        assert_eq!(p.certificates(), None, "{why:?}");
        assert_eq!(
            events(&mut p),
            [HandshakeEvent::CertificateMalformed(why.clone()), HandshakeEvent::End(HandshakeEnd::ChangeCipherSpec)]
        );
        // The messages after it were still read.
        assert_eq!((p.stats().certificate_malformed, p.stats().handshake_messages), (1, 3), "{why:?}");
    }
}

#[test]
fn a_certificate_message_cut_by_another_record_is_not_reported() {
    let (_, msgs) = mtls12_client();
    let cert = &msgs[0].1;
    for cut in [2, 4, 100, cert.len() - 1] {
        for (next, end) in [
            (CCS.to_vec(), HandshakeEnd::Malformed(Malformed::Interleaved(20))),
            (vec![23, 3, 3, 0, 1, 0], HandshakeEnd::Malformed(Malformed::Interleaved(23))),
            (vec![21, 3, 3, 0, 2, 2, 42], HandshakeEnd::Alert { level: 2, description: 42 }),
        ] {
            let mut p = client_after_hello(&TlsConfig::default());
            let mut wire = records(&cert[..cut], &[], 0x0303);
            wire.extend_from_slice(&next);
            assert_eq!(p.feed(&wire), HelloStatus::Done);
            assert_eq!(p.certificates(), None, "cut at {cut}");
            assert_eq!(p.handshake_end(), Some(&end), "cut at {cut}");
            assert_eq!(p.buffered_bytes(), 0, "the partial message is freed");
        }
    }
    // A client refusing the server's certificate: alert 48, unknown_ca, in the clear.
    let mut p = client_after_hello(&TlsConfig::default());
    assert_eq!(p.feed(&[21, 3, 3, 0, 2, 2, 48]), HelloStatus::Done);
    assert_eq!(p.handshake_end(), Some(&HandshakeEnd::Alert { level: 2, description: 48 }));
    assert_eq!(p.stats().stopped_alert, 1);
    // Broken record framing after the hello.
    for (bytes, end) in [
        (vec![22, 2, 0, 0, 4], Malformed::RecordVersion(0x0200)),
        (vec![22, 3, 3, 0, 0], Malformed::RecordLength(0)),
        (vec![22, 3, 3, 0x40, 1], Malformed::RecordLength(0x4001)),
        (vec![21, 3, 3, 0, 1, 2], Malformed::AlertLength(1)),
        (vec![99, 3, 3, 0, 1, 0], Malformed::Interleaved(99)),
    ] {
        let mut p = client_after_hello(&TlsConfig::default());
        let _ = p.feed(&bytes);
        assert_eq!(p.handshake_end(), Some(&HandshakeEnd::Malformed(end.clone())), "{bytes:?}");
        assert_eq!(p.stats().stopped_malformed, 1);
    }
}

#[test]
fn every_truncation_and_mutation_of_a_real_flight_is_safe() {
    let flight = segment("mtls12", Side::Client, 1);
    let full = [der("tpp"), der("clientca")];
    for n in 0..flight.len() {
        let mut p = client_after_hello(&TlsConfig::default());
        assert_eq!(p.feed(&flight[..n]), p_status(&flight, n), "prefix {n}");
        if let Some(chain) = p.certificates() {
            assert_eq!(chain.certs, full, "a chain is whole or absent (prefix {n})");
        }
    }
    let mut rng = Rng(0xce47);
    let cfg = TlsConfig { max_certificate_bytes: 700, ..TlsConfig::default() };
    for _ in 0..3000 {
        let mut bytes = flight.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            bytes[at] = rng.next() as u8;
        }
        bytes.truncate(bytes.len() - rng.below(bytes.len() / 2));
        let mut p = client_after_hello(&cfg);
        for piece in bytes.chunks(1 + rng.below(200)) {
            let _ = p.feed(piece);
            assert!(p.buffered_bytes() <= cfg.max_certificate_bytes, "{}", p.buffered_bytes());
        }
        let evs = events(&mut p);
        assert!(evs.len() <= 4, "{evs:?}");
        if let Some(chain) = p.certificates() {
            assert!(chain.certs.len() <= 2 && chain.der_bytes() <= 700);
        }
    }
}

/// What feeding the first `n` bytes of the mtls12 client flight returns: `Done` once the
/// ChangeCipherSpec header is in, else `NeedMore`.
fn p_status(flight: &[u8], n: usize) -> HelloStatus {
    let ccs_at = flight.windows(6).position(|w| w == CCS).unwrap();
    if n > ccs_at {
        HelloStatus::Done
    } else {
        HelloStatus::NeedMore
    }
}

#[test]
fn a_chain_over_the_byte_limit_keeps_what_fits() {
    let leaf = der("server");
    // Room for the list length, the leaf and part of the second certificate.
    let limit = 3 + 3 + leaf.len() + 100;
    let cfg = TlsConfig { max_certificate_bytes: limit, ..TlsConfig::default() };
    let server = segment("mtls12", Side::Server, 0);
    let mut p = HelloParser::with_config(Side::Server, &cfg);
    for piece in server.chunks(50) {
        let _ = p.feed(piece);
        assert!(p.buffered_bytes() <= limit, "{}", p.buffered_bytes());
    }
    let chain = p.certificates().unwrap();
    assert_eq!((chain.certs.clone(), chain.truncated), (vec![leaf], true));
    let declared = 3 + 3 + der("server").len() + 3 + der("issuing").len();
    assert_eq!(
        events(&mut p),
        [HandshakeEvent::CertificateTooLarge { declared, limit }, HandshakeEvent::End(HandshakeEnd::ServerHelloDone)]
    );
    assert_eq!(p.stats().certificate_limit_hits, 1);
    assert!(p.certificate_request_seen(), "the messages after the skipped rest are still read");

    // A declared 16 MiB Certificate message: nothing over the default limit is buffered, and
    // what fits is reported as soon as the limit is reached, not at the (never) end.
    let mut p = client_after_hello(&TlsConfig::default());
    let mut cert = vec![11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc];
    cert.extend_from_slice(&[0, 0x80, 0x00]);
    cert.extend(vec![0x30; 0x8000]); // a 32 KiB "certificate"
    cert.extend_from_slice(&[0, 0x80, 0x00]);
    let wire = records(&cert, &[16384; 4], 0x0303);
    let _ = p.feed(&wire);
    assert_eq!(p.certificates(), None, "under the limit so far: still buffering");
    let filler = records(&vec![0x31; 3 * 16384], &[16384, 16384, 16384], 0x0303);
    let _ = p.feed(&filler);
    assert!(p.buffered_bytes() <= MAX_CERTIFICATE_BYTES + 64, "{}", p.buffered_bytes());
    let chain = p.certificates().expect("reported at the limit");
    assert_eq!((chain.certs.len(), chain.certs[0].len(), chain.truncated), (1, 0x8000, true));
    assert!(!p.is_done(), "still skipping the rest of the message");
    assert_eq!(
        events(&mut p),
        [HandshakeEvent::CertificateTooLarge { declared: 0xff_ffff, limit: MAX_CERTIFICATE_BYTES }]
    );
}

#[test]
fn a_chain_over_the_length_limit_keeps_the_first_ones() {
    let cfg = TlsConfig { max_chain_len: 1, ..TlsConfig::default() };
    let mut conn = Conn::replay("mtls12", &cfg);
    let chain = conn.client.certificates().unwrap();
    assert_eq!((chain.certs.clone(), chain.truncated), (vec![der("tpp")], true));
    assert_eq!(
        events(&mut conn.client),
        [HandshakeEvent::ChainTooLong { limit: 1 }, HandshakeEvent::End(HandshakeEnd::ChangeCipherSpec)]
    );
    assert_eq!(conn.client.stats().chain_limit_hits, 1);
    assert_eq!(conn.client.stats().certificates, 1);
}

#[test]
fn a_second_certificate_message_is_counted_not_read() {
    let (_, msgs) = mtls12_client();
    let cert = &msgs[0].1;
    let other = [11, 0, 0, 7, 0, 0, 4, 0, 0, 1, 0x42];
    let mut flight = cert.clone();
    flight.extend_from_slice(&other);
    flight.extend_from_slice(&other);
    let mut p = client_after_hello(&TlsConfig::default());
    let mut wire = records(&flight, &[], 0x0303);
    wire.extend_from_slice(&CCS);
    let _ = p.feed(&wire);
    assert_eq!(p.certificates().unwrap().certs, [der("tpp"), der("clientca")]);
    assert_eq!(
        events(&mut p),
        [HandshakeEvent::RepeatedCertificate, HandshakeEvent::End(HandshakeEnd::ChangeCipherSpec)],
        "reported once"
    );
    assert_eq!(p.stats().repeated_certificate_messages, 2);
}

#[test]
fn without_read_certificates_nothing_after_the_hello_is_read() {
    let cfg = TlsConfig { read_certificates: false, ..TlsConfig::default() };
    let conn = Conn::replay("mtls12", &cfg);
    for p in [&conn.client, &conn.server] {
        assert!(p.is_done());
        assert_eq!((p.certificates(), p.handshake_end(), p.stats().handshake_messages), (None, None, 0));
        assert!(!p.certificate_request_seen());
    }
    // Everything the server sent after its hello's record is ignored, later segments too.
    let server = segment("mtls12", Side::Server, 0);
    let hello_record = 5 + usize::from(u16::from_be_bytes([server[3], server[4]]));
    let total: usize = fixture("mtls12").iter().filter(|(s, _)| *s == Side::Server).map(|(_, b)| b.len()).sum();
    assert_eq!(conn.server.stats().ignored_bytes as usize, total - hello_record);
}

#[test]
fn fixture_bytes_are_what_tshark_saw() {
    // The first client Certificate bytes of mtls12 as tshark shows them: type 11, length
    // 0x000386, list 0x000383, leaf 0x0001d5 (469 bytes, the size of pki/tpp.der).
    let flight = segment("mtls12", Side::Client, 1);
    assert_eq!(flight[5..15], unhex("0b0003860003830001d5")[..]);
    assert_eq!(der("tpp").len(), 0x1d5);
}
