use super::*;
use crate::sketch::testrand::Rng;

fn id(rng: &mut Rng) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    b
}

#[test]
fn default_plan_matches_the_documented_figures() {
    let f = IdFilter::new(BloomConfig::default());
    // m ln2 / k for m = 4096 · 2^i bits and k = 8 + i, by hand: 354.9, 630.9, 1135.6, 2064.8, 3785.4.
    assert_eq!(f.capacity(), 354 + 630 + 1_135 + 2_064 + 3_785);
    assert_eq!(f.retained_min(), 354 + 630 + 1_135 + 2_064);
    // 2^-8 + ... + 2^-12 = 31 / 4096.
    assert!((f.design_false_positive_rate() - 31.0 / 4096.0).abs() < 1e-12);
    assert!(f.design_false_positive_rate() < 0.01);
    assert_eq!(f.false_positive_rate(), 0.0);
    assert!(!f.contains(b"anything"));
    assert!(f.is_empty());
}

#[test]
fn measured_false_positive_rate_at_capacity_is_below_the_documented_bound() {
    let mut f = IdFilter::new(BloomConfig::default());
    let mut rng = Rng(0x5eed);
    let members: Vec<[u8; 16]> = (0..f.capacity()).map(|_| id(&mut rng)).collect();
    for m in &members {
        f.insert(m);
    }
    assert_eq!(f.stages_dropped(), 0);
    assert!(members.iter().all(|m| f.contains(m)), "a member was lost before any drop");
    let mut other = Rng(0xfeed_beef);
    let trials = 100_000;
    let hits = (0..trials).filter(|_| f.contains(&id(&mut other))).count();
    let measured = hits as f64 / trials as f64;
    let estimate = f.false_positive_rate();
    // The documented bound is 31/4096 (0.76%) under the 1% target; the binomial standard
    // deviation at 100k trials is about 0.03 points.
    assert!(measured < 31.0 / 4096.0 + 0.001, "measured {measured}");
    assert!(measured < 0.01);
    assert!((measured - estimate).abs() < 0.2 * estimate, "measured {measured}, estimate {estimate}");
    assert!(f.memory_bytes() <= 16 * 1024 + 400, "{}", f.memory_bytes());
}

#[test]
fn full_filter_ages_out_the_oldest_ids_within_its_memory_limit() {
    let mut f = IdFilter::new(BloomConfig::default());
    let mut rng = Rng(42);
    let ids: Vec<[u8; 16]> = (0..40_000).map(|_| id(&mut rng)).collect();
    let mut peak = 0;
    for i in &ids {
        f.insert(i);
        peak = peak.max(f.memory_bytes());
    }
    assert!(peak <= 16 * 1024 + 400, "{peak}");
    assert!(f.stages_dropped() >= 5, "{}", f.stages_dropped());
    assert!(f.len() >= f.retained_min() && f.len() <= f.capacity(), "{}", f.len());
    let recent = f.retained_min() as usize;
    assert!(ids[ids.len() - recent..].iter().all(|i| f.contains(i)), "a recent id was forgotten");
    let old_hits = ids[..5_000].iter().filter(|i| f.contains(*i)).count();
    assert!(old_hits < 100, "old ids still present: {old_hits}");
    assert!(f.false_positive_rate() <= f.design_false_positive_rate() + 1e-9);
    // Only false positives on insert are skipped.
    assert!(f.inserted_total() > 39_000 && f.inserted_total() <= 40_000, "{}", f.inserted_total());
}

#[test]
fn duplicates_are_not_counted_twice() {
    let mut f = IdFilter::with_seed(9);
    assert!(f.insert(b"acct-1"));
    assert!(!f.insert(b"acct-1"));
    assert!(f.insert(b"acct-2"));
    assert_eq!(f.len(), 2);
    assert!(f.contains(b"acct-2") && !f.contains(b"acct-3"));
}

#[test]
fn seeds_give_different_false_positives() {
    let mut rng = Rng(3);
    let members: Vec<[u8; 16]> = (0..7_000).map(|_| id(&mut rng)).collect();
    let (mut a, mut b) = (IdFilter::with_seed(1), IdFilter::with_seed(2));
    for m in &members {
        a.insert(m);
        b.insert(m);
    }
    let probes: Vec<[u8; 16]> = (0..50_000).map(|_| id(&mut rng)).collect();
    let fa: Vec<bool> = probes.iter().map(|p| a.contains(p)).collect();
    let fb: Vec<bool> = probes.iter().map(|p| b.contains(p)).collect();
    let both = fa.iter().zip(&fb).filter(|(x, y)| **x && **y).count();
    let only_a = fa.iter().filter(|x| **x).count();
    assert!(only_a > 50, "{only_a}");
    // Independent keys: a shared false positive is as rare as the product of the rates.
    assert!(both * 10 < only_a, "{both} of {only_a}");
}

#[test]
fn degenerate_sizes_stay_bounded() {
    for (initial_bytes, max_bytes) in [(0, 0), (1 << 20, 1024), (8, 8), (u32::MAX, u32::MAX / 2)] {
        let cfg = BloomConfig { initial_bytes, max_bytes, false_positive_rate: f64::NAN, ..BloomConfig::default() };
        let mut f = IdFilter::new(cfg);
        let mut rng = Rng(5);
        for _ in 0..(if max_bytes > 1 << 20 { 10 } else { 2_000 }) {
            let i = id(&mut rng);
            f.insert(&i);
            assert!(f.contains(&i), "just inserted ({initial_bytes}, {max_bytes})");
        }
        let limit = (max_bytes as usize).clamp(8, MAX_BYTES_CEILING as usize);
        assert!(f.memory_bytes() <= limit + 400, "({initial_bytes}, {max_bytes}): {}", f.memory_bytes());
    }
    let tiny = IdFilter::new(BloomConfig { initial_bytes: 8, max_bytes: 8, ..BloomConfig::default() });
    assert_eq!(tiny.retained_min(), 0);
    // 64 bits, k = 8: 5 ids.
    assert_eq!(tiny.capacity(), 5);
}

#[test]
fn round_trips_with_its_members() {
    let mut f = IdFilter::with_seed(77);
    for n in 0..1_000u32 {
        f.insert(&n.to_be_bytes());
    }
    let back: IdFilter = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
    assert!((0..1_000u32).all(|n| back.contains(&n.to_be_bytes())));
}
