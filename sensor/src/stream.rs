//! What the flow table and TCP reassembly hand to the application layer.
//!
//! Reassembled bytes leave through a [`StreamSink`] so that in-order segments are passed on
//! straight from the packet buffer without a copy.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::packet::Timestamp;

/// A connection's identity, unique within one run (assigned in order of first sight).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Which side sent the bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the originator (the client, as far as the flow table could tell).
    FromOrig,
    /// From the responder (the server).
    FromResp,
}

impl Dir {
    /// The other direction.
    pub fn reverse(self) -> Dir {
        match self {
            Dir::FromOrig => Dir::FromResp,
            Dir::FromResp => Dir::FromOrig,
        }
    }
}

/// How the flow table decided which side is the originator.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OrigInference {
    /// A SYN (without ACK) was seen from the originator.
    Syn,
    /// Only a SYN-ACK was seen; its receiver is the originator.
    SynAck,
    /// No handshake seen: the side using a well-known / lower port is taken as the responder.
    PortHeuristic,
    /// No handshake and no port hint: the sender of the first packet is the originator.
    FirstPacket,
}

/// A connection as the application layer sees it.
///
/// The endpoints are kept compactly (the flow table holds one of these per tracked
/// connection, a million on a busy link): read them with [`ConnInfo::orig`] and
/// [`ConnInfo::resp`]. An IPv6 endpoint's flow label and scope id are not kept (the decoder
/// sets neither), so those addresses come back with both zero.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// Identity within this run.
    pub id: ConnId,
    /// Time of the first packet of the connection.
    pub first_ts: Timestamp,
    /// Originator then responder address: an IPv4 address in the first four bytes.
    ips: [[u8; 16]; 2],
    /// Originator then responder port.
    ports: [u16; 2],
    /// VLAN IDs of the first packet (outermost first), for the record.
    pub vlans: [Option<u16>; crate::packet::MAX_VLAN_TAGS],
    /// Bit 0: the originator's address is IPv6; bit 1: the responder's.
    v6: u8,
    /// How `orig` was chosen.
    pub inference: OrigInference,
}

/// An address as [`ConnInfo`] stores it, and whether it is IPv6.
fn pack(ip: IpAddr) -> ([u8; 16], bool) {
    match ip {
        IpAddr::V4(a) => {
            let mut out = [0; 16];
            let [b0, b1, b2, b3] = a.octets();
            out[..4].copy_from_slice(&[b0, b1, b2, b3]);
            (out, false)
        }
        IpAddr::V6(a) => (a.octets(), true),
    }
}

fn unpack(bytes: &[u8; 16], v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    } else {
        let [a, b, c, d, ..] = *bytes;
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }
}

impl ConnInfo {
    /// A connection from `orig` (the client, as far as the flow table could tell) to `resp`.
    pub fn new(
        id: ConnId,
        orig: SocketAddr,
        resp: SocketAddr,
        first_ts: Timestamp,
        inference: OrigInference,
        vlans: [Option<u16>; crate::packet::MAX_VLAN_TAGS],
    ) -> ConnInfo {
        let (o, o6) = pack(orig.ip());
        let (r, r6) = pack(resp.ip());
        ConnInfo {
            id,
            first_ts,
            ips: [o, r],
            ports: [orig.port(), resp.port()],
            vlans,
            v6: u8::from(o6) | (u8::from(r6) << 1),
            inference,
        }
    }

    /// Originator (client) address and port.
    pub fn orig(&self) -> SocketAddr {
        let [o, _] = &self.ips;
        let [p, _] = self.ports;
        SocketAddr::new(unpack(o, self.v6 & 1 != 0), p)
    }

    /// Responder (server) address and port.
    pub fn resp(&self) -> SocketAddr {
        let [_, r] = &self.ips;
        let [_, p] = self.ports;
        SocketAddr::new(unpack(r, self.v6 & 2 != 0), p)
    }

    /// Whether `ip` and `port` are the originator's, without building its address.
    pub fn is_orig(&self, ip: IpAddr, port: u16) -> bool {
        let [o, _] = &self.ips;
        let [p, _] = self.ports;
        port == p && (self.v6 & 1 != 0, o) == (ip.is_ipv6(), &pack(ip).0)
    }

    /// Client and server addresses: `orig` and `resp`, or the other way round when the
    /// application layer found from the content (`swapped`) that the TCP layer's guess was
    /// reversed.
    pub fn client_server(&self, swapped: bool) -> (SocketAddr, SocketAddr) {
        if swapped {
            (self.resp(), self.orig())
        } else {
            (self.orig(), self.resp())
        }
    }
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnInfo")
            .field("id", &self.id)
            .field("orig", &self.orig())
            .field("resp", &self.resp())
            .field("first_ts", &self.first_ts)
            .field("inference", &self.inference)
            .field("vlans", &self.vlans)
            .finish()
    }
}

/// Why a connection left the flow table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both directions finished (FIN each way).
    Fin,
    /// A RST was seen.
    Reset,
    /// No packet for the idle timeout (packet time).
    Idle,
    /// Evicted to make room under `max_flows`.
    Evicted,
    /// End of input.
    EndOfInput,
}

/// A protocol anomaly seen by the TCP layer, reported with its connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpEvent {
    /// A retransmitted segment overlapped bytes already received and carried different bytes;
    /// the first copy was kept.
    OverlapMismatch {
        /// Direction of the segment.
        dir: Dir,
        /// Stream offset (bytes from the start of the direction) of the first differing byte.
        offset: u64,
        /// How many bytes overlapped.
        len: u32,
    },
    /// Out-of-order data was dropped because the direction's buffer was at `max_buffered_per_dir`.
    BufferLimit {
        /// Direction.
        dir: Dir,
        /// Bytes dropped.
        dropped: u64,
    },
    /// Data arrived after a RST or outside any plausible window and was ignored.
    DataAfterClose {
        /// Direction.
        dir: Dir,
    },
    /// A RST was ignored and the connection stays open: its sequence number lay far outside
    /// the data seen in its direction, or inside the window but not where the receiver expects
    /// the next byte (an RFC 5961 receiver answers that with a challenge ACK, not a reset). A
    /// forged RST aimed at blinding the sensor looks like this.
    ResetIgnored {
        /// Direction of the RST.
        dir: Dir,
    },
    /// A data segment carried a TCP timestamp older than its sender's in-order segments had
    /// already shown (PAWS, RFC 7323): the receiver drops it, so its bytes were not taken.
    PawsRejected {
        /// Direction of the segment.
        dir: Dir,
    },
    /// A FIN was ignored: it claimed the direction ended before bytes already delivered or seen, or far
    /// beyond anything seen in it.
    FinIgnored {
        /// Direction of the FIN.
        dir: Dir,
    },
}

/// Receives reassembled streams from the flow table. All calls for one connection come in
/// order: `on_open`, then data, gaps, FINs and events in stream order, then `on_close`.
pub trait StreamSink {
    /// A new connection entered the table.
    fn on_open(&mut self, conn: &ConnInfo);
    /// In-order bytes of one direction. `ts` is the time of the packet that made them
    /// deliverable.
    fn on_data(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir, data: &[u8]);
    /// `len` bytes of one direction will never arrive (loss, snaplen, buffer limit).
    fn on_gap(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir, len: u64);
    /// The direction ended (FIN reached in sequence, or RST).
    fn on_fin(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir);
    /// A TCP-level anomaly.
    fn on_event(&mut self, conn: &ConnInfo, ts: Timestamp, event: TcpEvent);
    /// The connection left the table; no more calls for it follow.
    fn on_close(&mut self, conn: &ConnInfo, ts: Timestamp, reason: CloseReason);
}
