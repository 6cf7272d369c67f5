//! Tunnels on crafted packets: etherparse builds IP/UDP/TCP, tunnel headers are wrapped by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod decode_support;

use apitap_sensor::decode::{DecodeConfig, DecodeError, Decoder, Layer, SkipReason};
use apitap_sensor::{LinkType, Timestamp};
use decode_support::*;

const BODY: &[u8] = b"POST /v1/transfers HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";

#[test]
fn gre_plain_and_with_key_seq_checksum() {
    for flags in [0x0000u16, 0x2000, 0x1000, 0x8000, 0xb000] {
        let f = eth(0x0800, &ip4(47, &gre(flags, 0x0800, &tcp4(BODY))));
        assert_seg4(&tcp(LinkType::Ethernet, &f), BODY);
    }
    let f = ip6(47, &gre(0x2000, 0x86dd, &tcp6(BODY)));
    assert_seg6(&tcp(LinkType::Raw, &f), BODY);
    // Transparent Ethernet bridging, with a VLAN inside.
    let inner = eth(0x8100, &tag(30, 0x0800, &tcp4(BODY)));
    let s = tcp(LinkType::Raw, &ip4(47, &gre(0x2000, 0x6558, &inner)));
    assert_seg4(&s, BODY);
    assert_eq!(s.vlans, [Some(30), None]);
    // MPLS over GRE.
    let f = ip4(
        47,
        &gre(0, 0x8847, &cat(&[&[0, 0x01, 0x01, 0x40], &tcp4(BODY)])),
    );
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
    assert_eq!(
        decode(LinkType::Raw, &ip4(47, &gre(0, 0x0806, &[0; 28]))),
        Out::Skipped(SkipReason::EtherType(0x0806))
    );
    assert_eq!(
        decode(LinkType::Raw, &ip4(47, &[0x20, 0, 0x08, 0, 1])),
        Out::Error(DecodeError::Truncated { layer: Layer::Gre })
    );
}

#[test]
fn gre_over_udp() {
    let f = udp4(50000, 4754, &gre(0, 0x0800, &tcp4(BODY)));
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
    let f = udp6(50000, 4754, &gre(0x2000, 0x86dd, &tcp6(BODY)));
    assert_seg6(&tcp(LinkType::Raw, &f), BODY);
}

#[test]
fn erspan_type_i_ii_iii() {
    let mirrored = eth(0x0800, &tcp4(BODY));
    // Type I: GRE protocol 0x88be, no sequence number, no ERSPAN header.
    let f = ip4(47, &gre(0, 0x88be, &mirrored));
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
    // Type II.
    let f = ip4(
        47,
        &gre(0x1000, 0x88be, &cat(&[&erspan2_header(12, 5), &mirrored])),
    );
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
    // Type III without and with the platform subheader.
    for platform in [false, true] {
        let f = ip4(
            47,
            &gre(
                0x1000,
                0x22eb,
                &cat(&[&erspan3_header(0, platform), &mirrored]),
            ),
        );
        assert_seg4(&tcp(LinkType::Raw, &f), BODY);
    }
    // Type III carrying IP directly (frame type 2).
    let f = ip4(
        47,
        &gre(
            0x1000,
            0x22eb,
            &cat(&[&erspan3_header(2, false), &tcp6(BODY)]),
        ),
    );
    assert_seg6(&tcp(LinkType::Raw, &f), BODY);
    // Type II with the wrong version.
    let mut bad = erspan2_header(1, 1);
    bad[0] = 0x30;
    let f = ip4(47, &gre(0x1000, 0x88be, &cat(&[&bad, &mirrored])));
    assert!(matches!(
        decode(LinkType::Raw, &f),
        Out::Error(DecodeError::BadHeader {
            layer: Layer::Erspan,
            ..
        })
    ));
}

#[test]
fn vxlan_on_both_default_ports() {
    for port in [4789u16, 8472] {
        let inner = eth(0x0800, &tcp4(BODY));
        let f = eth(0x0800, &udp4(61000, port, &vxlan(7, &inner)));
        assert_seg4(&tcp(LinkType::Ethernet, &f), BODY);
    }
    // Over IPv6 with an inner IPv6 frame.
    let f = udp6(61000, 4789, &vxlan(7, &eth(0x86dd, &tcp6(BODY))));
    assert_seg6(&tcp(LinkType::Raw, &f), BODY);
    // Not on a configured port: plain UDP.
    let f = udp4(61000, 4788, &vxlan(7, &eth(0x0800, &tcp4(BODY))));
    assert_eq!(decode(LinkType::Raw, &f), Out::Skipped(SkipReason::Udp));
    // Ports are configurable.
    let cfg = DecodeConfig {
        vxlan_ports: vec![4788],
        ..Default::default()
    };
    assert!(matches!(decode_cfg(cfg, LinkType::Raw, &f), Out::Tcp(_)));
}

#[test]
fn geneve_with_options() {
    let opts = [0x01, 0x02, 0x80, 0x01, 0xaa, 0xbb, 0xcc, 0xdd];
    let f = udp4(
        61000,
        6081,
        &geneve(&opts, 0x6558, &eth(0x0800, &tcp4(BODY))),
    );
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
    let f = udp4(61000, 6081, &geneve(&[], 0x86dd, &tcp6(BODY)));
    assert_seg6(&tcp(LinkType::Raw, &f), BODY);
    // Options longer than the datagram.
    let mut g = geneve(&opts, 0x6558, &[]);
    g[0] = 0x3f;
    assert_eq!(
        decode(LinkType::Raw, &udp4(61000, 6081, &g)),
        Out::Error(DecodeError::Truncated {
            layer: Layer::Geneve
        })
    );
}

#[test]
fn gtpu_with_extension_headers() {
    let f = udp4(2152, 2152, &gtpu(255, &[], &tcp4(BODY)));
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
    // PDU session container (0x85) then a UDP port extension (0x40).
    let exts: [(u8, &[u8]); 2] = [(0x85, &[0x10, 0x09]), (0x40, &[0x08, 0x68])];
    let f = udp4(40000, 2152, &gtpu(255, &exts, &tcp6(BODY)));
    assert_seg6(&tcp(LinkType::Raw, &f), BODY);
    // Downlink and uplink on different ports: the source port matches.
    let f = udp4(2152, 5906, &gtpu(255, &exts, &tcp4(BODY)));
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
    // Echo request.
    let f = udp4(2152, 2152, &gtpu(1, &[], &[]));
    assert_eq!(
        decode(LinkType::Raw, &f),
        Out::Skipped(SkipReason::GtpMessage(1))
    );
}

#[test]
fn teredo_with_origin_indication_and_authentication() {
    let f = eth(
        0x0800,
        &udp4(3544, 3797, &cat(&[&origin_indication(), &tcp_teredo(BODY)])),
    );
    let s = tcp(LinkType::Ethernet, &f);
    assert_eq!(s.src, std::net::IpAddr::from(teredo_addr(1)));
    assert_eq!(s.payload, BODY);
    let mut auth = vec![0x00, 0x01, 3, 2, b'i', b'd', b'x', 0xa1, 0xa2];
    auth.extend_from_slice(&[9; 8]); // nonce
    auth.push(0); // confirmation
    let f = udp4(
        3797,
        3544,
        &cat(&[&auth, &origin_indication(), &tcp_teredo(BODY)]),
    );
    assert_eq!(tcp(LinkType::Raw, &f).payload, BODY);
    // On the Teredo port the payload must be IPv6.
    let f = udp4(3797, 3544, &tcp4(BODY));
    assert!(matches!(
        decode(LinkType::Raw, &f),
        Out::Error(DecodeError::BadHeader {
            layer: Layer::Teredo,
            ..
        })
    ));
}

#[test]
fn teredo_detected_on_other_ports() {
    let f = udp4(32900, 3797, &tcp_teredo(BODY));
    assert_eq!(tcp(LinkType::Raw, &f).payload, BODY);
    // Without a Teredo address it stays plain UDP.
    let f = udp4(32900, 3797, &tcp6(BODY));
    assert_eq!(decode(LinkType::Raw, &f), Out::Skipped(SkipReason::Udp));
    // Detection can be turned off.
    let cfg = DecodeConfig {
        teredo_detect_any_port: false,
        ..Default::default()
    };
    let f = udp4(32900, 3797, &tcp_teredo(BODY));
    assert_eq!(
        decode_cfg(cfg, LinkType::Raw, &f),
        Out::Skipped(SkipReason::Udp)
    );
    // A length mismatch is not Teredo.
    let mut p = tcp_teredo(BODY);
    p.push(0);
    assert_eq!(
        decode(LinkType::Raw, &udp4(32900, 3797, &p)),
        Out::Skipped(SkipReason::Udp)
    );
}

#[test]
fn teredo_bubble_is_no_next_header() {
    let mut bubble = ip6(59, &[]);
    bubble[8..24].copy_from_slice(&teredo_addr(1));
    bubble.extend_from_slice(&[0; 8]); // a bubble with trailing bytes
    let f = udp4(3797, 32900, &bubble);
    assert_eq!(
        decode(LinkType::Raw, &f),
        Out::Skipped(SkipReason::NoNextHeader)
    );
}

#[test]
fn ayiya_forward_packets() {
    let f = udp4(5072, 5072, &ayiya(41, 1, &tcp6(BODY)));
    assert_seg6(&tcp(LinkType::Raw, &f), BODY);
    let f = udp4(40000, 5072, &ayiya(4, 1, &tcp4(BODY)));
    assert_seg4(&tcp(LinkType::Raw, &f), BODY);
    let f = udp4(5072, 5072, &ayiya(59, 0, &[]));
    assert_eq!(
        decode(LinkType::Raw, &f),
        Out::Skipped(SkipReason::TunnelPayload(Layer::Ayiya))
    );
}

#[test]
fn ip_in_ip_both_ways() {
    assert_seg4(&tcp(LinkType::Raw, &ip4(4, &tcp4(BODY))), BODY);
    assert_seg6(&tcp(LinkType::Raw, &ip4(41, &tcp6(BODY))), BODY);
    assert_seg4(&tcp(LinkType::Raw, &ip6(4, &tcp4(BODY))), BODY);
    assert_seg6(&tcp(LinkType::Raw, &ip6(41, &tcp6(BODY))), BODY);
}

#[test]
fn tunnel_counters() {
    let mut d = Decoder::new(DecodeConfig::default());
    let frames = [
        udp4(1, 4789, &vxlan(1, &eth(0x0800, &tcp4(BODY)))),
        ip4(
            47,
            &gre(
                0x1000,
                0x88be,
                &cat(&[&erspan2_header(1, 1), &eth(0x0800, &tcp4(BODY))]),
            ),
        ),
        udp4(2152, 2152, &gtpu(255, &[], &tcp4(BODY))),
        ip4(4, &tcp4(BODY)),
    ];
    for f in &frames {
        assert!(matches!(
            own(d.decode(Timestamp(1), LinkType::Raw, f, wire(f))),
            Out::Tcp(_)
        ));
    }
    let s = d.stats();
    assert_eq!(
        (s.vxlan, s.gre, s.erspan, s.gtpu, s.ip_in_ip),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(s.ipv4, 8);
}

/// `n` GRE layers around a TCP segment.
fn nested_gre(n: usize) -> Vec<u8> {
    let mut p = tcp4(BODY);
    for _ in 0..n {
        p = ip4(47, &gre(0, 0x0800, &p));
    }
    p
}

#[test]
fn depth_limit_boundary() {
    // The outermost IP is the first; every GRE beyond it is one layer.
    assert_seg4(&tcp(LinkType::Raw, &nested_gre(8)), BODY);
    assert_eq!(
        decode(LinkType::Raw, &nested_gre(9)),
        Out::Error(DecodeError::DepthLimit)
    );
    let cfg = DecodeConfig {
        max_depth: 2,
        ..Default::default()
    };
    assert!(matches!(
        decode_cfg(cfg.clone(), LinkType::Raw, &nested_gre(2)),
        Out::Tcp(_)
    ));
    assert_eq!(
        decode_cfg(cfg, LinkType::Raw, &nested_gre(3)),
        Out::Error(DecodeError::DepthLimit)
    );
}

#[test]
fn self_encapsulation_a_thousand_times_fails_cleanly() {
    let mut d = Decoder::new(DecodeConfig::default());
    let f = nested_gre(1000);
    let out = own(d.decode(Timestamp(1), LinkType::Raw, &f, wire(&f)));
    assert_eq!(out, Out::Error(DecodeError::DepthLimit));
    assert_eq!(d.stats().depth_limit, 1);

    let mut p = tcp6(BODY);
    for _ in 0..1000 {
        p = ip6(41, &p);
    }
    assert_eq!(
        decode(LinkType::Raw, &p),
        Out::Error(DecodeError::DepthLimit)
    );

    // VXLAN in VXLAN: each level has UDP, VXLAN, Ethernet and IP.
    let mut p = tcp4(BODY);
    for _ in 0..500 {
        p = udp4(1, 4789, &vxlan(1, &eth(0x0800, &p)));
    }
    assert_eq!(
        decode(LinkType::Raw, &p),
        Out::Error(DecodeError::DepthLimit)
    );
}

#[test]
fn inner_vlan_tags_count_toward_depth() {
    // VXLAN (1) + 7 inner VLAN tags = 8 layers: fine; one more tag is too deep.
    let build = |tags: u16| {
        let mut inner = tcp4(BODY);
        let mut et = 0x0800;
        for vid in 0..tags {
            inner = tag(vid + 1, et, &inner);
            et = 0x8100;
        }
        udp4(1, 4789, &vxlan(1, &eth(et, &inner)))
    };
    let s = tcp(LinkType::Raw, &build(7));
    assert_eq!(s.vlans, [Some(7), Some(6)]);
    assert_eq!(
        decode(LinkType::Raw, &build(8)),
        Out::Error(DecodeError::DepthLimit)
    );
}
