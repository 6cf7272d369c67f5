//! IPv4 and IPv6 fragments through the decoder: order, overlaps, timeouts, limits, nesting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod decode_support;

use std::time::Duration;

use apitap_sensor::decode::{DecodeConfig, DecodeError, DecodeEvent, Decoder, Layer, SkipReason};
use apitap_sensor::defrag::{DefragConfig, DefragEventKind};
use apitap_sensor::{LinkType, Timestamp};
use decode_support::*;

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

fn feed(d: &mut Decoder, ts: Timestamp, frames: &[Vec<u8>]) -> Vec<Out> {
    frames
        .iter()
        .map(|f| own(d.decode(ts, LinkType::Raw, f, wire(f))))
        .collect()
}

fn events(d: &mut Decoder) -> Vec<DecodeEvent> {
    std::iter::from_fn(|| d.poll_event()).collect()
}

fn defrag_kinds(evs: &[DecodeEvent]) -> Vec<DefragEventKind> {
    evs.iter()
        .filter_map(|e| match e {
            DecodeEvent::Defrag(d) => Some(d.kind.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn ipv4_in_order_and_reversed() {
    let data = body(3000);
    let frags = fragment4(&tcp4(&data), &[1480, 2960]);
    assert_eq!(frags.len(), 3);
    let mut d = Decoder::new(DecodeConfig::default());
    let out = feed(&mut d, Timestamp(1), &frags);
    assert_eq!(out[..2], [Out::Held, Out::Held]);
    let Out::Tcp(s) = &out[2] else {
        panic!("{:?}", out[2])
    };
    assert_seg4(s, &data);

    let mut rev = frags.clone();
    rev.reverse();
    let out = feed(&mut d, Timestamp(2), &rev);
    let Out::Tcp(s) = &out[2] else {
        panic!("{:?}", out[2])
    };
    assert_seg4(s, &data);
    assert_eq!(d.stats().defrag.reassembled, 2);
    assert_eq!(d.stats().held, 4);
    assert_eq!(d.pending_fragment_datagrams(), 0);
}

#[test]
fn ipv4_fragments_behind_ethernet_with_padding() {
    let data = body(100);
    let frags = fragment4(&tcp4(&data), &[64]);
    let mut d = Decoder::new(DecodeConfig::default());
    let mut last = None;
    for f in &frags {
        let mut e = eth(0x0800, f);
        e.resize(e.len().max(60), 0);
        e.extend_from_slice(&[1, 2, 3, 4]); // trailer that must not enter the datagram
        last = Some(own(d.decode(
            Timestamp(1),
            LinkType::Ethernet,
            &e,
            wire(&e),
        )));
    }
    let Some(Out::Tcp(s)) = last else {
        panic!("{last:?}")
    };
    assert_seg4(&s, &data);
}

#[test]
fn ipv6_in_order_reversed_and_interleaved() {
    let data = body(2500);
    let frags = fragment6(&tcp6(&data), &[1232], 0xabcd);
    let mut d = Decoder::new(DecodeConfig::default());
    let out = feed(&mut d, Timestamp(1), &frags);
    assert_eq!(out[0], Out::Held);
    let Out::Tcp(s) = &out[1] else {
        panic!("{:?}", out[1])
    };
    assert_seg6(s, &data);

    // Two datagrams interleaved, second one reversed.
    let other = body(1800);
    let frags2 = fragment6(&tcp6(&other), &[800, 1600], 0xabce);
    let order = [&frags2[2], &frags[0], &frags2[1], &frags[1], &frags2[0]];
    let out: Vec<Out> = order
        .iter()
        .map(|f| own(d.decode(Timestamp(2), LinkType::Raw, f, wire(f))))
        .collect();
    assert_eq!(out[..3], [Out::Held, Out::Held, Out::Held]);
    let Out::Tcp(a) = &out[3] else {
        panic!("{:?}", out[3])
    };
    assert_seg6(a, &data);
    let Out::Tcp(b) = &out[4] else {
        panic!("{:?}", out[4])
    };
    assert_seg6(b, &other);
}

#[test]
fn overlapping_same_bytes_is_quiet() {
    let data = body(64);
    let dgram = tcp4(&data);
    let payload = &dgram[20..];
    let mut d = Decoder::new(DecodeConfig::default());
    let frames = [
        frag4(9, 6, 0, true, &payload[..48]),
        frag4(9, 6, 32, false, &payload[32..]), // 16 overlapping bytes, identical
    ];
    let out = feed(&mut d, Timestamp(1), &frames);
    let Out::Tcp(s) = &out[1] else {
        panic!("{:?}", out[1])
    };
    assert_eq!(s.payload, data);
    assert_eq!(d.stats().defrag.overlaps, 1);
    assert_eq!(d.stats().defrag.overlap_mismatches, 0);
    assert!(defrag_kinds(&events(&mut d)).is_empty());
}

#[test]
fn overlapping_different_bytes_keeps_first_and_reports() {
    let data = body(64);
    let dgram = tcp4(&data);
    let payload = &dgram[20..];
    let mut forged = payload[32..].to_vec();
    for b in &mut forged[..16] {
        *b = b'X';
    }
    let mut d = Decoder::new(DecodeConfig::default());
    let frames = [
        frag4(9, 6, 0, true, &payload[..48]),
        frag4(9, 6, 32, false, &forged),
    ];
    let out = feed(&mut d, Timestamp(1), &frames);
    let Out::Tcp(s) = &out[1] else {
        panic!("{:?}", out[1])
    };
    // The first copy (the original bytes) wins.
    assert_eq!(s.payload, data);
    assert_eq!(
        defrag_kinds(&events(&mut d)),
        vec![DefragEventKind::OverlapMismatch {
            offset: 32,
            len: 16
        }]
    );
    assert_eq!(d.stats().defrag.overlap_mismatches, 1);
}

#[test]
fn timeout_drops_incomplete_datagrams_on_packet_time() {
    let data = body(3000);
    let frags = fragment4(&tcp4(&data), &[1480, 2960]);
    let cfg = DecodeConfig {
        defrag: DefragConfig {
            timeout: Duration::from_secs(30),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut d = Decoder::new(cfg);
    let t0 = Timestamp::from_parts(1_700_000_000, 0);
    assert_eq!(feed(&mut d, t0, &frags[..1]), vec![Out::Held]);
    // 31 s later (packet time) an unrelated packet expires it.
    let t1 = Timestamp::from_parts(1_700_000_031, 0);
    let other = tcp6(b"x");
    assert!(matches!(
        own(d.decode(t1, LinkType::Raw, &other, wire(&other))),
        Out::Tcp(_)
    ));
    assert_eq!(d.pending_fragment_datagrams(), 0);
    assert_eq!(
        defrag_kinds(&events(&mut d)),
        vec![DefragEventKind::Timeout {
            fragments: 1,
            bytes: 1480
        }]
    );
    // The rest arrives too late and never completes.
    assert_eq!(feed(&mut d, t1, &frags[1..]), vec![Out::Held, Out::Held]);
    // expire() alone also drops them.
    d.expire(Timestamp::from_parts(1_700_000_062, 0));
    assert_eq!(d.pending_fragment_datagrams(), 0);
    assert_eq!(d.stats().defrag.timeouts, 2);
}

#[test]
fn limits_bound_the_table() {
    let cfg = DecodeConfig {
        defrag: DefragConfig {
            max_datagrams: 4,
            max_fragments_per_datagram: 3,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut d = Decoder::new(cfg);
    for id in 0..10u16 {
        let f = frag4(id, 6, 0, true, &[0; 8]);
        assert_eq!(
            own(d.decode(Timestamp(u64::from(id)), LinkType::Raw, &f, wire(&f))),
            Out::Held
        );
    }
    assert_eq!(d.pending_fragment_datagrams(), 4);
    assert_eq!(d.stats().defrag.evicted_datagram_limit, 6);
    let kinds = defrag_kinds(&events(&mut d));
    assert_eq!(kinds.len(), 6);
    assert!(kinds
        .iter()
        .all(|k| *k == DefragEventKind::DatagramLimit { limit: 4 }));

    // The fourth fragment of one datagram drops it.
    let frames: Vec<Vec<u8>> = (0..4).map(|i| frag4(77, 6, i * 8, true, &[1; 8])).collect();
    let out = feed(&mut d, Timestamp(20), &frames);
    assert_eq!(out[3], Out::Skipped(SkipReason::FragmentDropped));
    assert_eq!(d.stats().defrag.too_many_fragments, 1);
}

#[test]
fn memory_limit_bounds_bytes() {
    let cfg = DecodeConfig {
        defrag: DefragConfig {
            max_bytes_total: 4096,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut d = Decoder::new(cfg);
    for id in 0..20u16 {
        let f = frag4(id, 6, 0, true, &[0; 1024]);
        let _ = own(d.decode(Timestamp(1), LinkType::Raw, &f, wire(&f)));
        assert!(d.pending_fragment_bytes() <= 4096);
    }
    assert!(d.stats().defrag.evicted_memory_limit >= 16);
    let f = frag4(99, 6, 0, true, &[0; 4104]);
    assert_eq!(
        own(d.decode(Timestamp(1), LinkType::Raw, &f, wire(&f))),
        Out::Skipped(SkipReason::FragmentDropped)
    );
}

#[test]
fn oversize_datagram_is_rejected() {
    let mut d = Decoder::new(DecodeConfig::default());
    let first = frag4(5, 6, 0, true, &[0; 1480]);
    let last = frag4(5, 6, 65000, false, &[0; 600]);
    assert_eq!(
        own(d.decode(Timestamp(1), LinkType::Raw, &first, wire(&first))),
        Out::Held
    );
    let out = own(d.decode(Timestamp(1), LinkType::Raw, &last, wire(&last)));
    assert!(
        matches!(
            out,
            Out::Error(DecodeError::BadHeader {
                layer: Layer::Ipv4,
                ..
            })
        ),
        "{out:?}"
    );
    assert_eq!(d.pending_fragment_datagrams(), 0);
    assert!(defrag_kinds(&events(&mut d))
        .iter()
        .any(|k| matches!(k, DefragEventKind::Oversize { .. })));
}

#[test]
fn fragment_cut_by_snaplen_is_skipped() {
    let frags = fragment4(&tcp4(&body(3000)), &[1480]);
    let mut d = Decoder::new(DecodeConfig::default());
    let f = &frags[0];
    let out = own(d.decode(Timestamp(1), LinkType::Raw, &f[..200], wire(f)));
    assert_eq!(out, Out::Skipped(SkipReason::FragmentCut));
    assert_eq!(d.stats().fragments_cut, 1);
}

#[test]
fn fragmented_outer_ip_of_a_gtp_tunnel() {
    let data = body(1600);
    let inner = tcp4(&data);
    let mut gtp = vec![0x30, 0xff];
    gtp.extend_from_slice(&u16::try_from(inner.len()).unwrap().to_be_bytes());
    gtp.extend_from_slice(&[0, 0, 0, 1]);
    gtp.extend_from_slice(&inner);
    let outer = udp4(2152, 2152, &gtp);
    let frags = fragment4(&outer, &[1480]);
    let mut d = Decoder::new(DecodeConfig::default());
    let out: Vec<Out> = frags
        .iter()
        .map(|f| {
            let e = eth(0x0800, f);
            own(d.decode(Timestamp(1), LinkType::Ethernet, &e, wire(&e)))
        })
        .collect();
    assert_eq!(out[0], Out::Held);
    let Out::Tcp(s) = &out[1] else {
        panic!("{:?}", out[1])
    };
    assert_seg4(s, &data);
    assert_eq!(d.stats().gtpu, 1);
}

#[test]
fn fragments_inside_a_tunnel_and_inside_a_reassembled_datagram() {
    // Inner IPv6 fragments carried in VXLAN.
    let data = body(2000);
    let inner = fragment6(&tcp6(&data), &[1000], 7);
    let wrap = |p: &[u8]| {
        let mut v = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        v.extend_from_slice(&eth(0x86dd, p));
        udp4(1, 4789, &v)
    };
    let mut d = Decoder::new(DecodeConfig::default());
    let frames: Vec<Vec<u8>> = inner.iter().map(|f| wrap(f)).collect();
    let out = feed(&mut d, Timestamp(1), &frames);
    let Out::Tcp(s) = &out[1] else {
        panic!("{:?}", out[1])
    };
    assert_seg6(s, &data);

    // Inner IPv4 fragments in GRE whose outer IP is itself fragmented: the second outer
    // datagram completes both levels at once.
    let data = body(600);
    let inner = fragment4(&tcp4(&data), &[304]);
    let outers: Vec<Vec<Vec<u8>>> = inner
        .iter()
        .map(|f| {
            let mut g = vec![0, 0, 0x08, 0x00];
            g.extend_from_slice(f);
            fragment4(&ip4(47, &g), &[160])
        })
        .collect();
    let mut d = Decoder::new(DecodeConfig::default());
    let seq = [&outers[0][0], &outers[0][1], &outers[1][1], &outers[1][0]];
    let out: Vec<Out> = seq
        .iter()
        .map(|f| own(d.decode(Timestamp(1), LinkType::Raw, f, wire(f))))
        .collect();
    assert_eq!(out[..3], [Out::Held, Out::Held, Out::Held]);
    let Out::Tcp(s) = &out[3] else {
        panic!("{:?}", out[3])
    };
    assert_seg4(s, &data);
    assert_eq!(d.stats().defrag.reassembled, 3);
}

#[test]
fn bad_fragment_length_is_an_error() {
    let mut d = Decoder::new(DecodeConfig::default());
    let f = frag4(1, 6, 0, true, &[0; 13]);
    let out = own(d.decode(Timestamp(1), LinkType::Raw, &f, wire(&f)));
    assert!(
        matches!(
            out,
            Out::Error(DecodeError::BadHeader {
                layer: Layer::Ipv4,
                ..
            })
        ),
        "{out:?}"
    );
    assert_eq!(
        defrag_kinds(&events(&mut d)),
        vec![DefragEventKind::BadLength { len: 13 }]
    );
}
