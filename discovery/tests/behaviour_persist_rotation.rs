//! Key rotation without resetting baselines: identities carry the id their credential had
//! under the previous key, the behavioural layer moves the profile, and token links restored
//! from before the rotation keep naming their client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod behaviour_persist_common;
mod identity_common;

use apitap_discovery::behaviour::{Anomaly, AnomalyKind, Behaviour};
use apitap_discovery::identity::{Identifier, Identity, IdentityConfig, IdentitySnapshot};
use behaviour_persist_common::*;
use identity_common as ic;

const K1: [u8; 16] = [1; 16];
const K2: [u8; 16] = [2; 16];

fn api_key_identity(idr: &mut Identifier, ts: u64, ip: &str) -> Identity {
    ic::Req::get().header("x-api-key", "k-8f14e45fceea167a").peer(ip).at(ts).identify(idr)
}

/// Four days of a partner calling with its API key under `K1`, four times an hour.
fn history() -> (Behaviour, u64) {
    let mut idr = Identifier::new(IdentityConfig::default(), K1);
    let mut b = Behaviour::new(config(), K1, true).unwrap();
    let mut old = 0;
    for h in 0..4 * 24 {
        for i in 0..4u64 {
            let ts = MONDAY + h * HOUR + i * 15 * MIN + 1;
            let id = api_key_identity(&mut idr, ts, "198.51.100.20");
            old = id.id.0;
            assert!(feed(&mut b, &Req::own(ts, id, 1 + i % 3)).is_empty());
        }
    }
    (b, old)
}

/// After a restart under `K2`: five requests from a new network in working hours.
fn after_rotation(store: &Store, previous: bool) -> (Behaviour, Vec<Anomaly>, Identity) {
    let (mut b, _) = store.restore(config(), K2);
    let mut idr = Identifier::new(IdentityConfig::default(), K2);
    if previous {
        idr = idr.with_previous_key(K1);
    }
    let t = MONDAY + 4 * DAY + 10 * HOUR;
    let mut events = Vec::new();
    let mut last = None;
    for i in 0..5u64 {
        let id = api_key_identity(&mut idr, t + i * MIN, "192.0.2.55");
        events.extend(feed(&mut b, &Req::own(t + i * MIN, id.clone(), 1)));
        last = Some(id);
    }
    (b, events, last.unwrap())
}

#[test]
fn a_rotated_key_keeps_the_baseline_with_the_previous_key_and_restarts_it_without() {
    let (mut b, old) = history();
    let requests = b.profile(old).unwrap().requests;
    let created = b.stats().consumers_created;
    let store = Store::full(&mut b);

    let (mut kept, events, id) = after_rotation(&store, true);
    assert_ne!(id.id.0, old, "the new key gives a new id");
    assert_eq!(id.previous_id.map(|p| p.0), Some(old), "the same credential under the previous key");
    // The baseline went on: a new network for a warm, narrow consumer is new_origin.
    assert_eq!(new_of(&events, AnomalyKind::NewOrigin), 1, "{events:#?}");
    let finding = events.iter().find(|a| a.kind == AnomalyKind::NewOrigin).unwrap();
    assert_eq!(finding.consumer.as_ref().unwrap().id, id.id.to_string());
    assert_eq!(kept.stats().consumers_rekeyed, 1);
    assert_eq!(kept.stats().consumers_created, created, "no new consumer, no warm-up");
    assert_eq!(kept.profile(id.id.0).unwrap().requests, requests + 5);
    assert!(kept.profile(old).is_none());
    assert_eq!(kept.take_removed(), [old], "the old row is stale");

    // Without the previous key the consumer is new: warming up, nothing to compare with.
    let (fresh, events, id) = after_rotation(&store, false);
    assert_eq!(id.previous_id, None);
    assert_eq!(new_of(&events, AnomalyKind::NewOrigin), 0);
    assert_eq!(fresh.stats().consumers_rekeyed, 0);
    assert_eq!(fresh.stats().consumers_created, created + 1);
    assert_eq!(fresh.profile(id.id.0).unwrap().requests, 5);
}

fn issue(idr: &mut Identifier, client: &str, access: &str, ts: u64) -> Identity {
    ic::Req::post_form("/oauth2/token", "grant_type=client_credentials&scope=accounts")
        .header("authorization", ic::basic(client, "s3cret"))
        .at(ts)
        .response_json(200, &format!(r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":3600}}"#))
        .identify(idr)
}

fn bearer(idr: &mut Identifier, token: &str, ts: u64) -> Identity {
    ic::Req::get().bearer(token).at(ts).identify(idr)
}

#[test]
fn token_links_survive_a_restart_and_a_rotation_and_follow_the_client_to_its_new_id() {
    let t0 = MONDAY;
    let mut idr = Identifier::new(IdentityConfig::default(), K1);
    let client = issue(&mut idr, "tpp-42", "opaque-AAAA-7731", t0);
    let old = client.id;
    assert_eq!(bearer(&mut idr, "opaque-AAAA-7731", t0 + MIN).id, old);
    let json = serde_json::to_string(&idr.snapshot()).unwrap();
    assert!(!json.contains("opaque-AAAA-7731") && !json.contains("s3cret"), "keyed hashes only: {json}");
    let snap: IdentitySnapshot = serde_json::from_str(&json).unwrap();

    // A plain restart under the same key.
    let mut same = Identifier::new(IdentityConfig::default(), K1);
    assert_eq!(same.restore_links(snap.clone()).unwrap(), 1);
    let again = bearer(&mut same, "opaque-AAAA-7731", t0 + 2 * MIN);
    assert_eq!((again.id, again.label.as_str()), (old, "tpp-42"));

    // Another key without the old one as previous: refused, the message says what to do.
    let err = Identifier::new(IdentityConfig::default(), K2).restore_links(snap.clone()).unwrap_err();
    assert!(err.contains("another hashing key") && err.contains("previous key"), "{err}");
    let mut bad = snap.clone();
    bad.format = 7;
    assert!(Identifier::new(IdentityConfig::default(), K1).restore_links(bad).unwrap_err().contains("format 7"));

    // A rotation: the link is found by the old key's hash; the client keeps its old id (its
    // profile is there) until it authenticates again, then both move to the new id.
    let mut idr = Identifier::new(IdentityConfig::default(), K2).with_previous_key(K1);
    assert_eq!(idr.restore_links(snap).unwrap(), 1);
    let mut b = Behaviour::new(config(), K2, true).unwrap();
    let mut seen = Vec::new();
    let a = bearer(&mut idr, "opaque-AAAA-7731", t0 + 3 * MIN);
    assert_eq!((a.id, a.previous_id, a.label.as_str()), (old, None, "tpp-42"));
    assert_eq!(idr.stats().linked_tokens_rekeyed, 1);
    seen.push(a);
    let reauth = issue(&mut idr, "tpp-42", "opaque-BBBB-9902", t0 + 4 * MIN);
    assert_ne!(reauth.id, old);
    assert_eq!(reauth.previous_id, Some(old));
    seen.push(reauth.clone());
    for (token, m) in [("opaque-AAAA-7731", 5), ("opaque-BBBB-9902", 6)] {
        let id = bearer(&mut idr, token, t0 + m * MIN);
        assert_eq!(id.id, reauth.id, "{token}: the link now names the new id");
        seen.push(id);
    }
    for (i, id) in seen.into_iter().enumerate() {
        feed(&mut b, &Req::own(t0 + (3 + i as u64) * MIN, id, 1));
    }
    assert_eq!((b.consumers(), b.stats().consumers_created, b.stats().consumers_rekeyed), (1, 1, 1));
    assert_eq!(b.profile(reauth.id.0).unwrap().requests, 4);
}

#[test]
fn erasure_of_identity_links_by_client_and_by_customer() {
    let t0 = MONDAY;
    let mut idr = Identifier::new(IdentityConfig::default(), K1);
    let body = r#"{"access_token":"tok-c1","expires_in":600,"id_token":"ID"}"#;
    let id_token = ic::jwt(r#"{"sub":"psu-77","aud":"tpp-9"}"#);
    let issued = ic::Req::post_form("/oauth2/token", "grant_type=authorization_code&code=x")
        .header("authorization", ic::basic("tpp-9", "pw"))
        .at(t0)
        .response_json(200, &body.replace("ID", &id_token))
        .identify(&mut idr);
    issue(&mut idr, "tpp-10", "tok-c2", t0);
    let customer = bearer(&mut idr, "tok-c1", t0 + SEC).customer.expect("the id_token names the customer");
    assert!(idr.customer_ids_of("psu-77").contains(&customer), "an erasure request finds the keyed id");
    assert_eq!(idr.forget_customer(customer), 1);
    let after = bearer(&mut idr, "tok-c1", t0 + 2 * SEC);
    assert_eq!((after.id, after.customer), (issued.id, None), "the link stays, without its customer");
    assert_eq!(idr.forget_consumer(issued.id.0), 1);
    assert_ne!(bearer(&mut idr, "tok-c1", t0 + 3 * SEC).id, issued.id, "the link is gone");
    assert_eq!(idr.linked_tokens(), 1, "the other client's link stays");
    assert_eq!(idr.expire(t0 + 3600 * SEC), 0, "valid through its expiry");
    assert_eq!(idr.expire(t0 + 3601 * SEC), 1);
    assert_eq!(idr.linked_tokens(), 0);
}
