//! Property tests with a deterministic generator: whole conversations with reordering,
//! retransmission, overlap, loss and snaplen cuts must come out as the original streams (with
//! gaps exactly where bytes were lost), and random hostile segment soups must never panic,
//! break the sink protocol or outgrow the limits.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod tcp_common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use apitap_sensor::flow::{FlowConfig, FlowStats, FlowTable};
use apitap_sensor::packet::{TcpFlags, TcpSegment, Timestamp};
use apitap_sensor::stream::{CloseReason, Dir, TcpEvent};
use tcp_common::{segment, Pair, Piece, Rec};

/// xorshift64*: small, deterministic, good enough to shake the state machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One data segment of a generated direction: stream range, and how the capture treats it.
#[derive(Clone, Debug)]
struct Planned {
    start: usize,
    end: usize,
    /// Never reaches the capture (the receiver still gets it).
    lost: bool,
    /// Captured bytes when cut by the snaplen.
    cut: Option<usize>,
}

struct Side {
    data: Vec<u8>,
    isn: u32,
    plan: Vec<Planned>,
}

fn plan_side(rng: &mut Rng, lossy: bool) -> Side {
    let n = rng.range(0, 6000) as usize;
    let data = rng.bytes(n);
    let isn = if rng.chance(50) {
        u32::MAX - rng.below(4000) as u32
    } else {
        rng.next() as u32
    };
    let mut plan = Vec::new();
    let mut pos = 0;
    while pos < n {
        let len = (rng.range(1, 300) as usize).min(n - pos);
        plan.push(Planned {
            start: pos,
            end: pos + len,
            lost: false,
            cut: None,
        });
        pos += len;
        if rng.chance(15) {
            // A retransmission of some earlier range, re-segmented differently.
            let a = rng.below(pos as u64) as usize;
            let b = (a + rng.range(1, 400) as usize).min(pos);
            plan.push(Planned {
                start: a,
                end: b,
                lost: false,
                cut: None,
            });
        }
    }
    // Local reordering: swap neighbours a few places apart.
    for i in 0..plan.len() {
        if rng.chance(20) {
            let j = (i + rng.range(1, 4) as usize).min(plan.len() - 1);
            plan.swap(i, j);
        }
    }
    if lossy {
        for p in &mut plan {
            if rng.chance(8) {
                p.lost = true;
            } else if rng.chance(4) {
                p.cut = Some(rng.below((p.end - p.start) as u64) as usize);
            }
        }
    }
    Side { data, isn, plan }
}

/// Stream offsets below which every byte of `side` has been sent (captured or lost), given the
/// first `sent` planned segments.
fn contiguous(side: &Side, sent: usize) -> usize {
    let mut ranges: Vec<(usize, usize)> = side
        .plan
        .iter()
        .take(sent)
        .map(|p| (p.start, p.end))
        .collect();
    ranges.sort_unstable();
    let mut end = 0;
    for (a, b) in ranges {
        if a > end {
            break;
        }
        end = end.max(b);
    }
    end
}

/// Checks that `pieces` lay the original bytes out exactly, gaps included, up to `len`.
fn assert_matches_original(pieces: &[Piece], original: &[u8], what: &str) {
    let mut off = 0usize;
    for piece in pieces {
        match piece {
            Piece::Bytes(b) => {
                assert_eq!(
                    original.get(off..off + b.len()),
                    Some(&b[..]),
                    "{what}: bytes at offset {off} differ"
                );
                off += b.len();
            }
            Piece::Gap(g) => off += *g as usize,
        }
    }
    assert_eq!(off, original.len(), "{what}: stream length");
}

fn conversation(seed: u64, lossy: bool) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let pair = Pair::new("10.9.0.1:45678", "10.9.0.2:443");
    let sides = [plan_side(&mut rng, lossy), plan_side(&mut rng, lossy)];
    let mut table = FlowTable::new(FlowConfig::default());
    let mut rec = Rec::default();
    let mut now = Timestamp::from_parts(1_600_000_000, 0);
    let mut feed = |table: &mut FlowTable, rec: &mut Rec, seg: &TcpSegment<'_>| {
        now = now.plus_nanos(100_000);
        table.handle_segment(now, seg, rec);
    };
    let (c, s) = (&sides[0], &sides[1]);
    feed(&mut table, &mut rec, &pair.c(c.isn, 0, "S", b""));
    feed(
        &mut table,
        &mut rec,
        &pair.s(s.isn, c.isn.wrapping_add(1), "SA", b""),
    );
    feed(
        &mut table,
        &mut rec,
        &pair.c(c.isn.wrapping_add(1), s.isn.wrapping_add(1), "A", b""),
    );

    // Interleave the two directions; each segment acknowledges what the other side has sent
    // contiguously so far, as its receiver would.
    let mut sent = [0usize, 0usize];
    while sent[0] < sides[0].plan.len() || sent[1] < sides[1].plan.len() {
        let d = if sent[0] == sides[0].plan.len() {
            1
        } else if sent[1] == sides[1].plan.len() {
            0
        } else {
            rng.below(2) as usize
        };
        let side = &sides[d];
        let peer = &sides[1 - d];
        let p = side.plan[sent[d]].clone();
        sent[d] += 1;
        if p.lost {
            continue;
        }
        let seq = side.isn.wrapping_add(1).wrapping_add(p.start as u32);
        let ack = peer
            .isn
            .wrapping_add(1)
            .wrapping_add(contiguous(peer, sent[1 - d]) as u32);
        let bytes = &side.data[p.start..p.end];
        let captured = &bytes[..p.cut.unwrap_or(bytes.len())];
        let mut seg = if d == 0 {
            pair.c(seq, ack, "PA", captured)
        } else {
            pair.s(seq, ack, "PA", captured)
        };
        seg.payload_len = bytes.len() as u32;
        feed(&mut table, &mut rec, &seg);
    }
    let fin = |side: &Side| {
        side.isn
            .wrapping_add(1)
            .wrapping_add(side.data.len() as u32)
    };
    feed(&mut table, &mut rec, &pair.c(fin(c), fin(s), "FA", b""));
    feed(
        &mut table,
        &mut rec,
        &pair.s(fin(s), fin(c).wrapping_add(1), "FA", b""),
    );
    feed(
        &mut table,
        &mut rec,
        &pair.c(fin(c).wrapping_add(1), fin(s).wrapping_add(1), "A", b""),
    );
    table.finish(now.plus_nanos(1), &mut rec);
    rec.check_protocol();

    let what = format!("seed {seed} lossy {lossy}");
    assert_eq!(rec.opens(), vec![0], "{what}");
    assert_eq!(rec.closes(), vec![(0, CloseReason::Fin)], "{what}");
    assert_eq!(rec.fins(0), vec![Dir::FromOrig, Dir::FromResp], "{what}");
    for (dir, side) in [(Dir::FromOrig, c), (Dir::FromResp, s)] {
        let stream = rec.stream(0, dir);
        assert_matches_original(&stream, &side.data, &what);
        if !lossy {
            let whole: Vec<Piece> = if side.data.is_empty() {
                vec![]
            } else {
                vec![Piece::Bytes(side.data.clone())]
            };
            assert_eq!(stream, whole, "{what}: {dir:?} must come out whole");
        }
    }
    if !lossy {
        assert_eq!(table.stats().gaps, 0, "{what}");
    }
    // Every copy on the wire carries the original bytes (a cut only shortens it), so no
    // comparison may find a difference.
    assert_eq!(table.stats().overlap_mismatches, 0, "{what}");
    assert_eq!(table.buffered_bytes(), 0, "{what}");
    assert_eq!(table.retained_bytes(), 0, "{what}");
}

#[test]
fn conversations_without_loss_come_out_whole() {
    for seed in 0..300 {
        conversation(seed, false);
    }
}

#[test]
fn conversations_with_loss_and_cuts_keep_every_byte_in_place() {
    for seed in 1000..1300 {
        conversation(seed, true);
    }
}

/// Regression for retransmissions of delivered bytes going uncompared. One direction is sent
/// in order while the receiver acknowledges late and at random; retransmissions of random
/// earlier ranges follow, half of them with one byte changed. Against a model of what is still
/// retained (not acknowledged, and among the newest `max_retained_per_dir` bytes): every changed
/// retained byte is reported at its offset with the length compared, every retransmission
/// reaching below the retained range is counted as unchecked, limit hits are counted exactly,
/// keep-alive probes sent once everything is acknowledged are counted and never reported, and
/// the delivered stream is always the first copy.
fn tampering(seed: u64) -> [u64; 4] {
    let mut rng = Rng(seed.wrapping_mul(0xA076_1D64_78BD_642F) | 1);
    let pair = Pair::new("10.7.0.1:50000", "10.7.0.2:80");
    let per_dir = rng.range(100, 2000) as usize;
    let cfg = FlowConfig {
        max_retained_per_dir: per_dir,
        ..FlowConfig::default()
    };
    let n = rng.range(500, 6000) as usize;
    let data = rng.bytes(n);
    let (cisn, sisn) = (rng.next() as u32, rng.next() as u32);
    let at = |off: usize| cisn.wrapping_add(1).wrapping_add(off as u32);
    let server_ack = |off: usize| pair.s(sisn.wrapping_add(1), at(off), "A", b"");
    let mut table = FlowTable::new(cfg);
    let mut rec = Rec::default();
    let mut now = Timestamp::from_parts(1_650_000_000, 0);
    let mut feed = |table: &mut FlowTable, rec: &mut Rec, seg: &TcpSegment<'_>| {
        now = now.plus_nanos(50_000);
        table.handle_segment(now, seg, rec);
    };
    feed(&mut table, &mut rec, &pair.c(cisn, 0, "S", b""));
    feed(&mut table, &mut rec, &pair.s(sisn, at(0), "SA", b""));

    // The model: bytes [kept_from, sent) are retained.
    let (mut sent, mut acked, mut kept_from) = (0usize, 0usize, 0usize);
    let mut expected = Vec::new();
    let (mut unchecked, mut hits, mut resent, mut keepalives) = (0u64, 0u64, 0u64, 0u64);
    while sent < data.len() {
        let len = (rng.range(1, 300) as usize).min(data.len() - sent);
        let seg = pair.c(
            at(sent),
            sisn.wrapping_add(1),
            "PA",
            &data[sent..sent + len],
        );
        feed(&mut table, &mut rec, &seg);
        sent += len;
        if sent - kept_from > per_dir {
            hits += 1;
            kept_from = sent - per_dir;
        }
        if rng.chance(30) {
            acked = rng.range(acked as u64, sent as u64) as usize;
            kept_from = kept_from.max(acked);
            feed(&mut table, &mut rec, &server_ack(acked));
        }
        if rng.chance(5) {
            // The receiver catches up and the sender goes idle: a keep-alive probe follows, one
            // filler byte at the last offset sent.
            acked = sent;
            kept_from = sent;
            feed(&mut table, &mut rec, &server_ack(sent));
            let filler = [rng.next() as u8];
            feed(
                &mut table,
                &mut rec,
                &pair.c(at(sent - 1), sisn.wrapping_add(1), "A", &filler),
            );
            keepalives += 1;
        }
        if rng.chance(40) {
            let a = rng.below(sent as u64) as usize;
            let b = (a + rng.range(1, 300) as usize).min(sent);
            let mut copy = data[a..b].to_vec();
            let changed = rng.chance(50).then(|| {
                let i = rng.range(a as u64, b as u64 - 1) as usize;
                copy[i - a] ^= 1 + rng.below(255) as u8;
                i
            });
            // One byte just before the next new one, with everything acknowledged, is exactly
            // what a keep-alive probe looks like: counted, never compared.
            if b - a == 1 && b == sent && acked == sent {
                keepalives += 1;
            } else {
                if a < kept_from {
                    unchecked += 1;
                }
                if let Some(i) = changed.filter(|i| *i >= kept_from) {
                    expected.push(TcpEvent::OverlapMismatch {
                        dir: Dir::FromOrig,
                        offset: i as u64,
                        len: (b - a.max(kept_from)) as u32,
                    });
                }
                resent += 1;
            }
            feed(
                &mut table,
                &mut rec,
                &pair.c(at(a), sisn.wrapping_add(1), "PA", &copy),
            );
        }
        assert_eq!(table.retained_bytes(), sent - kept_from, "seed {seed}");
    }
    table.finish(now.plus_nanos(1), &mut rec);
    rec.check_protocol();
    assert_eq!(
        rec.stream(0, Dir::FromOrig),
        vec![Piece::Bytes(data.clone())],
        "seed {seed}"
    );
    assert_eq!(rec.tcp_events(0), expected, "seed {seed}");
    let stats = table.stats();
    assert_eq!(
        stats.overlap_mismatches,
        expected.len() as u64,
        "seed {seed}"
    );
    assert_eq!(stats.retransmissions, resent, "seed {seed}");
    assert_eq!(stats.keepalives, keepalives, "seed {seed}");
    assert_eq!(stats.retransmissions_unchecked, unchecked, "seed {seed}");
    assert_eq!(stats.retained_limit_hits, hits, "seed {seed}");
    assert_eq!(table.retained_bytes(), 0, "seed {seed}");
    [expected.len() as u64, unchecked, hits, keepalives]
}

#[test]
fn changed_retransmissions_of_retained_bytes_are_always_reported() {
    let mut reached = [0u64; 4];
    for seed in 0..300 {
        for (total, n) in reached.iter_mut().zip(tampering(seed)) {
            *total += n;
        }
    }
    // Reports, unchecked copies, limit hits and probes must all occur, or the model proves
    // little.
    assert!(reached.iter().all(|n| *n > 0), "{reached:?}");
}

/// Random segments between a few endpoints: any flags, any sequence numbers, cut and padded
/// payloads, time jumping both ways, timeouts at random.
fn soup(seed: u64) -> FlowStats {
    let mut rng = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
    let cfg = FlowConfig {
        max_flows: 3,
        max_buffered_per_dir: 700,
        max_segments_per_dir: 6,
        max_buffered_total: 1500,
        max_above_hole_without_acks: if rng.chance(50) { 0 } else { 300 },
        max_retained_per_dir: 500,
        max_retained_total: 900,
        idle_timeout: 5_000_000_000,
        handshake_timeout: 1_000_000_000,
        closed_linger: 500_000_000,
        split_by_vlan: rng.chance(30),
        ..FlowConfig::default()
    };
    let hosts: Vec<SocketAddr> = [
        "10.0.0.1:80",
        "10.0.0.2:40000",
        "10.0.0.3:40001",
        "10.0.0.1:8080",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let mut table = FlowTable::new(cfg.clone());
    let mut rec = Rec::default();
    let mut now = Timestamp::from_parts(1_500_000_000, 0);
    // Per sending endpoint pair: distinct sequence positions carrying captured bytes, and the
    // total captured bytes, to bound what any connection may deliver.
    let mut positions: HashMap<(SocketAddr, SocketAddr), HashSet<u32>> = HashMap::new();
    let mut bases: Vec<u32> = (0..4).map(|_| rng.next() as u32).collect();
    bases.push(u32::MAX - 100);
    let payload_pool = rng.bytes(2048);
    // Per sending endpoint pair: where its last data segment ended, to aim keep-alive probes.
    let mut last_end: HashMap<(SocketAddr, SocketAddr), u32> = HashMap::new();
    let steps = rng.range(50, 400);
    for _ in 0..steps {
        let a = hosts[rng.below(hosts.len() as u64) as usize];
        let mut b = hosts[rng.below(hosts.len() as u64) as usize];
        if rng.chance(90) && a == b {
            b = hosts[(hosts.iter().position(|h| *h == a).unwrap() + 1) % hosts.len()];
        }
        let base = bases[rng.below(bases.len() as u64) as usize];
        let seq = if rng.chance(10) {
            rng.next() as u32
        } else {
            base.wrapping_add(rng.below(3000) as u32)
        };
        let ack = if rng.chance(20) {
            rng.next() as u32
        } else {
            bases[rng.below(bases.len() as u64) as usize].wrapping_add(rng.below(3000) as u32)
        };
        let len = if rng.chance(30) {
            0
        } else {
            rng.range(1, 400) as usize
        };
        // Now and then a probe-shaped segment: at most one byte, one before the sender's end.
        let probe = rng.chance(5);
        let (seq, len) = match last_end.get(&(a, b)) {
            Some(end) if probe => (end.wrapping_sub(1), rng.below(2) as usize),
            _ => (seq, len),
        };
        let from = rng.below((payload_pool.len() - len) as u64) as usize;
        let wire = &payload_pool[from..from + len];
        let captured_len = if rng.chance(10) {
            rng.below(len as u64 + 1) as usize
        } else {
            len
        };
        let captured = &wire[..captured_len];
        let mut flags = String::new();
        for (letter, pct) in [('S', 12), ('A', 70), ('F', 8), ('R', 5), ('P', 30)] {
            if rng.chance(pct) {
                flags.push(letter);
            }
        }
        if probe {
            flags = "A".to_string();
        }
        let mut seg = segment(a, b, seq, ack, &flags, captured);
        // Timestamps on some segments, from a small range so that some go backwards (PAWS).
        if rng.chance(40) {
            seg.tsval = Some(rng.below(64) as u32);
        }
        seg.payload_len = if rng.chance(5) {
            (len as u32).saturating_sub(rng.below(3) as u32)
        } else {
            len as u32
        };
        if rng.chance(20) {
            seg.vlans = [Some(rng.range(1, 3) as u16), None];
        }
        let counted = captured_len.min(seg.payload_len as usize);
        let set = positions.entry((a, b)).or_default();
        let first = if seg.flags.syn {
            seq.wrapping_add(1)
        } else {
            seq
        };
        for i in 0..counted as u32 {
            set.insert(first.wrapping_add(i));
        }
        if !probe && len > 0 {
            last_end.insert((a, b), first.wrapping_add(len as u32));
        }
        now = match rng.below(10) {
            0 => Timestamp(now.0.saturating_sub(rng.below(2_000_000_000))),
            1 => now.plus_nanos(rng.below(8_000_000_000)),
            _ => now.plus_nanos(rng.below(10_000_000)),
        };
        table.handle_segment(now, &seg, &mut rec);
        if rng.chance(10) {
            table.handle_timeout(now, &mut rec);
        }
        assert!(
            table.len() <= cfg.max_flows,
            "seed {seed}: table over max_flows"
        );
        assert!(
            table.buffered_bytes() <= cfg.max_buffered_total,
            "seed {seed}: total buffer over limit"
        );
        assert!(
            table.max_buffered_per_conn() <= 2 * cfg.max_buffered_per_dir,
            "seed {seed}: conn buffer over limit"
        );
        assert!(
            table.max_buffered_segments() <= cfg.max_segments_per_dir,
            "seed {seed}: too many held runs"
        );
        assert!(
            table.retained_bytes() <= cfg.max_retained_total,
            "seed {seed}: retained copies over the table limit"
        );
        assert!(
            table.max_retained_per_dir() <= cfg.max_retained_per_dir,
            "seed {seed}: retained copy over the direction limit"
        );
        if table.is_empty() {
            assert_eq!(
                table.retained_bytes(),
                0,
                "seed {seed}: copy outlived its flow"
            );
        }
    }
    table.finish(now, &mut rec);
    rec.check_protocol();
    assert!(table.is_empty());
    assert_eq!(table.buffered_bytes(), 0);
    assert_eq!(
        table.retained_bytes(),
        0,
        "seed {seed}: copies left after finish"
    );
    assert_eq!(
        rec.opens().len(),
        rec.closes().len(),
        "seed {seed}: every open is closed"
    );
    let stats = table.stats();
    assert_eq!(stats.flows_opened, stats.flows_closed);
    assert_eq!(
        stats.flows_closed,
        stats.closed_fin
            + stats.closed_reset
            + stats.idle_expired
            + stats.evicted
            + stats.closed_end_of_input
    );
    for (id, info) in &rec.infos {
        for (dir, from, to) in [
            (Dir::FromOrig, info.orig(), info.resp()),
            (Dir::FromResp, info.resp(), info.orig()),
        ] {
            let delivered = rec.bytes(*id, dir).len();
            let distinct = positions.get(&(from, to)).map_or(0, HashSet::len);
            assert!(
                delivered <= distinct,
                "seed {seed}: conn {id} {dir:?} delivered {delivered} > {distinct} distinct bytes"
            );
        }
    }
    let delivered: usize = rec
        .infos
        .keys()
        .map(|id| rec.bytes(*id, Dir::FromOrig).len() + rec.bytes(*id, Dir::FromResp).len())
        .sum();
    assert_eq!(delivered as u64, stats.bytes_delivered);
    stats.clone()
}

#[test]
fn hostile_segment_soup_never_panics_and_stays_bounded() {
    let mut total = FlowStats::default();
    for seed in 0..400 {
        let s = soup(seed);
        for (name, value) in s.counters() {
            let sum = total
                .counters()
                .into_iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, v)| v)
                + value;
            set_counter(&mut total, name, sum);
        }
    }
    // The soup must reach every interesting state, or the test above proves little.
    for name in [
        "bytes_delivered",
        "gaps",
        "overlaps",
        "overlap_mismatches",
        "retransmissions",
        "retransmissions_unchecked",
        "keepalives",
        "retained_limit_hits",
        "out_of_order",
        "buffer_limit_hits",
        "data_after_close",
        "port_reuse",
        "closed_fin",
        "closed_reset",
        "idle_expired",
        "evicted",
        "resets_ignored",
        "resets_in_window",
        "paws_rejected",
        "fins_ignored",
        "truncated_segments",
        "stray_resets",
    ] {
        let v = total
            .counters()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| v);
        assert!(v > 0, "the soup never produced {name}: {total:?}");
    }
}

fn set_counter(stats: &mut FlowStats, name: &str, value: u64) {
    let field = match name {
        "segments" => &mut stats.segments,
        "flows_opened" => &mut stats.flows_opened,
        "flows_closed" => &mut stats.flows_closed,
        "closed_fin" => &mut stats.closed_fin,
        "closed_reset" => &mut stats.closed_reset,
        "idle_expired" => &mut stats.idle_expired,
        "evicted" => &mut stats.evicted,
        "closed_end_of_input" => &mut stats.closed_end_of_input,
        "linger_cut_short" => &mut stats.linger_cut_short,
        "port_reuse" => &mut stats.port_reuse,
        "stray_resets" => &mut stats.stray_resets,
        "resets_ignored" => &mut stats.resets_ignored,
        "resets_in_window" => &mut stats.resets_in_window,
        "paws_rejected" => &mut stats.paws_rejected,
        "paws_resyncs" => &mut stats.paws_resyncs,
        "fins_ignored" => &mut stats.fins_ignored,
        "truncated_segments" => &mut stats.truncated_segments,
        "bytes_delivered" => &mut stats.bytes_delivered,
        "gaps" => &mut stats.gaps,
        "gap_bytes" => &mut stats.gap_bytes,
        "overlaps" => &mut stats.overlaps,
        "overlap_mismatches" => &mut stats.overlap_mismatches,
        "keepalives" => &mut stats.keepalives,
        "retransmissions" => &mut stats.retransmissions,
        "retransmissions_unchecked" => &mut stats.retransmissions_unchecked,
        "retained_limit_hits" => &mut stats.retained_limit_hits,
        "out_of_order" => &mut stats.out_of_order,
        "buffer_limit_hits" => &mut stats.buffer_limit_hits,
        "data_after_close" => &mut stats.data_after_close,
        other => panic!("unknown counter {other}"),
    };
    *field = value;
}

#[test]
fn flag_letters_map_to_flags() {
    // The builder maps letters to flags; a wrong mapping would make every scenario meaningless.
    let a: SocketAddr = "1.1.1.1:1".parse().unwrap();
    let s = segment(a, a, 0, 0, "SAFRP", b"");
    assert_eq!(
        s.flags,
        TcpFlags {
            syn: true,
            ack: true,
            fin: true,
            rst: true,
            psh: true
        }
    );
    let s = segment(a, a, 0, 0, "", b"");
    assert_eq!(s.flags, TcpFlags::default());
}
