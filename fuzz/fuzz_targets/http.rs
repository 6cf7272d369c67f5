//! The HTTP/1.x connection parser on two byte streams, cut into deliveries, interleaved,
//! with gaps and ends, then the same deliveries again cut into small pieces.
//!
//! Input: `[n: u8][n control bytes][client length: u32 LE][client bytes][server bytes]`. The
//! control bytes choose the parser's settings and, in turn, what happens next: a delivery of
//! some bytes of one direction, a gap (bytes of that direction skipped), or the end of a
//! direction; when they run out the rest of both streams is delivered whole. `fuzz/seed.py`
//! writes the TCP payloads of real connections and the parser transcripts in this form, with
//! no control bytes.
//!
//! Checked besides "no panic": `consumed + ignored` is every byte given, the partial-line
//! buffer stays within `max_header_bytes`, and the parser's promise that how TCP segments the
//! stream does not change the result: the same deliveries cut into pieces of 1 to 7 bytes
//! give the very same transactions (the transcripts test this for every transcript).
#![no_main]

use std::sync::Arc;

use apitap_parsers::{Direction, HttpConfig, HttpParser, HttpTransaction};
use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

#[path = "two_streams.rs"]
mod two_streams;
use two_streams::split;

enum Action<'a> {
    Data(Direction, &'a [u8]),
    Gap(Direction, u64),
    Eof(Direction),
}


fn config(u: &mut Unstructured) -> HttpConfig {
    let flags = u.arbitrary::<u8>().unwrap_or(0);
    let mut cfg = HttpConfig::default();
    if flags & 1 != 0 {
        cfg.max_body_capture = 64;
    }
    if flags & 2 != 0 {
        cfg.max_header_bytes = 256;
        cfg.max_headers = 8;
        cfg.max_uri_len = 32;
        cfg.max_field_len = 16;
        cfg.max_pending_requests = 2;
        cfg.max_ready_transactions = 2;
    }
    if flags & 4 != 0 {
        cfg.retain_headers = vec!["authorization".into(), "x-api-key".into(), "cookie".into()];
        cfg.max_retained_header_bytes = 64;
        cfg.max_retained_bytes_total = 128;
    }
    if flags & 8 != 0 {
        cfg.max_decoded_body = 4096;
    }
    cfg
}

fn actions<'a>(u: &mut Unstructured, mut client: &'a [u8], mut server: &'a [u8]) -> Vec<Action<'a>> {
    let mut out = Vec::new();
    let mut ended = [false; 2];
    while !u.is_empty() && (!client.is_empty() || !server.is_empty()) {
        let what = u.arbitrary::<u8>().unwrap_or(0);
        let (dir, stream, i) = if what & 1 == 0 {
            (Direction::ToServer, &mut client, 0)
        } else {
            (Direction::ToClient, &mut server, 1)
        };
        if ended[i] {
            continue;
        }
        let n = usize::from(u.arbitrary::<u8>().unwrap_or(0)).min(stream.len());
        match what >> 1 & 7 {
            0 => {
                let (skip, rest) = stream.split_at(n.min(16));
                *stream = rest;
                out.push(Action::Gap(dir, skip.len().max(1) as u64));
            }
            1 if what & 0xf0 == 0xf0 => {
                ended[i] = true;
                out.push(Action::Eof(dir));
            }
            _ => {
                let (chunk, rest) = stream.split_at(n.max(1).min(stream.len()));
                *stream = rest;
                if !chunk.is_empty() {
                    out.push(Action::Data(dir, chunk));
                }
            }
        }
    }
    if !ended[0] && !client.is_empty() {
        out.push(Action::Data(Direction::ToServer, client));
    }
    if !ended[1] && !server.is_empty() {
        out.push(Action::Data(Direction::ToClient, server));
    }
    out
}

fn run(cfg: &Arc<HttpConfig>, actions: &[Action], pieces: bool) -> Vec<HttpTransaction> {
    let mut p = HttpParser::new(cfg.clone());
    let mut out = Vec::new();
    let mut size = 0usize;
    for (ts, a) in (1u64..).zip(actions) {
        match *a {
            Action::Data(dir, data) => {
                let mut rest = data;
                while !rest.is_empty() {
                    let n = if pieces {
                        size = size % 7 + 1;
                        size.min(rest.len())
                    } else {
                        rest.len()
                    };
                    let (chunk, next) = rest.split_at(n);
                    rest = next;
                    let pr = p.handle_data(ts, dir, chunk);
                    assert_eq!(pr.consumed + pr.ignored, chunk.len());
                    assert!(pr.buffered <= cfg.max_header_bytes, "{} bytes in the line buffer", pr.buffered);
                }
            }
            Action::Gap(dir, len) => p.handle_gap(ts, dir, len),
            Action::Eof(dir) => p.handle_eof(ts, dir),
        }
        out.extend(std::iter::from_fn(|| p.poll_transaction()));
    }
    let end = actions.len() as u64 + 1;
    p.handle_eof(end, Direction::ToServer);
    p.handle_eof(end, Direction::ToClient);
    p.handle_close(end);
    out.extend(std::iter::from_fn(|| p.poll_transaction()));
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((ctl, client, server)) = split(data) else { return };
    let mut u = Unstructured::new(ctl);
    let cfg = Arc::new(config(&mut u));
    let actions = actions(&mut u, client, server);
    let whole = run(&cfg, &actions, false);
    let pieces = run(&cfg, &actions, true);
    if whole != pieces {
        let n = whole.iter().zip(&pieces).take_while(|(a, b)| a == b).count();
        panic!(
            "cutting the deliveries into pieces changed the result: {} vs {} transactions, first difference at {n}:\n{:#?}\nvs\n{:#?}",
            whole.len(),
            pieces.len(),
            whole.get(n),
            pieces.get(n)
        );
    }
});
