//! What the application layer holds of a connection while it decides what the connection
//! carries: each side's first bytes (at most [`MAX_DETECT_BYTES`]) with the order they
//! arrived in, what was lost, and how the decision is replayed into the parser it picks.

use apitap_parsers::http::{detect_request, detect_response, Detection, Direction};
use apitap_sensor::stream::Dir;
use apitap_sensor::Timestamp;

use crate::app::MAX_DETECT_BYTES;
use crate::app_http::{ParseCfg, ParseStats, PlainParser};

/// Deliveries remembered per side while detecting; later ones extend the last (their bytes
/// are kept, only their place among the other side's deliveries is approximated).
pub const MAX_DETECT_CHUNKS: usize = 32;

/// Both sides of a connection being detected.
#[derive(Default)]
pub struct Detect {
    /// The TCP originator's side.
    pub orig: Side,
    /// The responder's side.
    pub resp: Side,
    /// Arrival counter over both sides.
    seq: u32,
}

/// One delivery while detecting: its place in arrival order, its length and time.
#[derive(Clone, Copy)]
struct Chunk {
    seq: u32,
    len: u32,
    ts: Timestamp,
}

/// What one side has sent while the connection is being detected.
#[derive(Default)]
pub struct Side {
    /// Its first bytes, at most [`MAX_DETECT_BYTES`].
    pub buf: Vec<u8>,
    /// The deliveries `buf` was made of, at most [`MAX_DETECT_CHUNKS`].
    chunks: Vec<Chunk>,
    /// Time of the side's first delivery or gap.
    pub first_ts: Option<Timestamp>,
    /// Bytes lost (gaps) while detecting; they precede `buf`.
    pub lost: u64,
    /// Bytes that arrived after `buf` was full while the connection was still undecided; they
    /// follow `buf` and reach the parser as a gap.
    pub overflow: u64,
    /// The side ended.
    pub eof: bool,
}

impl Side {
    /// True when this side can no longer turn out to start with an HTTP message.
    pub fn exhausted(&self) -> bool {
        self.eof || self.buf.len() >= MAX_DETECT_BYTES
    }
}

impl Detect {
    /// The side of TCP direction `dir`.
    pub fn side(&self, dir: Dir) -> &Side {
        if dir == Dir::FromOrig {
            &self.orig
        } else {
            &self.resp
        }
    }

    /// See [`Detect::side`].
    pub fn side_mut(&mut self, dir: Dir) -> &mut Side {
        if dir == Dir::FromOrig {
            &mut self.orig
        } else {
            &mut self.resp
        }
    }

    /// Buffers a delivery of `dir` (the caller keeps it within [`MAX_DETECT_BYTES`]).
    pub fn push(&mut self, dir: Dir, ts: Timestamp, bytes: &[u8]) {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let side = self.side_mut(dir);
        side.first_ts.get_or_insert(ts);
        if bytes.is_empty() {
            return;
        }
        side.buf.extend_from_slice(bytes);
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let full = side.chunks.len() >= MAX_DETECT_CHUNKS;
        match side.chunks.last_mut() {
            Some(last) if full => last.len = last.len.saturating_add(len),
            _ => side.chunks.push(Chunk { seq, len, ts }),
        }
    }

    /// A gap of `len` bytes in `dir`: what the side buffered can no longer start a message
    /// that can be followed, so it is lost with the gap.
    pub fn lose(&mut self, dir: Dir, ts: Timestamp, len: u64) {
        let side = self.side_mut(dir);
        side.lost = side.lost.saturating_add(side.buf.len() as u64).saturating_add(len);
        side.buf.clear();
        side.chunks.clear();
        side.first_ts.get_or_insert(ts);
    }

    /// Replays what was buffered into the parser the decision made, the two sides'
    /// deliveries in the order they arrived (an HTTP/2 response must not come before its
    /// request; an HTTP/1.x one is matched by order anyway). Bytes lost before a side's first
    /// delivery come first as a gap; an HTTP/1.x side that does not start at a message is
    /// skipped as a gap; what overflowed the window, and the ends, come last.
    pub fn replay(self, parser: &mut PlainParser, cfg: ParseCfg<'_>, stats: &mut ParseStats, swapped: bool, h2: bool, first_ts: Timestamp) {
        let sides = [(Dir::FromOrig, self.orig), (Dir::FromResp, self.resp)];
        let direction = |i: usize| to_direction(if i == 0 { Dir::FromOrig } else { Dir::FromResp }, swapped);
        // HTTP/2 finds its framing itself (a join); HTTP/1.x starts at a message.
        let starts: Vec<bool> = sides
            .iter()
            .enumerate()
            .map(|(i, (_, side))| {
                h2 || match direction(i) {
                    Direction::ToServer => detect_request(&side.buf) != Detection::NotHttp,
                    Direction::ToClient => detect_response(&side.buf) != Detection::NotHttp,
                }
            })
            .collect();
        let mut order: Vec<(u32, usize, usize, Chunk)> = Vec::new();
        for (i, (_, side)) in sides.iter().enumerate() {
            let mut at = 0usize;
            for c in &side.chunks {
                order.push((c.seq, i, at, *c));
                at = at.saturating_add(c.len as usize);
            }
        }
        order.sort_by_key(|(seq, ..)| *seq);
        let mut opened = [false; 2];
        let open = |i: usize, side: &Side, ts: u64, parser: &mut PlainParser, stats: &mut ParseStats| {
            if side.lost > 0 {
                parser.handle_gap(stats, ts, direction(i), side.lost);
            }
            if !starts.get(i).copied().unwrap_or(true) && !side.buf.is_empty() {
                // Picked up in the middle of a message: skip to the next one.
                parser.handle_gap(stats, ts, direction(i), side.buf.len() as u64);
            }
        };
        for (_, i, at, c) in order {
            let Some((_, side)) = sides.get(i) else { continue };
            if !opened.get(i).copied().unwrap_or(true) {
                open(i, side, c.ts.0, parser, stats);
                if let Some(o) = opened.get_mut(i) {
                    *o = true;
                }
            }
            if starts.get(i).copied().unwrap_or(false) {
                let end = at.saturating_add(c.len as usize).min(side.buf.len());
                parser.handle_data(cfg, stats, c.ts.0, direction(i), side.buf.get(at..end).unwrap_or_default());
            }
        }
        let mut rest: Vec<(usize, &Side)> = sides.iter().map(|(_, s)| s).enumerate().collect();
        rest.sort_by_key(|(_, s)| s.first_ts.unwrap_or(Timestamp(u64::MAX)));
        for (i, side) in rest {
            let ts = side.first_ts.unwrap_or(first_ts).0;
            if !opened.get(i).copied().unwrap_or(true) {
                open(i, side, ts, parser, stats);
            }
            if side.overflow > 0 {
                parser.handle_gap(stats, ts, direction(i), side.overflow);
            }
            if side.eof {
                parser.handle_eof(stats, ts, direction(i));
            }
        }
    }
}

/// What the buffered bytes say about TLS.
pub enum TlsGuess {
    /// TLS, with the client being the TCP responder when `true`.
    Tls(bool),
    NeedMore,
    No,
}

pub fn tls_orientation(det: &Detect) -> TlsGuess {
    use apitap_parsers::tls::{detect_tls_side, Detection as T, Side as S};
    let looks = |side: &Side, as_: S| -> T {
        if side.buf.is_empty() {
            return if side.eof { T::No } else { T::NeedMore };
        }
        match detect_tls_side(as_, &side.buf) {
            T::NeedMore if side.exhausted() => T::No,
            other => other,
        }
    };
    let (oc, rs) = (looks(&det.orig, S::Client), looks(&det.resp, S::Server));
    if oc == T::Yes || rs == T::Yes {
        return TlsGuess::Tls(false);
    }
    let (rc, os) = (looks(&det.resp, S::Client), looks(&det.orig, S::Server));
    if rc == T::Yes || os == T::Yes {
        return TlsGuess::Tls(true);
    }
    if [oc, rs, rc, os].contains(&T::NeedMore) {
        TlsGuess::NeedMore
    } else {
        TlsGuess::No
    }
}

/// The parser's direction of TCP direction `dir`.
pub fn to_direction(dir: Dir, swapped: bool) -> Direction {
    match (dir, swapped) {
        (Dir::FromOrig, false) | (Dir::FromResp, true) => Direction::ToServer,
        (Dir::FromResp, false) | (Dir::FromOrig, true) => Direction::ToClient,
    }
}
