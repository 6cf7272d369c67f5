//! Exponentially weighted mean and variance.

use serde::{Deserialize, Serialize};

/// An exponentially weighted moving mean and variance (the incremental form of Finch, 2009):
/// each update moves the mean by `alpha` of the difference, so the last `≈ 2/alpha` samples
/// dominate. The first sample sets the mean; the variance starts at 0.
///
/// Bound: 32 bytes, no heap. Error: none beyond f64 rounding; non-finite samples are ignored
/// (counted in [`Ewma::rejected`]) so one NaN cannot poison a baseline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    alpha: f64,
    mean: f64,
    var: f64,
    n: u32,
    rejected: u32,
}

impl Ewma {
    /// An empty average with weight `alpha` for the newest sample (clamped to (0, 1]; a
    /// non-finite or non-positive value becomes 0.1).
    pub fn new(alpha: f64) -> Self {
        let alpha = if alpha.is_finite() && alpha > 0.0 { alpha.min(1.0) } else { 0.1 };
        Ewma { alpha, mean: 0.0, var: 0.0, n: 0, rejected: 0 }
    }

    /// Adds one sample.
    pub fn update(&mut self, x: f64) {
        if !x.is_finite() {
            self.rejected = self.rejected.saturating_add(1);
            return;
        }
        if self.n == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let diff = x - self.mean;
            let incr = self.alpha * diff;
            self.mean += incr;
            self.var = (1.0 - self.alpha) * (self.var + diff * incr);
        }
        self.n = self.n.saturating_add(1);
    }

    /// The weighted mean (0 before any sample).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The weighted variance (0 before the second sample).
    pub fn variance(&self) -> f64 {
        self.var.max(0.0)
    }

    /// The weighted standard deviation.
    pub fn std(&self) -> f64 {
        self.variance().sqrt()
    }

    /// Samples taken (saturates at `u32::MAX`).
    pub fn n(&self) -> u32 {
        self.n
    }

    /// Non-finite samples ignored.
    pub fn rejected(&self) -> u32 {
        self.rejected
    }

    /// The weight of the newest sample.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// How many standard deviations `x` lies from the mean, with the deviation floored at
    /// `min_std` so a perfectly regular history does not make every change infinite.
    pub fn z(&self, x: f64, min_std: f64) -> f64 {
        let sd = self.std().max(min_std);
        if sd > 0.0 {
            (x - self.mean) / sd
        } else {
            0.0
        }
    }

    /// Checks a deserialised average: a weight in (0, 1], a finite mean and variance.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.alpha.is_finite() && self.alpha > 0.0 && self.alpha <= 1.0 && self.mean.is_finite() && self.var.is_finite()) {
            return Err("moving average with a weight or value out of range".into());
        }
        Ok(())
    }

    /// Bytes: the struct itself, no heap.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

impl Default for Ewma {
    /// alpha 0.1.
    fn default() -> Self {
        Ewma::new(0.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_one_is_the_last_sample_and_constant_has_no_variance() {
        let mut e = Ewma::new(1.0);
        for x in [3.0, 9.0, -2.0] {
            e.update(x);
        }
        assert_eq!((e.mean(), e.variance(), e.n()), (-2.0, 0.0, 3));
        let mut c = Ewma::new(0.3);
        for _ in 0..100 {
            c.update(7.5);
        }
        assert_eq!((c.mean(), c.std()), (7.5, 0.0));
    }

    #[test]
    fn matches_the_weighted_definition() {
        // Mean and variance with explicit weights w_i = alpha (1 - alpha)^(n-1-i) for i > 0 and
        // (1 - alpha)^(n-1) for the first sample: the closed form the recursion implements.
        let alpha = 0.2;
        let xs = [10.0, 12.0, 7.0, 15.0, 11.0, 30.0, 9.0, 10.0];
        let mut e = Ewma::new(alpha);
        for x in xs {
            e.update(x);
        }
        let n = xs.len();
        let w: Vec<f64> = (0..n)
            .map(|i| {
                let age = (n - 1 - i) as i32;
                if i == 0 {
                    (1.0f64 - alpha).powi(age)
                } else {
                    alpha * (1.0f64 - alpha).powi(age)
                }
            })
            .collect();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mean: f64 = xs.iter().zip(&w).map(|(x, w)| x * w).sum();
        let var: f64 = xs.iter().zip(&w).map(|(x, w)| w * (x - mean) * (x - mean)).sum();
        assert!((e.mean() - mean).abs() < 1e-9, "{} vs {mean}", e.mean());
        assert!((e.variance() - var).abs() < 1e-9, "{} vs {var}", e.variance());
    }

    #[test]
    fn z_score_and_bad_input() {
        let mut e = Ewma::new(0.5);
        e.update(f64::NAN);
        e.update(f64::INFINITY);
        assert_eq!((e.n(), e.rejected()), (0, 2));
        e.update(10.0);
        e.update(20.0);
        // mean 15, variance 0.5 (0 + 10 · 5) = 25.
        assert_eq!((e.mean(), e.variance()), (15.0, 25.0));
        assert_eq!(e.z(25.0, 1.0), 2.0);
        assert_eq!(e.z(25.0, 10.0), 1.0);
        assert_eq!(Ewma::new(f64::NAN).alpha(), 0.1);
        assert_eq!(Ewma::new(0.5).z(3.0, 0.0), 0.0);
        assert_eq!(e.memory_bytes(), 32);
    }
}
