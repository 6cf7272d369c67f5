//! Body capture (`HttpConfig::max_body_capture`): decoded prefixes of bodies, truncation,
//! memory accounting, and that the bytes never reach `Debug` output. The simpler framing
//! cases (pipelining, HEAD/204/304, gaps, undecoded codings) are in
//! `transcripts/body_capture.txt`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::io::Write;
use std::sync::Arc;

use apitap_parsers::{Direction, HttpConfig, HttpEvent, HttpParser, HttpTransaction};
use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::Compression;

fn parser(limit: usize) -> HttpParser {
    HttpParser::new(Arc::new(HttpConfig { max_body_capture: limit, ..HttpConfig::default() }))
}

/// A JSON document of about `n` bytes whose every position differs from its neighbours, so a
/// misplaced byte cannot go unnoticed.
fn json(n: usize) -> Vec<u8> {
    let mut out = b"{\"items\":[".to_vec();
    let mut i = 0u32;
    while out.len() < n {
        out.extend_from_slice(
            format!("{{\"id\":{i},\"name\":\"item-{}\"}},", i.wrapping_mul(2_654_435_761)).as_bytes(),
        );
        i += 1;
    }
    out.extend_from_slice(b"{}]}");
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `data` in chunked transfer coding, `size` bytes per chunk.
fn chunked(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Feeds `data` in segments whose sizes cycle through `sizes`.
fn feed(p: &mut HttpParser, ts: u64, dir: Direction, data: &[u8], sizes: &[usize]) {
    let mut rest = data;
    for &n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at(n.min(rest.len()));
        let pr = p.handle_data(ts, dir, now);
        assert_eq!(pr.consumed, now.len());
        rest = later;
    }
}

fn gzip_chunked_exchange(p: &mut HttpParser, plain: &[u8], sizes: &[usize]) -> HttpTransaction {
    let mut response = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    response.extend_from_slice(&chunked(&gzip(plain), 700));
    let _ = p.handle_data(1, Direction::ToServer, b"GET /accounts HTTP/1.1\r\nHost: bank\r\n\r\n");
    feed(p, 2, Direction::ToClient, &response, sizes);
    p.poll_transaction().expect("the exchange is complete")
}

#[test]
fn chunked_gzip_response_is_captured_decoded_and_cut_at_the_limit() {
    let plain = json(20_000);
    let mut p = parser(1000);
    let t = gzip_chunked_exchange(&mut p, &plain, &[usize::MAX]);
    assert_eq!(t.response_body_len, plain.len() as u64);
    assert_eq!(t.response_body, &plain[..1000]);
    assert!(t.response_body_truncated);
    assert_eq!(t.events, vec![HttpEvent::BodyCaptureLimit { dir: Direction::ToClient, limit: 1000 }]);
    assert_eq!(p.stats().body_capture_limit_hits, 1);

    // Room for all of it: the whole decoded document, not truncated, no event.
    let mut p = parser(64 * 1024);
    let t = gzip_chunked_exchange(&mut p, &plain, &[usize::MAX]);
    assert_eq!(t.response_body, plain);
    assert!(!t.response_body_truncated);
    assert!(t.events.is_empty(), "{:?}", t.events);
    assert_eq!(p.stats().body_capture_limit_hits, 0);
}

#[test]
fn a_body_exactly_as_long_as_the_limit_is_whole() {
    let plain = json(3000);
    let mut p = parser(plain.len());
    let t = gzip_chunked_exchange(&mut p, &plain, &[usize::MAX]);
    assert_eq!((t.response_body.len(), t.response_body_truncated), (plain.len(), false));
    let mut p = parser(plain.len() - 1);
    let t = gzip_chunked_exchange(&mut p, &plain, &[usize::MAX]);
    assert_eq!((t.response_body.len(), t.response_body_truncated), (plain.len() - 1, true));
}

#[test]
fn bodies_split_over_many_segments_are_captured_whole() {
    let plain = json(9000);
    let whole = gzip_chunked_exchange(&mut parser(4096), &plain, &[usize::MAX]);
    for sizes in [&[1][..], &[3, 1, 7, 2], &[13, 700, 5], &[4096]] {
        let t = gzip_chunked_exchange(&mut parser(4096), &plain, sizes);
        assert_eq!(t.response_body, &plain[..4096], "segments {sizes:?}");
        assert_eq!(t, whole, "segments {sizes:?}");
    }

    // A plain Content-Length request body, one byte per segment, next to a deflate response.
    let body = json(2500);
    let mut request = format!("PUT /p HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(&body);
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(&body).unwrap();
    let deflated = e.finish().unwrap();
    let mut response =
        format!("HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: {}\r\n\r\n", deflated.len())
            .into_bytes();
    response.extend_from_slice(&deflated);
    let mut p = parser(64 * 1024);
    feed(&mut p, 1, Direction::ToServer, &request, &[1]);
    feed(&mut p, 2, Direction::ToClient, &response, &[1, 2, 3]);
    let t = p.poll_transaction().unwrap();
    assert_eq!(t.request_body, body);
    assert_eq!(t.response_body, body);
    assert!(!t.request_body_truncated && !t.response_body_truncated);
}

#[test]
fn pipelined_requests_split_across_segments_keep_their_own_bodies() {
    let bodies: Vec<Vec<u8>> =
        (0..4).map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i * 37)).into_bytes()).collect();
    let mut client = Vec::new();
    let mut server = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        if i % 2 == 0 {
            client.extend_from_slice(
                format!("POST /r{i} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", b.len()).as_bytes(),
            );
            client.extend_from_slice(b);
        } else {
            client.extend_from_slice(
                format!("POST /r{i} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes(),
            );
            client.extend_from_slice(&chunked(b, 10));
        }
        let reply = format!("{{\"reply\":{i}}}");
        server
            .extend_from_slice(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{reply}", reply.len()).as_bytes());
    }
    let mut p = parser(1024);
    // Segments of 29 bytes cross every message boundary somewhere.
    feed(&mut p, 1, Direction::ToServer, &client, &[29]);
    feed(&mut p, 2, Direction::ToClient, &server, &[29]);
    let got: Vec<HttpTransaction> = std::iter::from_fn(|| p.poll_transaction()).collect();
    assert_eq!(got.len(), 4);
    for (i, t) in got.iter().enumerate() {
        assert_eq!(t.uri.as_deref(), Some(format!("/r{i}").as_str()));
        assert_eq!(t.request_body, bodies[i], "request {i}");
        assert_eq!(t.response_body, format!("{{\"reply\":{i}}}").as_bytes(), "response {i}");
    }
}

#[test]
fn a_gap_in_a_compressed_body_keeps_the_decoded_prefix() {
    let plain = json(50_000);
    let z = gzip(&plain);
    let mut p = parser(64 * 1024);
    let _ = p.handle_data(1, Direction::ToServer, b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    let head = format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", z.len());
    let _ = p.handle_data(2, Direction::ToClient, head.as_bytes());
    let _ = p.handle_data(3, Direction::ToClient, &z[..2000]);
    p.handle_gap(4, Direction::ToClient, 100);
    let _ = p.handle_data(5, Direction::ToClient, &z[2100..]);
    let t = p.poll_transaction().unwrap();
    assert!(t.response_gap && t.response_body_truncated);
    let n = t.response_body.len();
    assert!(n > 2000, "2000 compressed bytes of JSON decode to more than that: {n}");
    assert_eq!(t.response_body, &plain[..n], "the prefix decoded before the gap");
}

#[test]
fn decode_limit_truncates_the_capture() {
    let plain = json(30_000);
    let cfg = HttpConfig { max_body_capture: 64 * 1024, max_decoded_body: 10_000, ..HttpConfig::default() };
    let mut p = HttpParser::new(Arc::new(cfg));
    let t = gzip_chunked_exchange(&mut p, &plain, &[usize::MAX]);
    assert_eq!(t.response_body, &plain[..10_000]);
    assert!(t.response_body_truncated);
    assert!(t.events.contains(&HttpEvent::DecodeLimit { dir: Direction::ToClient }));
}

#[test]
fn limit_zero_keeps_nothing() {
    let plain = json(5000);
    let t = gzip_chunked_exchange(&mut parser(0), &plain, &[100]);
    assert_eq!(t.response_body_len, plain.len() as u64);
    assert!(t.response_body.is_empty() && t.request_body.is_empty());
    assert!(!t.response_body_truncated && !t.request_body_truncated);
    assert!(t.events.is_empty());
}

#[test]
fn buffered_bytes_grow_with_the_capture_and_fall_when_polled() {
    let body = json(50_000);
    let head = format!("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", body.len());
    let mut p = parser(64 * 1024);
    let mut off = parser(0);
    let _ = p.handle_data(1, Direction::ToServer, head.as_bytes());
    let _ = off.handle_data(1, Direction::ToServer, head.as_bytes());
    let mut last = p.buffered_bytes();
    for (i, piece) in body.chunks(5000).enumerate() {
        let _ = p.handle_data(2, Direction::ToServer, piece);
        let _ = off.handle_data(2, Direction::ToServer, piece);
        let kept = (i + 1) * 5000;
        assert!(p.buffered_bytes() >= kept.min(body.len()), "{} < {kept}", p.buffered_bytes());
        assert!(p.buffered_bytes() >= last);
        last = p.buffered_bytes();
        assert!(off.buffered_bytes() < 1024, "nothing kept without capture: {}", off.buffered_bytes());
    }
    // The request is over; its transaction waits for the response, and so does its body.
    assert!(p.buffered_bytes() >= body.len());
    assert!(p.buffered_bytes() <= 64 * 1024 + 1024, "capacity is capped at the limit: {}", p.buffered_bytes());
    let _ = p.handle_data(3, Direction::ToClient, b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}");
    assert!(p.buffered_bytes() >= body.len() + 2, "ready, not yet polled");
    let t = p.poll_transaction().unwrap();
    assert_eq!(t.request_body, body);
    assert!(p.buffered_bytes() < 1024, "{} after the poll", p.buffered_bytes());
}

const SECRET: &str = "Qx7KpWm4Zt";

#[test]
fn debug_output_shows_no_body_bytes() {
    let body = format!("{{\"iban\":\"GB33BUKB20201555555555\",\"password\":\"{SECRET}\"}}");
    let request = format!("POST /login HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let reply = format!("{{\"token\":\"{SECRET}\"}}");
    let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{reply}", reply.len());
    let mut p = parser(1024);
    let _ = p.handle_data(1, Direction::ToServer, request.as_bytes());
    let _ = p.handle_data(2, Direction::ToClient, &response.as_bytes()[..response.len() - 3]);
    // Mid-body, the parser holds the bytes: its own Debug output must not show them either.
    for s in [format!("{p:?}"), format!("{p:#?}")] {
        assert!(!s.contains(SECRET) && !s.contains("GB33"), "{s}");
        assert!(!s.contains("81, 120, 55, 75"), "the secret as a byte list: {s}");
    }
    let _ = p.handle_data(3, Direction::ToClient, &response.as_bytes()[response.len() - 3..]);
    let t = p.poll_transaction().unwrap();
    assert_eq!(t.request_body, body.as_bytes());
    assert_eq!(t.response_body, reply.as_bytes());
    for s in [format!("{t:?}"), format!("{t:#?}")] {
        assert!(!s.contains(SECRET) && !s.contains("GB33"), "{s}");
        assert!(!s.contains("81, 120, 55, 75"), "the secret as a byte list: {s}");
        assert!(s.contains(&format!("request_body: <{} bytes>", body.len())), "{s}");
    }
}
