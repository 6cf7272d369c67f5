//! Reassembly of one direction of a TCP connection.
//!
//! Used through [`FlowTable`](crate::flow::FlowTable). A `HalfStream` turns the segments of one
//! direction into an ordered byte stream and hands it to a [`StreamSink`]: in-order bytes
//! straight from the packet (no copy), out-of-order bytes copied into a bounded buffer until the
//! hole before them fills or is given up as a gap.
//!
//! Positions inside the buffer are 64-bit stream offsets (bytes since the first byte of the
//! direction), so they never wrap; a segment's 32-bit sequence number is turned into an offset
//! relative to the next expected byte through [`SeqNum`], which is what makes a stream crossing
//! 2^32 behave like any other.
//!
//! A hole (bytes missing before buffered ones) is given up, reported with `on_gap`, and the
//! data behind it delivered, when it can no longer fill:
//! - the other side acknowledged bytes past the start of the hole (Zeek's ACK-based gap
//!   detection), but never further than the data this direction has shown: an ACK alone never
//!   skips beyond the capture, so an ACK captured ahead of its data (a TAP merging the two
//!   directions with some skew) costs nothing, and a lost tail segment is reported when the
//!   direction next sends, at its FIN, or when the connection is reset or closed (up to what
//!   the other side acknowledged);
//! - a FIN is beyond the hole (a FIN captured ahead of the last data segment therefore turns
//!   that segment into a gap), or the connection is reset or closed;
//! - a buffer limit is reached (`TcpEvent::BufferLimit`);
//! - the other side was never seen acknowledging (one-sided capture) and
//!   `max_above_hole_without_acks` bytes wait behind the hole.
//!
//! First copy wins. Every later copy of a byte is compared with the first one and dropped;
//! different bytes are reported as `TcpEvent::OverlapMismatch` (offset of the first differing
//! byte, length of the overlap compared) and counted in `overlap_mismatches`:
//! - bytes still held out of order are compared with the held copy;
//! - bytes already delivered are compared with a copy kept from delivery until the other side
//!   acknowledges them (`max_retained_per_dir`, `max_retained_total`; when a limit is reached
//!   the oldest bytes are dropped first and `retained_limit_hits` is counted).
//!
//! Keep-alive probes are the exception (`HalfStream::is_keepalive`): a segment of at most one
//! byte exactly one before the sender's next new byte, without SYN, FIN or RST, carries filler
//! rather than a copy of that byte. It is neither compared nor counted as a retransmission, only
//! in `keepalives`, unless the other side is seen still waiting for that byte (a stack probes
//! only once all it sent is acknowledged).
//!
//! Limits of this design, on purpose:
//! - Delivered bytes no longer retained are not compared: those acknowledged (a receiver drops
//!   any later copy of them too), those pushed out by the retention limits, and those delivered
//!   before a gap. A segment repeating such bytes is counted in `retransmissions_unchecked`.
//!   An ACK forged in the receiver's name (and lying within 1 MiB of the data seen) releases
//!   the copy early, so a different retransmission after it is only counted there, not
//!   reported as an event. On a connection picked up mid-stream, bytes before its first
//!   segment were never delivered and a copy of them is neither compared nor counted.
//! - Bytes cut by the snaplen are neither compared nor filled in: a snaplen-cut region stays a
//!   gap even if a later full-size retransmission covers it.
//! - Data segments are not checked against a receive window (window scaling is not decoded):
//!   one far ahead is held like any other, within the limits. FINs must lie within 1 MiB of the
//!   data seen to be believed; RSTs must sit exactly where the receiver expects them.
//! - Without ACKs from the other side, a one-byte rewrite of the last byte sent, placed where a
//!   keep-alive probe goes, cannot be told from a probe and is not reported. A connection picked
//!   up mid-stream whose first segment is a one-byte probe takes that byte as data, since
//!   nothing before it shows where the stream stands.

mod held;
mod retained;

use crate::flow::FlowStats;
use crate::packet::Timestamp;
use crate::seq::SeqNum;
use crate::stream::{ConnInfo, Dir, StreamSink, TcpEvent};

use self::retained::Retained;

/// How far (bytes) a FIN, RST or ACK may sit beyond the furthest point seen in its direction,
/// or a RST before the next expected byte, and still be believed. Real endpoints only accept
/// control segments inside the receive window; forged ones far outside it would otherwise end
/// the stream early or release the retained copy of its bytes.
const CONTROL_SLACK: u64 = 1 << 20;

/// Buffer limits of one direction and of the whole table, resolved from
/// [`FlowConfig`](crate::flow::FlowConfig).
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Out-of-order bytes held per direction.
    pub(crate) max_bytes_per_dir: usize,
    /// Out-of-order chunks held per direction.
    pub(crate) max_segments_per_dir: usize,
    /// Out-of-order bytes held by all flows together.
    pub(crate) max_bytes_total: usize,
    /// Bytes held above a hole before it is given up when the peer has never acknowledged
    /// anything (one-sided capture); 0 turns the rule off.
    pub(crate) max_above_hole_without_acks: usize,
    /// Delivered, unacknowledged bytes kept per direction; 0 turns retention off.
    pub(crate) max_retained_per_dir: usize,
    /// Delivered, unacknowledged bytes kept by all flows together; 0 turns retention off.
    pub(crate) max_retained_total: usize,
}

/// State shared by every connection of a table: counters and the global buffer budget.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stats: FlowStats,
    /// Out-of-order bytes currently held by all flows.
    pub(crate) buffered_total: usize,
    /// Delivered bytes currently retained by all flows.
    pub(crate) retained_total: usize,
    pub(crate) limits: Limits,
}

/// Where one direction's output goes: the sink plus the connection and packet it concerns.
pub(crate) struct Ctx<'a, S: StreamSink + ?Sized> {
    pub(crate) info: &'a ConnInfo,
    pub(crate) dir: Dir,
    pub(crate) ts: Timestamp,
    pub(crate) sink: &'a mut S,
    pub(crate) shared: &'a mut Shared,
}

impl<S: StreamSink + ?Sized> Ctx<'_, S> {
    fn data(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.shared.stats.bytes_delivered = self
            .shared
            .stats
            .bytes_delivered
            .saturating_add(bytes.len() as u64);
        self.sink.on_data(self.info, self.ts, self.dir, bytes);
    }

    fn gap(&mut self, len: u64) {
        if len == 0 {
            return;
        }
        let stats = &mut self.shared.stats;
        stats.gaps = stats.gaps.saturating_add(1);
        stats.gap_bytes = stats.gap_bytes.saturating_add(len);
        self.sink.on_gap(self.info, self.ts, self.dir, len);
    }

    fn fin(&mut self) {
        self.sink.on_fin(self.info, self.ts, self.dir);
    }

    pub(crate) fn event(&mut self, event: TcpEvent) {
        self.sink.on_event(self.info, self.ts, event);
    }
}

/// One direction of a connection: sequence tracking, the out-of-order buffer, the retained copy
/// of delivered bytes, and the FIN.
///
/// Invariants between calls: every buffered chunk starts after `next`, chunks never overlap,
/// the runs' byte count is the sum of what they are charged (data bytes plus `RUN_OVERHEAD`
/// each), and the retained copy, when not empty, ends at `next`.
///
/// Memory: 64 bytes (a million idle connections hold two each), plus, only while they hold
/// something, the out-of-order runs and the retained copy, each boxed and given back when it
/// empties. The optional sequence numbers share one byte of flags for that reason.
#[derive(Debug)]
pub(crate) struct HalfStream {
    /// Next stream offset to deliver; everything before it was delivered or reported as a gap.
    next: u64,
    /// Stream offset the FIN occupies once a believable FIN was seen; [`NO_FIN`] before.
    fin_at: u64,
    /// End offset of the furthest data accepted in this direction.
    seen_end: u64,
    /// Highest offset the other side acknowledged.
    peer_ack: u64,
    /// Sequence number of stream offset 0 (with [`HAS_ORIGIN`]): ISN+1 after a SYN, else the
    /// first segment's number.
    origin: u32,
    /// ISN from this direction's SYN (with [`HAS_ISN`]), to tell a retransmitted SYN from a
    /// new connection.
    isn: u32,
    /// Newest TSval of a segment that reached the next expected byte (with [`HAS_TS_RECENT`];
    /// RFC 7323's TS.Recent).
    ts_recent: u32,
    /// [`HAS_ORIGIN`], [`HAS_ISN`], [`HAS_TS_RECENT`], [`FIN_DELIVERED`], [`PEER_ACK_SEEN`],
    /// [`PAWS_DROPPED`].
    flags: u8,
    /// Out-of-order runs.
    runs: held::Runs,
    /// Delivered bytes the other side has not acknowledged yet, for comparing retransmissions.
    retained: Retained,
}

/// `HalfStream::fin_at` before a FIN is believed. A FIN's offset comes from a non-negative
/// `i64`, so it never takes this value.
const NO_FIN: u64 = u64::MAX;
/// `HalfStream::origin` is set.
const HAS_ORIGIN: u8 = 1;
/// `HalfStream::isn` is set.
const HAS_ISN: u8 = 1 << 1;
/// `HalfStream::ts_recent` is set.
const HAS_TS_RECENT: u8 = 1 << 2;
/// The direction ended: its FIN was delivered (or forced by a RST).
const FIN_DELIVERED: u8 = 1 << 3;
/// The other side acknowledged this direction at least once (never on one-sided captures).
const PEER_ACK_SEEN: u8 = 1 << 4;
/// A segment was dropped by PAWS since `ts_recent` was last learnt.
const PAWS_DROPPED: u8 = 1 << 5;

impl Default for HalfStream {
    fn default() -> Self {
        HalfStream {
            next: 0,
            fin_at: NO_FIN,
            seen_end: 0,
            peer_ack: 0,
            origin: 0,
            isn: 0,
            ts_recent: 0,
            flags: 0,
            runs: held::Runs::default(),
            retained: Retained::default(),
        }
    }
}

/// What a RST's sequence number says about it, as a receiver following RFC 5961 §3.2 would
/// judge it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum RstVerdict {
    /// At a position the receiver accepts (the next byte it expects, the sender's next new
    /// byte, or the receiver's last acknowledgement), or nothing is known of the direction yet:
    /// the connection is reset.
    Exact,
    /// Inside the window but not at such a position: a receiver answers it with a challenge ACK
    /// and carries on, so the connection stays open. An injected RST guessed into the window
    /// looks like this.
    InWindow,
    /// Far outside anything seen: ignored.
    Far,
}

impl HalfStream {
    fn flag(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    fn set_flag(&mut self, bit: u8, on: bool) {
        if on {
            self.flags |= bit;
        } else {
            self.flags &= !bit;
        }
    }

    fn origin(&self) -> Option<SeqNum> {
        self.flag(HAS_ORIGIN).then_some(SeqNum(self.origin))
    }

    fn set_origin(&mut self, origin: SeqNum) {
        self.origin = origin.0;
        self.set_flag(HAS_ORIGIN, true);
    }

    fn fin_at(&self) -> Option<u64> {
        (self.fin_at != NO_FIN).then_some(self.fin_at)
    }

    fn ts_recent(&self) -> Option<u32> {
        self.flag(HAS_TS_RECENT).then_some(self.ts_recent)
    }

    fn set_ts_recent(&mut self, ts: Option<u32>) {
        self.ts_recent = ts.unwrap_or(0);
        self.set_flag(HAS_TS_RECENT, ts.is_some());
    }

    fn peer_ack_seen(&self) -> bool {
        self.flag(PEER_ACK_SEEN)
    }

    /// Takes the ISN of this direction's SYN, unless the start is already known from an
    /// earlier SYN or from data. A bare segment before the SYN (the server's ACK ahead of its
    /// SYN in a split handshake) fixed the start at its own sequence number, one byte early;
    /// with nothing delivered, held or seen since, the SYN moves it.
    pub(crate) fn note_syn(&mut self, isn: SeqNum) {
        let unused = self.isn().is_none()
            && self.next == 0
            && self.seen_end == 0
            && self.runs.is_empty()
            && self.fin_at().is_none();
        if self.origin().is_none() || unused {
            self.isn = isn.0;
            self.set_flag(HAS_ISN, true);
            self.set_origin(isn + 1);
        }
    }

    /// ISN of this direction's SYN, if one was seen.
    pub(crate) fn isn(&self) -> Option<SeqNum> {
        self.flag(HAS_ISN).then_some(SeqNum(self.isn))
    }

    /// A FIN was believed in this direction (delivered or not).
    pub(crate) fn fin_seen(&self) -> bool {
        self.fin_at().is_some()
    }

    /// The direction ended: its FIN was delivered (or forced by a RST).
    pub(crate) fn fin_delivered(&self) -> bool {
        self.flag(FIN_DELIVERED)
    }

    /// Out-of-order data bytes held.
    pub(crate) fn buffered(&self) -> usize {
        self.runs.bytes()
    }

    /// Out-of-order data bytes held, without the runs' bookkeeping.
    fn buffered_data(&self) -> usize {
        self.runs
            .bytes()
            .saturating_sub(self.runs.len().saturating_mul(held::RUN_OVERHEAD))
    }

    /// Out-of-order chunks held.
    pub(crate) fn buffered_segments(&self) -> usize {
        self.runs.len()
    }

    /// Delivered bytes retained for comparing retransmissions.
    pub(crate) fn retained(&self) -> usize {
        self.retained.len()
    }

    fn next_i64(&self) -> i64 {
        i64::try_from(self.next).unwrap_or(i64::MAX)
    }

    /// Stream offset of `seq`, taken as the position within 2^31 of the next expected byte.
    /// Negative offsets lie before the start of the direction.
    fn offset_of(&self, seq: SeqNum) -> Option<i64> {
        let origin = self.origin()?;
        // Truncating the offset to 32 bits is how the sequence space wraps.
        let next_seq = origin + self.next as u32;
        Some(
            self.next_i64()
                .saturating_add(i64::from(seq.distance_from(next_seq))),
        )
    }

    /// Furthest point this direction has plausibly reached: what was delivered, seen or acked.
    fn frontier(&self) -> u64 {
        self.next.max(self.seen_end).max(self.peer_ack)
    }

    /// Offset just past everything this direction is known to have sent, its FIN included: what
    /// the sender's next new sequence number maps to.
    fn sent_end(&self) -> u64 {
        let data_end = self.next.max(self.seen_end);
        match self.fin_at() {
            Some(fin_at) => data_end.max(fin_at.saturating_add(1)),
            None => data_end,
        }
    }

    /// Whether a segment without SYN, FIN or RST at `seq`, `wire_len` payload bytes long, is a
    /// keep-alive (or zero-window) probe: at most one byte, sitting exactly one before the
    /// sender's next new byte. TCP stacks send these with a byte the receiver already holds,
    /// filled with whatever (often zero), so comparing it with the first copy would report a
    /// mismatch on every probe of an idle connection captured without its ACKs.
    ///
    /// A stack only probes once everything it sent is acknowledged, so a probe-shaped segment
    /// whose byte the other side is seen still waiting for is not taken as a probe: it is
    /// compared like any other retransmission, which keeps a one-byte rewrite of the last
    /// unacknowledged byte visible whenever the capture holds the ACKs.
    pub(crate) fn is_keepalive(&self, seq: SeqNum, wire_len: u32) -> bool {
        if wire_len > 1 {
            return false;
        }
        let Some(off) = self.offset_of(seq) else {
            return false;
        };
        let end = self.sent_end();
        let probe_at = i64::try_from(end).unwrap_or(i64::MAX).saturating_sub(1);
        off == probe_at && !(self.peer_ack_seen() && self.peer_ack < end)
    }

    /// Whether a control segment at `seq` (a FIN's or RST's position) is believable.
    fn control_plausible(&self, seq: SeqNum) -> bool {
        let Some(off) = self.offset_of(seq) else {
            return true;
        };
        let lo = self.next_i64().saturating_sub(CONTROL_SLACK as i64);
        let hi = i64::try_from(self.frontier().saturating_add(CONTROL_SLACK)).unwrap_or(i64::MAX);
        off >= lo && off <= hi
    }

    /// How a RST carrying `seq` from this direction's sender is taken ([`RstVerdict`]).
    pub(crate) fn rst_verdict(&self, seq: SeqNum) -> RstVerdict {
        let Some(off) = self.offset_of(seq) else {
            return RstVerdict::Exact;
        };
        let at = |pos: u64| i64::try_from(pos).is_ok_and(|p| p == off);
        if at(self.next) || at(self.sent_end()) || (self.peer_ack_seen() && at(self.peer_ack)) {
            RstVerdict::Exact
        } else if self.control_plausible(seq) {
            RstVerdict::InWindow
        } else {
            RstVerdict::Far
        }
    }

    /// Whether PAWS drops a segment carrying `tsval`: older (in 32-bit wrapping order) than the
    /// newest TSval of this sender's in-order segments. Without timestamps on either, no.
    pub(crate) fn paws_rejects(&mut self, tsval: Option<u32>) -> bool {
        let (Some(recent), Some(ts)) = (self.ts_recent(), tsval) else {
            return false;
        };
        // Reinterpreting the wrapped difference as signed is the RFC's comparison.
        let older = (ts.wrapping_sub(recent) as i32) < 0;
        if older {
            self.set_flag(PAWS_DROPPED, true);
        }
        older
    }

    /// Learns TS.Recent from a segment at `seq` that reaches the next expected byte. Segments
    /// ahead of a hole do not count, so that the late segment filling the hole (stamped
    /// earlier) is still accepted, as a receiver would.
    pub(crate) fn note_tsval(&mut self, seq: SeqNum, tsval: Option<u32>) {
        let Some(ts) = tsval else { return };
        let in_order = self.offset_of(seq).is_none_or(|off| off <= self.next_i64());
        if !in_order {
            return;
        }
        let recent = match self.ts_recent() {
            Some(recent) if (ts.wrapping_sub(recent) as i32) < 0 => recent,
            _ => ts,
        };
        self.set_ts_recent(Some(recent));
    }

    /// The other side acknowledged up to `ack`: holes below it (and below data already seen)
    /// cannot fill any more, because the receiver got bytes that the capture missed, and the
    /// retained copy of the delivered bytes below it is released.
    pub(crate) fn on_peer_ack<S: StreamSink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        ack: SeqNum,
    ) {
        let Some(off) = self.offset_of(ack) else {
            return;
        };
        if self.flag(PAWS_DROPPED) && off > self.next_i64() {
            // The receiver took bytes that PAWS made us drop: the TS.Recent we learnt is not
            // the receiver's (a forged segment stamped in the future can do that). Learn it
            // again rather than drop the rest of the stream.
            self.set_ts_recent(None);
            self.set_flag(PAWS_DROPPED, false);
            ctx.shared.stats.paws_resyncs = ctx.shared.stats.paws_resyncs.saturating_add(1);
        }
        self.set_flag(PEER_ACK_SEEN, true);
        if let Ok(off) = u64::try_from(off) {
            self.peer_ack = self.peer_ack.max(off);
        }
        self.settle(ctx);
        // The receiver drops any later copy of bytes it acknowledged, so they need no comparing.
        // An ACK far beyond the data seen is not believed for this: it is more likely random or
        // forged than a capture skew.
        let seen = self.next.max(self.seen_end).saturating_add(CONTROL_SLACK);
        if let Ok(off) = u64::try_from(off) {
            if off <= seen {
                self.retained
                    .release_below(&mut ctx.shared.retained_total, off.min(self.next));
            }
        }
    }

    /// One segment of this direction. `seq` is the sequence number of its first data byte (after
    /// the SYN, if it carries one), `wire_len` its payload length on the wire, of which `payload`
    /// holds what was captured.
    pub(crate) fn segment<S: StreamSink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        seq: SeqNum,
        payload: &[u8],
        wire_len: u32,
        fin: bool,
    ) {
        if self.origin().is_none() {
            self.set_origin(seq);
        }
        let Some(start) = self.offset_of(seq) else {
            return;
        };
        let mut wire_end = start.saturating_add(i64::from(wire_len));
        if fin {
            self.note_fin(ctx, seq, wire_end);
        }
        if let Some(fin_at) = self.fin_at() {
            let fin_at = i64::try_from(fin_at).unwrap_or(i64::MAX);
            if wire_len > 0 && wire_end > fin_at {
                ctx.shared.stats.data_after_close =
                    ctx.shared.stats.data_after_close.saturating_add(1);
                ctx.event(TcpEvent::DataAfterClose { dir: ctx.dir });
                wire_end = fin_at;
            }
        }
        let next = self.next_i64();
        if wire_end > start && start < next {
            self.check_delivered(ctx, start, payload, wire_end.min(next));
        }
        if wire_end > start && wire_end <= next {
            ctx.shared.stats.retransmissions = ctx.shared.stats.retransmissions.saturating_add(1);
        } else if wire_end > start {
            let wire_len = usize::try_from(wire_end.saturating_sub(start)).unwrap_or(usize::MAX);
            let captured = payload
                .get(..payload.len().min(wire_len))
                .unwrap_or_default();
            let (start, data, overlapped) = if start < next {
                let skip = usize::try_from(next.saturating_sub(start)).unwrap_or(usize::MAX);
                (self.next, captured.get(skip..).unwrap_or_default(), true)
            } else {
                (u64::try_from(start).unwrap_or(u64::MAX), captured, false)
            };
            let wire_end = u64::try_from(wire_end).unwrap_or(u64::MAX);
            self.seen_end = self.seen_end.max(wire_end);
            let overlapped = self.compare_held(ctx, start, data) || overlapped;
            if overlapped {
                ctx.shared.stats.overlaps = ctx.shared.stats.overlaps.saturating_add(1);
            }
            self.place(ctx, start, data, wire_end);
        }
        self.settle(ctx);
    }

    /// Compares the captured bytes of a segment at stream offsets `[start, upto)`, all of which
    /// were delivered already, with the retained copy (first copy wins: nothing is delivered
    /// again). Bytes before the start of the direction were never delivered and are left out.
    fn check_delivered<S: StreamSink + ?Sized>(
        &self,
        ctx: &mut Ctx<'_, S>,
        start: i64,
        payload: &[u8],
        upto: i64,
    ) {
        let captured_end = start.saturating_add(i64::try_from(payload.len()).unwrap_or(i64::MAX));
        let lo = start.max(0);
        let hi = upto.min(captured_end);
        if hi <= lo {
            return;
        }
        let (Ok(at), Ok(from), Ok(to)) = (
            u64::try_from(lo),
            usize::try_from(lo.saturating_sub(start)),
            usize::try_from(hi.saturating_sub(start)),
        ) else {
            return;
        };
        let Some(repeated) = payload.get(from..to) else {
            return;
        };
        let found = self.retained.compare(at, repeated);
        let stats = &mut ctx.shared.stats;
        if !found.complete {
            stats.retransmissions_unchecked = stats.retransmissions_unchecked.saturating_add(1);
        }
        if let Some(offset) = found.first_difference {
            stats.overlap_mismatches = stats.overlap_mismatches.saturating_add(1);
            ctx.event(TcpEvent::OverlapMismatch {
                dir: ctx.dir,
                offset,
                len: u32::try_from(found.compared).unwrap_or(u32::MAX),
            });
        }
    }

    /// Hands `bytes`, which sit at `next`, to the sink and keeps a copy of them until they are
    /// acknowledged. The caller moves `next` past them.
    fn deliver<S: StreamSink + ?Sized>(&mut self, ctx: &mut Ctx<'_, S>, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        ctx.data(bytes);
        let shared = &mut *ctx.shared;
        let limits = &shared.limits;
        let hit = self.retained.push(
            &mut shared.retained_total,
            limits.max_retained_per_dir,
            limits.max_retained_total,
            self.next,
            bytes,
        );
        if hit {
            shared.stats.retained_limit_hits = shared.stats.retained_limit_hits.saturating_add(1);
        }
    }

    /// Reports the `len` bytes at `next` as a gap. The retained copy only runs up to `next`, so
    /// the bytes before the gap are dropped from it. The caller moves `next` past the gap.
    fn skip<S: StreamSink + ?Sized>(&mut self, ctx: &mut Ctx<'_, S>, len: u64) {
        if len == 0 {
            return;
        }
        ctx.gap(len);
        self.retained.clear(&mut ctx.shared.retained_total);
    }

    /// Gives back the retained copy: the connection accepts no more data.
    pub(crate) fn drop_retained(&mut self, shared: &mut Shared) {
        self.retained.clear(&mut shared.retained_total);
    }

    fn note_fin<S: StreamSink + ?Sized>(&mut self, ctx: &mut Ctx<'_, S>, seq: SeqNum, fin_at: i64) {
        if self.fin_at().is_some() {
            // Retransmitted FIN, or a second one claiming another end: the first one stands.
            return;
        }
        // A FIN claiming the stream ends before bytes already seen contradicts them; like a
        // far-off one, it is more likely forged or stale than true.
        match u64::try_from(fin_at) {
            Ok(at) if at >= self.next.max(self.seen_end) && self.control_plausible(seq) => {
                // `at` came from an i64, so it is never NO_FIN.
                self.fin_at = at;
            }
            _ => {
                ctx.shared.stats.fins_ignored = ctx.shared.stats.fins_ignored.saturating_add(1);
                ctx.event(TcpEvent::FinIgnored { dir: ctx.dir });
            }
        }
    }

    /// Applies every rule that can give up a hole, then delivers the FIN if it is reached.
    fn settle<S: StreamSink + ?Sized>(&mut self, ctx: &mut Ctx<'_, S>) {
        self.drain(ctx);
        // A FIN beyond a hole: the sender has finished, so nothing will fill it.
        if !self.fin_delivered() && self.fin_at().is_some_and(|f| f > self.next) {
            self.flush(ctx);
            return;
        }
        // Acknowledged holes: only up to data actually seen, so a forged or early ACK cannot
        // skip beyond what the capture holds.
        let acked = self.peer_ack.min(self.seen_end);
        self.skip_holes_below(ctx, acked);
        // One-sided capture: no ACK will ever show the hole is lost, so give it up once enough
        // data waits behind it.
        let limit = ctx.shared.limits.max_above_hole_without_acks;
        if !self.peer_ack_seen() && limit > 0 {
            // The rule is about data waiting, not what holding it costs.
            while self.buffered_data() >= limit {
                let Some(first) = self.first_key() else { break };
                let before = self.next;
                self.skip_holes_below(ctx, first.max(self.next.saturating_add(1)));
                if self.next == before {
                    break;
                }
            }
        }
        self.deliver_fin(ctx);
    }

    /// Reports the holes below `limit` as gaps and delivers the data between them.
    fn skip_holes_below<S: StreamSink + ?Sized>(&mut self, ctx: &mut Ctx<'_, S>, limit: u64) {
        while self.next < limit {
            let before = self.next;
            let hole_end = limit.min(self.first_key().unwrap_or(u64::MAX));
            if hole_end > self.next {
                self.skip(ctx, hole_end - self.next);
                self.next = hole_end;
            }
            self.drain(ctx);
            if self.next == before {
                break;
            }
        }
    }

    fn deliver_fin<S: StreamSink + ?Sized>(&mut self, ctx: &mut Ctx<'_, S>) {
        if !self.fin_delivered() && self.fin_at().is_some_and(|f| self.next >= f) {
            self.set_flag(FIN_DELIVERED, true);
            ctx.fin();
        }
    }

    /// Gives up every hole: reports each as a gap, delivers all buffered data, and the FIN if
    /// one was seen. Used when the direction can receive nothing more.
    pub(crate) fn flush<S: StreamSink + ?Sized>(&mut self, ctx: &mut Ctx<'_, S>) {
        while let Some(first) = self.first_key() {
            if first > self.next {
                self.skip(ctx, first - self.next);
                self.next = first;
            }
            self.drain(ctx);
        }
        match self.fin_at() {
            Some(fin_at) => {
                if !self.fin_delivered() && fin_at > self.next {
                    self.skip(ctx, fin_at - self.next);
                    self.next = fin_at;
                }
            }
            None => {
                // A lost tail: the receiver acknowledged bytes the capture never showed. An
                // ACK far beyond the data seen is not believed for this, as elsewhere.
                let believable = self.next.max(self.seen_end).saturating_add(CONTROL_SLACK);
                if self.peer_ack > self.next && self.peer_ack <= believable {
                    self.skip(ctx, self.peer_ack - self.next);
                    self.next = self.peer_ack;
                }
            }
        }
        self.deliver_fin(ctx);
    }

    /// The connection was reset: flush, then end the direction if its FIN was not delivered.
    /// Nothing is accepted after a RST, so the retained copy goes too.
    pub(crate) fn reset<S: StreamSink + ?Sized>(&mut self, ctx: &mut Ctx<'_, S>) {
        self.flush(ctx);
        if !self.fin_delivered() {
            self.set_flag(FIN_DELIVERED, true);
            ctx.fin();
        }
        self.drop_retained(ctx.shared);
    }
}

#[cfg(test)]
mod tests;
