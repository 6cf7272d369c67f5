//! Per-service traffic by UTC hour of packet time, for the report's charts: requests, error
//! responses and response bytes of the last [`InventoryConfig::traffic_hours`] hours.
//!
//! Memory: one 32-byte bucket per hour with traffic, at most `traffic_hours` per service:
//! 23 KiB per service at the default 720 hours (30 days), 45 MiB at the default 2,000
//! services. The window ends at the newest hour the service has seen; a packet older than
//! the window is not counted in it (it still counts everywhere else). A single packet with a
//! timestamp far in the future empties the window (the daemon's clock guard keeps such
//! packets out).
//!
//! [`InventoryConfig::traffic_hours`]: super::InventoryConfig::traffic_hours

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Nanoseconds in an hour.
pub const NS_PER_HOUR: u64 = 3_600_000_000_000;

/// One hour of one service's traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourTraffic {
    /// The hour: whole hours since the epoch (UTC).
    pub hour: u64,
    /// Requests (every request counted on the service: API, other categories, 404s, overflow).
    pub requests: u64,
    /// Of those, answered with a 4xx or 5xx status.
    pub errors: u64,
    /// Response body bytes (as sent, before any content decoding, when the caller knows them;
    /// else the bytes captured).
    pub bytes: u64,
}

/// The hourly buckets of one service, oldest first, at most `traffic_hours` of them, all
/// within `traffic_hours` of the newest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    buckets: VecDeque<HourTraffic>,
}

impl Traffic {
    /// Counts one request at packet time `ts` (ns), keeping `keep_hours` hours (0: none).
    pub fn add(&mut self, ts: u64, status: Option<u16>, bytes: u64, keep_hours: usize) {
        if keep_hours == 0 {
            return;
        }
        let keep = u64::try_from(keep_hours).unwrap_or(u64::MAX);
        let hour = ts / NS_PER_HOUR;
        let newest = self.buckets.back().map_or(hour, |b| b.hour.max(hour));
        if hour.saturating_add(keep) <= newest {
            return;
        }
        let slot = match self.buckets.binary_search_by_key(&hour, |b| b.hour) {
            Ok(i) => i,
            Err(i) => {
                self.buckets.insert(i, HourTraffic { hour, ..HourTraffic::default() });
                i
            }
        };
        if let Some(b) = self.buckets.get_mut(slot) {
            b.requests = b.requests.saturating_add(1);
            b.errors = b.errors.saturating_add(u64::from(status.is_some_and(|s| s >= 400)));
            b.bytes = b.bytes.saturating_add(bytes);
        }
        while self.buckets.front().is_some_and(|b| b.hour.saturating_add(keep) <= newest) {
            self.buckets.pop_front();
        }
    }

    /// The buckets, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = &HourTraffic> {
        self.buckets.iter()
    }

    /// The buckets of a snapshot, checked: strictly increasing hours. Buckets older than
    /// `keep_hours` before the newest are dropped (a smaller window than when written).
    pub fn from_buckets(buckets: Vec<HourTraffic>, keep_hours: usize) -> Result<Traffic, String> {
        if buckets.windows(2).any(|w| matches!(w, [a, b] if a.hour >= b.hour)) {
            return Err("hourly traffic buckets are not in strictly increasing hour order".into());
        }
        let keep = u64::try_from(keep_hours).unwrap_or(u64::MAX);
        let newest = buckets.last().map_or(0, |b| b.hour);
        let buckets = if keep == 0 {
            VecDeque::new()
        } else {
            buckets.into_iter().filter(|b| b.hour.saturating_add(keep) > newest).collect()
        };
        Ok(Traffic { buckets })
    }
}

/// One hour of a service's traffic in `inventory.json` (`services[].traffic[]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrafficReport {
    /// Start of the hour (RFC 3339, UTC).
    pub hour: String,
    /// Requests.
    pub requests: u64,
    /// Of those, answered 4xx or 5xx.
    pub errors: u64,
    /// Response body bytes.
    pub bytes: u64,
}

/// The hours of `traffic` within `keep_hours` of `newest_hour` (the newest hour of the whole
/// inventory, so a service gone quiet shows no stale month), oldest first; hours without
/// traffic are absent.
pub(super) fn report(traffic: &Traffic, keep_hours: usize, newest_hour: u64) -> Vec<TrafficReport> {
    let keep = u64::try_from(keep_hours).unwrap_or(u64::MAX);
    traffic
        .buckets()
        .filter(|b| b.hour.saturating_add(keep) > newest_hour)
        .map(|b| TrafficReport {
            hour: super::rfc3339(b.hour.saturating_mul(NS_PER_HOUR)),
            requests: b.requests,
            errors: b.errors,
            bytes: b.bytes,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = NS_PER_HOUR;

    #[test]
    fn buckets_by_hour_with_a_sliding_window() {
        let mut t = Traffic::default();
        let base = 500_000 * H;
        t.add(base + 10, Some(200), 100, 3);
        t.add(base + H - 1, Some(404), 5, 3);
        t.add(base + 2 * H, Some(503), 7, 3);
        // Late packet of the first hour: still inside the window.
        t.add(base + 1, None, 1, 3);
        let v: Vec<(u64, u64, u64, u64)> = t.buckets().map(|b| (b.hour, b.requests, b.errors, b.bytes)).collect();
        assert_eq!(v, [(500_000, 3, 1, 106), (500_002, 1, 1, 7)]);
        // Hour 500_003 pushes hour 500_000 out; a packet of hour 500_000 is then ignored.
        t.add(base + 3 * H, Some(201), 0, 3);
        t.add(base, Some(200), 9, 3);
        let hours: Vec<u64> = t.buckets().map(|b| b.hour).collect();
        assert_eq!(hours, [500_002, 500_003]);
        // A bucket inserted between two others keeps the order.
        let mut t = Traffic::default();
        t.add(base, Some(200), 0, 10);
        t.add(base + 4 * H, Some(200), 0, 10);
        t.add(base + 2 * H, Some(200), 0, 10);
        let hours: Vec<u64> = t.buckets().map(|b| b.hour).collect();
        assert_eq!(hours, [500_000, 500_002, 500_004]);
        let mut off = Traffic::default();
        off.add(base, Some(200), 1, 0);
        assert_eq!(off.buckets().count(), 0);
    }

    #[test]
    fn snapshot_buckets_are_checked_and_cut_to_the_window() {
        let b = |hour| HourTraffic { hour, requests: 1, errors: 0, bytes: 0 };
        assert!(Traffic::from_buckets(vec![b(5), b(5)], 10).is_err());
        assert!(Traffic::from_buckets(vec![b(6), b(5)], 10).is_err());
        let t = Traffic::from_buckets(vec![b(1), b(5), b(9)], 5).unwrap();
        assert_eq!(t.buckets().map(|x| x.hour).collect::<Vec<_>>(), [5, 9]);
    }
}
