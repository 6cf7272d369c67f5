use std::collections::HashMap;

use super::*;
use crate::sketch::testrand::Rng;

#[test]
fn exact_while_not_full() {
    let mut c = BoundedCounts::new(4);
    assert_eq!(c.observe(7, 100), Seen::New);
    assert_eq!(c.observe(7, 200), Seen::Known { count: 1, first_seen: 100 });
    assert_eq!(c.observe(9, 150), Seen::New);
    assert_eq!(c.observe(7, 120), Seen::Known { count: 2, first_seen: 100 });
    assert_eq!(c.get(7), Some(&Entry { count: 3, first_seen: 100, last_seen: 200, error: 0 }));
    assert_eq!((c.total(), c.len(), c.distinct_ever()), (4, 2, 2));
    assert_eq!(c.share(7), 0.75);
    assert_eq!(c.share(8), 0.0);
    assert!(!c.was_evicting());
    assert_eq!(c.top(1), vec![(7, Entry { count: 3, first_seen: 100, last_seen: 200, error: 0 })]);
}

#[test]
fn eviction_takes_the_least_recent_minimum_and_inherits_its_count() {
    let mut c = BoundedCounts::new(3);
    for (k, t) in [(1, 1), (1, 2), (2, 3), (3, 4)] {
        c.observe(k, t);
    }
    // 2 and 3 have count 1; 2 was seen less recently.
    assert_eq!(c.observe(4, 10), Seen::New);
    assert!(c.was_evicting());
    assert_eq!(c.get(2), None);
    assert_eq!(c.get(4), Some(&Entry { count: 2, first_seen: 10, last_seen: 10, error: 1 }));
    // 2 comes back: "new" to the table although it was seen before.
    assert_eq!(c.observe(2, 11), Seen::New);
    assert_eq!(c.get(3), None);
    assert_eq!(c.evictions(), 2);
    assert_eq!(c.distinct_ever(), 4);
}

#[test]
fn heavy_hitters_stay_with_bounded_overcount() {
    let cap = 16;
    let mut c = BoundedCounts::new(cap);
    let mut truth: HashMap<u64, u64> = HashMap::new();
    let mut rng = Rng(11);
    let n = 100_000u64;
    for t in 0..n {
        // Five heavy keys at 10% each, the rest one-off keys.
        let key = if rng.below(2) == 0 { 1 + rng.below(5) } else { 1_000 + rng.next_u64() % (1 << 40) };
        *truth.entry(key).or_default() += 1;
        c.observe(key, t);
    }
    assert_eq!(c.total(), n);
    assert_eq!(c.len(), cap);
    let bound = n / cap as u64;
    for k in 1..=5u64 {
        let e = c.get(k).unwrap_or_else(|| panic!("heavy key {k} evicted"));
        let t = truth[&k];
        assert!(e.count >= t && e.count - e.error <= t, "{k}: {e:?} vs {t}");
        assert!(e.error <= bound, "{k}: {e:?}");
        assert!((c.share(k) - t as f64 / n as f64).abs() <= bound as f64 / n as f64);
    }
    let top: Vec<u64> = c.top(5).iter().map(|(k, _)| *k).collect();
    let mut sorted = top.clone();
    sorted.sort();
    assert_eq!(sorted, vec![1, 2, 3, 4, 5]);
    let distinct = truth.len() as f64;
    let est = c.distinct_ever() as f64;
    assert!((est - distinct).abs() / distinct < 0.2, "{est} vs {distinct}");
    assert!(c.memory_bytes() <= 40 * cap + 400, "{}", c.memory_bytes());
}

#[test]
fn memory_stays_within_the_documented_worst_case() {
    let mut c = BoundedCounts::default();
    for k in 0..100_000u64 {
        c.observe(k, k);
    }
    assert_eq!(c.len(), DEFAULT_CAP);
    let worst = 40 * DEFAULT_CAP + 400;
    assert!(c.memory_bytes() <= worst, "{} > {worst}", c.memory_bytes());
    assert!(c.memory_bytes() >= 40 * DEFAULT_CAP + 256);
}

#[test]
fn decay_halves_and_drops_emptied_keys() {
    let mut c = BoundedCounts::new(8);
    for _ in 0..10 {
        c.observe(1, 5);
    }
    c.observe(2, 6);
    c.decay();
    assert_eq!(c.total(), 5);
    assert_eq!(c.get(1).map(|e| e.count), Some(5));
    assert_eq!(c.get(2), None);
    assert_eq!(c.len(), 1);
    assert_eq!(c.iter().count(), 1);
}

#[test]
fn round_trips_and_repairs_mismatched_state() {
    let mut c = BoundedCounts::new(2);
    for k in [5u64, 6, 7, 5] {
        c.observe(k, k);
    }
    let back: BoundedCounts = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    let json = r#"{"cap":4,"keys":[1,2,3],"entries":[{"count":2,"first_seen":0,"last_seen":0,"error":0}],"total":2,"evictions":0,"ever":null}"#;
    let mut broken: BoundedCounts = serde_json::from_str(json).unwrap();
    assert_eq!(broken.observe(1, 1), Seen::Known { count: 2, first_seen: 0 });
    assert_eq!(broken.len(), 1);
    assert_eq!(BoundedCounts::new(0).cap(), 1);
}
