//! The decode loop: one state per layer, a loop rather than recursion so that nesting costs no
//! stack, and the bookkeeping that spans layers (depth, VLAN IDs, fragments, counters).

use std::net::IpAddr;
use std::ops::Range;

use super::checksum;
use super::cursor::Cur;
use super::ip::{self, FragInfo, IpCtx, IpStep};
use super::types::{DecodeError, DecodeEvent, Layer, SkipReason};
use super::{link, tunnel, DecodeConfig, DecodeStats};
use crate::defrag::{DefragOutcome, Defragmenter, EventQueue, FragKey, Fragment};
use crate::packet::{LinkType, TcpFlags, Timestamp, MAX_VLAN_TAGS};

/// The layer that starts at the cursor.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// The capture's link header.
    Link(LinkType),
    /// An Ethernet header.
    Ethernet,
    /// The payload of this ethertype.
    EtherType(u16),
    /// A VLAN tag.
    Vlan,
    /// An MPLS label stack.
    Mpls,
    /// A PPPoE session header.
    Pppoe,
    /// A PPP protocol field.
    Ppp,
    /// IPv4 or IPv6 by the first nibble; the layer is blamed when it is neither.
    IpByNibble(Layer),
    /// An IPv4 header.
    Ipv4,
    /// An IPv6 header.
    Ipv6,
    /// What follows an IP header (or extension header): `ctx.proto` names it.
    IpPayload(IpCtx),
    /// An IP header inside IP (protocol 4 or 41): a tunnel layer.
    IpInIp {
        /// IPv6 inside.
        v6: bool,
    },
    /// A TCP header.
    Tcp(IpCtx),
    /// A UDP header.
    Udp,
    /// A GRE header.
    Gre,
    /// An ERSPAN type II header.
    Erspan2,
    /// An ERSPAN type III header.
    Erspan3,
    /// A VXLAN header.
    Vxlan,
    /// A GENEVE header.
    Geneve,
    /// A GTP-U header.
    GtpU,
    /// Teredo indicators or IPv6.
    Teredo,
    /// An AYIYA header.
    Ayiya,
}

/// A decoded TCP segment whose payload is still a range of the buffer it was found in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TcpMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub tsval: Option<u32>,
    pub payload: Range<usize>,
    pub payload_len: u32,
}

/// Why the walk over one buffer ended. Parsers return it as the error side of their result so
/// that `?` ends the walk; most variants are not errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A TCP segment.
    Tcp(TcpMeta),
    /// A fragment was stored.
    Held,
    /// A fragment completed a datagram: continue with `next` over `payload`.
    Reassembled { payload: Vec<u8>, next: Next },
    /// Nothing for the TCP path.
    Skipped(SkipReason),
    /// Malformed.
    Error(DecodeError),
    /// A peek walk reached a TCP header or a fragment: [`Walker::ip_pair`] holds the IP pair
    /// it stopped at. Only [`Effects::Peek`] walks end this way.
    Peeked,
}

impl From<DecodeError> for Stop {
    fn from(e: DecodeError) -> Self {
        Stop::Error(e)
    }
}

/// The ports at the start of a TCP header, when its first four bytes are there.
fn tcp_ports(b: &[u8]) -> Option<(u16, u16)> {
    match b {
        [a, b, c, d, ..] => Some((u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]))),
        _ => None,
    }
}

/// Counts a header that parsed (whatever it leads to); a malformed one is not counted.
fn counted(counter: &mut u64, r: Result<Next, Stop>) -> Result<Next, Stop> {
    if !matches!(r, Err(Stop::Error(_))) {
        *counter += 1;
    }
    r
}

/// Which tunnel a UDP port is configured for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum UdpTunnel {
    Vxlan,
    Geneve,
    GtpU,
    Teredo,
    Ayiya,
    Gre,
}

/// Safety net on loop iterations per buffer. Every state either consumes bytes or moves to a
/// state that does, so this only matters if that ever stops being true.
const MAX_STEPS: usize = 1 << 16;

/// What a walk may change besides the counters it is given.
pub(crate) enum Effects<'s> {
    /// A full decode: fragments go to the fragment table, anomalies to the event queue, and
    /// checksums are verified when the configuration asks.
    Decode {
        defrag: &'s mut Defragmenter,
        events: &'s mut EventQueue<DecodeEvent>,
    },
    /// A look at the layers only (flow steering): the walk records each IP header's address
    /// pair in [`Walker::ip_pair`] and ends with [`Stop::Peeked`] at the first fragment or TCP
    /// header, without storing the fragment or reading the TCP header. No checksum is verified
    /// and no event is raised, so a peek costs no more than the layer headers it reads.
    Peek {
        /// Walk on into the data of a first fragment (it holds the headers the later
        /// fragments lack) instead of stopping there.
        into_first_fragments: bool,
    },
}

/// State of one `decode` call, kept across the buffers it walks (frame, then reassembled
/// datagrams).
pub(crate) struct Walker<'s> {
    pub cfg: &'s DecodeConfig,
    effects: Effects<'s>,
    pub stats: &'s mut DecodeStats,
    pub ts: Timestamp,
    depth: usize,
    link_tags: usize,
    seen_ip: bool,
    pub vlans: [Option<u16>; MAX_VLAN_TAGS],
    /// Peek walks only: (source, destination) of the latest IP header read.
    pub ip_pair: Option<(IpAddr, IpAddr)>,
    /// Peek walks only: the TCP ports (source, destination) where the walk reached a TCP
    /// header, or a first fragment whose data starts with one.
    pub ports: Option<(u16, u16)>,
    /// Peek walks only: the (outermost) fragment the walk met: identification, protocol,
    /// whether it is the first, and its header's (source, destination).
    pub fragment: Option<PeekedFragment>,
}

/// A fragment a peek walk met.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct PeekedFragment {
    pub id: u32,
    pub proto: u8,
    pub first: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
}

impl<'s> Walker<'s> {
    pub(crate) fn new(
        cfg: &'s DecodeConfig,
        defrag: &'s mut Defragmenter,
        stats: &'s mut DecodeStats,
        events: &'s mut EventQueue<DecodeEvent>,
        ts: Timestamp,
    ) -> Self {
        Self::with(cfg, Effects::Decode { defrag, events }, stats, ts)
    }

    /// A walker that only looks ([`Effects::Peek`]). `stats` receives the layer counters the
    /// walk bumps on its way; callers pass a throwaway.
    pub(crate) fn peek(cfg: &'s DecodeConfig, stats: &'s mut DecodeStats, into_first_fragments: bool) -> Self {
        Self::with(cfg, Effects::Peek { into_first_fragments }, stats, Timestamp(0))
    }

    fn with(cfg: &'s DecodeConfig, effects: Effects<'s>, stats: &'s mut DecodeStats, ts: Timestamp) -> Self {
        Walker {
            cfg,
            effects,
            stats,
            ts,
            depth: 0,
            link_tags: 0,
            seen_ip: false,
            vlans: [None; MAX_VLAN_TAGS],
            ip_pair: None,
            ports: None,
            fragment: None,
        }
    }

    fn peeking(&self) -> bool {
        matches!(self.effects, Effects::Peek { .. })
    }

    /// Walks `buf` (of which `wire` bytes were on the wire) from layer `next` until it stops.
    pub(crate) fn run(&mut self, buf: &[u8], wire: usize, mut next: Next) -> Stop {
        let mut cur = Cur::new(buf, wire);
        for _ in 0..MAX_STEPS {
            match self.step(&mut cur, next) {
                Ok(n) => next = n,
                Err(stop) => return stop,
            }
        }
        self.stats.depth_limit += 1;
        Stop::Error(DecodeError::DepthLimit)
    }

    fn step(&mut self, cur: &mut Cur<'_>, next: Next) -> Result<Next, Stop> {
        match next {
            Next::Link(l) => link::link(l, cur),
            Next::Ethernet => link::ethernet(cur),
            Next::EtherType(et) => link::ethertype(et),
            Next::Vlan => {
                self.tags(1)?;
                let (vid, et) = link::vlan(cur)?;
                self.stats.vlan += 1;
                if let Some(slot) = self.vlans.iter_mut().find(|v| v.is_none()) {
                    *slot = Some(vid);
                }
                Ok(Next::EtherType(et))
            }
            Next::Mpls => {
                let (labels, next) = link::mpls(cur)?;
                self.stats.mpls += 1;
                self.tags(labels)?;
                Ok(next)
            }
            Next::Pppoe => {
                self.tags(1)?;
                counted(&mut self.stats.pppoe, link::pppoe(cur))
            }
            Next::Ppp => link::ppp(cur),
            Next::IpByNibble(layer) => match cur.peek(1, layer)?.first().map(|b| b >> 4) {
                Some(4) => Ok(Next::Ipv4),
                Some(6) => Ok(Next::Ipv6),
                _ => Err(DecodeError::BadHeader {
                    layer,
                    reason: "ip version is neither 4 nor 6",
                }
                .into()),
            },
            Next::Ipv4 => {
                self.seen_ip = true;
                let verify = self.cfg.verify_checksums && !self.peeking();
                let header_ok = !verify || checksum::ipv4_header_ok(cur.bytes());
                let r = ip::ipv4(cur)?;
                self.note_pair(&r.0);
                if !header_ok {
                    self.stats.ipv4_checksum_bad += 1;
                }
                self.stats.ipv4 += 1;
                self.ip_step(cur, r, Layer::Ipv4)
            }
            Next::Ipv6 => {
                self.seen_ip = true;
                let r = ip::ipv6(cur)?;
                self.note_pair(&r.0);
                self.stats.ipv6 += 1;
                self.ip_step(cur, r, Layer::Ipv6)
            }
            Next::IpPayload(ctx) => {
                let layer = if ctx.v6 { Layer::Ipv6 } else { Layer::Ipv4 };
                let step = ip::payload(cur, ctx)?;
                self.ip_step(cur, (step, false), layer)
            }
            Next::IpInIp { v6 } => {
                self.enter()?;
                self.stats.ip_in_ip += 1;
                Ok(if v6 { Next::Ipv6 } else { Next::Ipv4 })
            }
            Next::Tcp(_) if self.peeking() => {
                self.ports = tcp_ports(cur.bytes());
                Err(Stop::Peeked)
            }
            Next::Tcp(ctx) => {
                if self.cfg.verify_checksums && !ctx.offloaded && !cur.is_cut() {
                    let ok = checksum::tcp_ok(ctx.src, ctx.dst, cur.bytes());
                    if ok == Some(false) {
                        self.stats.tcp_checksum_bad += 1;
                    }
                }
                Err(Stop::Tcp(ip::tcp(cur, ctx)?))
            }
            Next::Udp => {
                let (sp, dp) = ip::udp(cur)?;
                self.udp_tunnel(cur, sp, dp)
            }
            Next::Gre => {
                self.enter()?;
                counted(&mut self.stats.gre, tunnel::gre(cur))
            }
            Next::Erspan2 => {
                self.enter()?;
                counted(&mut self.stats.erspan, tunnel::erspan2(cur))
            }
            Next::Erspan3 => {
                self.enter()?;
                counted(&mut self.stats.erspan, tunnel::erspan3(cur))
            }
            Next::Vxlan => {
                self.enter()?;
                counted(&mut self.stats.vxlan, tunnel::vxlan(cur))
            }
            Next::Geneve => {
                self.enter()?;
                counted(&mut self.stats.geneve, tunnel::geneve(cur))
            }
            Next::GtpU => {
                self.enter()?;
                counted(&mut self.stats.gtpu, tunnel::gtpu(cur))
            }
            Next::Teredo => {
                self.enter()?;
                counted(&mut self.stats.teredo, tunnel::teredo(cur))
            }
            Next::Ayiya => {
                self.enter()?;
                counted(&mut self.stats.ayiya, tunnel::ayiya(cur))
            }
        }
    }

    /// Acts on what an IP header led to: goes on, or hands a fragment to the fragment table.
    fn ip_step(
        &mut self,
        cur: &mut Cur<'_>,
        r: (IpStep, bool),
        layer: Layer,
    ) -> Result<Next, Stop> {
        let (step, length_zero) = r;
        if length_zero {
            self.stats.ip_length_zero += 1;
            self.event(DecodeEvent::IpLengthZero { ts: self.ts, layer });
        }
        match step {
            IpStep::Next(n) => Ok(n),
            IpStep::Fragment(f)
                if matches!(self.effects, Effects::Peek { into_first_fragments: true }) && f.offset == 0 && self.fragment.is_none() =>
            {
                // The first fragment's data starts with the headers inside the datagram (a
                // tunnel's inner packet, the TCP ports); its length fields count bytes that
                // are in later fragments, so the rest of the walk has no on-wire bound.
                self.fragment = Some(PeekedFragment { id: f.id, proto: f.ctx.proto, first: true, src: f.ctx.src, dst: f.ctx.dst });
                cur.unbound();
                Ok(Next::IpPayload(f.ctx))
            }
            IpStep::Fragment(f) => Err(self.fragment(cur, f, layer)),
        }
    }

    /// Peek walks record the pair of every IP header; the last one recorded is the pair of the
    /// header the walk stopped in or under.
    fn note_pair(&mut self, step: &IpStep) {
        if !self.peeking() {
            return;
        }
        let ctx = match step {
            IpStep::Next(Next::IpPayload(ctx)) => ctx,
            IpStep::Fragment(f) => &f.ctx,
            IpStep::Next(_) => return,
        };
        self.ip_pair = Some((ctx.src, ctx.dst));
    }

    fn fragment(&mut self, cur: &Cur<'_>, f: FragInfo, layer: Layer) -> Stop {
        let defrag = match &mut self.effects {
            Effects::Decode { defrag, .. } => &mut **defrag,
            // The fragment's own header is the innermost one visible.
            Effects::Peek { .. } => {
                let first = f.offset == 0;
                if self.fragment.is_none() {
                    self.fragment = Some(PeekedFragment { id: f.id, proto: f.ctx.proto, first, src: f.ctx.src, dst: f.ctx.dst });
                }
                if first && f.ctx.proto == 6 {
                    self.ports = tcp_ports(cur.bytes());
                }
                return Stop::Peeked;
            }
        };
        if cur.is_cut() {
            self.stats.fragments_cut += 1;
            return Stop::Skipped(SkipReason::FragmentCut);
        }
        let key = FragKey {
            src: f.ctx.src,
            dst: f.ctx.dst,
            id: f.id,
            protocol: f.ctx.proto,
        };
        let frag = Fragment {
            key,
            offset: f.offset,
            more: f.more,
            data: cur.bytes(),
            header_len: f.ctx.hdr_len,
        };
        let outcome = defrag.insert(self.ts, frag);
        self.drain_defrag_events();
        match outcome {
            DefragOutcome::Held => Stop::Held,
            DefragOutcome::Complete(r) => {
                // The reassembled payload starts with the fragmented protocol's header.
                Stop::Reassembled {
                    payload: r.payload,
                    next: Next::IpPayload(f.ctx),
                }
            }
            DefragOutcome::Rejected(reason) if reason.is_malformed() => {
                let layer = if f.ctx.v6 { Layer::Ipv6Ext } else { layer };
                Stop::Error(DecodeError::BadHeader {
                    layer,
                    reason: reason.as_str(),
                })
            }
            DefragOutcome::Rejected(_) => Stop::Skipped(SkipReason::FragmentDropped),
        }
    }

    /// Picks the tunnel a UDP datagram carries: destination port first (the source port of
    /// VXLAN and GENEVE is a flow hash and may hit any list), then source port, then Teredo
    /// detection.
    fn udp_tunnel(&mut self, cur: &Cur<'_>, sp: u16, dp: u16) -> Result<Next, Stop> {
        let tunnel = self.port_tunnel(dp).or_else(|| self.port_tunnel(sp));
        let next = match tunnel {
            Some(UdpTunnel::Vxlan) => Next::Vxlan,
            Some(UdpTunnel::Geneve) => Next::Geneve,
            Some(UdpTunnel::GtpU) => Next::GtpU,
            Some(UdpTunnel::Teredo) => Next::Teredo,
            Some(UdpTunnel::Ayiya) => Next::Ayiya,
            Some(UdpTunnel::Gre) => Next::Gre,
            None if self.cfg.teredo_detect_any_port && tunnel::looks_like_teredo(cur) => {
                Next::Teredo
            }
            None => return Err(Stop::Skipped(SkipReason::Udp)),
        };
        Ok(next)
    }

    fn port_tunnel(&self, port: u16) -> Option<UdpTunnel> {
        let c = self.cfg;
        [
            (&c.vxlan_ports, UdpTunnel::Vxlan),
            (&c.geneve_ports, UdpTunnel::Geneve),
            (&c.gtpu_ports, UdpTunnel::GtpU),
            (&c.teredo_ports, UdpTunnel::Teredo),
            (&c.ayiya_ports, UdpTunnel::Ayiya),
            (&c.gre_udp_ports, UdpTunnel::Gre),
        ]
        .into_iter()
        .find(|(ports, _)| ports.contains(&port))
        .map(|(_, t)| t)
    }

    /// One more encapsulation layer beyond the first IP header.
    fn enter(&mut self) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > self.cfg.max_depth {
            self.stats.depth_limit += 1;
            return Err(DecodeError::DepthLimit);
        }
        Ok(())
    }

    /// VLAN tags, MPLS labels and PPPoE headers: encapsulation layers once past the first IP
    /// header, bounded by `max_link_tags` before it.
    fn tags(&mut self, n: usize) -> Result<(), DecodeError> {
        if self.seen_ip {
            for _ in 0..n {
                self.enter()?;
            }
            return Ok(());
        }
        self.link_tags = self.link_tags.saturating_add(n);
        if self.link_tags > self.cfg.max_link_tags {
            self.stats.depth_limit += 1;
            return Err(DecodeError::DepthLimit);
        }
        Ok(())
    }

    fn event(&mut self, e: DecodeEvent) {
        if let Effects::Decode { events, .. } = &mut self.effects {
            if !events.push(e) {
                self.stats.events_dropped += 1;
            }
        }
    }

    fn drain_defrag_events(&mut self) {
        let Effects::Decode { defrag, events } = &mut self.effects else {
            return;
        };
        while let Some(e) = defrag.poll_event() {
            if !events.push(DecodeEvent::Defrag(e)) {
                self.stats.events_dropped += 1;
            }
        }
    }
}
