//! Hostile input: the fixture conversations mutated (bytes flipped, chunks cut, gaps,
//! garbage) never panic, and memory stays within the configured bounds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod h2_common;

use apitap_parsers::h2::{H2Config, H2Stats};
use apitap_parsers::HttpConfig;
use h2_common::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The bound `buffered_bytes` must respect with the default limits and a 4 KiB capture: the
/// two frame buffers (a header block each), the two search windows, the two HPACK tables
/// (their RFC size bounds their bytes, plus the slots), and the bodies of the streams
/// (decoder state and capture of each side).
fn bound(h2: &H2Config, capture: usize) -> usize {
    let tables = 2 * (h2.max_table_bytes + (h2.max_table_bytes / 32) * 64);
    let buffers = 2 * (h2.max_header_block + 16_402 + h2.max_control_frame);
    let bodies = h2.max_streams * 2 * (48 * 1024 + capture);
    tables + buffers + bodies + 1024 * 1024
}

#[test]
fn mutated_conversations_never_panic_and_stay_bounded() {
    let sources = [conversation("conversation.txt"), conversation("join.txt"), conversation("upgrade.txt")];
    let h2 = H2Config::default();
    let cfg = HttpConfig { max_body_capture: 4096, ..Default::default() };
    let limit = bound(&h2, cfg.max_body_capture);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let src = &sources[round % sources.len()];
        let mut p = parser(cfg.clone(), h2.clone());
        let mut stats = H2Stats::default();
        let mut ts = 0;
        for (dir, bytes) in src {
            ts += 1000;
            let mut bytes = bytes.clone();
            match rng.below(10) {
                0 if !bytes.is_empty() => {
                    let at = rng.below(bytes.len());
                    bytes[at] ^= 1 << rng.below(8);
                }
                1 if !bytes.is_empty() => {
                    let at = rng.below(bytes.len());
                    bytes[at] = rng.next() as u8;
                }
                2 => {
                    p.handle_gap(&mut stats, ts, *dir, rng.below(5000) as u64 + 1);
                    continue;
                }
                3 => {
                    let cut = rng.below(bytes.len() + 1);
                    bytes.truncate(cut);
                }
                4 => bytes.extend((0..rng.below(300)).map(|_| rng.next() as u8)),
                _ => {}
            }
            for piece in bytes.chunks(1 + rng.below(2000)) {
                let progress = p.handle_data(&mut stats, ts, *dir, piece);
                assert_eq!(progress.consumed + progress.ignored, piece.len());
                assert!(p.buffered_bytes() <= limit, "round {round}: {}", p.buffered_bytes());
            }
            if rng.below(4) == 0 {
                while p.poll_transaction().is_some() {}
                while p.poll_event().is_some() {}
            }
        }
        p.handle_close(&mut stats, ts + 1);
        let mut n = 0;
        while let Some(t) = p.poll_transaction() {
            // Every transaction is an HTTP/2 one with its stream id.
            assert!(t.h2.as_ref().is_some_and(|f| f.stream_id > 0));
            n += 1;
        }
        assert!(n as u64 <= stats.http.transactions);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..200 {
        let mut p = parser(Default::default(), Default::default());
        let mut stats = H2Stats::default();
        let mut start = client_start();
        if rng.below(2) == 0 {
            start.clear();
        }
        let _ = p.handle_data(&mut stats, 1, apitap_parsers::Direction::ToServer, &start);
        for _ in 0..20 {
            let dir = if rng.below(2) == 0 {
                apitap_parsers::Direction::ToServer
            } else {
                apitap_parsers::Direction::ToClient
            };
            // Plausible frame headers with random payloads, so parsing goes deep.
            let kind = rng.below(11) as u8;
            let len = rng.below(300);
            let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let f = frame(kind, rng.next() as u8, rng.below(8) as u32, &payload);
            let _ = p.handle_data(&mut stats, 2, dir, &f);
        }
        p.handle_close(&mut stats, 3);
        while p.poll_transaction().is_some() {}
    }
}
