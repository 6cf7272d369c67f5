//! Hostile input for the hello parser: truncation at every offset, lying lengths, random
//! bytes, SSL 2.0 hellos, hellos split over records and segments, the buffer limit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod tls_common;

use apitap_parsers::tls::{
    detect_tls, ja4, ClientHello, Detection, HandshakeEnd, HelloAnomaly, HelloField, HelloParser, HelloStatus,
    Malformed, NotTlsReason, Side, TlsConfig, TlsStats, Transport, MAX_HELLO_ANOMALIES, MAX_HELLO_BYTES,
};
use tls_common::{
    client_hello, feed_pieces, parse_one, plain_ext, record, records, segment, server_hello, sni_ext, ClientSpec, Ext,
    Rng,
};

fn hello_of(status: HelloStatus) -> ClientHello {
    match status {
        HelloStatus::ClientHello(h) => *h,
        other => panic!("expected a ClientHello, got {other:?}"),
    }
}

/// The heise ClientHello as one record, and its handshake message alone.
fn heise() -> (Vec<u8>, Vec<u8>) {
    let rec = segment("heise-tls12", Side::Client, 0);
    let msg = rec[5..].to_vec();
    (rec, msg)
}

#[test]
fn every_prefix_of_a_real_hello_needs_more() {
    for case in ["heise-tls12", "split3", "curl-sni"] {
        let bytes = segment(case, Side::Client, 0);
        for n in 0..bytes.len() {
            let mut p = HelloParser::new(Side::Client);
            assert_eq!(p.feed(&bytes[..n]), HelloStatus::NeedMore, "{case} prefix {n}");
            // The rest completes it, whatever the cut.
            assert!(matches!(p.feed(&bytes[n..]), HelloStatus::ClientHello(_)), "{case} cut at {n}");
        }
    }
}

#[test]
fn a_hello_whose_lengths_say_it_ends_early_is_malformed_never_a_panic() {
    let (_, msg) = heise();
    let body = &msg[4..];
    let full = hello_of(parse_one(Side::Client, &record(&msg)));
    for cut in 0..body.len() {
        let mut m = vec![1, 0, (cut >> 8) as u8, cut as u8];
        m.extend_from_slice(&body[..cut]);
        let status = parse_one(Side::Client, &record(&m));
        match status {
            HelloStatus::Malformed(Malformed::HelloLength(n)) => assert!(n < 38 && n == cut, "cut {cut}"),
            HelloStatus::Malformed(Malformed::Field { offset, .. }) => assert!(offset <= cut, "cut {cut}"),
            // Cut right after the compression methods: a hello without extensions.
            HelloStatus::ClientHello(h) => {
                assert_eq!(cut, 2 + 32 + 1 + 32 + 2 + 2 + 2, "only the cut before the extensions parses");
                assert_eq!((h.cipher_suites, h.extensions.len()), (full.cipher_suites.clone(), 0));
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn each_framing_error_names_its_field() {
    let base = ClientSpec::default();
    let msg = client_hello(&base);
    // Offsets in the body: version 0, random 2, session id 34 (33 bytes), ciphers 67.
    let mut odd = msg.clone();
    odd[4 + 67 + 1] = 3; // cipher list length 3
    assert_eq!(
        parse_one(Side::Client, &record(&odd)),
        HelloStatus::Malformed(Malformed::Field { field: HelloField::CipherSuites, offset: 67 })
    );
    let mut long_sid = msg.clone();
    long_sid[4 + 34] = 0xff;
    assert!(matches!(
        parse_one(Side::Client, &record(&long_sid)),
        HelloStatus::Malformed(Malformed::Field { field: HelloField::SessionId, offset: 34 })
    ));
    // Extensions block longer than what is left.
    let ext_at = 4 + 67 + 2 + 4 + 2;
    let mut long_block = msg.clone();
    long_block[ext_at] = 0x7f;
    assert!(matches!(
        parse_one(Side::Client, &record(&long_block)),
        HelloStatus::Malformed(Malformed::Field { field: HelloField::Extensions, .. })
    ));
    // An extension body running past the block.
    let spec = ClientSpec { extensions: Some(vec![(0x0017, vec![])]), ..ClientSpec::default() };
    let mut past = client_hello(&spec);
    let n = past.len();
    past[n - 1] = 9;
    assert!(matches!(
        parse_one(Side::Client, &record(&past)),
        HelloStatus::Malformed(Malformed::Field { field: HelloField::Extension(0x0017), .. })
    ));
}

#[test]
fn record_layer_errors() {
    let (rec, msg) = heise();
    let mut zero = rec.clone();
    zero[3..5].copy_from_slice(&[0, 0]);
    assert_eq!(parse_one(Side::Client, &zero), HelloStatus::NotTls(NotTlsReason::RecordLength(0)));
    let mut big = rec.clone();
    big[3..5].copy_from_slice(&[0x40, 0x01]);
    assert_eq!(parse_one(Side::Client, &big), HelloStatus::NotTls(NotTlsReason::RecordLength(0x4001)));
    let mut ver = rec.clone();
    ver[1..3].copy_from_slice(&[0x02, 0x00]);
    assert_eq!(parse_one(Side::Client, &ver), HelloStatus::NotTls(NotTlsReason::RecordVersion(0x0200)));
    assert_eq!(parse_one(Side::Client, b"GET / HTTP/1.1\r\n"), HelloStatus::NotTls(NotTlsReason::ContentType(b'G')));
    // The second record of a split hello is checked too.
    let two = records(&msg, &[100], 0x0303);
    let mut empty_second = two[..105].to_vec();
    empty_second.extend_from_slice(&[22, 3, 3, 0, 0]);
    assert_eq!(parse_one(Side::Client, &empty_second), HelloStatus::Malformed(Malformed::RecordLength(0)));
    let mut bad_ver = two.clone();
    bad_ver[106] = 4;
    assert_eq!(parse_one(Side::Client, &bad_ver), HelloStatus::Malformed(Malformed::RecordVersion(0x0403)));
    // A ChangeCipherSpec between two fragments of the hello.
    let mut ccs = two[..105].to_vec();
    ccs.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
    ccs.extend_from_slice(&two[105..]);
    assert_eq!(parse_one(Side::Client, &ccs), HelloStatus::Malformed(Malformed::Interleaved(20)));
}

#[test]
fn the_wrong_hello_for_the_side_is_not_tls() {
    let (rec, _) = heise();
    assert_eq!(parse_one(Side::Server, &rec), HelloStatus::NotTls(NotTlsReason::HandshakeType(1)));
    let sh = segment("tls12-sni", Side::Server, 0);
    assert_eq!(parse_one(Side::Client, &sh), HelloStatus::NotTls(NotTlsReason::HandshakeType(2)));
    // An alert counts only from a server.
    assert_eq!(parse_one(Side::Client, &[21, 3, 3, 0, 2, 2, 40]), HelloStatus::NotTls(NotTlsReason::ContentType(21)));
}

#[test]
fn a_server_alert_instead_of_a_hello() {
    let alert = [21, 3, 3, 0, 2, 2, 70];
    let mut p = HelloParser::new(Side::Server);
    assert_eq!(feed_pieces(&mut p, &alert, &[1; 7]), HelloStatus::Alert { level: 2, description: 70 });
    assert_eq!(p.stats().alerts, 1);
    assert_eq!(parse_one(Side::Server, &[21, 3, 3, 0, 1, 2]), HelloStatus::Malformed(Malformed::AlertLength(1)));
}

/// An SSL 2.0-compatible ClientHello (RFC 5246 appendix E.2) as old clients send it: two
/// header bytes with the high bit set, then type 1, version 3.1, three 3-byte cipher specs,
/// no session id, a 16-byte challenge.
fn sslv2_hello() -> Vec<u8> {
    let mut body = vec![1, 3, 1, 0, 9, 0, 0, 0, 16];
    body.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00, 0x00, 0x35, 0x01, 0x00, 0x80]);
    body.extend_from_slice(&[0x5a; 16]);
    let mut out = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn sslv2_compatible_hello_is_reported_with_its_version() {
    let hello = sslv2_hello();
    assert_eq!(detect_tls(&hello), Detection::No);
    let mut p = HelloParser::new(Side::Client);
    assert_eq!(
        feed_pieces(&mut p, &hello, &[1; 64]),
        HelloStatus::NotTls(NotTlsReason::Sslv2ClientHello { version: 0x0301 })
    );
    assert_eq!(p.stats().not_tls, 1);
}

#[test]
fn handshake_split_over_three_records_and_many_segments() {
    let (rec, msg) = heise();
    let whole = hello_of(parse_one(Side::Client, &rec));
    let mut rng = Rng(0x71_5a11);
    for round in 0..300 {
        let a = 1 + rng.below(msg.len() - 2);
        let b = 1 + rng.below(msg.len() - a - 1);
        let wire = records(&msg, &[a, b], 0x0303);
        let max_piece = 1 + rng.below(40);
        let sizes = rng.pieces(wire.len(), max_piece);
        let mut p = HelloParser::new(Side::Client);
        let h = hello_of(feed_pieces(&mut p, &wire, &sizes));
        assert_eq!(h.records, 3, "round {round}");
        assert_eq!(h.record_version, 0x0303);
        assert_eq!(ClientHello { records: 1, record_version: 0x0301, ..h }, whole, "round {round} split {a}/{b}");
    }
    // Even one byte per record.
    let wire = records(&msg, &vec![1; msg.len()], 0x0301);
    assert_eq!(hello_of(parse_one(Side::Client, &wire)).records as usize, msg.len());
}

#[test]
fn hellos_over_the_limit_are_refused_without_buffering() {
    let (rec, _) = heise();
    let small = TlsConfig { max_hello_bytes: 100, ..TlsConfig::default() };
    let mut p = HelloParser::with_config(Side::Client, &small);
    assert_eq!(p.feed(&rec), HelloStatus::TooLarge { declared: 508, limit: 100 });
    assert_eq!((p.stats().hello_limit_hits, p.buffered_bytes()), (1, 0));
    assert_eq!(p.feed(&rec), HelloStatus::Done);

    // A declared 16 MiB hello under the default limit: refused at its header.
    let mut p = HelloParser::new(Side::Client);
    assert_eq!(
        p.feed(&[22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]),
        HelloStatus::TooLarge { declared: 0xff_ffff, limit: MAX_HELLO_BYTES }
    );

    // Just under the limit: buffered while it arrives, never more than the hello.
    let pad = MAX_HELLO_BYTES - 200;
    let spec =
        ClientSpec { extensions: Some(vec![sni_ext(b"a.example"), (0x0015, vec![0; pad])]), ..ClientSpec::default() };
    let msg = client_hello(&spec);
    assert!(msg.len() - 4 <= MAX_HELLO_BYTES);
    let wire = records(&msg, &[16384], 0x0301);
    let mut p = HelloParser::new(Side::Client);
    for chunk in wire.chunks(1000) {
        let status = p.feed(chunk);
        assert!(p.buffered_bytes() <= MAX_HELLO_BYTES + 4, "{}", p.buffered_bytes());
        if let HelloStatus::ClientHello(h) = status {
            assert_eq!(h.sni.as_deref(), Some("a.example"));
            assert_eq!(p.buffered_bytes(), 0, "freed once parsed");
            return;
        }
        assert_eq!(status, HelloStatus::NeedMore);
    }
    panic!("no hello");
}

#[test]
fn without_certificates_messages_after_the_hello_in_its_record_are_not_buffered() {
    let hello = server_hello(0x0303, [5; 32], 0xc02f, &[(0xff01, vec![0])]);
    let mut msg = hello.clone();
    msg.extend_from_slice(&[11, 0, 0x27, 0x00]); // a 9.9 KB Certificate message follows
    msg.extend(vec![0x30; 0x2700]);
    let wire = record(&msg);
    let hello_only = TlsConfig { read_certificates: false, ..TlsConfig::default() };
    let mut p = HelloParser::with_config(Side::Server, &hello_only);
    for chunk in wire.chunks(100) {
        let status = p.feed(chunk);
        assert!(p.buffered_bytes() <= hello.len(), "{}", p.buffered_bytes());
        if let HelloStatus::ServerHello(s) = status {
            assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
            assert_eq!(s.extensions, [0xff01]);
            assert!(p.is_done() && p.handshake_end().is_none() && p.certificates().is_none());
            return;
        }
    }
    panic!("no hello");
}

#[test]
fn random_bytes_never_panic_and_stay_bounded() {
    let mut rng = Rng(0xdead_beef);
    let cfg = TlsConfig { max_hello_bytes: 2048, max_certificate_bytes: 1024, ..TlsConfig::default() };
    let mut total = TlsStats::default();
    for _ in 0..5000 {
        let n = rng.below(600);
        let mut bytes = rng.bytes(n);
        // Often start like a hello so that the deeper layers get exercised too.
        if rng.below(2) == 0 && bytes.len() > 9 {
            bytes[..6].copy_from_slice(&[22, 3, 1, 0x02, 0x00, 1]);
        }
        let side = if rng.below(2) == 0 { Side::Client } else { Side::Server };
        let _ = detect_tls(&bytes);
        let mut p = HelloParser::with_config(side, &cfg);
        let sizes = rng.pieces(bytes.len(), 64);
        let status = feed_pieces(&mut p, &bytes, &sizes);
        assert!(p.buffered_bytes() <= cfg.max_hello_bytes + 4 + cfg.max_certificate_bytes);
        if let HelloStatus::ClientHello(h) = &status {
            let _ = ja4(h, Transport::Tcp);
        }
        total.merge(p.stats());
    }
    assert!(total.not_tls > 0 && total.malformed + total.hello_limit_hits > 0, "{total:?}");
}

#[test]
fn mutated_real_hellos_never_panic() {
    let mut rng = Rng(0x0bad_cafe);
    let cases: Vec<(Side, Vec<u8>)> = ["heise-tls12", "curl-sni", "split3", "tls12-sni", "hrr"]
        .iter()
        .flat_map(|c| [(Side::Client, segment(c, Side::Client, 0)), (Side::Server, segment(c, Side::Server, 0))])
        .collect();
    let mut hellos = 0;
    for _ in 0..20_000 {
        let (side, base) = &cases[rng.below(cases.len())];
        let mut bytes = base.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bytes.len());
            bytes[i] = rng.next() as u8;
        }
        if rng.below(4) == 0 {
            bytes.truncate(rng.below(bytes.len()));
        }
        let mut p = HelloParser::new(*side);
        let status = feed_pieces(&mut p, &bytes, &rng.pieces(bytes.len(), 300));
        match status {
            HelloStatus::ClientHello(h) => {
                hellos += 1;
                assert!(h.cipher_suites.len() + h.extensions.len() < bytes.len());
                assert!(h.anomalies.len() <= MAX_HELLO_ANOMALIES);
                let _ = ja4(&h, Transport::Tcp);
            }
            HelloStatus::ServerHello(s) => {
                hellos += 1;
                assert!(s.extensions.len() < bytes.len());
            }
            _ => {}
        }
    }
    assert!(hellos > 1000, "mutations inside values should still parse: {hellos}");
}

#[test]
fn anomalies_are_typed_and_capped() {
    // Duplicates, pre_shared_key not last, an IP literal SNI, an empty ALPN name.
    let exts: Vec<Ext> = vec![
        sni_ext(b"192.0.2.7"),
        (0x0029, vec![]),
        plain_ext(0x000a),
        plain_ext(0x000a),
        (0x0010, vec![0, 3, 0, 1, b'x']),
    ];
    let spec = ClientSpec { session_id: vec![1; 40], extensions: Some(exts), ..ClientSpec::default() };
    let h = hello_of(parse_one(Side::Client, &record(&client_hello(&spec))));
    assert_eq!(
        h.anomalies,
        [
            HelloAnomaly::SessionIdTooLong(40),
            HelloAnomaly::SniIpLiteral,
            HelloAnomaly::EmptyAlpnProtocol,
            HelloAnomaly::DuplicateExtension(0x000a),
            HelloAnomaly::PreSharedKeyNotLast,
        ]
    );
    assert_eq!(h.sni.as_deref(), Some("192.0.2.7"));
    assert_eq!(h.alpn, ["", "x"]);
    assert_eq!(h.supported_groups, [0x001d, 0x0017], "the first occurrence counts");

    // Twenty repeated types: sixteen anomalies kept, four counted as dropped.
    let exts: Vec<Ext> = (0..20u16).flat_map(|i| [(0x0100 + i, vec![]), (0x0100 + i, vec![])]).collect();
    let spec = ClientSpec { extensions: Some(exts), ..ClientSpec::default() };
    let mut p = HelloParser::new(Side::Client);
    let h = hello_of(p.feed(&record(&client_hello(&spec))));
    assert_eq!(h.anomalies.len(), MAX_HELLO_ANOMALIES);
    assert_eq!((p.stats().anomalies, p.stats().anomalies_dropped), (16, 4));
    assert_eq!(h.extensions.len(), 40);
}

#[test]
fn a_malformed_known_extension_is_flagged_and_its_values_left_out() {
    let exts: Vec<Ext> = vec![(0x0000, vec![0, 5, 0, 0, 9]), (0x000d, vec![0, 3, 4, 3, 1]), sni_ext(b"ok.example")];
    let spec = ClientSpec { extensions: Some(exts), ..ClientSpec::default() };
    let h = hello_of(parse_one(Side::Client, &record(&client_hello(&spec))));
    assert_eq!(
        h.anomalies,
        [
            HelloAnomaly::BadExtensionBody(0x0000),
            HelloAnomaly::BadExtensionBody(0x000d),
            HelloAnomaly::DuplicateExtension(0)
        ]
    );
    assert_eq!(h.sni, None, "the first server_name was broken; a repeat does not replace it");
    assert!(h.signature_algorithms.is_empty());
    assert!(ja4(&h, Transport::Tcp).starts_with("t12d0203"), "SNI present by extension type");
}

#[test]
fn server_names_with_odd_bytes_are_kept_escaped() {
    let spec = ClientSpec { extensions: Some(vec![sni_ext(b"evil\x00host\\")]), ..ClientSpec::default() };
    let h = hello_of(parse_one(Side::Client, &record(&client_hello(&spec))));
    assert_eq!(h.sni.as_deref(), Some("evil\\x00host\\x5c"));
    assert_eq!(h.anomalies, [HelloAnomaly::SniNotHostname]);
}

#[test]
fn a_hello_without_extensions_and_trailing_bytes() {
    let spec = ClientSpec { legacy_version: 0x0300, extensions: None, ..ClientSpec::default() };
    let h = hello_of(parse_one(Side::Client, &record(&client_hello(&spec))));
    assert_eq!((h.legacy_version, h.extensions.len()), (0x0300, 0));
    assert!(ja4(&h, Transport::Tcp).starts_with("ts3i0200"));

    let mut msg = client_hello(&ClientSpec::default());
    msg.extend_from_slice(&[0xee; 3]);
    let len = msg.len() - 4;
    msg[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    let h = hello_of(parse_one(Side::Client, &record(&msg)));
    assert_eq!(h.anomalies, [HelloAnomaly::TrailingBytes(3)]);
    assert_eq!(h.sni.as_deref(), Some("api.bank.test"));
}

#[test]
fn after_the_outcome_bytes_are_ignored_and_counted() {
    let (rec, _) = heise();
    let hello_only = TlsConfig { read_certificates: false, ..TlsConfig::default() };
    let mut p = HelloParser::with_config(Side::Client, &hello_only);
    let mut twice = rec.clone();
    twice.extend_from_slice(&rec);
    assert!(matches!(p.feed(&twice), HelloStatus::ClientHello(_)));
    assert!(p.is_done());
    assert_eq!(p.feed(b"more"), HelloStatus::Done);
    let s = p.stats();
    // The second record (in the same call) and the later call are both ignored.
    let ignored = rec.len() as u64 + 4;
    assert_eq!((s.bytes, s.ignored_bytes, s.records, s.client_hellos), (twice.len() as u64 + 4, ignored, 1, 1));

    // Reading on after the hello, the second record is a handshake message that is skipped,
    // and bytes that are no TLS record end reading.
    let mut p = HelloParser::new(Side::Client);
    assert!(matches!(p.feed(&twice), HelloStatus::ClientHello(_)));
    assert!(!p.is_done());
    assert_eq!(p.feed(b"more"), HelloStatus::Done);
    assert_eq!(p.handshake_end(), Some(&HandshakeEnd::Malformed(Malformed::Interleaved(b'm'))));
    let s = p.stats();
    assert_eq!((s.records, s.handshake_messages, s.stopped_malformed, s.ignored_bytes), (2, 1, 1, 0));
    assert_eq!(p.feed(b"x"), HelloStatus::Done);
    assert_eq!(p.stats().ignored_bytes, 1);
}
