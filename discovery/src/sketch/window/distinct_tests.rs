use std::collections::HashSet;

use super::*;
use crate::sketch::testrand::Rng;
use crate::sketch::NS_PER_SEC;

#[test]
fn exact_below_the_cap_against_brute_force() {
    let width = 60 * NS_PER_SEC;
    let bw = width / 10;
    let mut w = DistinctWindow::new(width);
    let mut rng = Rng(21);
    let mut events: Vec<(u64, u64)> = Vec::new();
    let (mut t, mut newest) = (0u64, 0u64);
    for step in 0..4_000 {
        t += rng.below(NS_PER_SEC / 2);
        // Reordering by less than one bucket, now and then.
        let ts = if step % 7 == 0 { t.saturating_sub(rng.below(bw)) } else { t };
        newest = newest.max(ts);
        let key = rng.below(300);
        let first_in_window = !events.iter().any(|(x, k)| *k == key && x / bw + 9 >= newest / bw);
        assert_eq!(w.insert(key, ts), first_in_window, "step {step}");
        events.push((ts, key));
        let qb = t / bw;
        let truth: HashSet<u64> = events.iter().filter(|(x, _)| x / bw + 9 >= qb).map(|(_, k)| *k).collect();
        assert_eq!(w.count(t), truth.len() as u64, "step {step} at {t}");
        assert!(!w.saturated(t));
    }
    assert_eq!(w.late(), 0);
    assert_eq!(w.evicted(), 0);
}

#[test]
fn over_the_cap_it_reports_a_saturated_lower_bound_until_the_loss_leaves_the_window() {
    let s = NS_PER_SEC;
    let mut w = DistinctWindow::with_limits(10 * s, 10, 100);
    for k in 0..150u64 {
        w.insert(k, 5 * s);
    }
    assert_eq!(w.estimate(5 * s), DistinctCount { count: 100, saturated: true });
    assert_eq!(w.evicted(), 50);
    // All in one bucket, so ties: the smallest key goes first, which here is the oldest.
    assert!((50..150).all(|k| w.contains(k)) && !w.contains(0));
    // Bucket 5 leaves the window at bucket 15.
    assert!(w.saturated(14 * s) && !w.saturated(15 * s));
    assert!(w.insert(1_000, 15 * s));
    assert_eq!(w.estimate(15 * s), DistinctCount { count: 1, saturated: false });
    assert!(!w.contains(60));
}

#[test]
fn eviction_takes_the_least_recently_seen_key() {
    let s = NS_PER_SEC;
    let mut w = DistinctWindow::with_limits(10 * s, 10, 3);
    w.insert(1, 0);
    w.insert(2, s);
    w.insert(3, 2 * s);
    assert!(!w.insert(1, 3 * s)); // refreshed: now 2 is the oldest
    assert!(w.insert(4, 4 * s));
    assert!(w.contains(1) && !w.contains(2) && w.contains(3) && w.contains(4));
    assert_eq!(w.count(4 * s), 3);
    // 1 and 3 were seen at 3 s and 2 s: at 12 s, 3 has left (bucket 2 < 12 - 9) and 1 not.
    assert_eq!(w.count(12 * s), 2);
    assert!(w.saturated(10 * s) && !w.saturated(11 * s));
}

#[test]
fn late_events_and_long_gaps() {
    let s = NS_PER_SEC;
    let mut w = DistinctWindow::with_limits(10 * s, 10, 16);
    w.insert(1, 100 * s);
    assert!(!w.insert(2, 98 * s)); // two buckets behind: late
    assert_eq!((w.late(), w.count(100 * s)), (1, 1));
    assert!(w.insert(3, 99 * s + s / 2));
    assert_eq!(w.count(100 * s), 2);
    assert!(w.insert(1, 1_000 * s)); // the window moved past everything
    assert_eq!(w.count(1_000 * s), 1);
    assert!(!w.contains(3));
    w.insert(9, u64::MAX);
    assert_eq!(w.count(u64::MAX), 1);
}

#[test]
fn memory_is_bounded_by_the_cap() {
    let mut w = DistinctWindow::new(3_600 * NS_PER_SEC);
    let empty = w.memory_bytes();
    assert!(empty <= 200, "{empty}");
    let mut rng = Rng(8);
    for i in 0..20_000u64 {
        w.insert(rng.next_u64(), i * 1_000);
    }
    assert_eq!(w.count(20_000_000), 4_096);
    let bytes = w.memory_bytes();
    assert!((10 * 4_096..=10 * 4_096 + 4 * 10 + 200).contains(&bytes), "{bytes}");
    assert!(bytes <= 41 * 1024);
}

#[test]
fn round_trips_and_resets_inconsistent_state() {
    let mut w = DistinctWindow::new(60 * NS_PER_SEC);
    for k in 0..20u64 {
        w.insert(k, k * NS_PER_SEC);
    }
    let json = serde_json::to_string(&w).unwrap();
    let back: DistinctWindow = serde_json::from_str(&json).unwrap();
    assert_eq!(back, w);
    let mut broken = back.clone();
    broken.stamps.pop();
    assert!(broken.insert(3, 21 * NS_PER_SEC));
    assert_eq!(broken.count(21 * NS_PER_SEC), 1);
}
