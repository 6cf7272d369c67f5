//! Counting distinct consumers per endpoint in bounded memory: exact up to
//! [`EXACT_LIMIT`] values, then a HyperLogLog sketch of [`HLL_REGISTERS`] one-byte registers
//! (standard error about 3%).

use std::collections::HashSet;

/// Distinct values counted exactly before switching to the sketch.
pub const EXACT_LIMIT: usize = 256;
/// log2 of the sketch's register count.
const HLL_BITS: u32 = 10;
/// Registers of the sketch (1 KiB).
pub const HLL_REGISTERS: usize = 1 << HLL_BITS;

/// A distinct counter of 64-bit digests (the caller hashes; values should be uniformly
/// distributed, as keyed digests are).
#[derive(Clone, Debug)]
pub enum Distinct {
    /// Few values: kept exactly.
    Exact(HashSet<u64>),
    /// Many values: a HyperLogLog sketch.
    Sketch(Box<[u8; HLL_REGISTERS]>),
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Exact(HashSet::new())
    }
}

/// Spreads the bits of a digest: callers may pass digests of similar inputs.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn sketch_add(regs: &mut [u8; HLL_REGISTERS], value: u64) {
    let h = mix(value);
    let idx = (h >> (64 - HLL_BITS)) as usize;
    let rest = h << HLL_BITS;
    let rank = (rest.leading_zeros().min(64 - HLL_BITS) + 1) as u8;
    if let Some(r) = regs.get_mut(idx) {
        *r = (*r).max(rank);
    }
}

impl Distinct {
    /// Adds one value.
    pub fn insert(&mut self, value: u64) {
        match self {
            Distinct::Exact(set) => {
                set.insert(value);
                if set.len() > EXACT_LIMIT {
                    let mut regs = Box::new([0u8; HLL_REGISTERS]);
                    for v in set.iter() {
                        sketch_add(&mut regs, *v);
                    }
                    *self = Distinct::Sketch(regs);
                }
            }
            Distinct::Sketch(regs) => sketch_add(regs, value),
        }
    }

    /// Adds every value of another counter.
    pub fn merge(&mut self, other: &Distinct) {
        match other {
            Distinct::Exact(set) => {
                for v in set {
                    self.insert(*v);
                }
            }
            Distinct::Sketch(theirs) => {
                if let Distinct::Exact(set) = self {
                    let mut regs = Box::new([0u8; HLL_REGISTERS]);
                    for v in set.iter() {
                        sketch_add(&mut regs, *v);
                    }
                    *self = Distinct::Sketch(regs);
                }
                if let Distinct::Sketch(mine) = self {
                    for (m, t) in mine.iter_mut().zip(theirs.iter()) {
                        *m = (*m).max(*t);
                    }
                }
            }
        }
    }

    /// The number of distinct values (exact below [`EXACT_LIMIT`], estimated above).
    pub fn count(&self) -> u64 {
        match self {
            Distinct::Exact(set) => set.len() as u64,
            Distinct::Sketch(regs) => {
                let m = HLL_REGISTERS as f64;
                let alpha = 0.7213 / (1.0 + 1.079 / m);
                let sum: f64 = regs.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
                let raw = alpha * m * m / sum;
                let zeros = regs.iter().filter(|r| **r == 0).count();
                let est = if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw };
                est.round() as u64
            }
        }
    }

    /// Whether the count is an estimate.
    pub fn is_estimate(&self) -> bool {
        matches!(self, Distinct::Sketch(_))
    }
}

/// A [`Distinct`] as plain data: the exact values (ascending), or the sketch's registers as
/// lower-case hex (2,048 characters).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistinctSnapshot {
    /// At most [`EXACT_LIMIT`] values.
    Exact(Vec<u64>),
    /// [`HLL_REGISTERS`] registers, two hex digits each.
    Sketch(String),
}

impl Default for DistinctSnapshot {
    fn default() -> Self {
        DistinctSnapshot::Exact(Vec::new())
    }
}

/// The largest register value: the rank of a 54-bit remainder with no bit set, plus one.
const MAX_RANK: u8 = (64 - HLL_BITS + 1) as u8;

impl Distinct {
    /// As plain data.
    pub fn snapshot(&self) -> DistinctSnapshot {
        match self {
            Distinct::Exact(set) => {
                let mut v: Vec<u64> = set.iter().copied().collect();
                v.sort_unstable();
                DistinctSnapshot::Exact(v)
            }
            Distinct::Sketch(regs) => DistinctSnapshot::Sketch(regs.iter().map(|r| format!("{r:02x}")).collect()),
        }
    }

    /// From plain data, checked: at most [`EXACT_LIMIT`] exact values, or exactly
    /// [`HLL_REGISTERS`] hex registers no larger than a register can grow.
    pub fn restore(snap: DistinctSnapshot) -> Result<Distinct, String> {
        match snap {
            DistinctSnapshot::Exact(v) if v.len() > EXACT_LIMIT => {
                Err(format!("{} exact distinct values, more than the {EXACT_LIMIT} kept before the sketch", v.len()))
            }
            DistinctSnapshot::Exact(v) => Ok(Distinct::Exact(v.into_iter().collect())),
            DistinctSnapshot::Sketch(hex) => {
                if hex.len() != 2 * HLL_REGISTERS {
                    return Err(format!("a distinct-count sketch of {} hex digits, not {}", hex.len(), 2 * HLL_REGISTERS));
                }
                let mut regs = Box::new([0u8; HLL_REGISTERS]);
                for (i, r) in regs.iter_mut().enumerate() {
                    let digits = hex.get(2 * i..2 * i + 2).ok_or("a distinct-count sketch that is not hex text")?;
                    let v = u8::from_str_radix(digits, 16).map_err(|_| format!("a distinct-count sketch with `{digits}`, not hex"))?;
                    if v > MAX_RANK {
                        return Err(format!("a distinct-count sketch register of {v}, above {MAX_RANK}"));
                    }
                    *r = v;
                }
                Ok(Distinct::Sketch(regs))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_estimated_within_five_percent() {
        let mut d = Distinct::default();
        for i in 0..200u64 {
            d.insert(i);
            d.insert(i);
        }
        assert_eq!(d.count(), 200);
        assert!(!d.is_estimate());
        for n in [1_000u64, 10_000, 100_000] {
            let mut d = Distinct::default();
            for i in 0..n {
                d.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            }
            let c = d.count() as f64;
            assert!((c - n as f64).abs() / (n as f64) < 0.05, "{n}: {c}");
        }
    }

    #[test]
    fn snapshots_round_trip_and_refuse_garbage() {
        let mut small = Distinct::default();
        let mut big = Distinct::default();
        for i in 0..5_000u64 {
            big.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            if i < 10 {
                small.insert(i);
            }
        }
        for d in [small, big] {
            let back = Distinct::restore(d.snapshot()).unwrap();
            assert_eq!((back.count(), back.is_estimate()), (d.count(), d.is_estimate()));
            assert_eq!(back.snapshot(), d.snapshot());
        }
        assert!(Distinct::restore(DistinctSnapshot::Exact((0..300).collect())).is_err());
        assert!(Distinct::restore(DistinctSnapshot::Sketch("00".repeat(10))).is_err());
        assert!(Distinct::restore(DistinctSnapshot::Sketch("zz".repeat(HLL_REGISTERS))).is_err());
        assert!(Distinct::restore(DistinctSnapshot::Sketch("ff".repeat(HLL_REGISTERS))).is_err());
        // Multi-byte text of the right byte length must not panic on a char boundary.
        assert!(Distinct::restore(DistinctSnapshot::Sketch("é".repeat(HLL_REGISTERS))).is_err());
    }

    #[test]
    fn merge_counts_the_union() {
        let (mut a, mut b) = (Distinct::default(), Distinct::default());
        for i in 0..5_000u64 {
            a.insert(i);
        }
        for i in 2_500..7_500u64 {
            b.insert(i);
        }
        a.merge(&b);
        let c = a.count() as f64;
        assert!((c - 7_500.0).abs() / 7_500.0 < 0.05, "{c}");
        let (mut x, y) = (Distinct::default(), Distinct::default());
        x.insert(1);
        x.merge(&y);
        assert_eq!(x.count(), 1);
    }
}
