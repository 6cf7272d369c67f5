//! Link-layer, encapsulation and IP decode down to TCP.
//!
//! A [`Decoder`] turns one captured frame into a [`Decoded`]: a [`TcpSegment`] borrowing its
//! payload from the frame (or from a datagram the decoder reassembled), or why there is none.
//!
//! What it understands, in any nesting the depth limit allows:
//! - link types: Ethernet (with 802.3 LLC/SNAP), Linux cooked v1 and v2, raw IP, BSD NULL and
//!   OpenBSD LOOP, NFLOG;
//! - between link and IP: 802.1Q / 802.1ad / QinQ tags (the first two VLAN IDs are recorded),
//!   MPLS label stacks (IP, or a pseudowire control word then Ethernet), PPPoE sessions;
//! - IPv4 with options, IPv6 with hop-by-hop, routing, destination options, fragment, AH,
//!   mobility, HIP and Shim6 headers; IP fragments of either version at any level are
//!   reassembled ([`crate::defrag`]);
//! - tunnels: IP-in-IP (4, 41), GRE (checksum, key, sequence, routing; IP, transparent Ethernet
//!   bridging, MPLS, ERSPAN I/II/III payloads), PPTP enhanced GRE, GRE over UDP, VXLAN and
//!   VXLAN-GPE, GENEVE, GTP-U (G-PDUs), Teredo (on its ports, and detected on any UDP port by the
//!   inner IPv6 header), AYIYA.
//!
//! Lengths: every IP and tunnel length field bounds what follows, so Ethernet padding and
//! trailers never reach TCP. A frame cut by the snaplen is decoded as far as its bytes go; a TCP
//! segment whose payload was cut is still delivered, with `payload` holding the captured bytes
//! and `payload_len` the on-wire length. A length field claiming more than the enclosing layer
//! had on the wire is [`DecodeError::Truncated`].
//!
//! Headers: Ethernet II, VLAN tags, IPv4, IPv6 and its extension headers (hop-by-hop,
//! routing, destination options, fragment, mobility, HIP, Shim6), AH, TCP and UDP are read
//! through etherparse's zero-copy header slices, one header per step of the decoder's own loop.
//! The lengths around them (snaplen cuts, padding, zero lengths, the depth limit) and everything
//! etherparse does not cover (LLC/SNAP, SLL, NULL/LOOP, NFLOG, MPLS, PPPoE/PPP and the tunnels)
//! are ours; the modules say where and why.
//!
//! Steering: [`steer_hash`] walks a frame's layers as [`Decoder::decode`] would, without state,
//! and hashes its innermost IP address pair, so that a capture thread can send every packet of
//! a connection (both directions, every fragment) to the same worker ([`worker_of`]).
//!
//! Not supported: checksums are not verified (mirror ports carry offloaded, unfinished
//! checksums); ESP payloads are opaque; L2TP, EtherIP, WCCP, NSH, MACsec and 802.11 are skipped
//! as the ethertype or UDP they arrive in; MPLS payloads other than IP or control-word
//! Ethernet; IP options are skipped, not interpreted.

mod checksum;
mod cursor;
mod ip;
mod link;
mod stats;
mod steer;
mod tunnel;
mod types;
mod walk;

use crate::defrag::{DefragConfig, Defragmenter, EventQueue};
use crate::packet::{LinkType, TcpSegment, Timestamp};

pub use stats::DecodeStats;
pub use steer::{steer, steer_hash, steer_hash_with_wire_len, worker_of, Steer, NO_PAIR};
pub use types::{DecodeError, DecodeEvent, Layer, SkipReason};

use walk::{Stop, Walker};

/// Decoder settings. The defaults suit a mirror port; every limit bounds work or memory that
/// the network could otherwise grow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeConfig {
    /// Encapsulation layers allowed beyond the first IP header (default 8). Each tunnel header
    /// (GRE, ERSPAN, VXLAN, GENEVE, GTP-U, Teredo, AYIYA, IP-in-IP) and each VLAN tag, MPLS label
    /// or PPPoE header met after the first IP header counts one; the Ethernet or IP frame a
    /// tunnel carries is part of that tunnel. One more is [`DecodeError::DepthLimit`].
    pub max_depth: usize,
    /// VLAN tags, MPLS labels and PPPoE headers allowed before the first IP header (default 16).
    /// One more is [`DecodeError::DepthLimit`].
    pub max_link_tags: usize,
    /// Fragment reassembly limits.
    pub defrag: DefragConfig,
    /// UDP ports carrying VXLAN (default 4789 and Linux's old 8472). VXLAN-GPE headers (port
    /// 4790, if added here) are recognised by their P flag.
    pub vxlan_ports: Vec<u16>,
    /// UDP ports carrying GENEVE (default 6081).
    pub geneve_ports: Vec<u16>,
    /// UDP ports carrying GTP-U (default 2152).
    pub gtpu_ports: Vec<u16>,
    /// UDP ports carrying Teredo (default 3544, the server port).
    pub teredo_ports: Vec<u16>,
    /// Also decode UDP on other ports as Teredo when its payload is an IPv6 header with a
    /// Teredo address (2001:0::/32) and a length that matches the datagram (default true, as
    /// Zeek does: after qualification Teredo clients talk to relays on any port).
    pub teredo_detect_any_port: bool,
    /// UDP ports carrying AYIYA (default 5072).
    pub ayiya_ports: Vec<u16>,
    /// UDP ports carrying GRE (RFC 8086, default 4754).
    pub gre_udp_ports: Vec<u16>,
    /// Anomaly events queued before [`Decoder::poll_event`] drains them (default 1024); further
    /// events are dropped and counted in [`DecodeStats::events_dropped`].
    pub max_events: usize,
    /// Whether IPv4 header and TCP checksums are verified (default true). A packet that fails
    /// is still decoded and delivered, only counted ([`DecodeStats::ipv4_checksum_bad`],
    /// [`DecodeStats::tcp_checksum_bad`]): a sensor on an end host sees its own outgoing
    /// packets before the NIC finishes their checksums, and on a mirror port a bad checksum is
    /// worth knowing about but the stream is still followed. Segments whose IP length field
    /// was zero (offload) or that the snaplen cut are not verified. Turning it off saves one
    /// pass over each packet's bytes.
    pub verify_checksums: bool,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            max_depth: 8,
            max_link_tags: 16,
            defrag: DefragConfig::default(),
            vxlan_ports: vec![4789, 8472],
            geneve_ports: vec![6081],
            gtpu_ports: vec![2152],
            teredo_ports: vec![3544],
            teredo_detect_any_port: true,
            ayiya_ports: vec![5072],
            gre_udp_ports: vec![4754],
            max_events: 1024,
            verify_checksums: true,
        }
    }
}

/// What one frame decoded to.
#[derive(Clone, Debug)]
pub enum Decoded<'a> {
    /// A TCP segment (from the innermost IP header).
    Tcp(TcpSegment<'a>),
    /// The frame was an IP fragment; it was stored until its datagram completes.
    Held,
    /// Well-formed, but nothing for the TCP path.
    Skipped(SkipReason),
    /// Malformed or truncated: counted as a bad packet.
    Error(DecodeError),
}

/// Which buffer the result lies in.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Source {
    Frame,
    Reassembled,
}

/// Decodes frames down to TCP, reassembling IP fragments on the way.
///
/// Holds the fragment table, the last reassembled datagram (which a [`Decoded::Tcp`] may
/// borrow from until the next call) and a bounded queue of anomaly events. Time is packet time
/// only: fragment timeouts run on the `ts` given to [`decode`](Self::decode) and
/// [`expire`](Self::expire).
#[derive(Debug)]
pub struct Decoder {
    cfg: DecodeConfig,
    defrag: Defragmenter,
    stats: DecodeStats,
    events: EventQueue<DecodeEvent>,
    /// The datagram most recently reassembled; the TCP payload may point into it.
    reassembled: Vec<u8>,
}

impl Decoder {
    /// A decoder with empty state.
    pub fn new(cfg: DecodeConfig) -> Self {
        let defrag = Defragmenter::new(cfg.defrag.clone());
        let events = EventQueue::new(cfg.max_events);
        Decoder {
            cfg,
            defrag,
            stats: DecodeStats::default(),
            events,
            reassembled: Vec::new(),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &DecodeConfig {
        &self.cfg
    }

    /// Decodes one frame. `frame` is the captured bytes (maybe cut by the snaplen), `wire_len`
    /// the original length. Also expires fragment sets older than the timeout at `ts`.
    pub fn decode<'a>(
        &'a mut self,
        ts: Timestamp,
        link: LinkType,
        frame: &'a [u8],
        wire_len: u32,
    ) -> Decoded<'a> {
        self.stats.packets += 1;
        if self.defrag.pending_datagrams() > 0 {
            self.expire(ts);
        }
        let wire = usize::try_from(wire_len).unwrap_or(usize::MAX);
        let Decoder {
            cfg,
            defrag,
            stats,
            events,
            reassembled,
        } = self;
        let mut walker = Walker::new(cfg, defrag, stats, events, ts);
        let mut source = Source::Frame;
        let mut stop = walker.run(frame, wire, walk::Next::Link(link));
        // Each round consumes a datagram the fragment table completed, which is strictly shorter
        // than the buffer it was found in, so this ends.
        while let Stop::Reassembled { payload, next } = stop {
            *reassembled = payload;
            source = Source::Reassembled;
            stop = walker.run(reassembled, reassembled.len(), next);
        }
        let vlans = walker.vlans;
        self.stats.defrag = *self.defrag.stats();
        match stop {
            Stop::Tcp(m) => {
                let buf: &'a [u8] = match source {
                    Source::Frame => frame,
                    Source::Reassembled => &self.reassembled,
                };
                let payload = buf.get(m.payload).unwrap_or(&[]);
                self.stats.tcp += 1;
                if payload.len() < usize::try_from(m.payload_len).unwrap_or(usize::MAX) {
                    self.stats.tcp_truncated += 1;
                }
                Decoded::Tcp(TcpSegment {
                    src: m.src,
                    dst: m.dst,
                    src_port: m.src_port,
                    dst_port: m.dst_port,
                    seq: m.seq,
                    ack: m.ack,
                    flags: m.flags,
                    window: m.window,
                    payload,
                    payload_len: m.payload_len,
                    vlans,
                    tsval: m.tsval,
                })
            }
            // `Peeked` ends only peek walks, never this one.
            Stop::Held | Stop::Reassembled { .. } | Stop::Peeked => {
                self.stats.held += 1;
                Decoded::Held
            }
            Stop::Skipped(r) => {
                self.stats.skipped += 1;
                Decoded::Skipped(r)
            }
            Stop::Error(e) => {
                self.stats.errors += 1;
                Decoded::Error(e)
            }
        }
    }

    /// Drops fragment sets whose first fragment is at least the timeout older than `now`
    /// (packet time). `decode` calls it too, so a caller only needs it when packets stop.
    pub fn expire(&mut self, now: Timestamp) {
        self.defrag.expire(now);
        while let Some(e) = self.defrag.poll_event() {
            if !self.events.push(DecodeEvent::Defrag(e)) {
                self.stats.events_dropped += 1;
            }
        }
        self.stats.defrag = *self.defrag.stats();
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Incomplete IP datagrams held by the fragment table.
    pub fn pending_fragment_datagrams(&self) -> usize {
        self.defrag.pending_datagrams()
    }

    /// Bytes held by the fragment table.
    pub fn pending_fragment_bytes(&self) -> usize {
        self.defrag.pending_bytes()
    }

    /// The next anomaly event, oldest first.
    pub fn poll_event(&mut self) -> Option<DecodeEvent> {
        self.events.pop()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DecodeConfig::default())
    }
}
