//! TCP reassembly through the flow table, driven by a sequence of segment operations: three
//! connections (two sharing an address pair), both directions, any sequence and
//! acknowledgement numbers near each side's initial one (or anywhere), every flag combination,
//! payloads cut by the snaplen, TCP timestamps, packet-time steps, timeouts and the end of
//! input a slice at a time; the flow table's limits are small so that every limit is hit.
//!
//! Every byte a segment carries is the low byte of its own sequence number (a SYN's data
//! starts one after the SYN's), unless the
//! operation asks for different bytes (a rewritten retransmission). Checked besides "no
//! panic": the documented bounds after every operation (`max_flows`, `max_buffered_total`,
//! `max_buffered_per_dir` per direction, `max_segments_per_dir`, `max_retained_per_dir`,
//! `max_retained_total`), the sink's call order (`on_open` first, nothing after `on_close`,
//! no data or gap after that direction's FIN), and that bytes delivered without a gap between
//! them are consecutive stream bytes, in every direction that was never sent rewritten bytes.
#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use apitap_sensor::flow::{FlowConfig, FlowTable};
use apitap_sensor::packet::MAX_VLAN_TAGS;
use apitap_sensor::stream::{CloseReason, ConnId, ConnInfo, Dir, StreamSink, TcpEvent};
use apitap_sensor::{TcpFlags, TcpSegment, Timestamp};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    max_flows: u8,
    max_buffered_per_dir: u16,
    max_segments_per_dir: u8,
    max_buffered_total: u16,
    max_above_hole_without_acks: u16,
    max_retained_per_dir: u16,
    max_retained_total: u16,
    isn: [u32; 2],
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Segment(Seg),
    Wait { ms: u32 },
    Timeout,
    FinishSome { max: u8 },
}

#[derive(Arbitrary, Debug)]
struct Seg {
    conn: u8,
    from_client: bool,
    /// Sequence number relative to the sender's initial one (`far` makes it absolute).
    seq: u16,
    ack: u16,
    far: bool,
    flags: u8,
    len: u16,
    /// Bytes missing at the end (a snaplen cut).
    cut: u16,
    tsval: Option<u8>,
    rewrite: Option<u8>,
}

/// What the sink has seen of one connection.
#[derive(Default)]
struct Seen {
    closed: bool,
    fin: [bool; 2],
    /// The last byte delivered in each direction, unless a gap came after it.
    last: [Option<u8>; 2],
}

#[derive(Default)]
struct Sink {
    conns: HashMap<ConnId, Seen>,
    /// Directions (by client port and side) that were sent rewritten bytes.
    tainted: HashMap<(u16, bool), ()>,
    /// Client port of each connection, and whether the originator is that client.
    ports: HashMap<ConnId, (u16, bool)>,
}

fn side(dir: Dir) -> usize {
    match dir {
        Dir::FromOrig => 0,
        Dir::FromResp => 1,
    }
}

impl Sink {
    fn live(&mut self, conn: &ConnInfo) -> &mut Seen {
        let seen = self.conns.get_mut(&conn.id).expect("a call before on_open");
        assert!(!seen.closed, "a call after on_close");
        seen
    }

    fn tainted(&self, conn: &ConnInfo, dir: Dir) -> bool {
        let Some(&(port, orig_is_client)) = self.ports.get(&conn.id) else { return true };
        let from_client = (dir == Dir::FromOrig) == orig_is_client;
        self.tainted.contains_key(&(port, from_client))
    }
}

impl StreamSink for Sink {
    fn on_open(&mut self, conn: &ConnInfo) {
        assert!(self.conns.insert(conn.id, Seen::default()).is_none(), "opened twice");
        let (orig, resp) = (conn.orig(), conn.resp());
        let client_port = if orig.port() == 80 { resp.port() } else { orig.port() };
        self.ports.insert(conn.id, (client_port, orig.port() != 80));
    }

    fn on_data(&mut self, conn: &ConnInfo, _: Timestamp, dir: Dir, data: &[u8]) {
        let tainted = self.tainted(conn, dir);
        let seen = self.live(conn);
        assert!(!seen.fin[side(dir)], "data after the direction's FIN");
        assert!(!data.is_empty(), "empty delivery");
        if !tainted {
            let mut prev = seen.last[side(dir)];
            for &b in data {
                if let Some(p) = prev {
                    assert_eq!(b, p.wrapping_add(1), "delivered bytes are not consecutive stream bytes");
                }
                prev = Some(b);
            }
        }
        seen.last[side(dir)] = data.last().copied();
    }

    fn on_gap(&mut self, conn: &ConnInfo, _: Timestamp, dir: Dir, len: u64) {
        let seen = self.live(conn);
        assert!(!seen.fin[side(dir)], "gap after the direction's FIN");
        assert!(len > 0, "empty gap");
        seen.last[side(dir)] = None;
    }

    fn on_fin(&mut self, conn: &ConnInfo, _: Timestamp, dir: Dir) {
        let seen = self.live(conn);
        seen.fin[side(dir)] = true;
    }

    fn on_event(&mut self, conn: &ConnInfo, _: Timestamp, _: TcpEvent) {
        self.live(conn);
    }

    fn on_close(&mut self, conn: &ConnInfo, _: Timestamp, _: CloseReason) {
        self.live(conn).closed = true;
    }
}

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80));
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

fuzz_target!(|input: Input| {
    let cfg = FlowConfig {
        max_flows: usize::from(input.max_flows % 4),
        max_buffered_per_dir: usize::from(input.max_buffered_per_dir),
        max_segments_per_dir: usize::from(input.max_segments_per_dir),
        max_buffered_total: usize::from(input.max_buffered_total) * 2,
        max_above_hole_without_acks: usize::from(input.max_above_hole_without_acks),
        max_retained_per_dir: usize::from(input.max_retained_per_dir),
        max_retained_total: usize::from(input.max_retained_total) * 2,
        idle_timeout: 5_000_000_000,
        handshake_timeout: 1_000_000_000,
        closed_linger: 200_000_000,
        ..FlowConfig::default()
    };
    let mut table = FlowTable::new(cfg.clone());
    let mut sink = Sink::default();
    let mut now = Timestamp::from_parts(1_000, 0);
    let mut payload = Vec::new();
    for op in input.ops.iter().take(1000) {
        match op {
            Op::Wait { ms } => now = now.plus_nanos(u64::from(*ms % 20_000) * 1_000_000),
            Op::Timeout => table.handle_timeout(now, &mut sink),
            Op::FinishSome { max } => {
                let _ = table.finish_some(now, usize::from(*max), &mut sink);
            }
            Op::Segment(s) => {
                let conn = s.conn % 3;
                let (client, client_port) = match conn {
                    0 => (CLIENT, 40_000),
                    1 => (CLIENT, 40_001),
                    _ => (OTHER, 40_002),
                };
                let sender = usize::from(!s.from_client);
                let isn = input.isn[sender].wrapping_add(u32::from(conn) << 24);
                let peer_isn = input.isn[1 - sender].wrapping_add(u32::from(conn) << 24);
                let seq = if s.far { u32::from(s.seq) << 16 } else { isn.wrapping_add(u32::from(s.seq)) };
                let ack = peer_isn.wrapping_add(u32::from(s.ack));
                let len = u32::from(s.len % 3000);
                let captured = len.saturating_sub(u32::from(s.cut % 3000));
                payload.clear();
                // A SYN takes the first sequence number; its data starts after it.
                let first = seq.wrapping_add(u32::from(s.flags & 1));
                payload.extend((0..captured).map(|i| match s.rewrite {
                    Some(r) => r.wrapping_add(i as u8),
                    None => first.wrapping_add(i) as u8,
                }));
                if s.rewrite.is_some() && captured > 0 {
                    sink.tainted.insert((client_port, s.from_client), ());
                }
                let flags = TcpFlags {
                    syn: s.flags & 1 != 0,
                    ack: s.flags & 2 != 0,
                    fin: s.flags & 4 != 0,
                    rst: s.flags & 8 != 0,
                    psh: s.flags & 16 != 0,
                };
                let (src, dst, src_port, dst_port) = if s.from_client {
                    (client, SERVER, client_port, 80)
                } else {
                    (SERVER, client, 80, client_port)
                };
                let seg = TcpSegment {
                    src,
                    dst,
                    src_port,
                    dst_port,
                    seq,
                    ack,
                    flags,
                    window: 65_535,
                    payload: &payload,
                    payload_len: len,
                    vlans: [None; MAX_VLAN_TAGS],
                    tsval: s.tsval.map(u32::from),
                };
                table.handle_segment(now, &seg, &mut sink);
            }
        }
        assert!(table.len() <= cfg.max_flows.max(1), "{} flows", table.len());
        assert!(table.buffered_bytes() <= cfg.max_buffered_total, "{} buffered", table.buffered_bytes());
        assert!(table.retained_bytes() <= cfg.max_retained_total, "{} retained", table.retained_bytes());
        assert!(table.max_retained_per_dir() <= cfg.max_retained_per_dir);
        assert!(table.max_buffered_segments() <= cfg.max_segments_per_dir);
        // Per connection: two directions, each within its limit (bookkeeping included).
        assert!(table.max_buffered_per_conn() <= 2 * cfg.max_buffered_per_dir);
    }
    table.finish(now, &mut sink);
    assert!(table.is_empty());
    assert_eq!(table.buffered_bytes(), 0);
    assert_eq!(table.retained_bytes(), 0);
    assert!(sink.conns.values().all(|c| c.closed), "a connection was never closed");
});
