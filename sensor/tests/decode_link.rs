//! Link types, tags, MPLS, PPPoE, IP headers, padding and snaplen cuts, on crafted packets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod decode_support;

use apitap_sensor::decode::{DecodeConfig, DecodeError, DecodeEvent, Decoder, Layer, SkipReason};
use apitap_sensor::{LinkType, Timestamp};
use decode_support::*;
use etherparse::PacketBuilder;

const BODY: &[u8] = b"GET /accounts/42 HTTP/1.1\r\nHost: api.bank.example\r\n\r\n";

#[test]
fn ethernet_ipv4_and_ipv6() {
    let s = tcp(LinkType::Ethernet, &eth(0x0800, &tcp4(BODY)));
    assert_seg4(&s, BODY);
    assert_eq!(s.vlans, [None, None]);
    let s = tcp(LinkType::Ethernet, &eth(0x86dd, &tcp6(BODY)));
    assert_seg6(&s, BODY);
}

#[test]
fn ethernet_built_by_etherparse() {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(V4_SRC, V4_DST, 64)
        .tcp(SPORT, DPORT, SEQ, 1000)
        .syn()
        .write(&mut f, &[])
        .unwrap();
    let s = tcp(LinkType::Ethernet, &f);
    assert!(s.syn);
    assert_seg4(&s, &[]);
}

#[test]
fn linux_cooked_v1_and_v2() {
    let mut f = Vec::new();
    PacketBuilder::linux_sll(
        etherparse::LinuxSllPacketType::OTHERHOST,
        6,
        [1, 2, 3, 4, 5, 6, 0, 0],
    )
    .ipv6(V6_SRC, V6_DST, 64)
    .tcp(SPORT, DPORT, SEQ, 1000)
    .write(&mut f, BODY)
    .unwrap();
    assert_seg6(&tcp(LinkType::LinuxSll, &f), BODY);

    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
    sll2.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0, 0]);
    sll2.extend_from_slice(&tcp4(BODY));
    assert_seg4(&tcp(LinkType::LinuxSll2, &sll2), BODY);
}

#[test]
fn raw_link_types_pick_by_version() {
    assert_seg4(&tcp(LinkType::Raw, &tcp4(BODY)), BODY);
    assert_seg6(&tcp(LinkType::Raw, &tcp6(BODY)), BODY);
    assert_seg4(&tcp(LinkType::Ipv4, &tcp4(BODY)), BODY);
    assert_seg6(&tcp(LinkType::Ipv6, &tcp6(BODY)), BODY);
    assert!(matches!(
        decode(LinkType::Ipv4, &tcp6(BODY)),
        Out::Error(DecodeError::BadHeader {
            layer: Layer::Ipv4,
            ..
        })
    ));
    assert!(matches!(
        decode(LinkType::Raw, &[0x55; 40]),
        Out::Error(DecodeError::BadHeader {
            layer: Layer::Raw,
            ..
        })
    ));
}

#[test]
fn null_and_loop() {
    for af in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
        assert_seg4(&tcp(LinkType::Null, &cat(&[&af, &tcp4(BODY)])), BODY);
    }
    for v in [24u32, 28, 30] {
        assert_seg6(
            &tcp(LinkType::Null, &cat(&[&v.to_le_bytes(), &tcp6(BODY)])),
            BODY,
        );
        assert_seg6(
            &tcp(LinkType::Loop, &cat(&[&v.to_be_bytes(), &tcp6(BODY)])),
            BODY,
        );
    }
    assert_eq!(
        decode(LinkType::Null, &cat(&[&17u32.to_le_bytes(), &tcp4(BODY)])),
        Out::Skipped(SkipReason::LoopbackFamily(17))
    );
}

#[test]
fn nflog_payload_attribute() {
    let pkt = tcp4(BODY);
    let mut f = vec![2, 0, 0, 1];
    // NFULA_PACKET_HDR (type 1, 8 bytes), NFULA_PREFIX "x\0" (type 10, 6 bytes + 2 padding).
    f.extend_from_slice(&[8, 0, 1, 0, 0x08, 0x00, 1, 0]);
    f.extend_from_slice(&[6, 0, 10, 0, b'x', 0, 0, 0]);
    let len = u16::try_from(pkt.len() + 4).unwrap();
    f.extend_from_slice(&len.to_le_bytes());
    f.extend_from_slice(&9u16.to_le_bytes());
    f.extend_from_slice(&pkt);
    assert_seg4(&tcp(LinkType::Nflog, &f), BODY);
    f[0] = 7;
    assert_eq!(
        decode(LinkType::Nflog, &f),
        Out::Skipped(SkipReason::NflogFamily(7))
    );
}

#[test]
fn other_link_types_and_arp_are_skipped() {
    assert_eq!(
        decode(LinkType::Other(105), &[0; 40]),
        Out::Skipped(SkipReason::LinkType(105))
    );
    assert_eq!(
        decode(LinkType::Ethernet, &eth(0x0806, &[0; 28])),
        Out::Skipped(SkipReason::EtherType(0x0806))
    );
    assert_eq!(
        decode(LinkType::Ethernet, &eth(0x8863, &[0; 28])),
        Out::Skipped(SkipReason::EtherType(0x8863))
    );
}

#[test]
fn dot1q_and_qinq_record_outermost_first() {
    let s = tcp(
        LinkType::Ethernet,
        &eth(0x8100, &tag(0x2000 | 100, 0x0800, &tcp4(BODY))),
    );
    assert_seg4(&s, BODY);
    assert_eq!(s.vlans, [Some(100), None]);

    for outer in [0x88a8u16, 0x9100, 0x8100] {
        let inner = tag(200, 0x86dd, &tcp6(BODY));
        let s = tcp(LinkType::Ethernet, &eth(outer, &tag(10, 0x8100, &inner)));
        assert_seg6(&s, BODY);
        assert_eq!(s.vlans, [Some(10), Some(200)]);
    }
    // Three tags: the first two are kept.
    let f = eth(
        0x88a8,
        &tag(1, 0x8100, &tag(2, 0x8100, &tag(3, 0x0800, &tcp4(BODY)))),
    );
    assert_eq!(tcp(LinkType::Ethernet, &f).vlans, [Some(1), Some(2)]);
}

#[test]
fn etherparse_double_vlan() {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .double_vlan(
            etherparse::VlanId::try_new(7).unwrap(),
            etherparse::VlanId::try_new(8).unwrap(),
        )
        .ipv4(V4_SRC, V4_DST, 64)
        .tcp(SPORT, DPORT, SEQ, 1000)
        .write(&mut f, BODY)
        .unwrap();
    let s = tcp(LinkType::Ethernet, &f);
    assert_seg4(&s, BODY);
    assert_eq!(s.vlans, [Some(7), Some(8)]);
}

#[test]
fn too_many_link_tags_is_depth_limit() {
    let mut inner = tcp4(BODY);
    let mut et = 0x0800;
    for vid in 0..17 {
        inner = tag(vid, et, &inner);
        et = 0x8100;
    }
    let f = eth(et, &inner);
    assert_eq!(
        decode(LinkType::Ethernet, &f),
        Out::Error(DecodeError::DepthLimit)
    );
    let cfg = DecodeConfig {
        max_link_tags: 17,
        ..Default::default()
    };
    assert!(matches!(
        decode_cfg(cfg, LinkType::Ethernet, &f),
        Out::Tcp(_)
    ));
}

fn label(value: u32, bottom: bool) -> [u8; 4] {
    ((value << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes()
}

#[test]
fn mpls_stacks() {
    let f = eth(
        0x8847,
        &cat(&[
            &label(100, false),
            &label(200, false),
            &label(300, true),
            &tcp4(BODY),
        ]),
    );
    assert_seg4(&tcp(LinkType::Ethernet, &f), BODY);
    let f = eth(0x8848, &cat(&[&label(2, true), &tcp6(BODY)]));
    assert_seg6(&tcp(LinkType::Ethernet, &f), BODY);
    // Ethernet pseudowire with a control word, and a VLAN tag inside.
    let pw = eth(0x8100, &tag(55, 0x0800, &tcp4(BODY)));
    let f = eth(
        0x8847,
        &cat(&[&label(16, false), &label(17, true), &[0, 0, 0, 5], &pw]),
    );
    let s = tcp(LinkType::Ethernet, &f);
    assert_seg4(&s, BODY);
    assert_eq!(s.vlans, [Some(55), None]);
    let f = eth(0x8847, &cat(&[&label(16, true), &[0x10, 0, 0, 0]]));
    assert_eq!(
        decode(LinkType::Ethernet, &f),
        Out::Skipped(SkipReason::MplsPayload)
    );
}

#[test]
fn pppoe_session() {
    let pkt = tcp4(BODY);
    let mut p = vec![0x11, 0x00, 0x12, 0x34];
    p.extend_from_slice(&u16::try_from(pkt.len() + 2).unwrap().to_be_bytes());
    p.extend_from_slice(&[0x00, 0x21]);
    p.extend_from_slice(&pkt);
    assert_seg4(&tcp(LinkType::Ethernet, &eth(0x8864, &p)), BODY);

    let pkt = tcp6(BODY);
    let mut p = vec![0x11, 0x00, 0x12, 0x34];
    p.extend_from_slice(&u16::try_from(pkt.len() + 2).unwrap().to_be_bytes());
    p.extend_from_slice(&[0x00, 0x57]);
    p.extend_from_slice(&pkt);
    assert_seg6(&tcp(LinkType::Ethernet, &eth(0x8864, &p)), BODY);

    let lcp = [0x11, 0, 0x12, 0x34, 0, 6, 0xc0, 0x21, 1, 1, 0, 4];
    assert_eq!(
        decode(LinkType::Ethernet, &eth(0x8864, &lcp)),
        Out::Skipped(SkipReason::PppProtocol(0xc021))
    );
}

#[test]
fn ethernet_padding_is_not_payload() {
    // A bare ACK is 40 bytes of IP; Ethernet pads the frame to 60 bytes.
    let mut f = eth(0x0800, &tcp4(&[]));
    f.resize(60, 0xee);
    let s = tcp(LinkType::Ethernet, &f);
    assert_eq!(s.payload, Vec::<u8>::new());
    assert_eq!(s.payload_len, 0);
    // Same for IPv6 with a trailer (e.g. an FCS).
    let mut f = eth(0x86dd, &tcp6(b"hi"));
    f.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let s = tcp(LinkType::Ethernet, &f);
    assert_eq!(s.payload, b"hi".to_vec());
    assert_eq!(s.payload_len, 2);
}

#[test]
fn snaplen_cut_delivers_captured_payload_with_wire_length() {
    let body = vec![b'x'; 1000];
    let f = eth(0x0800, &tcp4(&body));
    let captured = &f[..14 + 20 + 20 + 100];
    let mut d = Decoder::new(DecodeConfig::default());
    match own(d.decode(Timestamp(1), LinkType::Ethernet, captured, wire(&f))) {
        Out::Tcp(s) => {
            assert_eq!(s.payload, vec![b'x'; 100]);
            assert_eq!(s.payload_len, 1000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.stats().tcp_truncated, 1);
    // Cut inside the TCP header: nothing to deliver.
    let out = own(d.decode(
        Timestamp(1),
        LinkType::Ethernet,
        &f[..14 + 20 + 10],
        wire(&f),
    ));
    assert_eq!(
        out,
        Out::Error(DecodeError::Truncated { layer: Layer::Tcp })
    );
    // An IP length beyond what was on the wire is a truncated packet, not a cut one.
    let out = own(d.decode(Timestamp(1), LinkType::Ethernet, captured, wire(captured)));
    assert_eq!(
        out,
        Out::Error(DecodeError::Truncated { layer: Layer::Ipv4 })
    );
}

#[test]
fn ipv4_options_are_skipped() {
    let mut ip =
        etherparse::Ipv4Header::new(0, 64, etherparse::IpNumber::TCP, V4_SRC, V4_DST).unwrap();
    ip.options = [0x94u8, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00].into();
    let mut f = Vec::new();
    PacketBuilder::ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
        .tcp(SPORT, DPORT, SEQ, 1000)
        .write(&mut f, BODY)
        .unwrap();
    assert_eq!(f[0] & 0x0f, 7);
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
}

/// Inserts raw extension headers between the IPv6 header and its payload.
fn with_exts(pkt: &[u8], first: u8, exts: &[u8]) -> Vec<u8> {
    let mut v = pkt[..40].to_vec();
    v[6] = first;
    let plen = u16::from_be_bytes([v[4], v[5]]) + u16::try_from(exts.len()).unwrap();
    v[4..6].copy_from_slice(&plen.to_be_bytes());
    v.extend_from_slice(exts);
    v.extend_from_slice(&pkt[40..]);
    v
}

#[test]
fn ipv6_extension_headers() {
    let pkt = tcp6(BODY);
    let mut exts = vec![43, 0, 0, 0, 0, 0, 0, 0]; // hop-by-hop -> routing
    exts.extend_from_slice(&[60, 2, 0, 1, 0, 0, 0, 0]); // routing (24 bytes) -> dst opts
    exts.extend_from_slice(&[0; 16]);
    exts.extend_from_slice(&[51, 0, 1, 2, 0, 0, 0, 0]); // dst opts -> AH
    exts.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1]); // AH (12 bytes) -> TCP
    let f = with_exts(&pkt, 0, &exts);
    assert_seg6(&tcp(LinkType::Raw, &f), BODY);
    // ESP stops decoding.
    let f = with_exts(&pkt, 60, &[50, 0, 1, 2, 0, 0, 0, 0]);
    assert_eq!(decode(LinkType::Raw, &f), Out::Skipped(SkipReason::Esp));
    // An extension header longer than the packet.
    let mut bare = pkt[..40].to_vec();
    bare[4..6].copy_from_slice(&[0, 0]);
    let f = with_exts(&bare, 60, &[6, 9, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        decode(LinkType::Raw, &f),
        Out::Error(DecodeError::Truncated {
            layer: Layer::Ipv6Ext
        })
    );
}

#[test]
fn ipv4_ah_then_tcp() {
    let pkt = tcp4(BODY);
    let mut ah = vec![6, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
    ah.extend_from_slice(&[0xaa; 12]); // ICV: (4 + 2) * 4 = 24 bytes in all
    let mut f = ip4(51, &cat(&[&ah, &pkt[20..]]));
    f[12..16].copy_from_slice(&V4_SRC);
    f[16..20].copy_from_slice(&V4_DST);
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
}

#[test]
fn non_tcp_is_skipped() {
    let mut icmp = Vec::new();
    PacketBuilder::ipv4(V4_SRC, V4_DST, 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut icmp, &[])
        .unwrap();
    assert_eq!(
        decode(LinkType::Raw, &icmp),
        Out::Skipped(SkipReason::IpProtocol(1))
    );
    assert_eq!(
        decode(LinkType::Raw, &udp4(5353, 53, b"dns")),
        Out::Skipped(SkipReason::Udp)
    );
    assert_eq!(
        decode(LinkType::Raw, &ip6(59, &[])),
        Out::Skipped(SkipReason::NoNextHeader)
    );
    assert_eq!(
        decode(LinkType::Raw, &ip4(132, &[0; 12])),
        Out::Skipped(SkipReason::IpProtocol(132))
    );
}

#[test]
fn zero_ip_length_uses_captured_length_with_event() {
    let mut f = tcp4(BODY);
    f[2] = 0;
    f[3] = 0;
    let mut d = Decoder::new(DecodeConfig::default());
    match own(d.decode(Timestamp(5), LinkType::Raw, &f, wire(&f))) {
        Out::Tcp(s) => assert_seg4(&s, BODY),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        d.poll_event(),
        Some(DecodeEvent::IpLengthZero {
            ts: Timestamp(5),
            layer: Layer::Ipv4
        })
    );
    assert_eq!(d.stats().ip_length_zero, 1);
}

#[test]
fn stats_add_up() {
    let mut d = Decoder::new(DecodeConfig::default());
    let frames = [
        eth(0x0800, &tcp4(BODY)),
        eth(0x0806, &[0; 28]),
        eth(0x0800, &[0x45, 0]),
        eth(0x8100, &tag(3, 0x86dd, &tcp6(BODY))),
    ];
    for f in &frames {
        let _ = d.decode(Timestamp(1), LinkType::Ethernet, f, wire(f));
    }
    let s = *d.stats();
    assert_eq!(
        (s.packets, s.tcp, s.skipped, s.errors, s.held),
        (4, 2, 1, 1, 0)
    );
    assert_eq!((s.ipv4, s.ipv6, s.vlan), (1, 1, 1));
    let c = s.counters();
    assert!(c.contains(&("packets", 4)));
    assert!(c.contains(&("errors", 1)));
}
