//! Link layers and what sits between them and IP: capture link types, Ethernet and LLC/SNAP,
//! VLAN tags, MPLS label stacks, PPPoE and PPP.
//!
//! Ethernet II and VLAN tags are read through etherparse's header slices. The rest is ours:
//! etherparse has no LLC/SNAP, MPLS, PPPoE, SLL2, NULL/LOOP or NFLOG reader, and its Linux
//! cooked (SLL) slice refuses ARPHRD values other than Ethernet, netlink, IP-GRE, radiotap and
//! FRAD, which would lose `-i any` captures of loopback (772) and tun devices (0xfffe); we only
//! need the protocol field.

use etherparse::{Ethernet2HeaderSlice, SingleVlanHeaderSlice};

use super::cursor::{be16, be32, cut, Cur};
use super::types::{DecodeError, Layer, SkipReason};
use super::walk::{Next, Stop};
use crate::packet::LinkType;

/// Ethertypes the decoder acts on.
pub(crate) mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service VLAN tag (QinQ outer).
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag.
    pub const QINQ_OLD: u16 = 0x9100;
    /// Another pre-standard QinQ outer tag seen on older switches.
    pub const QINQ_OLD2: u16 = 0x9200;
    /// MPLS unicast.
    pub const MPLS: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLS_MC: u16 = 0x8848;
    /// PPPoE session stage.
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// Transparent Ethernet bridging (GRE, GENEVE).
    pub const TEB: u16 = 0x6558;
    /// ERSPAN type I/II (GRE protocol type).
    pub const ERSPAN_2: u16 = 0x88be;
    /// ERSPAN type III (GRE protocol type).
    pub const ERSPAN_3: u16 = 0x22eb;
    /// PPP (PPTP's enhanced GRE).
    pub const PPP: u16 = 0x880b;
}

/// BSD address families that mean IPv6 (NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30).
const AF_INET6_BSD: [u32; 3] = [24, 28, 30];
/// Linux address families in NFLOG.
const NFLOG_AF_INET: u8 = 2;
const NFLOG_AF_INET6: u8 = 10;
/// NFLOG attribute that holds the packet.
const NFULA_PAYLOAD: u16 = 9;

/// Dispatches on the capture's link type.
pub(crate) fn link(link: LinkType, cur: &mut Cur<'_>) -> Result<Next, Stop> {
    match link {
        LinkType::Ethernet => Ok(Next::Ethernet),
        LinkType::Raw => Ok(Next::IpByNibble(Layer::Raw)),
        LinkType::Ipv4 => Ok(Next::Ipv4),
        LinkType::Ipv6 => Ok(Next::Ipv6),
        LinkType::Null => loopback(cur, false),
        LinkType::Loop => loopback(cur, true),
        LinkType::LinuxSll => {
            let h = cur.array::<16>(Layer::LinuxSll)?;
            cur.advance(16, Layer::LinuxSll)?;
            Ok(Next::EtherType(be16(h.get(14..).unwrap_or(&[]))))
        }
        LinkType::LinuxSll2 => {
            let h = cur.array::<20>(Layer::LinuxSll2)?;
            cur.advance(20, Layer::LinuxSll2)?;
            Ok(Next::EtherType(be16(&h)))
        }
        LinkType::Nflog => nflog(cur),
        LinkType::Other(v) => Err(Stop::Skipped(SkipReason::LinkType(v))),
    }
}

/// BSD NULL (host byte order, so either) and OpenBSD LOOP (network byte order).
fn loopback(cur: &mut Cur<'_>, network_order: bool) -> Result<Next, Stop> {
    let h = cur.array::<4>(Layer::Loopback)?;
    cur.advance(4, Layer::Loopback)?;
    let mut af = if network_order {
        u32::from_be_bytes(h)
    } else {
        u32::from_le_bytes(h)
    };
    // Families are small numbers: a large value was written by a host of the other byte order.
    if !network_order && af > 0xffff {
        af = af.swap_bytes();
    }
    match af {
        2 => Ok(Next::Ipv4),
        v if AF_INET6_BSD.contains(&v) => Ok(Next::Ipv6),
        v => Err(Stop::Skipped(SkipReason::LoopbackFamily(v))),
    }
}

/// NFLOG: a 4-byte header (family, version, resource id) then TLVs whose length and type are in
/// the capturing host's byte order; the packet is in the `NFULA_PAYLOAD` attribute.
fn nflog(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<4>(Layer::Nflog)?;
    let family = h[0];
    cur.advance(4, Layer::Nflog)?;
    let mut little_endian: Option<bool> = None;
    loop {
        if cur.len() == 0 {
            return Err(Stop::Skipped(SkipReason::NflogNoPayload));
        }
        let tlv = cur.array::<4>(Layer::Nflog)?;
        let le = (
            u16::from_le_bytes([tlv[0], tlv[1]]),
            u16::from_le_bytes([tlv[2], tlv[3]]),
        );
        let be = (
            u16::from_be_bytes([tlv[0], tlv[1]]),
            u16::from_be_bytes([tlv[2], tlv[3]]),
        );
        // The byte order is decided on the first TLV: the one whose length fits.
        let is_le = *little_endian.get_or_insert_with(|| {
            let fits = |len: u16| len >= 4 && usize::from(len) <= cur.wire();
            fits(le.0) || !fits(be.0)
        });
        let (len, kind) = if is_le { le } else { be };
        let len = usize::from(len);
        if len < 4 {
            return Err(DecodeError::BadHeader {
                layer: Layer::Nflog,
                reason: "tlv length below 4",
            }
            .into());
        }
        // The top two bits of the type are netlink flags (nested, network byte order).
        if kind & 0x3fff == NFULA_PAYLOAD {
            cur.advance(4, Layer::Nflog)?;
            cur.limit(len - 4, Layer::Nflog)?;
            return match family {
                NFLOG_AF_INET => Ok(Next::Ipv4),
                NFLOG_AF_INET6 => Ok(Next::Ipv6),
                f => Err(Stop::Skipped(SkipReason::NflogFamily(f))),
            };
        }
        if len > cur.len() {
            return Err(DecodeError::Truncated {
                layer: Layer::Nflog,
            }
            .into());
        }
        // Attributes are padded to 4 bytes; the last one may lack its padding.
        let padded = (len + 3) & !3;
        cur.advance(padded.min(cur.len()), Layer::Nflog)?;
    }
}

/// Ethernet II header; 802.3 length frames go on to LLC.
pub(crate) fn ethernet(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = Ethernet2HeaderSlice::from_slice(cur.bytes()).map_err(cut(Layer::Ethernet))?;
    cur.advance(h.slice().len(), Layer::Ethernet)?;
    // etherparse reads the type/length field as an ethertype whatever its value; telling an
    // 802.3 length from an ethertype is ours.
    let et = h.ether_type().0;
    if et <= 1500 {
        // 802.3: the field is the payload length, which also excludes padding.
        cur.limit(usize::from(et).min(cur.wire()), Layer::Ethernet)?;
        return llc(cur);
    }
    if et < 0x0600 {
        return Err(DecodeError::BadHeader {
            layer: Layer::Ethernet,
            reason: "ethertype between 1501 and 1535",
        }
        .into());
    }
    Ok(Next::EtherType(et))
}

/// 802.2 LLC: only SNAP with an Ethernet OUI carries an ethertype worth following.
fn llc(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<3>(Layer::Llc)?;
    if h != [0xaa, 0xaa, 0x03] {
        return Err(Stop::Skipped(SkipReason::Llc));
    }
    let snap = cur.array::<8>(Layer::Llc)?;
    cur.advance(8, Layer::Llc)?;
    if snap.get(3..6) != Some(&[0, 0, 0][..]) {
        return Err(Stop::Skipped(SkipReason::Llc));
    }
    Ok(Next::EtherType(be16(snap.get(6..).unwrap_or(&[]))))
}

/// Maps an ethertype (also used by GRE, GENEVE and SLL) to the next layer.
pub(crate) fn ethertype(et: u16) -> Result<Next, Stop> {
    use ethertype::*;
    match et {
        IPV4 => Ok(Next::Ipv4),
        IPV6 => Ok(Next::Ipv6),
        VLAN | QINQ | QINQ_OLD | QINQ_OLD2 => Ok(Next::Vlan),
        MPLS | MPLS_MC => Ok(Next::Mpls),
        PPPOE_SESSION => Ok(Next::Pppoe),
        TEB => Ok(Next::Ethernet),
        other => Err(Stop::Skipped(SkipReason::EtherType(other))),
    }
}

/// One VLAN tag: returns the VLAN ID and the inner ethertype.
pub(crate) fn vlan(cur: &mut Cur<'_>) -> Result<(u16, u16), DecodeError> {
    let h = SingleVlanHeaderSlice::from_slice(cur.bytes()).map_err(cut(Layer::Vlan))?;
    cur.advance(h.slice().len(), Layer::Vlan)?;
    Ok((h.vlan_identifier().value(), h.ether_type().0))
}

/// An MPLS label stack up to bottom-of-stack, then what follows it. Returns the number of
/// labels (each counts as one tag) and the next layer.
pub(crate) fn mpls(cur: &mut Cur<'_>) -> Result<(usize, Next), Stop> {
    let mut labels = 0usize;
    loop {
        let entry = be32(cur.peek(4, Layer::Mpls)?);
        cur.advance(4, Layer::Mpls)?;
        labels += 1;
        if entry & 0x100 != 0 {
            break;
        }
    }
    // No protocol field after the stack: the first nibble is the only hint.
    let first = *cur.peek(1, Layer::Mpls)?.first().unwrap_or(&0);
    let next = match first >> 4 {
        4 => Next::Ipv4,
        6 => Next::Ipv6,
        0 => {
            // Pseudowire control word (RFC 4385), then the emulated Ethernet frame.
            cur.advance(4, Layer::Mpls)?;
            Next::Ethernet
        }
        _ => return Err(Stop::Skipped(SkipReason::MplsPayload)),
    };
    Ok((labels, next))
}

/// PPPoE session header (RFC 2516); its length field bounds the PPP frame.
pub(crate) fn pppoe(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<6>(Layer::Pppoe)?;
    if h[0] != 0x11 {
        return Err(DecodeError::BadHeader {
            layer: Layer::Pppoe,
            reason: "version/type is not 1/1",
        }
        .into());
    }
    if h[1] != 0 {
        return Err(DecodeError::BadHeader {
            layer: Layer::Pppoe,
            reason: "session packet with non-zero code",
        }
        .into());
    }
    let len = usize::from(be16(h.get(4..).unwrap_or(&[])));
    cur.advance(6, Layer::Pppoe)?;
    cur.limit(len, Layer::Pppoe)?;
    Ok(Next::Ppp)
}

/// PPP: optional address/control bytes, then a one- or two-byte protocol field.
pub(crate) fn ppp(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    if cur.peek(2, Layer::Ppp).ok() == Some(&[0xff, 0x03][..]) {
        cur.advance(2, Layer::Ppp)?;
    }
    let first = *cur.peek(1, Layer::Ppp)?.first().unwrap_or(&0);
    // Protocol-field compression: an odd first byte is a one-byte protocol.
    let proto = if first & 1 == 1 {
        cur.advance(1, Layer::Ppp)?;
        u16::from(first)
    } else {
        let p = be16(cur.peek(2, Layer::Ppp)?);
        cur.advance(2, Layer::Ppp)?;
        p
    };
    match proto {
        0x0021 => Ok(Next::Ipv4),
        0x0057 => Ok(Next::Ipv6),
        p => Err(Stop::Skipped(SkipReason::PppProtocol(p))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn run<T>(bytes: &[u8], f: impl FnOnce(&mut Cur<'_>) -> T) -> (T, usize) {
        let mut cur = Cur::new(bytes, bytes.len());
        let r = f(&mut cur);
        (r, cur.range().start)
    }

    fn skipped<T: std::fmt::Debug>(r: Result<T, Stop>) -> SkipReason {
        match r {
            Err(Stop::Skipped(s)) => s,
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    fn error<T: std::fmt::Debug>(r: Result<T, Stop>) -> DecodeError {
        match r {
            Err(Stop::Error(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn null_accepts_both_byte_orders() {
        let (r, at) = run(&[2, 0, 0, 0, 0x45], |c| link(LinkType::Null, c));
        assert_eq!(r.ok(), Some(Next::Ipv4));
        assert_eq!(at, 4);
        let (r, _) = run(&[0, 0, 0, 2], |c| link(LinkType::Null, c));
        assert_eq!(r.ok(), Some(Next::Ipv4));
        for af in [24u32, 28, 30] {
            let (r, _) = run(&af.to_le_bytes(), |c| link(LinkType::Null, c));
            assert_eq!(r.ok(), Some(Next::Ipv6));
            let (r, _) = run(&af.to_be_bytes(), |c| link(LinkType::Null, c));
            assert_eq!(r.ok(), Some(Next::Ipv6));
        }
        let (r, _) = run(&[7, 0, 0, 0], |c| link(LinkType::Null, c));
        assert_eq!(skipped(r), SkipReason::LoopbackFamily(7));
    }

    #[test]
    fn loop_is_network_order_only() {
        let (r, _) = run(&[0, 0, 0, 24], |c| link(LinkType::Loop, c));
        assert_eq!(r.ok(), Some(Next::Ipv6));
        let (r, _) = run(&[24, 0, 0, 0], |c| link(LinkType::Loop, c));
        assert_eq!(skipped(r), SkipReason::LoopbackFamily(24 << 24));
    }

    #[test]
    fn sll_and_sll2_read_the_protocol() {
        let mut sll = [0u8; 16];
        sll[14..].copy_from_slice(&[0x86, 0xdd]);
        let (r, at) = run(&sll, |c| link(LinkType::LinuxSll, c));
        assert_eq!(r.ok(), Some(Next::EtherType(0x86dd)));
        assert_eq!(at, 16);
        let mut sll2 = [0u8; 20];
        sll2[..2].copy_from_slice(&[0x08, 0x00]);
        let (r, at) = run(&sll2, |c| link(LinkType::LinuxSll2, c));
        assert_eq!(r.ok(), Some(Next::EtherType(0x0800)));
        assert_eq!(at, 20);
        let (r, _) = run(&sll2[..19], |c| link(LinkType::LinuxSll2, c));
        assert_eq!(
            error(r),
            DecodeError::Truncated {
                layer: Layer::LinuxSll2
            }
        );
    }

    #[test]
    fn nflog_finds_payload_after_other_tlvs() {
        // family 2, version 0, resource id 0; a 5-byte prefix TLV (padded to 8); payload TLV.
        let bytes = [
            2, 0, 0, 0, //
            5, 0, 10, 0, 0xaa, 0, 0, 0, //
            8, 0, 9, 0, 0x45, 1, 2, 3,
        ];
        let (r, at) = run(&bytes, |c| {
            let n = link(LinkType::Nflog, c);
            (n, c.bytes().to_vec())
        });
        assert_eq!(r.0.ok(), Some(Next::Ipv4));
        assert_eq!(r.1, vec![0x45, 1, 2, 3]);
        assert_eq!(at, 16);
        // Same in big-endian TLVs, family IPv6.
        let bytes = [10, 0, 0, 0, 0, 8, 0, 9, 0x60, 0, 0, 0];
        let (r, _) = run(&bytes, |c| link(LinkType::Nflog, c));
        assert_eq!(r.ok(), Some(Next::Ipv6));
        let (r, _) = run(&[2, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0], |c| {
            link(LinkType::Nflog, c)
        });
        assert_eq!(skipped(r), SkipReason::NflogNoPayload);
    }

    #[test]
    fn ethernet_802_3_with_snap_and_without() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x00, 0x10]); // length 16
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&[0x45; 8]);
        f.extend_from_slice(&[0; 10]); // padding past the 802.3 length
        let (r, _) = run(&f, |c| {
            let n = ethernet(c);
            (n, c.len())
        });
        assert_eq!(r.0.ok(), Some(Next::EtherType(0x0800)));
        assert_eq!(r.1, 8);
        let mut stp = vec![0u8; 12];
        stp.extend_from_slice(&[0x00, 0x26, 0x42, 0x42, 0x03]);
        let (r, _) = run(&stp, ethernet);
        assert_eq!(skipped(r), SkipReason::Llc);
    }

    #[test]
    fn mpls_stack_then_nibble() {
        // Two labels, bottom-of-stack on the second, then IPv4.
        let (r, at) = run(&[0, 1, 0x20, 64, 0, 2, 0x21, 64, 0x45], mpls);
        assert_eq!(r.ok(), Some((2, Next::Ipv4)));
        assert_eq!(at, 8);
        // Control word then Ethernet.
        let (r, at) = run(&[0, 1, 0x21, 64, 0, 0, 0, 0, 0xde], mpls);
        assert_eq!(r.ok(), Some((1, Next::Ethernet)));
        assert_eq!(at, 8);
        let (r, _) = run(&[0, 1, 0x21, 64, 0x12], mpls);
        assert_eq!(skipped(r), SkipReason::MplsPayload);
        let (r, _) = run(&[0, 1, 0x20, 64, 0, 2], mpls);
        assert_eq!(error(r), DecodeError::Truncated { layer: Layer::Mpls });
    }

    #[test]
    fn pppoe_length_bounds_the_frame() {
        let bytes = [0x11, 0, 0, 1, 0, 4, 0x00, 0x21, 0x45, 0, 0xee, 0xee];
        let (r, _) = run(&bytes, |c| {
            let n = pppoe(c).and_then(|_| ppp(c));
            (n, c.len())
        });
        assert_eq!(r.0.ok(), Some(Next::Ipv4));
        assert_eq!(r.1, 2);
        let (r, _) = run(&[0x11, 0, 0, 1, 0, 2, 0xc0, 0x21], |c| {
            pppoe(c).and_then(|_| ppp(c))
        });
        assert_eq!(skipped(r), SkipReason::PppProtocol(0xc021));
        let (r, _) = run(&[0x12, 0, 0, 1, 0, 2], pppoe);
        assert!(matches!(
            error(r),
            DecodeError::BadHeader {
                layer: Layer::Pppoe,
                ..
            }
        ));
    }

    #[test]
    fn ppp_compressed_and_address_control() {
        let (r, _) = run(&[0xff, 0x03, 0x00, 0x57], ppp);
        assert_eq!(r.ok(), Some(Next::Ipv6));
        let (r, at) = run(&[0x21, 0x45], ppp);
        assert_eq!(r.ok(), Some(Next::Ipv4));
        assert_eq!(at, 1);
    }

    #[test]
    fn vlan_tag_fields() {
        let (r, at) = run(&[0x20, 0x64, 0x08, 0x00], vlan);
        assert_eq!(r.ok(), Some((100, 0x0800)));
        assert_eq!(at, 4);
    }
}
