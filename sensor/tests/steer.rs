//! The flow-steering hash on crafted frames: symmetric, by the innermost IP pair through every
//! encapsulation the decoder knows, equal for every fragment of a datagram, and spread evenly.
//!
//! The reference for "the innermost pair" is independent of the walk under test: the same pair
//! sent as a bare IPv4/IPv6 packet with other ports, in the other direction. Every tunnelled
//! frame is also run through the real `Decoder` to prove it is the tunnel it claims to be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod decode_support;

use std::collections::HashSet;
use std::net::IpAddr;

use apitap_sensor::decode::{
    steer, steer_hash, steer_hash_with_wire_len, worker_of, DecodeConfig, DecodeError, Decoder,
    Steer,
};
use apitap_sensor::{LinkType, Timestamp};
use decode_support::*;

const BODY: &[u8] = b"GET /v1/accounts/42/balance HTTP/1.1\r\nHost: api.bank.example\r\n\r\n";

fn h(link: LinkType, frame: &[u8]) -> u64 {
    steer_hash(&DecodeConfig::default(), link, frame)
}

/// The reference: the pair as a bare TCP packet from `b` to `a`, on ports used nowhere else.
fn bare(a: IpAddr, b: IpAddr) -> u64 {
    let f = match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => tcp4_between(b.octets(), a.octets(), 7, 9, b"x"),
        (IpAddr::V6(a), IpAddr::V6(b)) => tcp6_between(b.octets(), a.octets(), b"x"),
        _ => panic!("mixed families"),
    };
    // The reference itself must decode to that pair.
    let s = tcp(LinkType::Raw, &f);
    assert_eq!((s.src, s.dst), (b, a));
    h(LinkType::Raw, &f)
}

fn v4(rng: &mut Rng) -> [u8; 4] {
    (rng.next() as u32).to_be_bytes()
}

fn v6(rng: &mut Rng) -> [u8; 16] {
    (u128::from(rng.next()) << 64 | u128::from(rng.next())).to_be_bytes()
}

/// A TCP packet between two addresses of one family, with ports of its own.
fn packet(a: IpAddr, b: IpAddr, payload: &[u8]) -> Vec<u8> {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => tcp4_between(a.octets(), b.octets(), 51000, 443, payload),
        (IpAddr::V6(a), IpAddr::V6(b)) => tcp6_between(a.octets(), b.octets(), payload),
        _ => panic!("mixed families"),
    }
}

fn ethertype(ip: &[u8]) -> u16 {
    if ip[0] >> 4 == 6 {
        0x86dd
    } else {
        0x0800
    }
}

fn ip_proto(ip: &[u8]) -> u8 {
    if ip[0] >> 4 == 6 {
        41
    } else {
        4
    }
}

type Wrap = fn(&[u8]) -> Vec<u8>;

/// Every tunnel the decoder knows, wrapping an inner IP packet; the outer pair is always the
/// same (the builders' fixed 192.0.2.1 -> 192.0.2.2, or fd00::1 -> fd00::2 / fd00::9 for IPv6).
fn tunnels() -> Vec<(&'static str, Wrap)> {
    vec![
        ("gre", |p| ip4(47, &gre(0x2000, ethertype(p), p))),
        ("gre over ipv6", |p| ip6(47, &gre(0x8000, ethertype(p), p))),
        ("gre ethernet bridging", |p| {
            ip4(47, &gre(0, 0x6558, &eth(ethertype(p), p)))
        }),
        ("gre over udp", |p| {
            udp4(50000, 4754, &gre(0, ethertype(p), p))
        }),
        ("erspan i", |p| {
            ip4(47, &gre(0, 0x88be, &eth(ethertype(p), p)))
        }),
        ("erspan ii", |p| {
            let m = cat(&[&erspan2_header(12, 5), &eth(ethertype(p), p)]);
            ip4(47, &gre(0x1000, 0x88be, &m))
        }),
        ("erspan iii", |p| {
            let m = cat(&[&erspan3_header(0, true), &eth(ethertype(p), p)]);
            ip4(47, &gre(0x1000, 0x22eb, &m))
        }),
        ("vxlan", |p| {
            udp4(61000, 4789, &vxlan(7, &eth(ethertype(p), p)))
        }),
        ("vxlan linux port over ipv6", |p| {
            udp6(61000, 8472, &vxlan(7, &eth(ethertype(p), p)))
        }),
        ("geneve", |p| {
            let opts = [0x01, 0x02, 0x80, 0x01, 0xaa, 0xbb, 0xcc, 0xdd];
            udp4(61000, 6081, &geneve(&opts, 0x6558, &eth(ethertype(p), p)))
        }),
        ("geneve ip", |p| {
            udp4(61000, 6081, &geneve(&[], ethertype(p), p))
        }),
        ("gtp-u", |p| udp4(2152, 2152, &gtpu(255, &[], p))),
        ("ayiya", |p| udp4(5072, 5072, &ayiya(ip_proto(p), 1, p))),
        ("ip in ipv4", |p| ip4(ip_proto(p), p)),
        ("ip in ipv6", |p| ip6(ip_proto(p), p)),
        ("gre in vxlan", |p| {
            let g = ip4(47, &gre(0, ethertype(p), p));
            udp4(61000, 4789, &vxlan(9, &eth(0x0800, &g)))
        }),
    ]
}

/// The hash of the tunnels' outer pair, for frames that must NOT be steered by it.
fn outer_pair_hash() -> u64 {
    // UDP on a port no tunnel uses: steered by its own (outer) pair.
    h(LinkType::Raw, &udp4(1, 2, b""))
}

#[test]
fn both_directions_hash_alike_ipv4_and_ipv6() {
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..200 {
        let (a, b) = (IpAddr::from(v4(&mut rng)), IpAddr::from(v4(&mut rng)));
        let fwd = h(LinkType::Raw, &packet(a, b, BODY));
        let rev = h(LinkType::Raw, &packet(b, a, b""));
        assert_eq!(fwd, rev, "{a} <-> {b}");
        assert_eq!(fwd, bare(a, b));
        assert_ne!(fwd, 0);
        let (a, b) = (IpAddr::from(v6(&mut rng)), IpAddr::from(v6(&mut rng)));
        let fwd = h(LinkType::Raw, &packet(a, b, BODY));
        assert_eq!(fwd, h(LinkType::Raw, &packet(b, a, b"")), "{a} <-> {b}");
        assert_eq!(fwd, bare(a, b));
    }
    // Different pairs, different hashes (IPv4 pairs cannot collide at all).
    let a = IpAddr::from(V4_SRC);
    let mut seen = HashSet::new();
    for last in 0..=255u8 {
        let b = IpAddr::from([10, 1, 0, last]);
        assert!(seen.insert(h(LinkType::Raw, &packet(a, b, b""))));
    }
}

#[test]
fn link_types_vlan_qinq_mpls_pppoe_steer_by_the_ip_pair() {
    let ip = tcp4(BODY);
    let want = bare(IpAddr::from(V4_SRC), IpAddr::from(V4_DST));
    let label = |v: u32, bottom: bool| ((v << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes();
    let mut pppoe = vec![0x11, 0x00, 0x12, 0x34];
    pppoe.extend_from_slice(&u16::try_from(ip.len() + 2).unwrap().to_be_bytes());
    pppoe.extend_from_slice(&[0x00, 0x21]);
    pppoe.extend_from_slice(&ip);
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
    sll2.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0, 0]);
    sll2.extend_from_slice(&ip);
    let frames: Vec<(&str, LinkType, Vec<u8>)> = vec![
        ("ethernet", LinkType::Ethernet, eth(0x0800, &ip)),
        (
            "vlan",
            LinkType::Ethernet,
            eth(0x8100, &tag(10, 0x0800, &ip)),
        ),
        (
            "qinq",
            LinkType::Ethernet,
            eth(0x88a8, &tag(100, 0x8100, &tag(10, 0x0800, &ip))),
        ),
        (
            "mpls",
            LinkType::Ethernet,
            eth(0x8847, &cat(&[&label(100, false), &label(200, true), &ip])),
        ),
        ("pppoe", LinkType::Ethernet, eth(0x8864, &pppoe)),
        ("raw", LinkType::Raw, ip.clone()),
        ("raw ipv4", LinkType::Ipv4, ip.clone()),
        ("null", LinkType::Null, cat(&[&[2, 0, 0, 0], &ip])),
        ("loop", LinkType::Loop, cat(&[&[0, 0, 0, 2], &ip])),
        ("sll2", LinkType::LinuxSll2, sll2),
    ];
    for (name, link, f) in frames {
        let s = tcp(link, &f);
        assert_seg4(&s, BODY);
        assert_eq!(h(link, &f), want, "{name}");
    }
    let ip6 = tcp6(BODY);
    let want6 = bare(IpAddr::from(V6_SRC), IpAddr::from(V6_DST));
    let f = eth(0x88a8, &tag(100, 0x8100, &tag(10, 0x86dd, &ip6)));
    assert_seg6(&tcp(LinkType::Ethernet, &f), BODY);
    assert_eq!(h(LinkType::Ethernet, &f), want6);
    assert_eq!(h(LinkType::Ipv6, &ip6), want6);
}

#[test]
fn every_tunnel_steers_by_the_inner_pair() {
    let outer = outer_pair_hash();
    let mut rng = Rng(0x5eed_0002);
    for (name, wrap) in tunnels() {
        for v6_inner in [false, true] {
            let mut seen = HashSet::new();
            for _ in 0..64 {
                let (a, b) = if v6_inner {
                    (IpAddr::from(v6(&mut rng)), IpAddr::from(v6(&mut rng)))
                } else {
                    (IpAddr::from(v4(&mut rng)), IpAddr::from(v4(&mut rng)))
                };
                let f = wrap(&packet(a, b, BODY));
                let s = tcp(LinkType::Raw, &f);
                assert_eq!((s.src, s.dst), (a, b), "{name}: not the tunnel it claims");
                let got = h(LinkType::Raw, &f);
                assert_eq!(got, bare(a, b), "{name}: {a} -> {b}");
                assert_eq!(got, h(LinkType::Raw, &wrap(&packet(b, a, b""))), "{name}");
                assert_ne!(got, outer, "{name}");
                seen.insert(got);
            }
            // Same outer pair, 64 inner pairs: 64 hashes.
            assert_eq!(seen.len(), 64, "{name}");
        }
    }
}

#[test]
fn teredo_steers_by_the_inner_ipv6_pair() {
    let cfg = DecodeConfig::default();
    for last in 1..=32u8 {
        let (a, b) = (teredo_addr(last), V6_DST);
        let want = bare(IpAddr::from(a), IpAddr::from(b));
        // On the Teredo port, with an origin indication.
        let f = udp4(
            3544,
            3797,
            &cat(&[&origin_indication(), &tcp6_between(a, b, BODY)]),
        );
        assert_eq!(tcp(LinkType::Raw, &f).src, IpAddr::from(a));
        assert_eq!(h(LinkType::Raw, &f), want);
        // On another port, detected by the inner header (whose length is checked against the
        // UDP length, so the frame's wire length is not needed).
        let f = udp4(32900, 3797, &tcp6_between(a, b, BODY));
        assert_eq!(tcp(LinkType::Raw, &f).src, IpAddr::from(a));
        assert_eq!(h(LinkType::Raw, &f), want);
        assert_eq!(
            steer_hash_with_wire_len(&cfg, LinkType::Raw, &f, wire(&f)),
            want
        );
        // Detection off: plain UDP, steered by the outer pair, as the decoder skips it.
        let off = DecodeConfig {
            teredo_detect_any_port: false,
            ..Default::default()
        };
        assert_eq!(steer_hash(&off, LinkType::Raw, &f), outer_pair_hash());
    }
}

/// An NFLOG record of an IPv4 packet, attributes in little- or big-endian order.
fn nflog(ip: &[u8], little: bool) -> Vec<u8> {
    let u16b = |v: u16| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut f = vec![2, 0, 0, 0];
    f.extend_from_slice(&u16b(8));
    f.extend_from_slice(&u16b(1)); // NFULA_PACKET_HDR
    f.extend_from_slice(&[0x08, 0x00, 3, 0]);
    f.extend_from_slice(&u16b(u16::try_from(ip.len() + 4).unwrap()));
    f.extend_from_slice(&u16b(9)); // NFULA_PAYLOAD
    f.extend_from_slice(ip);
    f
}

#[test]
fn nflog_steers_by_the_ip_pair() {
    let cfg = DecodeConfig::default();
    let want = bare(IpAddr::from(V4_SRC), IpAddr::from(V4_DST));
    let le = nflog(&tcp4(BODY), true);
    assert_seg4(&tcp(LinkType::Nflog, &le), BODY);
    assert_eq!(h(LinkType::Nflog, &le), want);
    let be = nflog(&tcp4(BODY), false);
    assert_seg4(&tcp(LinkType::Nflog, &be), BODY);
    assert_eq!(
        steer_hash_with_wire_len(&cfg, LinkType::Nflog, &be, wire(&be)),
        want
    );
    // The documented case that needs the wire length: the byte order is guessed from it.
    assert_eq!(h(LinkType::Nflog, &be), 0);
}

#[test]
fn configured_tunnel_ports_are_followed() {
    let (a, b) = (IpAddr::from([172, 16, 0, 1]), IpAddr::from([172, 16, 9, 9]));
    let f = udp4(61000, 4788, &vxlan(7, &eth(0x0800, &packet(a, b, BODY))));
    // Not a VXLAN port by default: plain UDP, steered by its own pair.
    assert_eq!(h(LinkType::Raw, &f), outer_pair_hash());
    let cfg = DecodeConfig {
        vxlan_ports: vec![4788],
        ..Default::default()
    };
    assert_eq!(steer_hash(&cfg, LinkType::Raw, &f), bare(a, b));
    let cfg = DecodeConfig {
        gtpu_ports: vec![3386],
        ..Default::default()
    };
    let f = udp4(3386, 3386, &gtpu(255, &[], &packet(a, b, BODY)));
    assert_eq!(steer_hash(&cfg, LinkType::Raw, &f), bare(a, b));
    assert_eq!(h(LinkType::Raw, &f), outer_pair_hash());
}

/// Fragments of `datagram`, checked to be real fragments: a decoder holds all but the last
/// and delivers the TCP segment between `a` and `b` from the last.
fn checked(frags: Vec<Vec<u8>>, a: IpAddr, b: IpAddr, wrap: Option<Wrap>) -> Vec<Vec<u8>> {
    let frames: Vec<Vec<u8>> = frags
        .into_iter()
        .map(|f| wrap.map_or(f.clone(), |w| w(&f)))
        .collect();
    let mut d = Decoder::default();
    for (i, f) in frames.iter().enumerate() {
        let out = own(d.decode(Timestamp(1), LinkType::Raw, f, wire(f)));
        if i + 1 < frames.len() {
            assert_eq!(out, Out::Held);
        } else {
            let Out::Tcp(s) = out else { panic!("{out:?}") };
            assert_eq!((s.src, s.dst), (a, b));
            assert_eq!(s.payload.len(), 400);
        }
    }
    frames
}

#[test]
fn every_fragment_hashes_like_the_unfragmented_packets() {
    let payload = [0x5a; 400];
    let mut rng = Rng(0x5eed_0003);
    let vx: Wrap = |p| udp4(61000, 4789, &vxlan(7, &eth(ethertype(p), p)));
    for round in 0..40 {
        let wrap = if round % 2 == 1 { Some(vx) } else { None };
        // First fragment with the TCP header, a middle one and the last.
        let (a, b) = (IpAddr::from(v4(&mut rng)), IpAddr::from(v4(&mut rng)));
        let frags = fragment4(&packet(a, b, &payload), &[24, 200]);
        let frames = checked(frags, a, b, wrap);
        assert_eq!(frames.len(), 3);
        for f in &frames {
            assert_eq!(h(LinkType::Raw, f), bare(a, b));
        }
        // A first fragment holding only part of the TCP header steers the same.
        let frags = fragment4(&packet(a, b, &payload), &[8, 16]);
        for f in checked(frags, a, b, wrap) {
            assert_eq!(h(LinkType::Raw, &f), bare(a, b));
        }
        let (a, b) = (IpAddr::from(v6(&mut rng)), IpAddr::from(v6(&mut rng)));
        let frags = fragment6(&packet(a, b, &payload), &[24, 200], 0x1234_0000 | round);
        for f in checked(frags, a, b, wrap) {
            assert_eq!(h(LinkType::Raw, &f), bare(a, b));
        }
    }
}

fn st(f: &[u8]) -> Steer {
    steer(&DecodeConfig::default(), LinkType::Raw, f, wire(f))
}

#[test]
fn steer_by_connection_is_symmetric_and_separates_ports() {
    let mut rng = Rng(0x5eed_0010);
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let (a, b) = (v4(&mut rng), v4(&mut rng));
        let sport = 1024 + (rng.next() % 60_000) as u16;
        let there = st(&tcp4_between(a, b, sport, 443, b"x"));
        let back = st(&tcp4_between(b, a, 443, sport, b"y"));
        assert_eq!(there, back, "both directions");
        let Steer::Packet(hash) = there else { panic!("{there:?}") };
        seen.insert(hash);
        // Another connection between the same hosts: another hash (the pair hash would not).
        let other = st(&tcp4_between(a, b, sport.wrapping_add(1), 443, b"x"));
        assert_ne!(other, there, "ports are in the hash");
    }
    assert_eq!(seen.len(), 200);
    // Many connections between one gateway and one back end spread over the workers.
    let hashes: Vec<u64> = (0..10_000u16)
        .map(|i| match st(&tcp4_between([10, 0, 0, 1], [10, 0, 0, 2], 20_000 + i, 8080, b"x")) {
            Steer::Packet(h) => h,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_balanced(&hashes, "one host pair, 10,000 client ports");
}

#[test]
fn steer_names_fragments_and_the_first_one_carries_the_connection() {
    let payload = [0x5a; 400];
    let mut rng = Rng(0x5eed_0011);
    for round in 0..20 {
        let (a, b) = (IpAddr::from(v4(&mut rng)), IpAddr::from(v4(&mut rng)));
        let whole = match st(&packet(a, b, b"whole")) {
            Steer::Packet(h) => h,
            other => panic!("{other:?}"),
        };
        let frags = checked(fragment4(&packet(a, b, &payload), &[24, 200]), a, b, None);
        let mut datagrams = HashSet::new();
        for (i, f) in frags.iter().enumerate() {
            let Steer::Fragment { datagram, pair, connection, first } = st(f) else { panic!("fragment {i}") };
            datagrams.insert(datagram);
            assert_eq!(pair, bare(a, b), "the pair hash is the pair's");
            assert_eq!(first, i == 0);
            if i == 0 {
                assert_eq!(connection, Some(whole), "round {round}: the first fragment steers like the connection");
            } else {
                assert_eq!(connection, None, "later fragments show no ports");
            }
        }
        assert_eq!(datagrams.len(), 1, "one datagram key for all its fragments");
        // Another datagram of the same connection: another key.
        let again = fragment6(&packet(IpAddr::from(v6(&mut rng)), IpAddr::from(v6(&mut rng)), &payload), &[24, 200], round);
        let Steer::Fragment { datagram, .. } = st(&again[1]) else { panic!() };
        assert!(!datagrams.contains(&datagram));
    }
}

#[test]
fn outer_fragments_of_a_tunnel_steer_by_the_outer_pair() {
    // The documented limitation: behind a fragmented outer header the inner one is not
    // visible in later fragments, so every fragment goes by the outer pair.
    let (a, b) = (IpAddr::from([10, 9, 0, 1]), IpAddr::from([10, 9, 0, 2]));
    let tunnelled = udp4(
        61000,
        4789,
        &vxlan(7, &eth(0x0800, &packet(a, b, &[1; 400]))),
    );
    let frags = fragment4(&tunnelled, &[64, 256]);
    let mut d = Decoder::default();
    for (i, f) in frags.iter().enumerate() {
        let out = own(d.decode(Timestamp(1), LinkType::Raw, f, wire(f)));
        assert_eq!(matches!(out, Out::Tcp(_)), i == 2, "{out:?}");
        assert_eq!(h(LinkType::Raw, f), outer_pair_hash());
    }
    assert_ne!(outer_pair_hash(), bare(a, b));
}

#[test]
fn steer_looks_into_a_first_outer_fragment_for_the_inner_connection() {
    // What `steer` (unlike the stateless pair hash) does about the case above: the first
    // fragment's data holds the tunnel and inner headers, so it carries the inner connection,
    // and the later fragments name its datagram (the caller routes them after it).
    let mut rng = Rng(0x5eed_0012);
    for _ in 0..20 {
        let (a, b) = (IpAddr::from(v4(&mut rng)), IpAddr::from(v4(&mut rng)));
        let inner = packet(a, b, &[1; 400]);
        let whole = match st(&udp4(61000, 4789, &vxlan(7, &eth(0x0800, &packet(a, b, b"x"))))) {
            Steer::Packet(h) => h,
            other => panic!("{other:?}"),
        };
        assert_eq!(st(&packet(a, b, b"y")), Steer::Packet(whole), "tunnelled or not, one connection");
        let frags = fragment4(&udp4(61000, 4789, &vxlan(7, &eth(0x0800, &inner))), &[64, 256]);
        let mut keys = HashSet::new();
        for (i, f) in frags.iter().enumerate() {
            let Steer::Fragment { datagram, pair, connection, first } = st(f) else { panic!("{i}") };
            keys.insert(datagram);
            assert_eq!(pair, outer_pair_hash(), "the fallback is the outer pair, as every fragment shows");
            assert_eq!(first, i == 0);
            assert_eq!(connection, (i == 0).then_some(whole), "fragment {i}");
        }
        assert_eq!(keys.len(), 1);
    }
}

#[test]
fn snaplen_cut_frames_steer_like_whole_ones() {
    let cfg = DecodeConfig::default();
    let (a, b) = (IpAddr::from([10, 2, 0, 1]), IpAddr::from([10, 2, 0, 2]));
    let whole = eth(
        0x0800,
        &udp4(
            61000,
            4789,
            &vxlan(7, &eth(0x0800, &packet(a, b, &[7; 1200]))),
        ),
    );
    let cut = &whole[..160];
    let mut d = Decoder::default();
    let out = own(d.decode(Timestamp(1), LinkType::Ethernet, cut, wire(&whole)));
    assert!(matches!(out, Out::Tcp(_)), "{out:?}");
    assert_eq!(h(LinkType::Ethernet, cut), bare(a, b));
    assert_eq!(
        steer_hash_with_wire_len(&cfg, LinkType::Ethernet, cut, wire(&whole)),
        bare(a, b)
    );
    // With the cut length as the wire length, the IP length overstates it: malformed.
    assert_eq!(
        steer_hash_with_wire_len(&cfg, LinkType::Ethernet, cut, wire(cut)),
        0
    );
}

#[test]
fn non_ip_and_malformed_frames_give_zero() {
    let ip = tcp4(BODY);
    let mut bad_version = ip.clone();
    bad_version[0] = 0x55;
    let mut short_total = ip.clone();
    short_total[2..4].copy_from_slice(&10u16.to_be_bytes());
    let zero: Vec<(&str, LinkType, Vec<u8>)> = vec![
        ("empty", LinkType::Ethernet, vec![]),
        ("arp", LinkType::Ethernet, eth(0x0806, &[0; 28])),
        ("lldp", LinkType::Ethernet, eth(0x88cc, &[0; 40])),
        ("short ethernet", LinkType::Ethernet, vec![1, 2, 3]),
        ("ip header cut", LinkType::Ethernet, eth(0x0800, &ip[..12])),
        ("bad version", LinkType::Raw, bad_version),
        ("total below header", LinkType::Raw, short_total),
        ("unknown link", LinkType::Other(147), ip.clone()),
        (
            "loopback family",
            LinkType::Null,
            cat(&[&[7, 0, 0, 0], &ip]),
        ),
        ("gre cut", LinkType::Raw, ip4(47, &[0x20, 0, 0x08, 0, 1])),
    ];
    for (name, link, f) in zero {
        assert!(!matches!(decode(link, &f), Out::Tcp(_)), "{name}");
        assert_eq!(h(link, &f), 0, "{name}");
    }
    // Nesting past the depth limit fails the walk as it fails the decoder.
    let mut p = packet(IpAddr::from([1, 1, 1, 1]), IpAddr::from([2, 2, 2, 2]), BODY);
    for _ in 0..9 {
        p = udp4(1, 4789, &vxlan(1, &eth(0x0800, &p)));
    }
    assert_eq!(
        decode(LinkType::Raw, &p),
        Out::Error(DecodeError::DepthLimit)
    );
    assert_eq!(h(LinkType::Raw, &p), 0);
}

#[test]
fn garbage_never_panics() {
    let links = [
        LinkType::Ethernet,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::Null,
        LinkType::Loop,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Nflog,
    ];
    let cfg = DecodeConfig::default();
    let mut rng = Rng(0x5eed_0004);
    for _ in 0..20_000 {
        let len = rng.below(256);
        let f = rng.bytes(len);
        let link = links[rng.below(links.len())];
        let _ = steer_hash(&cfg, link, &f);
        let _ = steer_hash_with_wire_len(&cfg, link, &f, rng.next() as u32);
    }
    // Every prefix and single-byte corruption of every tunnel frame.
    for (_, wrap) in tunnels() {
        let f = wrap(&tcp4(BODY));
        for n in 0..f.len() {
            let _ = h(LinkType::Raw, &f[..n]);
            let mut g = f.clone();
            g[n] ^= 1 << rng.below(8);
            let _ = h(LinkType::Raw, &g);
        }
    }
}

/// Counts per worker, each within ±10% of the mean.
fn assert_balanced(hashes: &[u64], what: &str) {
    for workers in [2usize, 4, 8] {
        let mut counts = vec![0usize; workers];
        for &x in hashes {
            counts[worker_of(x, workers)] += 1;
        }
        let mean = hashes.len() as f64 / workers as f64;
        for (w, &c) in counts.iter().enumerate() {
            let off = (c as f64 - mean).abs() / mean;
            assert!(
                off <= 0.10,
                "{what}: worker {w} of {workers} got {c}, mean {mean}"
            );
        }
    }
}

#[test]
fn random_pairs_spread_evenly_over_workers() {
    let mut rng = Rng(0x5eed_0005);
    let v4_pairs: Vec<u64> = (0..10_000)
        .map(|_| {
            let f = tcp4_between(v4(&mut rng), v4(&mut rng), 1, 2, b"");
            h(LinkType::Raw, &f)
        })
        .collect();
    assert_balanced(&v4_pairs, "random ipv4 pairs");
    let v6_pairs: Vec<u64> = (0..10_000)
        .map(|_| {
            h(
                LinkType::Raw,
                &tcp6_between(v6(&mut rng), v6(&mut rng), b""),
            )
        })
        .collect();
    assert_balanced(&v6_pairs, "random ipv6 pairs");
    // What a bank's mirror looks like: many clients of one subnet talking to one server, or
    // IPv6 clients differing only in the last bits.
    let clients: Vec<u64> = (0..10_000u32)
        .map(|i| {
            let c = (0x0a14_0000 | i).to_be_bytes();
            h(
                LinkType::Raw,
                &tcp4_between(c, [10, 1, 0, 10], 50000, 443, b""),
            )
        })
        .collect();
    assert_balanced(&clients, "one subnet to one server");
    let clients6: Vec<u64> = (0..10_000u128)
        .map(|i| {
            let c = (0x2001_0db8_0000_0000_0000_0000_0000_0000u128 | i).to_be_bytes();
            h(LinkType::Raw, &tcp6_between(c, V6_DST, b""))
        })
        .collect();
    assert_balanced(&clients6, "one ipv6 /64 to one server");
}

#[test]
fn worker_of_edges() {
    assert_eq!(worker_of(u64::MAX, 0), 0);
    assert_eq!(worker_of(u64::MAX, 1), 0);
    assert_eq!(worker_of(0, 5), 0);
    assert_eq!(worker_of(u64::MAX, 5), 4);
    // Equal shares of the hash space: the boundaries of 4 workers are the quarter points.
    assert_eq!(worker_of(u64::MAX / 4, 4), 0);
    assert_eq!(worker_of(u64::MAX / 4 + 1, 4), 1);
    assert_eq!(worker_of(u64::MAX / 4 * 3 + 3, 4), 3);
}

/// `cargo test --release -p apitap-sensor --test steer -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a test"]
fn bench_ns_per_packet() {
    use std::hint::black_box;
    use std::time::Instant;
    let cfg = DecodeConfig::default();
    let ip = tcp4(&[0x41; 512]);
    let frames: Vec<(&str, LinkType, Vec<u8>)> = vec![
        ("arp", LinkType::Ethernet, eth(0x0806, &[0; 28])),
        ("raw ipv4 tcp", LinkType::Raw, ip.clone()),
        ("ethernet ipv4 tcp", LinkType::Ethernet, eth(0x0800, &ip)),
        (
            "vlan ipv4 tcp",
            LinkType::Ethernet,
            eth(0x8100, &tag(10, 0x0800, &ip)),
        ),
        (
            "ethernet ipv6 tcp",
            LinkType::Ethernet,
            eth(0x86dd, &tcp6(&[0x41; 512])),
        ),
        (
            "vxlan ipv4 tcp",
            LinkType::Ethernet,
            eth(0x0800, &udp4(61000, 4789, &vxlan(7, &eth(0x0800, &ip)))),
        ),
    ];
    const N: u32 = 2_000_000;
    for (name, link, f) in &frames {
        let start = Instant::now();
        let mut acc = 0u64;
        for _ in 0..N {
            acc ^= steer_hash(&cfg, *link, black_box(f));
        }
        let steer = start.elapsed().as_nanos() as f64 / f64::from(N);
        let mut d = Decoder::new(cfg.clone());
        let start = Instant::now();
        for _ in 0..N {
            black_box(d.decode(Timestamp(1), *link, black_box(f), wire(f)));
        }
        let full = start.elapsed().as_nanos() as f64 / f64::from(N);
        println!("{name:>20}: steer_hash {steer:6.1} ns/packet, Decoder::decode {full:6.1} ns/packet ({acc:x})");
    }
}
