//! The credential digest: one consumer, one digest, across connections; different credentials
//! or keys, different digests; and no credential in a transaction or its `Debug` output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::hash::Hasher;
use std::sync::Arc;

use apitap_parsers::http::{credential_digest, CredentialSource, API_KEY_HEADERS};
use apitap_parsers::{Direction, HttpConfig, HttpParser, HttpTransaction};
use siphasher::sip::SipHasher13;

const KEY: [u8; 16] = *b"deployment-key-1";
const SECRET: &str = "Qx7KpWm4Zt";

/// One request with `headers` on a fresh connection, under `key`.
fn request_with(key: [u8; 16], headers: &str) -> HttpTransaction {
    let mut p =
        HttpParser::new(Arc::new(HttpConfig { credential_key: key, max_body_capture: 1024, ..HttpConfig::default() }));
    let req = format!("GET /accounts HTTP/1.1\r\nHost: bank\r\n{headers}\r\n");
    let _ = p.handle_data(1, Direction::ToServer, req.as_bytes());
    let _ = p.handle_data(2, Direction::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]");
    p.poll_transaction().expect("one transaction")
}

fn digest_of(headers: &str) -> Option<u64> {
    request_with(KEY, headers).credential_digest
}

#[test]
fn same_token_same_digest_across_connections_other_token_other_digest() {
    let a1 = digest_of("Authorization: Bearer eyJhbGciOi.token-A.sig\r\n");
    let a2 = digest_of("Authorization: Bearer eyJhbGciOi.token-A.sig\r\n");
    let b = digest_of("Authorization: Bearer eyJhbGciOi.token-B.sig\r\n");
    assert!(a1.is_some());
    assert_eq!(a1, a2);
    assert_ne!(a1, b);
    // The scheme's spelling and the blanks around the value do not make another consumer.
    assert_eq!(a1, digest_of("authorization:   BEARER \t eyJhbGciOi.token-A.sig  \r\n"));
    // The credentials themselves are case-sensitive.
    assert_ne!(a1, digest_of("Authorization: Bearer EYJHBGCIOI.TOKEN-A.SIG\r\n"));
}

#[test]
fn another_key_gives_another_digest() {
    let h = "Authorization: Basic dXNlcjpwYXNz\r\n";
    let mine = request_with(KEY, h).credential_digest;
    let other = request_with(*b"deployment-key-2", h).credential_digest;
    let zero = request_with([0; 16], h).credential_digest;
    assert!(mine.is_some() && other.is_some() && zero.is_some());
    assert_ne!(mine, other);
    assert_ne!(mine, zero);
}

#[test]
fn digest_is_keyed_siphash13_of_the_documented_canonical_form() {
    let mut h = SipHasher13::new_with_key(&KEY);
    h.write(b"authorization\0bearer abc.DEF");
    assert_eq!(digest_of("Authorization: Bearer abc.DEF\r\n"), Some(h.finish()));
    let mut h = SipHasher13::new_with_key(&KEY);
    h.write(b"api-key\0k-123");
    assert_eq!(digest_of("X-API-Key: k-123\r\n"), Some(h.finish()));
    assert_eq!(digest_of("X-API-Key: k-123\r\n"), credential_digest(&KEY, CredentialSource::ApiKey, b"k-123"));
}

#[test]
fn api_key_headers_are_named_not_kept() {
    for name in API_KEY_HEADERS {
        let spelled: String =
            name.split('-').map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect::<Vec<_>>().join("-");
        let t = request_with(KEY, &format!("{spelled}: {SECRET}\r\n"));
        assert_eq!(t.api_key_header.as_deref(), Some(*name), "{spelled}");
        assert_eq!(t.credential_digest, credential_digest(&KEY, CredentialSource::ApiKey, SECRET.as_bytes()));
        assert_eq!(t.auth_scheme, None);
    }
    // The same key under two of the names is one consumer.
    assert_eq!(
        digest_of(&format!("apikey: {SECRET}\r\n")),
        digest_of(&format!("Ocp-Apim-Subscription-Key: {SECRET}\r\n"))
    );
    assert_eq!(request_with(KEY, "X-Request-Id: 1\r\n").api_key_header, None);
}

#[test]
fn authorization_is_preferred_then_api_key_then_proxy_authorization() {
    let auth = "Authorization: Bearer t-1\r\n";
    let key = "X-Api-Key: k-1\r\n";
    let proxy = "Proxy-Authorization: Basic cDpx\r\n";
    let all = digest_of(&format!("{proxy}{key}{auth}"));
    assert_eq!(all, digest_of(auth));
    let t = request_with(KEY, &format!("{proxy}{key}{auth}"));
    assert_eq!(t.api_key_header.as_deref(), Some("x-api-key"), "named even when not the one digested");
    assert_eq!(digest_of(&format!("{proxy}{key}")), digest_of(key));
    assert_eq!(digest_of(proxy), credential_digest(&KEY, CredentialSource::ProxyAuthorization, b"Basic cDpx"));
    assert_ne!(digest_of(proxy), digest_of("Authorization: Basic cDpx\r\n"), "sources are kept apart");
    assert_eq!(digest_of("Authorization:   \r\n"), None, "a blank value is no credential");
    assert_eq!(digest_of("Cookie: session=abc\r\n"), None);
}

#[test]
fn no_credential_or_body_secret_appears_in_debug_output() {
    for headers in [
        format!("Authorization: Bearer {SECRET}\r\n"),
        format!("Authorization: {SECRET}\r\n"),
        format!("X-Api-Key: {SECRET}\r\n"),
        format!("Proxy-Authorization: Basic {SECRET}\r\n"),
        format!("X-IBM-Client-Id: {SECRET}\r\nAuthorization: Digest username=\"{SECRET}\"\r\n"),
    ] {
        let body = format!("{{\"client_secret\":\"{SECRET}\"}}");
        let headers = format!("{headers}Content-Length: {}\r\n\r\n{body}", body.len());
        let mut p = HttpParser::new(Arc::new(HttpConfig {
            credential_key: KEY,
            max_body_capture: 1024,
            ..HttpConfig::default()
        }));
        let req = format!("POST /token HTTP/1.1\r\nHost: bank\r\n{headers}");
        let _ = p.handle_data(1, Direction::ToServer, req.as_bytes());
        let _ = p.handle_data(2, Direction::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let t = p.poll_transaction().unwrap();
        assert!(t.credential_digest.is_some());
        assert_eq!(t.request_body, body.as_bytes(), "the body is kept, in memory");
        for s in [format!("{t:?}"), format!("{t:#?}")] {
            for i in 0..=SECRET.len() - 4 {
                assert!(!s.contains(&SECRET[i..i + 4]), "`{}` of the secret in {s}", &SECRET[i..i + 4]);
            }
        }
        // Nor in any stored string of the transaction.
        let strings = [&t.uri, &t.host, &t.auth_scheme, &t.api_key_header, &t.referrer, &t.user_agent];
        assert!(strings.iter().all(|s| s.as_deref().is_none_or(|s| !s.contains(SECRET))));
        assert!(t.request_header_names.iter().all(|n| !n.contains(SECRET)));
    }
}
