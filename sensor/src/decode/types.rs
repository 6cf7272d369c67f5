//! What decoding reports besides TCP segments: layers, errors, skip reasons and events.

use std::fmt;

use crate::defrag::DefragEvent;
use crate::packet::Timestamp;

/// A protocol layer the decoder understands; errors and skip reasons name one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Ethernet II / 802.3 header.
    Ethernet,
    /// 802.2 LLC / SNAP header of an 802.3 frame.
    Llc,
    /// Linux cooked capture v1 header.
    LinuxSll,
    /// Linux cooked capture v2 header.
    LinuxSll2,
    /// BSD NULL / OpenBSD loopback address-family header.
    Loopback,
    /// NFLOG header and TLVs.
    Nflog,
    /// Raw IP link type (no header; version from the first nibble).
    Raw,
    /// 802.1Q / 802.1ad VLAN tag.
    Vlan,
    /// MPLS label stack entry or pseudowire control word.
    Mpls,
    /// PPPoE session header.
    Pppoe,
    /// PPP protocol field (PPPoE and PPTP).
    Ppp,
    /// IPv4 header.
    Ipv4,
    /// IPv6 fixed header.
    Ipv6,
    /// IPv6 extension header (hop-by-hop, routing, destination options, fragment, ...).
    Ipv6Ext,
    /// IP Authentication Header.
    Ah,
    /// TCP header.
    Tcp,
    /// UDP header.
    Udp,
    /// GRE header (RFC 2784/2890, and PPTP's enhanced GRE).
    Gre,
    /// ERSPAN type II or III header.
    Erspan,
    /// VXLAN header.
    Vxlan,
    /// GENEVE header and options.
    Geneve,
    /// GTP-U v1 header and extension headers.
    GtpU,
    /// Teredo indicators (authentication, origin indication).
    Teredo,
    /// AYIYA header.
    Ayiya,
}

impl Layer {
    /// The layer's short lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Ethernet => "ethernet",
            Layer::Llc => "llc",
            Layer::LinuxSll => "linux_sll",
            Layer::LinuxSll2 => "linux_sll2",
            Layer::Loopback => "loopback",
            Layer::Nflog => "nflog",
            Layer::Raw => "raw",
            Layer::Vlan => "vlan",
            Layer::Mpls => "mpls",
            Layer::Pppoe => "pppoe",
            Layer::Ppp => "ppp",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Ipv6Ext => "ipv6_ext",
            Layer::Ah => "ah",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
            Layer::Gre => "gre",
            Layer::Erspan => "erspan",
            Layer::Vxlan => "vxlan",
            Layer::Geneve => "geneve",
            Layer::GtpU => "gtpu",
            Layer::Teredo => "teredo",
            Layer::Ayiya => "ayiya",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a packet could not be decoded: it is malformed or too short. Counted as a bad packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// The bytes end inside `layer`'s header, or a length field claims more than the enclosing
    /// layer holds.
    Truncated {
        /// Where the bytes ran out.
        layer: Layer,
    },
    /// A header field has a value that makes the header unusable.
    BadHeader {
        /// The offending header.
        layer: Layer,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More encapsulation layers than [`DecodeConfig::max_depth`](super::DecodeConfig) (or
    /// link-layer tags than `max_link_tags`).
    DepthLimit,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { layer } => write!(f, "{layer}: truncated"),
            DecodeError::BadHeader { layer, reason } => write!(f, "{layer}: {reason}"),
            DecodeError::DepthLimit => f.write_str("encapsulation nested deeper than the limit"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a well-formed packet carries nothing for the TCP path.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// A link type the decoder does not handle (pcap `LINKTYPE_*` value).
    LinkType(u32),
    /// A loopback address family that is neither IPv4 nor IPv6.
    LoopbackFamily(u32),
    /// An NFLOG record whose address family is neither IPv4 nor IPv6.
    NflogFamily(u8),
    /// An NFLOG record without a payload attribute.
    NflogNoPayload,
    /// An ethertype (or GRE / GENEVE protocol type) that is not IP, a tag or a tunnel: ARP,
    /// LLDP, PPPoE discovery, MACsec, ...
    EtherType(u16),
    /// An 802.3 frame whose LLC header carries no SNAP ethertype (STP, CDP, ...).
    Llc,
    /// A PPP frame that is not IPv4 or IPv6 (LCP, IPCP, ...).
    PppProtocol(u16),
    /// Neither IP nor a pseudowire control word after an MPLS label stack.
    MplsPayload,
    /// An IP protocol that is neither TCP nor a tunnel: ICMP, ICMPv6, SCTP, ...
    IpProtocol(u8),
    /// IPsec ESP: the payload is encrypted.
    Esp,
    /// IPv6 "no next header" (59), which includes Teredo bubbles.
    NoNextHeader,
    /// UDP that is not a configured (or detected) tunnel.
    Udp,
    /// A GTP-U message other than a G-PDU (echo, error indication, end marker, ...).
    GtpMessage(u8),
    /// A tunnel header that carries something other than IP or Ethernet, or a control message
    /// of the tunnel (AYIYA non-forward opcodes, ERSPAN frame types, PPTP acknowledgements, ...).
    TunnelPayload(Layer),
    /// An IP fragment cut by the snaplen: it cannot take part in reassembly.
    FragmentCut,
    /// A fragment refused by a fragment-table limit (an event says which).
    FragmentDropped,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::LinkType(v) => write!(f, "unsupported link type {v}"),
            SkipReason::LoopbackFamily(v) => write!(f, "loopback address family {v}"),
            SkipReason::NflogFamily(v) => write!(f, "nflog address family {v}"),
            SkipReason::NflogNoPayload => f.write_str("nflog record without payload"),
            SkipReason::EtherType(v) => write!(f, "ethertype 0x{v:04x}"),
            SkipReason::Llc => f.write_str("802.3 frame without SNAP"),
            SkipReason::PppProtocol(v) => write!(f, "ppp protocol 0x{v:04x}"),
            SkipReason::MplsPayload => f.write_str("mpls payload is not ip"),
            SkipReason::IpProtocol(v) => write!(f, "ip protocol {v}"),
            SkipReason::Esp => f.write_str("ipsec esp"),
            SkipReason::NoNextHeader => f.write_str("ipv6 no next header"),
            SkipReason::Udp => f.write_str("udp"),
            SkipReason::GtpMessage(v) => write!(f, "gtp-u message type {v}"),
            SkipReason::TunnelPayload(l) => write!(f, "{l}: payload is not ip or ethernet"),
            SkipReason::FragmentCut => f.write_str("ip fragment cut by snaplen"),
            SkipReason::FragmentDropped => f.write_str("ip fragment dropped by a limit"),
        }
    }
}

/// An anomaly met while decoding; drained with [`Decoder::poll_event`](super::Decoder).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeEvent {
    /// An IPv4 total length or IPv6 payload length of zero in front of payload bytes, as
    /// segmentation offload leaves it on captures taken at the sending host; the captured
    /// length was used instead.
    IpLengthZero {
        /// Packet time.
        ts: Timestamp,
        /// [`Layer::Ipv4`] or [`Layer::Ipv6`].
        layer: Layer,
    },
    /// A malformed fragment or a fragment-table limit (overlap, oversize, timeout, eviction).
    Defrag(DefragEvent),
}
