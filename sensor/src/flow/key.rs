//! The flow key and the choice of originator.

use std::net::{IpAddr, SocketAddr};

use crate::packet::{TcpSegment, MAX_VLAN_TAGS};
use crate::stream::{ConnInfo, OrigInference};

/// Identifies a connection in the table: both endpoints in a fixed order, so that the two
/// directions of a connection find the same entry, plus the VLAN IDs when VLANs split flows.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlowKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    vlans: [Option<u16>; MAX_VLAN_TAGS],
}

impl FlowKey {
    pub(crate) fn of(seg: &TcpSegment<'_>, split_by_vlan: bool) -> FlowKey {
        let a = (seg.src, seg.src_port);
        let b = (seg.dst, seg.dst_port);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let vlans = if split_by_vlan {
            seg.vlans
        } else {
            [None; MAX_VLAN_TAGS]
        };
        FlowKey { lo, hi, vlans }
    }

    /// The key of a connection, from what the table keeps of it: the same key as
    /// [`FlowKey::of`] gives for any of its segments (`orig` and `resp` are the first segment's
    /// endpoints, `vlans` its tags), so the table need not store the key beside the
    /// connection.
    pub(crate) fn of_conn(info: &ConnInfo, split_by_vlan: bool) -> FlowKey {
        let (orig, resp) = (info.orig(), info.resp());
        let a = (orig.ip(), orig.port());
        let b = (resp.ip(), resp.port());
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let vlans = if split_by_vlan {
            info.vlans
        } else {
            [None; MAX_VLAN_TAGS]
        };
        FlowKey { lo, hi, vlans }
    }
}

/// Whether `port` looks like a server's: below 1024 or one of `service_ports`.
fn is_service_port(port: u16, service_ports: &[u16]) -> bool {
    port < 1024 || service_ports.contains(&port)
}

/// Chooses originator and responder from the first segment of a connection.
/// Returns `(orig, resp, how)`.
pub(crate) fn infer_orig(
    seg: &TcpSegment<'_>,
    service_ports: &[u16],
) -> (SocketAddr, SocketAddr, OrigInference) {
    let src = SocketAddr::new(seg.src, seg.src_port);
    let dst = SocketAddr::new(seg.dst, seg.dst_port);
    if seg.flags.syn {
        return if seg.flags.ack {
            (dst, src, OrigInference::SynAck)
        } else {
            (src, dst, OrigInference::Syn)
        };
    }
    match (
        is_service_port(seg.src_port, service_ports),
        is_service_port(seg.dst_port, service_ports),
    ) {
        (true, false) => (dst, src, OrigInference::PortHeuristic),
        (false, true) => (src, dst, OrigInference::PortHeuristic),
        _ => (src, dst, OrigInference::FirstPacket),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::packet::TcpFlags;

    fn seg(
        src_port: u16,
        dst_port: u16,
        flags: TcpFlags,
        vlans: [Option<u16>; 2],
    ) -> TcpSegment<'static> {
        TcpSegment {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            src_port,
            dst_port,
            seq: 0,
            ack: 0,
            flags,
            window: 0,
            payload: &[],
            payload_len: 0,
            vlans,
            tsval: None,
        }
    }

    fn reversed(s: &TcpSegment<'static>) -> TcpSegment<'static> {
        TcpSegment {
            src: s.dst,
            dst: s.src,
            src_port: s.dst_port,
            dst_port: s.src_port,
            ..s.clone()
        }
    }

    #[test]
    fn both_directions_share_a_key_and_vlans_split_only_when_asked() {
        let a = seg(40000, 80, TcpFlags::default(), [Some(10), None]);
        let b = TcpSegment {
            vlans: [Some(20), None],
            ..reversed(&a)
        };
        assert_eq!(FlowKey::of(&a, false), FlowKey::of(&b, false));
        assert_ne!(FlowKey::of(&a, true), FlowKey::of(&b, true));
        let c = reversed(&a);
        assert_eq!(FlowKey::of(&a, true), FlowKey::of(&c, true));
    }

    #[test]
    fn a_connection_gives_the_key_of_its_segments() {
        let syn = TcpFlags {
            syn: true,
            ..TcpFlags::default()
        };
        let v6 = TcpSegment {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            ..seg(40000, 443, syn, [Some(7), Some(8)])
        };
        for first in [seg(40000, 80, syn, [Some(10), None]), seg(80, 40000, TcpFlags::default(), [None, None]), v6] {
            for split in [false, true] {
                let (orig, resp, inference) = infer_orig(&first, &[]);
                let info = ConnInfo::new(
                    crate::stream::ConnId(1),
                    orig,
                    resp,
                    crate::packet::Timestamp(5),
                    inference,
                    first.vlans,
                );
                let key = FlowKey::of_conn(&info, split);
                assert_eq!(key, FlowKey::of(&first, split));
                assert_eq!(key, FlowKey::of(&reversed(&first), split));
            }
        }
    }

    #[test]
    fn inference_rules() {
        let syn = TcpFlags {
            syn: true,
            ..TcpFlags::default()
        };
        let synack = TcpFlags {
            syn: true,
            ack: true,
            ..TcpFlags::default()
        };
        let ack = TcpFlags {
            ack: true,
            ..TcpFlags::default()
        };
        let ports: &[u16] = &[8080];

        let (o, r, how) = infer_orig(&seg(80, 40000, syn, [None; 2]), ports);
        assert_eq!((o.port(), r.port(), how), (80, 40000, OrigInference::Syn));
        let (o, r, how) = infer_orig(&seg(80, 40000, synack, [None; 2]), ports);
        assert_eq!(
            (o.port(), r.port(), how),
            (40000, 80, OrigInference::SynAck)
        );
        let (o, r, how) = infer_orig(&seg(443, 40000, ack, [None; 2]), ports);
        assert_eq!(
            (o.port(), r.port(), how),
            (40000, 443, OrigInference::PortHeuristic)
        );
        let (o, r, how) = infer_orig(&seg(40000, 8080, ack, [None; 2]), ports);
        assert_eq!(
            (o.port(), r.port(), how),
            (40000, 8080, OrigInference::PortHeuristic)
        );
        // Both or neither look like servers: the sender of the first packet is the originator.
        let (o, r, how) = infer_orig(&seg(50000, 40000, ack, [None; 2]), ports);
        assert_eq!(
            (o.port(), r.port(), how),
            (50000, 40000, OrigInference::FirstPacket)
        );
        let (o, r, how) = infer_orig(&seg(80, 8080, ack, [None; 2]), ports);
        assert_eq!(
            (o.port(), r.port(), how),
            (80, 8080, OrigInference::FirstPacket)
        );
    }
}
