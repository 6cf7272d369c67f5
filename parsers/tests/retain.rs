//! Retained request headers (`HttpConfig::retain_headers`): the configured values are kept
//! exactly and whole, nothing is kept by default, over-limit values are dropped with an event,
//! the memory they hold is accounted for, and the values never reach `Debug` output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::sync::Arc;

use apitap_parsers::http::RetainedHeaders;
use apitap_parsers::{Direction, HttpConfig, HttpEvent, HttpParser, HttpTransaction};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJjbGllbnRfaWQiOiJ0cHAtNDIifQ.c2lnbmF0dXJl";

fn config(names: &[&str]) -> HttpConfig {
    HttpConfig { retain_headers: names.iter().map(|s| s.to_string()).collect(), ..HttpConfig::default() }
}

/// One exchange on a fresh connection; the request carries `headers`.
fn exchange(cfg: HttpConfig, headers: &str) -> (HttpTransaction, HttpParser) {
    let mut p = HttpParser::new(Arc::new(cfg));
    let req = format!("GET /accounts HTTP/1.1\r\nHost: bank\r\n{headers}\r\n");
    let _ = p.handle_data(1, Direction::ToServer, req.as_bytes());
    let _ =
        p.handle_data(2, Direction::ToClient, b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=srv\r\nContent-Length: 2\r\n\r\n[]");
    let t = p.poll_transaction().expect("one transaction");
    (t, p)
}

fn pairs(r: &RetainedHeaders) -> Vec<(String, String)> {
    r.iter().map(|(n, v)| (n.to_owned(), String::from_utf8(v.to_vec()).unwrap())).collect()
}

#[test]
fn default_config_retains_nothing() {
    let (t, _) = exchange(HttpConfig::default(), &format!("Authorization: Bearer {TOKEN}\r\nCookie: sid=abc\r\n"));
    assert!(t.retained.is_empty());
    assert_eq!(t.retained.get("authorization"), None);
    assert!(HttpConfig::default().retain_headers.is_empty());
}

#[test]
fn configured_values_are_kept_exactly_in_header_order() {
    let cfg = config(&["authorization", "x-forwarded-for", "cookie", "set-cookie"]);
    let headers = format!(
        "X-Forwarded-For: 198.51.100.7, 10.1.2.3\r\nAUTHORIZATION: Bearer {TOKEN}\r\nAccept: */*\r\n\
         cookie: sid=abc; theme=dark\r\nX-Forwarded-For: 203.0.113.9\r\n"
    );
    let (t, _) = exchange(cfg, &headers);
    assert_eq!(
        pairs(&t.retained),
        vec![
            ("x-forwarded-for".into(), "198.51.100.7, 10.1.2.3".into()),
            ("authorization".into(), format!("Bearer {TOKEN}")),
            ("cookie".into(), "sid=abc; theme=dark".into()),
            ("x-forwarded-for".into(), "203.0.113.9".into()),
        ]
    );
    assert_eq!(t.retained.get("Authorization"), Some(format!("Bearer {TOKEN}").as_bytes()));
    assert_eq!(t.retained.get("X-FORWARDED-FOR"), Some(&b"198.51.100.7, 10.1.2.3"[..]), "the first occurrence");
    // Response headers are never retained, even under a configured name.
    assert_eq!(t.retained.get("set-cookie"), None);
    assert_eq!(t.retained.len(), 4);
}

#[test]
fn configured_names_match_whatever_their_case() {
    let (t, _) = exchange(config(&["X-Api-Key"]), "x-api-KEY: k-123\r\n");
    assert_eq!(pairs(&t.retained), vec![("x-api-key".into(), "k-123".into())]);
}

#[test]
fn each_pipelined_request_keeps_its_own_values() {
    let mut p = HttpParser::new(Arc::new(config(&["authorization"])));
    let _ = p.handle_data(
        1,
        Direction::ToServer,
        b"GET /a HTTP/1.1\r\nAuthorization: Bearer one\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\nAuthorization: Bearer three\r\n\r\n",
    );
    let r = b"HTTP/1.1 204 No Content\r\n\r\n";
    for _ in 0..3 {
        let _ = p.handle_data(2, Direction::ToClient, r);
    }
    let got: Vec<Option<Vec<u8>>> = std::iter::from_fn(|| p.poll_transaction())
        .map(|t| t.retained.get("authorization").map(<[u8]>::to_vec))
        .collect();
    assert_eq!(got, vec![Some(b"Bearer one".to_vec()), None, Some(b"Bearer three".to_vec())]);
}

#[test]
fn over_limit_values_are_dropped_whole_with_an_event() {
    let cfg = HttpConfig {
        max_retained_header_bytes: 16,
        max_retained_bytes_total: 23,
        ..config(&["authorization", "cookie", "x-api-key"])
    };
    // 30 bytes: over the per-value limit. Then 10 + 10 = 20 fit the total, and 4 more do not.
    let headers = "Authorization: Bearer 0123456789abcdefghijklm\r\nCookie: sid=abcdef\r\nX-Api-Key: k-12345678\r\nCookie: x=12\r\n";
    let (t, p) = exchange(cfg, headers);
    assert_eq!(
        pairs(&t.retained),
        vec![("cookie".into(), "sid=abcdef".into()), ("x-api-key".into(), "k-12345678".into())]
    );
    let drops: Vec<&HttpEvent> = t.events.iter().filter(|e| e.name() == "retain_limit").collect();
    assert_eq!(
        drops,
        vec![&HttpEvent::RetainLimit { index: 0, len: 30 }, &HttpEvent::RetainLimit { index: 1, len: 4 }]
    );
    assert_eq!(p.stats().retain_limit_hits, 2);
    assert!(p.stats().counters().contains(&("retain_limit_hits", 2)));
    // Nothing of a dropped value is kept, not even a prefix.
    assert!(!format!("{t:?}").contains("0123"));
}

#[test]
fn debug_output_shows_names_and_lengths_never_values() {
    let secret = "Qx7KpWm4Zt";
    let cfg = config(&["authorization", "cookie", "x-api-key"]);
    let headers = format!("Authorization: Basic {secret}\r\nCookie: JSESSIONID={secret}\r\nX-Api-Key: {secret}\r\n");
    let (t, _) = exchange(cfg, &headers);
    assert_eq!(t.retained.len(), 3);
    let debug = format!("{t:?}");
    for window in secret.as_bytes().windows(4) {
        let w = std::str::from_utf8(window).unwrap();
        assert!(!debug.contains(w), "{w} leaked: {debug}");
    }
    assert!(debug.contains("authorization: <16 bytes>"), "{debug}");
    assert!(debug.contains("cookie: <21 bytes>"), "{debug}");
    assert_eq!(format!("{:?}", t.retained), "[authorization: <16 bytes>, cookie: <21 bytes>, x-api-key: <10 bytes>]");
}

#[test]
fn retained_values_count_in_buffered_bytes_until_polled() {
    // The same exchange with and without retention: the difference is the retained value.
    let mut with = HttpParser::new(Arc::new(config(&["authorization"])));
    let mut without = HttpParser::new(Arc::new(HttpConfig::default()));
    let value = "x".repeat(4000);
    let req = format!("GET /a HTTP/1.1\r\nAuthorization: Bearer {value}\r\n\r\n");
    let extra = |a: &HttpParser, b: &HttpParser| a.buffered_bytes() - b.buffered_bytes();
    for p in [&mut with, &mut without] {
        let _ = p.handle_data(1, Direction::ToServer, req.as_bytes());
    }
    assert!(extra(&with, &without) >= 4007, "a pending request holds its value");
    for p in [&mut with, &mut without] {
        let _ = p.handle_data(2, Direction::ToClient, b"HTTP/1.1 204 No Content\r\n\r\n");
    }
    assert!(extra(&with, &without) >= 4007, "a ready transaction holds its value");
    let t = with.poll_transaction().unwrap();
    let _ = without.poll_transaction().unwrap();
    assert_eq!(t.retained.get("authorization").map(<[u8]>::len), Some(4007));
    assert_eq!(extra(&with, &without), 0, "polling releases it");
}
