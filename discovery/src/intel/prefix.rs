//! A prefix table: CIDR prefixes flattened into a sorted table of non-overlapping ranges,
//! each naming its most specific prefix; each prefix names the one that encloses it. A lookup
//! is one binary search, then a walk up the enclosing prefixes lists every match, most
//! specific first. Built once; no allocation on lookup.

/// No prefix.
pub(crate) const NONE: u32 = u32::MAX;

/// An address type the table works on: `u32` for IPv4, `u128` for IPv6.
pub(crate) trait Addr: Copy + Ord {
    const MAX: Self;
    fn last(self, len: u8) -> Self;
    fn succ(self) -> Self;
    /// The top 16 bits, the bucket of the first-level index.
    fn top16(self) -> usize;
    /// The first address of a bucket.
    fn bucket_start(k: usize) -> Self;
}

impl Addr for u32 {
    const MAX: Self = u32::MAX;
    fn last(self, len: u8) -> Self {
        self | u32::MAX.checked_shr(u32::from(len)).unwrap_or(0)
    }
    fn succ(self) -> Self {
        self.saturating_add(1)
    }
    fn top16(self) -> usize {
        (self >> 16) as usize
    }
    fn bucket_start(k: usize) -> Self {
        (k as u32) << 16
    }
}

impl Addr for u128 {
    const MAX: Self = u128::MAX;
    fn last(self, len: u8) -> Self {
        self | u128::MAX.checked_shr(u32::from(len)).unwrap_or(0)
    }
    fn succ(self) -> Self {
        self.saturating_add(1)
    }
    fn top16(self) -> usize {
        (self >> 112) as usize
    }
    fn bucket_start(k: usize) -> Self {
        (k as u128) << 112
    }
}

/// Buckets of the first-level index: one per value of an address's top 16 bits.
const BUCKETS: usize = 1 << 16;

/// One distinct prefix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefix<A> {
    pub start: A,
    pub len: u8,
    /// The enclosing prefix ([`NONE`] at the top).
    pub parent: u32,
    /// The first indicator on it (the others chained by the caller).
    pub first: u32,
}

/// The table.
#[derive(Debug, Default)]
pub(crate) struct PrefixTable<A> {
    prefixes: Vec<Prefix<A>>,
    /// Where each range starts; a range ends where the next starts.
    starts: Vec<A>,
    /// The most specific prefix of each range ([`NONE`] for a gap).
    most: Vec<u32>,
    /// `index[k]`: the first range starting in bucket `k` or later (`BUCKETS + 1` entries,
    /// empty when there is no range), so that a lookup searches one bucket's ranges.
    index: Vec<u32>,
}

impl<A: Addr> PrefixTable<A> {
    /// Builds from `(network, length, indicator)`; the network's host bits must be clear.
    /// `chain(new, old)` links an indicator to the one already on the same prefix (it is
    /// called with the new head and the previous head).
    pub fn build(mut items: Vec<(A, u8, u32)>, mut chain: impl FnMut(u32, u32)) -> Self {
        // Wider first at one start, so that a prefix comes before those inside it.
        items.sort_unstable_by_key(|&(start, len, ix)| (start, len, ix));
        let mut prefixes: Vec<Prefix<A>> = Vec::new();
        for (start, len, ix) in items {
            match prefixes.last_mut() {
                Some(p) if p.start == start && p.len == len => {
                    chain(ix, p.first);
                    p.first = ix;
                }
                _ => {
                    chain(ix, NONE);
                    prefixes.push(Prefix {
                        start,
                        len,
                        parent: NONE,
                        first: ix,
                    });
                }
            }
        }
        let mut t = PrefixTable {
            prefixes,
            starts: Vec::new(),
            most: Vec::new(),
            index: Vec::new(),
        };
        let mut stack: Vec<u32> = Vec::new();
        let count = u32::try_from(t.prefixes.len()).unwrap_or(u32::MAX);
        for i in 0..count {
            let Some(&p) = t.prefixes.get(i as usize) else {
                break;
            };
            t.close_until(&mut stack, Some(p.start));
            let parent = stack.last().copied().unwrap_or(NONE);
            if let Some(q) = t.prefixes.get_mut(i as usize) {
                q.parent = parent;
            }
            t.emit(p.start, i);
            stack.push(i);
        }
        t.close_until(&mut stack, None);
        if !t.starts.is_empty() {
            let mut index = Vec::with_capacity(BUCKETS + 1);
            for k in 0..BUCKETS {
                let first = A::bucket_start(k);
                index.push(
                    u32::try_from(t.starts.partition_point(|s| *s < first)).unwrap_or(u32::MAX),
                );
            }
            index.push(u32::try_from(t.starts.len()).unwrap_or(u32::MAX));
            t.index = index;
        }
        t
    }

    /// Closes the open prefixes that end before `next` (all of them for `None`).
    fn close_until(&mut self, stack: &mut Vec<u32>, next: Option<A>) {
        while let Some(&top) = stack.last() {
            let Some(p) = self.prefixes.get(top as usize).copied() else {
                break;
            };
            let end = p.start.last(p.len);
            if next.is_some_and(|n| n <= end) {
                break;
            }
            stack.pop();
            if end != A::MAX {
                self.emit(end.succ(), p.parent);
            }
        }
    }

    fn emit(&mut self, start: A, prefix: u32) {
        if self.starts.last() == Some(&start) {
            if let Some(m) = self.most.last_mut() {
                *m = prefix;
            }
        } else {
            self.starts.push(start);
            self.most.push(prefix);
        }
    }

    /// The most specific prefix holding `addr`, or [`NONE`].
    pub fn lookup(&self, addr: A) -> u32 {
        let k = addr.top16();
        let (Some(&lo), Some(&hi)) = (self.index.get(k), self.index.get(k + 1)) else {
            return NONE;
        };
        let (lo, hi) = (lo as usize, hi as usize);
        let Some(bucket) = self.starts.get(lo..hi) else {
            return NONE;
        };
        // The last range starting at or before `addr`: in the bucket, or the one before it.
        let i = lo + bucket.partition_point(|s| *s <= addr);
        match i.checked_sub(1) {
            Some(i) => self.most.get(i).copied().unwrap_or(NONE),
            None => NONE,
        }
    }

    /// A prefix by its number.
    pub fn get(&self, ix: u32) -> Option<&Prefix<A>> {
        self.prefixes.get(ix as usize)
    }

    /// Distinct prefixes.
    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.prefixes.capacity() * std::mem::size_of::<Prefix<A>>()
            + self.starts.capacity() * std::mem::size_of::<A>()
            + self.most.capacity() * 4
            + self.index.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prefix holding `a`, most specific first, by brute force.
    fn brute(items: &[(u32, u8)], a: u32) -> Vec<(u32, u8)> {
        let mut v: Vec<(u32, u8)> = items
            .iter()
            .copied()
            .filter(|&(s, l)| s <= a && a <= s.last(l))
            .collect();
        v.sort_by_key(|&(_, l)| std::cmp::Reverse(l));
        v.dedup();
        v
    }

    fn walk(t: &PrefixTable<u32>, a: u32) -> Vec<(u32, u8)> {
        let mut out = Vec::new();
        let mut p = t.lookup(a);
        while let Some(x) = t.get(p) {
            out.push((x.start, x.len));
            p = x.parent;
        }
        out
    }

    #[test]
    fn nested_and_adjacent_prefixes_against_brute_force() {
        // A small deterministic generator (xorshift) over a narrow space, so that prefixes
        // nest, touch and repeat often.
        let mut x: u32 = 0x9e37_79b9;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for round in 0..50 {
            let mut items = Vec::new();
            for _ in 0..(round * 3 + 1) {
                let len = 22 + (next() % 11) as u8;
                let start = (0x0a00_0000 | (next() & 0x3ff))
                    & !(u32::MAX.checked_shr(u32::from(len)).unwrap_or(0));
                items.push((start, len));
            }
            if round % 7 == 0 {
                items.push((0, 0));
                items.push((u32::MAX, 32));
            }
            let t = PrefixTable::build(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, &(s, l))| (s, l, i as u32))
                    .collect(),
                |_, _| {},
            );
            for a in (0x09ff_fff0u32..0x0a00_0410).chain([0, u32::MAX, u32::MAX - 1]) {
                assert_eq!(
                    walk(&t, a),
                    brute(&items, a),
                    "round {round} address {a:#x}"
                );
            }
        }
    }
}
