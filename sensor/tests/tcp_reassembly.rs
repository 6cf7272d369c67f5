//! Reassembly of one direction: ordering, retransmissions, overlaps, gaps and limits.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod tcp_common;

use apitap_sensor::flow::{FlowConfig, HELD_RUN_OVERHEAD};
use apitap_sensor::stream::{CloseReason, Dir, TcpEvent};
use tcp_common::{ack, bytes, d, handshake, pair, started, Pair, Piece, Run, CISN, SISN};


#[test]
fn out_of_order_waits_for_the_hole_then_goes_out_in_order() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 5, b"world"));
    assert!(run.rec.stream(0, Dir::FromOrig).is_empty());
    assert_eq!(run.table.buffered_bytes(), 5 + HELD_RUN_OVERHEAD);
    run.feed(&d(&p, 0, b"hello"));
    let data: Vec<_> = run
        .rec
        .events
        .iter()
        .filter_map(|e| match e {
            tcp_common::Ev::Data(0, Dir::FromOrig, b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(data, vec![b"hello".to_vec(), b"world".to_vec()]);
    // Both deliveries are stamped with the packet that made them deliverable.
    assert_eq!(run.rec.data_ts[0].2, run.rec.data_ts[1].2);
    assert_eq!(run.table.buffered_bytes(), 0);
    assert_eq!(run.table.stats().out_of_order, 1);
    run.finish();
}

#[test]
fn retransmission_is_dropped_and_partial_overlap_trimmed() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, b"hello"));
    run.feed(&d(&p, 0, b"hello"));
    run.feed(&d(&p, 3, b"loXYZ"));
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(b"helloXYZ")]);
    assert_eq!(run.table.stats().retransmissions, 1);
    assert_eq!(run.table.stats().overlaps, 1);
    assert!(run.rec.tcp_events(0).is_empty());
}

#[test]
fn overlap_with_the_same_bytes_is_silent() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 5, b"world"));
    run.feed(&d(&p, 0, b"hellowor"));
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(b"helloworld")]);
    assert_eq!(run.table.stats().overlaps, 1);
    assert_eq!(run.table.stats().overlap_mismatches, 0);
    assert!(run.rec.tcp_events(0).is_empty());
}

#[test]
fn overlap_with_different_bytes_keeps_the_first_copy_and_reports_it() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 5, b"world"));
    run.feed(&d(&p, 0, b"hellowXr"));
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(b"helloworld")]);
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromOrig,
            offset: 6,
            len: 3
        }]
    );
    assert_eq!(run.table.stats().overlap_mismatches, 1);
}

#[test]
fn out_of_order_segment_spanning_several_held_runs() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 2, b"cd"));
    run.feed(&d(&p, 6, b"gh"));
    // Covers both held runs (with different bytes in each) and the holes around them.
    run.feed(&d(&p, 1, b"bXdefYhi"));
    assert!(run.rec.stream(0, Dir::FromOrig).is_empty());
    run.feed(&d(&p, 0, b"a"));
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(b"abcdefghi")]);
    assert_eq!(
        run.rec.tcp_events(0),
        vec![
            TcpEvent::OverlapMismatch {
                dir: Dir::FromOrig,
                offset: 2,
                len: 2
            },
            TcpEvent::OverlapMismatch {
                dir: Dir::FromOrig,
                offset: 6,
                len: 2
            },
        ]
    );
}

#[test]
fn loss_is_reported_as_a_gap_when_the_receiver_acks_past_it() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, b"hello"));
    // Bytes 5..10 never make it into the capture.
    run.feed(&d(&p, 10, b"again"));
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(b"hello")]);
    run.feed(&ack(&p, 15));
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"hello"), Piece::Gap(5), bytes(b"again")]
    );
    assert_eq!(run.table.stats().gaps, 1);
    assert_eq!(run.table.stats().gap_bytes, 5);
    run.finish();
}

#[test]
fn ack_inside_a_hole_gives_up_only_the_acknowledged_part() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, b"hello"));
    run.feed(&d(&p, 10, b"again"));
    run.feed(&ack(&p, 7));
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"hello"), Piece::Gap(2)]
    );
    run.feed(&d(&p, 7, b"XYZ"));
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"hello"), Piece::Gap(2), bytes(b"XYZagain")]
    );
}

#[test]
fn ack_beyond_anything_captured_waits_for_data_behind_the_hole() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, b"hello"));
    run.feed(&ack(&p, 10));
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(b"hello")]);
    run.feed(&d(&p, 10, b"next"));
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"hello"), Piece::Gap(5), bytes(b"next")]
    );
    run.finish();
}

#[test]
fn snaplen_cut_delivers_what_was_captured_and_a_gap_for_the_rest() {
    let (p, mut run) = started(FlowConfig::default());
    let mut cut = d(&p, 0, b"abcd");
    cut.payload_len = 10;
    run.feed(&cut);
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"abcd"), Piece::Gap(6)]
    );
    run.feed(&d(&p, 10, b"xyz"));
    // A cut segment held out of order keeps its missing tail as a gap.
    let mut cut_ooo = d(&p, 18, b"uv");
    cut_ooo.payload_len = 5;
    run.feed(&cut_ooo);
    run.feed(&d(&p, 13, b"12345"));
    run.feed(&d(&p, 23, b"!"));
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![
            bytes(b"abcd"),
            Piece::Gap(6),
            bytes(b"xyz12345uv"),
            Piece::Gap(3),
            bytes(b"!")
        ]
    );
    assert_eq!(run.table.stats().truncated_segments, 2);
}

#[test]
fn fin_beyond_a_hole_gives_it_up_and_ends_the_direction() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, b"hello"));
    run.feed(&p.c(CISN + 11, SISN + 1, "FPA", b"bye"));
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"hello"), Piece::Gap(5), bytes(b"bye")]
    );
    assert_eq!(run.rec.fins(0), vec![Dir::FromOrig]);
    run.finish();
}

#[test]
fn byte_limit_gives_up_the_first_hole() {
    let cfg = FlowConfig {
        max_buffered_per_dir: 10 + 2 * HELD_RUN_OVERHEAD,
        ..FlowConfig::default()
    };
    let (p, mut run) = started(cfg);
    run.feed(&d(&p, 5, b"fghij"));
    run.feed(&d(&p, 10, b"klmno"));
    assert_eq!(run.table.buffered_bytes(), 10 + 2 * HELD_RUN_OVERHEAD);
    assert!(run.rec.stream(0, Dir::FromOrig).is_empty());
    run.feed(&d(&p, 15, b"pqrst"));
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![Piece::Gap(5), bytes(b"fghijklmnopqrst")]
    );
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::BufferLimit {
            dir: Dir::FromOrig,
            dropped: 5
        }]
    );
    assert_eq!(run.table.stats().buffer_limit_hits, 1);
    assert_eq!(run.table.buffered_bytes(), 0);
    run.finish();
}

#[test]
fn segment_count_limit_gives_up_the_first_hole() {
    let cfg = FlowConfig {
        max_segments_per_dir: 2,
        ..FlowConfig::default()
    };
    let (p, mut run) = started(cfg);
    run.feed(&d(&p, 2, b"c"));
    run.feed(&d(&p, 4, b"e"));
    run.feed(&d(&p, 6, b"g"));
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![Piece::Gap(2), bytes(b"c")]
    );
    assert!(run.table.max_buffered_segments() <= 2);
    run.feed(&d(&p, 3, b"d"));
    run.feed(&d(&p, 5, b"f"));
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![Piece::Gap(2), bytes(b"cdefg")]
    );
}

#[test]
fn table_wide_limit_makes_the_flow_that_goes_over_give_up_its_hole() {
    let cfg = FlowConfig {
        max_buffered_total: 8 + HELD_RUN_OVERHEAD,
        ..FlowConfig::default()
    };
    let a = pair();
    let b = Pair::new("192.168.1.11:40001", "192.168.1.20:80");
    let mut run = Run::new(cfg);
    run.feed_all(&handshake(&a));
    run.feed_all(&handshake(&b));
    run.feed(&d(&a, 4, b"123456"));
    run.feed(&d(&b, 2, b"abcde"));
    assert_eq!(
        run.rec.stream(1, Dir::FromOrig),
        vec![Piece::Gap(2), bytes(b"abcde")]
    );
    assert_eq!(
        run.rec.tcp_events(1),
        vec![TcpEvent::BufferLimit {
            dir: Dir::FromOrig,
            dropped: 2
        }]
    );
    assert!(
        run.rec.stream(0, Dir::FromOrig).is_empty(),
        "the other flow keeps its hole"
    );
    assert_eq!(run.table.buffered_bytes(), 6 + HELD_RUN_OVERHEAD);
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![Piece::Gap(4), bytes(b"123456")]
    );
}

#[test]
fn sequence_numbers_wrapping_past_2_pow_32() {
    let p = pair();
    let isn = u32::MAX - 3;
    let mut run = Run::default_cfg();
    run.feed(&p.c(isn, 0, "S", b""));
    run.feed(&p.s(SISN, isn.wrapping_add(1), "SA", b""));
    let at = |off: u32| isn.wrapping_add(1).wrapping_add(off);
    // Out of order across the wrap: offsets 6.. sit after 2^32, 0..6 straddle it.
    run.feed(&p.c(at(6), SISN + 1, "PA", b"ghij"));
    run.feed(&p.c(at(0), SISN + 1, "PA", b"abcdef"));
    // Loss after the wrap, given up by the server's ACK.
    run.feed(&p.c(at(14), SISN + 1, "PA", b"xy"));
    run.feed(&p.s(SISN + 1, at(16), "A", b""));
    run.feed(&p.c(at(16), SISN + 1, "FA", b""));
    run.finish();
    assert_eq!(at(0), u32::MAX - 2);
    assert_eq!(at(6), 3);
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"abcdefghij"), Piece::Gap(4), bytes(b"xy")]
    );
    assert_eq!(run.rec.fins(0), vec![Dir::FromOrig]);
}

#[test]
fn one_sided_capture_gives_up_a_hole_once_enough_waits_behind_it() {
    let cfg = FlowConfig {
        max_above_hole_without_acks: 100,
        ..FlowConfig::default()
    };
    let p = pair();
    let mut run = Run::new(cfg);
    // Only the client's side of the link is mirrored: no ACK from the server ever shows up.
    run.feed(&p.c(5000, 1, "PA", &[b'a'; 50]));
    run.feed(&p.c(5060, 1, "PA", &[b'b'; 60]));
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(&[b'a'; 50])]);
    run.feed(&p.c(5120, 1, "PA", &[b'c'; 60]));
    let mut behind = vec![b'b'; 60];
    behind.extend_from_slice(&[b'c'; 60]);
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(&[b'a'; 50]), Piece::Gap(10), Piece::Bytes(behind)]
    );
    run.finish();
}

#[test]
fn with_acks_seen_the_same_hole_waits() {
    let cfg = FlowConfig {
        max_above_hole_without_acks: 100,
        ..FlowConfig::default()
    };
    let p = pair();
    let mut run = Run::new(cfg);
    run.feed(&p.c(5000, 1, "PA", &[b'a'; 50]));
    run.feed(&p.s(1, 5050, "A", b""));
    run.feed(&p.c(5060, 1, "PA", &[b'b'; 60]));
    run.feed(&p.c(5120, 1, "PA", &[b'c'; 60]));
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(&[b'a'; 50])]);
    // The missing bytes arrive late and everything goes out intact.
    run.feed(&p.c(5050, 1, "PA", &[b'z'; 10]));
    run.finish();
    let stream = run.rec.bytes(0, Dir::FromOrig);
    assert_eq!(stream.len(), 180);
    assert_eq!(run.table.stats().gaps, 0);
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::EndOfInput)]);
}

