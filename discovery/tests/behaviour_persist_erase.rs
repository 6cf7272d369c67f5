//! Erasure and retention of what the behavioural layer holds, and restores from hostile
//! snapshots: errors and counts, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod behaviour_persist_common;

use std::collections::HashMap;
use std::time::Duration;

use apitap_discovery::behaviour::persist::MAX_PROFILE_ENCODED_BYTES;
use apitap_discovery::behaviour::{AnomalyKind, Behaviour, BehaviourSnapshot, Profile};
use apitap_discovery::sketch::packed::{encode_base64, pack};
use behaviour_persist_common::*;

/// The layer right after consumer 6's oversized answer (its finding is open and names the
/// customer).
fn at_the_oversized_answer() -> Behaviour {
    let (reqs, _) = scenario();
    let mut b = engine();
    for r in &reqs {
        let ev = feed(&mut b, r);
        if ev.iter().any(|a| a.kind == AnomalyKind::ResponseSize) {
            return b;
        }
    }
    panic!("no response_size finding");
}

fn everything(b: &Behaviour) -> String {
    let mut s = serde_json::to_string(&b.snapshot_global()).unwrap();
    for (_, row) in profiles_json(b) {
        s.push_str(&row);
    }
    s
}

#[test]
fn an_erased_customer_appears_nowhere() {
    let mut b = at_the_oversized_answer();
    let hex = CUSTOMER.to_string();
    let decimal = CUSTOMER.0.to_string();
    let before = everything(&b);
    assert!(before.contains(&hex), "the open finding names the customer");
    assert_eq!(b.profile(6).unwrap().summary(6).customers, std::slice::from_ref(&hex));
    let since = b.latest();
    let n = b.forget_customer(&hex.to_uppercase());
    assert_eq!(n, 2, "the profile's count and the finding's customer");
    let after = everything(&b);
    assert!(!after.contains(&hex) && !after.contains(&decimal));
    for (_, p) in b.profiles_changed_since(0) {
        assert!(p.customer_ids.get(CUSTOMER.0).is_none());
    }
    assert!(b.profile(6).unwrap().summary(6).customers.is_empty());
    assert!(b.profiles_changed_since(since).any(|(id, _)| id == 6), "the next checkpoint rewrites the row");
    assert_eq!(b.stats().customer_erasures, 2);
    assert_eq!(b.forget_customer(&hex), 0, "nothing left");
}

#[test]
fn an_erased_consumer_leaves_no_profile_and_no_finding() {
    let mut b = at_the_oversized_answer();
    let open_before = b.snapshot_global().alerts.open.len();
    assert!(b.snapshot_global().alerts.open.iter().any(|f| f.kind_and_consumer().1 == 6));
    assert!(b.forget_consumer(6));
    assert!(b.profile(6).is_none());
    let g = b.snapshot_global();
    assert!(g.alerts.open.iter().all(|f| f.kind_and_consumer().1 != 6));
    assert!(g.alerts.recent.iter().all(|r| r.consumer != 6));
    assert!(g.alerts.open.len() < open_before);
    assert!(!serde_json::to_string(&g).unwrap().contains("client-6"));
    assert_eq!((b.stats().consumers_forgotten, b.alert_stats().forgotten), (1, (open_before - g.alerts.open.len()) as u64));
    assert!(!b.forget_consumer(6), "already gone");
    assert!(b.drain().is_empty(), "an erasure emits nothing");
}

#[test]
fn retention_drops_exactly_the_profiles_inactive_too_long() {
    let (reqs, _) = scenario();
    let mut b = engine();
    for r in &reqs {
        feed(&mut b, r);
    }
    let now = b.latest();
    let mut last: HashMap<u64, u64> = HashMap::new();
    for r in &reqs {
        let e = last.entry(r.id.id.0).or_default();
        *e = (*e).max(r.ts);
    }
    let held: Vec<u64> = b.consumer_ids().collect();
    let mut want: Vec<u64> = held.iter().copied().filter(|id| last[id] < now - 2 * HOUR).collect();
    want.sort_unstable();
    assert!(!want.is_empty() && want.len() < held.len(), "{want:?} of {held:?}");
    assert_eq!(b.expire(now, Duration::from_secs(2 * 3600)), want);
    assert_eq!(b.consumers(), held.len() - want.len());
    assert_eq!(b.stats().consumers_expired, want.len() as u64);
    assert!(b.expire(now, Duration::from_secs(2 * 3600)).is_empty());
}

fn store_at_cut() -> (Behaviour, Store) {
    let (reqs, cut) = scenario();
    let mut b = engine();
    for r in &reqs[..cut] {
        feed(&mut b, r);
    }
    let s = Store::full(&mut b);
    (b, s)
}

fn global(s: &Store) -> BehaviourSnapshot {
    serde_json::from_str(&s.global).unwrap()
}

#[test]
fn a_snapshot_of_another_format_is_refused_with_what_to_do() {
    let (_, s) = store_at_cut();
    let mut g = global(&s);
    g.format = 99;
    let err = match Behaviour::restore(config(), KEY, true, g, Vec::new()) {
        Err(e) => e,
        Ok(_) => panic!("format 99 restored"),
    };
    assert!(err.contains("format 99") && err.contains("start without"), "{err}");
}

fn edited(row: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Profile {
    let mut v: serde_json::Value = serde_json::from_str(row).unwrap();
    edit(&mut v);
    serde_json::from_value(v).unwrap()
}

#[test]
fn profiles_outside_the_limits_are_not_restored_and_counted() {
    let (_, s) = store_at_cut();
    let row = &s.rows[&4];
    let huge_words = encode_base64(&pack(&vec![u64::MAX; 65_536]));
    let unsorted = encode_base64(&pack(&[9u64, 3]));
    let bad: Vec<(u64, Profile)> = vec![
        (101, edited(row, |v| v["format"] = 0.into())),
        (102, edited(row, |v| v["endpoints"]["cap"] = 1_000_000_000u64.into())),
        (103, edited(row, |v| v["received"]["stages"][0]["words"] = huge_words.into())),
        (104, edited(row, |v| v["customers"]["regs"] = serde_json::json!([1, 2, 3]))),
        (105, edited(row, |v| v["season"]["week"] = "AAAAAAAAAAA=".into())),
        (106, edited(row, |v| {
            v["recent_sessions"]["keys"] = unsorted.into();
            v["recent_sessions"]["stamps"] = serde_json::json!([0, 0]);
        })),
        (107, edited(row, |v| v["hour_ratio"]["alpha"] = 7.5.into())),
        (108, edited(row, |v| v["label"] = "x".repeat(5000).into())),
    ];
    let good: Profile = serde_json::from_str(row).unwrap();
    let mut all = bad;
    all.push((4, good.clone()));
    all.push((4, good));
    let (b, st) = Behaviour::restore(config(), KEY, true, global(&s), all).unwrap();
    assert_eq!((st.profiles_restored, st.profiles_invalid, st.profiles_duplicate), (1, 8, 1), "{st:?}");
    assert!(st.first_error.as_deref().unwrap().contains("format 0"), "{:?}", st.first_error);
    assert_eq!(b.consumer_ids().collect::<Vec<_>>(), [4]);
}

#[test]
fn findings_and_baselines_outside_the_limits_are_dropped_and_counted() {
    let (_, s) = store_at_cut();
    let mut g: serde_json::Value = serde_json::from_str(&s.global).unwrap();
    let open = g["alerts"]["open"].as_array().unwrap().clone();
    assert!(!open.is_empty());
    let mut forged = open[0].clone();
    forged["id"] = "not-an-id".into();
    let mut bloated = open[0].clone();
    bloated["id"] = "f".repeat(32).into();
    bloated["subject"] = 424242.into();
    bloated["evidence"] = (0..100).map(|i| (format!("k{i}"), serde_json::json!(i))).collect::<serde_json::Map<_, _>>().into();
    let mut twin = open[0].clone();
    twin["id"] = "e".repeat(32).into();
    g["alerts"]["open"].as_array_mut().unwrap().extend([forged, bloated, twin]);
    g["peers"].as_array_mut().unwrap().push(serde_json::json!({ "source": "carrier_pigeon", "hourly": { "counts": [], "count": 0, "sum": 0, "max": 0 } }));
    let mut ep = g["endpoints"][0].clone();
    ep["key"] = 7.into();
    ep["sizes"]["counts"] = serde_json::json!([1, 2]);
    g["endpoints"].as_array_mut().unwrap().push(ep);
    let g: BehaviourSnapshot = serde_json::from_value(g).unwrap();
    let (_, st) = Behaviour::restore(config(), KEY, true, g, Vec::new()).unwrap();
    assert_eq!((st.findings_restored, st.findings_invalid), (open.len(), 3), "{st:?}");
    assert_eq!(st.peers_dropped, 1);
    assert_eq!(st.endpoints_invalid, 1);
}

/// splitmix64, for reproducible mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn mutated_rows_never_panic_and_are_either_restored_or_counted() {
    let (_, s) = store_at_cut();
    let row = s.rows[&4].as_bytes().to_vec();
    let g = global(&s);
    let mut rng = Rng(7);
    let (mut decoded, mut restored) = (0, 0);
    let alphabet = b"0123456789ABCDEFabcdef+/=-.,:{}[]\"e";
    for _ in 0..600 {
        let mut m = row.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() % m.len() as u64) as usize;
            m[at] = alphabet[(rng.next() % alphabet.len() as u64) as usize];
        }
        let Ok(p) = serde_json::from_slice::<Profile>(&m) else { continue };
        decoded += 1;
        let (mut b, st) = Behaviour::restore(config(), KEY, true, g.clone(), vec![(4, p)]).unwrap();
        assert_eq!(st.profiles_restored + st.profiles_invalid, 1);
        restored += st.profiles_restored;
        // Whatever was restored keeps scoring.
        let t = MONDAY + 5 * DAY;
        for i in 0..3u64 {
            feed(&mut b, &Req::new(t + i * SEC, identity(4, "192.0.2.1"), "/aisp/accounts/{AccountId}", &format!("/aisp/accounts/{i}"), 403));
        }
    }
    assert!(decoded > 50 && restored > 0 && restored < decoded, "{decoded} decoded, {restored} restored");
}

#[test]
fn a_profile_at_every_bound_encodes_within_the_row_limit_and_restores() {
    let mut b = engine();
    let mut ts = MONDAY;
    for i in 0..20_000u64 {
        ts += 30 * SEC;
        let ip = format!("10.{}.{}.1", i % 200, (i / 200) % 200);
        let mut r = Req::new(ts, identity(60, &ip), "/aisp/accounts/{AccountId}/x", &format!("/aisp/accounts/a{i}/x"), if i % 2 == 0 { 200 } else { 404 });
        r.obs.template = Some(format!("/aisp/accounts/{{AccountId}}/x{}", i % 300));
        r.path = format!("/aisp/accounts/a{i}/x{}", i % 300);
        r.obs.response_ids = (0..20).map(|k| format!("id-{i}-{k}")).collect();
        r.ua = Some(format!("agent/{}", i % 100));
        r.id.customer = Some(apitap_discovery::identity::CustomerId(i));
        feed(&mut b, &r);
    }
    let p = b.profile(60).unwrap();
    assert!(p.received.stages_dropped() > 0, "the id filter filled");
    let json = serde_json::to_string(p).unwrap();
    println!("profile at every bound: {} bytes JSON", json.len());
    assert!(json.len() < MAX_PROFILE_ENCODED_BYTES / 2, "{} bytes", json.len());
    assert_eq!(p.summary(60).customers.len(), 32);
    let back: Profile = serde_json::from_str(&json).unwrap();
    let (r, st) = Behaviour::restore(config(), KEY, true, b.snapshot_global(), vec![(60, back)]).unwrap();
    assert_eq!(st.profiles_invalid, 0, "{:?}", st.first_error);
    assert_eq!(serde_json::to_string(r.profile(60).unwrap()).unwrap(), json);
}
