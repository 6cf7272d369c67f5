//! End of input a slice at a time (`FlowTable::finish_some`): every connection closed exactly
//! once, in the order one `finish` call closes them, with the same data, gaps and reasons.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod tcp_common;

use apitap_sensor::flow::FINISH_SLICE;
use apitap_sensor::stream::{CloseReason, Dir};
use tcp_common::{handshake, Ev, Pair, Piece, Run, CISN, SISN};

// A slice is a few thousand connections: enough to amortise a call, small enough that its
// records stay a few megabytes.
const _: () = assert!(FINISH_SLICE >= 256 && FINISH_SLICE <= 65_536);

/// Connections of the mix below.
const CONNS: u16 = 1000;

fn client(n: u16) -> Pair {
    Pair::new(&format!("10.1.{}.{}:{}", n >> 8, n & 0xff, 40000 + n), "10.2.0.1:80")
}

/// How connection `n` of the mix ends before the end of input.
fn reason_of(n: u16) -> CloseReason {
    match n % 5 {
        1 => CloseReason::Fin,
        2 => CloseReason::Reset,
        _ => CloseReason::EndOfInput,
    }
}

/// A run holding `CONNS` connections in various states: data with a hole (the end of input
/// turns it into a gap and delivers what follows), finished with FINs (lingering), reset,
/// still in the handshake, and picked up mid-stream. Connection `n` gets id `n`.
fn mixed_run() -> Run {
    let mut run = Run::default_cfg();
    for n in 0..CONNS {
        let p = client(n);
        match n % 5 {
            0 => {
                run.feed_all(&handshake(&p));
                run.feed(&p.c(CISN + 1, SISN + 1, "PA", b"GET /a"));
                // A hole of 4 bytes, then more: held until the end.
                run.feed(&p.c(CISN + 11, SISN + 1, "PA", b"tail"));
            }
            1 => {
                run.feed_all(&handshake(&p));
                run.feed(&p.c(CISN + 1, SISN + 1, "PA", b"req"));
                run.feed(&p.s(SISN + 1, CISN + 4, "PA", b"resp"));
                run.feed(&p.c(CISN + 4, SISN + 5, "FA", b""));
                run.feed(&p.s(SISN + 5, CISN + 5, "FA", b""));
            }
            2 => {
                run.feed_all(&handshake(&p));
                run.feed(&p.c(CISN + 1, SISN + 1, "R", b""));
            }
            3 => run.feed(&p.c(CISN, 0, "S", b"")),
            _ => run.feed(&p.s(SISN + 1, CISN + 1, "PA", b"mid-stream")),
        }
    }
    run
}

/// The calls the sink received from the end of input on.
fn finishing_events(run: &Run, before: usize) -> Vec<Ev> {
    run.rec.events[before..].to_vec()
}

#[test]
fn sliced_finish_closes_every_connection_once_in_the_order_of_one_finish() {
    let mut whole = mixed_run();
    let mut sliced = mixed_run();
    assert_eq!(whole.table.len(), usize::from(CONNS));
    let before = whole.rec.events.len();
    assert_eq!(sliced.rec.events.len(), before);

    whole.finish();
    let reference = finishing_events(&whole, before);

    let now = whole.now;
    let mut slices = 0;
    let mut left = sliced.table.len();
    loop {
        let seen = sliced.rec.events.len();
        let done = sliced.table.finish_some(now, 7, &mut sliced.rec);
        slices += 1;
        let closed = sliced.rec.events[seen..].iter().filter(|e| matches!(e, Ev::Close(..))).count();
        assert!(closed <= 7, "slice {slices} closed {closed} connections");
        assert_eq!(sliced.table.len(), left - closed, "len counts the connections still to close");
        left -= closed;
        if done {
            break;
        }
        assert_eq!(closed, 7, "a slice that is not the last closes as many as it may");
        assert!(slices < 1000, "finish_some never ended");
    }
    sliced.rec.check_protocol();
    assert_eq!(slices, usize::from(CONNS).div_ceil(7));
    assert!(sliced.table.is_empty());
    assert!(sliced.table.finish_some(now, 7, &mut sliced.rec), "nothing left: done at once");

    let got = finishing_events(&sliced, before);
    assert_eq!(got.len(), reference.len());
    assert_eq!(got, reference, "the same calls in the same order as one finish");

    // Independently of `finish`: each connection closed once, in the order opened, with the
    // reason its traffic gave it, and the held data behind the hole delivered after a gap.
    let closes: Vec<(u64, CloseReason)> = got
        .iter()
        .filter_map(|e| match e {
            Ev::Close(c, r) => Some((*c, *r)),
            _ => None,
        })
        .collect();
    let expected: Vec<(u64, CloseReason)> = (0..CONNS).map(|n| (u64::from(n), reason_of(n))).collect();
    assert_eq!(closes, expected);
    assert_eq!(
        sliced.rec.stream(5, Dir::FromOrig),
        vec![Piece::Bytes(b"GET /a".to_vec()), Piece::Gap(4), Piece::Bytes(b"tail".to_vec())]
    );
    let stats = sliced.table.stats();
    assert_eq!(stats.flows_closed, u64::from(CONNS));
    assert_eq!(stats.closed_end_of_input, u64::from(CONNS) / 5 * 3);
}

#[test]
fn a_slice_closes_at_least_one_and_the_default_slice_is_bounded() {
    let mut run = mixed_run();
    let now = run.now;
    let before = run.rec.closes().len();
    assert!(!run.table.finish_some(now, 0, &mut run.rec));
    assert_eq!(run.rec.closes().len(), before + 1, "a slice of 0 still makes progress");
    assert!(!run.table.finish_some(now, FINISH_SLICE.min(500), &mut run.rec));
    assert_eq!(run.table.len(), usize::from(CONNS) - 1 - FINISH_SLICE.min(500));
}

#[test]
fn input_during_a_sliced_finish_closes_the_rest_first() {
    let mut run = mixed_run();
    let now = run.now;
    assert!(!run.table.finish_some(now, 10, &mut run.rec));
    // A new connection arrives before the last slice: the rest is closed first, in order,
    // then the segment opens a connection of its own.
    let late = client(CONNS + 1);
    run.feed(&late.c(CISN, 0, "S", b""));
    let closes = run.rec.closes();
    assert_eq!(closes.len(), usize::from(CONNS));
    assert_eq!(closes.iter().map(|c| c.0).collect::<Vec<_>>(), (0..u64::from(CONNS)).collect::<Vec<_>>());
    assert_eq!(run.table.len(), 1);
    assert_eq!(*run.rec.events.last().unwrap(), Ev::Open(u64::from(CONNS)));
    run.finish();
    assert_eq!(run.rec.closes().last(), Some(&(u64::from(CONNS), CloseReason::EndOfInput)));
}
