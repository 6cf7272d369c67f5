//! National identifiers: UK National Insurance numbers, Brazilian CPF and CNPJ, US Social
//! Security numbers.

use super::{ends_cleanly, Scan};

/// Matches a fixed pattern at `start`: `d` is a digit, `x` a digit or upper-case letter, any
/// other byte itself. Returns the character values (`c - b'0'`, so `A` is 17, as the CNPJ rule
/// wants) and where the match ends.
fn fixed<const N: usize>(s: &[u8], start: usize, pattern: &[u8]) -> Option<([u8; N], usize)> {
    let mut out = [0u8; N];
    let mut n = 0usize;
    let mut i = start;
    for p in pattern {
        let b = *s.get(i)?;
        let ok = match p {
            b'd' => b.is_ascii_digit(),
            b'x' => b.is_ascii_digit() || b.is_ascii_uppercase(),
            lit => b == *lit,
        };
        if !ok {
            return None;
        }
        if matches!(p, b'd' | b'x') {
            *out.get_mut(n)? = b - b'0';
            n += 1;
        }
        i += 1;
    }
    (n == N).then_some((out, i))
}

fn all_equal(v: &[u8]) -> bool {
    v.windows(2).all(|w| w.first() == w.get(1))
}

fn weighted(v: &[u8], weights: impl Iterator<Item = u32>) -> u32 {
    v.iter().zip(weights).map(|(d, w)| u32::from(*d) * w).sum()
}

/// CPF check digits: weights 10..2 then 11..2, digit `(sum * 10 mod 11) mod 10`.
pub(crate) fn cpf_ok(v: &[u8; 11]) -> bool {
    let (body, checks) = v.split_at(9);
    let d1 = weighted(body, (2..=10).rev()) * 10 % 11 % 10;
    let d2 = weighted(v.get(..10).unwrap_or(&[]), (2..=11).rev()) * 10 % 11 % 10;
    !all_equal(v) && checks == [d1 as u8, d2 as u8]
}

/// CNPJ check digits over values (`c - '0'`, letters included for the alphanumeric CNPJ):
/// weights 5..2,9..2 then 6..2,9..2, digit `11 - sum mod 11`, or 0 when that is 10 or 11.
pub(crate) fn cnpj_ok(v: &[u8; 14]) -> bool {
    const W: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    let digit = |sum: u32| match sum % 11 {
        0 | 1 => 0u8,
        r => (11 - r) as u8,
    };
    let (body, checks) = v.split_at(12);
    let d1 = digit(weighted(body, W.iter().skip(1).copied()));
    let d2 = digit(weighted(v.get(..13).unwrap_or(&[]), W.iter().copied()));
    let checks_are_digits = checks.iter().all(|c| *c <= 9);
    checks_are_digits && !all_equal(v) && checks == [d1, d2]
}

/// A formatted CPF (`123.456.789-09`, `123456789-09`) at `start`.
pub(crate) fn cpf_formatted_at(s: &[u8], start: usize, scan: Scan) -> Option<usize> {
    [b"ddd.ddd.ddd-dd".as_slice(), b"ddddddddd-dd"]
        .into_iter()
        .filter_map(|p| fixed::<11>(s, start, p))
        .find(|(v, end)| cpf_ok(v) && ends_cleanly(s, *end, scan))
        .map(|(_, end)| end)
}

/// A formatted CNPJ (`12.345.678/0001-95`, alphanumeric allowed in the first twelve) at `start`.
pub(crate) fn cnpj_formatted_at(s: &[u8], start: usize, scan: Scan) -> Option<usize> {
    fixed::<14>(s, start, b"xx.xxx.xxx/xxxx-dd")
        .filter(|(v, end)| cnpj_ok(v) && ends_cleanly(s, *end, scan))
        .map(|(_, end)| end)
}

/// Social Security numbers published in advertising or as examples: never anyone's.
const SSN_EXAMPLES: [[u8; 9]; 3] = [
    [0, 7, 8, 0, 5, 1, 1, 2, 0],
    [2, 1, 9, 0, 9, 9, 9, 9, 9],
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
];

/// A US SSN `AAA-GG-SSSS` at `start` with the SSA's area, group and serial rules.
pub(crate) fn ssn_at(s: &[u8], start: usize, scan: Scan) -> Option<usize> {
    let (v, end) = fixed::<9>(s, start, b"ddd-dd-dddd")?;
    let num = |r: std::ops::Range<usize>| {
        v.get(r)
            .unwrap_or(&[])
            .iter()
            .fold(0u32, |a, d| a * 10 + u32::from(*d))
    };
    let area = num(0..3);
    let ok = (1..=899).contains(&area)
        && area != 666
        && num(3..5) != 0
        && num(5..9) != 0
        && !SSN_EXAMPLES.contains(&v);
    (ok && ends_cleanly(s, end, scan)).then_some(end)
}

/// A UK National Insurance number at `start`: `AB123456C`, `AB 12 34 56 C` or `AB 123456 C`.
pub(crate) fn nino_at(s: &[u8], start: usize, scan: Scan) -> Option<usize> {
    let (a, b) = (*s.get(start)?, *s.get(start + 1)?);
    let first_ok = a.is_ascii_uppercase() && !b"DFIQUV".contains(&a);
    let second_ok = b.is_ascii_uppercase() && !b"DFIOQUV".contains(&b);
    if !first_ok
        || !second_ok
        || [b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"].contains(&&[a, b])
    {
        return None;
    }
    let mut i = start + 2;
    let space = |i: &mut usize| {
        if s.get(*i) == Some(&b' ') {
            *i += 1;
        }
    };
    for _ in 0..3 {
        space(&mut i);
        if !(s.get(i)?.is_ascii_digit() && s.get(i + 1)?.is_ascii_digit()) {
            return None;
        }
        i += 2;
    }
    space(&mut i);
    let suffix = *s.get(i)?;
    let end = i + 1;
    (matches!(suffix, b'A'..=b'D') && ends_cleanly(s, end, scan)).then_some(end)
}

/// Bare CPF digits (values), left-padded with zeros when shorter (an integer lost them).
pub(crate) fn cpf_bare(v: &[u8]) -> bool {
    padded::<11>(v).is_some_and(|p| cpf_ok(&p))
}

/// Bare CNPJ characters (values), left-padded with zeros when shorter.
pub(crate) fn cnpj_bare(v: &[u8]) -> bool {
    padded::<14>(v).is_some_and(|p| cnpj_ok(&p))
}

fn padded<const N: usize>(v: &[u8]) -> Option<[u8; N]> {
    let skip = N.checked_sub(v.len())?;
    let mut out = [0u8; N];
    out.iter_mut().skip(skip).zip(v).for_each(|(o, d)| *o = *d);
    Some(out)
}
