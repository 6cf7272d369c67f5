//! Consumer and customer ids: fixed vectors computed outside the code under test
//! (`fixtures/identity/siphash_vectors.py`), stability under one key, separation across keys
//! and sources, and their text and JSON forms.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod identity_common;

use apitap_discovery::identity::{ConsumerId, CustomerId, IdSource, Identifier, IdentityConfig};
use identity_common::*;

/// (request, source, id, label) for each source; ids from `siphash_vectors.py` under [`KEY`].
fn vectors() -> Vec<(Req, IdSource, &'static str, &'static str)> {
    let cert = format!(":{}:", base64(&fixture("alpha.der")));
    vec![
        (Req::get().bearer(&jwt(r#"{"client_id":"tpp-42"}"#)), IdSource::Jwt, "e1037ccf6a0b330d", "tpp-42"),
        (
            Req::get().header("x-api-key", "k-0123456789"),
            IdSource::ApiKey,
            "014aa6371fd603c3",
            "api-key x-api-key 014aa637",
        ),
        (Req::get().header("authorization", basic("alice", "pw")), IdSource::Basic, "a5fa19f30f4b9e3b", "alice"),
        (
            Req::get().header("cookie", "theme=dark; JSESSIONID=abc123"),
            IdSource::SessionCookie,
            "47d9b5fb82f88c44",
            "session JSESSIONID 47d9b5fb",
        ),
        (Req::get(), IdSource::Network, "bd7ab655680a1437", "198.51.100.0/24"),
        (Req::get().bearer("opaque-token-value-1"), IdSource::OpaqueToken, "0543f55b03e9d42c", "opaque token 0543f55b"),
        (Req::get().header("client-cert", cert), IdSource::ClientCert, "6f7e92bd2218c424", "PSDGB-FCA-123456"),
    ]
}

#[test]
fn ids_match_independently_computed_vectors() {
    let mut idr = identifier();
    for (req, source, id, label) in vectors() {
        let got = req.identify(&mut idr);
        assert_eq!((got.source, got.id.to_string().as_str(), got.label.as_str()), (source, id, label), "{req:?}");
    }
}

#[test]
fn customer_id_matches_its_vector() {
    let got = Req::get().bearer(&jwt(r#"{"client_id":"tpp-42","sub":"psu-1001"}"#)).identify(&mut identifier());
    assert_eq!(got.customer.map(|c| c.to_string()).as_deref(), Some("192a6fc747df5e23"));
}

#[test]
fn same_key_same_ids_other_key_other_ids() {
    let mut a = identifier();
    let mut b = identifier();
    let mut other = Identifier::new(IdentityConfig::default(), *b"another-key-0000");
    for (req, _, _, _) in vectors() {
        let (x, y, z) = (req.identify(&mut a), req.identify(&mut b), req.identify(&mut other));
        assert_eq!(x.id, y.id, "{req:?}");
        assert_ne!(x.id, z.id, "{req:?}");
        assert_eq!(
            x.label.contains(' ') && x.source != IdSource::Network,
            z.label.contains(' ') && z.source != IdSource::Network
        );
    }
}

#[test]
fn equal_values_from_two_sources_are_two_consumers() {
    let mut idr = identifier();
    let value = "shared-secret-value";
    let api_key = Req::get().header("x-api-key", value).identify(&mut idr);
    let bearer = Req::get().bearer(value).identify(&mut idr);
    let cookie = Req::get().header("cookie", format!("SESSION={value}")).identify(&mut idr);
    let basic = Req::get().header("authorization", basic(value, "x")).identify(&mut idr);
    let ids = [api_key.id, bearer.id, cookie.id, basic.id];
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // The API key's header name does not enter its id: one key under two names is one consumer.
    let other_name = Req::get().header("apikey", value).identify(&mut idr);
    assert_eq!(other_name.id, api_key.id);
    assert_eq!(other_name.label, format!("api-key apikey {}", &api_key.id.to_string()[..8]));
}

#[test]
fn one_oauth_client_one_id_however_it_presents_itself() {
    let mut idr = identifier();
    let by_jwt = Req::get().bearer(&jwt(r#"{"azp":"tpp-42"}"#)).identify(&mut idr);
    let by_basic_at_token = Req::post_form("/oauth2/token", "grant_type=client_credentials")
        .header("authorization", basic("tpp-42", "secret"))
        .identify(&mut idr);
    let by_form =
        Req::post_form("/token", "grant_type=client_credentials&client_id=tpp-42&client_secret=s").identify(&mut idr);
    let assertion = jwt(r#"{"iss":"tpp-42","sub":"tpp-42","aud":"https://auth"}"#);
    let by_assertion =
        Req::post_form("/connect/token", &format!("grant_type=client_credentials&client_assertion={assertion}"))
            .identify(&mut idr);
    assert_eq!(by_jwt.id.to_string(), "e1037ccf6a0b330d");
    for other in [&by_basic_at_token, &by_form, &by_assertion] {
        assert_eq!(other.id, by_jwt.id, "{other:?}");
        assert_eq!(other.label, "tpp-42");
    }
    assert_eq!(by_basic_at_token.source, IdSource::Basic);
    assert_eq!((by_form.source, by_assertion.source), (IdSource::TokenClient, IdSource::TokenClient));
    // Basic outside a token endpoint is a user, not a client.
    let user = Req::get().header("authorization", basic("tpp-42", "secret")).identify(&mut idr);
    assert_ne!(user.id, by_jwt.id);
}

#[test]
fn text_and_json_forms() {
    assert_eq!(ConsumerId(0xab).to_string(), "00000000000000ab");
    assert_eq!("00000000000000AB".parse::<ConsumerId>().unwrap(), ConsumerId(0xab));
    assert_eq!(serde_json::to_string(&CustomerId(u64::MAX)).unwrap(), "\"ffffffffffffffff\"");
    assert_eq!(serde_json::from_str::<ConsumerId>("\"0000000000000001\"").unwrap(), ConsumerId(1));
    let got = Req::get().header("x-fapi-customer-ip-address", "203.0.113.5").identify(&mut identifier());
    let json = serde_json::to_value(&got).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "id": "bd7ab655680a1437",
            "source": "network",
            "label": "198.51.100.0/24",
            "client_ip": "198.51.100.7",
            "network": "198.51.100.0/24",
            "attended": true
        })
    );
}

#[test]
fn request_facts_debug_shows_no_secret() {
    let secret = "Qx7KpWm4Zt";
    let headers: Vec<(&str, &[u8])> =
        vec![("authorization", format!("Bearer {secret}").leak().as_bytes()), ("cookie", b"SESSION=Qx7KpWm4Zt")];
    let body = format!("password={secret}");
    let facts = apitap_discovery::identity::RequestFacts {
        ts: 1,
        peer: "192.0.2.1".parse().unwrap(),
        method: Some("POST"),
        path: Some("/login"),
        status: Some(200),
        headers: &headers,
        request_content_type: None,
        request_body: body.as_bytes(),
        response_content_type: None,
        response_body: secret.as_bytes(),
        tls_client_cert: None,
    };
    let debug = format!("{facts:?}");
    assert!(!debug.contains("Qx7K"), "{debug}");
    assert!(debug.contains("authorization: <17 bytes>") && debug.contains("request_body: <19 bytes>"), "{debug}");
    let got = identifier().identify(&facts);
    assert!(!format!("{got:?}").contains("Qx7K"));
}
