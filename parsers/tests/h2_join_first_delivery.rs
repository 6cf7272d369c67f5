//! A capture that joins an HTTP/2 connection where the client's first delivery is one whole
//! HEADERS frame, shorter than a connection preface: its request must be read at once, before
//! the server's response to it, not held until the client's next delivery. Bytes from a real
//! capture (h2load against nginx 1.22 on loopback, the first 39 packets cut off), as tshark
//! printed them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use apitap_parsers::h2::{H2Config, H2ConnParser, H2Stats};
use apitap_parsers::{Direction, HttpConfig};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn a_joined_clients_first_headers_frame_is_read_before_the_response() {
    let deliveries = [
        // The end of the previous stream's response (DATA on stream 17).
        (Direction::ToClient, "0000170001000000117b2244617461223a7b2242616c616e6365223a5b5d7d7d"),
        // The request on stream 19: `:path: /accounts/10` as a literal, `:scheme: http`,
        // `:method: GET`, and two references to entries made before the capture started.
        (Direction::ToServer, "00000e0105000000130488606421eda928602086bf82be"),
        // Its response: HEADERS, then DATA with END_STREAM.
        (Direction::ToClient, "000035010400000013887689aa6355e580ae212e1f6196dd6d5f4a084a693f75040138a01bb8215c65a53168df5f8b1d75d0620d263d4c7441ea5c023233"),
        (Direction::ToClient, "0000170001000000137b2244617461223a7b2242616c616e6365223a5b5d7d7d"),
    ];
    let mut p = H2ConnParser::new(Arc::new(HttpConfig::default()), Arc::new(H2Config::default()));
    let mut stats = H2Stats::default();
    let mut done = Vec::new();
    for (i, (dir, bytes)) in deliveries.iter().enumerate() {
        let _ = p.handle_data(&mut stats, i as u64, *dir, &hex(bytes));
        while let Some(t) = p.poll_transaction() {
            done.push(t);
        }
    }
    let t = done.iter().find(|t| t.h2.as_ref().unwrap().stream_id == 19).unwrap_or_else(|| panic!("stream 19 not finished: {done:?}"));
    assert_eq!((t.method.as_deref(), t.uri.as_deref(), t.status_code), (Some("GET"), Some("/accounts/10"), Some(200)), "{t:?}");
    assert_eq!(t.h2.as_ref().unwrap().request_unknown_fields, 2, "the two references to entries from before the join");
    assert_eq!(t.response_body_len, r#"{"Data":{"Balance":[]}}"#.len() as u64);
}
