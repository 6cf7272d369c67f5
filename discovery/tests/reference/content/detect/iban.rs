//! IBANs (ISO 13616): country code, check digits, a BBAN of the country's registry length, and
//! the mod-97 check.

use super::{ends_cleanly, Scan};

/// IBAN lengths by country (SWIFT IBAN registry, release 99, 2025).
const LENGTHS: &[([u8; 2], u8)] = &[
    (*b"AD", 24),
    (*b"AE", 23),
    (*b"AL", 28),
    (*b"AT", 20),
    (*b"AZ", 28),
    (*b"BA", 20),
    (*b"BE", 16),
    (*b"BG", 22),
    (*b"BH", 22),
    (*b"BI", 27),
    (*b"BR", 29),
    (*b"BY", 28),
    (*b"CH", 21),
    (*b"CR", 22),
    (*b"CY", 28),
    (*b"CZ", 24),
    (*b"DE", 22),
    (*b"DJ", 27),
    (*b"DK", 18),
    (*b"DO", 28),
    (*b"EE", 20),
    (*b"EG", 29),
    (*b"ES", 24),
    (*b"FI", 18),
    (*b"FK", 18),
    (*b"FO", 18),
    (*b"FR", 27),
    (*b"GB", 22),
    (*b"GE", 22),
    (*b"GI", 23),
    (*b"GL", 18),
    (*b"GR", 27),
    (*b"GT", 28),
    (*b"HN", 28),
    (*b"HR", 21),
    (*b"HU", 28),
    (*b"IE", 22),
    (*b"IL", 23),
    (*b"IQ", 23),
    (*b"IS", 26),
    (*b"IT", 27),
    (*b"JO", 30),
    (*b"KW", 30),
    (*b"KZ", 20),
    (*b"LB", 28),
    (*b"LC", 32),
    (*b"LI", 21),
    (*b"LT", 20),
    (*b"LU", 20),
    (*b"LV", 21),
    (*b"LY", 25),
    (*b"MC", 27),
    (*b"MD", 24),
    (*b"ME", 22),
    (*b"MK", 19),
    (*b"MN", 20),
    (*b"MR", 27),
    (*b"MT", 31),
    (*b"MU", 30),
    (*b"NI", 28),
    (*b"NL", 18),
    (*b"NO", 15),
    (*b"OM", 23),
    (*b"PK", 24),
    (*b"PL", 28),
    (*b"PS", 29),
    (*b"PT", 25),
    (*b"QA", 29),
    (*b"RO", 24),
    (*b"RS", 22),
    (*b"RU", 33),
    (*b"SA", 24),
    (*b"SC", 31),
    (*b"SD", 18),
    (*b"SE", 24),
    (*b"SI", 19),
    (*b"SK", 24),
    (*b"SM", 27),
    (*b"SO", 23),
    (*b"ST", 25),
    (*b"SV", 28),
    (*b"TL", 23),
    (*b"TN", 24),
    (*b"TR", 26),
    (*b"UA", 29),
    (*b"VA", 22),
    (*b"VG", 24),
    (*b"XK", 20),
    (*b"YE", 30),
];

/// The longest IBAN in the registry.
const MAX_LEN: usize = 34;

/// An upper-case IBAN at `start`, electronic (`GB82WEST12345698765432`) or print form (groups of
/// four joined by single spaces: `GB82 WEST 1234 5698 7654 32`). Returns where it ends.
pub(crate) fn at(s: &[u8], start: usize, scan: Scan) -> Option<usize> {
    let country = [*s.get(start)?, *s.get(start + 1)?];
    if !(s.get(start + 2)?.is_ascii_digit() && s.get(start + 3)?.is_ascii_digit()) {
        return None;
    }
    let len = usize::from(LENGTHS.iter().find(|(c, _)| *c == country)?.1);
    let mut chars = [0u8; MAX_LEN];
    let mut i = start;
    // Print form is decided at the first group boundary and then required at every one.
    let mut spaced: Option<bool> = None;
    for k in 0..len {
        if k > 0 && k % 4 == 0 {
            let space = s.get(i) == Some(&b' ');
            if *spaced.get_or_insert(space) != space {
                return None;
            }
            if space {
                i += 1;
            }
        }
        let c = *s.get(i)?;
        let ok = match k {
            0 | 1 => true,
            2 | 3 => c.is_ascii_digit(),
            _ => c.is_ascii_digit() || c.is_ascii_uppercase(),
        };
        if !ok {
            return None;
        }
        *chars.get_mut(k)? = c;
        i += 1;
    }
    let chars = chars.get(..len)?;
    let check_digits = chars.get(2..4)?;
    if check_digits == b"00" || check_digits == b"01" || check_digits == b"99" {
        return None;
    }
    (mod97(chars) == 1 && ends_cleanly(s, i, scan)).then_some(i)
}

/// The IBAN rearranged (first four characters moved to the end), letters as 10..35, mod 97.
fn mod97(iban: &[u8]) -> u32 {
    let (head, bban) = iban.split_at(4.min(iban.len()));
    bban.iter().chain(head).fold(0u32, |rem, c| match c {
        b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
        _ => (rem * 100 + u32::from(c.saturating_sub(b'A')) + 10) % 97,
    })
}
