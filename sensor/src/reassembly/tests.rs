#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::stream::{CloseReason, ConnId, OrigInference};

#[derive(Default)]
struct Out {
    data: Vec<u8>,
    log: Vec<String>,
    /// Stream offset of each delivered byte run, rebuilt from data and gaps.
    runs: Vec<(u64, Vec<u8>)>,
    offset: u64,
}

impl StreamSink for Out {
    fn on_open(&mut self, _: &ConnInfo) {}
    fn on_data(&mut self, _: &ConnInfo, _: Timestamp, _: Dir, data: &[u8]) {
        self.data.extend_from_slice(data);
        self.runs.push((self.offset, data.to_vec()));
        self.offset += data.len() as u64;
        self.log
            .push(format!("data {}", String::from_utf8_lossy(data)));
    }
    fn on_gap(&mut self, _: &ConnInfo, _: Timestamp, _: Dir, len: u64) {
        self.offset += len;
        self.log.push(format!("gap {len}"));
    }
    fn on_fin(&mut self, _: &ConnInfo, _: Timestamp, _: Dir) {
        self.log.push("fin".into());
    }
    fn on_event(&mut self, _: &ConnInfo, _: Timestamp, event: TcpEvent) {
        self.log.push(format!("{event:?}"));
    }
    fn on_close(&mut self, _: &ConnInfo, _: Timestamp, _: CloseReason) {}
}

fn info() -> ConnInfo {
    ConnInfo::new(
        ConnId(0),
        "1.1.1.1:1".parse().unwrap(),
        "2.2.2.2:2".parse().unwrap(),
        Timestamp(0),
        OrigInference::Syn,
        [None, None],
    )
}

/// A per-direction budget that ten held runs of small test segments never reach.
const PLENTY: usize = 100 + 10 * held::RUN_OVERHEAD;

fn shared(max_bytes: usize, max_segments: usize) -> Shared {
    Shared {
        stats: FlowStats::default(),
        buffered_total: 0,
        retained_total: 0,
        limits: Limits {
            max_bytes_per_dir: max_bytes,
            max_segments_per_dir: max_segments,
            max_bytes_total: usize::MAX,
            max_above_hole_without_acks: 0,
            max_retained_per_dir: 64,
            max_retained_total: usize::MAX,
        },
    }
}

struct Harness {
    half: HalfStream,
    shared: Shared,
    out: Out,
    info: ConnInfo,
}

impl Harness {
    fn new(max_bytes: usize, max_segments: usize) -> Harness {
        let mut half = HalfStream::default();
        half.note_syn(SeqNum(99));
        Harness {
            half,
            shared: shared(max_bytes, max_segments),
            out: Out::default(),
            info: info(),
        }
    }

    fn seg(&mut self, off: u32, bytes: &[u8]) {
        self.seg_full(off, bytes, bytes.len() as u32, false);
    }

    fn seg_full(&mut self, off: u32, bytes: &[u8], wire_len: u32, fin: bool) {
        let mut ctx = Ctx {
            info: &self.info,
            dir: Dir::FromOrig,
            ts: Timestamp(1),
            sink: &mut self.out,
            shared: &mut self.shared,
        };
        self.half
            .segment(&mut ctx, SeqNum(100) + off, bytes, wire_len, fin);
        self.check();
    }

    fn ack(&mut self, off: u32) {
        let mut ctx = Ctx {
            info: &self.info,
            dir: Dir::FromOrig,
            ts: Timestamp(1),
            sink: &mut self.out,
            shared: &mut self.shared,
        };
        self.half.on_peer_ack(&mut ctx, SeqNum(100) + off);
        self.check();
    }

    fn flush(&mut self) {
        let mut ctx = Ctx {
            info: &self.info,
            dir: Dir::FromOrig,
            ts: Timestamp(1),
            sink: &mut self.out,
            shared: &mut self.shared,
        };
        self.half.flush(&mut ctx);
        self.check();
    }

    /// The documented invariants of `HalfStream`, checked after every step.
    fn check(&self) {
        let h = &self.half;
        let mut prev_end = h.next;
        let mut held = 0;
        for (&k, c) in h.runs.map() {
            assert!(k > h.next, "chunk at {k} not after next {}", h.next);
            assert!(k >= prev_end, "chunks overlap at {k}");
            assert!(c.len() > 0, "empty chunk at {k}");
            prev_end = k + c.len();
            held += c.held();
        }
        assert_eq!(held, h.buffered());
        assert_eq!(self.shared.buffered_total, h.buffered());
        assert_eq!(h.runs.is_empty(), h.runs.map().is_empty(), "no empty map is kept");
        assert!(h.buffered() <= self.shared.limits.max_bytes_per_dir);
        assert!(h.runs.len() <= self.shared.limits.max_segments_per_dir);
        // The retained copy holds exactly the last delivered bytes, within its limit.
        let kept = h.retained.len();
        assert_eq!(self.shared.retained_total, kept);
        assert!(kept <= self.shared.limits.max_retained_per_dir);
        if kept > 0 {
            let tail = &self.out.data[self.out.data.len() - kept..];
            let at = h.next - kept as u64;
            let found = h.retained.compare(at, tail);
            assert!(found.complete && found.first_difference.is_none());
            let (off, run) = self.out.runs.last().unwrap();
            assert_eq!(off + run.len() as u64, h.next, "copy must end at next");
        }
    }
}

#[test]
fn in_order_segments_pass_straight_through() {
    let mut h = Harness::new(PLENTY, 10);
    h.seg(0, b"ab");
    h.seg(2, b"cd");
    assert_eq!(h.out.log, vec!["data ab", "data cd"]);
    assert!(h.half.runs.is_empty());
}

#[test]
fn held_runs_are_split_around_existing_ones() {
    let mut h = Harness::new(PLENTY, 10);
    h.seg(4, b"ef");
    h.seg(8, b"ij");
    h.seg(2, b"cdefghijkl");
    // "cd", "gh" and "kl" were added around the two runs already held.
    let keys: Vec<u64> = h.half.runs.map().keys().copied().collect();
    assert_eq!(keys, vec![2, 4, 6, 8, 10]);
    assert_eq!(h.half.buffered(), 10 + 5 * held::RUN_OVERHEAD);
    h.seg(0, b"ab");
    assert_eq!(h.out.data, b"abcdefghijkl");
    assert_eq!(h.shared.buffered_total, 0);
}

#[test]
fn fully_covered_out_of_order_segment_adds_nothing() {
    let mut h = Harness::new(PLENTY, 10);
    h.seg(4, b"efgh");
    h.seg(5, b"fg");
    assert_eq!(h.half.runs.len(), 1);
    assert_eq!(h.shared.stats.overlaps, 1);
    assert_eq!(h.shared.stats.out_of_order, 1);
}

#[test]
fn segment_bigger_than_the_whole_buffer_skips_ahead_and_goes_straight_out() {
    let mut h = Harness::new(4, 10);
    h.seg(3, b"0123456789");
    assert_eq!(
        h.out.log,
        vec![
            "gap 3",
            "BufferLimit { dir: FromOrig, dropped: 3 }",
            "data 0123456789"
        ]
    );
    assert_eq!(h.half.next, 13);
}

#[test]
fn zero_limits_turn_every_hole_into_a_gap_at_once() {
    let mut h = Harness::new(0, 0);
    h.seg(5, b"x");
    h.seg(3, b"lat");
    assert_eq!(h.out.data, b"x");
    assert_eq!(h.shared.stats.retransmissions, 1);
}

#[test]
fn fin_is_delivered_only_when_reached() {
    let mut h = Harness::new(PLENTY, 10);
    h.seg_full(3, b"de", 2, true);
    // FIN beyond a hole gives the hole up at once.
    assert_eq!(h.out.log, vec!["gap 3", "data de", "fin"]);
    // Data beyond the FIN is refused; a retransmitted FIN changes nothing.
    h.seg(5, b"zz");
    h.seg_full(3, b"de", 2, true);
    assert_eq!(h.out.log.len(), 4);
    assert_eq!(h.out.log[3], "DataAfterClose { dir: FromOrig }");
}

#[test]
fn fin_before_delivered_data_or_far_ahead_is_ignored() {
    let mut h = Harness::new(PLENTY, 10);
    h.seg(0, b"abcdef");
    h.seg_full(2, b"", 0, true);
    h.seg_full(0x0100_0000, b"", 0, true);
    assert_eq!(
        h.out.log,
        vec![
            "data abcdef",
            "FinIgnored { dir: FromOrig }",
            "FinIgnored { dir: FromOrig }"
        ]
    );
    assert!(!h.half.fin_seen());
    h.seg_full(6, b"", 0, true);
    assert_eq!(h.out.log.last().map(String::as_str), Some("fin"));
}

#[test]
fn fin_before_data_already_held_is_ignored() {
    let mut h = Harness::new(PLENTY, 10);
    h.seg(10, b"k");
    h.seg_full(5, b"", 0, true);
    h.ack(20);
    h.flush();
    // The receiver acknowledged 20 bytes and the capture showed 11: the last 9 were lost.
    assert_eq!(
        h.out.log,
        vec!["FinIgnored { dir: FromOrig }", "gap 10", "data k", "gap 9"]
    );
}

#[test]
fn ack_gaps_stop_at_the_data_seen() {
    let mut h = Harness::new(PLENTY, 10);
    h.seg(0, b"a");
    h.seg(5, b"f");
    h.ack(1000);
    assert_eq!(h.out.log, vec!["data a", "gap 4", "data f"]);
    assert_eq!(h.half.next, 6);
    // An ACK behind what was delivered is harmless.
    h.ack(2);
    assert_eq!(h.out.log.len(), 3);
}

#[test]
fn flush_reports_every_hole_and_a_pending_fin() {
    let mut h = Harness::new(PLENTY, 10);
    h.seg(2, b"c");
    h.seg(6, b"g");
    h.flush();
    assert_eq!(h.out.log, vec!["gap 2", "data c", "gap 3", "data g"]);
    assert_eq!(h.shared.stats.gaps, 2);
    assert_eq!(h.shared.stats.gap_bytes, 5);
}

#[test]
fn rst_is_believed_only_where_a_receiver_would_take_it() {
    let mut h = Harness::new(PLENTY, 10);
    h.seg(0, b"abc");
    // 103 is both the next expected byte and the sender's next new byte.
    assert_eq!(h.half.rst_verdict(SeqNum(103)), RstVerdict::Exact);
    // Inside the window but not at the next byte: RFC 5961 answers with a challenge ACK.
    assert_eq!(h.half.rst_verdict(SeqNum(100)), RstVerdict::InWindow);
    assert_eq!(h.half.rst_verdict(SeqNum(104)), RstVerdict::InWindow);
    assert_eq!(h.half.rst_verdict(SeqNum(103) + (1 << 20)), RstVerdict::InWindow);
    assert_eq!(h.half.rst_verdict(SeqNum(103) + (1 << 20) + 1), RstVerdict::Far);
    assert_eq!(h.half.rst_verdict(SeqNum(100) - (1 << 20) + 2), RstVerdict::Far);
    // Data held beyond a hole: the sender's next new byte is a position too.
    h.seg(10, b"xy");
    assert_eq!(h.half.rst_verdict(SeqNum(112)), RstVerdict::Exact);
    assert_eq!(h.half.rst_verdict(SeqNum(103)), RstVerdict::Exact);
    assert_eq!(h.half.rst_verdict(SeqNum(106)), RstVerdict::InWindow);
    assert_eq!(
        HalfStream::default().rst_verdict(SeqNum(12345)),
        RstVerdict::Exact,
        "unknown start: believe it"
    );
}

#[test]
fn paws_compares_in_wrapping_order_and_learns_only_from_in_order_segments() {
    let mut h = Harness::new(PLENTY, 10);
    assert!(!h.half.paws_rejects(Some(5)), "nothing learnt yet");
    h.half.note_tsval(SeqNum(100), Some(1000));
    assert!(h.half.paws_rejects(Some(999)));
    assert!(!h.half.paws_rejects(Some(1000)), "a duplicate carries the same stamp");
    assert!(!h.half.paws_rejects(None), "a segment without the option is not judged");
    // Ahead of the next expected byte: not learnt.
    h.half.note_tsval(SeqNum(150), Some(5000));
    assert!(!h.half.paws_rejects(Some(1500)));
    // An older stamp never moves TS.Recent back.
    h.half.note_tsval(SeqNum(100), Some(900));
    assert!(h.half.paws_rejects(Some(999)));
    // Across the 32-bit wrap, 3 is newer than u32::MAX - 2.
    let mut h = Harness::new(PLENTY, 10);
    h.half.note_tsval(SeqNum(100), Some(u32::MAX - 2));
    assert!(!h.half.paws_rejects(Some(3)));
    h.half.note_tsval(SeqNum(100), Some(3));
    assert!(h.half.paws_rejects(Some(u32::MAX - 2)));
}

/// Random segment sequences on one direction, checking the invariants after every step and
/// that the delivered bytes are a prefix-consistent copy of the stream.
#[test]
fn random_sequences_keep_invariants() {
    let stream: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..200 {
        let mut h = Harness::new(300 + 5 * held::RUN_OVERHEAD, 5);
        for _ in 0..60 {
            let start = (next() % 4000) as u32;
            let len = (next() % 120) as u32;
            let end = (start + len).min(4096);
            let bytes = &stream[start as usize..end as usize];
            match next() % 10 {
                0 => h.ack((next() % 4200) as u32),
                1 => h.seg_full(start, bytes, end - start + (next() % 5) as u32, false),
                _ => h.seg(start, bytes),
            }
        }
        h.flush();
        assert!(h.half.runs.is_empty());
        // Every delivered byte sits at its own offset of the stream.
        for (off, run) in &h.out.runs {
            let off = *off as usize;
            assert_eq!(
                stream.get(off..off + run.len()),
                Some(&run[..]),
                "run at {off}"
            );
        }
        assert!(h.out.data.len() <= 4096);
    }
}
