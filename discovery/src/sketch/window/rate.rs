//! Events in the last `width` of packet time.

use serde::{Deserialize, Serialize};

use super::{Grid, DEFAULT_BUCKETS};

/// A sliding count of events over the last `width` nanoseconds of packet time, in `buckets`
/// sub-buckets (default 10; see the [module](super) for what "the last `width`" means at
/// bucket granularity).
///
/// Bound: `buckets` × 8 bytes plus about 80 (160 bytes with the default 10). Error: the
/// count's window is between `width - width / buckets` and `width` long; events more than one
/// bucket width older than the newest are not counted (see [`RateWindow::late`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateWindow {
    grid: Grid,
    counts: Vec<u64>,
    /// Newest bucket, and the newest event time; `None` before the first event.
    head: Option<(u64, u64)>,
    late: u64,
}

impl RateWindow {
    /// A window of `width_ns` in 10 buckets.
    pub fn new(width_ns: u64) -> Self {
        RateWindow::with_buckets(width_ns, DEFAULT_BUCKETS)
    }

    /// A window of `width_ns` in `buckets` sub-buckets (clamped to 1..=1024; the bucket width
    /// is `width_ns / buckets` rounded down, at least 1 ns).
    pub fn with_buckets(width_ns: u64, buckets: u32) -> Self {
        let grid = Grid::new(width_ns, buckets);
        RateWindow { grid, counts: vec![0; grid.n as usize], head: None, late: 0 }
    }

    /// Counts `n` events at packet time `ts`.
    pub fn add(&mut self, ts: u64, n: u64) {
        let grid = self.grid.sane();
        if self.counts.len() != grid.n as usize {
            self.counts = vec![0; grid.n as usize];
            self.head = None;
        }
        let b = grid.bucket(ts);
        let (head, newest) = match self.head {
            None => (b, ts),
            Some((head, newest)) => {
                if !grid.accepts(ts, newest, head) {
                    self.late = self.late.saturating_add(n);
                    return;
                }
                (head, newest)
            }
        };
        if b > head {
            let steps = b - head;
            if steps >= u64::from(grid.n) {
                self.counts.iter_mut().for_each(|c| *c = 0);
            } else {
                for x in head + 1..=b {
                    if let Some(c) = self.counts.get_mut(grid.slot(x)) {
                        *c = 0;
                    }
                }
            }
        }
        if let Some(c) = self.counts.get_mut(grid.slot(b)) {
            *c = c.saturating_add(n);
        }
        self.head = Some((head.max(b), newest.max(ts)));
    }

    /// Events in the window ending at `ts`. Exact for `ts` at or after the newest event; for
    /// an earlier `ts`, buckets already recycled are missing.
    pub fn count(&self, ts: u64) -> u64 {
        let Some((head, _)) = self.head else { return 0 };
        let grid = self.grid.sane();
        match grid.query_range(ts, head) {
            Some((lo, hi)) => (lo..=hi).filter_map(|x| self.counts.get(grid.slot(x))).fold(0u64, |a, c| a.saturating_add(*c)),
            None => 0,
        }
    }

    /// Events ignored because they arrived more than one bucket width behind the newest.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// The window covered: bucket width × buckets (`width_ns` rounded down to a multiple of
    /// the bucket count).
    pub fn width(&self) -> u64 {
        self.grid.width()
    }

    /// Sub-buckets of the window.
    pub fn buckets(&self) -> u32 {
        self.grid.n
    }

    /// Whether the window has the width and buckets `other` has (a window built under other
    /// settings does not).
    pub fn same_shape(&self, other: &RateWindow) -> bool {
        self.grid == other.grid
    }

    /// Checks a deserialised window: a valid grid and one counter per bucket.
    pub fn validate(&self) -> Result<(), String> {
        self.grid.check()?;
        if self.counts.len() != self.grid.n as usize {
            return Err(format!("rate window of {} buckets holds {} counters", self.grid.n, self.counts.len()));
        }
        Ok(())
    }

    /// Heap and inline bytes (8 per bucket plus about 80).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.counts.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::testrand::Rng;
    use crate::sketch::{NS_PER_MINUTE, NS_PER_SEC};

    #[test]
    fn counts_the_buckets_inside_the_window() {
        // 60 s in 10 buckets of 6 s.
        let mut w = RateWindow::new(60 * NS_PER_SEC);
        for s in 0..120u64 {
            w.add(s * NS_PER_SEC, 1);
        }
        // At t = 119 s the window holds buckets 10..=19, i.e. seconds 60..=119.
        assert_eq!(w.count(119 * NS_PER_SEC), 60);
        // Later queries see the older buckets leave, one bucket (6 events) at a time.
        assert_eq!(w.count(120 * NS_PER_SEC), 54);
        assert_eq!(w.count(125 * NS_PER_SEC), 54);
        assert_eq!(w.count(126 * NS_PER_SEC), 48);
        assert_eq!(w.count(179 * NS_PER_SEC), 0);
        assert_eq!(w.count(10_000 * NS_PER_SEC), 0);
        assert_eq!(RateWindow::new(NS_PER_SEC).count(5), 0);
    }

    #[test]
    fn matches_a_brute_force_count_within_one_bucket() {
        let width = 10 * NS_PER_MINUTE;
        let bw = width / 10;
        let mut w = RateWindow::new(width);
        let mut rng = Rng(1);
        let mut times = Vec::new();
        let mut t = 0u64;
        for _ in 0..5_000 {
            t += rng.below(2 * NS_PER_SEC);
            let n = 1 + rng.below(3);
            w.add(t, n);
            times.push((t, n));
            // The count covers at least the last width - bw and at most the last width.
            let within = |span: u64| times.iter().filter(|(x, _)| t - x < span).map(|(_, n)| n).sum::<u64>();
            let got = w.count(t);
            assert!(got >= within(width - bw) && got <= within(width), "t {t}: {got}");
        }
    }

    #[test]
    fn reordered_events_count_in_their_bucket_and_stale_ones_as_late() {
        let s = NS_PER_SEC;
        let mut w = RateWindow::with_buckets(10 * s, 10);
        w.add(20 * s, 1);
        w.add(19 * s + s / 2, 1); // half a bucket behind: its own (previous) bucket
        w.add(15 * s, 5); // five buckets behind: late
        assert_eq!(w.late(), 5);
        assert_eq!(w.count(20 * s), 2);
        assert_eq!(w.count(29 * s), 1);
        assert_eq!(w.count(30 * s), 0);
        let mut one = RateWindow::with_buckets(10 * s, 1);
        one.add(25 * s, 1);
        one.add(19 * s + s / 2, 1); // within one bucket width, but its bucket has left
        assert_eq!((one.count(25 * s), one.late()), (1, 1));
    }

    #[test]
    fn extreme_inputs_are_bounded() {
        let mut w = RateWindow::with_buckets(0, 0);
        w.add(u64::MAX, u64::MAX);
        w.add(u64::MAX, 1);
        assert_eq!(w.count(u64::MAX), u64::MAX);
        let mut w = RateWindow::with_buckets(u64::MAX, u32::MAX);
        w.add(0, 1);
        w.add(u64::MAX, 1);
        // The window is u64::MAX - 1023 ns wide: the event at 0 has just left it.
        assert_eq!(w.count(u64::MAX), 1);
        assert_eq!(w.count(u64::MAX / 2), 0);
        assert!(w.memory_bytes() <= 1024 * 8 + 100);
        assert_eq!(RateWindow::new(60 * NS_PER_SEC).memory_bytes(), std::mem::size_of::<RateWindow>() + 80);
        assert!(RateWindow::new(60 * NS_PER_SEC).memory_bytes() <= 160);
        assert_eq!(RateWindow::with_buckets(95, 10).width(), 90);
    }

    #[test]
    fn round_trips() {
        let mut w = RateWindow::new(60 * NS_PER_SEC);
        w.add(3 * NS_PER_SEC, 4);
        let back: RateWindow = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.count(4 * NS_PER_SEC), 4);
    }
}
