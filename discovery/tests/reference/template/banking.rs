//! Bank identifiers with check digits or a fixed structure: IBANs (ISO 13616 mod 97 and the
//! registry length per country), card numbers (Luhn, issuer prefix and length) and
//! structured account numbers.

/// IBAN lengths by country, from the SWIFT IBAN registry (release 2024). A country missing
/// here is not an IBAN country, so its strings are never taken for one.
#[rustfmt::skip]
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28), (b"BA", 20), (b"BE", 16),
    (b"BG", 22), (b"BH", 22), (b"BI", 27), (b"BR", 29), (b"BY", 28), (b"CH", 21), (b"CR", 22),
    (b"CY", 28), (b"CZ", 24), (b"DE", 22), (b"DJ", 27), (b"DK", 18), (b"DO", 28), (b"EE", 20),
    (b"EG", 29), (b"ES", 24), (b"FI", 18), (b"FK", 18), (b"FO", 18), (b"FR", 27), (b"GB", 22),
    (b"GE", 22), (b"GI", 23), (b"GL", 18), (b"GR", 27), (b"GT", 28), (b"HN", 28), (b"HR", 21),
    (b"HU", 28), (b"IE", 22), (b"IL", 23), (b"IQ", 23), (b"IS", 26), (b"IT", 27), (b"JO", 30),
    (b"KW", 30), (b"KZ", 20), (b"LB", 28), (b"LC", 32), (b"LI", 21), (b"LT", 20), (b"LU", 20),
    (b"LV", 21), (b"LY", 25), (b"MC", 27), (b"MD", 24), (b"ME", 22), (b"MK", 19), (b"MN", 20),
    (b"MR", 27), (b"MT", 31), (b"MU", 30), (b"NI", 28), (b"NL", 18), (b"NO", 15), (b"OM", 23),
    (b"PK", 24), (b"PL", 28), (b"PS", 29), (b"PT", 25), (b"QA", 29), (b"RO", 24), (b"RS", 22),
    (b"RU", 33), (b"SA", 24), (b"SC", 31), (b"SD", 18), (b"SE", 24), (b"SI", 19), (b"SK", 24),
    (b"SM", 27), (b"SO", 23), (b"ST", 25), (b"SV", 28), (b"TL", 23), (b"TN", 24), (b"TR", 26),
    (b"UA", 29), (b"VA", 22), (b"VG", 24), (b"XK", 20), (b"YE", 30),
];

/// The longest IBAN of the registry (Russia, 33); longer text is refused before any work.
const MAX_IBAN: usize = 34;

/// Whether `s` is an IBAN: see [`super::SegmentKind::Iban`].
pub(crate) fn is_iban(s: &str) -> bool {
    // Groups of four separated by spaces are how IBANs are printed; at most 8 of them.
    if s.len() > MAX_IBAN + 8 {
        return false;
    }
    let mut buf = [0u8; MAX_IBAN];
    let mut n = 0usize;
    for b in s.bytes().filter(|&b| b != b' ') {
        let Some(slot) = buf.get_mut(n) else {
            return false;
        };
        *slot = b.to_ascii_uppercase();
        n += 1;
    }
    let Some(iban) = buf.get(..n) else {
        return false;
    };
    let (Some(country), Some(check), Some(bban)) = (iban.get(..2), iban.get(2..4), iban.get(4..))
    else {
        return false;
    };
    let registered = IBAN_LENGTHS
        .iter()
        .any(|(c, len)| c.as_slice() == country && *len == n);
    if !registered
        || !check.iter().all(u8::is_ascii_digit)
        || !bban.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    // ISO 13616: move the first four characters to the end, letters count 10..35, mod 97.
    let mut rem = 0u32;
    for &c in bban.iter().chain(country).chain(check) {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rem == 1
}

/// The most digits a card number has (ISO/IEC 7812).
const MAX_CARD_DIGITS: usize = 19;

/// Whether `s` is a card number: see [`super::SegmentKind::CardNumber`].
pub(crate) fn is_card_number(s: &str) -> bool {
    let Some(digits) = card_digits(s) else {
        return false;
    };
    let len = digits
        .iter()
        .position(|&d| d == u8::MAX)
        .unwrap_or(digits.len());
    let Some(number) = digits.get(..len) else {
        return false;
    };
    plausible_issuer(number) && luhn_ok(number)
}

/// The digits (values 0-9) of a card number written as digits, optionally grouped by one
/// kind of separator (single spaces or single hyphens); unused slots hold `u8::MAX`.
fn card_digits(s: &str) -> Option<[u8; MAX_CARD_DIGITS]> {
    if s.len() > 2 * MAX_CARD_DIGITS {
        return None;
    }
    let sep = s.bytes().find(|b| !b.is_ascii_digit());
    if let Some(sep) = sep {
        let consistent = (sep == b' ' || sep == b'-')
            && s.bytes().all(|b| b.is_ascii_digit() || b == sep)
            && !s.starts_with(char::from(sep))
            && !s.ends_with(char::from(sep))
            && !s.as_bytes().windows(2).any(|w| w.iter().all(|&b| b == sep));
        if !consistent {
            return None;
        }
    }
    let mut out = [u8::MAX; MAX_CARD_DIGITS];
    let mut n = 0usize;
    for b in s.bytes().filter(u8::is_ascii_digit) {
        *out.get_mut(n)? = b - b'0';
        n += 1;
    }
    (n >= 13).then_some(out)
}

/// The first `k` digits as a number (at most 4 are asked for).
fn prefix(number: &[u8], k: usize) -> u32 {
    number
        .iter()
        .take(k)
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
}

/// Issuer identification ranges and the lengths their cards have.
fn plausible_issuer(number: &[u8]) -> bool {
    let len = number.len();
    let p1 = prefix(number, 1);
    let p2 = prefix(number, 2);
    let p3 = prefix(number, 3);
    let p4 = prefix(number, 4);
    match p1 {
        // Mastercard's 2-series.
        2 => (2221..=2720).contains(&p4) && len == 16,
        3 => match p2 {
            34 | 37 => len == 15, // American Express
            35 => (3528..=3589).contains(&p4) && (16..=19).contains(&len), // JCB
            36 | 38 | 39 => (14..=19).contains(&len), // Diners Club
            30 => (300..=305).contains(&p3) && (14..=19).contains(&len),
            _ => false,
        },
        4 => matches!(len, 13 | 16 | 19), // Visa, Elo 4xxx
        5 => match p2 {
            51..=55 => len == 16,                     // Mastercard
            50 | 56..=59 => (13..=19).contains(&len), // Maestro, Elo 50xx
            _ => false,
        },
        // Discover, UnionPay, Maestro, RuPay, Elo and Hipercard ranges all start with 6.
        6 => (13..=19).contains(&len),
        _ => false,
    }
}

/// The Luhn check over digit values (0-9), as the body scanner applies it, on at least two
/// digits.
fn luhn_ok(number: &[u8]) -> bool {
    number.len() >= 2 && crate::reference::content::luhn(number)
}

/// Whether `s` is a structured account number: see [`super::SegmentKind::AccountNumber`].
pub(crate) fn is_account_number(s: &str) -> bool {
    if s.len() > 40 || !s.contains('-') {
        return false;
    }
    let groups: Vec<&str> = s.split('-').collect();
    let digits = |g: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit())
    };
    // A check digit: one digit, or `X` where the modulus-11 remainder is 10 (Brazil).
    let check = |g: &str| {
        g.len() == 1
            && g.bytes()
                .all(|b| b.is_ascii_digit() || b == b'X' || b == b'x')
    };
    match groups.as_slice() {
        // UK: sort code as 12-34-56, then the 8-digit account.
        [a, b, c, acc] => {
            (digits(a, 2, 2) && digits(b, 2, 2) && digits(c, 2, 2) && digits(acc, 8, 8))
                // Brazil: agency, agency check digit, account, account check digit.
                || (digits(a, 4, 4) && check(b) && digits(c, 3, 13) && check(acc))
        }
        // Brazil: agency, account, check digit.
        [agency, acc, dv] => digits(agency, 4, 4) && digits(acc, 3, 13) && check(dv),
        // UK sort code and account; or an account and its check digit.
        [a, b] => (digits(a, 6, 6) && digits(b, 8, 8)) || (digits(a, 5, 13) && check(b)),
        _ => false,
    }
}
