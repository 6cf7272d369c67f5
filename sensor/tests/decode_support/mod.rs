//! Packet builders and helpers shared by the decode tests: etherparse builds the IP and
//! transport headers, tunnel headers are wrapped by hand.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::IpAddr;

use apitap_sensor::decode::{DecodeConfig, DecodeError, Decoded, Decoder, SkipReason};
use apitap_sensor::{LinkType, Timestamp};
use etherparse::{IpNumber, Ipv4Header, Ipv6FragmentHeader, Ipv6Header, PacketBuilder};

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xbb];
pub const V4_SRC: [u8; 4] = [10, 1, 0, 1];
pub const V4_DST: [u8; 4] = [10, 1, 0, 2];
pub const V6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const V6_DST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
pub const SPORT: u16 = 40000;
pub const DPORT: u16 = 80;
pub const SEQ: u32 = 1_000_000;

/// An owned copy of a decoded TCP segment, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub syn: bool,
    pub payload: Vec<u8>,
    pub payload_len: u32,
    pub vlans: [Option<u16>; 2],
}

/// An owned copy of a `Decoded`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    Tcp(Seg),
    Held,
    Skipped(SkipReason),
    Error(DecodeError),
}

pub fn own(d: Decoded<'_>) -> Out {
    match d {
        Decoded::Tcp(s) => Out::Tcp(Seg {
            src: s.src,
            dst: s.dst,
            src_port: s.src_port,
            dst_port: s.dst_port,
            seq: s.seq,
            syn: s.flags.syn,
            payload: s.payload.to_vec(),
            payload_len: s.payload_len,
            vlans: s.vlans,
        }),
        Decoded::Held => Out::Held,
        Decoded::Skipped(r) => Out::Skipped(r),
        Decoded::Error(e) => Out::Error(e),
    }
}

/// Decodes one uncut frame with a fresh decoder.
pub fn decode(link: LinkType, frame: &[u8]) -> Out {
    decode_cfg(DecodeConfig::default(), link, frame)
}

pub fn decode_cfg(cfg: DecodeConfig, link: LinkType, frame: &[u8]) -> Out {
    let mut d = Decoder::new(cfg);
    own(d.decode(Timestamp(1), link, frame, wire(frame)))
}

pub fn wire(frame: &[u8]) -> u32 {
    u32::try_from(frame.len()).unwrap()
}

/// Decodes and insists on a TCP segment.
pub fn tcp(link: LinkType, frame: &[u8]) -> Seg {
    match decode(link, frame) {
        Out::Tcp(s) => s,
        other => panic!("expected tcp, got {other:?}"),
    }
}

/// The expected segment of `tcp4`/`tcp6` with this payload.
pub fn assert_seg4(s: &Seg, payload: &[u8]) {
    assert_eq!(s.src, IpAddr::from(V4_SRC));
    assert_eq!(s.dst, IpAddr::from(V4_DST));
    assert_eq!((s.src_port, s.dst_port, s.seq), (SPORT, DPORT, SEQ));
    assert_eq!(s.payload, payload);
    assert_eq!(s.payload_len as usize, payload.len());
}

pub fn assert_seg6(s: &Seg, payload: &[u8]) {
    assert_eq!(s.src, IpAddr::from(V6_SRC));
    assert_eq!(s.dst, IpAddr::from(V6_DST));
    assert_eq!((s.src_port, s.dst_port, s.seq), (SPORT, DPORT, SEQ));
    assert_eq!(s.payload, payload);
    assert_eq!(s.payload_len as usize, payload.len());
}

/// An IPv4 datagram carrying a TCP segment (10.1.0.1:40000 -> 10.1.0.2:80, PSH|ACK).
pub fn tcp4(payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(V4_SRC, V4_DST, 64)
        .tcp(SPORT, DPORT, SEQ, 8192)
        .psh()
        .ack(7);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// Same with given addresses and ports.
pub fn tcp4_between(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src, dst, 64)
        .tcp(sport, dport, SEQ, 8192)
        .ack(7);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// An IPv6 datagram carrying a TCP segment.
pub fn tcp6(payload: &[u8]) -> Vec<u8> {
    tcp6_between(V6_SRC, V6_DST, payload)
}

pub fn tcp6_between(src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv6(src, dst, 64)
        .tcp(SPORT, DPORT, SEQ, 8192)
        .psh()
        .ack(7);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// An IPv4 datagram carrying UDP.
pub fn udp4(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64).udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// An IPv6 datagram carrying UDP.
pub fn udp6(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut src = [0u8; 16];
    src[0] = 0xfd;
    src[15] = 1;
    let mut dst = src;
    dst[15] = 2;
    let b = PacketBuilder::ipv6(src, dst, 64).udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// An IPv4 datagram with an arbitrary protocol.
pub fn ip4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .write(&mut v, IpNumber(proto), payload)
        .unwrap();
    v
}

/// An IPv6 datagram with an arbitrary next header.
pub fn ip6(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let mut src = [0u8; 16];
    src[0] = 0xfd;
    let mut dst = src;
    dst[15] = 9;
    PacketBuilder::ipv6(src, dst, 64)
        .write(&mut v, IpNumber(proto), payload)
        .unwrap();
    v
}

/// An Ethernet II frame.
pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + payload.len());
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A VLAN tag (TCI with the given VLAN ID) followed by `inner_type` and `payload`.
pub fn tag(vid: u16, inner_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&vid.to_be_bytes());
    v.extend_from_slice(&inner_type.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Splits an IPv4 datagram into fragments whose payloads start at the given byte offsets
/// (multiples of 8).
pub fn fragment4(datagram: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let (h, payload) = Ipv4Header::from_slice(datagram).unwrap();
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(payload.len());
    bounds
        .windows(2)
        .map(|w| {
            let mut fh = h.clone();
            fh.fragment_offset =
                etherparse::IpFragOffset::try_new(u16::try_from(w[0] / 8).unwrap()).unwrap();
            fh.more_fragments = w[1] < payload.len();
            fh.set_payload_len(w[1] - w[0]).unwrap();
            fh.header_checksum = fh.calc_header_checksum();
            let mut v = fh.to_bytes().to_vec();
            v.extend_from_slice(&payload[w[0]..w[1]]);
            v
        })
        .collect()
}

/// One IPv4 fragment with explicit fields (for overlaps and conflicts).
pub fn frag4(id: u16, proto: u8, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut h = Ipv4Header::new(
        u16::try_from(data.len()).unwrap(),
        64,
        IpNumber(proto),
        V4_SRC,
        V4_DST,
    )
    .unwrap();
    h.identification = id;
    h.fragment_offset =
        etherparse::IpFragOffset::try_new(u16::try_from(offset / 8).unwrap()).unwrap();
    h.more_fragments = more;
    h.header_checksum = h.calc_header_checksum();
    let mut v = h.to_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

/// Splits an IPv6 datagram (no extension headers) into fragments with a fragment header.
pub fn fragment6(datagram: &[u8], cuts: &[usize], id: u32) -> Vec<Vec<u8>> {
    let (h, payload) = Ipv6Header::from_slice(datagram).unwrap();
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(payload.len());
    bounds
        .windows(2)
        .map(|w| {
            let more = w[1] < payload.len();
            let off = etherparse::IpFragOffset::try_new(u16::try_from(w[0] / 8).unwrap()).unwrap();
            let fh = Ipv6FragmentHeader::new(h.next_header, off, more, id);
            let mut ih = h.clone();
            ih.next_header = IpNumber(44);
            ih.payload_length = u16::try_from(8 + w[1] - w[0]).unwrap();
            let mut v = ih.to_bytes().to_vec();
            v.extend_from_slice(&fh.to_bytes());
            v.extend_from_slice(&payload[w[0]..w[1]]);
            v
        })
        .collect()
}

/// A deterministic xorshift64* generator: reproducible "random" inputs without a crate.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % (n as u64).max(1)) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// Tunnel headers, wrapped by hand.

/// A GRE header with the option words its flags call for, then the payload.
pub fn gre(flags: u16, proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&proto.to_be_bytes());
    if flags & 0x8000 != 0 {
        v.extend_from_slice(&[0xbe, 0xef, 0, 0]); // checksum + reserved1
    }
    if flags & 0x2000 != 0 {
        v.extend_from_slice(&0x0102_0304u32.to_be_bytes()); // key
    }
    if flags & 0x1000 != 0 {
        v.extend_from_slice(&77u32.to_be_bytes()); // sequence
    }
    v.extend_from_slice(payload);
    v
}

pub fn erspan2_header(vlan: u16, session: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(0x1000 | (vlan & 0x0fff)).to_be_bytes());
    v.extend_from_slice(&(session & 0x03ff).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1]);
    v
}

pub fn erspan3_header(frame_type: u8, platform: bool) -> Vec<u8> {
    let mut v = vec![0x20, 0x00, 0x00, 0x05];
    v.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]); // timestamp
    v.extend_from_slice(&[0, 0]); // SGT
    v.push((frame_type & 0x1f) << 2);
    v.push(u8::from(platform));
    if platform {
        v.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 0, 0]);
    }
    v
}

pub fn vxlan(vni: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0];
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub fn geneve(options: &[u8], proto: u16, payload: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut v = vec![u8::try_from(options.len() / 4).unwrap(), 0];
    v.extend_from_slice(&proto.to_be_bytes());
    v.extend_from_slice(&[0, 0, 42, 0]);
    v.extend_from_slice(options);
    v.extend_from_slice(payload);
    v
}

/// GTP-U v1 G-PDU; with `exts`, the E flag and the given extension headers (type, content
/// without length and next-type bytes, padded by the caller to 4n - 2 bytes).
pub fn gtpu(msg: u8, exts: &[(u8, &[u8])], payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if !exts.is_empty() {
        body.extend_from_slice(&[0, 1, 0, exts[0].0]); // sequence 1, N-PDU 0, first type
        for (i, (_, content)) in exts.iter().enumerate() {
            let len = content.len() + 2;
            assert_eq!(len % 4, 0);
            body.push(u8::try_from(len / 4).unwrap());
            body.extend_from_slice(content);
            body.push(exts.get(i + 1).map_or(0, |e| e.0));
        }
    }
    body.extend_from_slice(payload);
    let flags = if exts.is_empty() { 0x30 } else { 0x34 };
    let mut v = vec![flags, msg];
    v.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    v.extend_from_slice(&0x0000_1234u32.to_be_bytes());
    v.extend_from_slice(&body);
    v
}

pub fn teredo_addr(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[0x20, 0x01, 0x00, 0x00]);
    a[4..8].copy_from_slice(&[0x41, 0x37, 0x9e, 0x50]);
    a[15] = last;
    a
}

pub fn tcp_teredo(body: &[u8]) -> Vec<u8> {
    tcp6_between(teredo_addr(1), V6_DST, body)
}

pub fn origin_indication() -> Vec<u8> {
    vec![0x00, 0x00, 0xf2, 0x3a, 0xb9, 0xc8, 0x28, 0x15]
}

pub fn ayiya(next: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    // Identity 2^4 = 16 bytes (an IPv6 address), signature 5 * 4 = 20 bytes (SHA-1).
    let mut v = vec![0x41, 0x52, 0x10 | opcode, next, 0x4f, 0x00, 0x00, 0x01];
    v.extend_from_slice(&[0x11; 16]);
    v.extend_from_slice(&[0x22; 20]);
    v.extend_from_slice(payload);
    v
}
