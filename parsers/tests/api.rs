//! The public API as the binary uses it: progress values, states, counters, timestamps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::sync::Arc;

use apitap_parsers::{
    detect_request, detect_response, Detection, Direction, HttpConfig, HttpEvent, HttpParser, StreamState,
};

fn parser() -> HttpParser {
    HttpParser::new(Arc::new(HttpConfig::default()))
}

#[test]
fn timestamps_come_from_the_caller() {
    let mut p = parser();
    let _ = p.handle_data(10, Direction::ToServer, b"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab");
    let _ = p.handle_data(20, Direction::ToServer, b"cd");
    let _ = p.handle_data(30, Direction::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    let _ = p.handle_data(40, Direction::ToClient, b"ok");
    let t = p.poll_transaction().unwrap();
    assert_eq!(t.ts, 10);
    assert_eq!((t.request_start, t.request_end), (Some(10), Some(20)));
    assert_eq!((t.response_start, t.response_end), (Some(30), Some(40)));
    assert_eq!((t.request_body_len, t.response_body_len), (4, 2));
}

#[test]
fn progress_reports_buffered_bytes_and_ready_transactions() {
    let mut p = parser();
    let pr = p.handle_data(1, Direction::ToServer, b"GET /partial");
    assert_eq!((pr.consumed, pr.ignored, pr.buffered, pr.ready), (12, 0, 12, 0));
    assert_eq!(pr.state, StreamState::Http);
    let pr = p.handle_data(2, Direction::ToServer, b" HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(pr.buffered, 0);
    let pr = p.handle_data(3, Direction::ToClient, b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(pr.ready, 1);
}

#[test]
fn tunnel_bytes_in_the_same_segment_as_the_head_are_ignored() {
    let mut p = parser();
    let _ = p.handle_data(1, Direction::ToServer, b"CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n");
    let pr = p.handle_data(2, Direction::ToClient, b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01");
    assert_eq!((pr.consumed, pr.ignored, pr.state), (19, 3, StreamState::Tunnel));
    let pr = p.handle_data(3, Direction::ToServer, b"\x16\x03\x01\x00");
    assert_eq!((pr.consumed, pr.ignored, pr.state), (0, 4, StreamState::Tunnel));
    let t = p.poll_transaction().unwrap();
    assert_eq!(t.tunnel.as_deref(), Some("CONNECT"));
    assert_eq!(p.stats().tunnels, 1);
    assert_eq!(p.stats().ignored_bytes, 7);
}

#[test]
fn non_http_server_bytes_stop_that_side_only() {
    let mut p = parser();
    let _ = p.handle_data(1, Direction::ToServer, b"GET /zeek.html HTTP/1.1\r\nHost: localhost\r\n\r\n");
    // Zeek's curl-http-09 trace: the server answers without a status line.
    let pr = p.handle_data(2, Direction::ToClient, b"<html>\n  The Zeek Network Security Monitor\n</html>\n");
    assert_eq!(pr.state, StreamState::Stopped);
    let pr = p.handle_data(3, Direction::ToServer, b"GET /again HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(pr.state, StreamState::Http);
    p.handle_close(4);
    let uris: Vec<_> = std::iter::from_fn(|| p.poll_transaction()).map(|t| (t.uri, t.status_code)).collect();
    assert_eq!(uris, vec![(Some("/zeek.html".to_owned()), None), (Some("/again".to_owned()), None)]);
    assert_eq!(p.stats().bad_status_lines, 1);
}

#[test]
fn lower_case_methods_are_kept_and_head_is_case_insensitive() {
    let mut p = parser();
    let _ = p.handle_data(1, Direction::ToServer, b"head /x HTTP/1.1\r\nHost: h\r\n\r\nget /y HTTP/1.1\r\nHost: h\r\n\r\n");
    let _ = p.handle_data(
        2,
        Direction::ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
    );
    let a = p.poll_transaction().unwrap();
    let b = p.poll_transaction().unwrap();
    assert_eq!((a.method.as_deref(), a.response_body_len), (Some("head"), 0));
    assert_eq!((b.method.as_deref(), b.response_body_len), (Some("get"), 1));
    assert!(a.events.contains(&HttpEvent::NonStandardMethod));
}

#[test]
fn nothing_is_parsed_after_close() {
    let mut p = parser();
    p.handle_close(1);
    let pr = p.handle_data(2, Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!((pr.consumed, pr.ignored, pr.state), (0, 18, StreamState::Ended));
    p.handle_gap(3, Direction::ToServer, 5);
    p.handle_eof(4, Direction::ToServer);
    assert!(p.poll_transaction().is_none());
}

#[test]
fn counters_follow_the_traffic() {
    let mut p = parser();
    let req: &[u8] = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    let resp: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let _ = p.handle_data(1, Direction::ToServer, req);
    let _ = p.handle_data(2, Direction::ToClient, resp);
    // After an HTTP/0.9 request the server's bytes are a raw response, status line or not.
    let _ = p.handle_data(3, Direction::ToServer, b"GET /b\r\n");
    let _ = p.handle_data(4, Direction::ToClient, b"HTTP/1.1 200 OK\r\n\r\n");
    p.handle_eof(5, Direction::ToClient);
    let c: std::collections::BTreeMap<_, _> = p.stats().counters().into_iter().collect();
    assert_eq!(c["bytes_to_server"], req.len() as u64 + 8);
    assert_eq!(c["bytes_to_client"], resp.len() as u64 + 19);
    assert_eq!(c["requests"], 2);
    assert_eq!(c["http09_requests"], 1);
    assert_eq!(c["responses"], 3);
    assert_eq!(c["transactions"], 2);
    let last = std::iter::from_fn(|| p.poll_transaction()).last().unwrap();
    assert_eq!((last.status_code, last.response_body_len), (Some(0), 19));
}

#[test]
fn detection_on_the_first_bytes_of_zeek_traces() {
    // http-port-22: HTTP on the SSH port; the query-method trace on port 4711.
    assert_eq!(detect_request(b"GET / HTTP/1.1\r\nHost: 192.168.0.1:22\r\n"), Detection::Http);
    assert_eq!(detect_request(b"QUERY /users HTTP/1.1\r\nHost: example.com\r\n"), Detection::Http);
    assert_eq!(detect_response(b"HTTP/1.1 200 OK\r\n"), Detection::Http);
    // An SSH banner on port 80 is not HTTP.
    assert_eq!(detect_request(b"SSH-2.0-OpenSSH_7.4\r\n"), Detection::NotHttp);
    assert_eq!(detect_response(b"SSH-2.0-OpenSSH_7.4\r\n"), Detection::NotHttp);
    assert_eq!(Direction::ToServer.reverse(), Direction::ToClient);
}

// What the binary sums over connections to enforce a global memory budget.
#[test]
fn buffered_bytes_follow_partial_lines_heads_and_decoders() {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    let mut p = parser();
    assert_eq!(p.buffered_bytes(), 0);
    let _ = p.handle_data(1, Direction::ToServer, b"GET /partial");
    let partial = p.buffered_bytes();
    assert!((12..=64).contains(&partial), "{partial}");
    // A long header line, still open: its bytes are held.
    let _ = p.handle_data(2, Direction::ToServer, b" HTTP/1.1\r\nHost: h\r\nX-Long: ");
    let _ = p.handle_data(3, Direction::ToServer, &[b'a'; 20_000]);
    assert!(p.buffered_bytes() >= 20_000, "{}", p.buffered_bytes());
    // The head is complete: the head buffer is gone and the oversized line buffer released.
    let _ = p.handle_data(4, Direction::ToServer, b"\r\n\r\n");
    assert!(p.buffered_bytes() <= 4096, "{}", p.buffered_bytes());

    // A gzip body being decoded holds the inflater until the body ends.
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(&b"hello world ".repeat(500)).unwrap();
    let body = e.finish().unwrap();
    let head = format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", body.len());
    let before = p.buffered_bytes();
    let _ = p.handle_data(5, Direction::ToClient, head.as_bytes());
    let _ = p.handle_data(6, Direction::ToClient, &body[..30]);
    assert!(p.buffered_bytes() >= before + 40_000, "{}", p.buffered_bytes());
    let _ = p.handle_data(7, Direction::ToClient, &body[30..]);
    let t = p.poll_transaction().unwrap();
    assert_eq!(t.response_body_len, 6000);
    assert!(p.buffered_bytes() <= 2 * 4096, "{}", p.buffered_bytes());
}

// A gap inside a compressed body ends decoding; its state must not stay allocated.
#[test]
fn gap_in_a_compressed_body_releases_the_decoder() {
    let mut p = parser();
    let _ = p.handle_data(1, Direction::ToServer, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let _ = p.handle_data(
        2,
        Direction::ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 100\r\n\r\n\x78\x9c\x4b\x4c",
    );
    assert!(p.buffered_bytes() >= 40_000, "{}", p.buffered_bytes());
    p.handle_gap(3, Direction::ToClient, 10);
    assert!(p.buffered_bytes() < 40_000, "{}", p.buffered_bytes());
}
