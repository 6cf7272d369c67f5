//! The inventory survives a restart: a stream A then B fed to one inventory gives the same
//! report as A fed to another, snapshotted through JSON text, restored, then B. Also: the
//! hourly traffic series, refused and mangled snapshots, and the change tracker's state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod inventory_persist_common;

use std::collections::BTreeMap;

use apitap_discovery::inventory::{
    service_name, ChangeConfig, ChangeTracker, ChangeTrackerSnapshot, Inventory, InventoryConfig, InventorySnapshot, SNAPSHOT_FORMAT,
};
use inventory_persist_common::*;
use serde_json::Value;

const BOTH: &[&str] = &[AIS, PIS];

#[test]
fn a_restored_inventory_reports_exactly_as_one_never_stopped() {
    let a = stream(1, T0, 30, 6_000);
    let b = stream(2, T0 + 30 * HOUR, 30, 6_000);
    let mut whole = inventory(BOTH);
    feed(&mut whole, &a);
    feed(&mut whole, &b);

    let mut first = inventory(BOTH);
    feed(&mut first, &a);
    // The daemon reports between checkpoints; that must not matter.
    let before = report(&mut first);
    let (mut second, restored) = round_trip(&first, InventoryConfig::default(), BOTH);
    assert_eq!(report(&mut second), before, "the restored inventory reports as the one it came from");
    assert_eq!(restored.moved_to_shadow + restored.now_documented + restored.dropped_for_limits + restored.merged, 0, "{restored:?}");
    assert_eq!(restored.values_cut, 0);
    feed(&mut second, &b);

    let (got, want) = (report(&mut second), report(&mut whole));
    assert_eq!(got, want);
    // The comparison is worth something only if the stream exercised what persistence must
    // carry: every class, templates that merged, estimated consumer counts, latency, shapes,
    // sensitive data, TLS-only services, scanner noise and hourly traffic.
    let s = &want["summary"];
    assert!(s["documented"].as_u64().unwrap() >= 5 && s["shadow"].as_u64().unwrap() >= 3, "{s}");
    assert!(s["zombie"].as_u64().unwrap() >= 1 && s["orphan"].as_u64().unwrap() >= 10, "{s}");
    assert_eq!(s["services_not_inspectable"], 1);
    let profile = endpoint(&want, "GET", "/internal/users/{param}/profile").expect("the user-name position merged");
    assert!(profile["hits"].as_u64().unwrap() > 500);
    let balances = endpoint(&want, "GET", "/open-banking/v4.0/aisp/accounts/{AccountId}/balances").unwrap();
    assert_eq!(balances["counts_estimated"], true);
    assert!(balances["latency_ms"]["p99"].as_f64().unwrap() > balances["latency_ms"]["p50"].as_f64().unwrap());
    let tx = endpoint(&want, "GET", "/open-banking/v4.0/aisp/accounts/{AccountId}/transactions").unwrap();
    assert!(tx["response_sensitive"]["iban"].as_u64().unwrap() > 0, "{tx}");
    assert!(tx["query_params"].as_array().unwrap().contains(&Value::from("fromBookingDateTime")));
    let api = want["services"].as_array().unwrap().iter().find(|s| s["host"] == "api.bank.example").unwrap();
    assert!(api["not_found_requests"].as_u64().unwrap() > 100);
    assert!(api["traffic"].as_array().unwrap().len() >= 59);
    // And the state itself is the same, not only its report.
    let snap = |inv: &Inventory| serde_json::to_value(inv.snapshot()).unwrap();
    assert_eq!(snap(&second), snap(&whole));
}

/// Requests, errors and bytes per service and UTC hour, counted from the stream itself.
fn expected_traffic(events: &[Event], keep_hours: u64) -> BTreeMap<String, Vec<(String, u64, u64, u64)>> {
    let mut per: BTreeMap<String, BTreeMap<u64, (u64, u64, u64)>> = BTreeMap::new();
    for e in events {
        let Event::Http(q) = e else { continue };
        let name = service_name(q.host.as_deref(), q.server);
        let c = per.entry(name).or_default().entry(q.ts / HOUR).or_default();
        c.0 += 1;
        c.1 += u64::from(q.status.is_some_and(|s| s >= 400));
        c.2 += q.response_bytes;
    }
    let newest = events.iter().map(|e| match e {
        Event::Http(q) => q.ts,
        Event::Tls { ts, .. } => *ts,
    });
    let newest_hour = newest.max().unwrap() / HOUR;
    per.into_iter()
        .map(|(name, hours)| {
            let rows = hours
                .into_iter()
                .filter(|(h, _)| h + keep_hours > newest_hour)
                .map(|(h, (n, err, bytes))| {
                    let t = chrono::DateTime::from_timestamp((h * 3600) as i64, 0).unwrap();
                    (t.format("%Y-%m-%dT%H:00:00.000Z").to_string(), n, err, bytes)
                })
                .collect();
            (name, rows)
        })
        .collect()
}

fn traffic_of(report: &Value) -> BTreeMap<String, Vec<(String, u64, u64, u64)>> {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["requests"].as_u64().unwrap() > 0)
        .map(|s| {
            let rows = s["traffic"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let n = |k: &str| t[k].as_u64().unwrap();
                    (t["hour"].as_str().unwrap().to_string(), n("requests"), n("errors"), n("bytes"))
                })
                .collect();
            (s["host"].as_str().unwrap().to_string(), rows)
        })
        .collect()
}

#[test]
fn hourly_traffic_per_service_counts_each_hour_and_survives_a_restart() {
    let a = stream(3, T0, 20, 3_000);
    let b = stream(4, T0 + 20 * HOUR, 10, 1_500);
    let mut all = a.clone();
    all.extend(b.iter().cloned());
    for keep in [720usize, 6] {
        let cfg = InventoryConfig { traffic_hours: keep, ..InventoryConfig::default() };
        let mut inv = Inventory::new(cfg.clone(), specs(BOTH));
        feed(&mut inv, &a);
        let (mut inv, _) = round_trip(&inv, cfg, BOTH);
        feed(&mut inv, &b);
        let got = traffic_of(&report(&mut inv));
        let want = expected_traffic(&all, keep as u64);
        assert_eq!(got, want, "traffic_hours = {keep}");
        let rows: usize = want.values().map(Vec::len).sum();
        assert!(rows >= if keep == 6 { 18 } else { 90 }, "{rows} rows");
    }
    // The series counts every request of the service, as its `requests` does.
    let mut inv = inventory(BOTH);
    feed(&mut inv, &a);
    let r = report(&mut inv);
    for s in r["services"].as_array().unwrap() {
        let sum: u64 = s["traffic"].as_array().unwrap().iter().map(|t| t["requests"].as_u64().unwrap()).sum();
        assert_eq!(sum, s["requests"].as_u64().unwrap(), "{}", s["host"]);
    }
}

fn snapshot_json(events: &[Event]) -> Value {
    let mut inv = inventory(BOTH);
    feed(&mut inv, events);
    serde_json::to_value(inv.snapshot()).unwrap()
}

fn restore_value(v: &Value, cfg: InventoryConfig) -> Result<Inventory, String> {
    let snap: InventorySnapshot = serde_json::from_value(v.clone()).map_err(|e| format!("serde: {e}"))?;
    Inventory::restore(cfg, specs(BOTH), snap).map(|(inv, _)| inv)
}

#[test]
fn bad_snapshots_are_refused_with_a_reason() {
    let good = snapshot_json(&stream(5, T0, 4, 1_500));
    assert!(restore_value(&good, InventoryConfig::default()).is_ok());
    let refused = |f: &dyn Fn(&mut Value), cfg: InventoryConfig| {
        let mut v = good.clone();
        f(&mut v);
        restore_value(&v, cfg).err().expect("refused")
    };
    let err = refused(&|v| v["format"] = Value::from(SNAPSHOT_FORMAT + 1), InventoryConfig::default());
    assert!(err.contains("format 2") && err.contains("format 1"), "{err}");
    let err = refused(&|_| {}, InventoryConfig { max_services: 2, ..InventoryConfig::default() });
    assert!(err.contains("more than max_services = 2"), "{err}");
    let services = |v: &mut Value| -> Vec<Value> { v["services"].as_array().unwrap().clone() };
    let api = services(&mut good.clone()).iter().position(|s| s["name"] == "api.bank.example").unwrap();
    let err = refused(
        &|v| v["services"][api]["documented"][0]["stats"]["latency_us"] = serde_json::json!([[u64::MAX, 3]]),
        InventoryConfig::default(),
    );
    assert!(err.contains("latency") && err.contains("api.bank.example"), "{err}");
    let err = refused(&|v| v["services"][api]["documented"][0]["stats"]["consumers"] = serde_json::json!({"sketch": "00ff"}), InventoryConfig::default());
    assert!(err.contains("consumers") && err.contains("sketch"), "{err}");
    let err = refused(&|v| v["services"][api]["templater"]["nodes"][0]["literals"][0]["child"] = Value::from(9_999), InventoryConfig::default());
    assert!(err.contains("templater") && err.contains("9999"), "{err}");
    let err = refused(&|v| v["services"][api]["requests"] = Value::from(u64::MAX), InventoryConfig::default());
    assert!(err.contains("requests"), "{err}");
    let err = refused(
        &|v| {
            let s = v["services"][api].clone();
            v["services"].as_array_mut().unwrap().push(s);
        },
        InventoryConfig::default(),
    );
    assert!(err.contains("listed twice"), "{err}");
    let err = refused(&|v| v["services"][api]["other"][0]["category"] = Value::from("font"), InventoryConfig::default());
    assert!(err.contains("font"), "{err}");
    // A lower per-service bound than when written drops the quietest endpoints and says so.
    let cfg = InventoryConfig { max_endpoints_per_service: 1, ..InventoryConfig::default() };
    let snap: InventorySnapshot = serde_json::from_value(good.clone()).unwrap();
    let inferred: usize = snap.services.iter().map(|s| s.inferred.len().saturating_sub(1)).sum();
    let (mut inv, rep) = Inventory::restore(cfg, specs(BOTH), snap).unwrap();
    assert_eq!(rep.dropped_for_limits, inferred);
    assert!(inferred > 0);
    let r = report(&mut inv);
    let internal = r["endpoints"].as_array().unwrap().iter().filter(|e| e["host"] == "internal.bank.example:8080").count();
    assert_eq!(internal, 1);
}

/// Every number of a snapshot in turn made huge, zero, or a string: restore answers (either
/// way) and the inventory it may give keeps working; nothing panics.
#[test]
fn mangled_snapshots_never_panic() {
    let events = stream(6, T0, 3, 800);
    let good = snapshot_json(&events);
    let mut paths: Vec<Vec<Value>> = Vec::new();
    fn walk(v: &Value, at: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        match v {
            Value::Number(_) | Value::String(_) | Value::Bool(_) => out.push(at.clone()),
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate().take(3) {
                    at.push(Value::from(i));
                    walk(x, at, out);
                    at.pop();
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    at.push(Value::from(k.clone()));
                    walk(x, at, out);
                    at.pop();
                }
            }
            Value::Null => {}
        }
    }
    walk(&good, &mut Vec::new(), &mut paths);
    assert!(paths.len() > 300, "{}", paths.len());
    let (mut refused, mut accepted) = (0, 0);
    for (n, path) in paths.iter().enumerate() {
        for replacement in [Value::from(u64::MAX), Value::from(0), Value::from("{x}/../\u{0}é")] {
            let mut v = good.clone();
            let mut slot = &mut v;
            for k in path {
                slot = match k {
                    Value::String(s) => &mut slot[s.as_str()],
                    _ => &mut slot[k.as_u64().unwrap() as usize],
                };
            }
            *slot = replacement;
            match restore_value(&v, InventoryConfig::default()) {
                Ok(mut inv) => {
                    accepted += 1;
                    if n % 10 == 0 {
                        feed(&mut inv, &events[..100]);
                        let _ = inv.report();
                    }
                }
                Err(_) => refused += 1,
            }
        }
    }
    assert!(refused > 100 && accepted > 100, "refused {refused}, accepted {accepted}");
}

#[test]
fn the_change_stream_does_not_start_over_after_a_restart() {
    let a = stream(7, T0, 10, 2_000);
    let b = stream(8, T0 + 10 * HOUR, 10, 2_000);
    let now = |h: u64| T0 + h * HOUR;
    let mut inv = inventory(BOTH);
    let mut tracker = ChangeTracker::new(ChangeConfig::default());
    feed(&mut inv, &a);
    let first = tracker.handle_report(now(10), &inv.report());
    assert!(!first.is_empty() && first.iter().all(|c| c.initial));

    let text = serde_json::to_string(&tracker.snapshot()).unwrap();
    let snap: ChangeTrackerSnapshot = serde_json::from_str(&text).unwrap();
    let mut restored = ChangeTracker::restore(ChangeConfig::default(), snap, 100_000).unwrap();
    assert_eq!(restored.tracked(), tracker.tracked());
    let (mut inv2, _) = round_trip(&inv, InventoryConfig::default(), BOTH);
    // Nothing happened: nothing to announce, certainly not everything as new.
    assert!(restored.handle_report(now(10), &inv2.report()).is_empty());

    feed(&mut inv, &b);
    feed(&mut inv2, &b);
    let summary = |c: &[apitap_discovery::inventory::EndpointChange]| -> Vec<(String, &'static str, bool)> {
        c.iter().map(|c| (c.key.clone(), c.kind.name(), c.initial)).collect()
    };
    // Past the refresh interval, with a day of quiet for the orphan rule to see nothing.
    let want = tracker.handle_report(now(40), &inv.report());
    let got = restored.handle_report(now(40), &inv2.report());
    assert!(!want.is_empty());
    assert_eq!(summary(&got), summary(&want));
    assert!(got.iter().all(|c| !c.initial));
    assert_eq!(restored.stats().reports, tracker.stats().reports + 1);

    // A forged snapshot is refused with a reason, never trusted blindly.
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["format"] = Value::from(99);
    let err = ChangeTracker::restore(ChangeConfig::default(), serde_json::from_value(v).unwrap(), 100_000).unwrap_err();
    assert!(err.contains("99"), "{err}");
    let snap: ChangeTrackerSnapshot = serde_json::from_str(&text).unwrap();
    let err = ChangeTracker::restore(ChangeConfig::default(), snap, 3).unwrap_err();
    assert!(err.contains("more than 3"), "{err}");
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["endpoints"][0]["findings"] = serde_json::json!(["made_up_finding"]);
    let err = ChangeTracker::restore(ChangeConfig::default(), serde_json::from_value(v).unwrap(), 100_000).unwrap_err();
    assert!(err.contains("made_up_finding"), "{err}");
}
