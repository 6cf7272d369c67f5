//! Frame rules that the fixture conversations do not exercise: padding with priority on
//! HEADERS, bad padding, unknown frame types, a CONTINUATION on the wrong stream,
//! SETTINGS_MAX_FRAME_SIZE, 1xx responses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod h2_common;

use apitap_parsers::h2::H2Event;
use apitap_parsers::Direction;
use h2_common::*;

fn server_start() -> Vec<u8> {
    frame(4, 0, 0, &[])
}

fn status(code: &str) -> Vec<u8> {
    literal(":status", code)
}

#[test]
fn padded_headers_with_priority_and_padded_data() {
    let mut c = client_start();
    let mut block = vec![0x83, 0x86];
    block.extend(literal(":path", "/p"));
    // PADDED | PRIORITY | END_HEADERS: pad length 3, 5 bytes of priority, block, 3 bytes pad.
    let mut payload = vec![3, 0x80, 0, 0, 0, 200];
    payload.extend(&block);
    payload.extend([0xee; 3]);
    c.extend(frame(1, 0x8 | 0x20 | 0x4, 1, &payload));
    // DATA, PADDED | END_STREAM: pad 4, "hello", 4 bytes of padding.
    let mut data = vec![4];
    data.extend(b"hello");
    data.extend([0; 4]);
    c.extend(frame(0, 0x8 | 0x1, 1, &data));
    let mut s = server_start();
    s.extend(frame(1, 0x4 | 0x1, 1, &status("200")));
    let run = run(&[(Direction::ToServer, c), (Direction::ToClient, s)]);
    let t = &run.txs[0];
    assert_eq!((t.method.as_deref(), t.uri.as_deref()), (Some("POST"), Some("/p")));
    assert_eq!(t.request_body_len, 5);
    assert_eq!(t.status_code, Some(200));
    assert_eq!(run.stats.malformed_frames, 0);
}

#[test]
fn padding_longer_than_the_frame_is_malformed() {
    let mut c = client_start();
    c.extend(get(1, "/", false));
    c.extend(frame(0, 0x8 | 0x1, 1, &[9, b'a', b'b']));
    let run = run(&[(Direction::ToServer, c)]);
    assert_eq!(run.stats.malformed_frames, 1);
    assert!(run.events.contains(&H2Event::MalformedFrame { dir: Direction::ToServer, frame_type: 0 }));
    assert_eq!(run.txs[0].request_body_len, 0);
}

#[test]
fn unknown_frame_types_are_skipped() {
    let mut c = client_start();
    c.extend(frame(0xfa, 0xff, 1, &[1, 2, 3, 4, 5]));
    c.extend(frame(0x10, 0, 0, &[]));
    c.extend(get(1, "/after-unknown", true));
    let run = run(&[(Direction::ToServer, c)]);
    assert_eq!(run.stats.unknown_frames, 2);
    assert_eq!(run.txs[0].uri.as_deref(), Some("/after-unknown"));
    assert_eq!(run.stats.malformed_frames, 0);
}

#[test]
fn a_frame_where_continuation_was_due_drops_the_block() {
    let mut c = client_start();
    let mut block = vec![0x82, 0x86];
    block.extend(literal(":path", "/a"));
    c.extend(frame(1, 0x1, 1, &block)); // no END_HEADERS
    c.extend(frame(9, 0x4, 3, &[0x82])); // CONTINUATION on the wrong stream
    c.extend(get(5, "/b", true));
    let run = run(&[(Direction::ToServer, c)]);
    assert!(run.stats.malformed_frames >= 1);
    let b = run.txs.iter().find(|t| t.uri.as_deref() == Some("/b")).expect("framing went on");
    assert_eq!(b.method.as_deref(), Some("GET"));
}

#[test]
fn max_frame_size_follows_the_receivers_settings() {
    let mut c = client_start();
    c.extend(get(1, "/", true));
    // The client allows frames of 32,768 bytes (SETTINGS_MAX_FRAME_SIZE = 5).
    c.extend(frame(4, 0, 0, &[0, 5, 0, 0, 0x80, 0]));
    let mut s = server_start();
    s.extend(frame(1, 0x4, 1, &status("200")));
    s.extend(frame(0, 0, 1, &vec![1u8; 20_000]));
    s.extend(frame(0, 0x1, 1, &vec![1u8; 40_000]));
    let run = run(&[(Direction::ToServer, c), (Direction::ToClient, s)]);
    assert_eq!(run.stats.oversized_frames, 1, "only the 40,000-byte frame");
    assert!(run.events.contains(&H2Event::OversizedFrame { dir: Direction::ToClient, len: 40_000, max: 32_768 }));
    assert_eq!(run.txs[0].response_body_len, 60_000);
}

#[test]
fn informational_responses_wait_for_the_final_one() {
    let mut c = client_start();
    c.extend(get(1, "/", true));
    let mut s = server_start();
    s.extend(frame(1, 0x4, 1, &status("103")));
    let mut fin = status("200");
    fin.extend(literal("content-type", "text/plain"));
    s.extend(frame(1, 0x4, 1, &fin));
    s.extend(frame(0, 0x1, 1, b"ok"));
    let run = run(&[(Direction::ToServer, c), (Direction::ToClient, s)]);
    let t = &run.txs[0];
    assert_eq!((t.info_code, t.status_code), (Some(103), Some(200)));
    assert_eq!(t.response_content_type.as_deref(), Some("text/plain"));
    assert_eq!(t.response_body_len, 2);
    assert!(t.h2.as_ref().unwrap().response_trailer_names.is_empty());
}

#[test]
fn a_connection_closed_mid_stream_marks_the_stream() {
    let mut c = client_start();
    c.extend(get(1, "/", true));
    let mut s = server_start();
    s.extend(frame(1, 0x4, 1, &status("200")));
    s.extend(frame(0, 0, 1, b"partial"));
    let run = run(&[(Direction::ToServer, c), (Direction::ToClient, s)]);
    let t = &run.txs[0];
    assert_eq!(t.response_body_len, 7);
    assert!(t.h2.as_ref().unwrap().events.contains(&H2Event::Interrupted { dir: Direction::ToClient }));
    assert!(t.response_end.is_some(), "ends when the connection closed");
}
