use std::collections::HashMap;

use super::*;
use crate::sketch::testrand::Rng;
use crate::sketch::NS_PER_HOUR;

const MIN: u64 = NS_PER_MINUTE;
const HOUR: u64 = NS_PER_HOUR;

#[test]
fn a_burst_is_one_access() {
    let mut log = AccessLog::new(AccessConfig::default());
    let t0 = 1_000 * HOUR;
    assert_eq!(log.record(7, t0), Access { new_access: true, accesses_in_window: 1 });
    for m in 1..=10 {
        assert_eq!(log.record(7, t0 + m * MIN), Access { new_access: false, accesses_in_window: 1 });
    }
    // 4:59 after the last request: same burst; 5:00 after it: a new access.
    assert!(!log.record(7, t0 + 10 * MIN + 5 * MIN - NS_PER_SEC).new_access);
    let gap_end = t0 + 10 * MIN + 5 * MIN - NS_PER_SEC + 5 * MIN;
    assert_eq!(log.record(7, gap_end), Access { new_access: true, accesses_in_window: 2 });
    // A reordered request from before the latest one is part of the burst.
    assert_eq!(log.record(7, gap_end - 30 * MIN), Access { new_access: false, accesses_in_window: 2 });
    assert_eq!(log.len(), 1);
}

#[test]
fn the_fifth_access_in_a_rolling_day_is_counted_and_old_ones_leave() {
    let mut log = AccessLog::new(AccessConfig::default());
    let t0 = 500 * HOUR;
    let counts: Vec<u32> = (0..5).map(|k| log.record(1, t0 + k * 4 * HOUR).accesses_in_window).collect();
    assert_eq!(counts, vec![1, 2, 3, 4, 5]);
    assert_eq!(log.accesses(1, t0 + 16 * HOUR + MIN), 5);
    // At exactly t0 + 24 h the first access has left the window (t0 + 24 h - 24 h, t0 + 24 h].
    assert_eq!(log.accesses(1, t0 + 24 * HOUR - NS_PER_SEC), 5);
    assert_eq!(log.accesses(1, t0 + 24 * HOUR), 4);
    assert_eq!(log.record(1, t0 + 24 * HOUR), Access { new_access: true, accesses_in_window: 5 });
    assert_eq!(log.accesses(2, t0), 0);
}

#[test]
fn a_burst_longer_than_the_window_still_counts_once() {
    let mut log = AccessLog::new(AccessConfig::default());
    let t0 = 100 * HOUR;
    let mut t = t0;
    assert!(log.record(3, t).new_access);
    while t < t0 + 30 * HOUR {
        t += 4 * MIN;
        assert_eq!(log.record(3, t), Access { new_access: false, accesses_in_window: 1 }, "at {}", (t - t0) / MIN);
    }
    assert_eq!(log.accesses(3, t + MIN), 1);
    assert_eq!(log.accesses(3, t + 5 * MIN), 0);
}

#[test]
fn counts_saturate_at_the_kept_times() {
    let cfg = AccessConfig { max_times_per_key: 8, ..AccessConfig::default() };
    let mut log = AccessLog::new(cfg);
    let got: Vec<u32> = (0..10).map(|k| log.record(9, HOUR + k * HOUR).accesses_in_window).collect();
    assert_eq!(got, vec![1, 2, 3, 4, 5, 6, 7, 8, 8, 8]);
    assert_eq!(log.dropped_times(), 2);
}

#[test]
fn least_recently_used_accounts_are_evicted() {
    let mut log = AccessLog::new(AccessConfig { max_keys: 3, ..AccessConfig::default() });
    log.record(10, HOUR);
    log.record(20, 2 * HOUR);
    log.record(30, 3 * HOUR);
    log.record(10, 4 * HOUR); // 20 is now the least recently used
    log.record(40, 5 * HOUR);
    assert_eq!((log.len(), log.evicted_keys()), (3, 1));
    assert_eq!(log.accesses(20, 5 * HOUR), 0);
    assert_eq!(log.accesses(10, 5 * HOUR), 2);
    assert_eq!(log.record(20, 6 * HOUR), Access { new_access: true, accesses_in_window: 1 });
    assert_eq!(log.accesses(30, 6 * HOUR), 0);
}

#[test]
fn matches_the_definition_on_random_streams() {
    // Few accounts and room for every start time: the log must match a replay of the
    // definition over the full request history.
    let cfg = AccessConfig { max_keys: 64, max_times_per_key: 200, ..AccessConfig::default() };
    let (gap, window) = (cfg.burst_gap_ns / NS_PER_SEC, cfg.window_ns / NS_PER_SEC);
    let mut log = AccessLog::new(cfg);
    let mut history: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut rng = Rng(99);
    let mut t = 1_000_000u64;
    for step in 0..20_000 {
        t += rng.below(120);
        let key = rng.below(40);
        let reqs = history.entry(key).or_default();
        reqs.push(t);
        // Burst starts: the first request, and any after a gap of at least `gap` seconds.
        let starts: Vec<u64> = reqs.iter().enumerate().filter(|(i, r)| *i == 0 || **r - reqs[i - 1] >= gap).map(|(_, r)| *r).collect();
        let new_access = reqs.len() == 1 || t - reqs[reqs.len() - 2] >= gap;
        let mut in_window = starts.iter().filter(|s| **s + window > t).count() as u32;
        if starts.last().is_some_and(|s| *s + window <= t) {
            in_window += 1; // the burst under way started before the window
        }
        let got = log.record(key, t * NS_PER_SEC);
        assert_eq!(got, Access { new_access, accesses_in_window: in_window }, "step {step}, key {key}");
    }
    assert_eq!(log.evicted_keys(), 0);
}

#[test]
fn memory_reaches_the_documented_worst_case_and_not_more() {
    let mut log = AccessLog::new(AccessConfig::default());
    let empty = log.memory_bytes();
    assert!(empty <= 150, "{empty}");
    for k in 0..5_000u64 {
        for a in 0..9 {
            log.record(k.wrapping_mul(0x9e37_79b9_7f4a_7c15), (k * 10 + a * 10_000) * NS_PER_SEC);
        }
    }
    assert_eq!(log.len(), 1024);
    let bytes = log.memory_bytes();
    assert!((1024 * 45..=1024 * 45 + 150).contains(&bytes), "{bytes}");
}

#[test]
fn round_trips_and_recovers_from_damage() {
    let mut log = AccessLog::new(AccessConfig::default());
    for k in 0..10u64 {
        log.record(k, (k + 1) * HOUR);
    }
    let back: AccessLog = serde_json::from_str(&serde_json::to_string(&log).unwrap()).unwrap();
    assert_eq!(back, log);
    let mut broken = back;
    broken.times.pop();
    assert_eq!(broken.accesses(3, 4 * HOUR), 0);
    assert_eq!(broken.record(3, 4 * HOUR), Access { new_access: true, accesses_in_window: 1 });
    assert_eq!(broken.len(), 1);
    let clamped = AccessLog::new(AccessConfig { max_keys: 0, max_times_per_key: 0, ..AccessConfig::default() });
    assert_eq!((clamped.config().max_keys, clamped.config().max_times_per_key), (1, 1));
    let mut far = AccessLog::new(AccessConfig::default());
    assert_eq!(far.record(1, u64::MAX).accesses_in_window, 1);
    assert_eq!(far.record(1, u64::MAX).accesses_in_window, 1);
}
