//! No part of a credential may reach a transaction, whatever its position in the target, the
//! spelling of its name or the encoding of its value. Every combination below is sent through
//! the parser and the stored strings are searched for any four characters of the secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::sync::Arc;

use apitap_parsers::{Direction, HttpConfig, HttpParser, HttpTransaction};

/// The two halves of every secret; what joins them varies.
const HEAD: &str = "Qx7Kp";
const TAIL: &str = "Wm4Zt";

/// Ways to join the halves: plain, encoded separators, an encoded `%`, form-encoded blank, NUL,
/// a raw blank.
const JOINS: &[&str] = &["", "%26", "%3B", "%23", "%3F", "%3D", "%2F", "%25", "+", "%00", "%2526", "%u0026", " "];

const NAMES: &[&str] = &[
    "token",
    "ACCESS_TOKEN",
    "api-key",
    "Api.Key",
    "password[]",
    "+code",
    "%74oken",
    "to%00ken",
    "token%20",
    "jsessionid",
    "X-Amz-Signature",
    "user[password]",
    "key",
    "sig",
    "X-Goog-Signature",
    "SAMLResponse",
    "password%3D",
];

/// Where the parameter goes in the request target.
const PLACES: &[&str] = &[
    "/a?{p}",
    "/a?x=1&{p}&y=2",
    "/a?x=1;{p}",
    "/a;{p}",
    "/a;{p}/b?c=d",
    "/a#{p}",
    "/a?x=1#{p}&z=1",
    "/a#/route?{p}",
    "/a%3Fb?{p}",
    "/a?{p}&{p}",
    "http://h.example/a?{p}",
    "/a?x=1 {p}",
    "/a?q=a+{p}&y=2",
    "//h.example/a?{p}",
];

/// Looks for the secret in everything a transaction shows: its `Debug` output lists every
/// field (bodies by length).
fn leaks(t: &HttpTransaction) -> Option<String> {
    let stored = format!("{t:?}");
    for secret in [HEAD, TAIL] {
        for i in 0..=secret.len() - 4 {
            let piece = &secret[i..i + 4];
            if stored.contains(piece) {
                return Some(format!("`{piece}` in {stored}"));
            }
        }
    }
    None
}

/// A request for `target`, with the same URL (made absolute) as its referrer.
fn request(target: &str) -> String {
    let referrer = if target.starts_with('/') { format!("https://r.example{target}") } else { target.to_owned() };
    format!("GET {target} HTTP/1.1\r\nHost: h\r\nReferer: {referrer}\r\n\r\n")
}

fn exchange(head: &str) -> HttpTransaction {
    let mut p = HttpParser::new(Arc::new(HttpConfig::default()));
    let _ = p.handle_data(1, Direction::ToServer, head.as_bytes());
    p.handle_close(2);
    p.poll_transaction().expect("a transaction")
}

#[test]
fn no_part_of_a_secret_parameter_reaches_a_transaction() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for join in JOINS {
        let value = format!("{HEAD}{join}{TAIL}");
        for name in NAMES {
            let param = format!("{name}={value}");
            for place in PLACES {
                let target = place.replace("{p}", &param);
                let t = exchange(&request(&target));
                if let Some(leak) = leaks(&t) {
                    failures.push(format!("{target}: {leak}"));
                }
                assert!(t.uri_redacted, "{target}");
                checked += 1;
            }
        }
    }
    assert!(checked > 1000);
    assert!(failures.is_empty(), "{} leaks:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn no_part_of_a_nested_or_userinfo_secret_reaches_a_transaction() {
    let targets = [
        format!("/a?next=%2Fcb%3Ftoken%3D{HEAD}{TAIL}"),
        format!("/a?next=%252Fcb%253Ftoken%253D{HEAD}{TAIL}"),
        format!("/a?x=%3Ftoken%3D{HEAD}%2526{TAIL}"),
        format!("/a?r=https%3A%2F%2Fu%3A{HEAD}{TAIL}%40h%2F"),
        format!("/a?r=https://u:{HEAD}{TAIL}@h/"),
        format!("http://user:{HEAD}@{TAIL}@h.example/a"),
        format!("http://{HEAD}{TAIL}@h.example/a"),
        format!("/a?x%26token%3D{HEAD}{TAIL}"),
        format!("//user:{HEAD}{TAIL}@h.example/a"),
        format!("//{HEAD}{TAIL}@h.example/a"),
        format!("user:{HEAD}{TAIL}@h.example:443"),
        format!("/a?r=//u:{HEAD}{TAIL}@h/"),
        format!("/a?r=%2F%2Fu%3A{HEAD}{TAIL}%40h%2F"),
    ];
    for target in &targets {
        let t = exchange(&request(target));
        assert_eq!(leaks(&t), None, "{target}");
    }
}

#[test]
fn authorization_values_never_reach_a_transaction() {
    for value in [
        format!("{HEAD}{TAIL}"),
        format!("Bearer {HEAD}{TAIL}"),
        format!("{HEAD}{TAIL} Bearer"),
        format!("Bearer={HEAD}{TAIL}"),
        format!("Basic{HEAD}{TAIL}"),
        format!("Bearer,{HEAD}{TAIL}"),
    ] {
        let t = exchange(&format!("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: {value}\r\n\r\n"));
        assert_eq!(leaks(&t), None, "{value}");
        assert!(t.auth_scheme.is_some(), "{value}");
    }
}

#[test]
fn api_key_values_never_reach_a_transaction() {
    for name in ["X-API-Key", "apikey", "Ocp-Apim-Subscription-Key", "X-Gravitee-Api-Key", "X-Custom-Key"] {
        let t = exchange(&format!("GET / HTTP/1.1\r\nHost: h\r\n{name}: {HEAD}{TAIL}\r\n\r\n"));
        assert_eq!(leaks(&t), None, "{name}");
    }
}

#[test]
fn userinfo_in_host_never_reaches_a_transaction() {
    for host in [format!("user:{HEAD}{TAIL}@h.example"), format!("{HEAD}{TAIL}@h.example:8080"), format!("u:{HEAD}@{TAIL}@h.example")] {
        let t = exchange(&format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        assert_eq!(leaks(&t), None, "{host}");
        assert!(t.host.as_deref().is_some_and(|h| h.starts_with("h.example")), "{host}: {:?}", t.host);
    }
}
