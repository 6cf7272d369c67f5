//! A bounded copy of the bytes a direction has delivered and the other side has not yet
//! acknowledged.
//!
//! A receiver keeps the first copy of every byte it takes in; a later copy at the same sequence
//! numbers with different content means the two ends (or the sensor and an end) may have seen
//! different streams, the classic way to slip a request past a passive monitor. Delivered bytes
//! leave the out-of-order buffer at once, so this copy is what a retransmission of them is
//! compared with.
//!
//! The copy is one contiguous run ending at the last byte delivered: a gap starts it afresh
//! (the receiver acknowledged past a hole, or the direction gave it up, so the bytes before it
//! are of no more use here), an acknowledgement releases its front, and the limits cut its front
//! when they are reached, so the most recent bytes are the ones kept.

use std::collections::VecDeque;

/// Delivered bytes of one direction not yet known to be acknowledged.
///
/// Boxed, and only while it holds bytes: a direction with everything acknowledged (or nothing
/// sent) costs one pointer here, which matters with a million idle connections in the table.
#[derive(Debug, Default)]
pub(crate) struct Retained {
    held: Option<Box<Held>>,
}

/// The bytes of a non-empty [`Retained`].
///
/// Invariant between calls: `bytes` is not empty and covers the stream offsets
/// `[base, base + len)`.
#[derive(Debug)]
struct Held {
    /// Stream offset of the first byte held.
    base: u64,
    bytes: VecDeque<u8>,
}

/// What comparing a later copy with the retained bytes found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Comparison {
    /// Bytes of the later copy that had a retained counterpart and were compared.
    pub(crate) compared: u64,
    /// Stream offset of the first byte that differs from the retained copy, if any.
    pub(crate) first_difference: Option<u64>,
    /// Whether every byte of the later copy was compared (none fell outside what is retained).
    pub(crate) complete: bool,
}

impl Retained {
    /// Bytes held.
    pub(crate) fn len(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.bytes.len())
    }

    /// Keeps a copy of `data`, delivered at stream offset `at`, within `per_dir` bytes for this
    /// direction and `max_total` for the table (`total` is the table's running sum, which this
    /// updates). A copy not contiguous with the one held replaces it. When a limit is in the
    /// way the oldest bytes go first, and the return value is true. A limit of 0 turns
    /// retention off (nothing is held, and that is not reported as hitting a limit).
    pub(crate) fn push(
        &mut self,
        total: &mut usize,
        per_dir: usize,
        max_total: usize,
        at: u64,
        data: &[u8],
    ) -> bool {
        if data.is_empty() {
            return false;
        }
        if per_dir == 0 || max_total == 0 {
            self.clear(total);
            return false;
        }
        let contiguous = self.held.as_ref().is_some_and(|h| h.end() == at);
        if !contiguous {
            self.clear(total);
        }
        let held = self.len();
        let others = total.saturating_sub(held);
        let room = per_dir.min(max_total.saturating_sub(others));
        let wanted = held.saturating_add(data.len());
        let keep = wanted.min(room);
        if keep == 0 {
            // Nothing fits at all: hold no allocation rather than an empty one.
            self.held = None;
        } else {
            let h = self.held.get_or_insert_with(|| Box::new(Held { base: at, bytes: VecDeque::new() }));
            if keep >= data.len() {
                let drop_old = wanted.saturating_sub(keep).min(held);
                h.bytes.drain(..drop_old);
                h.base = h.base.saturating_add(drop_old as u64);
                h.bytes.extend(data);
            } else {
                // Even the new bytes alone do not fit: keep their tail.
                let skip = data.len().saturating_sub(keep);
                h.bytes.clear();
                h.bytes.extend(data.get(skip..).unwrap_or_default());
                h.base = at.saturating_add(skip as u64);
            }
        }
        *total = others.saturating_add(self.len());
        keep < wanted
    }

    /// Drops the bytes before stream offset `upto` (the other side acknowledged them, so a
    /// receiver would discard any later copy of them anyway).
    pub(crate) fn release_below(&mut self, total: &mut usize, upto: u64) {
        let Some(h) = self.held.as_mut() else {
            return;
        };
        if upto <= h.base {
            return;
        }
        let n = usize::try_from(upto - h.base)
            .unwrap_or(usize::MAX)
            .min(h.bytes.len());
        if n == h.bytes.len() {
            self.clear(total);
            return;
        }
        h.bytes.drain(..n);
        h.base = h.base.saturating_add(n as u64);
        *total = total.saturating_sub(n);
    }

    /// Drops every byte held and frees the allocation: between bursts most connections have
    /// everything acknowledged, and an idle connection should cost nothing here.
    pub(crate) fn clear(&mut self, total: &mut usize) {
        *total = total.saturating_sub(self.len());
        self.held = None;
    }

    /// Compares `data`, a later copy of the bytes at stream offset `at`, with the bytes held.
    pub(crate) fn compare(&self, at: u64, data: &[u8]) -> Comparison {
        let data_end = at.saturating_add(data.len() as u64);
        let nothing = Comparison {
            compared: 0,
            first_difference: None,
            complete: data.is_empty(),
        };
        let Some(h) = self.held.as_ref() else {
            return nothing;
        };
        let lo = at.max(h.base);
        let hi = data_end.min(h.end());
        if hi <= lo {
            return nothing;
        }
        let (Ok(held_from), Ok(new_from), Ok(n)) = (
            usize::try_from(lo - h.base),
            usize::try_from(lo - at),
            usize::try_from(hi - lo),
        ) else {
            return Comparison {
                compared: 0,
                first_difference: None,
                complete: false,
            };
        };
        let held = h.bytes.iter().skip(held_from).take(n);
        let new = data.iter().skip(new_from).take(n);
        let first_difference = held
            .zip(new)
            .position(|(a, b)| a != b)
            .map(|i| lo.saturating_add(i as u64));
        Comparison {
            compared: hi - lo,
            first_difference,
            complete: lo == at && hi == data_end,
        }
    }
}

impl Held {
    /// Stream offset just past the last byte held.
    fn end(&self) -> u64 {
        self.base.saturating_add(self.bytes.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn contents(r: &Retained) -> (u64, Vec<u8>) {
        r.held.as_ref().map_or((0, Vec::new()), |h| (h.base, h.bytes.iter().copied().collect()))
    }

    #[test]
    fn contiguous_deliveries_accumulate_and_a_jump_starts_afresh() {
        let mut r = Retained::default();
        let mut total = 0;
        assert!(!r.push(&mut total, 100, 100, 10, b"abc"));
        assert!(!r.push(&mut total, 100, 100, 13, b"de"));
        assert_eq!(contents(&r), (10, b"abcde".to_vec()));
        assert_eq!(total, 5);
        // Bytes at 20 do not follow 15: the old copy goes.
        assert!(!r.push(&mut total, 100, 100, 20, b"xy"));
        assert_eq!(contents(&r), (20, b"xy".to_vec()));
        assert_eq!(total, 2);
    }

    #[test]
    fn per_direction_limit_keeps_the_newest_bytes() {
        let mut r = Retained::default();
        let mut total = 0;
        assert!(!r.push(&mut total, 4, 100, 0, b"abc"));
        assert!(r.push(&mut total, 4, 100, 3, b"de"));
        assert_eq!(contents(&r), (1, b"bcde".to_vec()));
        assert!(r.push(&mut total, 4, 100, 5, b"0123456"));
        assert_eq!(contents(&r), (8, b"3456".to_vec()));
        assert_eq!(total, 4);
    }

    #[test]
    fn table_limit_counts_what_other_directions_hold() {
        let mut a = Retained::default();
        let mut b = Retained::default();
        let mut total = 0;
        assert!(!a.push(&mut total, 10, 8, 0, b"aaaaaa"));
        assert!(b.push(&mut total, 10, 8, 0, b"bbbb"));
        assert_eq!(contents(&b), (2, b"bb".to_vec()));
        assert_eq!(total, 8);
        // With the table full, a direction keeps nothing more but its own bytes can still move.
        a.release_below(&mut total, 6);
        assert_eq!(total, 2);
        assert!(!b.push(&mut total, 10, 8, 4, b"cc"));
        assert_eq!(contents(&b), (2, b"bbcc".to_vec()));
        assert_eq!(total, 4);
    }

    #[test]
    fn zero_limit_turns_retention_off_without_reporting_a_hit() {
        let mut r = Retained::default();
        let mut total = 0;
        assert!(!r.push(&mut total, 0, 100, 0, b"abc"));
        assert_eq!(r.len(), 0);
        assert!(!r.push(&mut total, 100, 0, 3, b"abc"));
        assert_eq!(total, 0);
    }

    #[test]
    fn release_drops_the_acknowledged_front_only() {
        let mut r = Retained::default();
        let mut total = 0;
        r.push(&mut total, 100, 100, 10, b"abcdef");
        r.release_below(&mut total, 5);
        assert_eq!(contents(&r), (10, b"abcdef".to_vec()));
        r.release_below(&mut total, 12);
        assert_eq!(contents(&r), (12, b"cdef".to_vec()));
        assert_eq!(total, 4);
        r.release_below(&mut total, 1000);
        assert_eq!(r.len(), 0);
        assert_eq!(total, 0);
        assert!(r.held.is_none(), "an empty copy holds no allocation");
    }

    #[test]
    fn compare_reports_the_first_difference_and_what_was_covered() {
        let mut r = Retained::default();
        let mut total = 0;
        r.push(&mut total, 100, 100, 10, b"GET /first");
        let same = r.compare(10, b"GET /first");
        assert_eq!(
            same,
            Comparison {
                compared: 10,
                first_difference: None,
                complete: true
            }
        );
        let evil = r.compare(10, b"GET /evil?");
        assert_eq!(evil.first_difference, Some(15));
        assert_eq!(evil.compared, 10);
        // Starts before the copy and runs past its end: only the middle is compared.
        let wide = r.compare(8, b"..GET /firstXX");
        assert_eq!(
            wide,
            Comparison {
                compared: 10,
                first_difference: None,
                complete: false
            }
        );
        let outside = r.compare(0, b"abc");
        assert_eq!(outside.compared, 0);
        assert!(!outside.complete);
    }

    #[test]
    fn compare_after_the_front_wrapped_around_the_ring() {
        let mut r = Retained::default();
        let mut total = 0;
        // Push and release repeatedly so the deque's head moves through its buffer.
        let stream: Vec<u8> = (0..200u8).collect();
        for i in 0..20usize {
            r.push(
                &mut total,
                16,
                1000,
                (i * 10) as u64,
                &stream[i * 10..i * 10 + 10],
            );
            if i % 3 == 0 {
                r.release_below(&mut total, (i * 10 + 4) as u64);
            }
        }
        let (base, held) = contents(&r);
        assert_eq!(held.as_slice(), &stream[base as usize..200]);
        let c = r.compare(base, &stream[base as usize..200]);
        assert!(c.complete && c.first_difference.is_none());
    }
}
