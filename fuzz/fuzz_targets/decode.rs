//! Link, encapsulation and IP decode (every link type, tunnels, fragments reassembled on the
//! way), and the stateless steering walk over the same frames.
//!
//! Input: a sequence of frames, each `[link: u8][len: u16 LE][len bytes]` (the last one may be
//! short: it takes what is left). `link % 10` picks the link type; bit 7 set claims a wire
//! length 64 bytes longer than the captured bytes (a snaplen cut). Frames are 1 ms apart, so
//! fragments of one datagram meet in the decoder's fragment table. `fuzz/seed.py` writes real
//! packets in this form.
//!
//! Checked besides "no panic": the decoder's documented bounds (fragment table bytes and
//! datagrams, a segment's captured payload never longer than its wire length), and that the
//! steering walk, which follows the decoder's own walk, finds an address pair for every
//! frame the decoder turns into a TCP segment.
#![no_main]

use apitap_sensor::decode::{steer, DecodeConfig, Decoded, Decoder, Steer};
use apitap_sensor::{LinkType, Timestamp};
use libfuzzer_sys::fuzz_target;

const LINKS: [LinkType; 10] = [
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Nflog,
    LinkType::Other(147),
];

fuzz_target!(|data: &[u8]| {
    let cfg = DecodeConfig::default();
    let mut decoder = Decoder::new(cfg.clone());
    let mut rest = data;
    let mut ts = Timestamp::from_parts(1_700_000_000, 0);
    while let [link, rest1 @ ..] = rest {
        let (len, body) = match rest1 {
            [a, b, body @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), body),
            _ => (rest1.len(), &[][..]),
        };
        let take = len.min(body.len());
        let (frame, next) = body.split_at(take);
        rest = next;
        let link_type = LINKS[usize::from(*link % 10)];
        let wire = u32::try_from(frame.len()).unwrap() + if link & 0x80 != 0 { 64 } else { 0 };
        ts = ts.plus_nanos(1_000_000);
        let steered = steer(&cfg, link_type, frame, wire);
        let decoded = decoder.decode(ts, link_type, frame, wire);
        if let Decoded::Tcp(seg) = &decoded {
            assert!(seg.payload.len() as u64 <= u64::from(seg.payload_len), "captured payload longer than on the wire");
            assert!(
                !matches!(steered, Steer::Unpaired),
                "decode found TCP {}:{} -> {}:{} but steering found no address pair",
                seg.src,
                seg.src_port,
                seg.dst,
                seg.dst_port
            );
        }
        while decoder.poll_event().is_some() {}
        assert!(decoder.pending_fragment_bytes() <= cfg.defrag.max_bytes_total);
        assert!(decoder.pending_fragment_datagrams() <= cfg.defrag.max_datagrams);
    }
    decoder.expire(ts.plus_nanos(60_000_000_000));
    assert_eq!(decoder.pending_fragment_datagrams(), 0, "datagrams outlived the fragment timeout");
});
