//! A small HyperLogLog distinct counter.

use serde::{Deserialize, Serialize};

use super::mix64;

/// Default log2 of the register count: 256 one-byte registers, standard error about 6.5%.
pub const DEFAULT_PRECISION: u8 = 8;

/// An approximate count of distinct 64-bit keys (HyperLogLog, Flajolet et al. 2007, with the
/// linear-counting correction for small counts). Keys are mixed before use, so small integers
/// and similar digests are fine.
///
/// Bound: `2^precision` bytes of registers (256 by default) plus 32 bytes, fixed on first
/// insert. Error: standard error `1.04 / sqrt(2^precision)` (6.5% at 256 registers); it can
/// over- or under-count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hll {
    precision: u8,
    #[serde(with = "super::packed")]
    regs: Vec<u8>,
}

impl Default for Hll {
    fn default() -> Self {
        Hll::new(DEFAULT_PRECISION)
    }
}

impl Hll {
    /// An empty counter with `2^precision` registers (`precision` clamped to 4..=14). No
    /// memory is allocated until the first insert.
    pub fn new(precision: u8) -> Self {
        Hll { precision: precision.clamp(4, 14), regs: Vec::new() }
    }

    /// Adds one key.
    pub fn insert(&mut self, key: u64) {
        // Clamped again: a deserialised value may carry any precision.
        let p = u32::from(self.precision.clamp(4, 14));
        let m = 1usize << p;
        if self.regs.len() != m {
            // First insert, or a deserialised value of the wrong length: start clean.
            self.regs = vec![0; m];
        }
        let h = mix64(key);
        let idx = (h >> (64 - p)) as usize;
        let rank = ((h << p).leading_zeros().min(64 - p) + 1) as u8;
        if let Some(r) = self.regs.get_mut(idx) {
            *r = (*r).max(rank);
        }
    }

    /// The estimated number of distinct keys inserted.
    pub fn estimate(&self) -> u64 {
        if self.regs.is_empty() {
            return 0;
        }
        let m = self.regs.len() as f64;
        let alpha = match self.regs.len() {
            16 => 0.673,
            32 => 0.697,
            64 => 0.709,
            _ => 0.7213 / (1.0 + 1.079 / m),
        };
        let sum: f64 = self.regs.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
        let raw = alpha * m * m / sum;
        let zeros = self.regs.iter().filter(|r| **r == 0).count();
        let est = if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw };
        est.round() as u64
    }

    /// Checks a deserialised counter: precision 4 to 14, registers absent or `2^precision` of
    /// them, each a possible rank.
    pub fn validate(&self) -> Result<(), String> {
        if !(4..=14).contains(&self.precision) {
            return Err(format!("HyperLogLog precision {} is not 4 to 14", self.precision));
        }
        let max_rank = 64 - self.precision + 1;
        if !(self.regs.is_empty() || self.regs.len() == 1 << self.precision) || self.regs.iter().any(|r| *r > max_rank) {
            return Err(format!("HyperLogLog of precision {} with {} registers", self.precision, self.regs.len()));
        }
        Ok(())
    }

    /// Heap and inline bytes.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.regs.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::testrand::Rng;

    #[test]
    fn error_is_within_three_standard_errors() {
        let mut rng = Rng(7);
        for n in [10u64, 100, 1_000, 10_000, 100_000] {
            let mut h = Hll::default();
            for _ in 0..n {
                let k = rng.next_u64();
                h.insert(k);
                h.insert(k);
            }
            let est = h.estimate() as f64;
            let err = (est - n as f64).abs() / n as f64;
            assert!(err < 3.0 * 0.065, "{n}: {est}");
        }
        // Sequential integers are mixed first.
        let mut h = Hll::default();
        for k in 0..5_000u64 {
            h.insert(k);
        }
        assert!((h.estimate() as f64 - 5_000.0).abs() < 5_000.0 * 0.2, "{}", h.estimate());
    }

    #[test]
    fn bounded_and_lazy() {
        let mut h = Hll::new(200);
        assert_eq!((h.estimate(), h.regs.capacity()), (0, 0));
        h.insert(1);
        assert_eq!(h.regs.len(), 1 << 14);
        assert_eq!(Hll::default().memory_bytes(), 32);
        let mut d = Hll::default();
        d.insert(3);
        assert_eq!(d.memory_bytes(), 32 + 256);
        let mut broken: Hll = serde_json::from_str(r#"{"precision":8,"regs":[1,2,3]}"#).unwrap();
        broken.insert(9);
        assert_eq!(broken.estimate(), 1);
        let mut wide: Hll = serde_json::from_str(r#"{"precision":255,"regs":[]}"#).unwrap();
        wide.insert(9);
        assert_eq!(wide.regs.len(), 1 << 14);
    }
}
