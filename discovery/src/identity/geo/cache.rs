//! A bounded map from client network to what the databases said about it, with second-chance
//! (CLOCK) eviction: a network asked about again since the hand last passed it survives one
//! more round, so the networks of steady consumers stay while a scan of one-off addresses
//! cycles through the rest.

use std::collections::{HashMap, VecDeque};

use crate::identity::network::Prefix;

struct Slot<V> {
    value: V,
    referenced: bool,
}

/// At most `max` entries; inserting into a full cache evicts one.
pub(crate) struct Cache<V> {
    map: HashMap<Prefix, Slot<V>>,
    /// Every key once, in the order the clock hand visits them.
    ring: VecDeque<Prefix>,
    max: usize,
}

/// What an insertion did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// A new key, with room for it.
    New,
    /// A new key; another entry was evicted to make room.
    Evicted,
    /// The key was there: its value was replaced.
    Replaced,
}

impl<V> Cache<V> {
    /// An empty cache of at most `max` entries (at least one).
    pub(crate) fn new(max: usize) -> Self {
        Cache { map: HashMap::new(), ring: VecDeque::new(), max: max.max(1) }
    }

    /// The value cached for `key`, marking it recently used.
    pub(crate) fn get(&mut self, key: &Prefix) -> Option<&V> {
        let slot = self.map.get_mut(key)?;
        slot.referenced = true;
        Some(&slot.value)
    }

    /// Caches `value` for `key`, evicting the first entry the clock hand finds unreferenced
    /// when full.
    pub(crate) fn insert(&mut self, key: Prefix, value: V) -> Inserted {
        if let Some(slot) = self.map.get_mut(&key) {
            slot.value = value;
            slot.referenced = true;
            return Inserted::Replaced;
        }
        let evicted = self.map.len() >= self.max && self.evict_one();
        self.map.insert(key, Slot { value, referenced: false });
        self.ring.push_back(key);
        if evicted {
            Inserted::Evicted
        } else {
            Inserted::New
        }
    }

    /// Drops one entry. The hand clears each referenced flag it passes, so it stops within
    /// one turn of the ring.
    fn evict_one(&mut self) -> bool {
        for _ in 0..=self.ring.len() {
            let Some(key) = self.ring.pop_front() else { return false };
            match self.map.get_mut(&key) {
                Some(slot) if slot.referenced => {
                    slot.referenced = false;
                    self.ring.push_back(key);
                }
                Some(_) => {
                    self.map.remove(&key);
                    return true;
                }
                // Not reachable while ring and map hold the same keys; dropping the stray key
                // keeps the two in step if they ever differ.
                None => {}
            }
        }
        false
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.ring.clear();
    }

    /// Bytes of the table and ring as allocated (the values' own heap data excluded).
    pub(crate) fn memory_bytes(&self) -> usize {
        // A hashbrown bucket is the entry plus one control byte.
        let bucket = std::mem::size_of::<(Prefix, Slot<V>)>() + 1;
        self.map.capacity() * bucket + self.ring.capacity() * std::mem::size_of::<Prefix>()
    }

    /// The values held, for adding up their heap data.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values().map(|s| &s.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn bounded_and_second_chance() {
        let mut c = Cache::new(3);
        assert_eq!(c.insert(p("1.0.0.0/24"), 1), Inserted::New);
        assert_eq!(c.insert(p("2.0.0.0/24"), 2), Inserted::New);
        assert_eq!(c.insert(p("3.0.0.0/24"), 3), Inserted::New);
        // 1 is used again: the hand spares it and evicts 2, the oldest unused.
        assert_eq!(c.get(&p("1.0.0.0/24")), Some(&1));
        assert_eq!(c.insert(p("4.0.0.0/24"), 4), Inserted::Evicted);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&p("2.0.0.0/24")), None);
        assert_eq!(c.get(&p("1.0.0.0/24")), Some(&1));
        assert_eq!(c.get(&p("3.0.0.0/24")), Some(&3));
        assert_eq!(c.get(&p("4.0.0.0/24")), Some(&4));
        // All referenced now: one full turn clears the flags, then the oldest (3) goes.
        assert_eq!(c.insert(p("5.0.0.0/24"), 5), Inserted::Evicted);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&p("3.0.0.0/24")), None);
        assert_eq!(c.insert(p("5.0.0.0/24"), 50), Inserted::Replaced);
        assert_eq!(c.get(&p("5.0.0.0/24")), Some(&50));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_long_scan_never_grows_it() {
        let mut c = Cache::new(100);
        let mut evicted = 0;
        for i in 0..10_000u32 {
            let key = Prefix::of(std::net::Ipv4Addr::from(i << 8).into(), 24, 48);
            if c.insert(key, i) == Inserted::Evicted {
                evicted += 1;
            }
            assert!(c.len() <= 100);
            assert_eq!(c.ring.len(), c.map.len());
        }
        assert_eq!(evicted, 10_000 - 100);
        assert!(c.memory_bytes() > 0);
        c.clear();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn zero_means_one() {
        let mut c = Cache::new(0);
        assert_eq!(c.insert(p("1.0.0.0/24"), 1), Inserted::New);
        assert_eq!(c.insert(p("2.0.0.0/24"), 2), Inserted::Evicted);
        assert_eq!(c.len(), 1);
    }
}
