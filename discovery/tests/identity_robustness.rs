//! Hostile input: random and mutated bytes in every header form identity reads, cut and
//! flipped certificates, huge values, deeply nested JSON. Nothing may panic, labels stay
//! bounded and printable, and the memory held stays bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod identity_common;

use apitap_discovery::identity::{Identifier, Identity, IdentityConfig, Prefix};
use identity_common::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Bytes drawn from `alphabet`.
    fn text(&mut self, n: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..n).map(|_| alphabet[self.below(alphabet.len())]).collect()
    }
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=";
const SEPARATORS: &[u8] = b"ABC09.:;,=\"[]% \t_-eyJ";

fn check(got: &Identity) {
    assert!(got.label.chars().count() <= 128, "{:?}", got.label);
    assert!(!got.label.chars().any(char::is_control), "{:?}", got.label);
    if let Some(s) = &got.cert_subject {
        assert!(s.chars().count() <= 1024);
    }
    assert!(got.network.contains(got.client_ip));
}

fn hostile_identifier() -> Identifier {
    let trusted_proxies: Vec<Prefix> = vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()];
    let cfg = IdentityConfig {
        trusted_proxies,
        client_cert_headers: vec!["client-cert".into(), "x-forwarded-client-cert".into()],
        max_linked_tokens: 64,
        max_cert_cache: 16,
        ..IdentityConfig::default()
    };
    identifier_with(cfg)
}

/// A value for `header` built from random pieces around the shapes the parsers look for.
fn value_for(rng: &mut Rng, header: &str) -> Vec<u8> {
    let len = rng.below(300);
    let mut v = match rng.below(4) {
        0 => rng.bytes(len),
        1 => rng.text(len, B64),
        2 => rng.text(len, SEPARATORS),
        _ => Vec::new(),
    };
    let prefix: &[u8] = match (header, rng.below(3)) {
        ("authorization", 0) => b"Bearer ",
        ("authorization", 1) => b"Basic ",
        ("authorization", _) => b"Bearer eyJhbGciOiJub25lIn0.",
        ("client-cert", 0) => b":",
        ("client-cert", 1) => b"-----BEGIN CERTIFICATE-----",
        ("x-forwarded-client-cert", _) => b"Hash=x;Cert=\"",
        ("forwarded", _) => b"for=",
        ("cookie", _) => b"JSESSIONID=",
        _ => b"",
    };
    let mut out = prefix.to_vec();
    out.append(&mut v);
    if header == "client-cert" && rng.below(2) == 0 {
        out.extend_from_slice(b":");
    }
    out
}

const HEADERS: &[&str] = &[
    "authorization",
    "client-cert",
    "x-forwarded-client-cert",
    "x-forwarded-for",
    "forwarded",
    "cookie",
    "x-api-key",
    "x-fapi-customer-ip-address",
];

#[test]
fn random_header_values_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut idr = hostile_identifier();
    for round in 0..20_000u64 {
        let mut req = Req::get().at(T0 + round * SEC);
        for _ in 0..1 + rng.below(4) {
            let h = HEADERS[rng.below(HEADERS.len())];
            let v = value_for(&mut rng, h);
            req = req.header(h, v);
        }
        if rng.below(3) == 0 {
            req.method = Some("POST".into());
            req.path = Some(["/token", "/login", "/oauth2/v1/token"][rng.below(3)].into());
            let n = rng.below(400);
            req.request_body = if rng.below(2) == 0 {
                rng.bytes(n)
            } else {
                rng.text(n, b"a=b&client_id=x%2&username=grant_type{}\":,")
            };
            let n = rng.below(400);
            req.response_body =
                if rng.below(2) == 0 { rng.bytes(n) } else { rng.text(n, b"{}\":,access_token0123456789expires_in") };
            req.status = Some([200, 400, 401, 403, 500][rng.below(5)]);
        }
        check(&req.identify(&mut idr));
    }
    assert!(idr.memory_bytes() < 1 << 20, "{}", idr.memory_bytes());
}

const T0: u64 = 1_700_000_000 * SEC;

#[test]
fn cut_and_flipped_certificates_never_panic() {
    let der = pem_der("alpha.pem");
    let mut idr = hostile_identifier();
    for cut in 0..der.len() {
        let got = Req { tls_client_cert: Some(der[..cut].to_vec()), ..Req::get() }.identify(&mut idr);
        check(&got);
        let got = Req::get().header("client-cert", format!(":{}:", base64(&der[..cut]))).identify(&mut idr);
        check(&got);
    }
    let mut rng = Rng(42);
    for _ in 0..5_000 {
        let mut m = der.clone();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(m.len());
            m[i] ^= 1 << rng.below(8);
        }
        check(&Req { tls_client_cert: Some(m), ..Req::get() }.identify(&mut idr));
    }
    assert!(idr.stats().cert_unparsable > 0);
}

#[test]
fn huge_and_deeply_nested_values_are_bounded() {
    let mut idr = hostile_identifier();
    let huge = "A".repeat(4 << 20);
    let got = Req::get()
        .bearer(&huge)
        .header("client-cert", format!(":{huge}:"))
        .header("cookie", format!("JSESSIONID={huge}"))
        .header("x-forwarded-for", ",".repeat(1 << 20))
        .identify(&mut idr);
    check(&got);
    assert!(got.label.starts_with("opaque token "));
    assert_eq!(idr.stats().cert_too_long, 1);

    let nested = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_jwt = jwt(&format!(r#"{{"client_id":"x","a":{nested}}}"#));
    check(&Req::get().bearer(&deep_jwt).identify(&mut idr));
    let token = Req::post_form("/token", "client_id=c")
        .response_json(200, &format!(r#"{{"access_token":"t","x":{nested}}}"#))
        .identify(&mut idr);
    check(&token);
    let mut json_login = Req::post_form("/login", "");
    json_login.request_content_type = Some("application/json".into());
    json_login.request_body = format!(r#"{{"username":{nested}}}"#).into_bytes();
    check(&json_login.identify(&mut idr));

    let long_label = jwt(&format!(r#"{{"client_id":"{}\u0007"}}"#, "é".repeat(2000)));
    let got = Req::get().bearer(&long_label).identify(&mut idr);
    check(&got);
    assert_eq!(got.label.chars().count(), 128);
}
