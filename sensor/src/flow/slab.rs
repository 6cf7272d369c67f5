//! Connection storage with intrusive recency lists.
//!
//! Entries live in a vector and are addressed by index; each belongs to one of a few doubly
//! linked lists kept in recency order (front = most recent). Moving an entry to the front, taking
//! the least recent one and removing any entry are O(1), which is what lets the table expire idle
//! connections and evict under pressure without scanning.

/// Number of recency lists.
pub(crate) const LISTS: usize = 4;

/// The most entries a slab holds: links are 32-bit, with one value kept for "none".
pub(crate) const MAX_ENTRIES: usize = u32::MAX as usize - 1;

/// A link to no entry.
const NONE: u32 = u32::MAX;

/// Entries beyond which the vector grows by an eighth instead of doubling, so that a large
/// table does not reserve up to twice what it holds (an eighth more at most). The glibc
/// allocator usually remaps a large vector's pages when it grows rather than copying them,
/// so the extra steps cost little.
const GENTLE_GROWTH_FROM: usize = 4096;

#[derive(Debug)]
struct Entry<T> {
    value: Option<T>,
    /// Links within the entry's list, as indices (`NONE` for no entry): 32 bits each rather
    /// than an `Option<usize>`'s 16 bytes.
    prev: u32,
    next: u32,
    list: u8,
}

#[derive(Copy, Clone, Debug)]
struct Ends {
    head: u32,
    tail: u32,
}

impl Default for Ends {
    fn default() -> Self {
        Ends { head: NONE, tail: NONE }
    }
}

fn link(idx: u32) -> Option<usize> {
    (idx != NONE).then_some(idx as usize)
}

/// Vector-backed storage with `LISTS` recency lists, for at most [`MAX_ENTRIES`] entries.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    lists: [Ends; LISTS],
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            lists: [Ends::default(); LISTS],
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `value` at the front of `list` and returns its index. The caller keeps the slab
    /// below [`MAX_ENTRIES`] (the flow table's `max_flows` is capped there); an entry beyond it
    /// could not be linked into a list.
    pub(crate) fn insert(&mut self, value: T, list: usize) -> usize {
        let entry = Entry {
            value: Some(value),
            prev: NONE,
            next: NONE,
            list: u8::try_from(list).unwrap_or(u8::MAX),
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                let idx = idx as usize;
                if let Some(slot) = self.entries.get_mut(idx) {
                    *slot = entry;
                }
                idx
            }
            None => {
                let len = self.entries.len();
                if len == self.entries.capacity() && len >= GENTLE_GROWTH_FROM {
                    self.entries.reserve_exact(len / 8);
                }
                self.entries.push(entry);
                len
            }
        };
        self.link_front(idx, list);
        self.len += 1;
        idx
    }

    pub(crate) fn get(&self, idx: usize) -> Option<&T> {
        self.entries.get(idx).and_then(|e| e.value.as_ref())
    }

    pub(crate) fn get_mut(&mut self, idx: usize) -> Option<&mut T> {
        self.entries.get_mut(idx).and_then(|e| e.value.as_mut())
    }

    pub(crate) fn remove(&mut self, idx: usize) -> Option<T> {
        let value = self.entries.get_mut(idx)?.value.take()?;
        self.unlink(idx);
        if let Ok(idx) = u32::try_from(idx) {
            self.free.push(idx);
        }
        self.len -= 1;
        Some(value)
    }

    /// Moves an entry to the front of `list` (which may be another list than its current one).
    pub(crate) fn move_to_front(&mut self, idx: usize, list: usize) {
        if self.get(idx).is_none() {
            return;
        }
        self.unlink(idx);
        self.link_front(idx, list);
    }

    /// The least recent entry of `list`.
    pub(crate) fn tail(&self, list: usize) -> Option<usize> {
        self.lists.get(list).and_then(|l| link(l.tail))
    }

    /// Indices of every stored entry, in storage order.
    pub(crate) fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.value.is_some())
            .map(|(i, _)| i)
    }

    /// Takes every value out, leaving the slab empty, to be visited in ascending `key` order.
    /// The storage shrinks while the values are taken, so that its memory goes back as they
    /// are processed rather than after the last one.
    pub(crate) fn drain_sorted<K: Ord>(&mut self, key: impl Fn(&T) -> K) -> SortedDrain<T> {
        let mut entries = std::mem::take(self).entries;
        entries.retain(|e| e.value.is_some());
        // Descending, so that popping from the end gives ascending order.
        entries.sort_unstable_by_key(|e| std::cmp::Reverse(e.value.as_ref().map(&key)));
        SortedDrain { entries }
    }

    fn unlink(&mut self, idx: usize) {
        let Some(e) = self.entries.get(idx) else {
            return;
        };
        let (prev, next, list) = (e.prev, e.next, usize::from(e.list));
        let this = u32::try_from(idx).unwrap_or(NONE);
        match link(prev).and_then(|p| self.entries.get_mut(p)) {
            Some(p) => p.next = next,
            None => {
                if let Some(l) = self.lists.get_mut(list) {
                    if l.head == this {
                        l.head = next;
                    }
                }
            }
        }
        match link(next).and_then(|n| self.entries.get_mut(n)) {
            Some(n) => n.prev = prev,
            None => {
                if let Some(l) = self.lists.get_mut(list) {
                    if l.tail == this {
                        l.tail = prev;
                    }
                }
            }
        }
        if let Some(e) = self.entries.get_mut(idx) {
            e.prev = NONE;
            e.next = NONE;
        }
    }

    fn link_front(&mut self, idx: usize, list: usize) {
        let Ok(this) = u32::try_from(idx) else {
            return;
        };
        if this == NONE {
            return;
        }
        let Some(ends) = self.lists.get_mut(list) else {
            return;
        };
        let old_head = std::mem::replace(&mut ends.head, this);
        if ends.tail == NONE {
            ends.tail = this;
        }
        if let Some(h) = link(old_head).and_then(|h| self.entries.get_mut(h)) {
            h.prev = this;
        }
        if let Some(e) = self.entries.get_mut(idx) {
            e.prev = NONE;
            e.next = old_head;
            e.list = u8::try_from(list).unwrap_or(u8::MAX);
        }
    }
}

/// The values of a slab in ascending key order; see [`Slab::drain_sorted`].
#[derive(Debug)]
pub(crate) struct SortedDrain<T> {
    /// Only entries holding a value, in descending key order.
    entries: Vec<Entry<T>>,
}

impl<T> SortedDrain<T> {
    /// Values not taken yet.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether every value has been taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<T> Iterator for SortedDrain<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            let entry = self.entries.pop()?;
            // Give back the storage in steps of an eighth: a few dozen reallocations for a
            // million values, each shrinking in place.
            if self.entries.len() <= self.entries.capacity() / 8 * 7 {
                self.entries.shrink_to_fit();
            }
            if let Some(value) = entry.value {
                return Some(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn order(slab: &Slab<u32>, list: usize) -> Vec<u32> {
        // Walk from the tail (least recent) towards the head.
        let mut out = Vec::new();
        let mut cur = slab.tail(list);
        while let Some(i) = cur {
            out.push(*slab.get(i).unwrap());
            cur = link(slab.entries[i].prev);
        }
        out
    }

    #[test]
    fn recency_order_moves_and_removals() {
        let mut s = Slab::default();
        let a = s.insert(1, 0);
        let b = s.insert(2, 0);
        let c = s.insert(3, 0);
        assert_eq!(order(&s, 0), vec![1, 2, 3]);
        s.move_to_front(a, 0);
        assert_eq!(order(&s, 0), vec![2, 3, 1]);
        s.move_to_front(c, 1);
        assert_eq!(order(&s, 0), vec![2, 1]);
        assert_eq!(order(&s, 1), vec![3]);
        assert_eq!(s.remove(b), Some(2));
        assert_eq!(s.remove(b), None);
        assert_eq!(order(&s, 0), vec![1]);
        assert_eq!(s.len(), 2);
        // The freed slot is reused and linked correctly.
        let d = s.insert(4, 0);
        assert_eq!(d, b);
        assert_eq!(order(&s, 0), vec![1, 4]);
        assert_eq!(s.indices().count(), 3);
        s.remove(a);
        s.remove(d);
        s.remove(c);
        assert_eq!(s.tail(0), None);
        assert_eq!(s.tail(1), None);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn drain_sorted_gives_every_value_in_key_order_and_empties_the_slab() {
        let mut s = Slab::default();
        let idx: Vec<usize> = [50u32, 10, 40, 20, 30, 60].iter().map(|v| s.insert(*v, (*v as usize / 10) % LISTS)).collect();
        s.remove(idx[2]);
        s.insert(5, 0);
        let out: Vec<u32> = s.drain_sorted(|v| *v).collect();
        assert_eq!(out, vec![5, 10, 20, 30, 50, 60]);
        assert_eq!(s.len(), 0);
        assert_eq!(s.indices().count(), 0);
        assert!((0..LISTS).all(|l| s.tail(l).is_none()));
    }
}
