//! The inventory says how each endpoint's and service's traffic was read: in clear, decrypted
//! from TLS with a key log, or seen as TLS metadata only; the counts survive a snapshot, and a
//! snapshot that claims more decrypted requests than requests is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, SocketAddr};

use apitap_discovery::inventory::{
    AuthKind, Inventory, InventoryConfig, InventorySnapshot, Observation, TlsObservation, Visibility,
};
use apitap_discovery::specmatch::SpecSet;
use serde_json::Value;

/// 2026-03-02T00:00:00Z in ns.
const T0: u64 = 1_772_409_600_000_000_000;

fn inventory() -> Inventory {
    Inventory::new(InventoryConfig::default(), SpecSet::new(vec![], vec![]).unwrap())
}

fn get(inv: &mut Inventory, i: u64, host: &'static str, uri: &str, visibility: Visibility) {
    inv.observe(&Observation {
        ts: T0 + i * 1_000_000,
        client: IpAddr::from([10, 0, 0, 5]),
        server: SocketAddr::from(([10, 0, 0, 1], 443)),
        host: Some(host),
        method: Some("GET"),
        uri: Some(uri),
        status: Some(200),
        latency_ms: Some(3.0),
        request_content_type: None,
        response_content_type: None,
        auth: AuthKind::Bearer,
        consumer: Some(7),
        request_body: b"",
        response_body: b"",
        deprecation_signalled: false,
        visibility,
    });
}

fn tls(inv: &mut Inventory, i: u64, sni: &'static str, decrypted: bool) {
    inv.observe_tls(&TlsObservation {
        ts: T0 + i * 1_000_000,
        client: IpAddr::from([10, 0, 0, 5]),
        server: SocketAddr::from(([10, 0, 0, 1], 443)),
        sni: Some(sni),
        alpn: &[],
        client_version: "TLS 1.3",
        server_version: Some("TLS 1.3"),
        ja4: "t13d1516h2_8daaf6152771_b186095e22b6",
        ja4s: None,
        decrypted,
        server_suite: Some(0x1301),
        findings: &[],
        leaf: None,
    });
}

fn report(inv: &mut Inventory) -> Value {
    serde_json::to_value(inv.report()).unwrap()
}

fn endpoint<'a>(r: &'a Value, host: &str, path: &str) -> &'a Value {
    r["endpoints"].as_array().unwrap().iter().find(|e| e["host"] == host && e["path"] == path).expect("the endpoint")
}

fn service<'a>(r: &'a Value, host: &str) -> &'a Value {
    r["services"].as_array().unwrap().iter().find(|s| s["host"] == host).expect("the service")
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Three services: one read only in clear, one only decrypted (every session had its keys),
/// one with a decrypted and a clear endpoint and a session without keys.
fn mixed() -> Inventory {
    let mut inv = inventory();
    let mut i = 0;
    let mut next = || {
        i += 1;
        i
    };
    for _ in 0..5 {
        get(&mut inv, next(), "plain.bank.example", "/v1/status-report", Visibility::Clear);
    }
    for _ in 0..2 {
        tls(&mut inv, next(), "secure.bank.example", true);
    }
    for _ in 0..4 {
        get(&mut inv, next(), "secure.bank.example", "/v1/accounts", Visibility::Decrypted);
    }
    // A non-API endpoint (a static asset).
    get(&mut inv, next(), "secure.bank.example", "/static/app.css", Visibility::Decrypted);
    tls(&mut inv, next(), "both.bank.example", true);
    tls(&mut inv, next(), "both.bank.example", false);
    for _ in 0..3 {
        get(&mut inv, next(), "both.bank.example", "/v1/payments", Visibility::Decrypted);
        get(&mut inv, next(), "both.bank.example", "/v1/payments", Visibility::Clear);
        get(&mut inv, next(), "both.bank.example", "/v1/balances", Visibility::Clear);
    }
    // Seen only as TLS without keys: no request at all.
    tls(&mut inv, next(), "dark.bank.example", false);
    inv
}

fn check(r: &Value) {
    let e = endpoint(r, "plain.bank.example", "/v1/status-report");
    assert_eq!((names(&e["visibility"]), e["decrypted_requests"].as_u64()), (vec!["clear"], Some(0)));
    let e = endpoint(r, "secure.bank.example", "/v1/accounts");
    assert_eq!((names(&e["visibility"]), e["decrypted_requests"].as_u64(), e["hits"].as_u64()), (vec!["decrypted"], Some(4), Some(4)));
    let e = endpoint(r, "both.bank.example", "/v1/payments");
    assert_eq!((names(&e["visibility"]), e["decrypted_requests"].as_u64(), e["hits"].as_u64()), (vec!["clear", "decrypted"], Some(3), Some(6)));
    let e = endpoint(r, "both.bank.example", "/v1/balances");
    assert_eq!((names(&e["visibility"]), e["decrypted_requests"].as_u64()), (vec!["clear"], Some(0)));

    let o = r["other_endpoints"].as_array().unwrap().iter().find(|e| e["path"] == "/static/app.css").expect("the asset");
    assert_eq!((names(&o["visibility"]), o["decrypted_requests"].as_u64()), (vec!["decrypted"], Some(1)));

    let s = service(r, "plain.bank.example");
    assert_eq!((names(&s["visibility"]), s["decrypted_requests"].as_u64()), (vec!["clear"], Some(0)));
    let s = service(r, "secure.bank.example");
    assert_eq!((names(&s["visibility"]), s["decrypted_requests"].as_u64()), (vec!["decrypted"], Some(5)));
    let s = service(r, "both.bank.example");
    assert_eq!((names(&s["visibility"]), s["decrypted_requests"].as_u64()), (vec!["clear", "decrypted", "metadata"], Some(3)));
    let s = service(r, "dark.bank.example");
    assert_eq!((names(&s["visibility"]), s["decrypted_requests"].as_u64(), s["inspectable"].as_bool()), (vec!["metadata"], Some(0), Some(false)));
}

#[test]
fn endpoints_and_services_say_how_their_traffic_was_read() {
    let mut inv = mixed();
    check(&report(&mut inv));
}

#[test]
fn the_counts_survive_a_snapshot() {
    let inv = mixed();
    let text = serde_json::to_string(&inv.snapshot()).unwrap();
    let snap: InventorySnapshot = serde_json::from_str(&text).unwrap();
    let (mut back, _) = Inventory::restore(InventoryConfig::default(), SpecSet::new(vec![], vec![]).unwrap(), snap).unwrap();
    check(&report(&mut back));
}

#[test]
fn a_snapshot_from_before_decryption_reads_as_clear() {
    let inv = mixed();
    let mut v = serde_json::to_value(inv.snapshot()).unwrap();
    let mut removed = 0;
    strip(&mut v, &mut removed);
    assert!(removed >= 8, "the decrypted counts of 3 services and 5 endpoints were removed ({removed})");
    let snap: InventorySnapshot = serde_json::from_value(v).unwrap();
    let (mut back, _) = Inventory::restore(InventoryConfig::default(), SpecSet::new(vec![], vec![]).unwrap(), snap).unwrap();
    let r = report(&mut back);
    let e = endpoint(&r, "secure.bank.example", "/v1/accounts");
    assert_eq!((names(&e["visibility"]), e["decrypted_requests"].as_u64()), (vec!["clear"], Some(0)));
}

/// Removes every `decrypted` and `decrypted_requests` key (an older snapshot's layout).
fn strip(v: &mut Value, removed: &mut usize) {
    match v {
        Value::Object(m) => {
            for k in ["decrypted", "decrypted_requests"] {
                if m.remove(k).is_some() {
                    *removed += 1;
                }
            }
            m.values_mut().for_each(|x| strip(x, removed));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip(x, removed)),
        _ => {}
    }
}

/// Sets every value under `key` to `to`, returning how many were set.
fn set_all(v: &mut Value, key: &str, to: u64) -> usize {
    match v {
        Value::Object(m) => {
            let mut n = 0;
            if let Some(x) = m.get_mut(key) {
                if x.is_u64() {
                    *x = Value::from(to);
                    n += 1;
                }
            }
            n + m.values_mut().map(|x| set_all(x, key, to)).sum::<usize>()
        }
        Value::Array(a) => a.iter_mut().map(|x| set_all(x, key, to)).sum(),
        _ => 0,
    }
}

#[test]
fn a_snapshot_claiming_more_decrypted_than_requests_is_refused() {
    for key in ["decrypted", "decrypted_requests"] {
        let inv = mixed();
        let mut v = serde_json::to_value(inv.snapshot()).unwrap();
        assert!(set_all(&mut v, key, 1_000) > 0, "{key} is in the snapshot");
        let snap: InventorySnapshot = serde_json::from_value(v).unwrap();
        let err = Inventory::restore(InventoryConfig::default(), SpecSet::new(vec![], vec![]).unwrap(), snap).err().expect("refused");
        assert!(err.contains(key) && err.contains("1000"), "{key}: {err}");
    }
}
