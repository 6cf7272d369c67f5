//! A restore against other specs than the snapshot's (a reload after the bank added, removed
//! or reordered specs): documented endpoints are found again by their operation's identity,
//! those whose operation is gone become shadow endpoints with their statistics, and inferred
//! endpoints that a new spec documents become documented.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod inventory_persist_common;

use std::collections::BTreeMap;

use apitap_discovery::inventory::InventoryConfig;
use inventory_persist_common::*;
use serde_json::Value;

/// Requests per (method, payment path template) in the stream, counted from the requests
/// themselves: the two payment operations the stream calls.
fn payment_hits(events: &[Event]) -> BTreeMap<(&'static str, &'static str), u64> {
    let mut out = BTreeMap::new();
    for e in events {
        let Event::Http(q) = e else { continue };
        let key = if q.method == "POST" && q.uri == "/open-banking/v4.0/pisp/domestic-payment-consents" {
            ("POST", "/open-banking/v4.0/pisp/domestic-payment-consents")
        } else if q.method == "GET" && q.uri.starts_with("/open-banking/v4.0/pisp/domestic-payments/") {
            ("GET", "/open-banking/v4.0/pisp/domestic-payments/{}")
        } else {
            continue;
        };
        *out.entry(key).or_default() += 1;
    }
    out
}

fn class_and_hits(report: &Value, method: &str, path: &str) -> (String, u64) {
    let e = endpoint(report, method, path).unwrap_or_else(|| panic!("{method} {path} not in the report"));
    (e["classification"].as_str().unwrap().to_string(), e["hits"].as_u64().unwrap())
}

const CONSENTS: &str = "/open-banking/v4.0/pisp/domestic-payment-consents";
const PAYMENT_DOC: &str = "/open-banking/v4.0/pisp/domestic-payments/{DomesticPaymentId}";
const PAYMENT_INFERRED: &str = "/open-banking/v4.0/pisp/domestic-payments/{uuid}";

#[test]
fn a_removed_spec_turns_its_endpoints_into_shadows_that_keep_their_statistics() {
    let events = stream(11, T0, 12, 3_000);
    let hits = payment_hits(&events);
    let mut inv = inventory(&[AIS, PIS]);
    feed(&mut inv, &events);
    let before = report(&mut inv);
    assert_eq!(class_and_hits(&before, "POST", CONSENTS), ("documented".into(), hits[&("POST", CONSENTS)]));
    let pis_orphans = before["endpoints"].as_array().unwrap().iter().filter(|e| e["classification"] == "orphan" && e["spec"]["file"] == PIS).count();
    assert!(pis_orphans > 10);

    let (mut after, rep) = round_trip(&inv, InventoryConfig::default(), &[AIS]);
    assert_eq!(rep.moved_to_shadow, 2, "{rep:?}");
    assert_eq!(rep.now_documented, 0);
    let r = report(&mut after);
    assert_eq!(class_and_hits(&r, "POST", CONSENTS), ("shadow".into(), hits[&("POST", CONSENTS)]));
    assert_eq!(class_and_hits(&r, "GET", PAYMENT_DOC), ("shadow".into(), hits[&("GET", "/open-banking/v4.0/pisp/domestic-payments/{}")]));
    let moved = endpoint(&r, "POST", CONSENTS).unwrap();
    let old = endpoint(&before, "POST", CONSENTS).unwrap();
    for field in ["consumers", "status", "latency_ms", "request_body", "first_seen", "last_seen"] {
        assert_eq!(moved[field], old[field], "{field}");
    }
    assert!(moved.get("spec").is_none());
    // The removed spec's orphans are gone with it; the account endpoints are untouched.
    assert!(r["endpoints"].as_array().unwrap().iter().all(|e| e["spec"]["file"] != PIS));
    let docs = |rep: &Value| -> Vec<Value> {
        rep["endpoints"].as_array().unwrap().iter().filter(|e| e["spec"]["file"] == AIS).cloned().collect()
    };
    assert_eq!(docs(&r), docs(&before));
    assert_eq!(r["summary"]["shadow"].as_u64().unwrap(), before["summary"]["shadow"].as_u64().unwrap() + 2);
    let findings = r["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["kind"] == "shadow_endpoint" && f["path"] == CONSENTS));
}

#[test]
fn an_added_spec_documents_the_shadow_endpoints_it_describes() {
    let a = stream(12, T0, 12, 3_000);
    let b = stream(13, T0 + 12 * HOUR, 12, 3_000);
    let hits_a = payment_hits(&a);
    let mut inv = inventory(&[AIS]);
    feed(&mut inv, &a);
    let before = report(&mut inv);
    assert_eq!(class_and_hits(&before, "POST", CONSENTS), ("shadow".into(), hits_a[&("POST", CONSENTS)]));
    let payments = hits_a[&("GET", "/open-banking/v4.0/pisp/domestic-payments/{}")];
    assert_eq!(class_and_hits(&before, "GET", PAYMENT_INFERRED), ("shadow".into(), payments));

    let (mut after, rep) = round_trip(&inv, InventoryConfig::default(), &[AIS, PIS]);
    assert_eq!(rep.now_documented, 2, "{rep:?}");
    assert_eq!(rep.moved_to_shadow, 0);
    let r = report(&mut after);
    assert_eq!(class_and_hits(&r, "POST", CONSENTS), ("documented".into(), hits_a[&("POST", CONSENTS)]));
    assert_eq!(class_and_hits(&r, "GET", PAYMENT_DOC), ("documented".into(), payments));
    assert!(endpoint(&r, "GET", PAYMENT_INFERRED).is_none());
    assert_eq!(endpoint(&r, "GET", PAYMENT_DOC).unwrap()["spec"]["operation_path"], "/domestic-payments/{DomesticPaymentId}");
    // Later traffic lands on the same documented endpoints: statistics add up.
    feed(&mut after, &b);
    let hits_b = payment_hits(&b);
    let r = report(&mut after);
    assert_eq!(class_and_hits(&r, "POST", CONSENTS).1, hits_a[&("POST", CONSENTS)] + hits_b[&("POST", CONSENTS)]);
    assert_eq!(class_and_hits(&r, "GET", PAYMENT_DOC).1, payments + hits_b[&("GET", "/open-banking/v4.0/pisp/domestic-payments/{}")]);
    // The other shadow endpoints are no business of the payment spec.
    assert!(endpoint(&r, "GET", "/internal/users/{param}/profile").is_some_and(|e| e["classification"] == "shadow"));
}

#[test]
fn an_inferred_endpoint_documented_by_an_operation_with_statistics_is_merged_into_it() {
    // With both specs from the start, the payments are documented; a stretch of traffic
    // without the payment spec makes shadows; both come together when the spec is back.
    let a = stream(14, T0, 6, 1_500);
    let b = stream(15, T0 + 6 * HOUR, 6, 1_500);
    let (ha, hb) = (payment_hits(&a), payment_hits(&b));
    let mut inv = inventory(&[AIS, PIS]);
    feed(&mut inv, &a);
    let (mut without, rep) = round_trip(&inv, InventoryConfig::default(), &[AIS]);
    assert_eq!(rep.moved_to_shadow, 2);
    feed(&mut without, &b);
    let (mut back, rep) = round_trip(&without, InventoryConfig::default(), &[AIS, PIS]);
    // The consents endpoint kept its name: it is found again by template; the payment ids
    // came back twice, under the spec's name and under the inferred `{uuid}`: merged.
    assert!(rep.merged >= 1, "{rep:?}");
    let r = report(&mut back);
    assert_eq!(class_and_hits(&r, "POST", CONSENTS), ("documented".into(), ha[&("POST", CONSENTS)] + hb[&("POST", CONSENTS)]));
    let key = ("GET", "/open-banking/v4.0/pisp/domestic-payments/{}");
    assert_eq!(class_and_hits(&r, "GET", PAYMENT_DOC), ("documented".into(), ha[&key] + hb[&key]));
    assert!(endpoint(&r, "GET", PAYMENT_INFERRED).is_none());
}

#[test]
fn reordered_specs_keep_every_endpoint_documented_under_its_own_operation() {
    let events = stream(16, T0, 12, 3_000);
    let mut inv = inventory(&[AIS, PIS]);
    feed(&mut inv, &events);
    let before = report(&mut inv);
    let (mut after, rep) = round_trip(&inv, InventoryConfig::default(), &[PIS, AIS]);
    assert_eq!((rep.moved_to_shadow, rep.now_documented, rep.merged), (0, 0, 0), "{rep:?}");
    let r = report(&mut after);
    assert_eq!(r["endpoints"], before["endpoints"]);
    assert_eq!(r["summary"], before["summary"]);
    // specs[] follows the new order; its counts follow the specs.
    let by_file = |rep: &Value| -> BTreeMap<String, Value> {
        rep["specs"].as_array().unwrap().iter().map(|s| (s["file"].as_str().unwrap().to_string(), s.clone())).collect()
    };
    assert_eq!(by_file(&r), by_file(&before));
    assert_eq!(r["specs"][0]["file"], PIS);
}
