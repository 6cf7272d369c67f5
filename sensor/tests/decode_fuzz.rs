//! Hostile bytes: pseudo-random buffers, mutated valid packets and every truncation of valid
//! packets must decode to some outcome without panicking, and keep the counters consistent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod decode_support;

use apitap_sensor::decode::{DecodeConfig, DecodeError, Decoded, Decoder};
use apitap_sensor::defrag::DefragConfig;
use apitap_sensor::{LinkType, Timestamp};
use decode_support::*;

const LINKS: [LinkType; 10] = [
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Null,
    LinkType::Loop,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Nflog,
    LinkType::Other(147),
];

const BODY: &[u8] = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n";

/// Valid frames of every kind the decoder understands, with their link type.
fn corpus() -> Vec<(LinkType, Vec<u8>)> {
    let v4 = tcp4(BODY);
    let v6 = tcp6(BODY);
    let e4 = eth(0x0800, &v4);
    let mut pppoe = vec![0x11, 0, 0, 1];
    pppoe.extend_from_slice(&u16::try_from(v4.len() + 2).unwrap().to_be_bytes());
    pppoe.extend_from_slice(&[0, 0x21]);
    pppoe.extend_from_slice(&v4);
    let mut nflog = vec![2, 0, 0, 0, 8, 0, 1, 0, 8, 0, 1, 0];
    nflog.extend_from_slice(&u16::try_from(v4.len() + 4).unwrap().to_le_bytes());
    nflog.extend_from_slice(&[9, 0]);
    nflog.extend_from_slice(&v4);
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd];
    sll.extend_from_slice(&v6);
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&v4);
    let exts: [(u8, &[u8]); 1] = [(0x85, &[0x10, 0x09])];
    let frags = fragment4(&tcp4(&[b'z'; 200]), &[104]);
    vec![
        (LinkType::Ethernet, e4.clone()),
        (
            LinkType::Ethernet,
            eth(0x88a8, &tag(1, 0x8100, &tag(2, 0x86dd, &v6))),
        ),
        (
            LinkType::Ethernet,
            eth(
                0x8847,
                &cat(&[&[0, 1, 0, 64], &[0, 2, 1, 64], &[0, 0, 0, 0], &e4]),
            ),
        ),
        (LinkType::Ethernet, eth(0x8864, &pppoe)),
        (LinkType::Raw, v6.clone()),
        (LinkType::Null, cat(&[&2u32.to_le_bytes(), &v4])),
        (LinkType::Loop, cat(&[&24u32.to_be_bytes(), &v6])),
        (LinkType::LinuxSll, sll),
        (LinkType::LinuxSll2, sll2),
        (LinkType::Nflog, nflog),
        (LinkType::Raw, ip4(47, &gre(0xb000, 0x0800, &v4))),
        (
            LinkType::Raw,
            ip4(
                47,
                &gre(0x1000, 0x88be, &cat(&[&erspan2_header(5, 5), &e4])),
            ),
        ),
        (
            LinkType::Raw,
            ip4(
                47,
                &gre(0x1000, 0x22eb, &cat(&[&erspan3_header(0, true), &e4])),
            ),
        ),
        (LinkType::Raw, udp4(1, 4754, &gre(0, 0x86dd, &v6))),
        (
            LinkType::Ethernet,
            eth(0x0800, &udp4(1, 4789, &vxlan(3, &e4))),
        ),
        (
            LinkType::Raw,
            udp4(1, 6081, &geneve(&[1, 2, 3, 4], 0x6558, &e4)),
        ),
        (LinkType::Raw, udp4(2152, 2152, &gtpu(255, &exts, &v4))),
        (
            LinkType::Raw,
            udp4(3544, 9, &cat(&[&origin_indication(), &tcp_teredo(BODY)])),
        ),
        (LinkType::Raw, udp4(9, 32900, &tcp_teredo(BODY))),
        (LinkType::Raw, udp4(5072, 5072, &ayiya(41, 1, &v6))),
        (LinkType::Raw, ip4(4, &v4)),
        (LinkType::Raw, ip6(41, &v6)),
        (LinkType::Raw, frags[0].clone()),
        (LinkType::Raw, frags[1].clone()),
    ]
}

fn check_counters(d: &Decoder) {
    let s = d.stats();
    assert_eq!(s.packets, s.tcp + s.held + s.skipped + s.errors, "{s:?}");
}

#[test]
fn corpus_decodes_to_tcp() {
    let mut d = Decoder::new(DecodeConfig::default());
    let mut tcp_count = 0;
    for (link, f) in corpus() {
        match d.decode(Timestamp(1), link, &f, wire(&f)) {
            Decoded::Tcp(s) => {
                tcp_count += 1;
                assert!(
                    s.payload == BODY || s.payload == [b'z'; 200],
                    "{link:?} {:?}",
                    s.payload
                );
            }
            Decoded::Held => {}
            other => panic!("{link:?}: {other:?} for {f:02x?}"),
        }
    }
    // Every entry but the first fragment yields a segment.
    assert_eq!(tcp_count, corpus().len() - 1);
}

#[test]
fn random_buffers_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let cfg = DecodeConfig {
        defrag: DefragConfig {
            max_bytes_total: 1 << 16,
            max_datagrams: 64,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut d = Decoder::new(cfg);
    for i in 0..20_000u64 {
        let link = LINKS[rng.below(LINKS.len())];
        let len = rng.below(320);
        let mut buf = rng.bytes(len);
        // Bias towards plausible first bytes so the walk gets past the first header.
        if let Some(b) = buf.first_mut() {
            match rng.below(4) {
                0 => *b = 0x45,
                1 => *b = 0x60,
                _ => {}
            }
        }
        let wire_len = if rng.below(4) == 0 {
            len + rng.below(2000)
        } else {
            len
        };
        let _ = d.decode(
            Timestamp(i * 1_000_000),
            link,
            &buf,
            u32::try_from(wire_len).unwrap(),
        );
        assert!(d.pending_fragment_bytes() <= 1 << 16);
        while d.poll_event().is_some() {}
    }
    check_counters(&d);
    assert_eq!(d.stats().packets, 20_000);
}

#[test]
fn mutated_valid_packets_never_panic() {
    let corpus = corpus();
    let mut rng = Rng(42);
    let mut d = Decoder::new(DecodeConfig::default());
    for i in 0..30_000u64 {
        let (link, f) = &corpus[rng.below(corpus.len())];
        let mut f = f.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(f.len());
            f[at] = rng.next() as u8;
        }
        let _ = d.decode(Timestamp(i), *link, &f, wire(&f));
    }
    check_counters(&d);
    // Small mutations leave most packets decodable and break some: both paths ran.
    let s = d.stats();
    assert!(s.tcp > 10_000 && s.errors > 100 && s.skipped > 100, "{s:?}");
}

#[test]
fn every_truncation_never_panics_and_cut_payload_is_a_prefix() {
    let mut d = Decoder::new(DecodeConfig::default());
    for (link, f) in corpus() {
        for cut in 0..=f.len() {
            let part = &f[..cut];
            // Cut by the snaplen: the wire length is the full frame.
            match d.decode(Timestamp(1), link, part, wire(&f)) {
                Decoded::Tcp(s) => {
                    assert!(
                        BODY.starts_with(s.payload) || s.payload.iter().all(|b| *b == b'z'),
                        "{link:?} cut {cut}"
                    );
                    assert!(s.payload.len() <= s.payload_len as usize);
                }
                Decoded::Error(DecodeError::DepthLimit) => panic!("depth limit on a truncation"),
                _ => {}
            }
            // Truncated on the wire: the record says the frame was this short.
            let _ = d.decode(Timestamp(1), link, part, wire(part));
        }
    }
    check_counters(&d);
}

#[test]
fn random_fragments_respect_limits() {
    let cfg = DecodeConfig {
        defrag: DefragConfig {
            max_bytes_total: 32 * 1024,
            max_datagrams: 16,
            max_fragments_per_datagram: 8,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut d = Decoder::new(cfg);
    let mut rng = Rng(7);
    for i in 0..20_000u64 {
        let id = rng.below(40) as u16;
        let offset = rng.below(8191) * 8;
        let len = (rng.below(200) + 1) * 8;
        let more = rng.below(3) != 0;
        let data = rng.bytes(len);
        let f = frag4(id, 6, offset, more, &data);
        let _ = d.decode(Timestamp(i * 10_000_000), LinkType::Raw, &f, wire(&f));
        assert!(d.pending_fragment_bytes() <= 32 * 1024);
        assert!(d.pending_fragment_datagrams() <= 16);
        while d.poll_event().is_some() {}
    }
    check_counters(&d);
    assert!(d.stats().defrag.fragments > 0);
}
