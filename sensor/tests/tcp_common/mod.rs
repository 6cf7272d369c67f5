//! Shared helpers of the TCP scenario tests: segment builders, a recording sink and a checker
//! of the sink protocol.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use apitap_sensor::flow::{FlowConfig, FlowTable};
use apitap_sensor::packet::{TcpFlags, TcpSegment, Timestamp};
use apitap_sensor::stream::{CloseReason, ConnInfo, Dir, StreamSink, TcpEvent};

/// Everything a sink was told, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Open(u64),
    Data(u64, Dir, Vec<u8>),
    Gap(u64, Dir, u64),
    Fin(u64, Dir),
    Event(u64, TcpEvent),
    Close(u64, CloseReason),
}

/// A sink that records every call.
#[derive(Default, Debug)]
pub struct Rec {
    pub events: Vec<Ev>,
    pub infos: HashMap<u64, ConnInfo>,
    pub data_ts: Vec<(u64, Dir, Timestamp)>,
    pub close_ts: HashMap<u64, Timestamp>,
}

impl StreamSink for Rec {
    fn on_open(&mut self, conn: &ConnInfo) {
        self.infos.insert(conn.id.0, conn.clone());
        self.events.push(Ev::Open(conn.id.0));
    }
    fn on_data(&mut self, conn: &ConnInfo, ts: Timestamp, dir: Dir, data: &[u8]) {
        self.data_ts.push((conn.id.0, dir, ts));
        self.events.push(Ev::Data(conn.id.0, dir, data.to_vec()));
    }
    fn on_gap(&mut self, conn: &ConnInfo, _ts: Timestamp, dir: Dir, len: u64) {
        self.events.push(Ev::Gap(conn.id.0, dir, len));
    }
    fn on_fin(&mut self, conn: &ConnInfo, _ts: Timestamp, dir: Dir) {
        self.events.push(Ev::Fin(conn.id.0, dir));
    }
    fn on_event(&mut self, conn: &ConnInfo, _ts: Timestamp, event: TcpEvent) {
        self.events.push(Ev::Event(conn.id.0, event));
    }
    fn on_close(&mut self, conn: &ConnInfo, ts: Timestamp, reason: CloseReason) {
        self.close_ts.insert(conn.id.0, ts);
        self.events.push(Ev::Close(conn.id.0, reason));
    }
}

/// One piece of a reassembled direction: bytes (consecutive deliveries merged) or a gap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Bytes(Vec<u8>),
    Gap(u64),
}

impl Rec {
    /// The reassembled direction of a connection: data merged, gaps kept in place.
    pub fn stream(&self, conn: u64, dir: Dir) -> Vec<Piece> {
        let mut out: Vec<Piece> = Vec::new();
        for ev in &self.events {
            match ev {
                Ev::Data(c, d, bytes) if *c == conn && *d == dir => match out.last_mut() {
                    Some(Piece::Bytes(b)) => b.extend_from_slice(bytes),
                    _ => out.push(Piece::Bytes(bytes.clone())),
                },
                Ev::Gap(c, d, len) if *c == conn && *d == dir => match out.last_mut() {
                    Some(Piece::Gap(g)) => *g += len,
                    _ => out.push(Piece::Gap(*len)),
                },
                _ => {}
            }
        }
        out
    }

    /// Only the bytes of a direction, gaps left out.
    pub fn bytes(&self, conn: u64, dir: Dir) -> Vec<u8> {
        self.stream(conn, dir)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Bytes(b) => Some(b),
                Piece::Gap(_) => None,
            })
            .flatten()
            .collect()
    }

    pub fn tcp_events(&self, conn: u64) -> Vec<TcpEvent> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Event(c, ev) if *c == conn => Some(ev.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn fins(&self, conn: u64) -> Vec<Dir> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Fin(c, d) if *c == conn => Some(*d),
                _ => None,
            })
            .collect()
    }

    pub fn closes(&self) -> Vec<(u64, CloseReason)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Close(c, r) => Some((*c, *r)),
                _ => None,
            })
            .collect()
    }

    pub fn opens(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Open(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Panics unless the recorded calls follow the sink protocol: per connection one open
    /// first, at most one close and nothing after it, at most one FIN per direction and no data
    /// or gap after it, no empty data and no zero gap.
    pub fn check_protocol(&self) {
        let mut open = HashSet::new();
        let mut closed = HashSet::new();
        let mut fin = HashSet::new();
        for ev in &self.events {
            let (conn, dir) = match ev {
                Ev::Open(c) => {
                    assert!(open.insert(*c), "conn {c} opened twice");
                    continue;
                }
                Ev::Data(c, d, b) => {
                    assert!(!b.is_empty(), "empty data for conn {c}");
                    (*c, Some(*d))
                }
                Ev::Gap(c, d, len) => {
                    assert!(*len > 0, "zero gap for conn {c}");
                    (*c, Some(*d))
                }
                Ev::Fin(c, d) => {
                    assert!(
                        open.contains(c) && !closed.contains(c),
                        "fin outside open/close: {c}"
                    );
                    assert!(fin.insert((*c, *d)), "second fin for conn {c} {d:?}");
                    continue;
                }
                Ev::Event(c, _) => (*c, None),
                Ev::Close(c, _) => {
                    assert!(open.contains(c), "close before open: {c}");
                    assert!(closed.insert(*c), "conn {c} closed twice");
                    continue;
                }
            };
            assert!(open.contains(&conn), "call before open: {ev:?}");
            assert!(!closed.contains(&conn), "call after close: {ev:?}");
            if let Some(d) = dir {
                assert!(!fin.contains(&(conn, d)), "data or gap after fin: {ev:?}");
            }
        }
    }
}

/// The two endpoints of a test connection.
#[derive(Copy, Clone, Debug)]
pub struct Pair {
    pub client: SocketAddr,
    pub server: SocketAddr,
}

impl Pair {
    pub fn new(client: &str, server: &str) -> Pair {
        Pair {
            client: client.parse().unwrap(),
            server: server.parse().unwrap(),
        }
    }

    /// Client to server.
    pub fn c<'a>(&self, seq: u32, ack: u32, flags: &str, payload: &'a [u8]) -> TcpSegment<'a> {
        segment(self.client, self.server, seq, ack, flags, payload)
    }

    /// Server to client.
    pub fn s<'a>(&self, seq: u32, ack: u32, flags: &str, payload: &'a [u8]) -> TcpSegment<'a> {
        segment(self.server, self.client, seq, ack, flags, payload)
    }
}

/// A segment from `src` to `dst`; `flags` letters: S, A, F, R, P. The ACK flag is set when the
/// letters contain `A`.
pub fn segment<'a>(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: &str,
    payload: &'a [u8],
) -> TcpSegment<'a> {
    TcpSegment {
        src: src.ip(),
        dst: dst.ip(),
        src_port: src.port(),
        dst_port: dst.port(),
        seq,
        ack,
        flags: TcpFlags {
            syn: flags.contains('S'),
            ack: flags.contains('A'),
            fin: flags.contains('F'),
            rst: flags.contains('R'),
            psh: flags.contains('P'),
        },
        window: 65535,
        payload,
        payload_len: payload.len() as u32,
        vlans: [None, None],
        tsval: None,
    }
}

/// A table plus a recording sink, with packet time advancing 1 ms per segment.
pub struct Run {
    pub table: FlowTable,
    pub rec: Rec,
    pub now: Timestamp,
}

impl Run {
    pub fn new(cfg: FlowConfig) -> Run {
        Run {
            table: FlowTable::new(cfg),
            rec: Rec::default(),
            now: Timestamp::from_parts(1_700_000_000, 0),
        }
    }

    pub fn default_cfg() -> Run {
        Run::new(FlowConfig::default())
    }

    pub fn feed(&mut self, seg: &TcpSegment<'_>) {
        self.now = self.now.plus_nanos(1_000_000);
        self.table.handle_segment(self.now, seg, &mut self.rec);
    }

    pub fn feed_all(&mut self, segs: &[TcpSegment<'_>]) {
        for s in segs {
            self.feed(s);
        }
    }

    /// Advances packet time by `secs` and runs the timeouts.
    pub fn wait(&mut self, secs: u64) {
        self.now = self.now.plus_nanos(secs * 1_000_000_000);
        self.table.handle_timeout(self.now, &mut self.rec);
    }

    pub fn finish(&mut self) {
        self.now = self.now.plus_nanos(1_000_000);
        self.table.finish(self.now, &mut self.rec);
        self.rec.check_protocol();
    }
}

/// Client ISN and server ISN used by the handshake helper.
pub const CISN: u32 = 1000;
pub const SISN: u32 = 5000;

/// The three segments of a handshake with the default ISNs.
pub fn handshake(p: &Pair) -> [TcpSegment<'static>; 3] {
    [
        p.c(CISN, 0, "S", b""),
        p.s(SISN, CISN + 1, "SA", b""),
        p.c(CISN + 1, SISN + 1, "A", b""),
    ]
}

/// The connection most one-direction scenarios use.
pub fn pair() -> Pair {
    Pair::new("192.168.1.10:40000", "192.168.1.20:80")
}

/// Client data at stream offset `off` (relative to the first byte after the SYN).
pub fn d<'a>(p: &Pair, off: u32, bytes: &'a [u8]) -> TcpSegment<'a> {
    p.c(CISN + 1 + off, SISN + 1, "PA", bytes)
}

/// A server ACK acknowledging client offset `off`.
pub fn ack(p: &Pair, off: u32) -> TcpSegment<'static> {
    p.s(SISN + 1, CISN + 1 + off, "A", b"")
}

/// [`pair`] after its handshake, in a table with `cfg`.
pub fn started(cfg: FlowConfig) -> (Pair, Run) {
    let p = pair();
    let mut run = Run::new(cfg);
    run.feed_all(&handshake(&p));
    (p, run)
}

/// Expected delivered bytes.
pub fn bytes(b: &[u8]) -> Piece {
    Piece::Bytes(b.to_vec())
}
