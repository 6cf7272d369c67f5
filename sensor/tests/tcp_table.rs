//! The table: idle and handshake timeouts, eviction under `max_flows`, end of input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod tcp_common;

use apitap_sensor::flow::FlowConfig;
use apitap_sensor::packet::Timestamp;
use apitap_sensor::stream::{CloseReason, Dir, OrigInference};
use tcp_common::{handshake, Ev, Pair, Piece, Run, CISN, SISN};

const SEC: u64 = 1_000_000_000;

fn client(n: u16) -> Pair {
    Pair::new(&format!("10.1.0.{n}:{}", 40000 + n), "10.2.0.1:80")
}

#[test]
fn idle_connection_closes_on_packet_time_and_flushes_what_it_held() {
    let p = client(1);
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", b"abc"));
    run.feed(&p.c(CISN + 7, SISN + 1, "PA", b"ghi"));
    let last = run.now;
    run.wait(299);
    assert!(run.rec.closes().is_empty());
    run.wait(2);
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Idle)]);
    // Stamped with the moment it expired, not with when the timeout was checked.
    assert_eq!(run.rec.close_ts[&0], last.plus_nanos(300 * SEC));
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![
            Piece::Bytes(b"abc".to_vec()),
            Piece::Gap(3),
            Piece::Bytes(b"ghi".to_vec())
        ]
    );
    assert_eq!(run.table.stats().idle_expired, 1);
    assert!(run.table.is_empty());
    assert_eq!(run.table.buffered_bytes(), 0);
    run.finish();
}

#[test]
fn unanswered_syn_leaves_after_the_handshake_timeout() {
    let p = client(1);
    let q = client(2);
    let mut run = Run::default_cfg();
    run.feed(&p.c(CISN, 0, "S", b""));
    run.feed_all(&handshake(&q));
    run.wait(31);
    // The established one stays; the lone SYN is gone.
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Idle)]);
    assert_eq!(run.table.len(), 1);
    run.finish();
    assert_eq!(
        run.rec.closes(),
        vec![(0, CloseReason::Idle), (1, CloseReason::EndOfInput)]
    );
}

#[test]
fn activity_keeps_a_connection_alive() {
    let p = client(1);
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    for seq in CISN + 1..CISN + 6 {
        run.wait(200);
        run.feed(&p.c(seq, SISN + 1, "PA", b"x"));
    }
    assert!(run.rec.closes().is_empty());
    assert_eq!(run.rec.bytes(0, Dir::FromOrig), b"xxxxx");
    run.finish();
}

#[test]
fn expired_connection_is_closed_on_its_next_packet_even_without_timeout_calls() {
    let p = client(1);
    let mut run = Run::default_cfg();
    run.feed(&p.c(100, 1, "PA", b"old"));
    let last = run.now;
    run.now = run.now.plus_nanos(400 * SEC);
    run.feed(&p.c(103, 1, "PA", b"new"));
    run.finish();
    assert_eq!(
        run.rec.closes(),
        vec![(0, CloseReason::Idle), (1, CloseReason::EndOfInput)]
    );
    assert_eq!(run.rec.close_ts[&0], last.plus_nanos(300 * SEC));
    assert_eq!(run.rec.bytes(1, Dir::FromOrig), b"new");
    assert_eq!(run.rec.infos[&1].inference, OrigInference::PortHeuristic);
}

#[test]
fn full_table_evicts_the_least_recently_active_connection() {
    let cfg = FlowConfig {
        max_flows: 2,
        ..FlowConfig::default()
    };
    let (a, b, c) = (client(1), client(2), client(3));
    let mut run = Run::new(cfg);
    run.feed(&a.c(10, 1, "PA", b"a1"));
    run.feed(&b.c(10, 1, "PA", b"b1"));
    run.feed(&a.c(12, 1, "PA", b"a2"));
    run.feed(&c.c(10, 1, "PA", b"c1"));
    assert_eq!(run.rec.closes(), vec![(1, CloseReason::Evicted)]);
    assert_eq!(run.table.len(), 2);
    assert_eq!(run.table.stats().evicted, 1);
    run.finish();
    assert_eq!(
        run.rec.closes(),
        vec![
            (1, CloseReason::Evicted),
            (0, CloseReason::EndOfInput),
            (2, CloseReason::EndOfInput)
        ]
    );
    assert_eq!(run.rec.bytes(0, Dir::FromOrig), b"a1a2");
    assert_eq!(run.table.stats().flows_opened, 3);
    assert_eq!(run.table.stats().flows_closed, 3);
}

#[test]
fn eviction_takes_a_finished_connection_before_a_live_one() {
    let cfg = FlowConfig {
        max_flows: 2,
        ..FlowConfig::default()
    };
    let (a, b, c) = (client(1), client(2), client(3));
    let mut run = Run::new(cfg);
    run.feed(&a.c(10, 1, "FPA", b"a"));
    run.feed(&a.s(1, 12, "FA", b""));
    run.feed(&b.c(10, 1, "PA", b"b"));
    run.feed(&c.c(10, 1, "PA", b"c"));
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Fin)]);
    assert_eq!(run.table.stats().evicted, 0);
    assert_eq!(run.table.stats().linger_cut_short, 1);
    run.finish();
}

#[test]
fn max_flows_zero_still_tracks_one_connection() {
    let cfg = FlowConfig {
        max_flows: 0,
        ..FlowConfig::default()
    };
    let (a, b) = (client(1), client(2));
    let mut run = Run::new(cfg);
    run.feed(&a.c(10, 1, "PA", b"a"));
    run.feed(&b.c(10, 1, "PA", b"b"));
    run.finish();
    assert_eq!(
        run.rec.closes(),
        vec![(0, CloseReason::Evicted), (1, CloseReason::EndOfInput)]
    );
    assert_eq!(run.rec.bytes(1, Dir::FromOrig), b"b");
}

#[test]
fn finish_delivers_held_data_after_a_gap_and_closes_in_open_order() {
    let (a, b) = (client(1), client(2));
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&b));
    run.feed_all(&handshake(&a));
    run.feed(&a.c(CISN + 4, SISN + 1, "PA", b"late"));
    run.feed(&b.s(SISN + 1, CISN + 1, "PA", b"resp"));
    run.finish();
    assert_eq!(
        run.rec.stream(1, Dir::FromOrig),
        vec![Piece::Gap(3), Piece::Bytes(b"late".to_vec())]
    );
    assert_eq!(
        run.rec.closes(),
        vec![(0, CloseReason::EndOfInput), (1, CloseReason::EndOfInput)]
    );
    assert_eq!(run.table.stats().closed_end_of_input, 2);
    assert!(run.table.is_empty());
    // Nothing for a connection follows its close.
    let last = run.rec.events.last().unwrap();
    assert_eq!(*last, Ev::Close(1, CloseReason::EndOfInput));
}

#[test]
fn packet_time_going_backwards_does_not_expire_or_break_anything() {
    let p = client(1);
    let mut run = Run::default_cfg();
    run.feed(&p.c(10, 1, "PA", b"ab"));
    // A merged capture hands us an older timestamp next.
    run.now = Timestamp(run.now.0 - 10 * SEC);
    run.feed(&p.c(12, 1, "PA", b"cd"));
    run.table.handle_timeout(run.now, &mut run.rec);
    run.finish();
    assert_eq!(run.rec.bytes(0, Dir::FromOrig), b"abcd");
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::EndOfInput)]);
}

#[test]
fn many_connections_expire_in_one_sweep() {
    let mut run = Run::default_cfg();
    for n in 1..=50u16 {
        let p = client(n);
        run.feed(&p.c(10, 1, "PA", b"z"));
    }
    assert_eq!(run.table.len(), 50);
    run.wait(301);
    assert!(run.table.is_empty());
    assert_eq!(run.table.stats().idle_expired, 50);
    let mut closed: Vec<u64> = run.rec.closes().iter().map(|(c, _)| *c).collect();
    closed.sort_unstable();
    assert_eq!(closed, (0..50).collect::<Vec<_>>());
    run.finish();
}

#[test]
fn full_table_sheds_one_sided_flows_before_a_conversation() {
    // A conversation (both directions seen), then two flows of one SYN and one of one data
    // packet, all newer. New flows push those out, oldest first, and leave the conversation.
    let cfg = FlowConfig {
        max_flows: 3,
        ..FlowConfig::default()
    };
    let (a, b, c, d, e) = (client(1), client(2), client(3), client(4), client(5));
    let mut run = Run::new(cfg);
    run.feed_all(&handshake(&a));
    run.feed(&a.c(CISN + 1, SISN + 1, "PA", b"GET /"));
    run.feed(&b.c(CISN, 0, "S", b""));
    run.feed(&c.c(10, 1, "PA", b"x"));
    run.feed(&d.c(CISN, 0, "S", b""));
    run.feed(&e.c(CISN, 0, "S", b""));
    assert_eq!(
        run.rec.closes(),
        vec![(1, CloseReason::Evicted), (2, CloseReason::Evicted)]
    );
    // 31 s later: the two SYN-only flows left are older than the conversation's credit
    // (its last packet plus the 30 s handshake timeout) and go first; then the conversation,
    // idle longer than that, is older than the new flows and goes before them.
    run.now = run.now.plus_nanos(31 * SEC);
    for n in 6..9 {
        run.feed(&client(n).c(CISN, 0, "S", b""));
    }
    let evicted: Vec<u64> = run.rec.closes().iter().map(|c| c.0).collect();
    assert_eq!(evicted, vec![1, 2, 3, 4, 0]);
    assert_eq!(run.table.stats().evicted, 5);
    run.finish();
}

// The table gives its storage back when its last connection leaves; connections that come
// after (one of them on an address pair seen before) must still be found by both directions.
#[test]
fn a_table_that_emptied_tracks_new_connections() {
    let mut run = Run::default_cfg();
    for n in 1..=40u16 {
        run.feed(&client(n).c(10, 1, "PA", b"old"));
    }
    run.wait(301);
    assert!(run.table.is_empty());
    for n in [3u16, 41, 42] {
        let p = client(n);
        run.feed_all(&handshake(&p));
        run.feed(&p.c(CISN + 1, SISN + 1, "PA", format!("req{n}").as_bytes()));
        run.feed(&p.s(SISN + 1, CISN + 5, "PA", format!("resp{n}").as_bytes()));
    }
    assert_eq!(run.table.len(), 3);
    assert_eq!(run.rec.opens(), (0..43).collect::<Vec<_>>());
    for (id, n) in [(40u64, 3u16), (41, 41), (42, 42)] {
        assert_eq!(run.rec.stream(id, Dir::FromOrig), vec![Piece::Bytes(format!("req{n}").into_bytes())]);
        assert_eq!(run.rec.stream(id, Dir::FromResp), vec![Piece::Bytes(format!("resp{n}").into_bytes())]);
    }
    run.finish();
    assert!(run.table.is_empty());
}
