//! Identity on the simulator's own traffic: transactions extracted with tshark from an
//! `apitap simulate` capture of `fixtures/scenarios/small.yaml` (see
//! `fixtures/identity/sim_transactions.py`), checked against what the scenario says each
//! consumer is: a TPP with an RFC 9440 client certificate and JWTs, a TPP with opaque tokens
//! from client-credentials grants, an app with API keys, and credential stuffing at the token
//! endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod identity_common;

use std::collections::HashSet;

use apitap_discovery::identity::{Grant, IdSource, Identity, LoginKind, LoginOutcome, Prefix};
use identity_common::*;
use serde_json::Value;

fn rows() -> Vec<Req> {
    let text = fixture_text("sim-small.jsonl");
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let s = |k: &str| v[k].as_str().map(str::to_owned);
            Req {
                ts: v["ts"].as_u64().unwrap(),
                peer: v["peer"].as_str().unwrap().parse().unwrap(),
                method: s("method"),
                path: s("path"),
                status: v["status"].as_u64().map(|c| c as u16),
                headers: v["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| (h[0].as_str().unwrap().to_owned(), h[1].as_str().unwrap().as_bytes().to_vec()))
                    .collect(),
                request_content_type: s("request_content_type"),
                request_body: s("request_body").unwrap_or_default().into_bytes(),
                response_content_type: s("response_content_type"),
                response_body: s("response_body").unwrap_or_default().into_bytes(),
                tls_client_cert: None,
            }
        })
        .collect()
}

fn within(net: &str, r: &Req) -> bool {
    net.parse::<Prefix>().unwrap().contains(r.peer)
}

/// The `username` form field, decoded by the test itself.
fn username(body: &[u8]) -> Option<String> {
    let body = std::str::from_utf8(body).unwrap();
    let raw = body.split('&').find_map(|p| p.strip_prefix("username="))?;
    Some(raw.replace("%40", "@").to_lowercase())
}

#[test]
fn each_simulated_consumer_is_identified_as_the_scenario_describes() {
    let rows = rows();
    assert!(rows.len() > 150, "{}", rows.len());
    let mut idr = identifier();
    let got: Vec<(Req, Identity)> = rows
        .into_iter()
        .map(|r| {
            let i = r.identify(&mut idr);
            (r, i)
        })
        .collect();

    // tpp-alpha: the certificate wins over its JWT.
    let alpha: Vec<&Identity> = got.iter().filter(|(r, _)| within("198.51.100.0/28", r)).map(|(_, i)| i).collect();
    assert!(alpha.len() >= 20);
    for i in &alpha {
        assert_eq!(
            (i.source, i.label.as_str(), i.org_id.as_deref()),
            (IdSource::ClientCert, "PSDGB-FCA-123456", Some("PSDGB-FCA-123456"))
        );
        let subject = i.cert_subject.as_deref().unwrap();
        assert!(
            subject
                .starts_with("CN=0015800001041RHAAY,organizationIdentifier=PSDGB-FCA-123456,O=Alpha Aggregation Ltd"),
            "{subject}"
        );
    }
    assert_eq!(alpha.iter().map(|i| i.id).collect::<HashSet<_>>().len(), 1);

    // tpp-beta: opaque tokens linked to `beta-budgeting` at the token endpoint, across
    // rotations and source addresses.
    let beta: Vec<&(Req, Identity)> = got.iter().filter(|(r, _)| within("203.0.113.64/27", r)).collect();
    let token_requests: Vec<&Identity> =
        beta.iter().filter(|(r, _)| r.path.as_deref() == Some("/as/token.oauth2")).map(|(_, i)| i).collect();
    assert!(token_requests.len() >= 10);
    let beta_id = token_requests[0].id;
    for i in &token_requests {
        assert_eq!((i.source, i.id, i.label.as_str()), (IdSource::TokenClient, beta_id, "beta-budgeting"));
        assert_eq!(i.login.unwrap().kind, LoginKind::TokenEndpoint { grant: Grant::ClientCredentials });
    }
    let calls: Vec<&Identity> = beta
        .iter()
        .filter(|(r, _)| r.method.as_deref() == Some("GET") && r.status == Some(200))
        .map(|(_, i)| i)
        .collect();
    assert!(calls.len() >= 20, "{}", calls.len());
    for i in &calls {
        assert_eq!((i.source, i.id, i.label.as_str()), (IdSource::OpaqueToken, beta_id, "beta-budgeting"));
    }

    // bank-app: API keys.
    let app: Vec<&Identity> = got.iter().filter(|(r, _)| within("100.64.0.0/16", r)).map(|(_, i)| i).collect();
    assert!(app.len() >= 20);
    for i in &app {
        assert_eq!(i.source, IdSource::ApiKey);
        assert!(i.label.starts_with("api-key x-api-key "), "{}", i.label);
        assert!(i.attended, "the app is always attended");
    }

    // Credential stuffing: password grants from many addresses and accounts, all but one
    // refused.
    let stuffing: Vec<&(Req, Identity)> = got.iter().filter(|(r, _)| within("86.128.0.0/16", r)).collect();
    assert!(stuffing.len() >= 50);
    let users: HashSet<String> = stuffing.iter().filter_map(|(r, _)| username(&r.request_body)).collect();
    let hashed: HashSet<u64> = stuffing.iter().filter_map(|(_, i)| i.login.and_then(|l| l.user)).collect();
    assert_eq!(hashed.len(), users.len());
    assert!(users.len() > 10);
    let mut outcomes = (0, 0);
    for (_, i) in &stuffing {
        let login = i.login.unwrap();
        assert_eq!(login.kind, LoginKind::TokenEndpoint { grant: Grant::Password });
        match login.outcome {
            LoginOutcome::Success => outcomes.0 += 1,
            LoginOutcome::Failure => outcomes.1 += 1,
            LoginOutcome::Unknown => panic!("{i:?}"),
        }
    }
    assert_eq!(outcomes, (1, stuffing.len() - 1), "the scenario lets one login succeed");

    let s = idr.stats();
    assert_eq!(s.token_responses_unparsable, 0);
    assert!(s.linked_token_hits >= calls.len() as u64);
    assert_eq!((s.cert_unparsable, s.jwt_undecodable), (0, 0));
}
