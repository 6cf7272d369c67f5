//! The top values of a stream (endpoint mix, user agents, networks, fingerprints) in a fixed
//! number of slots.

use serde::{Deserialize, Serialize};

use super::hll::Hll;
use super::packed::Packable;
use super::reserve_bounded;

/// Slots of a [`BoundedCounts`] when the caller has no better figure.
pub const DEFAULT_CAP: usize = 64;

/// What [`BoundedCounts`] knows about one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Observations, an overestimate by at most `error` (space-saving inheritance).
    pub count: u64,
    /// Packet time this key entered the table (after an eviction, the time it came back).
    pub first_seen: u64,
    /// Packet time of its latest observation.
    pub last_seen: u64,
    /// Count inherited from the evicted minimum when this key took its slot: the true count
    /// lies in `[count - error, count]`.
    pub error: u64,
}

impl Packable for Entry {
    const SIZE: usize = 32;
    fn put(self, out: &mut Vec<u8>) {
        for v in [self.count, self.first_seen, self.last_seen, self.error] {
            v.put(out);
        }
    }
    fn get(bytes: &[u8]) -> Self {
        let at = |i: usize| bytes.get(i * 8..i * 8 + 8).map_or(0, u64::get);
        Entry { count: at(0), first_seen: at(1), last_seen: at(2), error: at(3) }
    }
}

/// The answer of [`BoundedCounts::observe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Seen {
    /// The key is in the table. `count` is its count before this observation (it may include
    /// inherited error) and `first_seen` when it entered.
    Known {
        /// Observations before this one.
        count: u64,
        /// When the key entered the table.
        first_seen: u64,
    },
    /// The key is not in the table. Once [`BoundedCounts::was_evicting`] is true this may be an
    /// old key that was evicted, not a key never seen.
    New,
}

/// A map `u64 key → Entry` of at most `cap` keys, kept by the space-saving algorithm
/// (Metwally et al., 2005): when full, a new key replaces the key with the smallest count and
/// inherits that count plus one, so every key with more than `total / cap` observations is
/// guaranteed to be in the table (heavy hitters stay) and each count is overestimated by at
/// most its `error`.
///
/// Bound: `cap` entries of 40 bytes (key and [`Entry`]) plus a 256-byte distinct-key sketch
/// taken when the first eviction happens: 2,560 + 330 bytes at the default 64 slots.
/// Lookups scan the keys linearly, fine for the few hundred slots a profile uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundedCounts {
    cap: usize,
    #[serde(with = "super::packed")]
    keys: Vec<u64>,
    #[serde(with = "super::packed")]
    entries: Vec<Entry>,
    total: u64,
    evictions: u64,
    /// All keys ever observed, from the first eviction on (before it, the table is exact).
    ever: Option<Hll>,
}

impl Default for BoundedCounts {
    fn default() -> Self {
        BoundedCounts::new(DEFAULT_CAP)
    }
}

impl BoundedCounts {
    /// An empty table of at most `cap` keys (at least 1).
    pub fn new(cap: usize) -> Self {
        BoundedCounts { cap: cap.max(1), keys: Vec::new(), entries: Vec::new(), total: 0, evictions: 0, ever: None }
    }

    /// Counts one observation of `key` at packet time `ts`.
    pub fn observe(&mut self, key: u64, ts: u64) -> Seen {
        self.observe_n(key, ts, 1)
    }

    /// Counts `n` observations of `key` at once (`n` = 0 only refreshes `last_seen`).
    pub fn observe_n(&mut self, key: u64, ts: u64, n: u64) -> Seen {
        // A persisted table of mismatched lengths would misattribute counts: cut to the common part.
        if self.keys.len() != self.entries.len() {
            let len = self.keys.len().min(self.entries.len());
            self.keys.truncate(len);
            self.entries.truncate(len);
        }
        self.total = self.total.saturating_add(n);
        if let Some(h) = self.ever.as_mut() {
            h.insert(key);
        }
        if let Some(i) = self.keys.iter().position(|k| *k == key) {
            if let Some(e) = self.entries.get_mut(i) {
                let before = e.count;
                e.count = e.count.saturating_add(n);
                e.last_seen = e.last_seen.max(ts);
                return Seen::Known { count: before, first_seen: e.first_seen };
            }
        }
        let fresh = |inherit: u64| Entry { count: inherit.saturating_add(n), first_seen: ts, last_seen: ts, error: inherit };
        if self.keys.len() < self.cap {
            reserve_bounded(&mut self.keys, self.cap);
            reserve_bounded(&mut self.entries, self.cap);
            self.keys.push(key);
            self.entries.push(fresh(0));
            return Seen::New;
        }
        if self.ever.is_none() {
            let mut h = Hll::default();
            for k in &self.keys {
                h.insert(*k);
            }
            h.insert(key);
            self.ever = Some(h);
        }
        // The minimum count; among equals the least recently seen, so a burst of one-off keys
        // recycles one slot rather than pushing out steady keys.
        let victim = self
            .entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| (e.count, e.last_seen))
            .map(|(i, e)| (i, e.count));
        if let Some((i, min)) = victim {
            if let (Some(k), Some(e)) = (self.keys.get_mut(i), self.entries.get_mut(i)) {
                *k = key;
                *e = fresh(min);
                self.evictions = self.evictions.saturating_add(1);
            }
        }
        Seen::New
    }

    /// True once a key has been evicted: from then on [`Seen::New`] may be a returning key.
    pub fn was_evicting(&self) -> bool {
        self.evictions > 0
    }

    /// Keys evicted so far.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Observations counted, over all keys ever (after [`BoundedCounts::decay`], halved).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Distinct keys ever observed: exact until the first eviction, then a HyperLogLog
    /// estimate (standard error 6.5%) and never below the keys held.
    pub fn distinct_ever(&self) -> u64 {
        let held = self.keys.len() as u64;
        match &self.ever {
            None => held,
            Some(h) => h.estimate().max(held),
        }
    }

    /// The entry of `key`, if held.
    pub fn get(&self, key: u64) -> Option<&Entry> {
        let i = self.keys.iter().position(|k| *k == key)?;
        self.entries.get(i)
    }

    /// The share of all observations that were `key` (`count / total`, an overestimate by at
    /// most `error / total`); 0 when the key is not held or nothing was counted.
    pub fn share(&self, key: u64) -> f64 {
        match self.get(key) {
            Some(e) if self.total > 0 => (e.count as f64 / self.total as f64).min(1.0),
            _ => 0.0,
        }
    }

    /// The keys held and their entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Entry)> + '_ {
        self.keys.iter().copied().zip(self.entries.iter())
    }

    /// The `n` keys with the largest counts, largest first (ties by key, for stable output).
    pub fn top(&self, n: usize) -> Vec<(u64, Entry)> {
        let mut all: Vec<(u64, Entry)> = self.iter().map(|(k, e)| (k, *e)).collect();
        all.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The slot limit.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Halves every count, error and the total, so old habits weigh less than new ones; keys
    /// whose count reaches 0 are removed.
    pub fn decay(&mut self) {
        self.total /= 2;
        for e in self.entries.iter_mut() {
            e.count /= 2;
            e.error /= 2;
        }
        let mut i = 0;
        while i < self.entries.len() {
            if self.entries.get(i).is_some_and(|e| e.count == 0) {
                self.entries.swap_remove(i);
                if i < self.keys.len() {
                    self.keys.swap_remove(i);
                }
            } else {
                i += 1;
            }
        }
    }

    /// Forgets `key` (an erasure): its slot is freed; the total and the distinct-key sketch keep
    /// their counts, which name no key. Returns whether it was held.
    pub fn remove(&mut self, key: u64) -> bool {
        let Some(i) = self.keys.iter().position(|k| *k == key) else { return false };
        self.keys.remove(i);
        if i < self.entries.len() {
            self.entries.remove(i);
        }
        true
    }

    /// Checks a deserialised table: at most `max_cap` slots, as many entries as keys, no key
    /// twice, a valid distinct-key sketch.
    pub fn validate(&self, max_cap: usize) -> Result<(), String> {
        if self.cap == 0 || self.cap > max_cap {
            return Err(format!("counts table of {} slots (at most {max_cap})", self.cap));
        }
        if self.keys.len() != self.entries.len() || self.keys.len() > self.cap {
            return Err(format!("counts table with {} keys, {} entries and {} slots", self.keys.len(), self.entries.len(), self.cap));
        }
        let mut sorted = self.keys.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w.first() == w.get(1)) {
            return Err("counts table holds a key twice".into());
        }
        match &self.ever {
            Some(h) => h.validate(),
            None => Ok(()),
        }
    }

    /// Heap and inline bytes (at most 40 × `cap` + about 330).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.keys.capacity() * std::mem::size_of::<u64>()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.ever.as_ref().map_or(0, |h| h.memory_bytes().saturating_sub(std::mem::size_of::<Hll>()))
    }
}

#[cfg(test)]
#[path = "counts_tests.rs"]
mod tests;
