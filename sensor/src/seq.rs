//! Wrapping TCP sequence numbers.
//!
//! Sequence numbers live on a circle of 2^32 values, so "before" and "after" only make sense for
//! numbers that are less than 2^31 apart (RFC 1982 serial-number arithmetic, as RFC 9293 uses).
//! Every comparison of sequence or acknowledgement numbers in the sensor goes through [`SeqNum`]
//! so that a connection crossing 2^32 behaves like any other.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A 32-bit TCP sequence (or acknowledgement) number with circular ordering.
///
/// `a < b` means `b` lies less than 2^31 steps after `a`, going forward and wrapping at 2^32.
/// Two numbers exactly 2^31 apart are incomparable (`partial_cmp` returns `None`), so the order
/// is antisymmetric, but it is not transitive over the whole circle: only compare numbers that
/// belong to one window of a connection.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The raw 32-bit value.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Signed circular distance from `earlier` to `self`: positive when `self` comes after
    /// `earlier`, negative when before. Exactly 2^31 apart gives `i32::MIN`.
    pub const fn distance_from(self, earlier: SeqNum) -> i32 {
        // Reinterpreting the wrapped difference as two's complement is the serial-number rule.
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// True when `self` comes strictly before `other` on the circle.
    pub fn is_before(self, other: SeqNum) -> bool {
        self.partial_cmp(&other) == Some(Ordering::Less)
    }

    /// True when `self` comes strictly after `other` on the circle.
    pub fn is_after(self, other: SeqNum) -> bool {
        self.partial_cmp(&other) == Some(Ordering::Greater)
    }

    /// The later of the two (`self` when they are equal or incomparable).
    pub fn later(self, other: SeqNum) -> SeqNum {
        if other.is_after(self) {
            other
        } else {
            self
        }
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        match self.distance_from(*other) {
            i32::MIN => None,
            d => Some(d.cmp(&0)),
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;

    /// Moves forward `n` positions, wrapping at 2^32.
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, n: u32) {
        *self = *self + n;
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;

    /// Moves back `n` positions, wrapping at 2^32.
    fn sub(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }
}

impl Sub<SeqNum> for SeqNum {
    type Output = i32;

    /// The signed circular distance `self - earlier` (see [`SeqNum::distance_from`]).
    fn sub(self, earlier: SeqNum) -> i32 {
        self.distance_from(earlier)
    }
}

impl From<u32> for SeqNum {
    fn from(v: u32) -> SeqNum {
        SeqNum(v)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn ordering_across_the_wrap() {
        let before_wrap = SeqNum(u32::MAX - 9);
        let after_wrap = SeqNum(5);
        assert!(before_wrap.is_before(after_wrap));
        assert!(after_wrap.is_after(before_wrap));
        assert!(before_wrap < after_wrap);
        assert_eq!(after_wrap - before_wrap, 15);
        assert_eq!(before_wrap - after_wrap, -15);
        assert_eq!(before_wrap + 15, after_wrap);
        assert_eq!(after_wrap - 15u32, before_wrap);
    }

    #[test]
    fn equal_values_are_neither_before_nor_after() {
        let a = SeqNum(1234);
        assert!(!a.is_before(a));
        assert!(!a.is_after(a));
        assert_eq!(a.partial_cmp(&a), Some(Ordering::Equal));
    }

    #[test]
    fn half_circle_apart_is_incomparable_both_ways() {
        let a = SeqNum(7);
        let b = a + (1u32 << 31);
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(b.partial_cmp(&a), None);
        assert!(!a.is_before(b) && !b.is_before(a));
        // Just under half the circle is still ordered.
        let c = a + ((1u32 << 31) - 1);
        assert!(a.is_before(c));
        assert!(c.is_after(a));
    }

    #[test]
    fn later_picks_the_circularly_later_value() {
        assert_eq!(SeqNum(u32::MAX).later(SeqNum(3)), SeqNum(3));
        assert_eq!(SeqNum(3).later(SeqNum(u32::MAX)), SeqNum(3));
        assert_eq!(SeqNum(10).later(SeqNum(9)), SeqNum(10));
    }

    #[test]
    fn add_assign_wraps() {
        let mut s = SeqNum(u32::MAX);
        s += 2;
        assert_eq!(s.get(), 1);
    }
}
