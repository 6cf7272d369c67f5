//! Retained copies of delivered bytes: retransmissions compared with them, their limits and
//! keep-alive probes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod tcp_common;

use apitap_sensor::flow::FlowConfig;
use apitap_sensor::packet::TcpSegment;
use apitap_sensor::stream::{Dir, TcpEvent};
use tcp_common::{ack, bytes, d, handshake, pair, started, Pair, Piece, Run, CISN, SISN};



// Retransmissions of bytes already delivered. Regression: such a retransmission used to be
// dropped without comparing it, so `GET /first` followed by `GET /evil?` at the same sequence
// numbers went unreported.

/// A client request at offset 0, delivered at once.
const FIRST: &[u8] = b"GET /first";

#[test]
fn retransmission_of_delivered_bytes_with_the_same_content_is_silent() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, FIRST));
    assert_eq!(run.table.retained_bytes(), FIRST.len());
    run.feed(&d(&p, 0, FIRST));
    run.feed(&d(&p, 4, b"/fir"));
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(FIRST)]);
    assert!(run.rec.tcp_events(0).is_empty());
    let stats = run.table.stats();
    assert_eq!(stats.retransmissions, 2);
    assert_eq!(stats.retransmissions_unchecked, 0);
    assert_eq!(stats.overlap_mismatches, 0);
}

#[test]
fn retransmission_of_delivered_bytes_with_different_content_is_reported_and_dropped() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, FIRST));
    run.feed(&d(&p, 0, b"GET /evil?"));
    run.feed(&d(&p, 10, b" HTTP/1.1"));
    run.finish();
    // The first copy is what the application layer got, and nothing was delivered twice.
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"GET /first HTTP/1.1")]
    );
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromOrig,
            offset: 5,
            len: 10
        }]
    );
    let stats = run.table.stats();
    assert_eq!(stats.overlap_mismatches, 1);
    assert_eq!(stats.retransmissions, 1);
    assert_eq!(stats.retransmissions_unchecked, 0);
}

#[test]
fn segment_reaching_back_into_delivered_bytes_is_compared_and_its_new_bytes_go_out() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, FIRST));
    // Offsets 6..10 repeat "irst" as "XrsX"; 10..14 are new.
    run.feed(&d(&p, 6, b"XrsX!new"));
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"GET /first!new")]
    );
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromOrig,
            offset: 6,
            len: 4
        }]
    );
    assert_eq!(run.table.stats().overlaps, 1);
}

#[test]
fn server_to_client_retransmissions_are_compared_too() {
    let (p, mut run) = started(FlowConfig::default());
    let resp = b"HTTP/1.1 200 OK\r\n";
    run.feed(&p.s(SISN + 1, CISN + 1, "PA", resp));
    run.feed(&p.s(SISN + 1, CISN + 1, "PA", b"HTTP/1.1 403 No\r\n"));
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromResp), vec![bytes(resp)]);
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromResp,
            offset: 9,
            len: resp.len() as u32
        }]
    );
}

#[test]
fn acknowledged_bytes_are_released_and_later_copies_of_them_go_unchecked() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, FIRST));
    assert_eq!(run.table.retained_bytes(), 10);
    run.feed(&ack(&p, 4));
    assert_eq!(
        run.table.retained_bytes(),
        6,
        "only the acknowledged front goes"
    );
    assert_eq!(run.table.max_retained_per_dir(), 6);
    // A copy straddling the acknowledged point is compared where it can be.
    run.feed(&d(&p, 2, b"T /fXrst"));
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromOrig,
            offset: 6,
            len: 6
        }]
    );
    assert_eq!(run.table.stats().retransmissions_unchecked, 1);
    run.feed(&ack(&p, 10));
    assert_eq!(run.table.retained_bytes(), 0);
    // The receiver has the bytes and would drop this copy; the sensor cannot check it.
    run.feed(&d(&p, 0, b"GET /evil?"));
    assert_eq!(run.rec.tcp_events(0).len(), 1);
    let stats = run.table.stats();
    assert_eq!(stats.retransmissions_unchecked, 2);
    assert_eq!(stats.retransmissions, 2);
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(FIRST)]);
}

#[test]
fn ack_far_beyond_the_data_seen_does_not_release_the_copy() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, FIRST));
    run.feed(&ack(&p, 10 + (1 << 21)));
    assert_eq!(run.table.retained_bytes(), 10);
    run.feed(&d(&p, 0, b"GET /evil?"));
    assert_eq!(run.table.stats().overlap_mismatches, 1);
    run.finish();
}

#[test]
fn gap_drops_the_copy_of_the_bytes_before_it() {
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, b"hello"));
    // Cut by the snaplen: "ab" is delivered, the 3 bytes after it are a gap. No ACK is seen.
    let mut cut = d(&p, 5, b"ab");
    cut.payload_len = 5;
    run.feed(&cut);
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"helloab"), Piece::Gap(3)]
    );
    assert_eq!(run.table.retained_bytes(), 0);
    run.feed(&d(&p, 10, b"next"));
    assert_eq!(run.table.retained_bytes(), 4);
    // Bytes before the gap can no longer be checked; bytes after it can.
    run.feed(&d(&p, 0, b"jello"));
    assert!(run.rec.tcp_events(0).is_empty());
    assert_eq!(run.table.stats().retransmissions_unchecked, 1);
    run.feed(&d(&p, 10, b"nExt"));
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromOrig,
            offset: 11,
            len: 4
        }]
    );
    run.finish();
}

#[test]
fn copies_are_given_back_when_connections_reset_or_close() {
    let a = pair();
    let b = Pair::new("192.168.1.11:40001", "192.168.1.20:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&a));
    run.feed_all(&handshake(&b));
    run.feed(&d(&a, 0, FIRST));
    run.feed(&d(&b, 0, b"GET /other"));
    run.feed(&p_s_data(&b, b"HTTP/1.1 200"));
    assert_eq!(run.table.retained_bytes(), 32);
    run.feed(&a.c(CISN + 11, SISN + 1, "R", b""));
    assert_eq!(
        run.table.retained_bytes(),
        22,
        "a RST ends the connection's copies"
    );
    run.finish();
    assert_eq!(run.table.retained_bytes(), 0);
}

/// Server data at its first offset.
fn p_s_data<'a>(p: &Pair, bytes: &'a [u8]) -> TcpSegment<'a> {
    p.s(SISN + 1, CISN + 1, "PA", bytes)
}

#[test]
fn per_direction_retention_limit_keeps_the_newest_bytes() {
    let cfg = FlowConfig {
        max_retained_per_dir: 6,
        ..FlowConfig::default()
    };
    let (p, mut run) = started(cfg);
    run.feed(&d(&p, 0, FIRST));
    assert_eq!(run.table.retained_bytes(), 6);
    assert_eq!(run.table.stats().retained_limit_hits, 1);
    // Offset 0 was pushed out: a different copy of it cannot be checked.
    run.feed(&d(&p, 0, b"P"));
    assert!(run.rec.tcp_events(0).is_empty());
    assert_eq!(run.table.stats().retransmissions_unchecked, 1);
    // Offsets 4..10 are still held.
    run.feed(&d(&p, 8, b"sT"));
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromOrig,
            offset: 9,
            len: 2
        }]
    );
    run.feed(&d(&p, 10, b"!"));
    assert_eq!(run.table.stats().retained_limit_hits, 2);
    assert_eq!(run.table.max_retained_per_dir(), 6);
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"GET /first!")]
    );
}

#[test]
fn table_retention_limit_leaves_other_connections_their_copies() {
    let cfg = FlowConfig {
        max_retained_total: 12,
        ..FlowConfig::default()
    };
    let a = pair();
    let b = Pair::new("192.168.1.11:40001", "192.168.1.20:80");
    let mut run = Run::new(cfg);
    run.feed_all(&handshake(&a));
    run.feed_all(&handshake(&b));
    run.feed(&d(&a, 0, b"aaaaaaaa"));
    run.feed(&d(&b, 0, b"bbbbbbbb"));
    assert_eq!(run.table.retained_bytes(), 12);
    assert_eq!(run.table.stats().retained_limit_hits, 1);
    // Connection a kept all 8 bytes, b only its last 4.
    run.feed(&d(&a, 0, b"X"));
    run.feed(&d(&b, 0, b"X"));
    run.feed(&d(&b, 7, b"X"));
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromOrig,
            offset: 0,
            len: 1
        }]
    );
    assert_eq!(
        run.rec.tcp_events(1),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromOrig,
            offset: 7,
            len: 1
        }]
    );
    assert_eq!(run.table.stats().retransmissions_unchecked, 1);
    // Once a's bytes are acknowledged, b has room again.
    run.feed(&ack(&a, 8));
    run.feed(&d(&b, 8, b"cccc"));
    assert_eq!(run.table.retained_bytes(), 8);
    assert_eq!(run.table.stats().retained_limit_hits, 1);
    run.finish();
}

#[test]
fn zero_retention_limit_turns_the_check_off() {
    let cfg = FlowConfig {
        max_retained_per_dir: 0,
        ..FlowConfig::default()
    };
    let (p, mut run) = started(cfg);
    run.feed(&d(&p, 0, FIRST));
    run.feed(&d(&p, 0, b"GET /evil?"));
    run.finish();
    assert_eq!(run.table.retained_bytes(), 0);
    assert!(run.rec.tcp_events(0).is_empty());
    let stats = run.table.stats();
    assert_eq!(stats.retained_limit_hits, 0);
    assert_eq!(stats.retransmissions_unchecked, 1);
}

// Keep-alive probes. Regression: on a capture without the receiver's ACKs (one direction of a
// SPAN), every probe of an idle connection, one filler byte at the sequence number before the
// next new byte, was compared with the retained copy of that byte and reported as an
// `OverlapMismatch`.

/// A client that opens a connection and sends `FIRST`, seen without anything from the server.
fn one_sided_first() -> (Pair, Run) {
    let p = pair();
    let mut run = Run::default_cfg();
    run.feed(&p.c(CISN, 0, "S", b""));
    run.feed(&p.c(CISN + 1, SISN + 1, "A", b""));
    run.feed(&d(&p, 0, FIRST));
    (p, run)
}

/// A probe from the client at offset `off`: an ACK carrying `filler` and nothing else.
fn probe<'a>(p: &Pair, off: u32, filler: &'a [u8]) -> TcpSegment<'a> {
    p.c(CISN + 1 + off, SISN + 1, "A", filler)
}

#[test]
fn keepalive_probes_without_acks_are_counted_not_compared() {
    let (p, mut run) = one_sided_first();
    assert_eq!(run.table.retained_bytes(), FIRST.len());
    // Offset 9 holds 't'; probes carry a zero byte, or nothing.
    run.feed(&probe(&p, 9, b"\0"));
    run.feed(&probe(&p, 9, b"\0"));
    run.feed(&probe(&p, 9, b""));
    run.feed(&d(&p, 10, b" HTTP/1.1"));
    run.finish();
    assert!(run.rec.tcp_events(0).is_empty(), "{:?}", run.rec.events);
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"GET /first HTTP/1.1")]
    );
    let stats = run.table.stats();
    assert_eq!(stats.keepalives, 3);
    assert_eq!(stats.overlap_mismatches, 0);
    assert_eq!(stats.retransmissions, 0);
    assert_eq!(stats.retransmissions_unchecked, 0);
    assert!(stats.counters().contains(&("keepalives", 3)));
}

#[test]
fn one_byte_retransmission_away_from_the_probe_position_is_still_reported() {
    let (p, mut run) = one_sided_first();
    // Offset 8 holds 's': one before the probe position, so a changed copy is a rewrite.
    run.feed(&probe(&p, 8, b"X"));
    // Two bytes at the probe position are no probe either.
    run.feed(&d(&p, 8, b"sX"));
    run.finish();
    assert_eq!(
        run.rec.tcp_events(0),
        vec![
            TcpEvent::OverlapMismatch {
                dir: Dir::FromOrig,
                offset: 8,
                len: 1
            },
            TcpEvent::OverlapMismatch {
                dir: Dir::FromOrig,
                offset: 9,
                len: 2
            }
        ]
    );
    let stats = run.table.stats();
    assert_eq!(stats.keepalives, 0);
    assert_eq!(stats.overlap_mismatches, 2);
    assert_eq!(stats.retransmissions, 2);
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(FIRST)]);
}

#[test]
fn probe_shaped_rewrite_of_a_byte_the_receiver_still_awaits_is_reported() {
    // The server is seen acknowledging, but not the last byte: no stack probes while data is
    // outstanding, so this is a rewrite of that byte, not a keep-alive.
    let (p, mut run) = started(FlowConfig::default());
    run.feed(&d(&p, 0, FIRST));
    run.feed(&ack(&p, 9));
    run.feed(&probe(&p, 9, b"\0"));
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::OverlapMismatch {
            dir: Dir::FromOrig,
            offset: 9,
            len: 1
        }]
    );
    assert_eq!(run.table.stats().keepalives, 0);
    // Once everything is acknowledged, the same segment is a probe.
    run.feed(&ack(&p, 10));
    run.feed(&probe(&p, 9, b"\0"));
    run.finish();
    let stats = run.table.stats();
    assert_eq!(stats.keepalives, 1);
    assert_eq!(stats.overlap_mismatches, 1);
    assert_eq!(stats.retransmissions, 1);
    assert_eq!(stats.retransmissions_unchecked, 0);
}

#[test]
fn keepalive_probes_before_any_data_and_after_a_fin() {
    let (p, mut run) = started(FlowConfig::default());
    // Before any data the probe sits on the SYN's sequence number.
    run.feed(&p.c(CISN, SISN + 1, "A", b"\0"));
    run.feed(&d(&p, 0, FIRST));
    run.feed(&p.c(CISN + 11, SISN + 1, "FA", b""));
    run.feed(&ack(&p, 11));
    // After its FIN the client probes on the FIN's sequence number: no data after close.
    run.feed(&probe(&p, 10, b"\0"));
    run.finish();
    assert!(run.rec.tcp_events(0).is_empty(), "{:?}", run.rec.events);
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(FIRST)]);
    assert_eq!(run.rec.fins(0), vec![Dir::FromOrig]);
    let stats = run.table.stats();
    assert_eq!(stats.keepalives, 2);
    assert_eq!(stats.data_after_close, 0);
    assert_eq!(stats.retransmissions, 0);
}

#[test]
fn keepalive_probe_behind_a_hole_is_not_compared_with_the_held_bytes() {
    let (p, mut run) = one_sided_first();
    // Offsets 10..15 are late; 15..20 wait behind the hole and the probe repeats offset 19.
    run.feed(&d(&p, 15, b"world"));
    run.feed(&probe(&p, 19, b"\0"));
    run.feed(&d(&p, 10, b"hello"));
    run.finish();
    assert!(run.rec.tcp_events(0).is_empty(), "{:?}", run.rec.events);
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"GET /firsthelloworld")]
    );
    let stats = run.table.stats();
    assert_eq!(stats.keepalives, 1);
    assert_eq!(stats.overlaps, 0);
    assert_eq!(stats.gaps, 0);
}
