//! Persistence is equivalence: a layer restored from what a store holds scores the rest of the
//! traffic exactly as the layer that never stopped (the same finding events, with the same ids,
//! lifecycles and evidence, and the same profiles afterwards).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod behaviour_persist_common;

use apitap_discovery::behaviour::{Anomaly, AnomalyKind, BehaviourConfig, Lifecycle};
use behaviour_persist_common::*;

/// Events of an uninterrupted layer, per request.
fn straight(reqs: &[Req]) -> (Vec<Vec<Anomaly>>, apitap_discovery::behaviour::Behaviour) {
    let mut b = engine();
    let ev = reqs.iter().map(|r| feed(&mut b, r)).collect();
    (ev, b)
}

fn flat(ev: &[Vec<Anomaly>]) -> Vec<Anomaly> {
    ev.iter().flatten().cloned().collect()
}

#[test]
fn the_scenario_detects_after_the_cut_what_began_before_it() {
    // Without this the equivalence below could hold on nothing.
    let (reqs, cut) = scenario();
    let (ev, b) = straight(&reqs);
    let before = flat(&ev[..cut]);
    let after = flat(&ev[cut..]);
    for kind in [AnomalyKind::BolaEnumeration, AnomalyKind::RateSurge, AnomalyKind::BulkExport, AnomalyKind::NewOrigin, AnomalyKind::ResponseSize] {
        assert_eq!(new_of(&before, kind), 0, "{kind:?} before the cut: {before:#?}");
        assert!(new_of(&after, kind) >= 1, "{kind:?} not detected after the cut");
    }
    assert_eq!(new_of(&before, AnomalyKind::ShadowEndpointUse), 1);
    let shadow_closed = after.iter().any(|a| a.kind == AnomalyKind::ShadowEndpointUse && a.lifecycle == Lifecycle::Closed);
    assert!(shadow_closed, "the finding opened before the cut closes after it");
    assert!(b.stats().consumers_evicted > 0, "the profile table evicted");
    assert!(b.stats().late == 0, "late by less than a minute: counted in their windows");
}

#[test]
fn a_layer_restored_at_the_cut_gives_the_same_events_and_profiles() {
    let (reqs, cut) = scenario();
    let (ev, whole) = straight(&reqs);
    let want = flat(&ev[cut..]);

    let mut first = engine();
    for r in &reqs[..cut] {
        feed(&mut first, r);
    }
    let store = Store::full(&mut first);
    let global_bytes = store.global.len();
    assert!(global_bytes < 64 * 1024, "global snapshot {global_bytes} bytes");
    let largest = store.rows.values().map(String::len).max().unwrap();
    assert!(largest < 24 * 1024, "largest profile row {largest} bytes");
    let (mut restored, stats) = store.restore(config(), KEY);
    assert_eq!(stats.profiles_restored, first.consumers());
    assert_eq!((stats.profiles_invalid, stats.profiles_over_limit, stats.windows_reset), (0, 0, 0), "{stats:?}");
    assert!(stats.findings_restored >= 1, "an open finding crossed the cut");
    drop(first);
    let got: Vec<Anomaly> = reqs[cut..].iter().flat_map(|r| feed(&mut restored, r)).collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    // The state afterwards is the same too: the next results will be.
    assert_eq!(profiles_json(&restored), profiles_json(&whole));
    assert_eq!(serde_json::to_string(&restored.snapshot_global()).unwrap(), serde_json::to_string(&whole.snapshot_global()).unwrap());
}

/// Feeds `reqs` with a checkpoint after a request once a minute of packet time has passed
/// (rows of profiles changed since the last one only, removed rows deleted), until `crash`
/// says to stop right after a checkpoint; `crash` is told the request index and whether a
/// late request (older than the previous checkpoint's time) came since it. Returns the store,
/// the index to resume from and the rows written.
fn checkpointed(reqs: &[Req], crash: impl Fn(usize, bool) -> bool) -> (Store, usize, usize) {
    let mut b = engine();
    let mut store = Store::default();
    let (mut since, mut resume, mut written, mut late) = (0, 0, 0, false);
    for (i, r) in reqs.iter().enumerate() {
        late |= since > 0 && r.ts < since;
        feed(&mut b, r);
        if b.latest() >= since + MIN {
            let before = store.rows.len();
            let changed = b.profiles_changed_since(since).count();
            since = store.checkpoint(&mut b, since);
            written += changed;
            assert!(store.rows.len() <= before + changed);
            resume = i + 1;
            if crash(i, late) {
                break;
            }
            late = false;
        }
    }
    (store, resume, written)
}

#[test]
fn checkpoints_of_changed_profiles_every_minute_survive_a_crash() {
    // A daemon checkpoints, then is killed: at the cut, and right after the first checkpoint
    // that follows a late request (which changed a profile at a packet time before the
    // previous checkpoint). It loses what came after its last checkpoint; the capture is
    // replayed from there.
    let (reqs, cut) = scenario();
    let (ev, whole) = straight(&reqs);
    let crashes: [&dyn Fn(usize, bool) -> bool; 2] = [&|i, _| i + 1 >= cut - 8, &|i, late| late && i > reqs.len() / 3];
    for (n, crash) in crashes.into_iter().enumerate() {
        let (store, resume, written) = checkpointed(&reqs, crash);
        assert!(resume + 5 < reqs.len(), "crash {n}: requests after the last checkpoint are replayed");
        // Incremental: far fewer rows written than checkpoints times profiles.
        assert!(written < 4 * resume / 3, "crash {n}: {written} rows for {resume} requests");
        let (mut restored, stats) = store.restore(config(), KEY);
        assert_eq!((stats.profiles_invalid, stats.profiles_over_limit, stats.profiles_duplicate), (0, 0, 0), "crash {n}: {stats:?}");
        let got: Vec<Anomaly> = reqs[resume..].iter().flat_map(|r| feed(&mut restored, r)).collect();
        assert_eq!(got, flat(&ev[resume..]), "crash {n} at {resume}");
        assert_eq!(profiles_json(&restored), profiles_json(&whole), "crash {n} at {resume}");
    }
}

#[test]
fn a_changed_detector_window_is_rebuilt_and_the_rest_of_the_baseline_kept() {
    let (reqs, cut) = scenario();
    let mut b = engine();
    for r in &reqs[..cut] {
        feed(&mut b, r);
    }
    let store = Store::full(&mut b);
    let mut cfg = config();
    cfg.rate.window_hours = 3;
    cfg.errors.window_minutes = 5;
    let (restored, stats) = store.restore(cfg, KEY);
    // Three rate-window structures per profile, the consumer error window where it exists,
    // and every endpoint, service and API error window.
    assert!(stats.windows_reset >= 3 * b.consumers(), "{stats:?}");
    assert_eq!(stats.profiles_restored, b.consumers());
    let (before, after) = (b.profile(4).unwrap(), restored.profile(4).unwrap());
    assert_eq!(after.requests, before.requests);
    assert_eq!(serde_json::to_string(&after.season).unwrap(), serde_json::to_string(&before.season).unwrap());
    assert_eq!(after.recent.width(), 3 * HOUR);
    // A rebuilt profile is marked changed, so the next checkpoint rewrites it.
    assert_eq!(restored.profiles_changed_since(restored.latest()).count(), restored.consumers());
}

#[test]
fn profile_rows_are_compact() {
    let (reqs, cut) = scenario();
    let mut b = engine();
    for r in &reqs[..cut] {
        feed(&mut b, r);
    }
    // Consumer 4: four days of four requests an hour, a few endpoints and one network.
    let p = b.profile(4).unwrap();
    let json = serde_json::to_string(p).unwrap();
    // Most of it is the two seasonal rates (216 slots of 8 bytes each, 2.3 KiB of base64 apiece
    // once a week of history fills them); see docs/behaviour.md for the measured figures.
    assert!(json.len() < 12 * 1024, "a typical profile is {} bytes of JSON", json.len());
    // The Bloom filter's words are one base64 string, not an array of numbers.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let words = &v["received"]["stages"][0]["words"];
    assert!(words.is_string(), "{words}");
    let summary = p.summary(4);
    assert_eq!(summary.id, "0000000000000004");
    assert_eq!((summary.label.as_str(), summary.source.as_str()), ("client-4", "jwt"));
    assert_eq!(summary.requests, p.requests);
    println!("typical profile: {} bytes JSON", json.len());
    // The global part: per endpoint baseline and per open finding.
    let g = b.snapshot_global();
    let size = |v: serde_json::Value| v.to_string().len();
    let per_endpoint = size(serde_json::to_value(&g.endpoints).unwrap()) / g.endpoints.len();
    let per_finding = size(serde_json::to_value(&g.alerts.open).unwrap()) / g.alerts.open.len();
    println!("global: {} bytes, {per_endpoint} per endpoint, {per_finding} per open finding", size(serde_json::to_value(&g).unwrap()));
    assert!(per_endpoint < 1024 && per_finding < 2048, "{per_endpoint} {per_finding}");
    let six = b.profile(6).unwrap().summary(6);
    assert_eq!(six.customers, [CUSTOMER.to_string()]);
}

#[test]
fn a_profile_summary_counts_its_errors_and_distinct_endpoints() {
    let (reqs, _) = scenario();
    let mut b = engine();
    for r in &reqs {
        feed(&mut b, r);
    }
    // Consumer 1 lists accounts, reads balances, then probes forty foreign ids, most refused.
    let mine: Vec<&Req> = reqs.iter().filter(|r| r.id.id.0 == 1).collect();
    let errors = mine.iter().filter(|r| r.status >= 400).count() as u64;
    let templates: std::collections::BTreeSet<&str> = mine.iter().filter_map(|r| r.obs.template.as_deref()).collect();
    assert!(errors > 0 && templates.len() >= 3, "the scenario gives consumer 1 errors and several endpoints");
    let s = b.profile(1).unwrap().summary(1);
    assert_eq!((s.requests, s.errors, s.endpoints), (mine.len() as u64, errors, templates.len() as u64));
    // A consumer that never got an error.
    let four = b.profile(4).unwrap().summary(4);
    assert_eq!(four.errors, 0);
}

#[test]
fn the_restored_configuration_bounds_apply() {
    let (reqs, cut) = scenario();
    let mut b = engine();
    for r in &reqs[..cut] {
        feed(&mut b, r);
    }
    let store = Store::full(&mut b);
    let n = b.consumers();
    // Fewer consumers allowed: the least recently seen go.
    let cfg = BehaviourConfig { max_consumers: 3, ..config() };
    let (small, st) = store.restore(cfg, KEY);
    assert_eq!((st.profiles_restored, st.profiles_over_limit), (3, n - 3));
    let mut seen: Vec<(u64, u64)> = b.profiles_changed_since(0).map(|(id, p)| (p.last_seen, id)).collect();
    seen.sort_unstable();
    let mut kept: Vec<u64> = small.consumer_ids().collect();
    kept.sort_unstable();
    let mut want: Vec<u64> = seen[n - 3..].iter().map(|(_, id)| *id).collect();
    want.sort_unstable();
    assert_eq!(kept, want);
    // Fewer open findings allowed.
    let open = st.findings_restored;
    assert!(open >= 1);
    let mut cfg = config();
    cfg.alerts.max_open = 1;
    cfg.max_endpoints = 1;
    let (_, st) = store.restore(cfg, KEY);
    assert_eq!((st.findings_restored, st.findings_over_limit), (1, open - 1));
    assert_eq!(st.endpoints_restored, 1);
    assert!(st.endpoints_over_limit >= 2, "{st:?}");
}

