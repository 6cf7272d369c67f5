//! Payment card numbers: digit runs in card grouping, Luhn, and the prefix and length ranges of
//! the major networks.

use super::{ends_cleanly, CardHint, Scan};

/// One network's prefix range: `digits` leading digits read as a number in `lo..=hi`, and the
/// card lengths it issues (bit `n` set for length `n`).
struct Range {
    digits: u8,
    lo: u32,
    hi: u32,
    lengths: u32,
}

const fn lens(from: u32, to: u32) -> u32 {
    let mut mask = 0;
    let mut n = from;
    while n <= to {
        mask |= 1 << n;
        n += 1;
    }
    mask
}

const L16: u32 = 1 << 16;
const L16_19: u32 = lens(16, 19);

/// Issuer prefixes (IIN ranges) of the networks detected. Sources: the networks' published
/// ranges as collected in ISO/IEC 7812 listings; overlaps are harmless (any match suffices).
const NETWORKS: &[Range] = &[
    // Visa (Elo's 4xxxxx ranges are Visa-shaped too).
    Range {
        digits: 1,
        lo: 4,
        hi: 4,
        lengths: 1 << 13 | 1 << 16 | 1 << 19,
    },
    // Mastercard.
    Range {
        digits: 2,
        lo: 51,
        hi: 55,
        lengths: L16,
    },
    Range {
        digits: 4,
        lo: 2221,
        hi: 2720,
        lengths: L16,
    },
    // American Express.
    Range {
        digits: 2,
        lo: 34,
        hi: 34,
        lengths: 1 << 15,
    },
    Range {
        digits: 2,
        lo: 37,
        hi: 37,
        lengths: 1 << 15,
    },
    // Discover (and Elo's 65xxxx).
    Range {
        digits: 4,
        lo: 6011,
        hi: 6011,
        lengths: L16_19,
    },
    Range {
        digits: 3,
        lo: 644,
        hi: 649,
        lengths: L16_19,
    },
    Range {
        digits: 2,
        lo: 65,
        hi: 65,
        lengths: L16_19,
    },
    // Diners Club.
    Range {
        digits: 3,
        lo: 300,
        hi: 305,
        lengths: lens(14, 19),
    },
    Range {
        digits: 4,
        lo: 3095,
        hi: 3095,
        lengths: lens(14, 19),
    },
    Range {
        digits: 2,
        lo: 36,
        hi: 36,
        lengths: lens(14, 19),
    },
    Range {
        digits: 2,
        lo: 38,
        hi: 39,
        lengths: lens(16, 19),
    },
    // JCB.
    Range {
        digits: 4,
        lo: 3528,
        hi: 3589,
        lengths: L16_19,
    },
    // UnionPay (and Elo's 627780).
    Range {
        digits: 2,
        lo: 62,
        hi: 62,
        lengths: L16_19,
    },
    // Maestro.
    Range {
        digits: 4,
        lo: 5018,
        hi: 5018,
        lengths: lens(13, 19),
    },
    Range {
        digits: 4,
        lo: 5020,
        hi: 5020,
        lengths: lens(13, 19),
    },
    Range {
        digits: 4,
        lo: 5038,
        hi: 5038,
        lengths: lens(13, 19),
    },
    Range {
        digits: 4,
        lo: 5893,
        hi: 5893,
        lengths: lens(13, 19),
    },
    Range {
        digits: 4,
        lo: 6304,
        hi: 6304,
        lengths: lens(13, 19),
    },
    Range {
        digits: 4,
        lo: 6759,
        hi: 6759,
        lengths: lens(13, 19),
    },
    Range {
        digits: 4,
        lo: 6761,
        hi: 6763,
        lengths: lens(13, 19),
    },
    // Mir.
    Range {
        digits: 4,
        lo: 2200,
        hi: 2204,
        lengths: L16_19,
    },
    // Elo outside the Visa, Discover and UnionPay ranges.
    Range {
        digits: 6,
        lo: 504_175,
        hi: 504_175,
        lengths: L16,
    },
    Range {
        digits: 6,
        lo: 506_699,
        hi: 506_778,
        lengths: L16,
    },
    Range {
        digits: 6,
        lo: 509_000,
        hi: 509_999,
        lengths: L16,
    },
    Range {
        digits: 6,
        lo: 636_297,
        hi: 636_297,
        lengths: L16,
    },
    Range {
        digits: 6,
        lo: 636_368,
        hi: 636_368,
        lengths: L16,
    },
    // Hipercard.
    Range {
        digits: 6,
        lo: 606_282,
        hi: 606_282,
        lengths: L16_19,
    },
    Range {
        digits: 4,
        lo: 3841,
        hi: 3841,
        lengths: 1 << 13 | 1 << 16 | 1 << 19,
    },
];

/// How much besides the digits says "card".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evidence {
    /// Card grouping (`4111 1111 1111 1111`) or a field named for cards: any card length.
    Strong,
    /// Bare digits in a field that names nothing in particular: only the common 15- and
    /// 16-digit lengths (13 and 14 digits are too often epoch milliseconds or a UK sort code
    /// and account number, 17 to 19 too often random identifiers).
    Weak,
    /// Bare digits in a field named for something else (an id, a reference, an account).
    Against,
}

impl From<CardHint> for Evidence {
    /// The evidence of a bare digit run in a field with this hint.
    fn from(hint: CardHint) -> Self {
        match hint {
            CardHint::Card => Evidence::Strong,
            CardHint::Neutral => Evidence::Weak,
            CardHint::Other => Evidence::Against,
        }
    }
}

/// Whether `digits` (values 0..=9) is a plausible card number given the `evidence`: 13 to 19
/// digits, Luhn, a network prefix issuing that length.
pub(crate) fn plausible(digits: &[u8], evidence: Evidence) -> bool {
    let n = digits.len();
    let length_ok = match evidence {
        Evidence::Strong => (13..=19).contains(&n),
        Evidence::Weak => n == 15 || n == 16,
        Evidence::Against => false,
    };
    if !length_ok {
        return false;
    }
    let prefix = |k: u8| {
        digits
            .iter()
            .take(usize::from(k))
            .fold(0u32, |acc, d| acc * 10 + u32::from(*d))
    };
    let issued = NETWORKS.iter().any(|r| {
        let p = prefix(r.digits);
        (r.lo..=r.hi).contains(&p) && r.lengths & (1 << n) != 0
    });
    issued && luhn(digits)
}

/// The Luhn (mod 10) check over digit values, check digit last.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Group patterns of formatted card numbers (one separator kind between groups).
fn grouped(groups: &[u8]) -> bool {
    matches!(
        groups,
        [4, 4, 4, 4] | [4, 4, 4, 4, 1..=3] | [4, 6, 5] | [4, 6, 4]
    )
}

/// The most digits collected from one run; longer runs are not cards.
const MAX_RUN: usize = 19;

/// Looks for a card number in the digit run starting at `start`: bare digits, or groups joined
/// by single spaces or single dashes (one kind). Returns where it ends. Reading stops after 19
/// digits or 6 groups, so the work per call is bounded whatever follows.
pub(crate) fn at(s: &[u8], start: usize, scan: Scan) -> Option<usize> {
    let mut digits = [0u8; MAX_RUN];
    let mut n = 0usize;
    // Complete groups: their lengths, and where each ends in `s`.
    let mut groups = [0u8; 6];
    let mut ends = [0usize; 6];
    let mut g = 0usize;
    let mut sep: Option<u8> = None;
    let mut i = start;
    let mut overflow = false;
    'run: loop {
        let group_start = n;
        while let Some(b) = s.get(i).filter(|b| b.is_ascii_digit()) {
            let Some(slot) = digits.get_mut(n) else {
                n = group_start;
                overflow = true;
                break 'run;
            };
            *slot = b - b'0';
            n += 1;
            i += 1;
        }
        let (Some(len), Some(end)) = (groups.get_mut(g), ends.get_mut(g)) else {
            n = group_start;
            overflow = true;
            break;
        };
        *len = (n - group_start) as u8;
        *end = i;
        g += 1;
        let next = s.get(i).copied();
        let joins =
            matches!(next, Some(b' ' | b'-')) && s.get(i + 1).is_some_and(u8::is_ascii_digit);
        if joins && sep.is_none_or(|k| Some(k) == next) {
            sep = next;
            i += 1;
            continue;
        }
        break;
    }
    let groups = groups.get(..g)?;
    let end_of = |k: usize| ends.get(k.checked_sub(1)?).copied();
    // The whole run; then, when a group follows (or the run went on too long), the run
    // without it: "4111 1111 1111 1111 2 items".
    if !overflow {
        let evidence = if g == 1 {
            Evidence::from(scan.card)
        } else {
            Evidence::Strong
        };
        let shaped = g == 1 || grouped(groups);
        if shaped && ends_cleanly(s, i, scan) && plausible(digits.get(..n)?, evidence) {
            return Some(i);
        }
    }
    let k = if overflow { g } else { g.checked_sub(1)? };
    let head = groups.get(..k)?;
    let head_digits: usize = head.iter().map(|l| usize::from(*l)).sum();
    let end = end_of(k)?;
    (k > 1
        && grouped(head)
        && ends_cleanly(s, end, scan)
        && plausible(digits.get(..head_digits)?, Evidence::Strong))
    .then_some(end)
}
