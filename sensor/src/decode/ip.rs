//! IPv4, IPv6 and its extension headers, and the transport headers the decoder reads (TCP, and
//! UDP for the tunnels it carries).
//!
//! Each header is read through etherparse's zero-copy header slice over the captured bytes at
//! the cursor. What follows the header stays ours: etherparse's packet-level slicers check the
//! IP lengths against the captured bytes, which would refuse every frame the snaplen cut and
//! every offloaded zero length, whereas the cursor bounds the rest of the packet by the wire
//! length and lets a cut payload through.

use std::net::IpAddr;

use etherparse::err::{ipv4, ipv6, tcp as tcp_err};
use etherparse::{
    IpAuthHeaderSlice, Ipv4HeaderSlice, Ipv6FragmentHeaderSlice, Ipv6HeaderSlice,
    Ipv6RawExtHeaderSlice, TcpHeader, TcpHeaderSlice, UdpHeaderSlice,
};

use super::checksum;
use super::cursor::{cut, Cur};
use super::types::{DecodeError, Layer, SkipReason};
use super::walk::{Next, Stop, TcpMeta};
use crate::packet::TcpFlags;

/// IP protocol numbers the decoder acts on.
pub(crate) mod proto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPT: u8 = 0;
    /// IPv4 encapsulated in IP.
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IP.
    pub const IPV6: u8 = 41;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// GRE.
    pub const GRE: u8 = 47;
    /// IPsec ESP.
    pub const ESP: u8 = 50;
    /// IPsec AH.
    pub const AH: u8 = 51;
    /// IPv6 no next header.
    pub const NONE: u8 = 59;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// Mobility header.
    pub const MOBILITY: u8 = 135;
    /// Host identity protocol.
    pub const HIP: u8 = 139;
    /// Shim6.
    pub const SHIM6: u8 = 140;
}

/// The innermost IP header seen so far, and where its payload stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct IpCtx {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The protocol of the bytes at the cursor.
    pub proto: u8,
    pub v6: bool,
    /// Header bytes of this datagram before the cursor (IPv4 header, or IPv6 extension headers
    /// after the fixed header); what a fragment header here adds to the 65535-byte limit.
    pub hdr_len: u32,
    /// The IP length field was zero (segmentation offload): the checksums were never finished.
    pub offloaded: bool,
}

/// A fragment found in an IP header, to be handed to the fragment table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FragInfo {
    /// Identification (IPv4 16 bits, IPv6 32 bits).
    pub id: u32,
    /// Byte offset of this fragment's data.
    pub offset: u32,
    pub more: bool,
    /// Context to continue with once reassembled (its `proto` is the fragmented protocol).
    pub ctx: IpCtx,
}

/// What an IP header leads to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum IpStep {
    /// Go on with this layer; the cursor is at its first byte.
    Next(Next),
    /// The cursor holds a fragment's data (bounded by the IP length).
    Fragment(FragInfo),
}

/// Result of an IP header: the step, and whether its length field was zero (offload).
pub(crate) type IpResult = Result<(IpStep, bool), Stop>;

/// IPv4 header (options skipped). The total length bounds everything after it.
pub(crate) fn ipv4(cur: &mut Cur<'_>) -> IpResult {
    // The slice checks the fixed 20 bytes were captured, then the version, then IHL >= 5, then
    // that the options were captured: the order our errors have always come in.
    let h = Ipv4HeaderSlice::from_slice(cur.bytes()).map_err(|e| match e {
        ipv4::HeaderSliceError::Len(_) => DecodeError::Truncated { layer: Layer::Ipv4 },
        ipv4::HeaderSliceError::Content(ipv4::HeaderError::UnexpectedVersion { .. }) => {
            bad_header(Layer::Ipv4, "version is not 4")
        }
        ipv4::HeaderSliceError::Content(ipv4::HeaderError::HeaderLengthSmallerThanHeader {
            ..
        }) => bad_header(Layer::Ipv4, "header length below 20"),
    })?;
    let ihl = h.slice().len();
    let total = usize::from(h.total_len());
    let id = u32::from(h.identification());
    let more = h.more_fragments();
    let offset = u32::from(h.fragments_offset().value()) * 8;
    let src = IpAddr::V4(h.source_addr());
    let dst = IpAddr::V4(h.destination_addr());
    // The total length is ours to interpret: zero (offload) means the captured length, and it
    // bounds the cursor by the wire length so a snaplen cut is not an error.
    let length_zero = total == 0 && cur.wire() > ihl;
    if !length_zero && total < ihl {
        return Err(bad(Layer::Ipv4, "total length below header length"));
    }
    let total = if length_zero { cur.wire() } else { total };
    cur.limit(total, Layer::Ipv4)?;
    cur.advance(ihl, Layer::Ipv4)?;
    let hdr_len = u32::try_from(ihl).unwrap_or(u32::MAX);
    let ctx = IpCtx {
        src,
        dst,
        proto: h.protocol().0,
        v6: false,
        hdr_len,
        offloaded: length_zero,
    };
    if more || offset != 0 {
        return Ok((
            IpStep::Fragment(FragInfo {
                id,
                offset,
                more,
                ctx,
            }),
            length_zero,
        ));
    }
    Ok((IpStep::Next(Next::IpPayload(ctx)), length_zero))
}

/// IPv6 fixed header. The payload length bounds everything after it.
pub(crate) fn ipv6(cur: &mut Cur<'_>) -> IpResult {
    let h = Ipv6HeaderSlice::from_slice(cur.bytes()).map_err(|e| match e {
        ipv6::HeaderSliceError::Len(_) => DecodeError::Truncated { layer: Layer::Ipv6 },
        ipv6::HeaderSliceError::Content(ipv6::HeaderError::UnexpectedVersion { .. }) => {
            bad_header(Layer::Ipv6, "version is not 6")
        }
    })?;
    let plen = usize::from(h.payload_length());
    let next = h.next_header().0;
    let src = IpAddr::V6(h.source_addr());
    let dst = IpAddr::V6(h.destination_addr());
    cur.advance(h.slice().len(), Layer::Ipv6)?;
    // A zero length in front of bytes is segmentation offload (or a jumbogram); a bubble's
    // trailing bytes are not payload.
    let length_zero = plen == 0 && next != proto::NONE && cur.wire() > 0;
    let plen = if length_zero { cur.wire() } else { plen };
    cur.limit(plen, Layer::Ipv6)?;
    let ctx = IpCtx {
        src,
        dst,
        proto: next,
        v6: true,
        hdr_len: 0,
        offloaded: length_zero,
    };
    Ok((IpStep::Next(Next::IpPayload(ctx)), length_zero))
}

/// Dispatches on the protocol at the cursor: walks IPv6 extension headers and AH, stops at
/// what is not for the TCP path, and names the next layer otherwise.
pub(crate) fn payload(cur: &mut Cur<'_>, mut ctx: IpCtx) -> Result<IpStep, Stop> {
    match ctx.proto {
        proto::TCP => Ok(IpStep::Next(Next::Tcp(ctx))),
        proto::UDP => Ok(IpStep::Next(Next::Udp)),
        proto::IPIP => Ok(IpStep::Next(Next::IpInIp { v6: false })),
        proto::IPV6 => Ok(IpStep::Next(Next::IpInIp { v6: true })),
        proto::GRE => Ok(IpStep::Next(Next::Gre)),
        proto::ESP => Err(Stop::Skipped(SkipReason::Esp)),
        proto::NONE => Err(Stop::Skipped(SkipReason::NoNextHeader)),
        proto::AH => {
            let (next, len) = match IpAuthHeaderSlice::from_slice(cur.bytes()) {
                Ok(h) => (h.next_header().0, h.slice().len()),
                // A payload length of 0 makes an 8-byte header, too short for the SPI and
                // sequence number, and etherparse refuses it. The walk needs only the next
                // header and the length, so such a header is stepped over by its length field
                // rather than failing a packet we have always delivered. The same read turns a
                // capture that ends inside the AH into `Truncated`.
                Err(_) => {
                    let h = cur.array::<2>(Layer::Ah)?;
                    (h[0], (usize::from(h[1]) + 2) * 4)
                }
            };
            cur.advance(len, Layer::Ah)?;
            ctx.proto = next;
            ctx.hdr_len = ctx
                .hdr_len
                .saturating_add(u32::try_from(len).unwrap_or(u32::MAX));
            Ok(IpStep::Next(Next::IpPayload(ctx)))
        }
        proto::FRAGMENT if ctx.v6 => {
            let h =
                Ipv6FragmentHeaderSlice::from_slice(cur.bytes()).map_err(cut(Layer::Ipv6Ext))?;
            let hdr = h.slice().len();
            cur.advance(hdr, Layer::Ipv6Ext)?;
            let offset = u32::from(h.fragment_offset().value()) * 8;
            let more = h.more_fragments();
            ctx.proto = h.next_header().0;
            if offset == 0 && !more {
                // An atomic fragment (RFC 6946) is a whole datagram.
                ctx.hdr_len = ctx
                    .hdr_len
                    .saturating_add(u32::try_from(hdr).unwrap_or(u32::MAX));
                return Ok(IpStep::Next(Next::IpPayload(ctx)));
            }
            Ok(IpStep::Fragment(FragInfo {
                id: h.identification(),
                offset,
                more,
                ctx,
            }))
        }
        proto::HOPOPT
        | proto::ROUTING
        | proto::DSTOPTS
        | proto::MOBILITY
        | proto::HIP
        | proto::SHIM6
            if ctx.v6 =>
        {
            let h = Ipv6RawExtHeaderSlice::from_slice(cur.bytes()).map_err(cut(Layer::Ipv6Ext))?;
            let len = h.slice().len();
            cur.advance(len, Layer::Ipv6Ext)?;
            ctx.proto = h.next_header().0;
            ctx.hdr_len = ctx
                .hdr_len
                .saturating_add(u32::try_from(len).unwrap_or(u32::MAX));
            Ok(IpStep::Next(Next::IpPayload(ctx)))
        }
        other => Err(Stop::Skipped(SkipReason::IpProtocol(other))),
    }
}

/// TCP header: the segment's fields, with the payload as a range of the current buffer and its
/// on-wire length from the IP length fields.
pub(crate) fn tcp(cur: &mut Cur<'_>, ctx: IpCtx) -> Result<TcpMeta, Stop> {
    let wire = cur.wire();
    let h = TcpHeaderSlice::from_slice(cur.bytes()).map_err(|e| match e {
        tcp_err::HeaderSliceError::Content(tcp_err::HeaderError::DataOffsetTooSmall { .. }) => {
            bad_header(Layer::Tcp, "data offset below 5")
        }
        // etherparse sees only the captured bytes. With the fixed 20 bytes captured, an options
        // area reaching past the IP payload on the wire is a malformed header; one the snaplen
        // cut is truncated, as is a capture ending inside the fixed bytes.
        tcp_err::HeaderSliceError::Len(l)
            if l.len >= TcpHeader::MIN_LEN && l.required_len > wire =>
        {
            bad_header(Layer::Tcp, "header longer than the ip payload")
        }
        tcp_err::HeaderSliceError::Len(_) => DecodeError::Truncated { layer: Layer::Tcp },
    })?;
    cur.advance(h.slice().len(), Layer::Tcp)?;
    Ok(TcpMeta {
        src: ctx.src,
        dst: ctx.dst,
        src_port: h.source_port(),
        dst_port: h.destination_port(),
        seq: h.sequence_number(),
        ack: h.acknowledgment_number(),
        flags: TcpFlags {
            fin: h.fin(),
            syn: h.syn(),
            rst: h.rst(),
            psh: h.psh(),
            ack: h.ack(),
        },
        window: h.window_size(),
        tsval: if h.options().is_empty() {
            None
        } else {
            checksum::tsval(h.options())
        },
        payload: cur.range(),
        payload_len: u32::try_from(cur.wire()).unwrap_or(u32::MAX),
    })
}

/// UDP header: returns (source port, destination port); the cursor is bounded by the UDP
/// length and placed at the payload.
pub(crate) fn udp(cur: &mut Cur<'_>) -> Result<(u16, u16), Stop> {
    let h = UdpHeaderSlice::from_slice(cur.bytes()).map_err(cut(Layer::Udp))?;
    let len = usize::from(h.length());
    // Zero is what a jumbogram (or an offloaded checksum path) leaves: use the IP length.
    if len != 0 {
        if len < 8 {
            return Err(bad(Layer::Udp, "length below 8"));
        }
        cur.limit(len, Layer::Udp)?;
    }
    cur.advance(h.slice().len(), Layer::Udp)?;
    Ok((h.source_port(), h.destination_port()))
}

fn bad(layer: Layer, reason: &'static str) -> Stop {
    Stop::Error(bad_header(layer, reason))
}

fn bad_header(layer: Layer, reason: &'static str) -> DecodeError {
    DecodeError::BadHeader { layer, reason }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4_header(total: u16, flags_frag: u16, proto: u8, ihl: u8) -> Vec<u8> {
        let mut h = vec![0x40 | ihl, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0x12, 0x34]);
        h.extend_from_slice(&flags_frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        h.extend(std::iter::repeat_n(
            1,
            usize::from(ihl).saturating_sub(5) * 4,
        ));
        h
    }

    fn step(r: IpResult) -> IpStep {
        match r {
            Ok((s, _)) => s,
            Err(e) => panic!("unexpected stop {e:?}"),
        }
    }

    fn err<T: std::fmt::Debug>(r: Result<T, Stop>) -> DecodeError {
        match r {
            Err(Stop::Error(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn ipv4_with_options_and_padding() {
        let mut p = v4_header(28, 0, 6, 7);
        p.extend_from_slice(&[0xab; 4]);
        p.extend_from_slice(&[0; 6]); // Ethernet padding
        let mut c = Cur::new(&p, p.len());
        let s = step(ipv4(&mut c));
        let IpStep::Next(Next::IpPayload(ctx)) = s else {
            panic!("{s:?}")
        };
        assert_eq!(ctx.proto, 6);
        assert_eq!(ctx.hdr_len, 28);
        assert_eq!(ctx.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(c.bytes(), &[] as &[u8]);
        // total 28 = 28 header bytes, so nothing is left and padding is excluded.
        let mut p = v4_header(32, 0, 17, 5);
        p.extend_from_slice(&[7; 12]);
        let mut c = Cur::new(&p, p.len());
        step(ipv4(&mut c));
        assert_eq!(c.bytes(), &[7; 12]);
    }

    #[test]
    fn ipv4_fragment_fields() {
        let mut p = v4_header(28, 0x2000 | 3, 17, 5);
        p.extend_from_slice(&[0; 8]);
        let mut c = Cur::new(&p, p.len());
        let s = step(ipv4(&mut c));
        let IpStep::Fragment(f) = s else {
            panic!("{s:?}")
        };
        assert_eq!(
            (f.id, f.offset, f.more, f.ctx.proto),
            (0x1234, 24, true, 17)
        );
    }

    #[test]
    fn ipv4_rejects_bad_fields() {
        let p = v4_header(10, 0, 6, 5);
        assert!(matches!(
            err(ipv4(&mut Cur::new(&p, p.len()))),
            DecodeError::BadHeader { .. }
        ));
        let p = v4_header(20, 0, 6, 4);
        assert!(matches!(
            err(ipv4(&mut Cur::new(&p, p.len()))),
            DecodeError::BadHeader { .. }
        ));
        let mut p = v4_header(20, 0, 6, 5);
        p[0] = 0x65;
        assert!(matches!(
            err(ipv4(&mut Cur::new(&p, p.len()))),
            DecodeError::BadHeader { .. }
        ));
        // Total length beyond what the frame held on the wire.
        let p = v4_header(100, 0, 6, 5);
        assert_eq!(
            err(ipv4(&mut Cur::new(&p, p.len()))),
            DecodeError::Truncated { layer: Layer::Ipv4 }
        );
        // ... but fine when the frame was cut by the snaplen.
        assert!(ipv4(&mut Cur::new(&p, 200)).is_ok());
    }

    #[test]
    fn ipv4_zero_length_uses_capture() {
        let mut p = v4_header(0, 0, 6, 5);
        p.extend_from_slice(&[1; 20]);
        let mut c = Cur::new(&p, p.len());
        let r = ipv4(&mut c);
        assert!(matches!(r, Ok((IpStep::Next(_), true))));
        assert_eq!(c.len(), 20);
    }

    fn v6_header(plen: u16, next: u8) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&plen.to_be_bytes());
        h.extend_from_slice(&[next, 64]);
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        h.extend_from_slice(&[0; 11]);
        h.push(1);
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        h.extend_from_slice(&[0; 11]);
        h.push(2);
        h
    }

    #[test]
    fn ipv6_extension_chain_to_tcp() {
        // hop-by-hop (8) -> routing (16) -> dst opts (8) -> AH (12) -> TCP
        let mut p = v6_header(44 + 20, 0);
        p.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[60, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[51, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        p.extend_from_slice(&[0; 20]);
        let mut c = Cur::new(&p, p.len());
        let mut s = step(ipv6(&mut c));
        let mut hops = 0;
        while let IpStep::Next(Next::IpPayload(ctx)) = s {
            s = payload(&mut c, ctx).expect("extension header");
            hops += 1;
        }
        let IpStep::Next(Next::Tcp(ctx)) = s else {
            panic!("{s:?}")
        };
        assert_eq!(hops, 5);
        assert_eq!(ctx.hdr_len, 44);
        assert_eq!(c.len(), 20);
    }

    #[test]
    fn ipv6_fragment_header_and_atomic_fragment() {
        let mut p = v6_header(16, 44);
        p.extend_from_slice(&[6, 0, 0x00, 0x11, 0xde, 0xad, 0xbe, 0xef]); // offset 2*8, M
        p.extend_from_slice(&[0; 8]);
        let mut c = Cur::new(&p, p.len());
        let IpStep::Next(Next::IpPayload(ctx)) = step(ipv6(&mut c)) else {
            panic!()
        };
        let s = payload(&mut c, ctx).expect("fragment");
        let IpStep::Fragment(f) = s else {
            panic!("{s:?}")
        };
        assert_eq!(
            (f.id, f.offset, f.more, f.ctx.proto),
            (0xdead_beef, 16, true, 6)
        );
        assert_eq!(c.len(), 8);

        let mut p = v6_header(28, 44);
        p.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0; 20]);
        let mut c = Cur::new(&p, p.len());
        let IpStep::Next(Next::IpPayload(ctx)) = step(ipv6(&mut c)) else {
            panic!()
        };
        let s = payload(&mut c, ctx).expect("atomic");
        assert!(matches!(
            s,
            IpStep::Next(Next::IpPayload(IpCtx { proto: 6, .. }))
        ));
    }

    #[test]
    fn ipv6_stops_at_esp_and_no_next_header() {
        let p = v6_header(0, 59);
        let mut c = Cur::new(&p, p.len());
        let IpStep::Next(Next::IpPayload(ctx)) = step(ipv6(&mut c)) else {
            panic!()
        };
        assert!(matches!(
            payload(&mut c, ctx),
            Err(Stop::Skipped(SkipReason::NoNextHeader))
        ));
        let ctx = IpCtx { proto: 50, ..ctx };
        assert!(matches!(
            payload(&mut c, ctx),
            Err(Stop::Skipped(SkipReason::Esp))
        ));
        let ctx = IpCtx { proto: 58, ..ctx };
        assert!(matches!(
            payload(&mut c, ctx),
            Err(Stop::Skipped(SkipReason::IpProtocol(58)))
        ));
    }

    #[test]
    fn tcp_fields_and_cut_payload() {
        let mut t = vec![
            0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 2, 0x60, 0x18, 0x01, 0x00,
        ];
        t.extend_from_slice(&[0, 0, 0, 0, 2, 4, 5, 0xb4]); // MSS option
        t.extend_from_slice(b"GET /");
        let ctx = IpCtx {
            src: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dst: IpAddr::V4(Ipv4Addr::LOCALHOST),
            proto: 6,
            v6: false,
            hdr_len: 20,
            offloaded: false,
        };
        // 100 bytes on the wire, 29 captured.
        let mut c = Cur::new(&t, 100);
        let m = tcp(&mut c, ctx).expect("tcp");
        assert_eq!(
            (m.src_port, m.dst_port, m.seq, m.ack, m.window),
            (12345, 80, 1, 2, 256)
        );
        assert!(m.flags.ack && m.flags.psh && !m.flags.syn);
        assert_eq!(m.payload, 24..29);
        assert_eq!(m.payload_len, 76);
        let mut short = t.clone();
        short[12] = 0x40;
        assert!(matches!(
            err(tcp(&mut Cur::new(&short, short.len()), ctx)),
            DecodeError::BadHeader { .. }
        ));
        assert_eq!(
            err(tcp(&mut Cur::new(&t[..19], 19), ctx)),
            DecodeError::Truncated { layer: Layer::Tcp }
        );
    }

    #[test]
    fn ah_with_zero_payload_length_is_stepped_over() {
        // etherparse refuses this 8-byte AH; the walk keeps stepping over it by its length.
        let ctx = IpCtx {
            src: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dst: IpAddr::V4(Ipv4Addr::LOCALHOST),
            proto: proto::AH,
            v6: false,
            hdr_len: 20,
            offloaded: false,
        };
        let mut p = vec![6, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[0xee; 20]);
        let mut c = Cur::new(&p, p.len());
        let s = payload(&mut c, ctx).expect("ah");
        let IpStep::Next(Next::IpPayload(next)) = s else {
            panic!("{s:?}")
        };
        assert_eq!((next.proto, next.hdr_len), (6, 28));
        assert_eq!(c.range().start, 8);
        // A well-formed AH (payload length 1: 12 bytes) and one cut inside its header.
        let mut p = vec![6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9];
        p.extend_from_slice(&[0xee; 20]);
        let mut c = Cur::new(&p, p.len());
        assert!(payload(&mut c, ctx).is_ok());
        assert_eq!(c.range().start, 12);
        assert_eq!(
            err(payload(&mut Cur::new(&p[..10], 100), ctx)),
            DecodeError::Truncated { layer: Layer::Ah }
        );
        assert_eq!(
            err(payload(&mut Cur::new(&p[..1], 100), ctx)),
            DecodeError::Truncated { layer: Layer::Ah }
        );
    }

    #[test]
    fn tcp_options_past_the_wire_are_malformed_but_cut_ones_truncated() {
        let ctx = IpCtx {
            src: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dst: IpAddr::V4(Ipv4Addr::LOCALHOST),
            proto: 6,
            v6: false,
            hdr_len: 20,
            offloaded: false,
        };
        // Data offset 15: a 60-byte header, of which 24 bytes were captured.
        let mut t = vec![0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0xf0, 0x10, 0, 1];
        t.extend_from_slice(&[0; 8]);
        assert_eq!(
            err(tcp(&mut Cur::new(&t, 100), ctx)),
            DecodeError::Truncated { layer: Layer::Tcp }
        );
        assert_eq!(
            err(tcp(&mut Cur::new(&t, 40), ctx)),
            DecodeError::BadHeader {
                layer: Layer::Tcp,
                reason: "header longer than the ip payload"
            }
        );
        // Fewer than the fixed 20 bytes captured is truncated even when the wire was short too.
        assert_eq!(
            err(tcp(&mut Cur::new(&t[..16], 16), ctx)),
            DecodeError::Truncated { layer: Layer::Tcp }
        );
    }

    #[test]
    fn udp_length_bounds_payload() {
        let u = [0x12, 0xb5, 0x17, 0xc1, 0, 10, 0, 0, 1, 2, 3, 4];
        let mut c = Cur::new(&u, u.len());
        assert_eq!(udp(&mut c).ok(), Some((4789, 6081)));
        assert_eq!(c.bytes(), &[1, 2]);
        let bad = [0, 1, 0, 2, 0, 4, 0, 0];
        assert!(matches!(
            err(udp(&mut Cur::new(&bad, 8))),
            DecodeError::BadHeader { .. }
        ));
    }
}
