//! Sliding windows on packet time: events and distinct keys in the last `width`.
//!
//! Both windows split `width` into `buckets` sub-buckets of `width / buckets` and slide one
//! bucket at a time, so "the last `width`" means the buckets that overlap it: a count at time
//! `t` covers events from the start of the bucket `buckets - 1` before `t`'s own bucket, i.e.
//! at least the last `width - width / buckets` and at most the last `width`. Events may arrive
//! out of order by less than one bucket width (as packets of concurrent flows do) and are
//! counted in their own bucket; older ones are counted as late and otherwise ignored.

mod distinct;
mod rate;

pub use distinct::{DistinctCount, DistinctWindow, DEFAULT_DISTINCT_CAP};
pub use rate::RateWindow;

/// Sub-buckets of a window unless told otherwise.
pub const DEFAULT_BUCKETS: u32 = 10;
/// Most sub-buckets a window accepts (more would not make the edges meaningfully sharper).
pub const MAX_BUCKETS: u32 = 1024;

/// Bucket arithmetic shared by both windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Grid {
    /// Nanoseconds per bucket (at least 1).
    bw: u64,
    /// Buckets in the window (1..=MAX_BUCKETS).
    n: u32,
}

impl Grid {
    fn new(width_ns: u64, buckets: u32) -> Self {
        let n = buckets.clamp(1, MAX_BUCKETS);
        Grid { bw: (width_ns / u64::from(n)).max(1), n }
    }

    /// Whether the grid is one `new` can make (a deserialised one may not be).
    fn check(self) -> Result<(), String> {
        if self.bw == 0 || self.n == 0 || self.n > MAX_BUCKETS {
            return Err(format!("window of {} buckets of {} ns", self.n, self.bw));
        }
        Ok(())
    }

    fn sane(self) -> Self {
        Grid { bw: self.bw.max(1), n: self.n.clamp(1, MAX_BUCKETS) }
    }

    fn bucket(self, ts: u64) -> u64 {
        ts / self.bw.max(1)
    }

    fn slot(self, bucket: u64) -> usize {
        (bucket % u64::from(self.n.max(1))) as usize
    }

    /// The window actually covered: `bw × n`.
    fn width(self) -> u64 {
        self.bw.saturating_mul(u64::from(self.n))
    }

    /// Whether an event at `ts` is acceptable given the newest time seen and the newest bucket:
    /// less than one bucket older than the newest event, and still inside the window.
    fn accepts(self, ts: u64, newest: u64, head: u64) -> bool {
        if ts >= newest {
            return true;
        }
        newest - ts < self.bw && head - self.bucket(ts).min(head) < u64::from(self.n)
    }

    /// The buckets (inclusive range) counted for a query at `ts` when the newest bucket is
    /// `head`: the window ending at `ts`, intersected with the buckets still held.
    fn query_range(self, ts: u64, head: u64) -> Option<(u64, u64)> {
        let span = u64::from(self.n) - 1;
        let qb = self.bucket(ts);
        let lo = qb.saturating_sub(span).max(head.saturating_sub(span));
        let hi = qb.min(head);
        (lo <= hi).then_some((lo, hi))
    }
}
