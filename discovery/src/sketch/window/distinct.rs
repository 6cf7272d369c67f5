//! Distinct keys in the last `width` of packet time.

use serde::{Deserialize, Serialize};

use super::{Grid, DEFAULT_BUCKETS};
use crate::sketch::reserve_bounded;

/// Keys a [`DistinctWindow`] holds unless told otherwise.
pub const DEFAULT_DISTINCT_CAP: u32 = 4096;

/// The answer of [`DistinctWindow::estimate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistinctCount {
    /// Distinct keys seen in the window: exact unless `saturated`, then a lower bound.
    pub count: u64,
    /// A key still inside this window was evicted to respect the cap.
    pub saturated: bool,
}

/// Distinct `u64` keys (account or object id digests) seen in the last `width` of packet time,
/// exact up to `cap` keys (default 4,096). Beyond that the key seen least recently is evicted,
/// and until its bucket leaves the window the count is a lower bound and reported `saturated`.
///
/// Bound: 10 bytes per key held (a sorted key array and a 2-byte bucket stamp) plus 4 per
/// bucket: at most about 40 KiB with the defaults, growing only with the keys actually seen.
/// Error: none below the cap, at bucket granularity (see the [module](super)); queries at a
/// time before the newest event miss keys seen again since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistinctWindow {
    grid: Grid,
    cap: u32,
    /// Sorted; `stamps[i]` is the newest bucket of `keys[i]`, modulo 2^16 (every stamp is
    /// within the window of `head`, and the window is at most 1,024 buckets).
    #[serde(with = "crate::sketch::packed")]
    keys: Vec<u64>,
    #[serde(with = "crate::sketch::packed")]
    stamps: Vec<u16>,
    /// Keys whose newest bucket is this bucket, by ring slot.
    per_bucket: Vec<u32>,
    /// Newest bucket and newest event time; `None` before the first event.
    head: Option<(u64, u64)>,
    late: u64,
    evicted: u64,
    /// Queries in buckets before this one are saturated.
    saturated_until: u64,
}

impl DistinctWindow {
    /// A window of `width_ns` in 10 buckets holding up to 4,096 keys.
    pub fn new(width_ns: u64) -> Self {
        DistinctWindow::with_limits(width_ns, DEFAULT_BUCKETS, DEFAULT_DISTINCT_CAP)
    }

    /// A window of `width_ns` in `buckets` sub-buckets (1..=1024) holding up to `cap` keys
    /// (at least 1).
    pub fn with_limits(width_ns: u64, buckets: u32, cap: u32) -> Self {
        let grid = Grid::new(width_ns, buckets);
        DistinctWindow {
            grid,
            cap: cap.max(1),
            keys: Vec::new(),
            stamps: Vec::new(),
            per_bucket: vec![0; grid.n as usize],
            head: None,
            late: 0,
            evicted: 0,
            saturated_until: 0,
        }
    }

    fn age(&self, stamp: u16, head: u64) -> u64 {
        u64::from((head as u16).wrapping_sub(stamp))
    }

    fn clear(&mut self) {
        self.keys.clear();
        self.stamps.clear();
        self.per_bucket.iter_mut().for_each(|c| *c = 0);
    }

    fn bump(&mut self, bucket: u64, up: bool) {
        if let Some(c) = self.per_bucket.get_mut(self.grid.slot(bucket)) {
            *c = if up { c.saturating_add(1) } else { c.saturating_sub(1) };
        }
    }

    /// Slides the window so that bucket `b` is the newest, forgetting keys whose newest
    /// bucket leaves it.
    fn advance(&mut self, head: u64, b: u64) {
        let n = u64::from(self.grid.n);
        if b - head >= n {
            self.clear();
            return;
        }
        let mut expired = 0u64;
        for x in head + 1..=b {
            if let Some(c) = self.per_bucket.get_mut(self.grid.slot(x)) {
                expired += u64::from(*c);
                *c = 0;
            }
        }
        if expired == 0 {
            return;
        }
        let mut w = 0;
        for r in 0..self.keys.len() {
            let (Some(&k), Some(&s)) = (self.keys.get(r), self.stamps.get(r)) else { break };
            if self.age(s, b) < n {
                if let (Some(kw), Some(sw)) = (self.keys.get_mut(w), self.stamps.get_mut(w)) {
                    *kw = k;
                    *sw = s;
                }
                w += 1;
            }
        }
        self.keys.truncate(w);
        self.stamps.truncate(w);
    }

    /// Records `key` at packet time `ts`. Returns true when the key was not in the window
    /// (a new distinct key, or one evicted earlier), false when it was, or when `ts` is late.
    pub fn insert(&mut self, key: u64, ts: u64) -> bool {
        self.grid = self.grid.sane();
        if self.per_bucket.len() != self.grid.n as usize || self.keys.len() != self.stamps.len() {
            self.per_bucket = vec![0; self.grid.n as usize];
            self.keys.clear();
            self.stamps.clear();
            self.head = None;
        }
        let b = self.grid.bucket(ts);
        let head = match self.head {
            None => b,
            Some((head, newest)) => {
                if !self.grid.accepts(ts, newest, head) {
                    self.late = self.late.saturating_add(1);
                    return false;
                }
                if b > head {
                    self.advance(head, b);
                }
                self.head = Some((head.max(b), newest.max(ts)));
                head.max(b)
            }
        };
        if self.head.is_none() {
            self.head = Some((b, ts));
        }
        match self.keys.binary_search(&key) {
            Ok(i) => {
                let Some(&old) = self.stamps.get(i) else { return false };
                let old_age = self.age(old, head);
                if head - b < old_age {
                    self.bump(head.saturating_sub(old_age), false);
                    self.bump(b, true);
                    if let Some(s) = self.stamps.get_mut(i) {
                        *s = b as u16;
                    }
                }
                false
            }
            Err(mut i) => {
                if self.keys.len() >= self.cap as usize {
                    self.evict_oldest(head);
                    i = self.keys.binary_search(&key).unwrap_or_else(|e| e);
                }
                reserve_bounded(&mut self.keys, self.cap as usize);
                reserve_bounded(&mut self.stamps, self.cap as usize);
                let i = i.min(self.keys.len());
                self.keys.insert(i, key);
                self.stamps.insert(i, b as u16);
                self.bump(b, true);
                true
            }
        }
    }

    fn evict_oldest(&mut self, head: u64) {
        let oldest = self.stamps.iter().enumerate().map(|(i, s)| (self.age(*s, head), i)).max_by_key(|(age, i)| (*age, std::cmp::Reverse(*i)));
        if let Some((age, i)) = oldest {
            let bucket = head - age.min(head);
            self.keys.remove(i);
            self.stamps.remove(i);
            self.bump(bucket, false);
            self.evicted = self.evicted.saturating_add(1);
            self.saturated_until = self.saturated_until.max(bucket.saturating_add(u64::from(self.grid.n)));
        }
    }

    /// Distinct keys in the window ending at `ts` (a lower bound when [`Self::saturated`]).
    pub fn count(&self, ts: u64) -> u64 {
        let Some((head, _)) = self.head else { return 0 };
        let grid = self.grid.sane();
        match grid.query_range(ts, head) {
            Some((lo, hi)) => (lo..=hi).filter_map(|x| self.per_bucket.get(grid.slot(x))).map(|c| u64::from(*c)).sum(),
            None => 0,
        }
    }

    /// Whether the window ending at `ts` lost a key to the cap, making [`Self::count`] a
    /// lower bound.
    pub fn saturated(&self, ts: u64) -> bool {
        self.grid.sane().bucket(ts) < self.saturated_until
    }

    /// [`Self::count`] and [`Self::saturated`] together.
    pub fn estimate(&self, ts: u64) -> DistinctCount {
        DistinctCount { count: self.count(ts), saturated: self.saturated(ts) }
    }

    /// Whether `key` was seen in the window ending at the newest event.
    pub fn contains(&self, key: u64) -> bool {
        self.keys.binary_search(&key).is_ok()
    }

    /// Keys evicted to respect the cap.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Events ignored because they arrived more than one bucket width behind the newest.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// The key limit.
    pub fn cap(&self) -> u32 {
        self.cap
    }

    /// The window covered: bucket width × buckets.
    pub fn width(&self) -> u64 {
        self.grid.width()
    }

    /// Whether the window has the width, buckets and key limit `other` has.
    pub fn same_shape(&self, other: &DistinctWindow) -> bool {
        self.grid == other.grid && self.cap == other.cap
    }

    /// Removes `key` (an erasure); its bucket count goes with it. Returns whether it was held.
    pub fn remove(&mut self, key: u64) -> bool {
        let Ok(i) = self.keys.binary_search(&key) else { return false };
        let Some((head, _)) = self.head else { return false };
        let age = self.stamps.get(i).map_or(0, |s| self.age(*s, head));
        self.keys.remove(i);
        if i < self.stamps.len() {
            self.stamps.remove(i);
        }
        self.bump(head - age.min(head), false);
        true
    }

    /// Checks a deserialised window: a valid grid, at most `max_cap` keys, sorted and each with
    /// a stamp, and bucket counts that add up to the keys.
    pub fn validate(&self, max_cap: u32) -> Result<(), String> {
        self.grid.check()?;
        if self.cap == 0 || self.cap > max_cap || self.keys.len() > self.cap as usize || self.keys.len() != self.stamps.len() {
            return Err(format!("distinct window of {} keys, {} stamps, limit {} (at most {max_cap})", self.keys.len(), self.stamps.len(), self.cap));
        }
        if self.per_bucket.len() != self.grid.n as usize {
            return Err(format!("distinct window of {} buckets holds {} counters", self.grid.n, self.per_bucket.len()));
        }
        if self.keys.windows(2).any(|w| w.first() >= w.get(1)) {
            return Err("distinct window keys not in order".into());
        }
        let held: u64 = self.per_bucket.iter().map(|c| u64::from(*c)).sum();
        if held != self.keys.len() as u64 || (self.head.is_none() && held > 0) {
            return Err(format!("distinct window counts {held} keys but holds {}", self.keys.len()));
        }
        Ok(())
    }

    /// Heap and inline bytes (at most 10 × `cap` + 4 × buckets + about 130).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.keys.capacity() * std::mem::size_of::<u64>()
            + self.stamps.capacity() * std::mem::size_of::<u16>()
            + self.per_bucket.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
#[path = "distinct_tests.rs"]
mod tests;
