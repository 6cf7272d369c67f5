//! PSD2 "at most four unattended accesses per account per rolling 24 hours", per consumer.
//!
//! An access is a burst of requests for one account with gaps shorter than `burst_gap`: a
//! TPP's refresh reads balances, transactions and details of an account in a few seconds,
//! and that is one access, not three.

use serde::{Deserialize, Serialize};

use super::{reserve_bounded, reserve_bounded_n, NS_PER_DAY, NS_PER_MINUTE, NS_PER_SEC};

/// Limits of an [`AccessLog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessConfig {
    /// Requests for one account closer together than this are one access (default 5 minutes).
    pub burst_gap_ns: u64,
    /// The rolling window accesses are counted in (default 24 hours).
    pub window_ns: u64,
    /// Accounts tracked; beyond it the least recently used is forgotten and counted in
    /// [`AccessLog::evicted_keys`] (default 1,024, at least 1).
    pub max_keys: u32,
    /// Access start times kept per account (default 8, at least 1): enough to see a fifth access
    /// with room to spare; counts saturate at this value.
    pub max_times_per_key: u8,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig { burst_gap_ns: 5 * NS_PER_MINUTE, window_ns: NS_PER_DAY, max_keys: 1024, max_times_per_key: 8 }
    }
}

/// The answer of [`AccessLog::record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// This request started a new access (the account was idle for at least `burst_gap`, or
    /// was not tracked).
    pub new_access: bool,
    /// Accesses to this account that started in the window ending now (the one under way
    /// always counts, even when it started before the window), at most `max_times_per_key`.
    pub accesses_in_window: u32,
}

/// Access start times per account (u64 key, e.g. an account-id digest), at one-second
/// resolution (packet times are kept as `u32` seconds, which last until 2106; later times
/// clamp to it).
///
/// Bound: per account 13 bytes plus 4 per kept start time: 45 bytes with the defaults, so at
/// most 1,024 × 45 = 46,080 bytes (45 KiB) plus about 150 ([`AccessLog::memory_bytes`]),
/// reached only by a consumer touching 1,024 accounts within its memory (an aggregator).
/// Error: an account evicted as least recently used and seen again starts from zero, so its
/// count is low (never high) for up to one window; see [`AccessLog::evicted_keys`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLog {
    cfg: AccessConfig,
    /// Sorted account keys; the other vectors are parallel to it.
    #[serde(with = "super::packed")]
    keys: Vec<u64>,
    /// Second of the latest request per account.
    #[serde(with = "super::packed")]
    last: Vec<u32>,
    /// Start times kept per account.
    #[serde(with = "super::packed")]
    lens: Vec<u8>,
    /// `max_times_per_key` slots per account, oldest first, the first `lens[i]` valid.
    #[serde(with = "super::packed")]
    times: Vec<u32>,
    evicted_keys: u64,
    dropped_times: u64,
}

fn secs(ns: u64) -> u32 {
    u32::try_from(ns / NS_PER_SEC).unwrap_or(u32::MAX)
}

fn secs_ceil(ns: u64) -> u32 {
    u32::try_from(ns.div_ceil(NS_PER_SEC)).unwrap_or(u32::MAX)
}

impl AccessLog {
    /// An empty log.
    pub fn new(cfg: AccessConfig) -> Self {
        let cfg = AccessConfig { max_keys: cfg.max_keys.max(1), max_times_per_key: cfg.max_times_per_key.max(1), ..cfg };
        AccessLog { cfg, keys: Vec::new(), last: Vec::new(), lens: Vec::new(), times: Vec::new(), evicted_keys: 0, dropped_times: 0 }
    }

    fn stride(&self) -> usize {
        usize::from(self.cfg.max_times_per_key.max(1))
    }

    /// Whether the parallel vectors agree (a persisted log could be damaged).
    fn consistent(&self) -> bool {
        let n = self.keys.len();
        self.last.len() == n && self.lens.len() == n && self.times.len() == n * self.stride()
    }

    /// Records a request for account `key` at packet time `ts`.
    pub fn record(&mut self, key: u64, ts: u64) -> Access {
        if !self.consistent() {
            *self = AccessLog { evicted_keys: self.evicted_keys, dropped_times: self.dropped_times, ..AccessLog::new(self.cfg) };
        }
        let now = secs(ts);
        let gap = secs_ceil(self.cfg.burst_gap_ns);
        let m = self.stride();
        let i = match self.keys.binary_search(&key) {
            Ok(i) => i,
            Err(_) => {
                self.insert_key(key, now);
                return Access { new_access: true, accesses_in_window: 1 };
            }
        };
        let last = self.last.get(i).copied().unwrap_or(0);
        // A request older than the latest one belongs to the burst already recorded.
        let continues = now <= last || now - last < gap;
        self.prune(i, now);
        if !continues {
            let base = i * m;
            let len = usize::from(self.lens.get(i).copied().unwrap_or(0)).min(m);
            if let Some(slots) = self.times.get_mut(base..base + m) {
                if len == m {
                    slots.rotate_left(1);
                    if let Some(t) = slots.last_mut() {
                        *t = now;
                    }
                    self.dropped_times = self.dropped_times.saturating_add(1);
                } else if let Some(t) = slots.get_mut(len) {
                    *t = now;
                    if let Some(l) = self.lens.get_mut(i) {
                        *l = (len + 1) as u8;
                    }
                }
            }
        }
        if let Some(l) = self.last.get_mut(i) {
            *l = last.max(now);
        }
        Access { new_access: !continues, accesses_in_window: self.count(i, now, continues) }
    }

    /// Accesses to `key` in the window ending at `ts`, without recording anything (0 for an
    /// account not tracked).
    pub fn accesses(&self, key: u64, ts: u64) -> u32 {
        if !self.consistent() {
            return 0;
        }
        match self.keys.binary_search(&key) {
            Ok(i) => {
                let now = secs(ts);
                let last = self.last.get(i).copied().unwrap_or(0);
                let ongoing = now <= last || now - last < secs_ceil(self.cfg.burst_gap_ns);
                self.count(i, now, ongoing)
            }
            Err(_) => 0,
        }
    }

    /// Start times of account `i` in the window ending at `now`, the latest one always
    /// counted when its burst is still going.
    fn count(&self, i: usize, now: u32, ongoing: bool) -> u32 {
        let window = secs_ceil(self.cfg.window_ns);
        let m = self.stride();
        let len = usize::from(self.lens.get(i).copied().unwrap_or(0)).min(m);
        let Some(slots) = self.times.get(i * m..i * m + len) else { return 0 };
        let inside = |t: &u32| u64::from(*t) + u64::from(window) > u64::from(now);
        let mut n = slots.iter().filter(|t| inside(t)).count() as u32;
        if ongoing && slots.last().is_some_and(|t| !inside(t)) {
            n += 1;
        }
        n
    }

    /// Drops start times that left the window, keeping the latest (its burst may be going on).
    fn prune(&mut self, i: usize, now: u32) {
        let window = u64::from(secs_ceil(self.cfg.window_ns));
        let m = self.stride();
        let len = usize::from(self.lens.get(i).copied().unwrap_or(0)).min(m);
        let Some(slots) = self.times.get_mut(i * m..i * m + len) else { return };
        let stale = slots.iter().take(len.saturating_sub(1)).take_while(|t| u64::from(**t) + window <= u64::from(now)).count();
        if stale > 0 {
            slots.rotate_left(stale);
            if let Some(l) = self.lens.get_mut(i) {
                *l = (len - stale) as u8;
            }
        }
    }

    fn insert_key(&mut self, key: u64, now: u32) {
        let max = self.cfg.max_keys as usize;
        let m = self.stride();
        if self.keys.len() >= max {
            // Least recently used: the smallest latest-request time.
            if let Some(j) = self.last.iter().enumerate().min_by_key(|(_, t)| **t).map(|(j, _)| j) {
                self.keys.remove(j);
                self.last.remove(j);
                self.lens.remove(j);
                self.times.drain(j * m..(j + 1) * m);
                self.evicted_keys = self.evicted_keys.saturating_add(1);
            }
        }
        let i = self.keys.binary_search(&key).unwrap_or_else(|e| e).min(self.keys.len());
        reserve_bounded(&mut self.keys, max);
        reserve_bounded(&mut self.last, max);
        reserve_bounded(&mut self.lens, max);
        reserve_bounded_n(&mut self.times, m, max * m);
        self.keys.insert(i, key);
        self.last.insert(i, now);
        self.lens.insert(i, 1);
        let at = (i * m).min(self.times.len());
        self.times.splice(at..at, std::iter::once(now).chain(std::iter::repeat_n(0, m - 1)));
    }

    /// Accounts tracked.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no account is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Accounts forgotten to respect `max_keys`.
    pub fn evicted_keys(&self) -> u64 {
        self.evicted_keys
    }

    /// Access start times dropped because an account had `max_times_per_key` in the window.
    pub fn dropped_times(&self) -> u64 {
        self.dropped_times
    }

    /// The limits in force.
    pub fn config(&self) -> &AccessConfig {
        &self.cfg
    }

    /// Checks a deserialised log: at most `max_keys` accounts (and the configured limit no
    /// higher), sorted, with parallel vectors of matching lengths and counts within the slots.
    pub fn validate(&self, max_keys: u32) -> Result<(), String> {
        if self.cfg.max_keys == 0 || self.cfg.max_keys > max_keys || self.cfg.max_times_per_key == 0 || self.keys.len() > self.cfg.max_keys as usize {
            return Err(format!("access log of {} accounts, limit {} (at most {max_keys})", self.keys.len(), self.cfg.max_keys));
        }
        if !self.consistent() || self.lens.iter().any(|l| usize::from(*l) > self.stride()) {
            return Err("access log vectors of mismatched lengths".into());
        }
        if self.keys.windows(2).any(|w| w.first() >= w.get(1)) {
            return Err("access log accounts not in order".into());
        }
        Ok(())
    }

    /// Forgets one account (an erasure). Returns whether it was held.
    pub fn remove(&mut self, key: u64) -> bool {
        if !self.consistent() {
            return false;
        }
        let Ok(i) = self.keys.binary_search(&key) else { return false };
        let m = self.stride();
        self.keys.remove(i);
        self.last.remove(i);
        self.lens.remove(i);
        self.times.drain(i * m..(i + 1) * m);
        true
    }

    /// Heap and inline bytes (at most `max_keys` × (13 + 4 × `max_times_per_key`) + about 150).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.keys.capacity() * 8
            + self.last.capacity() * 4
            + self.lens.capacity()
            + self.times.capacity() * 4
    }
}

#[cfg(test)]
#[path = "pulls_tests.rs"]
mod tests;
