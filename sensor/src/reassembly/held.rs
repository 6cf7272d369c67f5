//! The out-of-order buffer of a [`HalfStream`]: runs held until the hole before them fills or
//! is given up, compared with every later copy of their bytes (first copy wins).

use std::collections::BTreeMap;

use super::{Ctx, HalfStream, Shared};
use crate::stream::{StreamSink, TcpEvent};

pub(crate) use crate::flow::HELD_RUN_OVERHEAD as RUN_OVERHEAD;

/// A run of buffered stream bytes, or a run known to be missing (cut by the snaplen).
#[derive(Debug)]
pub(super) enum Chunk {
    Data(Vec<u8>),
    Missing(u64),
}

impl Chunk {
    pub(super) fn len(&self) -> u64 {
        match self {
            Chunk::Data(v) => v.len() as u64,
            Chunk::Missing(n) => *n,
        }
    }

    /// Bytes of memory this chunk counts against the buffer limits.
    pub(super) fn held(&self) -> usize {
        match self {
            Chunk::Data(v) => v.len().saturating_add(RUN_OVERHEAD),
            Chunk::Missing(_) => RUN_OVERHEAD,
        }
    }
}

/// The out-of-order runs of one direction by stream offset, and the bytes they are charged.
/// Boxed, and only while there are any: most directions never hold one, and a million idle
/// connections should not carry an empty map each.
#[derive(Debug, Default)]
pub(super) struct Runs(Option<Box<RunMap>>);

#[derive(Debug, Default)]
struct RunMap {
    map: BTreeMap<u64, Chunk>,
    /// Sum of the runs' [`Chunk::held`].
    bytes: usize,
}

/// What [`Runs::map`] shows when there is no run.
static NO_RUNS: BTreeMap<u64, Chunk> = BTreeMap::new();

impl Runs {
    /// The runs by stream offset.
    pub(super) fn map(&self) -> &BTreeMap<u64, Chunk> {
        self.0.as_ref().map_or(&NO_RUNS, |r| &r.map)
    }

    /// Bytes the runs are charged (data plus bookkeeping).
    pub(super) fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |r| r.bytes)
    }

    pub(super) fn len(&self) -> usize {
        self.map().len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Holds `chunk` at `at`, where the caller found no run.
    fn insert(&mut self, at: u64, chunk: Chunk) {
        let r = self.0.get_or_insert_with(Box::default);
        r.bytes = r.bytes.saturating_add(chunk.held());
        r.map.insert(at, chunk);
    }

    /// Takes the first run if it starts at or before `upto`; the map goes when it empties.
    fn pop_first_upto(&mut self, upto: u64) -> Option<(u64, Chunk)> {
        let r = self.0.as_mut()?;
        let entry = r.map.first_entry()?;
        if *entry.key() > upto {
            return None;
        }
        let (at, chunk) = entry.remove_entry();
        r.bytes = r.bytes.saturating_sub(chunk.held());
        if r.map.is_empty() {
            self.0 = None;
        }
        Some((at, chunk))
    }
}

impl HalfStream {
    /// Compares `data` at `start` with the bytes already buffered there (first copy wins) and
    /// reports every buffered run that disagrees. Returns whether anything overlapped.
    pub(super) fn compare_held<S: StreamSink + ?Sized>(
        &self,
        ctx: &mut Ctx<'_, S>,
        start: u64,
        data: &[u8],
    ) -> bool {
        let end = start.saturating_add(data.len() as u64);
        if end <= start {
            return false;
        }
        let from = match self.runs.map().range(..start).next_back() {
            Some((&k, c)) if k.saturating_add(c.len()) > start => k,
            _ => start,
        };
        let mut overlapped = false;
        for (&k, chunk) in self.runs.map().range(from..end) {
            let lo = k.max(start);
            let hi = k.saturating_add(chunk.len()).min(end);
            if hi <= lo {
                continue;
            }
            overlapped = true;
            let Chunk::Data(held) = chunk else {
                continue;
            };
            let held = slice(held, lo - k, hi - k);
            let new = slice(data, lo - start, hi - start);
            if let Some(i) = held.iter().zip(new).position(|(a, b)| a != b) {
                ctx.shared.stats.overlap_mismatches =
                    ctx.shared.stats.overlap_mismatches.saturating_add(1);
                ctx.event(TcpEvent::OverlapMismatch {
                    dir: ctx.dir,
                    offset: lo.saturating_add(i as u64),
                    len: u32::try_from(hi - lo).unwrap_or(u32::MAX),
                });
            }
        }
        overlapped
    }

    /// Delivers or buffers the new bytes `[start, wire_end)` (captured ones in `data`, the rest
    /// missing), skipping holes ahead when a buffer limit is in the way.
    pub(super) fn place<S: StreamSink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        mut start: u64,
        mut data: &[u8],
        wire_end: u64,
    ) {
        loop {
            if start < self.next {
                if wire_end <= self.next {
                    return;
                }
                let skip = usize::try_from(self.next - start).unwrap_or(usize::MAX);
                data = data.get(skip..).unwrap_or_default();
                start = self.next;
            }
            if start == self.next {
                self.walk(ctx, start, data, wire_end);
                return;
            }
            let cap_end = start.saturating_add(data.len() as u64);
            let pieces = self.uncovered(start, wire_end, cap_end);
            if pieces.is_empty() {
                return;
            }
            let new_bytes: usize = pieces
                .iter()
                .map(|p| match p.captured {
                    true => usize::try_from(p.end - p.start).unwrap_or(usize::MAX),
                    false => 0,
                })
                .fold(0usize, |sum, n| sum.saturating_add(n).saturating_add(RUN_OVERHEAD));
            if self.fits(ctx.shared, new_bytes, pieces.len()) {
                for p in pieces {
                    let chunk = if p.captured {
                        Chunk::Data(slice(data, p.start - start, p.end - start).to_vec())
                    } else {
                        Chunk::Missing(p.end - p.start)
                    };
                    self.hold(ctx.shared, p.start, chunk);
                }
                ctx.shared.stats.out_of_order = ctx.shared.stats.out_of_order.saturating_add(1);
                return;
            }
            // Over a limit: give up the first hole so the data behind it can go out.
            let first = self.first_key().map_or(start, |k| k.min(start));
            let hole = first.saturating_sub(self.next);
            ctx.shared.stats.buffer_limit_hits =
                ctx.shared.stats.buffer_limit_hits.saturating_add(1);
            self.skip(ctx, hole);
            ctx.event(TcpEvent::BufferLimit {
                dir: ctx.dir,
                dropped: hole,
            });
            self.next = first;
            self.drain(ctx);
        }
    }

    /// Delivers a segment that starts exactly at `next`: its own bytes where nothing is buffered,
    /// buffered bytes (the first copy) where something is.
    fn walk<S: StreamSink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        start: u64,
        data: &[u8],
        wire_end: u64,
    ) {
        let cap_end = start.saturating_add(data.len() as u64);
        loop {
            self.drain(ctx);
            let cur = self.next;
            if cur >= wire_end {
                return;
            }
            let piece_end = wire_end.min(self.first_key().unwrap_or(u64::MAX));
            if piece_end <= cur {
                return;
            }
            if cur < cap_end {
                let end = piece_end.min(cap_end);
                self.deliver(ctx, slice(data, cur - start, end - start));
                self.next = end;
            } else {
                self.skip(ctx, piece_end - cur);
                self.next = piece_end;
            }
        }
    }

    /// The parts of `[start, end)` not covered by buffered chunks, each split into its captured
    /// part (below `cap_end`) and its missing part.
    fn uncovered(&self, start: u64, end: u64, cap_end: u64) -> Vec<Piece> {
        let mut out = Vec::new();
        if end <= start {
            return out;
        }
        let mut cur = start;
        if let Some((&k, c)) = self.runs.map().range(..start).next_back() {
            cur = cur.max(k.saturating_add(c.len()));
        }
        let mut push = |a: u64, b: u64| {
            if a < cap_end {
                out.push(Piece {
                    start: a,
                    end: b.min(cap_end),
                    captured: true,
                });
            }
            if b > cap_end {
                out.push(Piece {
                    start: a.max(cap_end),
                    end: b,
                    captured: false,
                });
            }
        };
        for (&k, c) in self.runs.map().range(start..end) {
            if k > cur {
                push(cur, k);
            }
            cur = cur.max(k.saturating_add(c.len()));
        }
        if cur < end {
            push(cur, end);
        }
        out
    }

    fn fits(&self, shared: &Shared, new_bytes: usize, new_chunks: usize) -> bool {
        let limits = &shared.limits;
        self.runs.bytes().saturating_add(new_bytes) <= limits.max_bytes_per_dir
            && self.runs.len().saturating_add(new_chunks) <= limits.max_segments_per_dir
            && shared.buffered_total.saturating_add(new_bytes) <= limits.max_bytes_total
    }

    fn hold(&mut self, shared: &mut Shared, at: u64, chunk: Chunk) {
        shared.buffered_total = shared.buffered_total.saturating_add(chunk.held());
        self.runs.insert(at, chunk);
    }

    pub(super) fn first_key(&self) -> Option<u64> {
        self.runs.map().keys().next().copied()
    }

    /// Delivers buffered chunks that have become contiguous with `next`.
    pub(super) fn drain<S: StreamSink + ?Sized>(&mut self, ctx: &mut Ctx<'_, S>) {
        // An emptied map is given back, so that a connection that once saw reordering does
        // not hold it while idle.
        while let Some((at, chunk)) = self.runs.pop_first_upto(self.next) {
            let held = chunk.held();
            ctx.shared.buffered_total = ctx.shared.buffered_total.saturating_sub(held);
            let end = at.saturating_add(chunk.len());
            if end <= self.next {
                continue;
            }
            let skip = self.next - at;
            match &chunk {
                Chunk::Data(bytes) => self.deliver(ctx, slice(bytes, skip, end - at)),
                Chunk::Missing(_) => self.skip(ctx, end - self.next),
            }
            self.next = end;
        }
    }
}

/// Part of a new segment not covered by buffered data.
struct Piece {
    start: u64,
    end: u64,
    captured: bool,
}

/// `bytes[from..to]` with offsets relative to the slice, empty when out of range.
fn slice(bytes: &[u8], from: u64, to: u64) -> &[u8] {
    let (Ok(from), Ok(to)) = (usize::try_from(from), usize::try_from(to)) else {
        return &[];
    };
    bytes.get(from..to).unwrap_or_default()
}
