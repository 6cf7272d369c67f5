//! JA4 and JA4S against the worked examples published with the FoxIO specification
//! (technical_details/JA4.md and JA4S.md): raw lists in, the published hash parts out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod tls_common;

use apitap_parsers::tls::{
    ja4, ja4_r, ja4s, ja4s_r, ClientHello, HelloParser, HelloStatus, ServerHello, Side, Transport,
};
use tls_common::{
    alpn_ext, client_hello, plain_ext, record, server_hello, sni_ext, u16_list_ext, versions_ext, ClientSpec, Rng,
};

/// The specification's example cipher suites, in the order the client sent them.
const CIPHERS: [u16; 15] = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f,
    0x0035,
];
/// The specification's example extensions, in wire order (SNI and ALPN included).
const EXTENSIONS: [u16; 16] = [
    0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b,
    0x000a, 0x0015,
];
/// The specification's example signature algorithms, in wire order.
const SIGS: [u16; 8] = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

fn example() -> ClientHello {
    ClientHello {
        legacy_version: 0x0303,
        cipher_suites: CIPHERS.to_vec(),
        extensions: EXTENSIONS.to_vec(),
        sni: Some("example.com".into()),
        alpn: vec!["h2".into(), "http/1.1".into()],
        supported_versions: vec![0x0304, 0x0303],
        signature_algorithms: SIGS.to_vec(),
        ..ClientHello::default()
    }
}

#[test]
fn published_ja4_example() {
    assert_eq!(ja4(&example(), Transport::Tcp), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    assert_eq!(
        ja4_r(&example(), Transport::Tcp),
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_\
         0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_\
         0403,0804,0401,0503,0805,0501,0806,0601"
    );
}

#[test]
fn without_signature_algorithms_the_extension_part_has_no_underscore() {
    let h = ClientHello { signature_algorithms: vec![], ..example() };
    // The specification's example: the sorted extensions alone hash to 6d807ffa2a79.
    assert_eq!(ja4(&h, Transport::Tcp), "t13d1516h2_8daaf6152771_6d807ffa2a79");
    assert!(ja4_r(&h, Transport::Tcp).ends_with("4469,ff01"));
}

#[test]
fn empty_lists_hash_to_twelve_zeros() {
    let h = ClientHello {
        legacy_version: 0x0303,
        extensions: vec![0x0000, 0x0010],
        alpn: vec!["h2".into()],
        ..ClientHello::default()
    };
    assert_eq!(ja4(&h, Transport::Tcp), "t12d0002h2_000000000000_000000000000");
}

#[test]
fn grease_is_ignored_everywhere() {
    let mut h = example();
    h.cipher_suites.insert(0, 0x0a0a);
    h.extensions.insert(0, 0x5a5a);
    h.extensions.push(0xfafa);
    h.signature_algorithms.insert(3, 0x1a1a);
    h.supported_versions.insert(0, 0x7a7a);
    assert_eq!(ja4(&h, Transport::Tcp), "t13d1516h2_8daaf6152771_e5627efa2ab1");
}

#[test]
fn version_falls_back_to_legacy_and_counts_cap_at_99() {
    let h = ClientHello {
        legacy_version: 0x0301,
        cipher_suites: (1..=120).collect(),
        extensions: (0x0100..0x0100 + 120).collect(),
        ..ClientHello::default()
    };
    let fp = ja4(&h, Transport::Tcp);
    assert!(fp.starts_with("t10i999900_"), "{fp}");
    // supported_versions holding only GREASE: the legacy version counts.
    let h = ClientHello { supported_versions: vec![0x2a2a], extensions: vec![0x002b], ..example() };
    assert!(ja4(&h, Transport::Tcp).starts_with("t12i1501h2_"));
}

#[test]
fn published_ja4s_example() {
    let s = ServerHello {
        legacy_version: 0x0303,
        cipher_suite: 0xc030,
        extensions: vec![0x0005, 0x0017, 0xff01, 0x0000],
        ..ServerHello::default()
    };
    assert_eq!(ja4s(&s, Transport::Tcp), "t120400_c030_4e8089b08790");
    assert_eq!(ja4s_r(&s, Transport::Tcp), "t120400_c030_0005,0017,ff01,0000");
    let none = ServerHello { extensions: vec![], ..s };
    assert_eq!(ja4s(&none, Transport::Quic), "q120000_c030_000000000000");
}

/// The published example as bytes on the wire: encoded, parsed, fingerprinted.
fn example_on_the_wire(grease: bool) -> Vec<u8> {
    let mut exts: Vec<_> = EXTENSIONS
        .iter()
        .map(|&t| match t {
            0x0000 => sni_ext(b"example.com"),
            0x0010 => alpn_ext(&[b"h2", b"http/1.1"]),
            0x000d => u16_list_ext(0x000d, &SIGS),
            0x002b => versions_ext(&[0x0304, 0x0303]),
            other => plain_ext(other),
        })
        .collect();
    let mut ciphers = CIPHERS.to_vec();
    if grease {
        ciphers.insert(0, 0x3a3a);
        exts.insert(0, (0x9a9a, vec![]));
        exts.push((0xeaea, vec![0]));
    }
    record(&client_hello(&ClientSpec { ciphers, extensions: Some(exts), ..ClientSpec::default() }))
}

#[test]
fn published_example_through_the_parser() {
    for grease in [false, true] {
        let HelloStatus::ClientHello(h) = HelloParser::new(Side::Client).feed(&example_on_the_wire(grease)) else {
            panic!("no hello");
        };
        assert!(h.anomalies.is_empty(), "{:?}", h.anomalies);
        assert_eq!(h.extensions.len(), if grease { 18 } else { 16 });
        assert_eq!(ja4(&h, Transport::Tcp), "t13d1516h2_8daaf6152771_e5627efa2ab1", "grease {grease}");
    }
}

#[test]
fn ja4_does_not_depend_on_the_order_of_ciphers_and_extensions() {
    let mut rng = Rng(0x5eed_0001);
    let reference = ja4(&example(), Transport::Tcp);
    for _ in 0..200 {
        let mut h = example();
        for i in (1..h.cipher_suites.len()).rev() {
            h.cipher_suites.swap(i, rng.below(i + 1));
        }
        for i in (1..h.extensions.len()).rev() {
            h.extensions.swap(i, rng.below(i + 1));
        }
        assert_eq!(ja4(&h, Transport::Tcp), reference);
    }
    // Signature algorithms keep their order: swapping two changes part c only.
    let mut h = example();
    h.signature_algorithms.swap(0, 1);
    let fp = ja4(&h, Transport::Tcp);
    assert_eq!(fp[..23], reference[..23]);
    assert_ne!(fp, reference);
}

#[test]
fn non_alphanumeric_alpn_uses_the_hex_rule_from_the_wire() {
    let spec = ClientSpec { extensions: Some(vec![alpn_ext(&[&[0xab, 0xcd], b"h2"])]), ..ClientSpec::default() };
    let HelloStatus::ClientHello(h) = HelloParser::new(Side::Client).feed(&record(&client_hello(&spec))) else {
        panic!("no hello");
    };
    assert_eq!(h.alpn, ["\\xab\\xcd", "h2"]);
    assert!(ja4(&h, Transport::Tcp).starts_with("t12i0201ad_"), "{}", ja4(&h, Transport::Tcp));
}

#[test]
fn server_hello_on_the_wire() {
    let msg = server_hello(
        0x0303,
        [3; 32],
        0x1301,
        &[(0x002b, vec![0x03, 0x04]), alpn_ext(&[b"h2"]), (0x0033, [&[0x00, 0x1d][..], &[0, 2, 9, 9]].concat())],
    );
    let HelloStatus::ServerHello(s) = HelloParser::new(Side::Server).feed(&record(&msg)) else { panic!("no hello") };
    assert_eq!((s.selected_version, s.alpn.as_deref(), s.key_share_group), (Some(0x0304), Some("h2"), Some(0x001d)));
    assert!(ja4s(&s, Transport::Tcp).starts_with("t1303h2_1301_"));
}
