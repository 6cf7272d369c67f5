//! Real hellos (tests/tls_fixtures) checked against tshark's dissection of the same packets
//! and against JA4 / JA4S computed from tshark's lists (tls_fixtures/expected_from_tshark.py).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod tls_common;

use apitap_parsers::tls::{
    detect_tls, detect_tls_side, ja4, ja4_r, ja4s, ja4s_r, version_name, ClientHello, Detection, HandshakeEnd,
    HelloParser, HelloStatus, ServerHello, Side, Transport,
};
use tls_common::{feed_pieces, segment, unhex};

fn client(case: &str) -> ClientHello {
    match HelloParser::new(Side::Client).feed(&segment(case, Side::Client, 0)) {
        HelloStatus::ClientHello(h) => *h,
        other => panic!("{case}: {other:?}"),
    }
}

fn server(case: &str, n: usize) -> ServerHello {
    match HelloParser::new(Side::Server).feed(&segment(case, Side::Server, n)) {
        HelloStatus::ServerHello(h) => *h,
        other => panic!("{case}: {other:?}"),
    }
}

fn hexes(list: &str) -> Vec<u16> {
    list.split(',').map(|v| u16::from_str_radix(v.trim_start_matches("0x"), 16).unwrap()).collect()
}

/// Values as tshark shows them for the TLS 1.3 hellos of OpenSSL 3.0 (s_client and curl).
const OPENSSL_TLS13_SIGS: &str = "0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601";

#[test]
fn heise_client_hello_matches_tshark() {
    let h = client("heise-tls12");
    assert_eq!(h.record_version, 0x0301);
    assert_eq!(h.records, 1);
    assert_eq!(h.legacy_version, 0x0303);
    assert_eq!(h.random.to_vec(), unhex("4d98940fb40a244b48e42eac287144b1b7393057caa131f961a78e38b0e77c1e"));
    assert_eq!(h.session_id, unhex("a73fd3e296a0c40f573b69153daef2a35a93c31ae485b6af10b7457d2d1490ae"));
    assert_eq!(h.cipher_suites, [0xc030]);
    assert_eq!(h.compression_methods, [0]);
    assert_eq!(h.extensions, hexes("0000,0017,ff01,000a,000b,0023,0010,0005,0033,002b,000d,002d,001c,0015"));
    assert_eq!(h.sni.as_deref(), Some("heise.de"));
    assert_eq!(h.alpn, ["h2", "http/1.1"]);
    assert_eq!(h.supported_versions, [0x0304, 0x0303]);
    assert_eq!(h.signature_algorithms, hexes("0403,0503,0603,0804,0805,0806,0401,0501,0601,0203,0201"));
    assert_eq!(h.supported_groups, [0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101]);
    assert_eq!(h.ec_point_formats, [0]);
    assert_eq!(h.key_share_groups, [29, 23]);
    assert_eq!(h.psk_key_exchange_modes, [1]);
    assert!(h.anomalies.is_empty(), "{:?}", h.anomalies);
    assert_eq!(version_name(h.max_version()), "TLS 1.3");
    assert_eq!(ja4(&h, Transport::Tcp), "t13d0114h2_a17193ba21fd_d267a5f792d4");
    assert_eq!(
        ja4_r(&h, Transport::Tcp),
        "t13d0114h2_c030_0005,000a,000b,000d,0015,0017,001c,0023,002b,002d,0033,ff01_\
         0403,0503,0603,0804,0805,0806,0401,0501,0601,0203,0201"
    );
}

#[test]
fn heise_server_hello_matches_tshark() {
    // The segment also carries Certificate, ServerKeyExchange and ServerHelloDone.
    let s = server("heise-tls12", 0);
    assert_eq!((s.legacy_version, s.selected_version, s.version()), (0x0303, None, 0x0303));
    assert_eq!(s.cipher_suite, 0xc030);
    assert_eq!(s.extensions, hexes("ff01,0000,000b,0023,0010,0017"));
    assert_eq!(s.alpn.as_deref(), Some("http/1.1"));
    assert!(!s.hello_retry_request);
    assert!(s.anomalies.is_empty(), "the messages after the hello are not part of it: {:?}", s.anomalies);
    assert_eq!(ja4s(&s, Transport::Tcp), "t1206h1_c030_17136cd5846b");
    assert_eq!(ja4s_r(&s, Transport::Tcp), "t1206h1_c030_ff01,0000,000b,0023,0010,0017");
}

#[test]
fn tls13_without_sni_with_alpn_h2() {
    let h = client("tls13-alpn-h2-nosni");
    assert_eq!(h.sni, None);
    assert!(!h.has_extension(0x0000));
    assert_eq!(h.alpn, ["h2"]);
    assert_eq!(h.cipher_suites, [0x1302, 0x1303, 0x1301, 0x00ff]);
    assert_eq!(h.extensions, hexes("000b,000a,0023,0010,0016,0017,000d,002b,002d,0033"));
    assert_eq!(h.signature_algorithms, hexes(OPENSSL_TLS13_SIGS));
    assert_eq!(h.supported_versions, [0x0304]);
    assert_eq!(h.supported_groups, hexes("001d,0017,001e,0019,0018,0100,0101,0102,0103,0104"));
    assert_eq!(h.ec_point_formats, [0, 1, 2]);
    assert_eq!(h.key_share_groups, [0x001d]);
    assert_eq!(ja4(&h, Transport::Tcp), "t13i0410h2_16476d049b0b_78f1d400d464");
    assert_eq!(ja4(&h, Transport::Quic), "q13i0410h2_16476d049b0b_78f1d400d464");

    let s = server("tls13-alpn-h2-nosni", 0);
    assert_eq!(s.selected_version, Some(0x0304));
    assert_eq!(version_name(s.version()), "TLS 1.3");
    assert_eq!(s.cipher_suite, 0x1302);
    assert_eq!(s.extensions, [0x002b, 0x0033]);
    assert_eq!(s.key_share_group, Some(0x001d));
    // TLS 1.3 sends the chosen ALPN in EncryptedExtensions, out of sight.
    assert_eq!(s.alpn, None);
    assert_eq!(ja4s(&s, Transport::Tcp), "t130200_1302_a56c5b993250");
}

#[test]
fn curl_with_sni_and_two_alpn_values() {
    let h = client("curl-sni");
    assert_eq!(h.sni.as_deref(), Some("api.bank.test"));
    assert_eq!(h.alpn, ["h2", "http/1.1"]);
    assert_eq!(h.cipher_suites.len(), 31);
    assert_eq!(h.extensions, hexes("0000,000b,000a,0010,0016,0017,0031,000d,002b,002d,0033,0015"));
    assert_eq!(h.supported_versions, [0x0304, 0x0303, 0x0302, 0x0301]);
    assert_eq!(h.signature_algorithms, hexes(&format!("{OPENSSL_TLS13_SIGS},0303,0301,0302,0402,0502,0602")));
    assert_eq!(ja4(&h, Transport::Tcp), "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6");
    assert_eq!(ja4s(&server("curl-sni", 0), Transport::Tcp), "t130200_1302_a56c5b993250");
}

#[test]
fn tls12_only_client_and_server() {
    let h = client("tls12-sni");
    assert_eq!(h.supported_versions, Vec::<u16>::new());
    assert_eq!(h.max_version(), 0x0303);
    assert_eq!(h.extensions, hexes("0000,000b,000a,0023,0010,0016,0017,000d"));
    assert_eq!(h.alpn, ["http/1.1"]);
    assert_eq!(ja4(&h, Transport::Tcp), "t12d2808h1_d943125447b4_e7e480e5a997");

    let s = server("tls12-sni", 0);
    assert_eq!(s.selected_version, None);
    assert_eq!(version_name(s.version()), "TLS 1.2");
    assert_eq!(s.cipher_suite, 0xc02c);
    assert_eq!(s.extensions, hexes("ff01,000b,0023,0010,0017"));
    assert_eq!(s.alpn.as_deref(), Some("http/1.1"));
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
    assert_eq!(ja4s(&s, Transport::Tcp), "t1205h1_c02c_1ece00aee4e9");
}

#[test]
fn hello_retry_request_is_flagged_and_the_real_server_hello_parses_on_its_own() {
    let h = client("hrr");
    assert_eq!(h.key_share_groups, [0x001d]);
    assert_eq!(h.supported_groups, [0x001d, 0x0018]);
    assert_eq!(ja4(&h, Transport::Tcp), "t13d041000_16476d049b0b_78f1d400d464");

    let hrr = server("hrr", 0);
    assert!(hrr.hello_retry_request);
    assert_eq!(hrr.key_share_group, Some(0x0018), "the group the server asks for");
    assert_eq!(ja4s(&hrr, Transport::Tcp), "t130200_1302_a56c5b993250");

    let real = server("hrr", 1);
    assert!(!real.hello_retry_request);
    assert_eq!(real.key_share_group, Some(0x0018));

    // One parser per direction reports the first hello only; the second ClientHello (after
    // a ChangeCipherSpec record) is not looked at: reading ends at that record's header.
    let mut p = HelloParser::new(Side::Client);
    assert!(matches!(p.feed(&segment("hrr", Side::Client, 0)), HelloStatus::ClientHello(_)));
    let second = segment("hrr", Side::Client, 1);
    assert_eq!(second[..6], [20, 3, 3, 0, 1, 1], "the segment starts with a ChangeCipherSpec");
    assert_eq!(p.feed(&second), HelloStatus::Done);
    assert_eq!(p.handshake_end(), Some(&HandshakeEnd::ChangeCipherSpec));
    assert_eq!(p.stats().ignored_bytes, second.len() as u64 - 5, "all but the record header");
    assert!(p.certificates().is_none());
    // The server side stops at its HelloRetryRequest: TLS 1.3 encrypts the rest.
    let mut p = HelloParser::new(Side::Server);
    assert!(matches!(p.feed(&segment("hrr", Side::Server, 0)), HelloStatus::ServerHello(_)));
    assert_eq!(p.handshake_end(), Some(&HandshakeEnd::Encrypted { version: 0x0304 }));
    assert!(p.is_done());
}

#[test]
fn hello_in_three_records_in_one_segment() {
    let bytes = segment("split3", Side::Client, 0);
    let h = client("split3");
    assert_eq!(h.records, 3);
    assert_eq!(h.sni.as_deref(), Some("api.bank.test"));
    assert_eq!(h.key_share_groups, [0x0104], "ffdhe8192, the 1 KB key share that forced the split");
    assert_eq!(ja4(&h, Transport::Tcp), "t13d041000_16476d049b0b_78f1d400d464");
    // Byte by byte, across the record boundaries, the same hello comes out.
    let mut p = HelloParser::new(Side::Client);
    let status = feed_pieces(&mut p, &bytes, &vec![1; bytes.len()]);
    assert_eq!(status, HelloStatus::ClientHello(Box::new(h)));
    assert_eq!(p.stats().records, 3);
    assert_eq!(p.stats().client_hellos, 1);
}

#[test]
fn every_case_is_detected_on_both_sides_and_parses_byte_by_byte() {
    for case in ["heise-tls12", "tls13-alpn-h2-nosni", "curl-sni", "tls12-sni", "hrr", "split3"] {
        for side in [Side::Client, Side::Server] {
            let bytes = segment(case, side, 0);
            assert_eq!(detect_tls(&bytes), Detection::Yes, "{case} {side:?}");
            assert_eq!(detect_tls_side(side, &bytes), Detection::Yes, "{case} {side:?}");
            let other = if side == Side::Client { Side::Server } else { Side::Client };
            assert_eq!(detect_tls_side(other, &bytes), Detection::No, "{case} {side:?}");
            let whole = HelloParser::new(side).feed(&bytes);
            let mut p = HelloParser::new(side);
            let pieces = feed_pieces(&mut p, &bytes, &vec![1; bytes.len()]);
            assert_eq!(whole, pieces, "{case} {side:?}");
            assert!(matches!(whole, HelloStatus::ClientHello(_) | HelloStatus::ServerHello(_)), "{case}");
        }
    }
}
