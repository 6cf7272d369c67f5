//! Each identity source on realistic requests: client certificates in every forwarded form
//! (generated with OpenSSL, subjects compared with OpenSSL's own RFC 4514 rendering), JWT
//! claims and customers, Basic, the configured order, and the client address behind trusted
//! proxies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod identity_common;

use apitap_discovery::identity::{IdSource, IdentityConfig, Prefix};
use identity_common::*;

fn cert_header_forms(pem_name: &str) -> Vec<(&'static str, String)> {
    let der = pem_der(pem_name);
    let pem = fixture_text(pem_name);
    vec![
        ("rfc 9440", format!(":{}:", base64(&der))),
        ("bare base64 der", base64(&der)),
        ("pem with spaces", pem.replace('\n', " ")),
        ("pem with tabs", pem.replace('\n', "\t")),
        ("pem with newlines", pem.clone()),
        ("nginx escaped pem", escape_all(&pem)),
        ("envoy xfcc", format!("By=spiffe://bank/gw;Hash=0a1b;Cert=\"{}\";Subject=\"CN=alpha\"", escape_all(&pem))),
    ]
}

#[test]
fn every_forwarded_certificate_form_names_the_same_tpp() {
    let cfg = IdentityConfig {
        client_cert_headers: vec!["x-ssl-client-cert".into(), "client-cert".into(), "x-forwarded-client-cert".into()],
        ..IdentityConfig::default()
    };
    let mut idr = identifier_with(cfg);
    let tls = Req { tls_client_cert: Some(fixture("alpha.der")), ..Req::get() }.identify(&mut idr);
    assert_eq!(tls.source, IdSource::ClientCert);
    assert_eq!(tls.label, "PSDGB-FCA-123456");
    assert_eq!(tls.org_id.as_deref(), Some("PSDGB-FCA-123456"));
    assert_eq!(tls.cert_subject.as_deref(), Some(openssl_subject("alpha").as_str()));
    for header in ["x-ssl-client-cert", "client-cert", "x-forwarded-client-cert"] {
        for (form, value) in cert_header_forms("alpha.pem") {
            let got = Req::get().header(header, &value).identify(&mut idr);
            assert_eq!((got.source, got.id), (IdSource::ClientCert, tls.id), "{header} {form}");
            assert_eq!(got.cert_subject, tls.cert_subject, "{header} {form}");
        }
    }
    assert_eq!(idr.stats().cert_unparsable, 0);
}

#[test]
fn a_renewed_certificate_keeps_the_consumer_another_subject_does_not() {
    let mut idr = identifier();
    let a = Req::get().header("client-cert", format!(":{}:", base64(&pem_der("alpha.pem")))).identify(&mut idr);
    let renewed =
        Req::get().header("client-cert", format!(":{}:", base64(&pem_der("alpha-renewed.pem")))).identify(&mut idr);
    assert_ne!(pem_der("alpha.pem"), pem_der("alpha-renewed.pem"), "the fixtures differ in key and serial");
    assert_eq!(a.id, renewed.id);
    let beta = Req::get().header("client-cert", format!(":{}:", base64(&pem_der("beta.pem")))).identify(&mut idr);
    assert_ne!(beta.id, a.id);
    assert_eq!((beta.label.as_str(), beta.org_id.as_deref()), ("beta.example", None), "no org id: the CN");
    assert_eq!(beta.cert_subject.as_deref(), Some(openssl_subject("beta").as_str()));
}

#[test]
fn subjects_are_rendered_as_openssl_renders_rfc_4514() {
    let got = Req { tls_client_cert: Some(pem_der("gamma.pem")), ..Req::get() }.identify(&mut identifier());
    let want = openssl_subject("gamma");
    assert_eq!(want, "CN=\\#gamma\\ ,1.2.3.4=#0C027831,OU=ops+OU=api,O=Gamma\\, \\\"Intl\\\",L=Zürich,C=FR");
    // RFC 4514 leaves the order inside a multi-valued RDN open: ours is the encoding's (the
    // DER sorts `api` before `ops`), OpenSSL reverses it with the RDNs. OpenSSL writes the hex
    // of unknown attributes in upper case; RFC 4514 allows either.
    let want = want.replace("OU=ops+OU=api", "OU=api+OU=ops");
    assert_eq!(got.cert_subject.unwrap().to_uppercase(), want.to_uppercase());
    assert_eq!(got.label, "#gamma ");
}

#[test]
fn unreadable_or_oversized_certificates_fall_through_and_are_counted() {
    let mut idr = identifier_with(IdentityConfig { max_cert_bytes: 200, ..IdentityConfig::default() });
    let der = pem_der("alpha.pem");
    let big =
        Req::get().header("client-cert", format!(":{}:", base64(&der))).header("x-api-key", "k1").identify(&mut idr);
    assert_eq!(big.source, IdSource::ApiKey);
    assert_eq!(idr.stats().cert_too_long, 1);
    let mut idr = identifier();
    let mut broken = der.clone();
    broken.truncate(der.len() / 2);
    for value in [format!(":{}:", base64(&broken)), "not a certificate".into(), ":!!:".into()] {
        let got = Req::get().header("client-cert", &value).identify(&mut idr);
        assert_eq!(got.source, IdSource::Network, "{value}");
    }
    assert_eq!(idr.stats().cert_unparsable, 3);
    // A repeated bad header is answered from the cache, and still counted.
    Req::get().header("client-cert", "not a certificate").identify(&mut idr);
    assert_eq!(idr.stats().cert_unparsable, 4);
}

#[test]
fn the_certificate_cache_is_bounded() {
    let mut idr = identifier_with(IdentityConfig { max_cert_cache: 2, ..IdentityConfig::default() });
    let before = idr.memory_bytes();
    for name in ["alpha.pem", "alpha-renewed.pem", "beta.pem", "gamma.pem", "alpha.pem"] {
        let got = Req::get().header("client-cert", format!(":{}:", base64(&pem_der(name)))).identify(&mut idr);
        assert_eq!(got.source, IdSource::ClientCert);
    }
    assert!(idr.memory_bytes() - before < 4096, "{}", idr.memory_bytes() - before);
}

#[test]
fn jwt_client_claims_in_order_and_customer_precedence() {
    let mut idr = identifier();
    let both = Req::get().bearer(&jwt(r#"{"client_id":"tpp-1","azp":"other","sub":"psu-7"}"#)).identify(&mut idr);
    let azp = Req::get().bearer(&jwt(r#"{"azp":"tpp-1","sub":"psu-7"}"#)).identify(&mut idr);
    assert_eq!((both.source, both.label.as_str()), (IdSource::Jwt, "tpp-1"));
    assert_eq!(azp.id, both.id);
    assert_eq!(azp.customer, both.customer);
    assert!(both.customer.is_some());

    // `sub` names the client (no client_id, no azp): then it is not also the customer, and
    // the consent id is.
    let sub_only =
        Req::get().bearer(&jwt(r#"{"sub":"tpp-2","openbanking_intent_id":"urn:ob:aac-1"}"#)).identify(&mut idr);
    let consent_only =
        Req::get().bearer(&jwt(r#"{"client_id":"tpp-3","consentId":"urn:ob:aac-1"}"#)).identify(&mut idr);
    assert_eq!(sub_only.label, "tpp-2");
    assert!(sub_only.customer.is_some());
    assert_eq!(sub_only.customer, consent_only.customer, "the same consent id");
    // A customer claim and a consent id with the same text are different customers.
    let as_sub = Req::get().bearer(&jwt(r#"{"client_id":"tpp-3","sub":"urn:ob:aac-1"}"#)).identify(&mut idr);
    assert_ne!(as_sub.customer, consent_only.customer);
    let none = Req::get().bearer(&jwt(r#"{"client_id":"tpp-3","sub":"tpp-3"}"#)).identify(&mut idr);
    assert_eq!(none.customer, None);

    // The customer comes from the bearer even when the certificate names the consumer.
    let cert = format!(":{}:", base64(&pem_der("alpha.pem")));
    let mtls = Req::get()
        .header("client-cert", cert)
        .bearer(&jwt(r#"{"client_id":"tpp-1","sub":"psu-7"}"#))
        .identify(&mut idr);
    assert_eq!((mtls.source, mtls.customer), (IdSource::ClientCert, both.customer));
}

#[test]
fn a_jwt_naming_no_client_is_an_opaque_token() {
    let mut idr = identifier();
    let token = jwt(r#"{"iss":"https://auth","scope":"accounts"}"#);
    let got = Req::get().bearer(&token).identify(&mut idr);
    assert_eq!(got.source, IdSource::OpaqueToken);
    let broken = format!("eyJhbGciOiJub25lIn0.{}.x", "!".repeat(10));
    let got = Req::get().bearer(&broken).identify(&mut idr);
    assert_eq!(got.source, IdSource::OpaqueToken);
    assert_eq!(idr.stats().jwt_undecodable, 1);
    let long = jwt(&format!(r#"{{"client_id":"tpp-1","pad":"{}"}}"#, "x".repeat(9000)));
    let got = Req::get().bearer(&long).identify(&mut idr);
    assert_eq!(got.source, IdSource::OpaqueToken);
    assert_eq!(idr.stats().jwt_too_long, 1);
    let dpop =
        Req::get().header("authorization", format!("DPoP {}", jwt(r#"{"client_id":"tpp-9"}"#))).identify(&mut idr);
    assert_eq!((dpop.source, dpop.label.as_str()), (IdSource::Jwt, "tpp-9"));
}

#[test]
fn basic_users_are_labelled_masked_and_independent_of_the_password() {
    let mut idr = identifier();
    let a = Req::get().header("authorization", basic("jane.doe@example.com", "pw1")).identify(&mut idr);
    let b = Req::get().header("authorization", basic("jane.doe@example.com", "pw2")).identify(&mut idr);
    assert_eq!((a.source, a.label.as_str()), (IdSource::Basic, "j***@example.com"));
    assert_eq!(a.id, b.id, "a password change keeps the consumer");
    let bad = Req::get().header("authorization", "Basic !!!").identify(&mut idr);
    assert_eq!(bad.source, IdSource::Network);
    assert_eq!(idr.stats().basic_undecodable, 1);
}

#[test]
fn the_configured_order_decides() {
    let cert = format!(":{}:", base64(&pem_der("alpha.pem")));
    let req = Req::get()
        .header("client-cert", &cert)
        .bearer(&jwt(r#"{"client_id":"tpp-1"}"#))
        .header("x-api-key", "k1")
        .header("cookie", "SESSION=s1");
    let source_with = |order: Vec<IdSource>| {
        let mut idr = identifier_with(IdentityConfig { order, ..IdentityConfig::default() });
        req.identify(&mut idr).source
    };
    assert_eq!(source_with(IdentityConfig::default().order), IdSource::ClientCert);
    assert_eq!(source_with(vec![IdSource::ApiKey, IdSource::ClientCert]), IdSource::ApiKey);
    assert_eq!(source_with(vec![IdSource::SessionCookie, IdSource::Jwt]), IdSource::SessionCookie);
    assert_eq!(source_with(vec![IdSource::Jwt]), IdSource::Jwt);
    assert_eq!(source_with(vec![IdSource::Basic]), IdSource::Network, "nothing listed yields: the network");
    assert_eq!(source_with(vec![]), IdSource::Network);
    // An unlinked opaque token listed before the API key wins, as listed.
    let opaque = Req::get().bearer("opaque-1").header("x-api-key", "k1");
    let mut idr = identifier();
    assert_eq!(opaque.identify(&mut idr).source, IdSource::OpaqueToken);
    let mut idr = identifier_with(IdentityConfig {
        order: vec![IdSource::ApiKey, IdSource::OpaqueToken, IdSource::Network],
        ..IdentityConfig::default()
    });
    assert_eq!(opaque.identify(&mut idr).source, IdSource::ApiKey);
}

fn proxied(trusted: &[&str]) -> apitap_discovery::identity::Identifier {
    let trusted_proxies: Vec<Prefix> = trusted.iter().map(|p| p.parse().unwrap()).collect();
    identifier_with(IdentityConfig { trusted_proxies, ..IdentityConfig::default() })
}

#[test]
fn forwarded_addresses_only_through_trusted_proxies() {
    let req = Req::get().peer("10.0.0.5").header("x-forwarded-for", "203.0.113.50, 10.0.0.9");
    // Untrusted peer: the headers are ignored and counted.
    let mut idr = proxied(&[]);
    let got = req.identify(&mut idr);
    assert_eq!(got.client_ip.to_string(), "10.0.0.5");
    assert_eq!(idr.stats().xff_untrusted_ignored, 1);
    // Trusted peer and trusted intermediate hop: the right-most untrusted address.
    let mut idr = proxied(&["10.0.0.0/8"]);
    let got = req.identify(&mut idr);
    assert_eq!((got.client_ip.to_string(), got.network.to_string()), ("203.0.113.50".into(), "203.0.113.0/24".into()));
    assert_eq!(got.source, IdSource::Network);
    assert_eq!(got.label, "203.0.113.0/24");
    // A client that prepends a fake address does not get to choose: the right-most untrusted
    // address is the one the trusted proxy saw.
    let spoofed = Req::get().peer("10.0.0.5").header("x-forwarded-for", "192.0.2.1, 198.51.100.99");
    assert_eq!(spoofed.identify(&mut idr).client_ip.to_string(), "198.51.100.99");
    // Several header lines are one list.
    let split =
        Req::get().peer("10.0.0.5").header("x-forwarded-for", "192.0.2.1").header("x-forwarded-for", "10.1.1.1");
    assert_eq!(split.identify(&mut idr).client_ip.to_string(), "192.0.2.1");
    // All hops trusted: the left-most.
    let inner = Req::get().peer("10.0.0.5").header("x-forwarded-for", "10.3.3.3, 10.2.2.2");
    assert_eq!(inner.identify(&mut idr).client_ip.to_string(), "10.3.3.3");
    // Garbage stops the walk at the last trusted hop.
    let garbage = Req::get().peer("10.0.0.5").header("x-forwarded-for", "192.0.2.1, unknown, 10.2.2.2");
    assert_eq!(garbage.identify(&mut idr).client_ip.to_string(), "10.2.2.2");
    assert_eq!(idr.stats().xff_invalid, 1);
}

#[test]
fn rfc_7239_forwarded_is_preferred_and_ipv6_networks_are_48_bits() {
    let mut idr = proxied(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
    let req = Req::get()
        .peer("::ffff:10.0.0.5")
        .header("x-forwarded-for", "192.0.2.200")
        .header("forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https, for=2001:db8:ffff::1;by=10.0.0.5");
    let got = req.identify(&mut idr);
    assert_eq!(got.client_ip.to_string(), "2001:db8:cafe::17");
    assert_eq!(got.network.to_string(), "2001:db8:cafe::/48");
    let hidden = Req::get().peer("10.0.0.5").header("forwarded", "for=_gateway-7");
    assert_eq!(hidden.identify(&mut idr).client_ip.to_string(), "10.0.0.5");
    // A mapped IPv4 peer is its IPv4 address.
    let mapped = Req::get().peer("::ffff:198.51.100.7").identify(&mut idr);
    assert_eq!(
        (mapped.client_ip.to_string(), mapped.network.to_string()),
        ("198.51.100.7".into(), "198.51.100.0/24".into())
    );
}

#[test]
fn attendance_follows_the_fapi_customer_address_header() {
    let mut idr = identifier();
    assert!(Req::get().header("x-fapi-customer-ip-address", "203.0.113.5").identify(&mut idr).attended);
    assert!(!Req::get().header("x-fapi-customer-ip-address", " ").identify(&mut idr).attended);
    assert!(!Req::get().identify(&mut idr).attended);
}
