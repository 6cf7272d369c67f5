//! A log-bucketed histogram of sizes or latencies.

use serde::{Deserialize, Serialize};

/// Buckets of a [`LogHistogram`].
pub const BUCKETS: usize = 64;
/// Largest value with a bucket of its own; larger ones share the last bucket.
pub const MAX_TRACKED: u64 = u32::MAX as u64;

/// A histogram of `u64` values in 64 log-spaced buckets: 0, 1, then two buckets per power of
/// two (`[2^e, 1.5·2^e)` and `[1.5·2^e, 2^(e+1))`) up to 2^32. Fit for response bytes (to
/// 4 GiB) or latency in microseconds (to 71 minutes); values above [`MAX_TRACKED`] share the
/// last bucket, whose upper bound is then the largest value seen.
///
/// Bound: 64 × u32 counts plus a few fields, 304 bytes with no other heap. Error: a quantile is
/// the upper bound of its bucket, at most 50% above the true value (33% relative width for
/// the upper half-bucket); counts saturate at `u32::MAX` per bucket; [`LogHistogram::decay`]
/// halves them so old behaviour fades and the counts stay far from saturation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogHistogram {
    counts: Vec<u32>,
    count: u64,
    sum: u64,
    max: u64,
}

impl Default for LogHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of a value.
fn bucket_of(v: u64) -> usize {
    if v < 2 {
        return v as usize;
    }
    let v = v.min(MAX_TRACKED);
    let e = 63 - v.leading_zeros() as usize;
    let half = ((v >> (e - 1)) & 1) as usize;
    2 * e + half
}

/// The smallest value in bucket `b`.
fn lower_bound(b: usize) -> u64 {
    if b < 2 {
        return b as u64;
    }
    let (e, half) = (b / 2, (b % 2) as u64);
    (1u64 << e) + half * (1u64 << (e - 1))
}

/// The largest value in bucket `b` (the last bucket's is open-ended: see [`LogHistogram`]).
fn upper_bound(b: usize) -> u64 {
    if b + 1 >= BUCKETS {
        return MAX_TRACKED;
    }
    lower_bound(b + 1) - 1
}

impl LogHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        LogHistogram { counts: vec![0; BUCKETS], count: 0, sum: 0, max: 0 }
    }

    /// Adds one value.
    pub fn record(&mut self, v: u64) {
        self.record_n(v, 1);
    }

    /// Adds `n` occurrences of one value.
    pub fn record_n(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        if let Some(c) = self.counts.get_mut(bucket_of(v)) {
            *c = c.saturating_add(n);
        }
        self.count = self.count.saturating_add(u64::from(n));
        self.sum = self.sum.saturating_add(v.saturating_mul(u64::from(n)));
        self.max = self.max.max(v);
    }

    /// Values recorded (after decays, the halved count).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean of the values recorded (0 when empty); saturates for sums beyond `u64::MAX`.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The largest value recorded since the last [`LogHistogram::decay`] that emptied the
    /// histogram (decay keeps it, since a bound on the past is still a bound).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The upper bound of the bucket holding the `q`-quantile (`q` clamped to [0, 1]): at
    /// least the true quantile. 0 when empty. The last bucket answers with the largest value
    /// seen.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (b, c) in self.counts.iter().enumerate() {
            seen = seen.saturating_add(u64::from(*c));
            if seen >= rank {
                return if b + 1 >= BUCKETS { self.max } else { upper_bound(b).min(self.max) };
            }
        }
        self.max
    }

    /// The share of recorded values above `v`, interpolating linearly inside the bucket that
    /// holds `v` (0 when empty). A response larger than anything seen gives 0.
    pub fn cdf_above(&self, v: u64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        if v >= self.max {
            return 0.0;
        }
        let at = bucket_of(v);
        let mut above = 0.0f64;
        for (b, c) in self.counts.iter().enumerate() {
            let c = f64::from(*c);
            if b > at {
                above += c;
            } else if b == at {
                let lo = lower_bound(b) as f64;
                let hi = (upper_bound(b).min(self.max)) as f64 + 1.0;
                let frac = if hi > lo { ((hi - (v as f64 + 1.0)) / (hi - lo)).clamp(0.0, 1.0) } else { 0.0 };
                above += c * frac;
            }
        }
        (above / self.count as f64).clamp(0.0, 1.0)
    }

    /// Halves every count (rounding down, so a value seen once fades away) and the sum with
    /// them: called when the count passes the caller's cap, so older behaviour weighs half.
    pub fn decay(&mut self) {
        let before = self.count;
        for c in self.counts.iter_mut() {
            *c /= 2;
        }
        self.count = self.counts.iter().map(|c| u64::from(*c)).sum();
        self.sum = if before == 0 {
            0
        } else {
            (self.sum as f64 * (self.count as f64 / before as f64)) as u64
        };
        if self.count == 0 {
            self.max = 0;
        }
    }

    /// Checks a deserialised histogram: one counter per bucket.
    pub fn validate(&self) -> Result<(), String> {
        if self.counts.len() != BUCKETS {
            return Err(format!("histogram of {} buckets (expected {BUCKETS})", self.counts.len()));
        }
        Ok(())
    }

    /// Heap and inline bytes: 304 whatever was recorded.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.counts.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_range_without_gaps() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 1);
        assert_eq!((bucket_of(2), bucket_of(3), bucket_of(4), bucket_of(5), bucket_of(6), bucket_of(7)), (2, 3, 4, 4, 5, 5));
        assert_eq!(bucket_of(8), 6);
        assert_eq!(bucket_of(1000), 19); // 2^9 = 512, 1.5 · 512 = 768 ≤ 1000
        assert_eq!(bucket_of(MAX_TRACKED), BUCKETS - 1);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        for b in 0..BUCKETS - 1 {
            assert_eq!(upper_bound(b) + 1, lower_bound(b + 1), "bucket {b}");
            assert_eq!(bucket_of(lower_bound(b)), b);
            assert_eq!(bucket_of(upper_bound(b)), b);
        }
        assert_eq!(lower_bound(BUCKETS - 1), 3 << 30);
    }

    #[test]
    fn quantiles_bound_the_true_values_within_half_a_power() {
        let mut h = LogHistogram::new();
        let values: Vec<u64> = (1..=10_000).collect();
        for v in &values {
            h.record(*v);
        }
        assert_eq!(h.count(), 10_000);
        assert!((h.mean() - 5_000.5).abs() < 1e-9);
        for q in [0.01, 0.1, 0.5, 0.9, 0.99, 1.0] {
            let truth = values[((q * 10_000.0) as usize).max(1) - 1];
            let got = h.quantile(q);
            assert!(got >= truth && (got as f64) <= truth as f64 * 1.5, "q {q}: {got} vs {truth}");
        }
        assert_eq!(h.quantile(1.0), 10_000);
        assert_eq!(h.quantile(-3.0), 1);
        assert_eq!(LogHistogram::new().quantile(0.5), 0);
    }

    #[test]
    fn share_above_is_close_to_the_truth() {
        let mut h = LogHistogram::new();
        for v in 0..1_000u64 {
            h.record(v * 10); // 0..9990
        }
        for v in [0u64, 100, 777, 5_000, 9_000] {
            let truth = (0..1_000u64).filter(|x| x * 10 > v).count() as f64 / 1_000.0;
            let got = h.cdf_above(v);
            assert!((got - truth).abs() < 0.03, "{v}: {got} vs {truth}");
        }
        assert_eq!(h.cdf_above(9_990), 0.0);
        assert_eq!(h.cdf_above(u64::MAX), 0.0);
        assert_eq!(LogHistogram::new().cdf_above(5), 0.0);
    }

    #[test]
    fn huge_values_share_the_last_bucket_and_report_the_max() {
        let mut h = LogHistogram::new();
        h.record(u64::MAX);
        h.record(5_000_000_000);
        assert_eq!(h.count(), 2);
        assert_eq!(h.quantile(1.0), u64::MAX);
        assert_eq!(h.quantile(0.5), u64::MAX);
        h.record_n(7, u32::MAX);
        h.record_n(7, u32::MAX);
        assert_eq!(h.count(), 2 + 2 * u64::from(u32::MAX));
        assert_eq!(h.mean(), u64::MAX as f64 / h.count() as f64); // the sum saturated
    }

    #[test]
    fn decay_halves_and_forgets_singletons() {
        let mut h = LogHistogram::new();
        for _ in 0..100 {
            h.record(1_000);
        }
        h.record(1_000_000);
        h.decay();
        assert_eq!(h.count(), 50);
        assert_eq!(h.quantile(1.0), upper_bound(bucket_of(1_000)));
        assert!((h.mean() - (100.0 * 1_000.0 + 1e6) / 101.0).abs() < 1.0);
        h.decay();
        h.decay();
        assert_eq!(h.count(), 12);
        for _ in 0..6 {
            h.decay();
        }
        assert_eq!((h.count(), h.max(), h.mean()), (0, 0, 0.0));
        assert_eq!(h.memory_bytes(), std::mem::size_of::<LogHistogram>() + 256);
        assert!(h.memory_bytes() <= 304);
    }

    #[test]
    fn round_trips() {
        let mut h = LogHistogram::new();
        for v in [3u64, 30, 300, 3_000] {
            h.record(v);
        }
        let back: LogHistogram = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
        assert_eq!(back, h);
    }
}
