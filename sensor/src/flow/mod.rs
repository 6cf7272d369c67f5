//! The connection table: finds the connection of each TCP segment, runs its two-way
//! reassembly, and opens, expires, evicts and closes connections on packet time.
//!
//! Everything is driven by the caller: [`FlowTable::handle_segment`] for each segment,
//! [`FlowTable::handle_timeout`] every so often (every second of packet time is plenty), and
//! [`FlowTable::finish`] at the end of input (or [`FlowTable::finish_some`], repeatedly, to
//! close the connections a slice at a time). Output goes to a [`StreamSink`].
//!
//! What a caller can rely on:
//! - Both directions of a connection meet in one flow (VLAN tags ignored unless
//!   [`FlowConfig::split_by_vlan`]); the originator is chosen once, from the handshake or, when
//!   the connection is picked up mid-stream, from the ports or the first packet
//!   ([`OrigInference`](crate::stream::OrigInference)), and [`ConnInfo`] never changes after
//!   `on_open`.
//! - Per connection, `on_open` comes first and `on_close` last, exactly once each; each
//!   direction's data and gaps come in stream order and add up to its sequence space, followed by
//!   at most one `on_fin`.
//! - Memory is bounded by [`FlowConfig`]: flows, out-of-order bytes and runs per direction,
//!   out-of-order bytes in total, and the delivered bytes kept (per direction and in total)
//!   until acknowledged. Each limit reached is counted in [`FlowStats`].
//! - First copy wins: a later copy of bytes still held or delivered but not yet acknowledged
//!   is compared with the first, and different bytes are reported as
//!   [`TcpEvent::OverlapMismatch`](crate::stream::TcpEvent::OverlapMismatch); later copies of
//!   bytes no longer kept are counted in [`FlowStats::retransmissions_unchecked`]. Keep-alive
//!   probes (at most one filler byte, one before the sender's next new byte) are not compared,
//!   only counted in [`FlowStats::keepalives`].
//! - A RST closes the connection only at a position its receiver would accept (RFC 5961
//!   §3.2: the next expected byte, the sender's next new byte, or the receiver's last
//!   acknowledgement); one elsewhere in the window is ignored and counted
//!   ([`FlowStats::resets_in_window`]), one far outside it too ([`FlowStats::resets_ignored`]).
//! - PAWS (RFC 7323): a data segment whose TCP timestamp is older than the newest one its sender
//!   showed in order is dropped, as the receiver drops it ([`FlowStats::paws_rejected`]); when
//!   the receiver is then seen acknowledging such bytes, the stamp is learnt again
//!   ([`FlowStats::paws_resyncs`]).
//! - When the table is full, flows that showed one direction only (a SYN flood, one-packet
//!   flows) go before conversations that showed both, unless those have been idle
//!   `handshake_timeout` longer.
//! - Per packet the work is a hash lookup plus the segment's own bytes (and, for out-of-order
//!   data, a walk over the buffered runs it overlaps); expiry and eviction use recency lists,
//!   never a scan of the table.
//!
//! Not supported: TCP options other than timestamps (window scale, SACK) are not used; urgent
//! data is delivered inline; data carried by a RST is ignored; a SYN with a new ISN on a
//! connection that has not finished is taken as part of that connection, not as a new one; a
//! RST at an exact position that never reached the receiver (a forged one with a short TTL)
//! still closes the connection, and what follows it is only reported as
//! [`TcpEvent::DataAfterClose`](crate::stream::TcpEvent::DataAfterClose).

mod config;
mod conn;
mod key;
mod sides;
mod slab;
mod stats;

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

pub use config::{FlowConfig, DEFAULT_SERVICE_PORTS, HELD_RUN_OVERHEAD};
pub use sides::{Sides, MAX_SIDES_SERVICES};
pub use stats::FlowStats;

use self::conn::{Conn, Phase};
use self::key::{infer_orig, FlowKey};
use self::slab::{Slab, SortedDrain, MAX_ENTRIES};
use crate::packet::{TcpSegment, Timestamp};
use crate::reassembly::{Limits, Shared};
use crate::stream::{CloseReason, ConnId, ConnInfo, StreamSink};

/// Recency list of connections in their handshake.
const HANDSHAKE: usize = 0;
/// Recency list of established connections that have shown both directions.
const ESTABLISHED: usize = 1;
/// List of finished connections waiting out their linger, in the order they finished.
const CLOSING: usize = 2;
/// Recency list of connections past their handshake that have shown one direction only: a
/// one-packet flow, a scan, or a one-sided capture.
const ONE_SIDED: usize = 3;

/// Connections [`FlowTable::finish_some`] closes per call unless told otherwise: what closing
/// them produces (every pending transaction of each) stays a few megabytes, which the caller
/// writes out before the next slice, instead of the transactions of a million connections at
/// once.
pub const FINISH_SLICE: usize = 4096;

/// The connection table with two-way TCP reassembly. See the [module docs](self) for what it
/// promises.
#[derive(Debug)]
pub struct FlowTable {
    cfg: FlowConfig,
    /// `cfg.max_flows`, at least 1 and at most what the slab can address.
    max_flows: usize,
    /// Slot numbers of `conns`, found by the hash of their key; the key is compared through
    /// the connection (`FlowKey::of_conn`), so each entry is 4 bytes.
    index: HashTable<u32>,
    hasher: RandomState,
    conns: Slab<Conn>,
    shared: Shared,
    /// Latest packet time seen: timeouts run on it, so a packet stamped earlier than its
    /// predecessor (merged capture sources) cannot move time backwards.
    clock: Timestamp,
    next_id: u64,
    /// Closed connections per service, two-way or one-sided, since the last take.
    sides: sides::SidesTally,
    /// The connections an unfinished [`FlowTable::finish_some`] has yet to close, in the order
    /// they were opened; out of the slab and the index.
    finishing: Option<SortedDrain<Conn>>,
}

impl FlowTable {
    /// An empty table with these settings.
    pub fn new(cfg: FlowConfig) -> Self {
        let limits = Limits {
            max_bytes_per_dir: cfg.max_buffered_per_dir,
            max_segments_per_dir: cfg.max_segments_per_dir,
            max_bytes_total: cfg.max_buffered_total,
            max_above_hole_without_acks: cfg.max_above_hole_without_acks,
            max_retained_per_dir: cfg.max_retained_per_dir,
            max_retained_total: cfg.max_retained_total,
        };
        FlowTable {
            max_flows: cfg.max_flows.clamp(1, MAX_ENTRIES),
            cfg,
            index: HashTable::new(),
            hasher: RandomState::new(),
            conns: Slab::default(),
            shared: Shared {
                stats: FlowStats::default(),
                buffered_total: 0,
                retained_total: 0,
                limits,
            },
            clock: Timestamp::default(),
            next_id: 0,
            sides: sides::SidesTally::default(),
            finishing: None,
        }
    }

    /// The settings this table runs with.
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Handles one TCP segment captured at `now`: opens its connection if needed (not for a lone
    /// RST), reassembles, and reports through `sink`. Never panics, whatever the segment holds.
    pub fn handle_segment(
        &mut self,
        now: Timestamp,
        seg: &TcpSegment<'_>,
        sink: &mut impl StreamSink,
    ) {
        self.complete_finish(now, sink);
        self.clock = self.clock.max(now);
        let stats = &mut self.shared.stats;
        stats.segments = stats.segments.saturating_add(1);
        let key = FlowKey::of(seg, self.cfg.split_by_vlan);
        let mut found = self.find(&key);
        if let Some(idx) = found {
            // Expired while the caller had not called handle_timeout yet: close it on time first.
            if let Some(deadline) = self.deadline(idx).filter(|d| *d <= self.clock) {
                self.expire(idx, deadline, sink);
                found = None;
            } else if self.conns.get(idx).is_some_and(|c| c.is_reuse_syn(seg)) {
                let stats = &mut self.shared.stats;
                stats.port_reuse = stats.port_reuse.saturating_add(1);
                self.close_naturally(idx, now, sink);
                found = None;
            }
        }
        let idx = match found {
            Some(idx) => idx,
            None if seg.flags.rst => {
                let stats = &mut self.shared.stats;
                stats.stray_resets = stats.stray_resets.saturating_add(1);
                return;
            }
            None => self.open(now, key, seg, sink),
        };
        let Some(conn) = self.conns.get_mut(idx) else {
            return;
        };
        let was_closing = matches!(conn.phase, Phase::Closing(_));
        conn.handle(now, seg, &mut self.shared, sink);
        if !was_closing {
            conn.last_seen = self.clock;
        }
        match conn.phase {
            Phase::Handshake => self.conns.move_to_front(idx, HANDSHAKE),
            Phase::Established if conn.both_sides_seen() => {
                self.conns.move_to_front(idx, ESTABLISHED);
            }
            Phase::Established => self.conns.move_to_front(idx, ONE_SIDED),
            Phase::Closing(_) if !was_closing => self.conns.move_to_front(idx, CLOSING),
            // The linger runs from the end of the connection (`last_seen` stays when it
            // began), not from its last packet, so that a peer sending after a RST cannot keep
            // it in the table.
            Phase::Closing(_) => {}
        }
    }

    /// Closes the connections whose timeout has passed at packet time `now`: idle ones with
    /// `CloseReason::Idle` (after delivering what they buffered), finished ones at the end of
    /// their linger with their own reason. Cost is proportional to the connections closed.
    pub fn handle_timeout(&mut self, now: Timestamp, sink: &mut impl StreamSink) {
        self.complete_finish(now, sink);
        self.clock = self.clock.max(now);
        for list in [CLOSING, HANDSHAKE, ONE_SIDED, ESTABLISHED] {
            while let Some(idx) = self.conns.tail(list) {
                match self.deadline(idx) {
                    Some(deadline) if deadline <= self.clock => self.expire(idx, deadline, sink),
                    _ => break,
                }
            }
        }
    }

    /// End of input: every connection delivers what it buffered (each hole becomes a gap, a FIN
    /// seen is delivered) and is closed, in the order the connections were opened, with
    /// `CloseReason::EndOfInput`, or with `Fin`/`Reset` for those that had already finished.
    ///
    /// The table's storage shrinks while the connections are closed, so that what their
    /// closing produces can reuse its memory. A caller that hands what the sink gathers on
    /// (transaction records) should use [`FlowTable::finish_some`] instead, so that the
    /// output of every connection does not exist at once.
    pub fn finish(&mut self, now: Timestamp, sink: &mut impl StreamSink) {
        while !self.finish_some(now, usize::MAX, sink) {}
    }

    /// End of input, a slice at a time: closes at most `max` connections (at least one) as
    /// [`FlowTable::finish`] does, and returns true once none is left. Called again until it
    /// returns true, it closes every connection exactly once, in the same order and with the
    /// same reasons as one call of [`FlowTable::finish`]; [`FINISH_SLICE`] is a good `max`.
    ///
    /// From the first call, [`FlowTable::len`] counts the connections still to close, and the
    /// walks over the table (`max_buffered_segments` and the like) no longer see them. Segments
    /// or timeouts given before the last slice first close every connection left (as
    /// [`FlowTable::finish`] would), then go to a table that starts empty.
    pub fn finish_some(&mut self, now: Timestamp, max: usize, sink: &mut impl StreamSink) -> bool {
        self.clock = self.clock.max(now);
        let mut drain = match self.finishing.take() {
            Some(d) => d,
            None => {
                self.index = HashTable::new();
                self.conns.drain_sorted(|c| c.info.id)
            }
        };
        for _ in 0..max.max(1) {
            let Some(conn) = drain.next() else {
                return true;
            };
            let reason = match conn.phase {
                Phase::Closing(reason) => reason,
                _ => CloseReason::EndOfInput,
            };
            self.close_conn(conn, now, reason, sink);
        }
        if drain.is_empty() {
            return true;
        }
        self.finishing = Some(drain);
        false
    }

    /// Closes what an unfinished [`FlowTable::finish_some`] left, before the table takes new
    /// input.
    fn complete_finish(&mut self, now: Timestamp, sink: &mut impl StreamSink) {
        if self.finishing.is_some() {
            self.finish(now, sink);
        }
    }

    /// Closed connections per service (responder), two-way or one-sided, since the last call,
    /// by address; and those of services beyond [`MAX_SIDES_SERVICES`]. Counting starts again.
    pub fn take_sides(&mut self) -> (Vec<(std::net::SocketAddr, Sides)>, u64) {
        self.sides.take()
    }

    /// Counters since creation.
    pub fn stats(&self) -> &FlowStats {
        &self.shared.stats
    }

    /// Connections in the table, finished ones still lingering included, and those an
    /// unfinished [`FlowTable::finish_some`] has yet to close.
    pub fn len(&self) -> usize {
        self.conns.len().saturating_add(self.finishing.as_ref().map_or(0, SortedDrain::len))
    }

    /// Whether the table holds no connection.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Out-of-order bytes currently buffered by all connections, each held run's bookkeeping
    /// included (at most [`FlowConfig::max_buffered_total`]).
    pub fn buffered_bytes(&self) -> usize {
        self.shared.buffered_total
    }

    /// Delivered bytes currently kept by all connections for comparing retransmissions (at
    /// most [`FlowConfig::max_retained_total`]); bytes leave once the other side acknowledges
    /// them or their connection closes.
    pub fn retained_bytes(&self) -> usize {
        self.shared.retained_total
    }

    /// The most delivered bytes any one direction keeps right now (at most
    /// [`FlowConfig::max_retained_per_dir`]). Walks the whole table, like
    /// [`FlowTable::max_buffered_segments`].
    pub fn max_retained_per_dir(&self) -> usize {
        self.max_over_conns(Conn::max_retained)
    }

    /// The most out-of-order runs any one direction holds right now (at most
    /// [`FlowConfig::max_segments_per_dir`]). Walks the whole table: for tests and diagnostics,
    /// not for the packet path.
    pub fn max_buffered_segments(&self) -> usize {
        self.max_over_conns(Conn::max_buffered_segments)
    }

    /// The most out-of-order bytes any one connection holds right now (both directions). Walks
    /// the whole table, like [`FlowTable::max_buffered_segments`].
    pub fn max_buffered_per_conn(&self) -> usize {
        self.max_over_conns(Conn::buffered)
    }

    /// The largest value of `f` over every connection (0 for an empty table).
    fn max_over_conns(&self, f: impl Fn(&Conn) -> usize) -> usize {
        self.conns.indices().filter_map(|i| self.conns.get(i)).map(f).max().unwrap_or(0)
    }

    fn open(
        &mut self,
        now: Timestamp,
        key: FlowKey,
        seg: &TcpSegment<'_>,
        sink: &mut impl StreamSink,
    ) -> usize {
        while self.conns.len() >= self.max_flows {
            if !self.evict_one(now, sink) {
                break;
            }
        }
        let (orig, resp, inference) = infer_orig(seg, &self.cfg.service_ports);
        let info = ConnInfo::new(ConnId(self.next_id), orig, resp, now, inference, seg.vlans);
        self.next_id = self.next_id.saturating_add(1);
        let (phase, list) = if seg.flags.syn {
            (Phase::Handshake, HANDSHAKE)
        } else {
            (Phase::Established, ONE_SIDED)
        };
        sink.on_open(&info);
        let stats = &mut self.shared.stats;
        stats.flows_opened = stats.flows_opened.saturating_add(1);
        let idx = self.conns.insert(Conn::new(info, phase, self.clock), list);
        let hash = self.hasher.hash_one(key);
        let (conns, hasher, split) = (&self.conns, &self.hasher, self.cfg.split_by_vlan);
        let slot = u32::try_from(idx).unwrap_or(u32::MAX);
        self.index.insert_unique(hash, slot, |i| rehash(conns, hasher, split, i));
        idx
    }

    /// The slot of the connection with this key.
    fn find(&self, key: &FlowKey) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        let split = self.cfg.split_by_vlan;
        let conns = &self.conns;
        self.index
            .find(hash, |&i| {
                conns.get(i as usize).is_some_and(|c| FlowKey::of_conn(&c.info, split) == *key)
            })
            .map(|&i| i as usize)
    }

    /// Closes a connection that ended by itself (FIN or RST) before its linger was over, with
    /// the reason it ended for.
    fn close_naturally(&mut self, idx: usize, now: Timestamp, sink: &mut impl StreamSink) {
        let reason = self.conns.get(idx).and_then(Conn::natural_end).unwrap_or(CloseReason::Fin);
        self.close(idx, now, reason, sink);
    }

    /// Makes room for one connection: a finished one still lingering if there is one (it has
    /// nothing left to lose), else the least recently active, where a connection that has shown
    /// both directions counts as active `handshake_timeout` later than it was. Under a flood of
    /// spoofed SYNs or one-packet flows the table therefore sheds the flood's own flows, which
    /// are all younger than that, and keeps real conversations; an idle keep-alive connection
    /// left long enough still goes before a fresh one. Returns false if the table is empty.
    fn evict_one(&mut self, now: Timestamp, sink: &mut impl StreamSink) -> bool {
        if let Some(idx) = self.conns.tail(CLOSING) {
            let stats = &mut self.shared.stats;
            stats.linger_cut_short = stats.linger_cut_short.saturating_add(1);
            self.close_naturally(idx, now, sink);
            return true;
        }
        let credit = self.cfg.handshake_timeout;
        let victim = [
            (HANDSHAKE, 0),
            (ONE_SIDED, 0),
            (ESTABLISHED, credit),
        ]
        .into_iter()
        .filter_map(|(list, credit)| {
            let idx = self.conns.tail(list)?;
            let seen = self.conns.get(idx)?.last_seen.plus_nanos(credit);
            Some((seen, idx))
        })
        .min_by_key(|(seen, _)| *seen)
        .map(|(_, idx)| idx);
        let Some(idx) = victim else { return false };
        let stats = &mut self.shared.stats;
        stats.evicted = stats.evicted.saturating_add(1);
        self.close(idx, now, CloseReason::Evicted, sink);
        true
    }

    /// When the connection at `idx` times out, on the table clock.
    fn deadline(&self, idx: usize) -> Option<Timestamp> {
        let conn = self.conns.get(idx)?;
        Some(match conn.phase {
            Phase::Handshake => conn.last_seen.plus_nanos(self.cfg.handshake_timeout),
            Phase::Established => conn.last_seen.plus_nanos(self.cfg.idle_timeout),
            Phase::Closing(_) => conn.last_seen.plus_nanos(self.cfg.closed_linger),
        })
    }

    /// Closes a connection whose deadline passed, stamped with that deadline so the result does
    /// not depend on how often the caller checks timeouts.
    fn expire(&mut self, idx: usize, deadline: Timestamp, sink: &mut impl StreamSink) {
        let reason = match self.conns.get(idx).map(|c| c.phase) {
            Some(Phase::Closing(reason)) => reason,
            _ => {
                let stats = &mut self.shared.stats;
                stats.idle_expired = stats.idle_expired.saturating_add(1);
                CloseReason::Idle
            }
        };
        self.close(idx, deadline, reason, sink);
    }

    fn close(
        &mut self,
        idx: usize,
        ts: Timestamp,
        reason: CloseReason,
        sink: &mut impl StreamSink,
    ) {
        let Some(conn) = self.conns.remove(idx) else {
            return;
        };
        let hash = self.hasher.hash_one(FlowKey::of_conn(&conn.info, self.cfg.split_by_vlan));
        if let Ok(entry) = self.index.find_entry(hash, |&i| i as usize == idx) {
            entry.remove();
        }
        if self.conns.len() == 0 {
            // Neither the slab nor the index shrinks as connections leave; when the last one
            // has gone (a quiet spell) their memory goes back.
            self.conns = Slab::default();
            self.index = HashTable::new();
        }
        self.close_conn(conn, ts, reason, sink);
    }

    /// Closes a connection already taken out of the table.
    fn close_conn(
        &mut self,
        mut conn: Conn,
        ts: Timestamp,
        reason: CloseReason,
        sink: &mut impl StreamSink,
    ) {
        conn.flush(ts, &mut self.shared, sink);
        self.sides.add(conn.info.resp(), conn.both_sides_seen());
        sink.on_close(&conn.info, ts, reason);
        let stats = &mut self.shared.stats;
        stats.flows_closed = stats.flows_closed.saturating_add(1);
        let counter = match reason {
            CloseReason::Fin => &mut stats.closed_fin,
            CloseReason::Reset => &mut stats.closed_reset,
            CloseReason::EndOfInput => &mut stats.closed_end_of_input,
            // Counted where the decision is made (expire, evict_one).
            CloseReason::Idle | CloseReason::Evicted => return,
        };
        *counter = counter.saturating_add(1);
    }
}

/// The hash of the connection in slot `i`, for the index to move it when it grows.
fn rehash(conns: &Slab<Conn>, hasher: &RandomState, split_by_vlan: bool, i: &u32) -> u64 {
    conns
        .get(*i as usize)
        .map_or(0, |c| hasher.hash_one(FlowKey::of_conn(&c.info, split_by_vlan)))
}

#[cfg(test)]
mod sizes {
    /// What a tracked connection costs in the table, printed for docs/performance.md
    /// (`cargo test -p apitap-sensor sizes -- --nocapture`); the figures are measured, not
    /// promised, so nothing is asserted.
    #[test]
    fn print_type_sizes() {
        use std::mem::size_of;
        println!("ConnInfo {}", size_of::<crate::stream::ConnInfo>());
        println!("HalfStream {}", size_of::<crate::reassembly::HalfStream>());
        println!("Conn {}", size_of::<super::Conn>());
        println!("Option<Conn> {}", size_of::<Option<super::Conn>>());
    }
}
