//! Body sampling in the inventory: once an endpoint's bodies are known, most are skimmed
//! rather than analysed; what must not be lost is not. A card number that appears in one
//! response of fifty in a field whose shape never changes is still found; a field never seen
//! before is analysed in the first body that carries it; object ids come from every response;
//! sampling off analyses every body; the work a worker thread does ahead changes nothing; and
//! a snapshot carries the sampling state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, SocketAddr};

use apitap_discovery::inventory::{
    picked, AuthKind, BodyInput, Inventory, InventoryConfig, InventorySnapshot, Observation, Observed, PreparedBodies, SamplingConfig,
};
use apitap_discovery::specmatch::SpecSet;
use serde_json::Value;

/// 2026-03-02T00:00:00Z in ns.
const T0: u64 = 1_772_409_600_000_000_000;
/// Transactions 1.3 ms apart (not a round number, so packet times vary in their low bits).
const STEP: u64 = 1_300_017;
const CARD: &str = "4111 1111 1111 1111";

fn config(sampling: bool) -> InventoryConfig {
    InventoryConfig { sampling: SamplingConfig { enabled: sampling, ..SamplingConfig::default() }, max_object_ids: 16, ..InventoryConfig::default() }
}

fn inventory(cfg: InventoryConfig) -> Inventory {
    Inventory::new(cfg, SpecSet::new(vec![], vec![]).unwrap())
}

/// An account response: the same shape every time, a free-text note, the account's id.
fn account(i: usize, note: &str) -> String {
    format!(
        r#"{{"Data":{{"AccountId":"acc-{i:05}","Currency":"GBP","Nickname":null,"Note":"{note}","Balance":{{"Amount":"{}.00"}}}},"Links":{{"Self":"/v1/accounts/acc-{i:05}"}}}}"#,
        i % 900 + 100
    )
}

fn observation<'a>(ts: u64, auth: AuthKind, uri: &'a str, request_body: &'a [u8], body: &'a [u8]) -> Observation<'a> {
    Observation {
        ts,
        client: IpAddr::from([10, 0, 0, 5]),
        server: SocketAddr::from(([10, 0, 0, 1], 443)),
        host: Some("api.bank.example"),
        method: Some(if request_body.is_empty() { "GET" } else { "POST" }),
        uri: Some(uri),
        status: Some(200),
        latency_ms: Some(12.0),
        request_content_type: (!request_body.is_empty()).then_some("application/json"),
        response_content_type: Some("application/json; charset=utf-8"),
        auth,
        consumer: Some(7),
        request_body,
        response_body: body,
        deprecation_signalled: false,
        visibility: Default::default(),
    }
}

fn get(inv: &mut Inventory, ts: u64, body: &str) -> Observed {
    inv.observe(&observation(ts, AuthKind::Bearer, "/v1/accounts/current", b"", body.as_bytes()))
}

fn report(inv: &mut Inventory) -> Value {
    let mut v = serde_json::to_value(inv.report()).unwrap();
    v.as_object_mut().unwrap().remove("generated_at");
    v
}

fn endpoint_of(report: &Value) -> &Value {
    report["endpoints"].as_array().unwrap().iter().find(|e| e["path"] == "/v1/accounts/current").expect("the endpoint")
}

fn cards(report: &Value) -> u64 {
    endpoint_of(report)["response_sensitive"]["card_number"].as_u64().unwrap_or(0)
}

/// Every body of the stream in the same size class, so that the card bodies cannot be told
/// from the others by size: only the sample can find them.
fn same_size_class(bodies: &[String]) {
    let class = |n: usize| usize::BITS - n.leading_zeros();
    assert!(bodies.iter().all(|b| class(b.len()) == class(bodies[0].len())), "bodies change size class");
}

#[test]
fn a_card_number_in_one_response_of_fifty_with_an_unchanging_shape_is_found() {
    // 300 plain bodies (the shape is stable well before their end), then 5,000 in which every
    // fiftieth note holds a card number: 100 card numbers in all, counted here independently.
    let bodies: Vec<String> = (0..5300)
        .map(|i| if i >= 300 && i % 50 == 0 { account(i, &format!("card {CARD}")) } else { account(i, &format!("rent {i:05} x")) })
        .collect();
    same_size_class(&bodies);
    let carrying = bodies.iter().filter(|b| b.contains(CARD)).count() as u64;
    assert_eq!(carrying, 100);

    let mut sampled = inventory(config(true));
    let mut first_found = None;
    for (i, b) in bodies.iter().enumerate() {
        let o = get(&mut sampled, T0 + i as u64 * STEP, b);
        if o.response_sensitive > 0 && first_found.is_none() {
            first_found = Some(i);
        }
    }
    let r = report(&mut sampled);
    let (analysed, skimmed) = (r["counters"]["bodies_analysed"].as_u64().unwrap(), r["counters"]["bodies_sampled_out"].as_u64().unwrap());
    assert_eq!(analysed + skimmed, 5300);
    assert!(skimmed > 4000, "sampling must really have left most bodies out: {analysed} analysed, {skimmed} skimmed");
    let found = cards(&r);
    assert!(found >= 1 && found < carrying, "card numbers found in the sample: {found} of {carrying}");
    assert!(first_found.is_some_and(|i| i >= 300), "{first_found:?}");
    // The shape is the whole shape, sampled or not.
    let mut all = inventory(config(false));
    for (i, b) in bodies.iter().enumerate() {
        get(&mut all, T0 + i as u64 * STEP, b);
    }
    let r_all = report(&mut all);
    assert_eq!(cards(&r_all), carrying, "sampling off analyses every body");
    assert_eq!((r_all["counters"]["bodies_analysed"].as_u64(), r_all["counters"]["bodies_sampled_out"].as_u64()), (Some(5300), Some(0)));
    assert_eq!(endpoint_of(&r)["response_body"]["fields"], endpoint_of(&r_all)["response_body"]["fields"]);
    assert_eq!(endpoint_of(&r)["response_body"]["json_bodies"], 5300);
}

#[test]
fn a_field_or_type_never_seen_is_analysed_in_the_first_body_that_carries_it() {
    let cfg = config(true);
    let mut inv = inventory(cfg.clone());
    let mut ts = T0;
    for i in 0..400 {
        ts += STEP;
        get(&mut inv, ts, &account(i, "rent"));
    }
    let skimmed = inv.stats().bodies_sampled_out;
    assert!(skimmed > 300, "{skimmed}");
    // Packet times the one-in-K sample does not pick, so that only the check for something
    // new can send these bodies to the full analysis.
    let mut unpicked = || loop {
        ts += STEP;
        if !picked(&cfg.sampling, ts) {
            return ts;
        }
    };
    // A new field, deep in the document.
    let t = unpicked();
    let body = account(400, "rent").replace(r#""Currency""#, &format!(r#""Card":{{"Pan":"{CARD}"}},"Currency""#));
    assert_eq!(get(&mut inv, t, &body).response_sensitive, 1);
    // A known field with a new type: the nickname, always null, now a string.
    let t = unpicked();
    let body = account(401, "rent").replace(r#""Nickname":null"#, r#""Nickname":"jane.doe@example.com""#);
    assert_eq!(get(&mut inv, t, &body).response_sensitive, 1);
    let r = report(&mut inv);
    assert_eq!(endpoint_of(&r)["response_sensitive"], serde_json::json!({"card_number": 1, "email": 1}));
    // And a body of the known shape at such a time is indeed left out.
    let t = unpicked();
    let before = inv.stats().bodies_sampled_out;
    for i in 0..40 {
        get(&mut inv, t + i * STEP * 1000, &account(402, "rent"));
    }
    assert!(inv.stats().bodies_sampled_out > before);
}

#[test]
fn object_ids_come_from_every_response_analysed_or_not() {
    let mut sampled = inventory(config(true));
    let mut all = inventory(config(false));
    for i in 0..3000 {
        let body = account(i, "rent");
        let ts = T0 + i as u64 * STEP;
        let a = get(&mut sampled, ts, &body);
        let b = get(&mut all, ts, &body);
        assert_eq!(a.response_ids, vec![format!("acc-{i:05}")], "response {i}");
        assert_eq!(a.response_ids, b.response_ids);
    }
    assert!(sampled.stats().bodies_sampled_out > 2000, "{:?}", sampled.stats());
}

/// A mixed stream: GETs, POSTs with request bodies, unauthenticated answers with personal
/// data, forms, text, a shape that changes now and then.
/// Packet time, credential, target, request body, response body.
type Exchange = (u64, AuthKind, &'static str, Vec<u8>, Vec<u8>);

fn mixed(n: usize) -> Vec<Exchange> {
    (0..n)
        .map(|i| {
            let ts = T0 + i as u64 * STEP;
            match i % 7 {
                0 => (ts, AuthKind::None, "/v1/customers/profile", vec![], format!(r#"{{"email":"c{i}@example.com","iban":"GB82WEST12345698765432"}}"#).into_bytes()),
                1 | 2 => (
                    ts,
                    AuthKind::Bearer,
                    "/v1/payments",
                    format!(r#"{{"Amount":"{i}.00","Creditor":{{"Iban":"GB82WEST12345698765432"}}}}"#).into_bytes(),
                    format!(r#"{{"PaymentId":"p-{i}","Status":"{}"}}"#, if i % 97 == 0 { "Held" } else { "Done" }).into_bytes(),
                ),
                3 => (ts, AuthKind::ApiKey, "/v1/notes", vec![], format!("note {i} card {}", if i % 40 == 3 { CARD } else { "none" }).into_bytes()),
                _ => {
                    let extra = if i % 301 == 4 { r#","Card":{"Pan":"5555555555554444"}"# } else { "" };
                    (ts, AuthKind::Bearer, "/v1/accounts/current", vec![], account(i, "rent").replace(r#""Currency""#, &format!(r#""Currency":"GBP"{extra},"Cur""#)).into_bytes())
                }
            }
        })
        .collect()
}

#[test]
fn work_done_ahead_on_a_worker_gives_the_same_inventory() {
    let cfg = config(true);
    let mut here = inventory(cfg.clone());
    let mut ahead = inventory(cfg.clone());
    for (ts, auth, uri, req, resp) in &mixed(6000) {
        let obs = observation(*ts, *auth, uri, req, resp);
        let a = here.observe(&obs);
        let b = ahead.observe_prepared(&obs, None, Some(PreparedBodies::compute(&cfg, &BodyInput::of(&obs))));
        assert_eq!((a.response_sensitive, &a.response_ids), (b.response_sensitive, &b.response_ids));
    }
    assert!(here.stats().bodies_sampled_out > 2000, "{:?}", here.stats());
    assert_eq!(report(&mut here), report(&mut ahead));
    let snap = |inv: &Inventory| serde_json::to_value(inv.snapshot()).unwrap();
    assert_eq!(snap(&here), snap(&ahead));
    // The unauthenticated answers with personal data are each analysed: their finding counts
    // every one of them, as without sampling.
    let r = report(&mut here);
    let f = r["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "sensitive_data_without_authentication").unwrap();
    assert_eq!(f["count"], 6000 / 7 + 1);
}

#[test]
fn a_restored_inventory_samples_as_one_never_stopped() {
    let cfg = config(true);
    let stream = mixed(6000);
    let mut whole = inventory(cfg.clone());
    let mut first = inventory(cfg.clone());
    for (i, (ts, auth, uri, req, resp)) in stream.iter().enumerate() {
        let obs = observation(*ts, *auth, uri, req, resp);
        whole.observe(&obs);
        if i < 3000 {
            first.observe(&obs);
        }
    }
    let text = serde_json::to_string(&first.snapshot()).unwrap();
    assert!(text.contains("\"response_sampler\""), "the snapshot carries the sampling state");
    let snap: InventorySnapshot = serde_json::from_str(&text).unwrap();
    let (mut second, _) = Inventory::restore(cfg, SpecSet::new(vec![], vec![]).unwrap(), snap).unwrap();
    for (ts, auth, uri, req, resp) in &stream[3000..] {
        second.observe(&observation(*ts, *auth, uri, req, resp));
    }
    assert!(whole.stats().bodies_sampled_out > 2000);
    assert_eq!(report(&mut second), report(&mut whole));
}
