//! The HTTP/2 connection parser (framing, HPACK, streams, gRPC counting) on two byte streams
//! cut into deliveries, interleaved, with gaps and ends; from a preface, a mid-connection join
//! or an h2c upgrade.
//!
//! Input: the `http` target's form, `[n: u8][n control bytes][client length: u32 LE][client
//! bytes][server bytes]`; `fuzz/seed.py` writes the HTTP/2 conversations of the parsers'
//! fixtures in it. The control bytes choose small or default limits, how the connection
//! starts, and then deliveries, gaps and ends.
//!
//! Checked besides "no panic": `consumed + ignored` is every byte given, and what the parser
//! holds (`buffered_bytes`) stays within the bound its limits give (the same bound as
//! parsers/tests/h2_robustness.rs) after every call.
#![no_main]

use std::sync::Arc;

use apitap_parsers::h2::{H2Config, H2ConnParser, H2Stats};
use apitap_parsers::{Direction, HttpConfig, HttpTransaction};
use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

#[path = "two_streams.rs"]
mod two_streams;
use two_streams::split;


/// What the parser may hold with these limits.
fn bound(h2: &H2Config, capture: usize) -> usize {
    let tables = 2 * (h2.max_table_bytes + (h2.max_table_bytes / 32) * 64);
    let buffers = 2 * (h2.max_header_block + 16_402 + h2.max_control_frame);
    let bodies = h2.max_streams * 2 * (48 * 1024 + capture);
    tables + buffers + bodies + 1024 * 1024
}

fuzz_target!(|data: &[u8]| {
    let Some((ctl, client, server)) = split(data) else { return };
    let mut u = Unstructured::new(ctl);
    let flags = u.arbitrary::<u8>().unwrap_or(0);
    let mut cfg = HttpConfig::default();
    if flags & 1 != 0 {
        cfg.max_body_capture = 256;
    }
    let mut h2 = H2Config::default();
    if flags & 2 != 0 {
        h2 = H2Config {
            max_streams: 4,
            max_header_block: 512,
            max_header_list: 512,
            max_field_bytes: 128,
            max_table_bytes: 256,
            max_continuations: 3,
            max_control_frame: 64,
            max_resync_scan: 4096,
            max_settings_per_window: 3,
            max_pings_per_window: 3,
            max_resets_per_window: 3,
            ..H2Config::default()
        };
    }
    let limit = bound(&h2, cfg.max_body_capture);
    let (cfg, h2) = (Arc::new(cfg), Arc::new(h2));
    let mut p = if flags & 4 != 0 {
        // After an h2c upgrade: stream 1 is an HTTP/1.1 request already seen.
        let request = HttpTransaction { method: Some("GET".into()), uri: Some("/".into()), ts: 1, ..HttpTransaction::default() };
        H2ConnParser::after_upgrade(Arc::clone(&cfg), Arc::clone(&h2), &request)
    } else {
        H2ConnParser::new(Arc::clone(&cfg), Arc::clone(&h2))
    };
    let mut stats = H2Stats::default();
    let (mut c, mut s) = (client, server);
    let mut ts = 0u64;
    let check = |p: &mut H2ConnParser| {
        assert!(p.buffered_bytes() <= limit, "{} held, bound {limit}", p.buffered_bytes());
        while p.poll_transaction().is_some() {}
        while p.poll_event().is_some() {}
    };
    while !u.is_empty() && (!c.is_empty() || !s.is_empty()) {
        ts += u64::from(u.arbitrary::<u16>().unwrap_or(1));
        let op = u.arbitrary::<u8>().unwrap_or(0);
        let dir = if op & 1 == 0 { Direction::ToServer } else { Direction::ToClient };
        let side = if dir == Direction::ToServer { &mut c } else { &mut s };
        let n = usize::from(u.arbitrary::<u16>().unwrap_or(0)).min(side.len());
        let (now, rest) = side.split_at(n);
        *side = rest;
        match op >> 1 & 7 {
            0 => p.handle_gap(&mut stats, ts, dir, n as u64 + 1),
            1 => p.handle_eof(&mut stats, ts, dir),
            _ => {
                let progress = p.handle_data(&mut stats, ts, dir, now);
                assert_eq!(progress.consumed + progress.ignored, now.len());
            }
        }
        check(&mut p);
    }
    for (dir, rest) in [(Direction::ToServer, c), (Direction::ToClient, s)] {
        let progress = p.handle_data(&mut stats, ts + 1, dir, rest);
        assert_eq!(progress.consumed + progress.ignored, rest.len());
        check(&mut p);
    }
    p.handle_close(&mut stats, ts + 2);
    check(&mut p);
});
