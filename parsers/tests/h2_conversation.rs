//! A conversation written by an independent HTTP/2 implementation (the Python `h2` library,
//! tests/h2_fixtures/make.py) against what that script says it sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod h2_common;

use apitap_parsers::Direction;
use h2_common::*;
use serde_json::Value;

fn expected() -> Vec<Value> {
    serde_json::from_str::<Value>(&fixture("expected.json")).unwrap().as_array().unwrap().clone()
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn check(run: &Run) {
    let txs = run.by_stream();
    let exp = expected();
    assert_eq!(txs.len(), exp.len(), "one transaction per stream: {:?}", txs.keys().collect::<Vec<_>>());
    for e in &exp {
        let id = e["stream"].as_u64().unwrap() as u32;
        let t = txs.get(&id).unwrap_or_else(|| panic!("stream {id} missing"));
        let h2 = t.h2.as_ref().unwrap();
        assert_eq!(t.method, s(e, "method"), "stream {id}");
        assert_eq!(t.uri, s(e, "uri"), "stream {id}");
        assert_eq!(t.status_code.map(u64::from), e["status"].as_u64(), "stream {id}");
        assert_eq!(t.version.as_deref(), Some("2"));
        assert_eq!(h2.scheme.as_deref(), Some("http"), "stream {id}");
        assert!(!h2.is_partial(), "stream {id}: {h2:?}");
        for (key, got) in [
            ("host", &t.host),
            ("user_agent", &t.user_agent),
            ("auth_scheme", &t.auth_scheme),
            ("api_key_header", &t.api_key_header),
            ("request_content_type", &t.request_content_type),
            ("response_content_type", &t.response_content_type),
        ] {
            if let Some(want) = s(e, key) {
                assert_eq!(got.as_deref(), Some(want.as_str()), "stream {id} {key}");
            }
        }
        for (key, got) in [
            ("request_body_len", t.request_body_len),
            ("response_body_len", t.response_body_len),
            ("response_body_wire_len", t.response_body_wire_len),
        ] {
            if let Some(want) = e.get(key).and_then(Value::as_u64) {
                assert_eq!(got, want, "stream {id} {key}");
            }
        }
        if let Some(names) = e.get("request_header_names").and_then(Value::as_array) {
            let want: Vec<&str> = names.iter().map(|n| n.as_str().unwrap()).collect();
            assert_eq!(t.request_header_names, want, "stream {id}");
        }
        if let Some(names) = e.get("response_trailer_names").and_then(Value::as_array) {
            let want: Vec<&str> = names.iter().map(|n| n.as_str().unwrap()).collect();
            assert_eq!(h2.response_trailer_names, want, "stream {id}");
        }
        assert_eq!(h2.pushed, e.get("pushed").is_some(), "stream {id}");
        assert_eq!(h2.goaway, e.get("goaway").is_some(), "stream {id}");
        match e.get("reset") {
            Some(r) => assert_eq!(h2.reset, Some((Direction::ToServer, r[1].as_u64().unwrap() as u32)), "stream {id}"),
            None => assert_eq!(h2.reset, None, "stream {id}"),
        }
        match e.get("grpc") {
            Some(g) => {
                let got = t.grpc.as_ref().unwrap_or_else(|| panic!("stream {id} not gRPC"));
                assert_eq!(got.service, s(g, "service"));
                assert_eq!(got.method, s(g, "method"));
                assert_eq!(got.request_messages, g["request_messages"].as_u64().unwrap(), "stream {id}");
                assert_eq!(got.request_message_bytes, g["request_message_bytes"].as_u64().unwrap());
                assert_eq!(got.response_messages, g["response_messages"].as_u64().unwrap(), "stream {id}");
                assert_eq!(got.response_message_bytes, g["response_message_bytes"].as_u64().unwrap());
                assert_eq!(got.compressed_messages, g["compressed_messages"].as_u64().unwrap());
                assert_eq!(got.status.map(u64::from), g["status"].as_u64());
                assert_eq!(got.message, s(g, "message"));
                assert_eq!(got.trailers_only, g["trailers_only"].as_bool().unwrap());
            }
            None => assert!(t.grpc.is_none(), "stream {id}"),
        }
        if let (Some(start), Some(end)) = (t.request_start, t.request_end) {
            assert!(start <= end);
        }
    }
}

#[test]
fn every_stream_becomes_the_transaction_the_sender_described() {
    let chunks = conversation("conversation.txt");
    let run = run(&chunks);
    check(&run);
    assert_eq!(run.stats.prefaces, 1);
    assert_eq!(run.stats.joins, 0);
    assert_eq!(run.stats.grpc_calls, 2);
    assert_eq!(run.stats.pushed_streams, 1);
    assert_eq!(run.stats.streams_reset, 1);
    assert_eq!(run.stats.streams_goaway, 1);
    assert!(run.stats.continuation_frames >= 1, "the big headers need CONTINUATION");
    assert_eq!(run.stats.hpack_errors, 0);
    assert_eq!(run.stats.malformed_frames, 0);
    assert!(run.events.is_empty(), "{:?}", run.events);
    assert!(run.parser.hpack_in_sync(Direction::ToServer) && run.parser.hpack_in_sync(Direction::ToClient));
}

#[test]
fn any_split_of_the_bytes_gives_the_same_transactions() {
    let chunks = conversation("conversation.txt");
    let whole = run(&chunks);
    for step in [1, 7, 9, 100] {
        let split = run_with(parser(Default::default(), Default::default()), &chunks, step, true);
        check(&split);
        let a: Vec<String> = whole.txs.iter().map(|t| format!("{t:?}")).collect();
        let b: Vec<String> = split.txs.iter().map(|t| format!("{t:?}")).collect();
        assert_eq!(a, b, "split every {step} bytes");
    }
}

#[test]
fn the_secret_in_the_query_and_the_token_never_reach_the_transaction() {
    let run = run(&conversation("conversation.txt"));
    let all = format!("{:?}", run.txs);
    assert!(!all.contains("s3cretT0ken"));
    assert!(!all.contains("eyJhbGci"));
    assert!(!all.contains("k-123456"));
    let t = run.by_stream()[&1];
    assert!(t.uri_redacted);
    assert!(t.credential_digest.is_some());
    assert_ne!(t.credential_digest, run.by_stream()[&3].credential_digest);
    // The HPACK tables hold the raw values (they must, to decode later blocks); the parser's
    // Debug output does not show them.
    let chunks = conversation("conversation.txt");
    let open = run_with(parser(Default::default(), Default::default()), &chunks[..6], usize::MAX, false);
    let dump = format!("{:?}", open.parser);
    assert!(dump.contains("value_len"), "the table is in the dump, by length");
    assert!(!dump.contains("eyJhbGci") && !dump.contains("s3cretT0ken"), "{dump}");
}

#[test]
fn bodies_are_captured_decoded() {
    let cfg = apitap_parsers::HttpConfig { max_body_capture: 64, ..Default::default() };
    let run = run_with(parser(cfg, Default::default()), &conversation("conversation.txt"), usize::MAX, true);
    let t = run.by_stream()[&5];
    assert!(
        t.response_body.starts_with(b"{\"error\":\"not found\""),
        "{:?}",
        String::from_utf8_lossy(&t.response_body)
    );
    assert_eq!(t.response_body.len(), 64);
    assert!(t.response_body_truncated);
    let t = run.by_stream()[&3];
    assert!(t.request_body.starts_with(b"{\"from\": \"DE89"));
    assert!(run.stats.http.body_capture_limit_hits >= 2);
}
