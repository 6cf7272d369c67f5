//! `Upgrade: h2c`: the HTTP/1.x parser stops at the 101 (its transaction's `tunnel` reads
//! `h2c`), and the HTTP/2 parser carries on from the bytes it did not consume, with the
//! upgrading request as stream 1 (fixture written by the Python h2 library).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod h2_common;

use std::sync::Arc;

use apitap_parsers::h2::{H2Config, H2ConnParser, H2Stats};
use apitap_parsers::{Direction, HttpConfig, HttpConnParser, HttpStats, StreamState};
use h2_common::*;

#[test]
fn the_h2_parser_takes_over_after_the_101() {
    let chunks = conversation("upgrade.txt");
    let cfg = Arc::new(HttpConfig::default());
    let mut h1 = HttpConnParser::new(Arc::clone(&cfg));
    let mut h1_stats = HttpStats::default();
    let _ = h1.handle_data(&mut h1_stats, 1, chunks[0].0, &chunks[0].1);
    let progress = h1.handle_data(&mut h1_stats, 2, chunks[1].0, &chunks[1].1);
    assert_eq!(progress.state, StreamState::Tunnel);
    let upgraded = h1.poll_transaction().expect("the 101 is emitted at once");
    assert_eq!(upgraded.tunnel.as_deref(), Some("h2c"));
    assert_eq!(upgraded.status_code, Some(101));
    // What the HTTP/1.x parser did not consume is HTTP/2.
    let rest = &chunks[1].1[progress.consumed..];
    assert!(apitap_parsers::h2::looks_like_h2(rest));

    let mut h2 = H2ConnParser::after_upgrade(Arc::clone(&cfg), Arc::new(H2Config::default()), &upgraded);
    let mut stats = H2Stats::default();
    let _ = h2.handle_data(&mut stats, 2, Direction::ToClient, rest);
    for (n, (dir, bytes)) in chunks.iter().enumerate().skip(2) {
        let _ = h2.handle_data(&mut stats, 3 + n as u64, *dir, bytes);
    }
    h2.handle_close(&mut stats, 10);
    let mut txs = Vec::new();
    while let Some(t) = h2.poll_transaction() {
        txs.push(t);
    }
    assert_eq!(txs.len(), 2);
    let one = &txs[0];
    let facts = one.h2.as_ref().unwrap();
    assert_eq!((facts.stream_id, facts.upgraded), (1, true));
    assert_eq!(one.method.as_deref(), Some("GET"));
    assert_eq!(one.uri.as_deref(), Some("/v1/status?api_key=REDACTED"));
    assert_eq!(one.host.as_deref(), Some("gw.bank.test"));
    assert_eq!(one.user_agent.as_deref(), Some("curl/8"));
    assert_eq!(one.status_code, Some(200));
    assert_eq!(one.response_version.as_deref(), Some("2"));
    assert_eq!(one.response_body_len, br#"{"status":"up"}"#.len() as u64);
    assert_eq!(one.response_content_type.as_deref(), Some("application/json"));
    let three = &txs[1];
    assert_eq!(three.uri.as_deref(), Some("/v1/next"));
    assert_eq!(three.status_code, Some(204));
    assert_eq!(stats.prefaces, 1);
    assert_eq!(stats.joins, 0);
}
