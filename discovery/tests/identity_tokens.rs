//! Opaque tokens linked to their client at the token endpoint: across rotations, through
//! refresh grants, until they expire on packet time or are evicted; and the login attempts
//! token endpoints, login forms and 401 answers make.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod identity_common;

use apitap_discovery::identity::{Grant, IdSource, Identifier, IdentityConfig, LoginKind, LoginOutcome};
use identity_common::*;

const T0: u64 = 1_700_000_000 * SEC;

/// A client-credentials token request by `client` (Basic) at `ts`, answered with `access`.
fn issue(
    idr: &mut Identifier,
    client: &str,
    access: &str,
    ts: u64,
    expires_in: u64,
) -> apitap_discovery::identity::Identity {
    Req::post_form("/oauth2/token", "grant_type=client_credentials&scope=accounts")
        .header("authorization", basic(client, "s3cret"))
        .at(ts)
        .response_json(
            200,
            &format!(r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":{expires_in}}}"#),
        )
        .identify(idr)
}

#[test]
fn a_consumer_survives_token_rotation() {
    let mut idr = identifier();
    let at_token = issue(&mut idr, "tpp-42", "opaque-AAAA", T0, 3600);
    assert_eq!((at_token.source, at_token.label.as_str()), (IdSource::Basic, "tpp-42"));
    let first = Req::get().bearer("opaque-AAAA").at(T0 + 60 * SEC).identify(&mut idr);
    issue(&mut idr, "tpp-42", "opaque-BBBB", T0 + 3500 * SEC, 3600);
    let second = Req::get().bearer("opaque-BBBB").at(T0 + 3700 * SEC).identify(&mut idr);
    for got in [&first, &second] {
        assert_eq!((got.source, got.id, got.label.as_str()), (IdSource::OpaqueToken, at_token.id, "tpp-42"));
    }
    // A JWT naming the same client is the same consumer.
    let jwt_id = Req::get().bearer(&jwt(r#"{"client_id":"tpp-42"}"#)).identify(&mut idr).id;
    assert_eq!(jwt_id, at_token.id);
    // An unknown token is its own consumer.
    let unknown = Req::get().bearer("opaque-CCCC").identify(&mut idr);
    assert_ne!(unknown.id, at_token.id);
    assert!(unknown.label.starts_with("opaque token "));
    let s = idr.stats();
    assert_eq!((s.tokens_linked, s.linked_token_hits), (2, 2));
    // The first token expired at T0 + 3600 s and was swept.
    assert_eq!((idr.linked_tokens(), idr.stats().linked_tokens_expired), (1, 1));
}

#[test]
fn links_expire_on_packet_time_at_the_shorter_lifetime() {
    let mut idr = identifier_with(IdentityConfig { max_token_lifetime_secs: 600, ..IdentityConfig::default() });
    let client = issue(&mut idr, "tpp-1", "short", T0, 60);
    issue(&mut idr, "tpp-1", "capped", T0, 86_400);
    let at = |token: &str, secs: u64, idr: &mut Identifier| Req::get().bearer(token).at(T0 + secs * SEC).identify(idr);
    assert_eq!(at("short", 60, &mut idr).id, client.id, "valid through expires_in");
    assert_ne!(at("short", 61, &mut idr).id, client.id, "expired after it");
    assert_eq!(at("capped", 600, &mut idr).id, client.id);
    assert_ne!(at("capped", 601, &mut idr).id, client.id, "the cap applies");
    assert_eq!(idr.stats().linked_tokens_expired, 2);
    assert_eq!(idr.linked_tokens(), 0);
}

#[test]
fn expired_links_are_swept_without_being_looked_up() {
    let mut idr = identifier();
    for i in 0..50u64 {
        issue(&mut idr, "tpp-1", &format!("tok-{i}"), T0 + i * SEC, 10);
    }
    assert!(idr.linked_tokens() <= 11);
    Req::get().at(T0 + 3600 * SEC).identify(&mut idr);
    assert_eq!(idr.linked_tokens(), 0);
    assert_eq!(idr.stats().linked_tokens_expired, 50);
}

#[test]
fn the_oldest_link_is_evicted_first_at_the_bound() {
    let mut idr = identifier_with(IdentityConfig { max_linked_tokens: 3, ..IdentityConfig::default() });
    let client = issue(&mut idr, "tpp-1", "t1", T0, 3600).id;
    for (i, t) in ["t2", "t3", "t4"].iter().enumerate() {
        issue(&mut idr, "tpp-1", t, T0 + (i as u64 + 1) * SEC, 3600);
    }
    assert_eq!(idr.linked_tokens(), 3);
    assert_eq!(idr.stats().linked_tokens_evicted, 1);
    assert_ne!(Req::get().bearer("t1").at(T0 + 10 * SEC).identify(&mut idr).id, client, "evicted");
    for t in ["t2", "t3", "t4"] {
        assert_eq!(Req::get().bearer(t).at(T0 + 10 * SEC).identify(&mut idr).id, client, "{t}");
    }
}

#[test]
fn refresh_grants_keep_the_client_and_id_tokens_name_the_customer() {
    let mut idr = identifier();
    let id_token = jwt(r#"{"iss":"https://auth","sub":"psu-77","aud":"tpp-5"}"#);
    // A public client: no client authentication but its client_id.
    let code =
        Req::post_form("/as/token.oauth2", "grant_type=authorization_code&code=c1&client_id=tpp-5&code_verifier=v")
            .at(T0)
            .response_json(
                200,
                &format!(
                    r#"{{"access_token":"acc-1","refresh_token":"ref-1","expires_in":300,"id_token":"{id_token}"}}"#
                ),
            )
            .identify(&mut idr);
    assert_eq!((code.source, code.label.as_str()), (IdSource::TokenClient, "tpp-5"));
    let call = Req::get().bearer("acc-1").at(T0 + 10 * SEC).identify(&mut idr);
    assert_eq!((call.id, call.source), (code.id, IdSource::OpaqueToken));
    let psu = Req::get().bearer(&jwt(r#"{"client_id":"tpp-5","sub":"psu-77"}"#)).identify(&mut idr);
    assert!(psu.customer.is_some());
    assert_eq!(call.customer, psu.customer, "the id_token's sub");
    // After the access token expired, the refresh request names only the refresh token.
    let refresh = Req::post_form("/as/token.oauth2", "grant_type=refresh_token&refresh_token=ref-1")
        .at(T0 + 3600 * SEC)
        .response_json(200, r#"{"access_token":"acc-2","expires_in":300}"#)
        .identify(&mut idr);
    assert_eq!((refresh.source, refresh.id), (IdSource::TokenClient, code.id));
    let later = Req::get().bearer("acc-2").at(T0 + 3700 * SEC).identify(&mut idr);
    assert_eq!(later.id, code.id);
    assert_eq!(later.label, "tpp-5");
}

#[test]
fn certificate_clients_pass_their_organisation_to_their_tokens() {
    let mut idr = identifier();
    let cert = format!(":{}:", base64(&pem_der("alpha.pem")));
    let at_token = Req::post_form("/token", "grant_type=client_credentials&client_id=alpha-app")
        .header("client-cert", &cert)
        .at(T0)
        .response_json(201, r#"{"access_token":"mtls-1","expires_in":600}"#)
        .identify(&mut idr);
    assert_eq!(at_token.source, IdSource::ClientCert);
    // Later calls come through a path where the certificate is not forwarded.
    let call = Req::get().bearer("mtls-1").at(T0 + SEC).identify(&mut idr);
    assert_eq!(
        (call.id, call.label.as_str(), call.org_id.as_deref()),
        (at_token.id, "PSDGB-FCA-123456", Some("PSDGB-FCA-123456"))
    );
    assert_eq!(call.cert_subject, at_token.cert_subject);
}

#[test]
fn responses_that_cannot_be_linked_are_counted() {
    let mut idr = identifier();
    // No client authentication at all: nothing to link to.
    Req::post_form("/token", "grant_type=client_credentials")
        .response_json(200, r#"{"access_token":"orphan","expires_in":60}"#)
        .identify(&mut idr);
    assert_eq!(idr.stats().token_responses_unattributed, 1);
    // A cut response body.
    Req::post_form("/token", "grant_type=client_credentials&client_id=c")
        .response_json(200, r#"{"access_token":"cut"#)
        .identify(&mut idr);
    assert_eq!(idr.stats().token_responses_unparsable, 1);
    // An error answer links nothing and is not "unparsable".
    Req::post_form("/token", "grant_type=client_credentials&client_id=c")
        .response_json(401, r#"{"error":"invalid_client"}"#)
        .identify(&mut idr);
    // A GET to the token path is not a token request.
    let get = Req { path: Some("/token".into()), ..Req::get() }
        .response_json(200, r#"{"access_token":"g"}"#)
        .identify(&mut idr);
    assert_eq!(get.login, None);
    assert_eq!(idr.linked_tokens(), 0);
    assert_eq!(idr.stats().tokens_linked, 0);
    // Only keyed hashes are kept: no token text in the identifier's debug form.
    issue(&mut idr, "tpp-1", "VisibleSecretToken", T0, 60);
    assert!(!format!("{idr:?}").contains("VisibleSecret"));
}

#[test]
fn login_attempts() {
    let mut idr = identifier();
    let fail = Req::post_form("/oauth/token", "grant_type=password&username=Alice&password=wrong&client_id=app")
        .response_json(400, r#"{"error":"invalid_grant"}"#)
        .identify(&mut idr);
    let login = fail.login.unwrap();
    assert_eq!(login.kind, LoginKind::TokenEndpoint { grant: Grant::Password });
    assert_eq!(login.outcome, LoginOutcome::Failure);
    let ok = Req::post_form("/oauth/token", "grant_type=password&username=alice&password=right&client_id=app")
        .response_json(200, r#"{"access_token":"a","expires_in":60}"#)
        .identify(&mut idr);
    let ok_login = ok.login.unwrap();
    assert_eq!(ok_login.outcome, LoginOutcome::Success);
    assert_eq!(ok_login.user, login.user, "user names compare case-insensitively");
    assert!(login.user.is_some());

    let mut form = Req::post_form("/api/v2/auth/login", "");
    form.request_content_type = Some("application/json".into());
    form.request_body = br#"{"email":"bob@example.com","password":"x"}"#.to_vec();
    let form = form.status(Some(401)).identify(&mut idr).login.unwrap();
    assert_eq!((form.kind, form.outcome), (LoginKind::Form, LoginOutcome::Failure));
    assert!(form.user.is_some() && form.user != login.user);
    let unanswered = Req::post_form("/signin", "username=bob%40example.com&password=x")
        .status(None)
        .identify(&mut idr)
        .login
        .unwrap();
    assert_eq!(unanswered.outcome, LoginOutcome::Unknown);
    assert_eq!(unanswered.user, form.user, "the same user in a form field and a JSON field");

    let rejected = Req::get().header("authorization", basic("carol", "guess")).status(Some(401)).identify(&mut idr);
    let r = rejected.login.unwrap();
    assert_eq!((r.kind, r.outcome), (LoginKind::Unauthorized, LoginOutcome::Failure));
    assert!(r.user.is_some());
    assert_eq!(Req::get().status(Some(401)).identify(&mut idr).login, None, "no credentials, no attempt");
    assert_eq!(Req::get().bearer("t").identify(&mut idr).login, None);
    assert_eq!(idr.stats().login_attempts, 5);
    let json = serde_json::to_value(fail.login.unwrap()).unwrap();
    let user = json["user"].as_str().unwrap().to_owned();
    assert_eq!(user.len(), 16);
    assert_eq!(
        json,
        serde_json::json!({"kind": "token_endpoint", "grant": "password", "user": user, "outcome": "failure"})
    );
    let json = serde_json::to_value(r).unwrap();
    assert_eq!((json["kind"].as_str(), json.get("grant")), (Some("unauthorized"), None));
}

#[test]
fn memory_stays_near_its_estimate_at_the_bound() {
    let max = 20_000;
    let mut idr = identifier_with(IdentityConfig { max_linked_tokens: max, ..IdentityConfig::default() });
    let empty = idr.memory_bytes();
    for i in 0..(max as u64 + 5_000) {
        issue(&mut idr, &format!("tpp-{}", i % 500), &format!("tok-{i}"), T0 + i * SEC / 100, 86_400);
    }
    assert_eq!(idr.linked_tokens(), max);
    assert_eq!(idr.stats().linked_tokens_evicted, 5_000);
    let per_token = (idr.memory_bytes() - empty) / max;
    // Documented as about 100 bytes a link (10 MB for the default 100 000).
    assert!((40..=160).contains(&per_token), "{per_token} bytes per link");
}
