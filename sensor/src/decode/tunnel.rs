//! Tunnel headers: GRE (and PPTP's enhanced GRE), ERSPAN II/III, VXLAN (and VXLAN-GPE),
//! GENEVE, GTP-U, Teredo and AYIYA. Each parser consumes its header and names what follows.

use etherparse::Ipv6HeaderSlice;

use super::cursor::{be16, Cur};
use super::ip::proto;
use super::link::{self, ethertype};
use super::types::{DecodeError, Layer, SkipReason};
use super::walk::{Next, Stop};

/// GTP-U message type of a G-PDU (user data).
const GTP_GPDU: u8 = 255;

/// GRE (RFC 2784 with RFC 2890 key and sequence, RFC 1701 routing) and PPTP enhanced GRE
/// (RFC 2637, version 1).
pub(crate) fn gre(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<4>(Layer::Gre)?;
    let flags = be16(&h);
    let protocol = be16(&h[2..4]);
    let checksum = flags & 0x8000 != 0;
    let routing = flags & 0x4000 != 0;
    let key = flags & 0x2000 != 0;
    let seq = flags & 0x1000 != 0;
    let ack = flags & 0x0080 != 0;
    match flags & 0x0007 {
        0 => {
            let mut len = 4;
            if checksum || routing {
                len += 4;
            }
            if key {
                len += 4;
            }
            if seq {
                len += 4;
            }
            cur.advance(len, Layer::Gre)?;
            if routing {
                skip_source_routes(cur)?;
            }
            match protocol {
                // ERSPAN type I has no header of its own and no sequence number; type II has both.
                ethertype::ERSPAN_2 if seq => Ok(Next::Erspan2),
                ethertype::ERSPAN_2 => Ok(Next::Ethernet),
                ethertype::ERSPAN_3 => Ok(Next::Erspan3),
                ethertype::PPP => Ok(Next::Ppp),
                et => link::ethertype(et),
            }
        }
        1 => {
            if !key || protocol != ethertype::PPP {
                return Err(bad(Layer::Gre, "pptp gre without key or ppp protocol"));
            }
            let payload_len = usize::from(be16(cur.peek(6, Layer::Gre)?.get(4..).unwrap_or(&[])));
            let len = 8 + if seq { 4 } else { 0 } + if ack { 4 } else { 0 };
            cur.advance(len, Layer::Gre)?;
            if !seq || payload_len == 0 {
                // An acknowledgement without data.
                return Err(Stop::Skipped(SkipReason::TunnelPayload(Layer::Gre)));
            }
            cur.limit(payload_len, Layer::Gre)?;
            Ok(Next::Ppp)
        }
        _ => Err(bad(Layer::Gre, "unsupported version")),
    }
}

/// RFC 1701 source route entries, up to the null entry.
fn skip_source_routes(cur: &mut Cur<'_>) -> Result<(), DecodeError> {
    loop {
        let sre = cur.array::<4>(Layer::Gre)?;
        let af = be16(&sre);
        let len = usize::from(sre[3]);
        cur.advance(4 + len, Layer::Gre)?;
        if af == 0 && len == 0 {
            return Ok(());
        }
    }
}

/// ERSPAN type II: 8 bytes (version 1), then the mirrored Ethernet frame.
pub(crate) fn erspan2(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<8>(Layer::Erspan)?;
    if h[0] >> 4 != 1 {
        return Err(bad(
            Layer::Erspan,
            "type ii header with version other than 1",
        ));
    }
    cur.advance(8, Layer::Erspan)?;
    Ok(Next::Ethernet)
}

/// ERSPAN type III: 12 bytes (version 2), an 8-byte platform subheader when the O bit is set,
/// then the mirrored frame (Ethernet, or IP for frame type 2).
pub(crate) fn erspan3(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<12>(Layer::Erspan)?;
    if h[0] >> 4 != 2 {
        return Err(bad(
            Layer::Erspan,
            "type iii header with version other than 2",
        ));
    }
    let frame_type = (h[10] >> 2) & 0x1f;
    let optional = h[11] & 0x01 != 0;
    cur.advance(if optional { 20 } else { 12 }, Layer::Erspan)?;
    match frame_type {
        0 => Ok(Next::Ethernet),
        2 => Ok(Next::IpByNibble(Layer::Erspan)),
        _ => Err(Stop::Skipped(SkipReason::TunnelPayload(Layer::Erspan))),
    }
}

/// VXLAN (RFC 7348): 8 bytes with the I flag, then Ethernet. A VXLAN-GPE header (P flag) names
/// its payload instead.
pub(crate) fn vxlan(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<8>(Layer::Vxlan)?;
    cur.advance(8, Layer::Vxlan)?;
    if h[0] & 0x04 != 0 {
        return match h[3] {
            1 => Ok(Next::Ipv4),
            2 => Ok(Next::Ipv6),
            3 => Ok(Next::Ethernet),
            _ => Err(Stop::Skipped(SkipReason::TunnelPayload(Layer::Vxlan))),
        };
    }
    if h[0] & 0x08 == 0 {
        return Err(bad(Layer::Vxlan, "vni flag not set"));
    }
    Ok(Next::Ethernet)
}

/// GENEVE (RFC 8926): 8 bytes plus options, then an ethertype-named payload.
pub(crate) fn geneve(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<8>(Layer::Geneve)?;
    if h[0] >> 6 != 0 {
        return Err(bad(Layer::Geneve, "version is not 0"));
    }
    let opt_len = usize::from(h[0] & 0x3f) * 4;
    cur.advance(8 + opt_len, Layer::Geneve)?;
    link::ethertype(be16(&h[2..4]))
}

/// GTP-U v1 (3GPP TS 29.281): the 8-byte header, the optional sequence/N-PDU/next-type word
/// and the extension header chain; a G-PDU carries IP, other messages are skipped.
pub(crate) fn gtpu(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<8>(Layer::GtpU)?;
    if h[0] >> 5 != 1 {
        return Err(bad(Layer::GtpU, "version is not 1"));
    }
    if h[0] & 0x10 == 0 {
        return Err(bad(Layer::GtpU, "protocol type is gtp' not gtp"));
    }
    let msg = h[1];
    // The length counts everything after the mandatory 8 bytes.
    cur.limit(8 + usize::from(be16(&h[2..4])), Layer::GtpU)?;
    cur.advance(8, Layer::GtpU)?;
    if h[0] & 0x07 != 0 {
        let opt = cur.array::<4>(Layer::GtpU)?;
        cur.advance(4, Layer::GtpU)?;
        let mut next_ext = if h[0] & 0x04 != 0 { opt[3] } else { 0 };
        while next_ext != 0 {
            let units = usize::from(*cur.peek(1, Layer::GtpU)?.first().unwrap_or(&0));
            if units == 0 {
                return Err(bad(Layer::GtpU, "extension header of length 0"));
            }
            let ext = cur.peek(units * 4, Layer::GtpU)?;
            next_ext = *ext.last().unwrap_or(&0);
            cur.advance(units * 4, Layer::GtpU)?;
        }
    }
    if msg != GTP_GPDU {
        return Err(Stop::Skipped(SkipReason::GtpMessage(msg)));
    }
    match cur.peek(1, Layer::GtpU)?.first().map(|b| b >> 4) {
        Some(4) => Ok(Next::Ipv4),
        Some(6) => Ok(Next::Ipv6),
        _ => Err(Stop::Skipped(SkipReason::TunnelPayload(Layer::GtpU))),
    }
}

/// Teredo (RFC 4380): an optional authentication indicator, an optional origin indication,
/// then IPv6.
pub(crate) fn teredo(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let mut seen_auth = false;
    let mut seen_origin = false;
    loop {
        let first = *cur.peek(1, Layer::Teredo)?.first().unwrap_or(&0);
        if first >> 4 == 6 {
            return Ok(Next::Ipv6);
        }
        let h = cur.array::<2>(Layer::Teredo)?;
        match (h[0], h[1]) {
            (0, 1) if !seen_auth && !seen_origin => {
                let a = cur.array::<4>(Layer::Teredo)?;
                // Client id, authentication value, 8-byte nonce, confirmation byte.
                let len = 4 + usize::from(a[2]) + usize::from(a[3]) + 9;
                cur.advance(len, Layer::Teredo)?;
                seen_auth = true;
            }
            (0, 0) if !seen_origin => {
                cur.advance(8, Layer::Teredo)?;
                seen_origin = true;
            }
            _ => return Err(bad(Layer::Teredo, "payload is not ipv6")),
        }
    }
}

/// Whether a UDP payload on a port not configured for Teredo still is Teredo: after the
/// indicators, an IPv6 header with a Teredo (2001:0::/32) address on either side whose payload
/// length matches the datagram exactly (bubbles may carry trailing bytes). Teredo clients talk
/// to relays on arbitrary ports once qualified, so port matching alone misses most of it.
pub(crate) fn looks_like_teredo(cur: &Cur<'_>) -> bool {
    let mut probe = cur.clone();
    if !matches!(teredo(&mut probe), Ok(Next::Ipv6)) {
        return false;
    }
    let Ok(h) = Ipv6HeaderSlice::from_slice(probe.bytes()) else {
        return false;
    };
    let teredo_prefix = |a: [u8; 16]| a.starts_with(&[0x20, 0x01, 0x00, 0x00]);
    if !teredo_prefix(h.source()) && !teredo_prefix(h.destination()) {
        return false;
    }
    let plen = usize::from(h.payload_length());
    let rest = probe.wire().saturating_sub(h.slice().len());
    plen == rest || (plen == 0 && h.next_header().0 == proto::NONE)
}

/// AYIYA: a header whose length follows from the identity and signature length fields; only
/// forward (opcode 1) packets carry IPv4 or IPv6.
pub(crate) fn ayiya(cur: &mut Cur<'_>) -> Result<Next, Stop> {
    let h = cur.array::<8>(Layer::Ayiya)?;
    let id_len = 1usize << (h[0] >> 4);
    let sig_len = usize::from(h[1] >> 4) * 4;
    let opcode = h[2] & 0x0f;
    let next = h[3];
    cur.advance(8 + id_len + sig_len, Layer::Ayiya)?;
    if opcode != 1 {
        return Err(Stop::Skipped(SkipReason::TunnelPayload(Layer::Ayiya)));
    }
    match next {
        proto::IPIP => Ok(Next::Ipv4),
        proto::IPV6 => Ok(Next::Ipv6),
        _ => Err(Stop::Skipped(SkipReason::TunnelPayload(Layer::Ayiya))),
    }
}

fn bad(layer: Layer, reason: &'static str) -> Stop {
    Stop::Error(DecodeError::BadHeader { layer, reason })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn run(
        bytes: &[u8],
        f: impl FnOnce(&mut Cur<'_>) -> Result<Next, Stop>,
    ) -> (Result<Next, Stop>, usize) {
        let mut cur = Cur::new(bytes, bytes.len());
        let r = f(&mut cur);
        (r, cur.range().start)
    }

    fn ok(bytes: &[u8], f: impl FnOnce(&mut Cur<'_>) -> Result<Next, Stop>) -> (Next, usize) {
        match run(bytes, f) {
            (Ok(n), at) => (n, at),
            (Err(e), _) => panic!("unexpected stop {e:?}"),
        }
    }

    fn stop(bytes: &[u8], f: impl FnOnce(&mut Cur<'_>) -> Result<Next, Stop>) -> Stop {
        match run(bytes, f) {
            (Err(s), _) => s,
            (Ok(n), _) => panic!("unexpected success {n:?}"),
        }
    }

    #[test]
    fn gre_plain_and_with_all_options() {
        assert_eq!(ok(&[0, 0, 0x08, 0x00, 0x45], gre), (Next::Ipv4, 4));
        // C, K, S: checksum+reserved, key, sequence.
        let mut g = vec![0xb0, 0x00, 0x86, 0xdd];
        g.extend_from_slice(&[0; 12]);
        g.push(0x60);
        assert_eq!(ok(&g, gre), (Next::Ipv6, 16));
        assert_eq!(
            ok(&[0x20, 0, 0x65, 0x58, 1, 2, 3, 4, 0], gre),
            (Next::Ethernet, 8)
        );
        assert_eq!(
            stop(&[0x20, 0, 0x65, 0x58, 1, 2], gre),
            Stop::Error(DecodeError::Truncated { layer: Layer::Gre })
        );
        assert!(matches!(
            stop(&[0, 2, 0x08, 0x00], gre),
            Stop::Error(DecodeError::BadHeader { .. })
        ));
        assert_eq!(
            stop(&[0, 0, 0x08, 0x06], gre),
            Stop::Skipped(SkipReason::EtherType(0x0806))
        );
    }

    #[test]
    fn gre_routing_entries_are_skipped() {
        // R bit: checksum/offset word, one SRE of 4 bytes, null SRE.
        let g = [
            0x40, 0, 0x08, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0x45,
        ];
        assert_eq!(ok(&g, gre), (Next::Ipv4, 20));
    }

    #[test]
    fn gre_erspan_types() {
        assert_eq!(
            ok(&[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1], gre),
            (Next::Erspan2, 8)
        );
        assert_eq!(ok(&[0x00, 0, 0x88, 0xbe], gre), (Next::Ethernet, 4));
        assert_eq!(
            ok(&[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1], gre),
            (Next::Erspan3, 8)
        );
    }

    #[test]
    fn pptp_gre_to_ppp() {
        // v1, K+S, proto 0x880b, payload length 4, call id, seq.
        let g = [
            0x30, 0x01, 0x88, 0x0b, 0, 4, 0, 7, 0, 0, 0, 1, 0xff, 0x03, 0x00, 0x21, 0xee,
        ];
        let (n, at) = ok(&g, gre);
        assert_eq!((n, at), (Next::Ppp, 12));
        // Ack only.
        let g = [0x20, 0x81, 0x88, 0x0b, 0, 0, 0, 7, 0, 0, 0, 1];
        assert_eq!(
            stop(&g, gre),
            Stop::Skipped(SkipReason::TunnelPayload(Layer::Gre))
        );
    }

    #[test]
    fn erspan_headers() {
        assert_eq!(
            ok(&[0x10, 0x64, 0, 1, 0, 0, 0, 0], erspan2),
            (Next::Ethernet, 8)
        );
        assert!(matches!(
            stop(&[0x20, 0, 0, 1, 0, 0, 0, 0], erspan2),
            Stop::Error(DecodeError::BadHeader { .. })
        ));
        let mut e3 = vec![0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(ok(&e3, erspan3), (Next::Ethernet, 12));
        e3[11] = 1; // O bit: platform subheader
        e3.extend_from_slice(&[0; 8]);
        assert_eq!(ok(&e3, erspan3), (Next::Ethernet, 20));
        e3[10] = 2 << 2; // frame type IP
        assert_eq!(ok(&e3, erspan3), (Next::IpByNibble(Layer::Erspan), 20));
    }

    #[test]
    fn vxlan_and_gpe() {
        assert_eq!(ok(&[0x08, 0, 0, 0, 0, 0, 1, 0], vxlan), (Next::Ethernet, 8));
        assert!(matches!(
            stop(&[0, 0, 0, 0, 0, 0, 1, 0], vxlan),
            Stop::Error(DecodeError::BadHeader { .. })
        ));
        assert_eq!(ok(&[0x0c, 0, 0, 2, 0, 0, 1, 0], vxlan), (Next::Ipv6, 8));
    }

    #[test]
    fn geneve_with_options() {
        let mut g = vec![0x02, 0, 0x65, 0x58, 0, 0, 1, 0];
        g.extend_from_slice(&[0; 8]);
        assert_eq!(ok(&g, geneve), (Next::Ethernet, 16));
        assert_eq!(ok(&[0, 0, 0x08, 0, 0, 0, 1, 0], geneve), (Next::Ipv4, 8));
        assert!(matches!(
            stop(&[0x40, 0, 0x08, 0, 0, 0, 1, 0], geneve),
            Stop::Error(DecodeError::BadHeader { .. })
        ));
    }

    #[test]
    fn gtpu_with_extension_chain() {
        // E flag, seq word with next type 0x85 (PDU session container), one 4-byte extension.
        let g = [
            0x34, 0xff, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x05, 0, 0x45,
        ];
        assert_eq!(ok(&g, gtpu), (Next::Ipv4, 16));
        let plain = [0x30, 0xff, 0, 1, 0, 0, 0, 1, 0x60];
        assert_eq!(ok(&plain, gtpu), (Next::Ipv6, 8));
        let echo = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(stop(&echo, gtpu), Stop::Skipped(SkipReason::GtpMessage(1)));
        let zero_ext = [0x34, 0xff, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x85, 0, 0, 0, 0];
        assert!(matches!(
            stop(&zero_ext, gtpu),
            Stop::Error(DecodeError::BadHeader { .. })
        ));
        // The GTP length exceeds the datagram.
        let long = [0x30, 0xff, 0, 50, 0, 0, 0, 1, 0x45];
        assert_eq!(
            stop(&long, gtpu),
            Stop::Error(DecodeError::Truncated { layer: Layer::GtpU })
        );
    }

    #[test]
    fn teredo_indicators() {
        let origin = [0, 0, 0xf2, 0x3a, 0xb9, 0xc8, 0x28, 0x15, 0x60];
        assert_eq!(ok(&origin, teredo), (Next::Ipv6, 8));
        let mut auth = vec![0, 1, 2, 1, 9, 9, 7];
        auth.extend_from_slice(&[0; 9]);
        auth.extend_from_slice(&origin);
        assert_eq!(ok(&auth, teredo), (Next::Ipv6, 24));
        assert!(matches!(
            stop(&[0x45, 0], teredo),
            Stop::Error(DecodeError::BadHeader { .. })
        ));
        // Two origin indications are not Teredo.
        assert!(matches!(
            stop(
                &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x60],
                teredo
            ),
            Stop::Error(_)
        ));
    }

    #[test]
    fn teredo_detection_needs_prefix_and_exact_length() {
        let mut p = vec![0x60, 0, 0, 0, 0, 4, 17, 64];
        p.extend_from_slice(&[0x20, 0x01, 0, 0]);
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(&[0x20, 0x01, 0x48, 0x60]);
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(&[1, 2, 3, 4]);
        assert!(looks_like_teredo(&Cur::new(&p, p.len())));
        assert!(!looks_like_teredo(&Cur::new(&p[..43], 43)));
        let mut other = p.clone();
        other[8..12].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        assert!(!looks_like_teredo(&Cur::new(&other, other.len())));
    }

    #[test]
    fn ayiya_header_length() {
        // id length 2^4 = 16, signature 5*4 = 20, opcode 1, next header 41.
        let mut a = vec![0x41, 0x52, 0x11, 41, 0, 0, 0, 0];
        a.extend_from_slice(&[0; 36]);
        a.push(0x60);
        assert_eq!(ok(&a, ayiya), (Next::Ipv6, 44));
        a[2] = 0x10; // opcode 0: heartbeat
        assert_eq!(
            stop(&a, ayiya),
            Stop::Skipped(SkipReason::TunnelPayload(Layer::Ayiya))
        );
        assert_eq!(
            stop(&a[..20], ayiya),
            Stop::Error(DecodeError::Truncated {
                layer: Layer::Ayiya
            })
        );
    }
}
