//! The fragment table: datagrams under reassembly, their byte ranges, and the age index that
//! drives timeouts and eviction.

use std::collections::{BTreeMap, HashMap};

use super::{
    DefragConfig, DefragEvent, DefragEventKind, DefragOutcome, DefragStats, EventQueue, FragKey,
    Fragment, Reassembled, RejectReason,
};
use crate::packet::Timestamp;

/// The largest IP datagram (IPv4 total length, IPv6 payload length).
const MAX_DATAGRAM: u64 = 65535;

/// One datagram under reassembly.
#[derive(Debug)]
struct Datagram {
    /// Payload bytes by offset; holes are zero until filled.
    data: Vec<u8>,
    /// Sorted, disjoint, non-adjacent `[start, end)` ranges of `data` that hold received bytes.
    covered: Vec<(u32, u32)>,
    /// End of the payload, known once the last fragment arrived.
    total: Option<u32>,
    fragments: u32,
    /// Key of this datagram in the age index.
    age: (Timestamp, u64),
}

impl Datagram {
    fn highest_end(&self) -> u32 {
        self.covered.last().map_or(0, |r| r.1)
    }

    fn is_complete(&self) -> bool {
        match self.total {
            Some(total) => match self.covered.as_slice() {
                [] => total == 0,
                [(0, end)] => *end == total,
                _ => false,
            },
            None => false,
        }
    }
}

/// What writing one fragment into a datagram found.
struct WriteReport {
    overlapped: bool,
    /// The first overlap whose bytes differ: (offset, len).
    mismatch: Option<(u32, u32)>,
}

/// Copies the parts of `data` (placed at `start`) that no earlier fragment covered and compares
/// the parts that one did: the first copy of every byte wins.
fn write_first_wins(dg: &mut Datagram, start: u32, data: &[u8]) -> WriteReport {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let end = start.saturating_add(len);
    let mut report = WriteReport {
        overlapped: false,
        mismatch: None,
    };
    let mut pos = start;
    let copy = |dst: &mut Vec<u8>, from: u32, to: u32| {
        let src = data.get(idx(from - start)..idx(to - start));
        let dst = dst.get_mut(idx(from)..idx(to));
        if let (Some(src), Some(dst)) = (src, dst) {
            if src.len() == dst.len() {
                dst.copy_from_slice(src);
            }
        }
    };
    for &(s, e) in &dg.covered {
        if e <= pos {
            continue;
        }
        if s >= end {
            break;
        }
        if s > pos {
            copy(&mut dg.data, pos, s);
        }
        let (os, oe) = (s.max(pos), e.min(end));
        report.overlapped = true;
        if report.mismatch.is_none() {
            let new = data.get(idx(os - start)..idx(oe - start));
            let old = dg.data.get(idx(os)..idx(oe));
            if new != old {
                report.mismatch = Some((os, oe - os));
            }
        }
        pos = oe;
    }
    if pos < end {
        copy(&mut dg.data, pos, end);
    }
    insert_range(&mut dg.covered, start, end);
    report
}

fn idx(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Adds `[start, end)` to sorted disjoint ranges, merging overlapping and adjacent ones.
fn insert_range(ranges: &mut Vec<(u32, u32)>, start: u32, end: u32) {
    if start >= end {
        return;
    }
    let at = ranges.partition_point(|r| r.1 < start);
    let mut new = (start, end);
    let mut last = at;
    while let Some(&(s, e)) = ranges.get(last) {
        if s > new.1 {
            break;
        }
        new = (new.0.min(s), new.1.max(e));
        last += 1;
    }
    ranges.splice(at..last, std::iter::once(new));
}

/// Bounded IPv4/IPv6 fragment reassembly on packet time.
///
/// Feed fragments with [`insert`](Self::insert), call [`expire`](Self::expire) as packet time
/// advances, and drain [`poll_event`](Self::poll_event). Memory held never exceeds
/// `max_bytes_total` (plus per-datagram bookkeeping for at most `max_datagrams` datagrams).
#[derive(Debug)]
pub struct Defragmenter {
    cfg: DefragConfig,
    table: HashMap<FragKey, Datagram>,
    /// Datagrams by the time of their first fragment: oldest first.
    ages: BTreeMap<(Timestamp, u64), FragKey>,
    next_serial: u64,
    bytes: usize,
    stats: DefragStats,
    events: EventQueue<DefragEvent>,
}

impl Defragmenter {
    /// An empty table with the given limits.
    pub fn new(cfg: DefragConfig) -> Self {
        let events = EventQueue::new(cfg.max_events);
        Defragmenter {
            cfg,
            table: HashMap::new(),
            ages: BTreeMap::new(),
            next_serial: 0,
            bytes: 0,
            stats: DefragStats::default(),
            events,
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &DefragConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &DefragStats {
        &self.stats
    }

    /// Incomplete datagrams held now.
    pub fn pending_datagrams(&self) -> usize {
        self.table.len()
    }

    /// Bytes of buffer held now (what `max_bytes_total` bounds).
    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    /// The next queued event, oldest first.
    pub fn poll_event(&mut self) -> Option<DefragEvent> {
        self.events.pop()
    }

    /// Stores one fragment; returns the datagram when this fragment completes it.
    pub fn insert(&mut self, ts: Timestamp, frag: Fragment<'_>) -> DefragOutcome {
        self.stats.fragments += 1;
        let key = frag.key;
        let len = u32::try_from(frag.data.len()).unwrap_or(u32::MAX);
        let end = u64::from(frag.offset) + u64::from(len);

        if frag.more && (len == 0 || len % 8 != 0) {
            self.stats.bad_length += 1;
            self.event(ts, key, DefragEventKind::BadLength { len });
            return DefragOutcome::Rejected(RejectReason::BadLength);
        }
        if end + u64::from(frag.header_len) > MAX_DATAGRAM {
            self.remove(&key);
            self.stats.oversize += 1;
            let end = u32::try_from(end + u64::from(frag.header_len)).unwrap_or(u32::MAX);
            self.event(ts, key, DefragEventKind::Oversize { end });
            return DefragOutcome::Rejected(RejectReason::Oversize);
        }
        // Both fit in u32 now: end <= 65535.
        let end = u32::try_from(end).unwrap_or(u32::MAX);

        if !self.table.contains_key(&key) {
            if self.cfg.max_datagrams == 0 {
                self.stats.evicted_datagram_limit += 1;
                let limit = self.cfg.max_datagrams;
                self.event(ts, key, DefragEventKind::DatagramLimit { limit });
                return DefragOutcome::Rejected(RejectReason::DatagramLimit);
            }
            while self.table.len() >= self.cfg.max_datagrams {
                if !self.evict_oldest(ts, &key, EvictCause::Datagrams) {
                    break;
                }
            }
            let age = (ts, self.next_serial);
            self.next_serial += 1;
            self.ages.insert(age, key);
            let dg = Datagram {
                data: Vec::new(),
                covered: Vec::new(),
                total: None,
                fragments: 0,
                age,
            };
            self.table.insert(key, dg);
        }

        let Some(dg) = self.table.get(&key) else {
            return DefragOutcome::Rejected(RejectReason::DatagramLimit);
        };

        if usize::try_from(dg.fragments).unwrap_or(usize::MAX)
            >= self.cfg.max_fragments_per_datagram
        {
            self.remove(&key);
            self.stats.too_many_fragments += 1;
            let limit = self.cfg.max_fragments_per_datagram;
            self.event(ts, key, DefragEventKind::TooManyFragments { limit });
            return DefragOutcome::Rejected(RejectReason::TooManyFragments);
        }
        let inconsistent = if frag.more {
            dg.total.is_some_and(|t| end > t)
        } else {
            dg.total.is_some_and(|t| t != end) || dg.highest_end() > end
        };
        if inconsistent {
            self.remove(&key);
            self.stats.inconsistent += 1;
            self.event(ts, key, DefragEventKind::Inconsistent);
            return DefragOutcome::Rejected(RejectReason::Inconsistent);
        }

        // Make room before growing: evict the oldest other datagrams.
        let growth = idx(end).saturating_sub(dg.data.len());
        while self.bytes.saturating_add(growth) > self.cfg.max_bytes_total {
            if !self.evict_oldest(ts, &key, EvictCause::Memory) {
                self.remove(&key);
                self.stats.evicted_memory_limit += 1;
                let limit = self.cfg.max_bytes_total;
                self.event(ts, key, DefragEventKind::MemoryLimit { limit });
                return DefragOutcome::Rejected(RejectReason::MemoryLimit);
            }
        }

        let Some(dg) = self.table.get_mut(&key) else {
            return DefragOutcome::Rejected(RejectReason::DatagramLimit);
        };
        if growth > 0 {
            let before = dg.data.capacity();
            dg.data.reserve_exact(growth);
            dg.data.resize(idx(end), 0);
            self.bytes = self
                .bytes
                .saturating_add(dg.data.capacity().saturating_sub(before));
        }
        if !frag.more {
            dg.total = Some(end);
        }
        dg.fragments = dg.fragments.saturating_add(1);
        let report = write_first_wins(dg, frag.offset, frag.data);
        let complete = dg.is_complete();

        if report.overlapped {
            self.stats.overlaps += 1;
        }
        if let Some((offset, len)) = report.mismatch {
            self.stats.overlap_mismatches += 1;
            self.event(ts, key, DefragEventKind::OverlapMismatch { offset, len });
        }
        if !complete {
            return DefragOutcome::Held;
        }
        match self.remove(&key) {
            Some(dg) => {
                self.stats.reassembled += 1;
                let mut payload = dg.data;
                payload.truncate(dg.total.map_or(0, idx));
                DefragOutcome::Complete(Reassembled {
                    key,
                    payload,
                    fragments: dg.fragments,
                })
            }
            None => DefragOutcome::Rejected(RejectReason::DatagramLimit),
        }
    }

    /// Drops every datagram whose first fragment is at least `timeout` older than `now`.
    pub fn expire(&mut self, now: Timestamp) {
        let timeout = u64::try_from(self.cfg.timeout.as_nanos()).unwrap_or(u64::MAX);
        while let Some((&(first, _), &key)) = self.ages.first_key_value() {
            if now.saturating_since(first) < timeout {
                break;
            }
            if let Some(dg) = self.remove(&key) {
                self.stats.timeouts += 1;
                let bytes = dg.covered.iter().map(|r| idx(r.1 - r.0)).sum();
                self.event(
                    now,
                    key,
                    DefragEventKind::Timeout {
                        fragments: dg.fragments,
                        bytes,
                    },
                );
            }
        }
    }

    /// Evicts the oldest datagram other than `keep`; false when there is none.
    fn evict_oldest(&mut self, ts: Timestamp, keep: &FragKey, cause: EvictCause) -> bool {
        let Some(victim) = self.ages.values().find(|k| *k != keep).copied() else {
            return false;
        };
        self.remove(&victim);
        let kind = match cause {
            EvictCause::Datagrams => {
                self.stats.evicted_datagram_limit += 1;
                DefragEventKind::DatagramLimit {
                    limit: self.cfg.max_datagrams,
                }
            }
            EvictCause::Memory => {
                self.stats.evicted_memory_limit += 1;
                DefragEventKind::MemoryLimit {
                    limit: self.cfg.max_bytes_total,
                }
            }
        };
        self.event(ts, victim, kind);
        true
    }

    fn remove(&mut self, key: &FragKey) -> Option<Datagram> {
        let dg = self.table.remove(key)?;
        self.ages.remove(&dg.age);
        self.bytes = self.bytes.saturating_sub(dg.data.capacity());
        Some(dg)
    }

    fn event(&mut self, ts: Timestamp, key: FragKey, kind: DefragEventKind) {
        if !self.events.push(DefragEvent { ts, key, kind }) {
            self.stats.events_dropped += 1;
        }
    }
}

#[derive(Copy, Clone)]
enum EvictCause {
    Datagrams,
    Memory,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            id,
            protocol: 6,
        }
    }

    fn frag(id: u32, offset: u32, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            key: key(id),
            offset,
            more,
            data,
            header_len: 20,
        }
    }

    fn complete(out: DefragOutcome) -> Vec<u8> {
        match out {
            DefragOutcome::Complete(r) => r.payload,
            other => panic!("expected a complete datagram, got {other:?}"),
        }
    }

    #[test]
    fn ranges_merge_overlapping_and_adjacent() {
        let mut r = Vec::new();
        insert_range(&mut r, 16, 24);
        insert_range(&mut r, 0, 8);
        assert_eq!(r, vec![(0, 8), (16, 24)]);
        insert_range(&mut r, 8, 16);
        assert_eq!(r, vec![(0, 24)]);
        insert_range(&mut r, 40, 48);
        insert_range(&mut r, 20, 44);
        assert_eq!(r, vec![(0, 48)]);
        insert_range(&mut r, 5, 5);
        assert_eq!(r, vec![(0, 48)]);
    }

    #[test]
    fn two_fragments_in_order_and_reversed() {
        let data: Vec<u8> = (0..24).collect();
        let mut d = Defragmenter::new(DefragConfig::default());
        assert_eq!(
            d.insert(Timestamp(1), frag(1, 0, true, &data[..16])),
            DefragOutcome::Held
        );
        assert_eq!(
            complete(d.insert(Timestamp(2), frag(1, 16, false, &data[16..]))),
            data
        );
        assert_eq!(
            d.insert(Timestamp(3), frag(2, 16, false, &data[16..])),
            DefragOutcome::Held
        );
        assert_eq!(
            complete(d.insert(Timestamp(4), frag(2, 0, true, &data[..16]))),
            data
        );
        assert_eq!(d.pending_datagrams(), 0);
        assert_eq!(d.pending_bytes(), 0);
        assert_eq!(d.stats().reassembled, 2);
    }

    #[test]
    fn overlap_keeps_first_copy_and_reports_difference() {
        let mut d = Defragmenter::new(DefragConfig::default());
        assert_eq!(
            d.insert(Timestamp(1), frag(1, 0, true, &[1; 16])),
            DefragOutcome::Held
        );
        // Bytes 8..16 overlap with different content; 16..24 are new.
        let out = complete(d.insert(Timestamp(2), frag(1, 8, false, &[2; 16])));
        let mut want = vec![1u8; 16];
        want.extend_from_slice(&[2; 8]);
        assert_eq!(out, want);
        assert_eq!(d.stats().overlap_mismatches, 1);
        let ev = d.poll_event().expect("an event");
        assert_eq!(
            ev.kind,
            DefragEventKind::OverlapMismatch { offset: 8, len: 8 }
        );
    }

    #[test]
    fn non_multiple_of_eight_is_refused() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let out = d.insert(Timestamp(1), frag(1, 0, true, &[0; 12]));
        assert_eq!(out, DefragOutcome::Rejected(RejectReason::BadLength));
        assert_eq!(d.pending_datagrams(), 0);
    }

    #[test]
    fn oversize_drops_the_datagram() {
        let mut d = Defragmenter::new(DefragConfig::default());
        assert_eq!(
            d.insert(Timestamp(1), frag(1, 0, true, &[0; 8])),
            DefragOutcome::Held
        );
        let out = d.insert(Timestamp(2), frag(1, 65520, false, &[0; 8]));
        assert_eq!(out, DefragOutcome::Rejected(RejectReason::Oversize));
        assert_eq!(d.pending_datagrams(), 0);
        assert_eq!(d.stats().oversize, 1);
    }

    #[test]
    fn conflicting_last_fragments_are_inconsistent() {
        let mut d = Defragmenter::new(DefragConfig::default());
        assert_eq!(
            d.insert(Timestamp(1), frag(1, 8, false, &[0; 8])),
            DefragOutcome::Held
        );
        let out = d.insert(Timestamp(2), frag(1, 16, false, &[0; 8]));
        assert_eq!(out, DefragOutcome::Rejected(RejectReason::Inconsistent));
        assert_eq!(d.pending_datagrams(), 0);
    }

    #[test]
    fn expire_uses_packet_time_from_first_fragment() {
        let cfg = DefragConfig {
            timeout: std::time::Duration::from_secs(30),
            ..Default::default()
        };
        let mut d = Defragmenter::new(cfg);
        let t0 = Timestamp::from_parts(100, 0);
        assert_eq!(d.insert(t0, frag(1, 0, true, &[0; 8])), DefragOutcome::Held);
        d.expire(Timestamp::from_parts(129, 999_999_999));
        assert_eq!(d.pending_datagrams(), 1);
        d.expire(Timestamp::from_parts(130, 0));
        assert_eq!(d.pending_datagrams(), 0);
        assert_eq!(d.stats().timeouts, 1);
        let ev = d.poll_event().expect("a timeout event");
        assert_eq!(
            ev.kind,
            DefragEventKind::Timeout {
                fragments: 1,
                bytes: 8
            }
        );
    }

    #[test]
    fn datagram_limit_evicts_oldest() {
        let cfg = DefragConfig {
            max_datagrams: 2,
            ..Default::default()
        };
        let mut d = Defragmenter::new(cfg);
        for id in 0..3 {
            assert_eq!(
                d.insert(Timestamp(u64::from(id)), frag(id, 0, true, &[0; 8])),
                DefragOutcome::Held
            );
        }
        assert_eq!(d.pending_datagrams(), 2);
        let ev = d.poll_event().expect("an eviction event");
        assert_eq!(ev.key.id, 0);
        assert_eq!(ev.kind, DefragEventKind::DatagramLimit { limit: 2 });
        // Datagram 1 survived and still completes.
        assert_eq!(
            complete(d.insert(Timestamp(9), frag(1, 8, false, &[1; 8]))).len(),
            16
        );
    }

    #[test]
    fn memory_limit_refuses_what_cannot_fit() {
        let cfg = DefragConfig {
            max_bytes_total: 64,
            ..Default::default()
        };
        let mut d = Defragmenter::new(cfg);
        let out = d.insert(Timestamp(1), frag(1, 0, true, &[0; 72]));
        assert_eq!(out, DefragOutcome::Rejected(RejectReason::MemoryLimit));
        assert_eq!(d.pending_bytes(), 0);
        assert_eq!(
            d.insert(Timestamp(2), frag(2, 0, true, &[0; 48])),
            DefragOutcome::Held
        );
        assert!(d.pending_bytes() <= 64);
        // A second datagram that needs the room evicts the first.
        assert_eq!(
            d.insert(Timestamp(3), frag(3, 0, true, &[0; 40])),
            DefragOutcome::Held
        );
        assert_eq!(d.pending_datagrams(), 1);
        assert!(d.pending_bytes() <= 64);
    }

    #[test]
    fn fragment_count_limit_drops_datagram() {
        let cfg = DefragConfig {
            max_fragments_per_datagram: 2,
            ..Default::default()
        };
        let mut d = Defragmenter::new(cfg);
        assert_eq!(
            d.insert(Timestamp(1), frag(1, 0, true, &[0; 8])),
            DefragOutcome::Held
        );
        assert_eq!(
            d.insert(Timestamp(1), frag(1, 8, true, &[0; 8])),
            DefragOutcome::Held
        );
        let out = d.insert(Timestamp(1), frag(1, 16, false, &[0; 8]));
        assert_eq!(out, DefragOutcome::Rejected(RejectReason::TooManyFragments));
        assert_eq!(d.pending_datagrams(), 0);
    }

    #[test]
    fn event_queue_is_bounded() {
        let cfg = DefragConfig {
            max_events: 1,
            ..Default::default()
        };
        let mut d = Defragmenter::new(cfg);
        for _ in 0..3 {
            let _ = d.insert(Timestamp(1), frag(1, 0, true, &[0; 3]));
        }
        assert_eq!(d.stats().events_dropped, 2);
        assert!(d.poll_event().is_some());
        assert!(d.poll_event().is_none());
    }
}
