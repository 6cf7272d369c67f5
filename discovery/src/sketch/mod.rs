//! Bounded, approximate structures for per-consumer baselines, and bank-local time.
//!
//! Every structure here is sans-IO (time is a `u64` of packet-time nanoseconds since the Unix
//! epoch, passed in by the caller), never panics on any input, has a named limit with a
//! documented default, and reports its size through `memory_bytes()` (heap plus inline,
//! approximate but never an undercount of what it allocated). All of them serialise with serde
//! so the daemon can persist baselines across restarts.
//!
//! | structure | what it answers | worst case with defaults |
//! |---|---|---|
//! | [`clock::BankClock`] | hour of week, day, weekend in the bank's time zone | 16 B, no heap |
//! | [`season::SeasonalRate`] | expected requests per hour for this hour of the week | 1,864 B, fixed |
//! | [`bloom::IdFilter`] | has this consumer received this object id? | 16,144 B |
//! | [`counts::BoundedCounts`] | the heavy hitters of a stream and whether a value is new | 40 B per slot + 360 B (2,920 B at 64 slots) |
//! | [`window::RateWindow`] | events in the last `width` | 152 B at 10 buckets |
//! | [`window::DistinctWindow`] | distinct keys in the last `width` | 10 B per key + 4 B per bucket + 144 B (41,144 B at 4,096 keys) |
//! | [`pulls::AccessLog`] | PSD2 accesses per account in a rolling 24 h | 45 B per account + 136 B (46,216 B at 1,024) |
//! | [`hist::LogHistogram`] | quantiles and tail share of sizes and latencies | 304 B, fixed |
//! | [`stats::Ewma`] | exponentially weighted mean and deviation | 32 B, no heap |
//! | [`hll::Hll`] | approximate distinct count | 288 B |
//!
//! The worst cases are reached only by consumers that fill the structure (an aggregator that
//! touches thousands of accounts); a [`Vec`] here grows with its content and never past its
//! limit. A [`window::DistinctWindow`] and an [`pulls::AccessLog`] at their default limits
//! together exceed a 64 KiB per-consumer budget on their own: a profile that must stay within it
//! sizes them down (for example 1,024 keys, 10 KiB, and 512 accounts, 22.6 KiB).

pub mod bloom;
pub mod clock;
pub mod counts;
pub mod hist;
pub mod hll;
pub mod packed;
pub mod pulls;
pub mod season;
pub mod stats;
pub mod window;

pub use bloom::{BloomConfig, IdFilter};
pub use clock::{BankClock, LocalTime};
pub use counts::{BoundedCounts, Entry, Seen};
pub use hist::LogHistogram;
pub use hll::Hll;
pub use pulls::{Access, AccessConfig, AccessLog};
pub use season::{Expected, SeasonConfig, SeasonalRate};
pub use stats::Ewma;
pub use window::{DistinctWindow, RateWindow};

/// Nanoseconds in one second.
pub const NS_PER_SEC: u64 = 1_000_000_000;
/// Nanoseconds in one minute.
pub const NS_PER_MINUTE: u64 = 60 * NS_PER_SEC;
/// Nanoseconds in one hour.
pub const NS_PER_HOUR: u64 = 60 * NS_PER_MINUTE;
/// Nanoseconds in one day of 24 hours (not a calendar day: see [`clock`] for those).
pub const NS_PER_DAY: u64 = 24 * NS_PER_HOUR;

/// Spreads the bits of a 64-bit value (the murmur3 finaliser, a bijection): callers pass
/// digests of similar inputs or small integers, and the sketches need uniform bits.
pub(crate) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Makes room for one more element in `v` without letting its capacity pass `limit`: the
/// default doubling would allocate up to twice a limit that is not a power of two.
pub(crate) fn reserve_bounded<T>(v: &mut Vec<T>, limit: usize) {
    reserve_bounded_n(v, 1, limit);
}

/// Makes room for `n` more elements in `v`, doubling but never past `limit` (nor less than
/// `n`).
pub(crate) fn reserve_bounded_n<T>(v: &mut Vec<T>, n: usize, limit: usize) {
    if v.capacity() - v.len() >= n {
        return;
    }
    let room = limit.saturating_sub(v.len());
    let want = v.len().max(4).max(n).min(room).max(n);
    v.reserve_exact(want);
}

#[cfg(test)]
pub(crate) mod testrand {
    //! A small deterministic generator for tests (splitmix64): the crate has no dev
    //! dependency on `rand`, and fixed seeds keep measured error rates reproducible.

    /// splitmix64 state.
    pub struct Rng(pub u64);

    impl Rng {
        /// The next uniformly distributed 64-bit value.
        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// A value in `0..n` (`n > 0`).
        pub fn below(&mut self, n: u64) -> u64 {
            self.next_u64() % n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_bounded_never_passes_the_limit() {
        for limit in [1usize, 3, 7, 100, 1000, 4096] {
            let mut v: Vec<u64> = Vec::new();
            for i in 0..limit {
                reserve_bounded(&mut v, limit);
                v.push(i as u64);
            }
            assert_eq!(v.len(), limit);
            assert!(v.capacity() <= limit.max(4), "limit {limit}: capacity {}", v.capacity());
        }
    }

    #[test]
    fn mix64_is_not_the_identity_and_spreads_small_integers() {
        let highs: Vec<u64> = (0..64u64).map(|i| mix64(i) >> 58).collect();
        let distinct: std::collections::HashSet<u64> = highs.iter().copied().collect();
        // 64 values into 64 top-6-bit buckets: the identity would put them all in bucket 0.
        assert!(distinct.len() > 30, "{}", distinct.len());
    }
}
