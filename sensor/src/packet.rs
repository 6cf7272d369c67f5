//! Types shared by every stage of the packet path.

use std::net::IpAddr;

/// Packet time: nanoseconds since the Unix epoch, taken from the capture record (never the
/// clock). Every timeout in the sensor runs on this time.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Builds a timestamp from seconds and nanoseconds.
    pub fn from_parts(secs: u64, nanos: u32) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(u64::from(nanos)))
    }

    /// Seconds since the epoch as a float (for output; Zeek's `ts` format).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self - earlier` in nanoseconds, 0 if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// This time plus `nanos`, saturating.
    pub fn plus_nanos(self, nanos: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(nanos))
    }
}

/// The link-layer type of a captured frame (pcap `LINKTYPE_*` values).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// BSD loopback / NULL (DLT 0): 4-byte address family in host byte order.
    Null,
    /// Ethernet II / 802.3 (DLT 1).
    Ethernet,
    /// Raw IP, version from the first nibble (DLT 101, and the historic 12 and 14).
    Raw,
    /// OpenBSD loopback (DLT 108): 4-byte address family in network byte order.
    Loop,
    /// Linux cooked capture v1 (DLT 113).
    LinuxSll,
    /// Raw IPv4 (DLT 228).
    Ipv4,
    /// Raw IPv6 (DLT 229).
    Ipv6,
    /// Linux netfilter NFLOG (DLT 239).
    Nflog,
    /// Linux cooked capture v2 (DLT 276).
    LinuxSll2,
    /// Any other link type: frames are counted and skipped.
    Other(u32),
}

impl LinkType {
    /// Maps a pcap `LINKTYPE_*` number to a link type.
    pub fn from_linktype(value: u32) -> Self {
        match value {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            239 => LinkType::Nflog,
            276 => LinkType::LinuxSll2,
            other => LinkType::Other(other),
        }
    }
}

/// TCP header flags.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// ACK.
    pub ack: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
}

/// One TCP segment decoded from one packet (or one reassembled IP datagram), borrowing its
/// payload from the packet bytes.
#[derive(Clone, Debug)]
pub struct TcpSegment<'a> {
    /// Source address of the innermost IP header.
    pub src: IpAddr,
    /// Destination address of the innermost IP header.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when `flags.ack`).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Receive window (unscaled).
    pub window: u16,
    /// The payload bytes that were captured. Shorter than `payload_len` when the frame was cut
    /// by the snaplen.
    pub payload: &'a [u8],
    /// The payload length on the wire, from the IP length fields, with Ethernet padding
    /// excluded. Bytes between `payload.len()` and this are missing and become a gap.
    pub payload_len: u32,
    /// Outer VLAN IDs, outermost first (at most [`MAX_VLAN_TAGS`]; unused slots are `None`).
    /// Only used in the flow key when VLAN splitting is turned on.
    pub vlans: [Option<u16>; MAX_VLAN_TAGS],
    /// TSval of the TCP timestamps option (RFC 7323), when the segment carries one. The flow
    /// table uses it for PAWS: a data segment stamped older than what its sender already sent
    /// in order would be dropped by the receiver, so it is not taken as the stream's bytes.
    pub tsval: Option<u32>,
}

/// How many VLAN IDs a [`TcpSegment`] records.
pub const MAX_VLAN_TAGS: usize = 2;
