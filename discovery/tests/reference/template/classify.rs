//! Typed classifiers for one percent-decoded path segment.
//!
//! A classified segment is a parameter value by its shape alone, so the templater turns it
//! into a placeholder the first time it is seen. The classifiers are therefore tuned against
//! false positives: a word, a version or an enumeration value taken for a parameter would
//! merge endpoints that differ, while an identifier they miss is still caught later by the
//! per-position cardinality rules in the tree.

use apitap_discovery::template::SegmentKind;

use super::banking;
use super::datetime;

/// A path segment the HTTP parser masked (`apitap_parsers::http` writes card numbers in
/// request targets this way).
const MASKED_SEGMENT: &str = "REDACTED";

/// The kind of one percent-decoded path segment, or `None` when its text alone does not make
/// it a parameter value (words, versions, enumeration values, short or lower-case-only
/// identifiers). Never panics; linear in the segment length.
pub fn classify(segment: &str) -> Option<SegmentKind> {
    if segment.is_empty() {
        return None;
    }
    if is_uuid(segment) {
        return Some(SegmentKind::Uuid);
    }
    if let Some(kind) = datetime::date_kind(segment) {
        return Some(kind);
    }
    if is_email(segment) {
        return Some(SegmentKind::Email);
    }
    if banking::is_iban(segment) {
        return Some(SegmentKind::Iban);
    }
    // The HTTP parser masks card numbers in targets as `REDACTED` before the inventory sees
    // them: a segment that is exactly that stood for one.
    if segment == MASKED_SEGMENT || banking::is_card_number(segment) {
        return Some(SegmentKind::CardNumber);
    }
    if banking::is_account_number(segment) {
        return Some(SegmentKind::AccountNumber);
    }
    if segment.bytes().all(|b| b.is_ascii_digit()) {
        return Some(SegmentKind::Integer);
    }
    if is_hex(segment) {
        return Some(SegmentKind::Hex);
    }
    if is_token(segment) {
        return Some(SegmentKind::Token);
    }
    None
}

fn is_uuid(s: &str) -> bool {
    let inner = match s.strip_prefix('{') {
        Some(rest) => match rest.strip_suffix('}') {
            Some(inner) => inner,
            None => return false,
        },
        None => s,
    };
    inner.len() == 36
        && inner.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_hex(s: &str) -> bool {
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let lower = s.bytes().any(|b| b.is_ascii_lowercase());
    let upper = s.bytes().any(|b| b.is_ascii_uppercase());
    if lower && upper {
        return false;
    }
    if matches!(s.len(), 32 | 40 | 64) {
        return true;
    }
    let digit = s.bytes().any(|b| b.is_ascii_digit());
    s.len() >= 8 && s.len() % 2 == 0 && digit && (lower || upper)
}

/// Characters of RFC 5322's dot-atom other than letters, digits and the dot.
const EMAIL_LOCAL_SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-";

fn is_email(s: &str) -> bool {
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return false;
    }
    let local_ok = local
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || EMAIL_LOCAL_SPECIALS.contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic()));
    labels_ok && tld_ok
}

/// Separators a token may contain (base64url, base64 padding and `+`, JWT dots, `~`).
const TOKEN_SEPARATORS: &[u8] = b"-_.~+=";

/// The fewest letters and digits a token has.
const MIN_TOKEN_ALNUM: usize = 12;

/// Distinct letters and digits a token has: this many, or half its letters and digits if
/// fewer. Random strings of 12 have about 11; `ab1ab1ab1ab1` has 3.
const MIN_TOKEN_DISTINCT: usize = 8;

fn is_token(s: &str) -> bool {
    if is_jwt(s) {
        return true;
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || TOKEN_SEPARATORS.contains(&b))
    {
        return false;
    }
    let shape = Shape::of(s);
    let mixed = shape.digit || (shape.upper && shape.lower);
    let varied = shape.distinct >= (shape.alnum / 2).min(MIN_TOKEN_DISTINCT);
    if shape.alnum < MIN_TOKEN_ALNUM || !mixed || !varied || !(shape.upper || shape.lower) {
        return false;
    }
    let short_runs = shape.runs >= 4 && shape.alnum <= 3 * shape.runs;
    let unlike_english = shape.letters >= MIN_SCORED_LETTERS
        && shape.letter_score
            < MAX_TOKEN_LETTER_SCORE
                .saturating_mul(i64::try_from(shape.letters).unwrap_or(i64::MAX));
    short_runs || unlike_english
}

/// `1000 * ln(26 * p)` for each letter `a`..`z`, with `p` its frequency in English text: the
/// log-likelihood ratio, in thousandths of a nat, of English against uniformly random
/// letters. Random letters average -623 per letter, English text +360.
const LETTER_SCORE: [i64; 26] = [
    755, -1091, -323, 102, 1196, -543, -642, 461, 596, -3242, -1607, 49, -466, 564, 671, -688,
    -3699, 445, 500, 859, -330, -1365, -487, -3242, -667, -3949,
];

/// The fewest letters the letter-frequency test is applied to.
const MIN_SCORED_LETTERS: usize = 8;

/// A string whose letters score below this per letter (thousandths of a nat) reads as random
/// letters rather than words. Chosen on the identifiers of the shipped specifications
/// (about 4 500 property names, operation ids and enumeration values, of which 7 fall below,
/// such as `cnpjCpfNumber` and `facilypay_10x`) against random strings (about 70 % below).
const MAX_TOKEN_LETTER_SCORE: i64 = -350;

/// `eyJ` (base64url of `{"`) then base64url parts: header, payload and signature of a JWS
/// (the signature may be empty for `alg: none`), or the five parts of a JWE.
fn is_jwt(s: &str) -> bool {
    if !s.starts_with("eyJ") || s.len() < 16 {
        return false;
    }
    let parts: Vec<&str> = s.split('.').collect();
    let b64url = |p: &&str| {
        p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match parts.as_slice() {
        [h, p, sig] => !h.is_empty() && !p.is_empty() && [h, p, sig].iter().all(|x| b64url(x)),
        [_, _, _, _, _] => parts.iter().all(b64url) && parts.first().is_some_and(|h| !h.is_empty()),
        _ => false,
    }
}

/// How a string breaks into runs of one character class: digits, lower-case letters, an
/// upper-case letter followed by lower-case ones (`Accounts`), or upper-case letters (`XML`
/// in `XMLHttp`, where the `H` starts the next run). Separators end runs.
struct Shape {
    alnum: usize,
    letters: usize,
    /// The sum of [`LETTER_SCORE`] over the letters.
    letter_score: i64,
    /// Distinct letters and digits.
    distinct: usize,
    runs: usize,
    digit: bool,
    upper: bool,
    lower: bool,
}

impl Shape {
    fn of(s: &str) -> Shape {
        #[derive(PartialEq, Clone, Copy)]
        enum Class {
            Digit,
            Lower,
            Upper,
            Other,
        }
        let class = |b: u8| {
            if b.is_ascii_digit() {
                Class::Digit
            } else if b.is_ascii_lowercase() {
                Class::Lower
            } else if b.is_ascii_uppercase() {
                Class::Upper
            } else {
                Class::Other
            }
        };
        let bytes = s.as_bytes();
        let mut shape = Shape {
            alnum: 0,
            letters: 0,
            letter_score: 0,
            distinct: 0,
            runs: 0,
            digit: false,
            upper: false,
            lower: false,
        };
        let mut seen = [false; 128];
        let mut prev = Class::Other;
        for (i, &b) in bytes.iter().enumerate() {
            let c = class(b);
            let next = bytes.get(i + 1).map_or(Class::Other, |&n| class(n));
            let starts_run = match (prev, c) {
                (_, Class::Other) => false,
                (Class::Upper, Class::Lower) => false,
                // `XMLHttp`: the last capital before lower case starts the next word.
                (Class::Upper, Class::Upper) => next == Class::Lower,
                (p, c) => p != c,
            };
            if b.is_ascii_alphabetic() {
                shape.letters += 1;
                let score = LETTER_SCORE
                    .get(usize::from(b.to_ascii_lowercase().wrapping_sub(b'a')))
                    .copied()
                    .unwrap_or(0);
                shape.letter_score += score;
            }
            if c != Class::Other {
                shape.alnum += 1;
                if let Some(slot) = seen.get_mut(usize::from(b)) {
                    if !*slot {
                        *slot = true;
                        shape.distinct += 1;
                    }
                }
            }
            if starts_run {
                shape.runs += 1;
            }
            match c {
                Class::Digit => shape.digit = true,
                Class::Lower => shape.lower = true,
                Class::Upper => shape.upper = true,
                Class::Other => {}
            }
            prev = c;
        }
        shape
    }
}
