//! The known HTTP/2 attacks: each is an event and a counter, and memory stays bounded
//! (`buffered_bytes` measured after every delivery of 1,400 bytes).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod h2_common;

use apitap_parsers::h2::{H2Config, H2Event};
use apitap_parsers::{Direction, HttpConfig};
use h2_common::*;

const SEGMENT: usize = 1400;

fn attack(client: Vec<u8>) -> Run {
    run_with(parser(HttpConfig::default(), H2Config::default()), &[(Direction::ToServer, client)], SEGMENT, true)
}

#[test]
fn rapid_reset_is_one_event_per_window_and_every_stream_a_transaction() {
    let mut c = client_start();
    for i in 0..1000u32 {
        let id = 1 + 2 * i;
        c.extend(get(id, "/", true));
        c.extend(frame(3, 0, id, &8u32.to_be_bytes()));
    }
    let run = attack(c);
    assert_eq!(run.stats.rapid_resets, 1, "one window of packet time");
    assert!(run.events.contains(&H2Event::RapidReset { count: 101 }));
    assert_eq!(run.stats.streams_reset, 1000);
    assert_eq!(run.txs.len(), 1000);
    assert!(run.txs.iter().all(|t| t.h2.as_ref().unwrap().reset == Some((Direction::ToServer, 8))));
    assert!(run.max_buffered < 4096, "{}", run.max_buffered);
}

#[test]
fn rapid_reset_without_polling_is_bounded_by_the_ready_queue() {
    let mut c = client_start();
    for i in 0..3000u32 {
        let id = 1 + 2 * i;
        c.extend(get(id, "/", true));
        c.extend(frame(3, 0, id, &8u32.to_be_bytes()));
    }
    let mut p = parser(HttpConfig { max_ready_transactions: 100, ..Default::default() }, H2Config::default());
    let mut stats = Default::default();
    for piece in c.chunks(SEGMENT) {
        let _ = p.handle_data(&mut stats, 1, Direction::ToServer, piece);
    }
    let mut n = 0;
    while p.poll_transaction().is_some() {
        n += 1;
    }
    assert_eq!(n, 100);
    assert_eq!(stats.http.transactions_dropped, 2900);
}

#[test]
fn continuation_flood_is_dropped_and_counted() {
    let mut c = client_start();
    // HEADERS without END_HEADERS, then 10,000 CONTINUATION frames of 100 bytes.
    let mut block = vec![0x82, 0x86];
    block.extend(literal(":path", "/flood"));
    c.extend(frame(1, 0x1, 1, &block));
    for _ in 0..10_000 {
        c.extend(frame(9, 0, 1, &literal("x-junk", &"j".repeat(90))));
    }
    c.extend(frame(9, 0x4, 1, &[]));
    let run = attack(c);
    assert_eq!(run.stats.continuation_floods, 1);
    assert!(run.events.contains(&H2Event::ContinuationFlood { dir: Direction::ToServer, limit: 32 }));
    assert_eq!(run.stats.continuation_frames, 10_001);
    // The block is lost, its stream still a transaction, marked.
    assert_eq!(run.txs.len(), 1);
    assert!(run.txs[0].h2.as_ref().unwrap().is_partial());
    assert!(run.max_buffered < 8 * 1024, "{}", run.max_buffered);
}

#[test]
fn a_header_block_over_the_limit_is_dropped_not_buffered() {
    let mut c = client_start();
    let mut block = vec![0x82, 0x86];
    for i in 0..800 {
        block.extend(literal(&format!("x-h{i}"), &"v".repeat(100)));
    }
    assert!(block.len() > 64 * 1024);
    // One HEADERS frame far over the frame size and the block limit.
    c.extend(frame(1, 0x5, 1, &block));
    c.extend(get(3, "/after", true));
    let run = attack(c);
    assert_eq!(run.stats.header_block_limit_hits, 1);
    assert_eq!(run.stats.oversized_frames, 1);
    assert!(run.has_event("h2_oversized_frame") && run.has_event("h2_header_block_limit"));
    assert!(run.max_buffered < 32 * 1024, "{}", run.max_buffered);
    // Framing survives: the next request decodes (its fields are static or literal).
    let after = run.txs.iter().find(|t| t.h2.as_ref().unwrap().stream_id == 3).unwrap();
    assert_eq!(after.uri.as_deref(), Some("/after"));
}

#[test]
fn hpack_bomb_is_counted_not_kept() {
    let mut c = client_start();
    // Insert one 4,000-byte entry, then refer to it 30,000 times (30 KB on the wire, 121 MB of
    // header list).
    let mut block = vec![0x82, 0x86, 0x44, 0x01, b'/'];
    block.extend_from_slice(&[0x40, 0x01, b'x', 0x7f, 0xa1, 0x1e]);
    block.extend(std::iter::repeat_n(b'v', 4000));
    block.extend(std::iter::repeat_n(0xbe, 30_000));
    let (first, rest) = block.split_at(16_000);
    c.extend(frame(1, 0x1, 1, first));
    for (n, piece) in rest.chunks(16_000).enumerate() {
        let last = n == rest.chunks(16_000).count() - 1;
        c.extend(frame(9, if last { 0x4 } else { 0 }, 1, piece));
    }
    let run = attack(c);
    assert_eq!(run.stats.hpack_bombs, 1);
    assert_eq!(run.stats.header_list_limit_hits, 1);
    let bomb = run.events.iter().find(|e| matches!(e, H2Event::HpackBomb { .. })).unwrap();
    assert_eq!(
        *bomb,
        H2Event::HpackBomb {
            dir: Direction::ToServer,
            encoded: block.len(),
            decoded: 30_001 * 4033 + (7 + 3 + 32) + (7 + 4 + 32) + (5 + 1 + 32)
        }
    );
    // What was kept is within the list limit.
    assert_eq!(run.txs.len(), 1);
    assert!(run.max_buffered < 128 * 1024, "{}", run.max_buffered);
}

#[test]
fn settings_and_ping_floods_are_one_event_per_window() {
    let mut c = client_start();
    for _ in 0..1000 {
        c.extend(frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]));
        c.extend(frame(6, 0, 0, &[0; 8]));
    }
    let mut chunks = vec![(Direction::ToServer, c)];
    let run = run_with(parser(Default::default(), Default::default()), &chunks, SEGMENT, true);
    assert_eq!(run.stats.settings_floods, 1);
    assert_eq!(run.stats.ping_floods, 1);
    assert!(run.events.contains(&H2Event::SettingsFlood { dir: Direction::ToServer, count: 51 }));
    assert!(run.events.contains(&H2Event::PingFlood { dir: Direction::ToServer, count: 51 }));
    assert!(run.max_buffered < 1024);
    // Acknowledgements do not count.
    let mut acks = client_start();
    for _ in 0..1000 {
        acks.extend(frame(4, 1, 0, &[]));
        acks.extend(frame(6, 1, 0, &[0; 8]));
    }
    chunks[0].1 = acks;
    let run = run_with(parser(Default::default(), Default::default()), &chunks, SEGMENT, true);
    assert_eq!((run.stats.settings_floods, run.stats.ping_floods), (0, 0));
}

#[test]
fn floods_are_counted_again_in_a_new_window() {
    let mut p = parser(Default::default(), Default::default());
    let mut stats = Default::default();
    let _ = p.handle_data(&mut stats, 0, Direction::ToServer, &client_start());
    for second in 1..=3u64 {
        for _ in 0..60 {
            let _ = p.handle_data(&mut stats, second * 1_000_000_000, Direction::ToServer, &frame(6, 0, 0, &[0; 8]));
        }
    }
    assert_eq!(stats.ping_floods, 3);
}

#[test]
fn streams_past_the_limit_push_the_oldest_out() {
    let mut c = client_start();
    for i in 0..500u32 {
        c.extend(get(1 + 2 * i, "/open", false));
    }
    let run = run_with(parser(Default::default(), Default::default()), &[(Direction::ToServer, c)], SEGMENT, false);
    assert_eq!(run.stats.stream_limit_hits, 500 - 128);
    assert_eq!(run.txs.len(), 500 - 128);
    assert!(run.txs[0].h2.as_ref().unwrap().events.contains(&H2Event::StreamLimit { limit: 128 }));
    assert_eq!(run.txs[0].h2.as_ref().unwrap().stream_id, 1, "oldest first");
}

#[test]
fn garbage_gives_up_after_the_scan_limit() {
    let mut x: u32 = 99;
    let garbage: Vec<u8> = (0..2_000_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            // Bytes of text: never a plausible frame header (lengths over 16 KiB).
            b'a' + ((x >> 16) % 26) as u8
        })
        .collect();
    let run =
        run_with(parser(Default::default(), Default::default()), &[(Direction::ToServer, garbage)], SEGMENT, true);
    assert_eq!(run.stats.resync_failures, 1);
    assert!(run.events.contains(&H2Event::ResyncFailed { dir: Direction::ToServer }));
    assert!(run.stats.resync_skipped_bytes > 1 << 20);
    assert!(run.max_buffered <= 16_402 + 64, "{}", run.max_buffered);
    assert!(run.txs.is_empty());
}

#[test]
fn oversized_data_is_streamed_not_buffered() {
    let mut c = client_start();
    let mut block = vec![0x83, 0x86];
    block.extend(literal(":path", "/upload"));
    c.extend(frame(1, 0x4, 1, &block));
    c.extend(frame(0, 0x1, 1, &vec![7u8; 200_000]));
    let run = attack(c);
    assert_eq!(run.stats.oversized_frames, 1);
    assert_eq!(run.txs[0].request_body_len, 200_000);
    assert_eq!(run.txs[0].method.as_deref(), Some("POST"));
    assert!(run.max_buffered < 4096, "{}", run.max_buffered);
}
