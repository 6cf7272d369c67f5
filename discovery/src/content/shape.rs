//! The set of `(path, type)` pairs of one body, bounded, in order of first appearance.

use super::JsonType;

/// Distinct pairs in first-seen order, with an open-addressing index over them so "seen
/// before?" costs one hash of the path and no allocation; only a new pair allocates (its path,
/// once). The table holds at most `max_fields` entries, so even keys chosen to collide cost at
/// most that many comparisons per lookup.
#[derive(Default)]
pub(crate) struct Shape {
    entries: Vec<(String, JsonType)>,
    /// The high half of each entry's hash and its index into `entries` (`EMPTY` for a free
    /// slot), so most mismatches are told without comparing paths; the length is a power of
    /// two, at least twice the number of entries.
    slots: Vec<u64>,
    dropped: u32,
    too_long: u32,
}

const EMPTY: u64 = u64::MAX;

/// Slots of a new table: room for the 32 pairs of a typical body before it grows.
const INITIAL_SLOTS: usize = 64;

/// A multiply-rotate hash (the Fx hash of the Rust compiler) over `bytes` eight at a time, then
/// `seed` and the length: fast on the short keys here, and the bounds of the tables using it
/// make its weakness against chosen collisions harmless.
pub(crate) fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    let mut h = (&mut chunks).fold(0u64, |h, c| {
        step(h, <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes))
    });
    let mut tail = [0u8; 8];
    tail.iter_mut()
        .zip(chunks.remainder())
        .for_each(|(t, b)| *t = *b);
    h = step(h, u64::from_le_bytes(tail));
    h = step(h, (bytes.len() as u64) << 8 ^ seed);
    // Fold the high bits down: the tables use the low ones.
    h ^ (h >> 29)
}

fn slot(hash: u64, index: usize) -> u64 {
    (hash & 0xFFFF_FFFF_0000_0000) | index as u64
}

/// Values not recorded, by reason.
pub(crate) struct Counts {
    pub dropped: u32,
    pub too_long: u32,
}

impl Shape {
    /// Records `ty` at `path` (UTF-8) unless the pair is known; a new pair past `max` is
    /// counted as dropped instead. Returns whether the pair is in the shape now.
    pub fn insert(&mut self, path: &[u8], ty: JsonType, max: usize) -> bool {
        let h = hash_bytes(path, ty as u64);
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = h as usize & mask;
        // Probe until the pair or a free slot (there always is one: the table is never more
        // than half full).
        while let Some(&s) = self.slots.get(at) {
            if s == EMPTY {
                break;
            }
            if s >> 32 == h >> 32
                && self
                    .entries
                    .get((s & 0xFFFF_FFFF) as usize)
                    .is_some_and(|(p, t)| *t == ty && p.as_bytes() == path)
            {
                return true;
            }
            at = (at + 1) & mask;
        }
        if self.entries.len() >= max || self.entries.len() >= u32::MAX as usize {
            self.dropped = self.dropped.saturating_add(1);
            return false;
        }
        let text = match std::str::from_utf8(path) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(path).into_owned(),
        };
        if self.entries.capacity() == 0 {
            self.entries.reserve(INITIAL_SLOTS / 2);
        }
        self.entries.push((text, ty));
        if self.entries.len() * 2 > self.slots.len() {
            self.rebuild();
        } else if let Some(s) = self.slots.get_mut(at) {
            *s = slot(h, self.entries.len() - 1);
        }
        true
    }

    /// Grows the index to four times the entries and re-inserts them all.
    fn rebuild(&mut self) {
        let size = (self.entries.len() * 4)
            .next_power_of_two()
            .max(INITIAL_SLOTS);
        self.slots = vec![EMPTY; size];
        let mask = size - 1;
        for (i, (p, t)) in self.entries.iter().enumerate() {
            let h = hash_bytes(p.as_bytes(), *t as u64);
            let mut at = h as usize & mask;
            while self.slots.get(at).is_some_and(|s| *s != EMPTY) {
                at = (at + 1) & mask;
            }
            if let Some(s) = self.slots.get_mut(at) {
                *s = slot(h, i);
            }
        }
    }

    /// Counts a value whose path was too long to record.
    pub fn path_too_long(&mut self) {
        self.too_long = self.too_long.saturating_add(1);
    }

    pub fn counts(&self) -> Counts {
        Counts {
            dropped: self.dropped,
            too_long: self.too_long,
        }
    }

    pub fn into_entries(self) -> Vec<(String, JsonType)> {
        self.entries
    }
}

/// The `(path, type)` pairs of one body as hashes only ([`key_hash`]), distinct, in first-seen
/// order, at most `max_fields`: what a skim keeps instead of a [`Shape`], with no allocation
/// per pair. Pairs are told apart by their 64-bit hash alone; two pairs with one hash count
/// as one (harmless where it is used: deciding whether a body may be left unanalysed).
#[derive(Default)]
pub(crate) struct KeySet {
    entries: Vec<u64>,
    /// Open addressing over the hashes themselves (`0` free, a hash of 0 stored as 1); the
    /// length is a power of two, at least twice the number of entries.
    slots: Vec<u64>,
    dropped: u32,
}

/// The hash a pair is known by: the same function over the same bytes as [`Shape::insert`],
/// so a path recorded as text and hashed later ([`super::shape_key`]) gives the same value.
pub(crate) fn key_hash(path: &[u8], ty: JsonType) -> u64 {
    hash_bytes(path, ty as u64)
}

impl KeySet {
    /// Records the pair unless known; a new pair past `max` is counted as dropped.
    pub fn insert(&mut self, path: &[u8], ty: JsonType, max: usize) {
        let h = key_hash(path, ty).max(1);
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = h as usize & mask;
        while let Some(&s) = self.slots.get(at) {
            if s == 0 {
                break;
            }
            if s == h {
                return;
            }
            at = (at + 1) & mask;
        }
        if self.entries.len() >= max {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.entries.push(h);
        if self.entries.len() * 2 > self.slots.len() {
            let size = (self.entries.len() * 4).next_power_of_two().max(INITIAL_SLOTS);
            self.slots = vec![0; size];
            let mask = size - 1;
            for &e in &self.entries {
                let mut at = e as usize & mask;
                while self.slots.get(at).is_some_and(|s| *s != 0) {
                    at = (at + 1) & mask;
                }
                if let Some(s) = self.slots.get_mut(at) {
                    *s = e;
                }
            }
        } else if let Some(s) = self.slots.get_mut(at) {
            *s = h;
        }
    }

    /// New pairs not kept because the bound was reached.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    pub fn into_entries(self) -> Vec<u64> {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_kept_once_in_first_seen_order_up_to_the_limit() {
        let mut s = Shape::default();
        s.insert(b"a", JsonType::String, 3);
        s.insert(b"a", JsonType::String, 3);
        s.insert(b"b", JsonType::Integer, 3);
        s.insert(b"a", JsonType::Null, 3);
        s.insert(b"c", JsonType::Bool, 3);
        s.insert(b"a", JsonType::Null, 3);
        s.insert(b"a", JsonType::Bool, 3);
        assert_eq!(s.counts().dropped, 2);
        assert_eq!(
            s.into_entries(),
            vec![
                ("a".to_string(), JsonType::String),
                ("b".to_string(), JsonType::Integer),
                ("a".to_string(), JsonType::Null)
            ]
        );
    }

    #[test]
    fn key_sets_keep_the_same_pairs_as_shapes() {
        let mut s = Shape::default();
        let mut k = KeySet::default();
        let pairs: Vec<(String, JsonType)> = (0..300)
            .map(|i| (format!("a.b{}", i % 97), if i % 3 == 0 { JsonType::Null } else { JsonType::String }))
            .collect();
        for (p, t) in &pairs {
            s.insert(p.as_bytes(), *t, 64);
            k.insert(p.as_bytes(), *t, 64);
        }
        assert_eq!(s.counts().dropped, k.dropped());
        let hashes: Vec<u64> = s.into_entries().iter().map(|(p, t)| key_hash(p.as_bytes(), *t).max(1)).collect();
        assert_eq!(hashes.len(), 64);
        assert_eq!(k.into_entries(), hashes);
    }
}
