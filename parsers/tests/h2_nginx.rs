//! Real HTTP/2 traffic: nginx 1.22 (`listen ... http2`, cleartext) answering curl and a
//! Python h2 client, captured on loopback (tests/h2_fixtures/nginx/make.sh). Each TCP
//! connection's payload, as tshark extracted it, goes through our parser; the transactions
//! are compared with tshark's own HTTP/2 dissection of the same capture (tshark.tsv).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod h2_common;

use std::collections::BTreeMap;

use apitap_parsers::Direction;
use h2_common::*;

const SERVER_PORT: &str = "18080";

/// What tshark says about one stream.
#[derive(Debug, Default)]
struct Oracle {
    request: BTreeMap<String, String>,
    response: BTreeMap<String, String>,
    request_data: u64,
    response_data: u64,
}

/// tshark.tsv, per TCP connection and stream id.
fn oracle() -> BTreeMap<(u32, u32), Oracle> {
    let mut out: BTreeMap<(u32, u32), Oracle> = BTreeMap::new();
    for line in fixture("nginx/tshark.tsv").lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let conn: u32 = cols[0].parse().unwrap();
        let from_client = cols[1] != SERVER_PORT;
        let ids: Vec<u32> = cols[2].split(';').map(|s| s.parse().unwrap()).collect();
        let types: Vec<u8> = cols[3].split(';').map(|s| s.parse().unwrap()).collect();
        let lens: Vec<u64> = cols[4].split(';').map(|s| s.parse().unwrap()).collect();
        let names: Vec<&str> = cols.get(6).map_or(vec![], |c| c.split(';').filter(|s| !s.is_empty()).collect());
        let values: Vec<&str> = cols.get(7).map_or(vec![], |c| c.split(';').collect());
        assert!(types.iter().filter(|&&t| t == 1).count() <= 1, "one HEADERS frame per packet: {line}");
        for ((&id, &kind), &len) in ids.iter().zip(&types).zip(&lens) {
            if id == 0 {
                continue;
            }
            let o = out.entry((conn, id)).or_default();
            match (kind, from_client) {
                (0, true) => o.request_data += len,
                (0, false) => o.response_data += len,
                (1, _) => {
                    let map = if from_client { &mut o.request } else { &mut o.response };
                    for (n, v) in names.iter().zip(&values) {
                        map.insert(n.to_string(), v.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn connection(n: u32) -> Vec<Chunk> {
    conversation(&format!("nginx/conversation{n}.txt"))
}

#[test]
fn transactions_match_tsharks_dissection() {
    let oracle = oracle();
    assert_eq!(oracle.len(), 7, "three curl connections of one request, one connection of four");
    for conn in 0..4 {
        let run = run(&connection(conn));
        assert_eq!(run.stats.prefaces, 1);
        let txs = run.by_stream();
        let expected: Vec<(&(u32, u32), &Oracle)> = oracle.iter().filter(|((c, _), _)| *c == conn).collect();
        assert_eq!(txs.len(), expected.len(), "connection {conn}");
        for ((_, id), o) in expected {
            let t = txs[id];
            let want_uri = o.request[":path"].replace("token=s3cret", "token=REDACTED");
            assert_eq!(t.method.as_deref(), Some(o.request[":method"].as_str()), "{conn}/{id}");
            assert_eq!(t.uri.as_deref(), Some(want_uri.as_str()), "{conn}/{id}");
            assert_eq!(t.host.as_deref(), Some(o.request[":authority"].as_str()));
            assert_eq!(t.user_agent.as_deref(), o.request.get("user-agent").map(String::as_str));
            assert_eq!(t.request_content_type.as_deref(), o.request.get("content-type").map(String::as_str));
            assert_eq!(t.status_code.map(|s| s.to_string()).as_deref(), Some(o.response[":status"].as_str()));
            assert_eq!(t.response_content_type.as_deref(), o.response.get("content-type").map(String::as_str));
            assert_eq!(t.request_body_len, o.request_data, "{conn}/{id}");
            assert_eq!(t.response_body_len, o.response_data, "{conn}/{id}");
            if let Some(cl) = o.response.get("content-length") {
                assert_eq!(t.response_body_len.to_string(), *cl);
            }
            assert!(!t.h2.as_ref().unwrap().is_partial());
            assert!(t.request_start <= t.request_end && t.response_start <= t.response_end);
        }
    }
}

/// The capture of the four-request connection, started after its first request: what is
/// recovered. nginx encodes its responses without the dynamic table, so they decode whole;
/// the client refers to the authority and user agent it inserted in the first request.
#[test]
fn a_capture_started_after_the_first_request_recovers_the_rest() {
    let chunks = connection(3);
    // The client's second HEADERS (stream 3) is the first chunk kept.
    let start =
        chunks.iter().position(|(d, b)| *d == Direction::ToServer && b.len() > 9 && b[3] == 1 && b[8] == 3).unwrap();
    let run = run(&chunks[start..]);
    assert_eq!(run.stats.joins, 2);
    let oracle = oracle();
    let txs = run.by_stream();
    assert_eq!(txs.keys().copied().collect::<Vec<_>>(), vec![3, 5, 7]);
    for (id, t) in txs {
        let o = &oracle[&(3, id)];
        assert_eq!(t.method.as_deref(), Some(o.request[":method"].as_str()), "{id}");
        assert_eq!(t.uri.as_deref(), Some(o.request[":path"].as_str()), "{id}");
        assert_eq!(t.status_code.map(|s| s.to_string()).as_deref(), Some(o.response[":status"].as_str()));
        assert_eq!(t.response_body_len, o.response_data);
        assert_eq!(t.request_body_len, o.request_data);
        assert_eq!(t.response_content_type.as_deref(), o.response.get("content-type").map(String::as_str));
        // Authority and user agent were table entries from before the join.
        assert_eq!(t.host, None);
        assert_eq!(t.h2.as_ref().unwrap().request_unknown_fields, 2, "{id}");
        assert_eq!(t.h2.as_ref().unwrap().response_unknown_fields, 0, "{id}");
    }
    assert_eq!(run.stats.transactions_partial, 3);
}
