//! What a mirror port or a capture on an end host delivers when the NIC does the work:
//! segmentation offload super-frames (IP length zero, frames far above the MTU) and checksums
//! that do not verify. None of them is dropped; the odd ones are counted. Also the TCP
//! timestamps option, which the flow table needs for PAWS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod decode_support;

use apitap_sensor::decode::{DecodeConfig, DecodeEvent, Decoded, Decoder, Layer};
use apitap_sensor::{LinkType, Timestamp};
use decode_support::*;
use etherparse::{PacketBuilder, TcpOptionElement};

const BODY: &[u8] =
    b"POST /payments HTTP/1.1\r\nHost: api.bank.example\r\nContent-Length: 2\r\n\r\n{}";

fn decode_with(d: &mut Decoder, frame: &[u8]) -> Out {
    own(d.decode(Timestamp(9), LinkType::Raw, frame, wire(frame)))
}

#[test]
fn bad_checksums_are_counted_and_the_segment_is_still_delivered() {
    let mut d = Decoder::new(DecodeConfig::default());
    let good = tcp4(BODY);
    assert!(matches!(decode_with(&mut d, &good), Out::Tcp(_)));
    assert_eq!(
        (d.stats().tcp_checksum_bad, d.stats().ipv4_checksum_bad),
        (0, 0)
    );

    // One payload byte changed after the checksum was computed.
    let mut bad_tcp = good.clone();
    *bad_tcp.last_mut().unwrap() ^= 0x20;
    match decode_with(&mut d, &bad_tcp) {
        Out::Tcp(s) => assert_eq!(s.payload, &bad_tcp[40..]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (d.stats().tcp_checksum_bad, d.stats().ipv4_checksum_bad),
        (1, 0)
    );

    // The TTL is covered by the IP header checksum only.
    let mut bad_ip = good.clone();
    bad_ip[8] = 3;
    assert!(matches!(decode_with(&mut d, &bad_ip), Out::Tcp(_)));
    assert_eq!(
        (d.stats().tcp_checksum_bad, d.stats().ipv4_checksum_bad),
        (1, 1)
    );

    // IPv6 has no header checksum; the TCP one covers its addresses.
    let mut bad6 = tcp6(BODY);
    bad6[8] ^= 1; // a bit of the source address
    assert!(matches!(decode_with(&mut d, &bad6), Out::Tcp(_)));
    assert_eq!(d.stats().tcp_checksum_bad, 2);
    assert_eq!(d.stats().tcp, 4, "every one of them decoded");

    // Turned off, nothing is verified.
    let mut off = Decoder::new(DecodeConfig {
        verify_checksums: false,
        ..DecodeConfig::default()
    });
    for f in [&bad_tcp, &bad_ip, &bad6] {
        assert!(matches!(decode_with(&mut off, f), Out::Tcp(_)));
    }
    assert_eq!(
        (off.stats().tcp_checksum_bad, off.stats().ipv4_checksum_bad),
        (0, 0)
    );
}

#[test]
fn a_segment_cut_by_the_snaplen_is_not_judged_by_its_checksum() {
    let mut d = Decoder::new(DecodeConfig::default());
    let f = tcp4(BODY);
    let cut = &f[..f.len() - 10];
    match own(d.decode(Timestamp(1), LinkType::Raw, cut, wire(&f))) {
        Out::Tcp(s) => assert_eq!(s.payload_len as usize, BODY.len()),
        other => panic!("{other:?}"),
    }
    assert_eq!(d.stats().tcp_checksum_bad, 0);
}

/// An IPv4 TCP frame of `payload` bytes with its total length field set to zero, the way a
/// capture taken above the NIC records a TSO or BIG TCP super-frame (the checksum is only the
/// pseudo-header's, left for the NIC to finish).
fn super_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = tcp4(b"");
    f.extend_from_slice(payload);
    f[2] = 0;
    f[3] = 0;
    f
}

#[test]
fn offload_super_frames_with_zero_ip_length_are_decoded_whole() {
    let mut d = Decoder::new(DecodeConfig::default());
    // 40,000 bytes (TSO, under the 16-bit limit) and 150,000 bytes (BIG TCP, over it).
    for (i, size) in [40_000usize, 150_000].into_iter().enumerate() {
        let payload: Vec<u8> = (0..size).map(|n| (n % 251) as u8).collect();
        let f = super_frame(&payload);
        match decode_with(&mut d, &f) {
            Out::Tcp(s) => {
                assert_eq!(s.payload_len as usize, size);
                assert!(s.payload == payload, "payload of {size} bytes intact");
            }
            other => panic!("{size}: {other:?}"),
        }
        assert_eq!(d.stats().ip_length_zero, i as u64 + 1);
        assert_eq!(
            d.poll_event(),
            Some(DecodeEvent::IpLengthZero {
                ts: Timestamp(9),
                layer: Layer::Ipv4
            })
        );
    }
    // Their checksums were never finished: not verified, so not counted as bad.
    assert_eq!(d.stats().tcp_checksum_bad, 0);
    assert_eq!(d.stats().errors, 0);
}

#[test]
fn frames_above_the_mtu_with_a_real_length_are_decoded() {
    // GRO on the capturing host merges segments into one frame with a real total length.
    let payload = vec![b'j'; 60_000];
    let f = tcp4(&payload);
    assert!(f.len() > 9000);
    let mut d = Decoder::new(DecodeConfig::default());
    match decode_with(&mut d, &f) {
        Out::Tcp(s) => assert_eq!(s.payload.len(), 60_000),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (d.stats().ip_length_zero, d.stats().tcp_checksum_bad),
        (0, 0)
    );
}

#[test]
fn the_timestamps_option_is_read_into_tsval() {
    let b = PacketBuilder::ipv4(V4_SRC, V4_DST, 64)
        .tcp(SPORT, DPORT, SEQ, 8192)
        .options(&[
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Timestamp(0xdead_beef, 7),
        ])
        .unwrap()
        .ack(1);
    let mut f = Vec::new();
    b.write(&mut f, BODY).unwrap();
    let mut d = Decoder::new(DecodeConfig::default());
    match d.decode(Timestamp(1), LinkType::Raw, &f, wire(&f)) {
        Decoded::Tcp(s) => {
            assert_eq!(s.tsval, Some(0xdead_beef));
            assert_eq!(s.payload, BODY);
        }
        other => panic!("{other:?}"),
    }
    let plain = tcp4(BODY);
    match d.decode(Timestamp(2), LinkType::Raw, &plain, wire(&plain)) {
        Decoded::Tcp(s) => assert_eq!(s.tsval, None),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        d.stats().tcp_checksum_bad,
        0,
        "options are covered by the checksum"
    );
}

#[test]
fn zero_total_length_with_nothing_after_the_header_is_malformed() {
    // A length of zero only means offload when bytes follow the header; alone it is an error.
    let mut f = tcp4(b"")[..20].to_vec();
    f[2] = 0;
    f[3] = 0;
    let mut d = Decoder::new(DecodeConfig::default());
    assert!(
        matches!(decode_with(&mut d, &f), Out::Error(_)),
        "{:?}",
        decode_with(&mut d, &f)
    );
    assert_eq!(d.stats().ip_length_zero, 0);
    assert!(d.stats().errors >= 1);
}
