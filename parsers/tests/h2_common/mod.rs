//! Shared helpers of the HTTP/2 tests: fixture conversations and a tiny frame writer for
//! hostile input (the conversations themselves come from an independent encoder).
// Each test file uses a part of these.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use apitap_parsers::h2::{H2Config, H2ConnParser, H2Event, H2Stats};
use apitap_parsers::{Direction, HttpConfig, HttpTransaction};

/// One write of one side.
pub type Chunk = (Direction, Vec<u8>);

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/h2_fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A conversation file: "> hex" client to server, "< hex" server to client.
pub fn conversation(name: &str) -> Vec<Chunk> {
    fixture(name)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (d, h) = l.split_once(' ').unwrap();
            let dir = if d == ">" { Direction::ToServer } else { Direction::ToClient };
            (dir, hex(h))
        })
        .collect()
}

pub struct Run {
    pub txs: Vec<HttpTransaction>,
    pub events: Vec<H2Event>,
    pub stats: H2Stats,
    pub max_buffered: usize,
    pub parser: H2ConnParser,
}

impl Run {
    pub fn by_stream(&self) -> BTreeMap<u32, &HttpTransaction> {
        self.txs.iter().map(|t| (t.h2.as_ref().unwrap().stream_id, t)).collect()
    }

    pub fn has_event(&self, name: &str) -> bool {
        self.events.iter().any(|e| e.name() == name)
    }
}

pub fn parser(cfg: HttpConfig, h2: H2Config) -> H2ConnParser {
    H2ConnParser::new(Arc::new(cfg), Arc::new(h2))
}

/// Feeds chunks (each split into pieces of at most `step` bytes), one ms apart, then closes
/// unless `close` is false; polls after every call.
pub fn run_with(mut p: H2ConnParser, chunks: &[Chunk], step: usize, close: bool) -> Run {
    let mut stats = H2Stats::default();
    let mut run = Run {
        txs: Vec::new(),
        events: Vec::new(),
        stats: H2Stats::default(),
        max_buffered: 0,
        parser: H2ConnParser::new(Arc::default(), Arc::default()),
    };
    let mut ts = 1_000_000_000u64;
    for (dir, bytes) in chunks {
        for piece in bytes.chunks(step.max(1)) {
            let progress = p.handle_data(&mut stats, ts, *dir, piece);
            assert_eq!(progress.consumed + progress.ignored, piece.len());
            run.max_buffered = run.max_buffered.max(p.buffered_bytes());
            drain(&mut p, &mut run);
        }
        ts += 1_000_000;
    }
    if close {
        p.handle_close(&mut stats, ts);
        drain(&mut p, &mut run);
    }
    run.stats = stats;
    run.parser = p;
    run
}

pub fn drain(p: &mut H2ConnParser, run: &mut Run) {
    while let Some(t) = p.poll_transaction() {
        run.txs.push(t);
    }
    while let Some(e) = p.poll_event() {
        run.events.push(e);
    }
}

pub fn run(chunks: &[Chunk]) -> Run {
    run_with(parser(HttpConfig::default(), H2Config::default()), chunks, usize::MAX, true)
}

/// A frame: header and payload.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.push(kind);
    v.push(flags);
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An HPACK literal without indexing with a literal name, no Huffman (lengths below 127).
pub fn literal(name: &str, value: &str) -> Vec<u8> {
    assert!(name.len() < 127 && value.len() < 127);
    let mut v = vec![0x00, name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v.push(value.len() as u8);
    v.extend_from_slice(value.as_bytes());
    v
}

/// The client preface and an empty SETTINGS.
pub fn client_start() -> Vec<u8> {
    let mut v = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    v.extend(frame(4, 0, 0, &[]));
    v
}

/// A GET for `path` on `stream` (static :method GET, :scheme http; literal :path).
pub fn get(stream: u32, path: &str, end_stream: bool) -> Vec<u8> {
    let mut block = vec![0x82, 0x86];
    block.extend(literal(":path", path));
    frame(1, 0x4 | u8::from(end_stream), stream, &block)
}
