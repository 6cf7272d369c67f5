//! Telephone numbers: international (E.164 with `+`) anywhere, national forms only where the
//! field says phone.

use super::{ends_cleanly, Scan};

/// Fewest and most digits of a number (E.164 allows 15; eight excludes short codes and
/// extensions).
const DIGITS: std::ops::RangeInclusive<usize> = 8..=15;

/// Separators of the international form. No dot: `+12345678.90` is an amount.
fn separator(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'(' | b')')
}

/// `+` at `start` followed by a country code not starting with 0 and 8 to 15 digits in all,
/// with at most two separator characters (space, dash, parentheses) between digits.
pub(crate) fn international_at(s: &[u8], start: usize, scan: Scan) -> Option<usize> {
    if s.get(start) != Some(&b'+') || !matches!(s.get(start + 1), Some(b'1'..=b'9')) {
        return None;
    }
    let mut i = start + 1;
    let mut digits = 0usize;
    let end = loop {
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            digits += 1;
            i += 1;
        }
        if digits > *DIGITS.end() {
            return None;
        }
        // At most two separators in a row ("5 (11)"), so prose like "+44 - see" does not join.
        let mut j = i;
        while j - i < 2 && s.get(j).copied().is_some_and(separator) {
            j += 1;
        }
        if j > i && s.get(j).is_some_and(u8::is_ascii_digit) {
            i = j;
            continue;
        }
        break i;
    };
    (DIGITS.contains(&digits) && ends_cleanly(s, end, scan)).then_some(end)
}

/// A whole value in national or international form, for a field named for phones: digits and
/// separators (dots too) only, a leading `+` allowed, 8 to 15 digits.
pub(crate) fn national(value: &[u8]) -> bool {
    let body = value.strip_prefix(b"+").unwrap_or(value);
    let mut digits = 0usize;
    for b in body {
        if b.is_ascii_digit() {
            digits += 1;
        } else if !(separator(*b) || *b == b'.') {
            return false;
        }
    }
    DIGITS.contains(&digits)
}
