//! Mid-connection joins, gaps and resynchronisation, on a conversation written by an
//! independent encoder (tests/h2_fixtures/make.py, `join.txt`): 40 GETs on one connection
//! whose client HPACK table holds the authority, user agent and a session header from the
//! first request on, each request adding a unique 200-byte `referer`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod h2_common;

use apitap_parsers::h2::{H2Event, H2Stats};
use apitap_parsers::Direction;
use h2_common::*;

/// Index in `join.txt` of request `i`'s client chunk (the response follows it).
fn request_line(i: usize) -> usize {
    3 + 2 * i
}

fn join_chunks() -> Vec<Chunk> {
    let chunks = conversation("join.txt");
    assert_eq!(chunks.len(), 3 + 2 * 40, "fixture layout");
    for i in 0..40 {
        assert_eq!(chunks[request_line(i)].0, Direction::ToServer);
        assert_eq!(chunks[request_line(i) + 1].0, Direction::ToClient);
    }
    chunks
}

fn path(i: usize) -> String {
    format!("/v2/ledger/{i}")
}

#[test]
fn from_the_start_everything_decodes() {
    let run = run(&join_chunks());
    assert_eq!(run.txs.len(), 40);
    for (i, t) in run.txs.iter().enumerate() {
        assert_eq!(t.uri.as_deref(), Some(path(i).as_str()));
        assert_eq!(t.host.as_deref(), Some("core.bank.test"));
        assert_eq!(t.response_content_type.as_deref(), Some("application/json"));
        assert!(!t.h2.as_ref().unwrap().is_partial());
    }
    assert_eq!(run.stats.transactions_partial, 0);
}

#[test]
fn a_join_recovers_static_and_literal_fields_then_resynchronises() {
    let first = 10;
    let chunks: Vec<Chunk> = join_chunks().split_off(request_line(first));
    let run = run(&chunks);
    assert_eq!(run.stats.prefaces, 0);
    assert_eq!(run.stats.joins, 2);
    assert!(run.has_event("h2_joined"));
    assert_eq!(run.txs.len(), 40 - first, "every stream after the join is a transaction");

    // Method (static), path (a new literal each time) and status (static) always decode.
    for (k, t) in run.txs.iter().enumerate() {
        let i = first + k;
        assert_eq!(t.method.as_deref(), Some("GET"), "request {i}");
        assert_eq!(t.uri.as_deref(), Some(path(i).as_str()), "request {i}");
        assert_eq!(t.status_code, Some(200), "request {i}");
        assert_eq!(t.response_body_len, format!("{{\"entry\":{i}}}").len() as u64, "request {i}");
    }
    // The first request after the join refers to the authority, user agent and session
    // entries from before it: unknown.
    let h2 = run.txs[0].h2.as_ref().unwrap();
    assert!(h2.request_unknown_fields >= 3, "authority, user agent, session: {h2:?}");
    assert!(run.txs[0].host.is_none() && run.txs[0].user_agent.is_none());
    // Once the entries inserted since the join fill the table, no older one can be left:
    // every request decoded after that point decodes whole.
    let synced_from = synced_from(&chunks);
    // Each request inserts :path (45+ bytes) and a referer (255 bytes) and the table holds
    // 4,096 bytes: the first entry inserted after the join is evicted within
    // 4096 / 300 + 1 = 14 requests, and with it everything older.
    assert!((1..=14).contains(&synced_from), "in sync from request {} on", first + synced_from);
    for t in &run.txs[synced_from..] {
        assert_eq!(t.h2.as_ref().unwrap().request_unknown_fields, 0, "{t:?}");
        assert_eq!(t.host.as_deref(), Some("core.bank.test"));
        assert_eq!(t.user_agent.as_deref(), Some("teller/9"));
    }
    assert!(run.txs[..synced_from].iter().any(|t| t.h2.as_ref().unwrap().request_unknown_fields > 0));
    assert!(run.parser.hpack_in_sync(Direction::ToServer));
    assert!(run.events.contains(&H2Event::HpackResynced { dir: Direction::ToServer }));
    // The server only ever refers to its content-type entry from before the join: its table
    // is never rebuilt, and that field stays unknown.
    assert!(!run.parser.hpack_in_sync(Direction::ToClient));
    assert!(run.txs.iter().all(|t| t.response_content_type.is_none()));
    assert!(run.stats.hpack_unknown_fields > 0);
    assert_eq!(run.stats.transactions_partial, run.txs.len() as u64);
}

/// The first request (counted from the join) decoded with the client's table in sync.
fn synced_from(chunks: &[Chunk]) -> usize {
    let mut p = parser(Default::default(), Default::default());
    let mut stats = H2Stats::default();
    let mut requests = 0;
    for (dir, bytes) in chunks {
        if *dir == Direction::ToServer {
            if requests > 0 && p.hpack_in_sync(Direction::ToServer) {
                return requests;
            }
            requests += 1;
        }
        let _ = p.handle_data(&mut stats, 1, *dir, bytes);
    }
    usize::MAX
}

#[test]
fn a_join_inside_a_frame_searches_for_the_next_header() {
    let first = 10;
    let mut chunks: Vec<Chunk> = join_chunks().split_off(request_line(first));
    // The capture starts 5 bytes into request 10's HEADERS frame.
    let cut = chunks[0].1.len() - 5;
    chunks[0].1.drain(..5);
    let run = run(&chunks);
    assert_eq!(run.stats.resyncs, 2, "both directions found framing");
    assert_eq!(run.stats.resync_skipped_bytes, cut as u64, "exactly the rest of the cut frame was skipped");
    assert!(run.events.contains(&H2Event::Resync { dir: Direction::ToServer, skipped: cut as u64 }));
    // Request 10's headers are lost: its response stands alone.
    let t10 = &run.txs[0];
    assert_eq!(t10.method, None);
    assert_eq!(t10.status_code, Some(200));
    assert!(t10.h2.as_ref().unwrap().events.contains(&H2Event::ResponseWithoutRequest));
    assert_eq!(run.txs.len(), 40 - first);
    assert_eq!(run.txs[1].uri.as_deref(), Some(path(first + 1).as_str()));
}

#[test]
fn a_gap_in_the_headers_loses_the_table_until_it_is_rebuilt() {
    let chunks = join_chunks();
    let lost = 20;
    let mut p = parser(Default::default(), Default::default());
    let mut stats = H2Stats::default();
    let mut txs = Vec::new();
    let mut events = Vec::new();
    for (n, (dir, bytes)) in chunks.iter().enumerate() {
        let ts = 1_000 + n as u64;
        if n == request_line(lost) {
            p.handle_gap(&mut stats, ts, *dir, bytes.len() as u64);
        } else {
            let _ = p.handle_data(&mut stats, ts, *dir, bytes);
        }
        while let Some(t) = p.poll_transaction() {
            txs.push(t);
        }
        while let Some(e) = p.poll_event() {
            events.push(e);
        }
    }
    p.handle_close(&mut stats, 9_999);
    while let Some(t) = p.poll_transaction() {
        txs.push(t);
    }
    assert!(events.contains(&H2Event::Gap {
        dir: Direction::ToServer,
        len: chunks[request_line(lost)].1.len() as u64,
        in_data: false
    }));
    assert_eq!(stats.resyncs, 1);
    assert_eq!(stats.resync_skipped_bytes, 0, "the gap ended on a frame boundary");
    assert_eq!(txs.len(), 40);
    let by_path = |i: usize| txs.iter().find(|t| t.uri.as_deref() == Some(path(i).as_str()));
    assert!(by_path(lost).is_none(), "its request was in the gap");
    assert!(by_path(lost + 1).unwrap().host.is_none(), "the table was lost with the gap");
    assert_eq!(by_path(39).unwrap().host.as_deref(), Some("core.bank.test"), "and rebuilt since");
    assert!(p.hpack_in_sync(Direction::ToServer));
}

#[test]
fn a_gap_inside_data_keeps_framing() {
    let chunks = join_chunks();
    let resp = request_line(3) + 1;
    let mut p = parser(Default::default(), Default::default());
    let mut stats = H2Stats::default();
    let mut txs = Vec::new();
    for (n, (dir, bytes)) in chunks.iter().enumerate() {
        if n == resp {
            // The body is the last bytes of the chunk: lose its last 5.
            let keep = bytes.len() - 5;
            let _ = p.handle_data(&mut stats, 5, *dir, &bytes[..keep]);
            p.handle_gap(&mut stats, 5, *dir, 5);
        } else {
            let _ = p.handle_data(&mut stats, 5, *dir, bytes);
        }
        while let Some(t) = p.poll_transaction() {
            txs.push(t);
        }
    }
    assert_eq!(stats.resyncs, 0);
    assert_eq!(stats.http.gaps_in_body, 1);
    assert_eq!(txs.len(), 40);
    let t = &txs[3];
    assert!(t.response_gap);
    assert_eq!(t.response_body_len, "{\"entry\":3}".len() as u64, "the gap is counted in the body");
    assert_eq!(txs[4].host.as_deref(), Some("core.bank.test"));
}

#[test]
fn a_gap_before_anything_is_a_join() {
    let chunks: Vec<Chunk> = join_chunks().split_off(request_line(10));
    let mut p = parser(Default::default(), Default::default());
    let mut stats = H2Stats::default();
    p.handle_gap(&mut stats, 1, Direction::ToServer, 5000);
    p.handle_gap(&mut stats, 1, Direction::ToClient, 7000);
    for (dir, bytes) in &chunks {
        let _ = p.handle_data(&mut stats, 2, *dir, bytes);
    }
    p.handle_close(&mut stats, 3);
    let mut txs = Vec::new();
    while let Some(t) = p.poll_transaction() {
        txs.push(t);
    }
    assert_eq!(stats.joins, 2);
    assert_eq!(txs.len(), 30);
    assert_eq!(txs[0].uri.as_deref(), Some(path(10).as_str()));
    assert_eq!(txs[29].host.as_deref(), Some("core.bank.test"));
}

/// A capture whose first server bytes happen to be a SETTINGS frame (sent mid-connection)
/// is still a join once the client shows no preface: the server's references to older
/// entries are unknown fields, not decoding errors.
#[test]
fn a_server_settings_frame_mid_connection_is_not_a_start() {
    let chunks = join_chunks();
    let first = 10;
    let mut server_first = frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]);
    server_first.extend(&chunks[request_line(first) + 1].1);
    for order in [[0usize, 1], [1, 0]] {
        let both =
            [(Direction::ToServer, chunks[request_line(first)].1.clone()), (Direction::ToClient, server_first.clone())];
        let mut feed: Vec<Chunk> = order.iter().map(|&i| both[i].clone()).collect();
        feed.extend(chunks[request_line(first + 1)..].iter().cloned());
        let run = run(&feed);
        assert_eq!(run.stats.joins, 2, "order {order:?}");
        assert_eq!(run.stats.hpack_errors, 0, "order {order:?}: {:?}", run.events);
        assert!(run.txs.iter().all(|t| t.status_code == Some(200)));
        assert!(run.txs.iter().all(|t| t.response_content_type.is_none()), "an entry from before the join");
    }
}
