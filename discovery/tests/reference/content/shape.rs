//! The set of `(path, type)` pairs of one body, bounded, in order of first appearance.

use super::JsonType;

/// Distinct pairs in first-seen order, with an open-addressing index over them so "seen
/// before?" costs one hash of the path and no allocation; only a new pair allocates (its path,
/// once). The table holds at most `max_fields` entries, so even keys chosen to collide cost at
/// most that many comparisons per lookup.
#[derive(Default)]
pub(crate) struct Shape {
    entries: Vec<(String, JsonType)>,
    /// Indexes into `entries` (`EMPTY` for a free slot); its length is a power of two, at
    /// least twice the number of entries.
    slots: Vec<u32>,
    dropped: u32,
    too_long: u32,
}

const EMPTY: u32 = u32::MAX;

/// A multiply-rotate hash (the Fx hash of the Rust compiler) over the path eight bytes at a
/// time, then the type: fast on the short keys here, and the table bound above makes its
/// weakness against chosen collisions harmless.
fn hash(path: &str, ty: JsonType) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let bytes = path.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    let mut h = (&mut chunks).fold(0u64, |h, c| {
        step(h, <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes))
    });
    let mut tail = [0u8; 8];
    tail.iter_mut()
        .zip(chunks.remainder())
        .for_each(|(t, b)| *t = *b);
    h = step(h, u64::from_le_bytes(tail));
    h = step(h, (bytes.len() as u64) << 8 | ty as u64);
    // Fold the high bits down: the table uses the low ones.
    h ^ (h >> 29)
}

/// Values not recorded, by reason.
pub(crate) struct Counts {
    pub dropped: u32,
    pub too_long: u32,
}

impl Shape {
    /// Records `ty` at `path` unless the pair is known; a new pair past `max` is counted as
    /// dropped instead.
    pub fn insert(&mut self, path: &str, ty: JsonType, max: usize) {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = hash(path, ty) as usize & mask;
        // Probe until the pair or a free slot (there always is one: the table is never more
        // than half full).
        while let Some(&slot) = self.slots.get(at) {
            if slot == EMPTY {
                break;
            }
            if self
                .entries
                .get(slot as usize)
                .is_some_and(|(p, t)| *t == ty && p == path)
            {
                return;
            }
            at = (at + 1) & mask;
        }
        if self.entries.len() >= max || self.entries.len() >= EMPTY as usize {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.entries.push((path.to_owned(), ty));
        if self.entries.len() * 2 > self.slots.len() {
            self.rebuild();
        } else if let Some(slot) = self.slots.get_mut(at) {
            *slot = (self.entries.len() - 1) as u32;
        }
    }

    /// Grows the index to four times the entries and re-inserts them all.
    fn rebuild(&mut self) {
        let size = (self.entries.len() * 4).next_power_of_two().max(16);
        self.slots = vec![EMPTY; size];
        let mask = size - 1;
        for (i, (p, t)) in self.entries.iter().enumerate() {
            let mut at = hash(p, *t) as usize & mask;
            while self.slots.get(at).is_some_and(|s| *s != EMPTY) {
                at = (at + 1) & mask;
            }
            if let Some(slot) = self.slots.get_mut(at) {
                *slot = i as u32;
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
